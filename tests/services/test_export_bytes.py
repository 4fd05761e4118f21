"""Every built-in export format's bytes, pinned: reshaping the export pipeline must not move one byte.

The projects below are made through the services with ids drawn from counters (one per
prefix) and a clock that stands still, so they export the same bytes on SQLite and on
PostgreSQL, run after run; the digests were recorded before export formats became
plugins. Parquet is pinned by what it decodes to (its schema and rows), not by its bytes,
which carry the writing library's version.

The manifests of the two document formats count what the files hold (an image per
task, a document per annotation) as their rows.

A digest that changes on purpose (a format's output was changed, or the projects here)
is recorded again with ``BASTION_PRINT_EXPORT_DIGESTS=1`` — and says so in the commit.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
from collections import defaultdict

import orjson
import pytest

from bastion import ids
from bastion.services import annotations, exports, files, imports, projects, reviews, tasks, workspaces
from bastion.services.exports import ExportRequest
from bastion.storage import database
from factories import as_user, make_user, system
from image_samples import PNG

CLOCK_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@pytest.fixture
def steady(monkeypatch):
    """Ids from per-prefix counters and a clock that stands still (only for what the test makes)."""
    counters: dict[str, itertools.count] = defaultdict(lambda: itertools.count(1))

    def new_id(prefix: str) -> str:
        return f"{prefix}_{next(counters[prefix]):032x}"

    def new_ids(prefix: str, count: int) -> list[str]:
        return [new_id(prefix) for _ in range(count)]

    monkeypatch.setattr(ids, "new_id", new_id)
    monkeypatch.setattr(ids, "new_ids", new_ids)
    monkeypatch.setattr(database, "now_ms", lambda: CLOCK_MS)


def _people(rt, tag: str):
    owner = make_user(rt, f"owner.{tag}@example.com")
    second = make_user(rt, f"second.{tag}@example.com")
    ws = workspaces.create_workspace(system(rt), f"Bytes {tag}", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, second.id, "manager")
    return ws, owner, second


def _labelled(rt, tag: str, config: dict, items: list[dict], results: list[list]):
    """``items`` imported; ``results[i][k]`` submitted on item i by person k (owner, then manager)."""
    ws, owner, second = _people(rt, tag)
    project = projects.create_project(system(rt), ws.id, name=f"Bytes {tag}", config=config, settings={"overlap": 2})
    imports.import_tasks(system(rt), project.id, list(enumerate(items, start=1)))
    by_external = {t["external_id"]: t["id"] for t in tasks.list_tasks(system(rt), project.id)["items"]}
    made = []
    for item, per_item in zip(items, results):
        for person, result in zip((owner.id, second.id), per_item):
            made.append(
                annotations.submit_annotation(
                    as_user(rt, person), by_external[item["external_id"]], result, lead_time_ms=1000
                )
            )
    return project, owner, second, made


def _preference(rt):
    items = [
        {
            "external_id": f"p{i}",
            "data": {"prompt": f"Question {i}?", "responses": [f"good {i}", f"bad {i}"]},
            "meta": {"batch": i % 2},
        }
        for i in range(6)
    ]
    items.append(
        {
            "external_id": "conv",
            "data": {
                "conversation": [
                    {"role": "user", "content": "Keep order when removing duplicates?"},
                    {"role": "assistant", "content": "Which language?"},
                    {"role": "user", "content": "Python."},
                ],
                "responses": ["list(dict.fromkeys(xs))", "list(set(xs))"],
            },
        }
    )
    results = [
        [{"preferred": 0, "strength": "strong"}, {"preferred": "tie"}],
        [{"preferred": 1, "strength": "slight"}, {"preferred": 0, "strength": "clear"}],
        [{"preferred": 0, "strength": "clear"}],
        [],
        [{"preferred": "tie"}, {"preferred": 1, "strength": "strong"}],
        [{"preferred": 1, "strength": "clear"}, {"preferred": 1, "strength": "slight"}],
        [{"preferred": 0, "strength": "strong"}],
    ]
    project, owner, second, made = _labelled(rt, "pref", {"type": "preference", "criteria": []}, items, results)
    reviews.review_annotation(as_user(rt, second.id), made[0]["id"], "accept")
    reviews.review_annotation(
        as_user(rt, owner.id),
        made[1]["id"],
        "correct",
        comment="the second is better",
        correction={"preferred": 1, "strength": "clear"},
    )
    return project


def _spans(rt):
    text = "Chief executive Ingrid Solberg said Halvorsen Maritime will close its Bergen yard in 2026."
    items = [
        {"external_id": "s0", "data": {"text": text}},
        {"external_id": "s1", "data": {"text": "Nothing here."}},
        {"external_id": "s2", "data": {"text": "Oslo and Bergen, then Oslo again."}},
    ]
    results = [
        [
            {
                "spans": [
                    {"start": 16, "end": 30, "label": "PERSON"},
                    {"start": 36, "end": 54, "label": "ORG"},
                    {"start": 70, "end": 76, "label": "LOCATION"},
                ]
            },
            {"spans": [{"start": 16, "end": 22, "label": "PERSON"}, {"start": 85, "end": 89, "label": "DATE"}]},
        ],
        [{"spans": []}],
        [],
    ]
    items.append({"external_id": "s3", "data": {"text": "Oslo and Bergen, then Oslo again."}})
    results.append(
        [{"spans": [{"start": 0, "end": 4, "label": "LOCATION"}, {"start": 9, "end": 15, "label": "LOCATION"}]}]
    )
    project, *_ = _labelled(
        rt, "spans", {"type": "spans", "field": "text", "labels": ["PERSON", "ORG", "LOCATION", "DATE"]}, items, results
    )
    return project


def _writing(rt):
    items = [
        {"external_id": "w0", "data": {"prompt": "Say hi"}},
        {"external_id": "w1", "data": {"conversation": [{"role": "user", "content": "Name a colour"}]}},
    ]
    results = [[{"text": "Hi!"}, {"text": "Hello."}], [{"text": "Teal."}]]
    project, *_ = _labelled(rt, "writing", {"type": "writing"}, items, results)
    return project


def _image(rt):
    ws, owner, second = _people(rt, "image")
    project = projects.create_project(
        system(rt),
        ws.id,
        name="Bytes image",
        settings={"overlap": 2},
        config={
            "type": "image",
            "field": "image",
            "box_labels": ["car", "house", "tree"],
            "image_labels": ["day", "night"],
        },
    )
    stored = files.store_file(system(rt), project.id, PNG)
    items = [
        {"external_id": "i0", "data": {"image": stored.id}},
        {"external_id": "i1", "data": {"image": stored.id, "width": stored.width, "height": stored.height}},
        {"external_id": "i2", "data": {"image": stored.id}},
    ]
    imports.import_tasks(system(rt), project.id, list(enumerate(items, start=1)))
    listed = {t["external_id"]: t["id"] for t in tasks.list_tasks(system(rt), project.id)["items"]}
    box = {"x": 10, "y": 20, "w": 30, "h": 40, "label": "tree"}
    annotations.submit_annotation(as_user(rt, owner.id), listed["i0"], {"boxes": [box], "label": "day"}, lead_time_ms=5)
    annotations.submit_annotation(
        as_user(rt, second.id),
        listed["i0"],
        {"boxes": [box, {"x": 1, "y": 2, "w": 3.5, "h": 4, "label": "car"}], "label": "night"},
        lead_time_ms=5,
    )
    annotations.submit_annotation(as_user(rt, owner.id), listed["i1"], {"boxes": [], "label": "night"}, lead_time_ms=5)
    return project


PROJECTS = {"preference": _preference, "spans": _spans, "writing": _writing, "image": _image}

# (project, request options) -> SHA-256 of the exported bytes ("parquet:" digests: of what the file decodes to)
DIGESTS = {
    "preference {}": "f984d2dbba83cf39f42612bef4ee019d1d69ca5774807e0dafda9c82b3fc97a5",
    'preference {"per":"annotation"}': "6bc398d3b952c04050051b0a644604910768aa4addc028eaa72c58b3fcd44ce4",
    'preference {"fmt":"json"}': "8937e1280f0e85d1ba045484afad48af5146d2dab4e6e32d39c5d15fcb835a82",
    'preference {"accepted_only":true,"annotated_only":true,"fmt":"json"}': "9b5d7afae455f3e1f8392087bbf3f01f32d35b502bb70c7a5a06c5a38d7862e3",
    'preference {"fmt":"jsonl","seed":3,"split":"validation=0.4"}': "46269363710dfd9d9b50894f0c4806403fd9881dc2c4e7e4886f8242ac7b4278",
    'preference {"fmt":"parquet"}': "parquet:2609c2d9ba47020188c830a784fa8de67d84f9500103674e5d6d5fa1e8d03a39",
    'preference {"chat":"conversational","fmt":"parquet","rows":"dpo"}': "parquet:71a34d01acf13d89a74151453dc736bbfaa217b305f96a87398c4d71d65ed8c8",
    'preference {"chat":"conversational","fmt":"parquet","rows":"sft","sft_form":"prompt-completion"}': "parquet:5d5ece884b54d919c61f86f91f378f9d46609d067d996a444fe1b3619fb47515",
    'preference {"chat":"conversational","fmt":"dpo"}': "9f519d4311157664bb865540dc0db03b2dc9e7142bb259b2a170ae5de5ffa352",
    'preference {"chat":"conversational","fmt":"dpo","include_ties":true,"seed":3,"split":"validation=0.4","with_ids":true}': "04e393858c429849810193c9578de05411dc22cb41580ad7950dc9487f976291",
    'preference {"chat":"conversational","fmt":"dpo","min_strength":"clear","part":"train","seed":3,"split":"validation=0.4"}': "4da7d275f7b931b6f866e55527ea01594e1d904b90c46a35f000812315e8d53c",
    'preference {"fmt":"sft"}': "35bd24957f20f05603ef56d1f176edc59ee697dfef32eeda322876e18191e167",
    'preference {"chat":"conversational","fmt":"sft","sft_form":"prompt-completion","with_ids":true}': "a153d5f3e01232e6211733fab9e7759a6e33d4cd6fc515c3ed8d5487ff237f8f",
    "spans {}": "350d94816996a00f454d2be0e5ba37db61c858e2a321bd14b185d9ed46ea096b",
    'spans {"fmt":"spacy"}': "d144ee09823e4ac8a6aaadd275872addcda15086afebec4b572acae30df35601",
    'spans {"fmt":"spacy","seed":1,"split":"test=0.5","with_ids":true}': "7f4fc4137fa13492d95f6c1305d8a398f5d12db51db877625dd3c3665149843f",
    'spans {"fmt":"conll"}': "af6c270e8abe4d008d09a71754e79074be499e22b0c5faf00fd230b065a6b25f",
    'spans {"fmt":"conll","part":"test","seed":1,"split":"test=0.5"}': "852aa15ae5c3e034f6f10ac178fafe938e1c47c2d708ca170203c335d47ff6b8",
    'spans {"fmt":"parquet"}': "parquet:74a7c85636d3ff4f68d93f9ffaee8856476e3878cb3aa08f3b1e46910e88e191",
    'writing {"fmt":"sft"}': "c0a7c3d2b78cdeb5af323531b5658feb28eb44033d6ffbebca5a350f35c98f7e",
    'writing {"fmt":"sft","sft_form":"prompt-completion"}': "7142758a770eac80488c5e27c51c4f721a332d59f3bd5926450017d84cd451f4",
    'writing {"fmt":"json","per":"annotation"}': "c62dbd8eadce0eace4848f21c96b688f821aec04c97eb5f96595ecee79422e84",
    'image {"fmt":"coco"}': "c545777027307cef34b8a8090a93c8dfd3e597dd1b8059d25c95f59d9d035973",
    'image {"annotated_only":true,"fmt":"coco"}': "98f98020a7232e69fae677bb5430ad31146dd9946a0922a4d9b61ba398ddbab5",
    "image {}": "40e65852d151b4496219d9d3a952ab5918a6ad5a3fd3dfe0357a42b46fda1303",
}

CASES = [
    ("preference", {}),
    ("preference", {"per": "annotation"}),
    ("preference", {"fmt": "json"}),
    ("preference", {"fmt": "json", "annotated_only": True, "accepted_only": True}),
    ("preference", {"fmt": "jsonl", "split": "validation=0.4", "seed": 3}),
    ("preference", {"fmt": "parquet"}),
    ("preference", {"fmt": "parquet", "rows": "dpo", "chat": "conversational"}),
    ("preference", {"fmt": "parquet", "rows": "sft", "chat": "conversational", "sft_form": "prompt-completion"}),
    ("preference", {"fmt": "dpo", "chat": "conversational"}),
    (
        "preference",
        {
            "fmt": "dpo",
            "chat": "conversational",
            "include_ties": True,
            "with_ids": True,
            "split": "validation=0.4",
            "seed": 3,
        },
    ),
    (
        "preference",
        {
            "fmt": "dpo",
            "chat": "conversational",
            "min_strength": "clear",
            "part": "train",
            "split": "validation=0.4",
            "seed": 3,
        },
    ),
    ("preference", {"fmt": "sft"}),
    ("preference", {"fmt": "sft", "sft_form": "prompt-completion", "chat": "conversational", "with_ids": True}),
    ("spans", {}),
    ("spans", {"fmt": "spacy"}),
    ("spans", {"fmt": "spacy", "with_ids": True, "split": "test=0.5", "seed": 1}),
    ("spans", {"fmt": "conll"}),
    ("spans", {"fmt": "conll", "split": "test=0.5", "seed": 1, "part": "test"}),
    ("spans", {"fmt": "parquet"}),
    ("writing", {"fmt": "sft"}),
    ("writing", {"fmt": "sft", "sft_form": "prompt-completion"}),
    ("writing", {"fmt": "json", "per": "annotation"}),
    ("image", {"fmt": "coco"}),
    ("image", {"fmt": "coco", "annotated_only": True}),
    ("image", {}),
]


def _key(name: str, options: dict) -> str:
    return name + " " + orjson.dumps(options, option=orjson.OPT_SORT_KEYS).decode()


def _digest(options: dict, data: bytes) -> str:
    if options.get("fmt") != "parquet":
        return hashlib.sha256(data).hexdigest()
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    decoded = orjson.dumps([str(table.schema), table.to_pylist()])
    return "parquet:" + hashlib.sha256(decoded).hexdigest()


def test_built_in_formats_export_the_bytes_they_always_did(rt, steady):
    made = {name: make(rt) for name, make in PROJECTS.items()}
    got = {}
    for name, options in CASES:
        export = exports.start_export(system(rt), made[name].id, request=ExportRequest(**options))
        got[_key(name, options)] = _digest(options, b"".join(export.stream()))
    if os.environ.get("BASTION_PRINT_EXPORT_DIGESTS"):
        for key, digest in got.items():
            print(f"    {key!r}: {digest!r},")
    assert got == DIGESTS


def test_documents_count_the_rows_they_hold(rt):
    """COCO holds an image per task, CoNLL a document per annotation: the manifest counts them as rows."""
    spans, image = _spans(rt), _image(rt)
    coco = exports.start_export(system(rt), image.id, request=ExportRequest(fmt="coco"))
    data = orjson.loads(b"".join(coco.stream()))
    assert coco.manifest["counts"] | {"per_annotator": None} == {
        "rows": len(data["images"]),
        "tasks": 3,
        "annotations": 3,
        "per_annotator": None,
    }
    assert len(data["images"]) == 3 and len(data["annotations"]) == 3  # the unlabelled image too
    conll = exports.start_export(system(rt), spans.id, request=ExportRequest(fmt="conll"))
    documents = b"".join(conll.stream()).count(b"-DOCSTART-")
    assert conll.manifest["counts"] | {"per_annotator": None} == {
        "rows": documents,
        "tasks": 3,
        "annotations": 4,
        "per_annotator": None,
    }
    assert documents == 4  # the task nobody labelled has no document


# The cases above the workers are tried on (each export starts its workers: a second or two).
PAGED_CASES = [CASES[i] for i in (1, 3, 4, 5, 6, 9, 12, 15, 17, 18, 21, 24)] + [("preference", {"aggregate": "mv"})]


def test_worker_processes_export_the_same_bytes(rt, steady, monkeypatch):
    """Every case above, every format: pages built and encoded in worker processes make the very
    bytes (and the same manifest counts and agreement figures) as the whole export made in-process."""
    monkeypatch.setattr(exports, "FIRST_PAGE", 1)  # pages of one, then two tasks: many pages
    monkeypatch.setattr(exports, "PAGE", 2)
    monkeypatch.setattr(exports, "PARALLEL_AFTER_TASKS", 1)  # workers from the second page on
    monkeypatch.setattr(exports, "WAIT_FOR_WORKERS", True)
    made = {name: make(rt) for name, make in PROJECTS.items()}
    paged = {fmt.name for fmt in rt.export_formats if fmt.pages is not None}
    assert paged >= {"jsonl", "json", "parquet", "sft", "dpo", "spacy", "conll"}
    assert paged <= {options.get("fmt", "jsonl") for _, options in PAGED_CASES}  # each such format is a case
    for name, options in PAGED_CASES:
        got = {}
        for workers in (0, 2):
            monkeypatch.setattr(rt.settings, "export_workers", workers)
            export = exports.start_export(system(rt), made[name].id, request=ExportRequest(**options))
            data = b"".join(export.stream())
            manifest = export.manifest
            assert manifest is not None
            got[workers] = (data, manifest["counts"], manifest["quality"])
            if workers and export.format.pages is not None:
                assert export.worker_pids, f"{name} {options}: no worker process built a page"
            else:
                assert export.worker_pids is None
        assert got[2] == got[0], f"{name} {options}"
