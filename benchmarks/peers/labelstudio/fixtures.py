"""Label Studio's own files for the interop tests: one project per convertible config, exported.

    python -m benchmarks.peers.labelstudio.fixtures [--out tests/fixtures/labelstudio]

Installs Label Studio once (``run.ensure_env``), starts it on 127.0.0.1 with a
fresh data directory (``run.LabelStudio``), makes an owner and three annotators
with its own CLI, then for each config below: creates the project, imports a
few tasks with predictions (``model_version``, ``score``), has each annotator
annotate through the API as the browser would (``lead_time``; one skip, which
Label Studio records as an annotation with ``was_cancelled``; some tasks left
to others), and exports the project twice: ``GET /api/projects/{id}/export?exportType=JSON`` (``export.json``: what
the Export button gives — predictions as ids, annotators as ids) and an export
snapshot with whole predictions and annotators (``export-full.json``:
``serialization_options`` ``predictions.only_id`` and
``annotations__completed_by.only_id`` false). It writes ``config.xml`` and both
exports per config under ``OUT/<type>/`` and the version it ran in ``OUT/VERSION``.

The results posted are written here in Label Studio's shape; what the files
hold is what Label Studio stored and exported of them (ids, timestamps, users,
``completed_by``, its own fields), which is what the tests read.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import tempfile
import time
from pathlib import Path

import httpx

from .run import LabelStudio, ensure_env

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "tests" / "fixtures" / "labelstudio"
TEXTS = [
    "Ada Lovelace worked for Babbage in London.",
    "The refund never arrived and support did not answer.",
    "Grace Hopper joined the Navy in 1943.",
    "Great service, the parcel came a day early.",
]


def _choices(names: list[str], from_name: str = "label", to_name: str = "text") -> dict:
    return {"from_name": from_name, "to_name": to_name, "type": "choices", "value": {"choices": names}}


def _span(rid: str, text: str, start: int, end: int, label: str) -> dict:
    return {
        "id": rid,
        "from_name": "label",
        "to_name": "text",
        "type": "labels",
        "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]},
    }


def _span_of(rid: str, text: str, phrase: str, label: str) -> dict:
    start = text.index(phrase)
    return _span(rid, text, start, start + len(phrase), label)


def _relation(a: str, b: str, label: str) -> dict:
    return {"from_id": a, "to_id": b, "type": "relation", "direction": "right", "labels": [label]}


def _pairwise(side: str) -> dict:
    return {"from_name": "pw", "to_name": "pw", "type": "pairwise", "value": {"selected": side}}


def _ranker(order: list[str]) -> dict:
    return {"from_name": "rank", "to_name": "answers", "type": "ranker", "value": {"ranker": {"answers": order}}}


def _textarea(text: str) -> dict:
    return {"from_name": "answer", "to_name": "prompt", "type": "textarea", "value": {"text": [text]}}


def _rating(n: int) -> dict:
    return {"from_name": "rating", "to_name": "text", "type": "rating", "value": {"rating": n}}


def _box(rid: str, x: float, y: float, w: float, h: float, label: str) -> dict:
    return {
        "id": rid,
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": 640,
        "original_height": 480,
        "image_rotation": 0,
        "value": {"x": x, "y": y, "width": w, "height": h, "rotation": 0, "rectanglelabels": [label]},
    }


def _ranker_items(i: int) -> list[dict]:
    return [
        {"id": f"r{i}a", "title": "A", "body": f"Answer A to question {i}."},
        {"id": f"r{i}b", "title": "B", "body": f"Answer B to question {i}."},
        {"id": f"r{i}c", "title": "C", "body": f"Answer C to question {i}."},
    ]


# type -> (label config, tasks, {task index: [annotation for annotator 0, 1, 2 (None: not done)]})
# An annotation is (result, lead_time) or "skip".
def projects() -> dict[str, tuple[str, list[dict], dict[int, list]]]:
    text_tasks = [{"data": {"text": t}} for t in TEXTS]
    out: dict[str, tuple[str, list[dict], dict[int, list]]] = {}

    single = """<View>
  <Text name="text" value="$text"/>
  <Choices name="label" toName="text" choice="single-radio">
    <Choice value="positive"/>
    <Choice value="negative"/>
    <Choice value="neutral"/>
  </Choices>
</View>"""
    tasks = [
        dict(
            t,
            predictions=[
                {
                    "model_version": "sentiment-v1",
                    "score": 0.5 + i / 10,
                    "result": [_choices(["positive" if i % 2 else "negative"])],
                }
            ],
        )
        for i, t in enumerate(text_tasks)
    ]
    out["choices_single"] = (
        single,
        tasks,
        {
            0: [([_choices(["neutral"])], 4.2), ([_choices(["neutral"])], 3.1), ([_choices(["negative"])], 9.0)],
            1: [([_choices(["negative"])], 2.5), ([_choices(["negative"])], 1.9), "skip"],
            2: [([_choices(["neutral"])], 3.3), None, ([_choices(["positive"])], 5.0)],
            3: [([_choices(["positive"])], 1.0), ([_choices(["positive"])], 1.2), ([_choices(["positive"])], 0.8)],
        },
    )

    multiple = """<View>
  <Text name="text" value="$text"/>
  <Choices name="topics" toName="text" choice="multiple">
    <Choice value="people"/>
    <Choice value="places"/>
    <Choice value="service"/>
  </Choices>
</View>"""
    tasks = [
        dict(t, predictions=[{"model_version": "topics-v2", "score": 0.7, "result": [_choices(["people"], "topics")]}])
        for t in text_tasks
    ]
    out["choices_multiple"] = (
        multiple,
        tasks,
        {
            0: [([_choices(["people", "places"], "topics")], 6.0), ([_choices(["people"], "topics")], 4.0), None],
            1: [([_choices(["service"], "topics")], 2.0), "skip", ([_choices(["service"], "topics")], 3.5)],
            2: [None, ([_choices(["people"], "topics")], 2.2), ([_choices(["people", "places"], "topics")], 7.0)],
        },
    )

    spans = """<View>
  <Labels name="label" toName="text">
    <Label value="PERSON"/>
    <Label value="ORG"/>
    <Label value="LOCATION"/>
  </Labels>
  <Text name="text" value="$text"/>
  <Relations>
    <Relation value="works_for"/>
    <Relation value="located_in"/>
  </Relations>
</View>"""
    t0, t2 = TEXTS[0], TEXTS[2]
    tasks = [
        dict(
            text_tasks[0],
            predictions=[
                {"model_version": "ner-v3", "score": 0.81, "result": [_span_of("p1", t0, "Ada Lovelace", "PERSON")]}
            ],
        ),
        text_tasks[1],
        text_tasks[2],
    ]
    full0 = [
        _span_of("a1", t0, "Ada Lovelace", "PERSON"),
        _span_of("a2", t0, "Babbage", "PERSON"),
        _span_of("a3", t0, "London", "LOCATION"),
        _relation("a1", "a2", "works_for"),
    ]
    out["labels_text"] = (
        spans,
        tasks,
        {
            0: [
                (full0, 30.5),
                ([_span_of("b1", t0, "Ada Lovelace", "PERSON"), _span_of("b2", t0, "London", "LOCATION")], 20.0),
                "skip",
            ],
            1: [([], 3.0), None, ([], 2.0)],
            2: [
                (
                    [
                        _span_of("c1", t2, "Grace Hopper", "PERSON"),
                        _span_of("c2", t2, "Navy", "ORG"),
                        _relation("c1", "c2", "works_for"),
                    ],
                    14.0,
                ),
                ([_span_of("d1", t2, "Grace Hopper", "PERSON")], 8.0),
                None,
            ],
        },
    )

    pairwise = """<View>
  <Header value="Which answer is better?"/>
  <Text name="prompt" value="$prompt"/>
  <Text name="answer1" value="$answer1"/>
  <Text name="answer2" value="$answer2"/>
  <Pairwise name="pw" toName="answer1,answer2"/>
</View>"""
    tasks = [
        {
            "data": {"prompt": f"Question {i}?", "answer1": f"First answer {i}.", "answer2": f"Second answer {i}."},
            "predictions": [{"model_version": "reward-v1", "score": 0.6, "result": [_pairwise("left")]}],
        }
        for i in range(3)
    ]
    out["pairwise"] = (
        pairwise,
        tasks,
        {
            0: [([_pairwise("left")], 5.0), ([_pairwise("right")], 6.5), ([_pairwise("left")], 4.0)],
            1: [([_pairwise("right")], 3.0), "skip", None],
            2: [None, ([_pairwise("left")], 2.0), ([_pairwise("left")], 2.5)],
        },
    )

    ranker = """<View>
  <Text name="prompt" value="$prompt"/>
  <List name="answers" value="$items" title="Answers"/>
  <Ranker name="rank" toName="answers"/>
</View>"""
    tasks = [
        {
            "data": {"prompt": f"Question {i}?", "items": _ranker_items(i)},
            "predictions": [
                {"model_version": "ranker-v1", "score": 0.55, "result": [_ranker([f"r{i}a", f"r{i}b", f"r{i}c"])]}
            ],
        }
        for i in range(3)
    ]
    out["ranker"] = (
        ranker,
        tasks,
        {
            0: [([_ranker(["r0b", "r0a", "r0c"])], 12.0), ([_ranker(["r0b", "r0c", "r0a"])], 9.0), "skip"],
            1: [([_ranker(["r1a", "r1b", "r1c"])], 7.0), None, ([_ranker(["r1c", "r1b", "r1a"])], 8.0)],
            2: [None, ([_ranker(["r2a", "r2c", "r2b"])], 6.0), ([_ranker(["r2a", "r2b", "r2c"])], 5.5)],
        },
    )

    textarea = """<View>
  <Text name="prompt" value="$prompt"/>
  <TextArea name="answer" toName="prompt" rows="4" editable="true" maxSubmissions="1"/>
</View>"""
    tasks = [
        {
            "data": {"prompt": f"Explain topic {i} in one sentence."},
            "predictions": [{"model_version": "draft-llm", "score": 0.4, "result": [_textarea(f"Draft for {i}.")]}],
        }
        for i in range(3)
    ]
    out["textarea"] = (
        textarea,
        tasks,
        {
            0: [
                ([_textarea("Topic 0, explained plainly.")], 40.0),
                ([_textarea("A sentence on topic 0.")], 35.0),
                None,
            ],
            1: [([_textarea("Topic 1 in short.")], 22.0), "skip", ([_textarea("One line about topic 1.")], 30.0)],
            2: [None, ([_textarea("Topic 2: what it is.")], 18.0), ([_textarea("Topic 2, briefly.")], 25.0)],
        },
    )

    rating = """<View>
  <Text name="text" value="$text"/>
  <Rating name="rating" toName="text" maxRating="5" icon="star"/>
</View>"""
    tasks = [
        dict(t, predictions=[{"model_version": "quality-v1", "score": 0.9, "result": [_rating(3)]}])
        for t in text_tasks[:3]
    ]
    out["rating"] = (
        rating,
        tasks,
        {
            0: [([_rating(4)], 2.0), ([_rating(5)], 2.5), ([_rating(4)], 1.5)],
            1: [([_rating(1)], 3.0), None, "skip"],
            2: [([_rating(3)], 1.0), ([_rating(2)], 4.0), None],
        },
    )

    image = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image">
    <Label value="car"/>
    <Label value="sign"/>
  </RectangleLabels>
  <Choices name="time" toName="image">
    <Choice value="day"/>
    <Choice value="night"/>
  </Choices>
</View>"""
    tasks = [
        {
            "data": {"image": f"http://127.0.0.1:1/images/street-{i}.jpg"},
            "predictions": [
                {
                    "model_version": "detector-v5",
                    "score": 0.77,
                    "result": [_box(f"p{i}", 10.0, 20.0, 25.0, 12.5, "car")],
                }
            ],
        }
        for i in range(3)
    ]
    out["rectanglelabels"] = (
        image,
        tasks,
        {
            0: [
                (
                    [
                        _box("i1", 10.0, 20.0, 25.0, 12.5, "car"),
                        _box("i2", 60.0, 5.0, 10.0, 10.0, "sign"),
                        _choices(["day"], "time", "image"),
                    ],
                    15.0,
                ),
                ([_box("j1", 11.25, 19.5, 24.0, 13.0, "car"), _choices(["day"], "time", "image")], 11.0),
                None,
            ],
            1: [
                ([_choices(["night"], "time", "image")], 3.0),
                "skip",
                ([_box("k1", 50.0, 50.0, 20.0, 20.0, "sign"), _choices(["night"], "time", "image")], 9.0),
            ],
            2: [
                None,
                ([_box("l1", 0.0, 0.0, 100.0, 100.0, "car"), _choices(["day"], "time", "image")], 6.0),
                ([_box("m1", 5.0, 5.0, 30.0, 40.0, "car"), _choices(["day"], "time", "image")], 7.0),
            ],
        },
    )
    return out


def snapshot(http: httpx.Client, project: int, timeout: float = 120) -> list:
    """An export snapshot with whole predictions and annotators ({id, email, …}), as JSON."""
    r = http.post(
        f"/api/projects/{project}/exports/",
        json={
            "task_filter_options": {"only_with_annotations": False},
            "annotation_filter_options": {"usual": True, "skipped": True, "ground_truth": True},
            "serialization_options": {
                "predictions": {"only_id": False},
                "annotations__completed_by": {"only_id": False},
            },
        },
    )
    r.raise_for_status()
    export = r.json()["id"]
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        r = http.get(f"/api/projects/{project}/exports/{export}")
        r.raise_for_status()
        if r.json()["status"] == "completed":
            r = http.get(f"/api/projects/{project}/exports/{export}/download", params={"exportType": "JSON"})
            r.raise_for_status()
            return r.json()
        if r.json()["status"] == "failed":
            raise RuntimeError(f"export snapshot {export} of project {project} failed: {r.text[:1000]}")
        time.sleep(0.5)
    raise RuntimeError(f"export snapshot {export} of project {project} did not complete in {timeout} s")


def make_fixtures(out: Path, keep: bool = False) -> str:
    version = ensure_env()
    work = Path(tempfile.mkdtemp(prefix="ls-fixtures-", dir="/tmp"))
    ls = LabelStudio(work)
    owner = secrets.token_hex(20)
    people = [(f"annotator{i + 1}@labels.example.com", secrets.token_hex(20)) for i in range(3)]
    ls.add_user("owner@labels.example.com", owner)
    for email, token in people:
        ls.add_user(email, token)
    ls.start()
    try:
        with httpx.Client(base_url=ls.url, headers={"Authorization": f"Token {owner}"}, timeout=120) as http:
            for kind, (config, tasks, work_done) in projects().items():
                r = http.post("/api/projects/", json={"title": kind, "label_config": config})
                r.raise_for_status()
                project = r.json()["id"]
                r = http.post(f"/api/projects/{project}/import", json=tasks)
                r.raise_for_status()
                r = http.get("/api/tasks/", params={"project": project, "page_size": 100})
                r.raise_for_status()
                body = r.json()
                ids = sorted(t["id"] for t in (body["tasks"] if isinstance(body, dict) else body))
                for index, done in work_done.items():
                    for (email, token), what in zip(people, done):
                        if what is None:
                            continue
                        payload = (
                            {"result": [], "was_cancelled": True, "lead_time": 1.4}
                            if what == "skip"
                            else {"result": what[0], "lead_time": what[1]}
                        )
                        r = http.post(
                            f"/api/tasks/{ids[index]}/annotations/",
                            json=payload,
                            headers={"Authorization": f"Token {token}"},
                        )
                        if r.status_code != 201:
                            raise RuntimeError(
                                f"{kind}: annotating task {ids[index]} as {email}: {r.status_code} {r.text[:500]}"
                            )
                r = http.get(
                    f"/api/projects/{project}/export", params={"exportType": "JSON", "download_all_tasks": "true"}
                )
                r.raise_for_status()
                target = out / kind
                target.mkdir(parents=True, exist_ok=True)
                (target / "config.xml").write_text(config + "\n")
                (target / "export.json").write_text(json.dumps(r.json(), indent=1, ensure_ascii=False) + "\n")
                full = snapshot(http, project)
                (target / "export-full.json").write_text(json.dumps(full, indent=1, ensure_ascii=False) + "\n")
                print(f"{kind}: {len(r.json())} tasks exported", flush=True)
        (out / "VERSION").write_text(f"label-studio {version}\n")
    finally:
        ls.stop()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.peers.labelstudio.fixtures",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--keep", action="store_true", help="keep the /tmp data directory")
    args = parser.parse_args(argv)
    print(f"Label Studio {make_fixtures(args.out, args.keep)}: fixtures in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
