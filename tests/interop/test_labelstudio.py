"""Label Studio interop over files Label Studio 1.23.2 wrote (tests/fixtures/labelstudio, made by
benchmarks/peers/labelstudio/fixtures.py): configs converted, exports read, results both ways."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.domain.errors import InvalidConfig, InvalidInput
from bastion.interop.labelstudio import convert, convert_config, read_label_studio_export, read_task
from bastion.tasktypes import TaskType, installed

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "labelstudio"
KINDS = {
    "choices_single": "classification",
    "choices_multiple": "classification",
    "labels_text": "spans",
    "pairwise": "preference",
    "ranker": "ranking",
    "textarea": "writing",
    "rating": "rubric",
    "rectanglelabels": "image",
}
FILE = "fil_" + "0" * 32


def _xml(kind: str) -> str:
    return (FIXTURES / kind / "config.xml").read_text()


def _export(kind: str, name: str = "export-full.json") -> list[dict]:
    return json.loads((FIXTURES / kind / name).read_text())


def test_the_fixtures_are_label_studios_own():
    assert (FIXTURES / "VERSION").read_text().strip() == "label-studio 1.23.2"
    assert sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) == sorted(KINDS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_config_converts_whole(kind):
    config, unconverted = convert_config(_xml(kind))
    assert config["type"] == KINDS[kind] and unconverted == []
    installed().get(config["type"]).parse_config(config)


def test_what_the_configs_become():
    assert convert_config(_xml("choices_multiple"))[0] == {
        "type": "classification",
        "field": "text",
        "labels": ["people", "places", "service"],
        "multiple": True,
    }
    spans = convert_config(_xml("labels_text"))[0]
    assert spans["relations"] == ["works_for", "located_in"] and spans["labels"] == ["PERSON", "ORG", "LOCATION"]
    pairwise = convert(_xml("pairwise"))
    assert pairwise.gather == {"responses": ["answer1", "answer2"]}
    assert pairwise.config["prompt_field"] == "prompt" and pairwise.config["instructions"] == "Which answer is better?"
    assert convert_config(_xml("ranker"))[0]["responses_field"] == "items"
    assert convert_config(_xml("rating"))[0]["criteria"] == [
        {"name": "rating", "scale": {"min": 1, "max": 5}, "comment": "off"}
    ]
    image = convert_config(_xml("rectanglelabels"))[0]
    assert image["box_labels"] == ["car", "sign"] and image["image_labels"] == ["day", "night"]


def test_what_does_not_convert_is_named():
    xml = """<View><Text name="text" value="$text"/>
      <Choices name="sentiment" toName="text"><Choice value="a"/><Choice value="b"/></Choices>
      <TextArea name="why" toName="text"/><Taxonomy name="tax" toName="text"/></View>"""
    config, unconverted = convert_config(xml)
    assert config["type"] == "writing"
    assert unconverted == [
        "<Choices name='sentiment'>: a writing project has no place for it",
        "<Taxonomy name='tax'>: a writing project has no place for it",
    ]
    with pytest.raises(InvalidConfig, match=r"no control Bastion converts \(found: <Taxonomy>"):
        convert_config('<View><Text name="t" value="$t"/><Taxonomy name="x" toName="t"/></View>')


@pytest.mark.parametrize(
    "xml",
    [
        '<!DOCTYPE v [<!ENTITY a "aaaa">]><View><Text name="t" value="&a;"/></View>',
        '<!DOCTYPE v SYSTEM "http://127.0.0.1:1/x.dtd"><View/>',
    ],
)
def test_dtds_and_entities_are_refused(xml):
    with pytest.raises(InvalidConfig, match="DOCTYPE or entity declaration is not allowed"):
        convert_config(xml)


def test_malformed_xml_is_an_invalid_config():
    with pytest.raises(InvalidConfig, match="not well-formed XML"):
        convert_config("<View><Text></View>")


def _read(kind: str, name: str = "export-full.json"):
    xml = _xml(kind)
    config = convert_config(xml)[0]
    with open(FIXTURES / kind / name, "rb") as f:
        return config, list(read_label_studio_export(f, config, label_config=xml))


@pytest.mark.parametrize("kind", sorted(set(KINDS) - {"rectanglelabels"}))
def test_each_export_reads_with_authors_predictions_and_skips(kind):
    config, tasks = _read(kind)
    raw = _export(kind)
    assert [t.task_id for t in tasks] == [t["id"] for t in raw]
    assert all(t.errors == [] and t.skipped == [] for t in tasks)
    lines = [t.line for t in tasks]
    assert [line["external_id"] for line in lines] == [str(t["id"]) for t in raw]
    anns = [a for line in lines for a in line["annotations"]]
    assert len(anns) == sum(len(t["annotations"]) for t in raw)
    assert {a["completed_by"] for a in anns} <= {f"annotator{i}@labels.example.com" for i in (1, 2, 3)}
    skipped = [a for a in anns if a["was_cancelled"]]
    assert len(skipped) == 1 and skipped[0]["result"] is None
    assert all(isinstance(a["lead_time"], float) and a["created_at"].endswith("Z") for a in anns)
    tt, parsed = installed().parse_config(config)
    for line in lines:
        assert tt.check_data(parsed, line["data"]) is None
        for a in line["annotations"]:
            if a["result"] is not None:
                assert tt.validate_result(parsed, line["data"], a["result"]) == a["result"]
        assert all(set(p) == {"model_version", "score", "result"} for p in line["predictions"])
    assert sum(len(line["predictions"]) for line in lines) == sum(len(t["predictions"]) for t in raw) > 0


def test_results_read_as_label_studio_meant_them():
    _, spans = _read("labels_text")
    first = spans[0].line["annotations"][0]["result"]
    assert [s["text"] for s in first["spans"]] == ["Ada Lovelace", "Babbage", "London"]
    assert first["relations"] == [{"from": 0, "to": 1, "label": "works_for"}]
    _, ranker = _read("ranker")
    line = ranker[0].line
    assert line["data"]["items"] == ["Answer A to question 0.", "Answer B to question 0.", "Answer C to question 0."]
    assert line["annotations"][0]["result"] == {"ranks": [2, 1, 3]}  # r0b, r0a, r0c
    _, pairwise = _read("pairwise")
    assert [a["result"]["preferred"] for a in pairwise[0].line["annotations"]] == [0, 1, 0]
    assert pairwise[0].line["data"]["responses"] == ["First answer 0.", "Second answer 0."]


def test_the_export_buttons_ids_are_reported_not_guessed():
    _, tasks = _read("choices_single", "export.json")
    assert all(t.line is not None for t in tasks)
    assert all(t.line["predictions"] == [] for t in tasks)
    assert tasks[0].skipped == [
        f"task {tasks[0].task_id}: predictions[0]: only the id "
        f"{_export('choices_single', 'export.json')[0]['predictions'][0]} "
        "(export with whole predictions to bring them)"
    ]
    assert {a["completed_by"] for t in tasks for a in t.line["annotations"]} == {2, 3, 4}  # user ids


def test_images_name_their_task_and_field_and_convert_once_stored():
    config, tasks = _read("rectanglelabels")
    assert all(t.line is None for t in tasks)
    assert (
        tasks[0]
        .errors[0]
        .startswith(
            f"task {tasks[0].task_id}: data.image: 'http://127.0.0.1:1/images/street-0.jpg' is not a stored file"
        )
    )
    tt, parsed = installed().parse_config(config)
    raw = _export("rectanglelabels")[0]
    got = read_task(tt, parsed, {**raw, "data": {"image": FILE}})
    assert got.errors == []
    first = got.line["annotations"][0]["result"]
    assert first == {
        "boxes": [
            {"x": 64, "y": 96, "w": 160, "h": 60, "label": "car"},
            {"x": 384, "y": 24, "w": 64, "h": 48, "label": "sign"},
        ],
        "label": "day",
    }
    assert got.line["predictions"][0]["result"] == {"boxes": [{"x": 64, "y": 96, "w": 160, "h": 60, "label": "car"}]}


def test_a_bad_result_names_the_task_and_the_field():
    config, _ = convert_config(_xml("choices_single"))
    task = {
        "id": 77,
        "data": {"text": "x"},
        "annotations": [
            {
                "completed_by": 1,
                "result": [
                    {"type": "choices", "from_name": "label", "to_name": "text", "value": {"choices": ["nope"]}}
                ],
            }
        ],
    }
    (got,) = read_label_studio_export(io.BytesIO(json.dumps([task]).encode()), config)
    assert got.line is None
    assert got.errors == ["task 77: annotations[0].result: result.label: 'nope' is not a label of this project"]


def test_a_type_without_a_mapping_says_so():
    class Plain(TaskType):
        name = "plain"

    with pytest.raises(InvalidInput, match="task type plain has no Label Studio mapping"):
        Plain().to_label_studio(None, {}, {})
    with pytest.raises(InvalidInput, match="task type plain has no Label Studio mapping"):
        Plain().prediction_from_label_studio(None, {}, [])
    assert Plain().export_rows("labelstudio") is None
    with pytest.raises(InvalidInput, match="not JSON"):
        list(read_label_studio_export(io.BytesIO(b"{"), convert_config(_xml("rating"))[0]))


# -- round trips: result -> Label Studio -> result, per type --------------------------

ROUND_TRIPS = [
    ("choices_single", {"text": "x"}, {"label": "neutral"}),
    ("choices_multiple", {"text": "x"}, {"labels": ["people", "service"]}),
    (
        "labels_text",
        {"text": "Ada met Bob in Rome."},
        {
            "spans": [
                {"start": 0, "end": 3, "label": "PERSON", "text": "Ada"},
                {"start": 8, "end": 11, "label": "PERSON", "text": "Bob"},
                {"start": 15, "end": 19, "label": "LOCATION", "text": "Rome"},
            ],
            "relations": [{"from": 0, "to": 2, "label": "located_in"}],
        },
    ),
    ("pairwise", {"prompt": "Q?", "responses": ["a", "b"]}, {"preferred": 1}),
    ("ranker", {"prompt": "Q?", "items": ["a", "b", "c", "d"]}, {"ranks": [3, 1, 4, 2]}),
    ("textarea", {"prompt": "Q?"}, {"text": "An answer\nover two lines."}),
    ("rating", {"text": "x"}, {"scores": {"rating": 4}}),
    (
        "rectanglelabels",
        {"image": FILE, "width": 640, "height": 480},
        {"boxes": [{"x": 10, "y": 20.5, "w": 100, "h": 33.25, "label": "sign"}], "label": "night"},
    ),
]


@pytest.mark.parametrize("kind,data,result", ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS])
def test_round_trip_through_label_studio(kind, data, result):
    tt, config = installed().parse_config(convert_config(_xml(kind))[0])
    assert tt.validate_result(config, data, result) == result
    items = tt.to_label_studio(config, data, result)
    ls_data = tt.data_to_label_studio(config, data)
    back = tt.from_label_studio(config, ls_data, items)
    assert tt.validate_result(config, tt.data_from_label_studio(config, ls_data), back) == result


@given(st.permutations(range(1, 7)))
def test_any_ranking_round_trips(ranks):
    tt, config = installed().parse_config(convert_config(_xml("ranker"))[0])
    data = {"prompt": "Q?", "items": [f"r{i}" for i in range(6)]}
    ls_data = tt.data_to_label_studio(config, data)
    back = tt.from_label_studio(config, ls_data, tt.to_label_studio(config, data, {"ranks": list(ranks)}))
    assert back == {"ranks": list(ranks)}


@given(st.lists(st.sampled_from(["people", "places", "service"]), min_size=1, unique=True))
def test_any_label_set_round_trips(labels):
    tt, config = installed().parse_config(convert_config(_xml("choices_multiple"))[0])
    result = tt.validate_result(config, {"text": "x"}, {"labels": labels})
    back = tt.from_label_studio(config, {"text": "x"}, tt.to_label_studio(config, {"text": "x"}, result))
    assert tt.validate_result(config, {"text": "x"}, back) == result
