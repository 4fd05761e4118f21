"""Every built-in widget shows a result read-only (inert, its ids and names scoped, several on a page) or as a
correction form whose fields give the result back through the type's ``result_from_form``; disagreements
between results are the facts not all of them hold."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from starlette.datastructures import FormData

from bastion.domain.errors import InvalidInput
from bastion.services.labelling import compared_widgets, disagreements, label_widget, result_widget
from bastion.tasktypes import installed
from bastion.web.pages.common import templates

FILE = "fil_" + "ab" * 16
# Per built-in type: a task's data and a result (normalised by the type before use).
SAMPLES = {
    "classification": ({"text": "Great service, slow delivery."}, {"label": "other", "other_text": "mixed"}),
    "spans": (
        {"text": "Ada Lovelace worked for Babbage in London."},
        {
            "spans": [
                {"start": 0, "end": 12, "label": "PERSON"},
                {"start": 24, "end": 31, "label": "PERSON"},
                {"start": 35, "end": 41, "label": "LOCATION"},
            ],
            "relations": [{"from": 0, "to": 1, "label": "works_for"}],
        },
    ),
    "image": ({"image": FILE}, {"boxes": [{"x": 10, "y": 20, "w": 30, "h": 40, "label": "tree"}], "label": "night"}),
    "preference": (
        {"prompt": "Say hello.", "responses": ["Hello!", "Hi there."]},
        {
            "preferred": 1,
            "strength": "clear",
            "criteria": {"helpfulness": 1, "honesty": "tie", "harmlessness": 0},
            "rationale": "Warmer.",
            "shown_order": [1, 0],
        },
    ),
    "ranking": (
        {"prompt": "Name a colour.", "responses": ["Red", "Blue", "Green"]},
        {"ranks": [2, 3, 1], "shown_order": [2, 0, 1]},
    ),
    "rubric": (
        {"prompt": "Add 2 and 2.", "response": "4"},
        {
            "scores": {"accuracy": 5, "helpfulness": 4, "clarity": 3, "safety": "pass"},
            "comments": {"accuracy": "exact", "safety": "harmless"},
        },
    ),
    "chat": (
        {"prompt": "Say hello."},
        {
            "turns": [
                {
                    "user": "Say hello.",
                    "replies": [
                        {"content": "Hello!", "model": "lab-7b", "endpoint": "mep_0", "usage": {"prompt_tokens": 2}},
                        {"content": "Hi.", "model": "vendor", "endpoint": "mep_1", "error": None},
                    ],
                    "choice": {"preferred": 1, "strength": "much", "criteria": ["helpful", "correct"]},
                    "ratings": [3, None],
                    "rewrite": {"reply": 1, "content": "Hi there."},
                }
            ]
        },
    ),
    "writing": (
        {"prompt": "Explain rain in a sentence."},
        {
            "text": "Rain is water that condenses in clouds and falls when the drops grow heavy enough to overcome the updrafts.",
            "draft": "Rain falls from clouds.",
            "checklist": ["Every fact is correct, and nothing is made up", "It answers every part of the request"],
        },
    ),
}


def _setup(name):
    tt = installed().get(name)
    config = tt.parse_config(tt.template)
    data, result = SAMPLES[name]
    return (
        tt,
        config,
        {"id": "tsk_" + "0" * 32, "data": data, "predictions": []},
        tt.validate_result(config, data, result),
    )


def _html(widget, lang: str = "en") -> str:
    # as a page renders it: the Jinja global, called from a template in the page's language
    return templates.env.from_string("{{ render_widget(w) }}").render(w=widget, lang=lang)


class _Fields(HTMLParser):
    """The (name, value) pairs a browser posts for a form's fields (all of them: the lock is lifted)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.fields: list[tuple[str, str]] = []
        self.ids: list[str] = []
        self.names: list[str] = []
        self._select: str | None = None
        self._option: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag in ("input", "select", "textarea") and a.get("name"):
            self.names.append(a["name"])
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox"):
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value", "on")))
            elif kind not in ("button", "submit"):
                self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a.get("value", "")))
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.fields.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self._text += data


def _parse(page: str) -> _Fields:
    parser = _Fields()
    parser.feed(page)
    return parser


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_correction_form_posts_the_result_it_shows(name):
    tt, config, task, result = _setup(name)
    page = _html(result_widget(tt, config, task, result, mode="correct", prefix="fix-"))
    assert 'data-mode="correct"' in page and '<fieldset class="widget-lock" disabled>' in page  # locked until Correct
    posted = tt.result_from_form(config, FormData(_parse(page).fields))
    assert tt.validate_result(config, task["data"], posted) == result
    # An "edit my answer" form: open at once.
    page = _html(result_widget(tt, config, task, result, mode="correct", prefix="fix-", locked=False))
    assert '<fieldset class="widget-lock">' in page


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_read_only_copies_share_a_page_without_clashing(name):
    tt, config, task, result = _setup(name)
    widgets = compared_widgets(tt, config, task, [("one-", result), ("two-", result)])
    page = "".join(_html(w) for w in widgets)
    parsed = _parse(page)
    assert parsed.ids and len(parsed.ids) == len(set(parsed.ids)), "ids clash"
    assert all(i.startswith(("one-", "two-")) for i in parsed.ids), parsed.ids
    assert all(n.startswith(("one-", "two-")) for n in parsed.names), parsed.names  # radios never group across copies
    assert page.count('<fieldset class="widget-lock" disabled>') == 2 and 'data-mode="label"' not in page
    assert not any(w.differs or w.disputed for w in widgets)  # the same answer twice: nothing to mark


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_labelling_form_keeps_its_ids_and_names(name):
    tt, config, task, _ = _setup(name)
    page = _html(label_widget(tt, config, task, user_id="usr_1"))
    assert 'data-mode="label"' in page and "widget-lock" not in page
    parsed = _parse(page)
    assert len(parsed.ids) == len(set(parsed.ids))
    assert not any(n.startswith("-") for n in parsed.names)


def test_a_result_is_shown_in_the_order_its_author_saw():
    tt, config, task, result = _setup("preference")
    widget = result_widget(tt, config, task, result, prefix="p-", user_id="usr_someone_else")
    assert [r["index"] for r in widget.view["shown"]] == [1, 0]  # A is response 1, as for its author
    assert widget.view["pred_choice"] == "A"
    tt, config, task, result = _setup("ranking")
    widget = result_widget(tt, config, task, result, prefix="r-")
    assert [r["index"] for r in widget.view["shown"]] == [2, 0, 1]


def test_a_written_result_keeps_its_draft_apart_from_its_text():
    tt, config, task, result = _setup("writing")
    view = result_widget(tt, config, task, result, prefix="w-").view
    assert view["text"] == result["text"] and view["draft"] == "Rain falls from clouds."
    assert view["checked"] == [0, 1]


def test_disagreements_are_the_facts_not_every_result_holds():
    tt, config, task, _ = _setup("classification")
    marks = disagreements(
        tt, config, task["data"], [{"label": "positive"}, {"label": "negative"}, {"label": "positive"}]
    )
    assert [m[0] for m in marks] == [{"label:positive"}, {"label:negative"}, {"label:positive"}]
    assert disagreements(tt, config, task["data"], [{"label": "positive"}, {"label": "positive"}]) == [
        (frozenset(), ()),
        (frozenset(), ()),
    ]
    tt, config, task, result = _setup("spans")
    fewer = {"spans": result["spans"][:1], "relations": []}
    (mine, words), (theirs, _) = disagreements(tt, config, task["data"], [result, fewer])
    assert mine == {"span:24:31:PERSON", "span:35:41:LOCATION", "relation:span:0:12:PERSON>span:24:31:PERSON:works_for"}
    assert "LOCATION “London”" in words and not theirs
    page = _html(compared_widgets(tt, config, task, [("a-", result), ("b-", fewer)])[0])
    assert "Not shared by every annotator" in page and "span:35:41:LOCATION" in page  # marked in the widget too
    tt, config, task, result = _setup("preference")
    other = {**result, "preferred": 0, "shown_order": [0, 1]}
    (mine, words), _ = disagreements(tt, config, task["data"], [result, other])
    assert mine == {"preferred:1"} and words == ("preferred “Hi there.”",)  # named by its words, not a screen letter


def test_a_plugin_widget_reads_the_result_as_its_prediction():
    from bastion.tasktypes.base import TaskType, flat_facts

    seen = {}

    class Plugin(TaskType):
        name = "plugin"

        def widget_context(self, config, data, **kwargs):
            seen.update(kwargs)
            return {}

    Plugin().result_widget_context(None, {}, {"rating": 3}, task_id="t", user_id="u")
    assert seen == {"task_id": "t", "user_id": "u", "predictions": [{"rating": 3}]}
    assert flat_facts({"rating": 3, "tags": ["a", "b"], "who": {"x": None}}) == {
        "rating=3": "rating: 3",
        'tags∋"a"': "tags: a",
        'tags∋"b"': "tags: b",
        "who.x=null": "who.x: null",
    }


def test_a_result_widget_needs_a_prefix_and_a_known_mode():
    tt, config, task, result = _setup("classification")
    with pytest.raises(InvalidInput, match="prefix"):
        result_widget(tt, config, task, result, prefix="")
    with pytest.raises(InvalidInput, match="prefix"):
        result_widget(tt, config, task, result, prefix='x" onclick="')
    with pytest.raises(InvalidInput, match="mode"):
        result_widget(tt, config, task, result, mode="edit", prefix="x-")
