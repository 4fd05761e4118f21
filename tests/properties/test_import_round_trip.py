"""Round trip: the lossless export re-imports into a new project to the same tasks, annotations, authors
and reviews — for every installed task type, with several authors (members and an external annotator)."""

from __future__ import annotations

import itertools
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.interop.labelstudio import convert_config
from bastion.services import exports, imports, projects, workspaces
from bastion.services.exports import ExportRequest
from bastion.sources import iter_bytes
from bastion.tasktypes import installed
from factories import make_user, system

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "labelstudio"
FILE = "fil_" + "0" * 32
# One Label Studio config per built-in type, a task's data, and results to draw from.
SAMPLES = {
    "classification": ("choices_single", {"text": "x"}, [{"label": "neutral"}, {"label": "positive"}]),
    "spans": (
        "labels_text",
        {"text": "Ada met Bob in Rome."},
        [
            {"spans": [{"start": 0, "end": 3, "label": "PERSON"}], "relations": []},
            {"spans": [{"start": 15, "end": 19, "label": "LOCATION"}], "relations": []},
        ],
    ),
    "preference": ("pairwise", {"prompt": "Q?", "responses": ["a", "b"]}, [{"preferred": 0}, {"preferred": 1}]),
    "ranking": ("ranker", {"prompt": "Q?", "items": ["a", "b", "c"]}, [{"ranks": [1, 2, 3]}, {"ranks": [3, 1, 2]}]),
    "writing": ("textarea", {"prompt": "Q?"}, [{"text": "one"}, {"text": "two\nlines"}]),
    "rubric": ("rating", {"text": "x"}, [{"scores": {"rating": 4}}, {"scores": {"rating": 1}}]),
    "image": (
        "rectanglelabels",
        {"image": FILE, "width": 640, "height": 480},
        [{"boxes": [{"x": 10, "y": 20, "w": 100, "h": 30, "label": "sign"}], "label": "night"}],
    ),
    # No Label Studio counterpart: its config names two model endpoints the test makes (``_chat``).
    "chat": (None, {"prompt": "Q?"}, []),
}


def _chat(rt, workspace_id: str) -> tuple[dict, list[dict]]:
    """A chat config over two endpoints of the workspace, and two transcripts to draw from."""
    from bastion.services import model_endpoints

    a, b = (
        model_endpoints.create_endpoint(
            system(rt),
            workspace_id,
            name=name,
            base_url="http://127.0.0.1:9/v1",
            default_model="m",
            allowed_hosts=["127.0.0.1:9"],
        )["id"]
        for name in ("A", "B")
    )
    config = {"type": "chat", "models": [{"endpoint": a, "label": "A"}, {"endpoint": b, "label": "B"}]}

    def turn(user: str) -> dict:
        replies = [
            {"content": f"{user} one", "model": "m", "endpoint": a},
            {"content": "two", "model": "m", "endpoint": b},
        ]
        return {"user": user, "replies": replies}

    chosen = {**turn("hi"), "choice": {"preferred": 1, "strength": "clearly", "criteria": []}}
    rewritten = {**turn("and then?"), "rewrite": {"reply": 0, "content": "better"}}
    return config, [{"turns": [chosen]}, {"turns": [chosen, rewritten]}]


RENEWED = ("id", "project_id", "created_at")  # docs/import.md: renewed by the new project
RENEWED_ANNOTATION = ("id", "task_id", "project_id")
_counter = itertools.count()


def test_every_installed_type_has_a_sample():
    assert set(installed().names()) <= set(SAMPLES), "add a sample for the new task type"


def _comparable(body: bytes) -> list[dict]:
    out = []
    for line in body.splitlines():
        record = {k: v for k, v in orjson.loads(line).items() if k not in RENEWED}
        record["annotations"] = sorted(
            ({k: v for k, v in a.items() if k not in RENEWED_ANNOTATION} for a in record["annotations"]),
            key=lambda a: a["user_id"],
        )
        out.append(record)
    return sorted(out, key=lambda r: r["external_id"])


def _export(rt, project_id: str) -> bytes:
    return b"".join(exports.start_export(system(rt), project_id, request=ExportRequest(fmt="jsonl")).chunks())


work = st.lists(
    st.tuples(
        st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.sampled_from(["", "accept", "reject", "correct"]))),
    ),
    min_size=1,
    max_size=4,
)


@pytest.mark.parametrize("type_name", sorted(SAMPLES))
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tasks=work)
def test_lossless_export_reimports_to_the_same_work(rt, type_name, tasks):
    kind, data, results = SAMPLES[type_name]
    n = next(_counter)
    owner = make_user(rt, f"owner{n}@example.com")
    ws = workspaces.create_workspace(system(rt), f"RT {n}", owner=owner.id)
    people = [f"a{n}.{i}@example.com" for i in range(2)]
    for email in [*people, f"rev{n}@example.com"]:
        workspaces.add_member(system(rt), ws.id, make_user(rt, email).id, "reviewer")
    authors = [*people, "ext:vendor/7", "ext:vendor/8"]
    if kind is None:
        config, results = _chat(rt, ws.id)
    else:
        config = convert_config((FIXTURES / kind / "config.xml").read_text())[0]
    first = projects.create_project(system(rt), ws.id, name="First", config=config, settings={"overlap": 2})
    lines = []
    for t, (work_of,) in enumerate(tasks):
        annotations = []
        for who, which, decision in dict((w[0], w) for w in work_of).values():
            a = {"author": authors[who], "result": results[which % len(results)], "created_at": 1000 + which}
            if which == 5:
                a = {"author": authors[who], "was_cancelled": True}
            elif decision:
                review = {"reviewer": f"rev{n}@example.com", "decision": decision, "comment": "why", "created_at": 7}
                if decision == "correct":
                    review["correction"] = results[0]
                a["reviews"] = [review]
            annotations.append(a)
        lines.append((t + 1, {"data": data, "external_id": f"t{t}", "annotations": annotations}))
    report = imports.import_tasks(system(rt), first.id, lines)
    assert report.rejected == []
    exported = _export(rt, first.id)

    second = projects.create_project(system(rt), ws.id, name="Second", config=config, settings={"overlap": 2})
    again = imports.import_tasks(system(rt), second.id, iter_bytes(exported, "jsonl"))
    assert again.rejected == [] and again.imported == len(tasks)
    assert _comparable(_export(rt, second.id)) == _comparable(exported)
    a, b = (projects.get_project(system(rt), p.id).counts for p in (first, second))
    assert (a.tasks, a.done, a.annotations) == (b.tasks, b.done, b.annotations)
