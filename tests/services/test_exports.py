"""Exports through the store, the API and the CLI: options, splits, clear refusals."""

from __future__ import annotations

import orjson
import pytest

from bastion.domain.errors import InvalidInput
from bastion.services import annotations, exports, imports, projects, tasks, workspaces
from bastion.services.exports import ExportRequest
from factories import as_user, make_token, make_user, system

PREFERENCE = {"type": "preference", "criteria": []}


def _project(rt, config, items, results):
    """A project with ``items`` imported and ``results[i]`` (a list) submitted on item i by the owner and a second person."""
    owner = make_user(rt, "owner@example.com")
    second = make_user(rt, "second@example.com")
    ws = workspaces.create_workspace(system(rt), "Exports", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, second.id, "manager")
    project = projects.create_project(system(rt), ws.id, name="P", config=config, settings={"overlap": 2})
    imports.import_tasks(system(rt), project.id, [(i + 1, item) for i, item in enumerate(items)])
    listed = tasks.list_tasks(system(rt), project.id)["items"]
    by_external = {t["external_id"]: t["id"] for t in listed}
    people = [owner.id, second.id]
    for item, per_item in zip(items, results):
        for person, result in zip(people, per_item):
            annotations.submit_annotation(as_user(rt, person), by_external[item["external_id"]], result)
    return project, owner, by_external


def _rows(export) -> list[dict]:
    return [orjson.loads(line) for line in b"".join(export.chunks()).splitlines()]


def preference_items(n: int):
    return [
        {"external_id": f"p{i}", "data": {"prompt": f"Question {i}?", "responses": [f"good {i}", f"bad {i}"]}}
        for i in range(n)
    ]


def test_dpo_through_the_store_with_split_and_filters(rt):
    items = preference_items(30)
    results = [[{"preferred": 0, "strength": "strong"}, {"preferred": "tie"}] for _ in items]
    project, owner, ids = _project(rt, PREFERENCE, items, results)
    ctx = system(rt)
    rows = _rows(exports.start_export(ctx, project.id, request=ExportRequest(fmt="dpo", with_ids=True)))
    assert len(rows) == 30 and all(r["chosen"].startswith("good") for r in rows)
    assert set(rows[0]) == {"prompt", "chosen", "rejected", "task_id", "annotation_id", "external_id"}
    with_ties = _rows(exports.start_export(ctx, project.id, request=ExportRequest(fmt="dpo", include_ties=True)))
    assert len(with_ties) == 60 and sum(r["tie"] for r in with_ties) == 30
    split = ExportRequest(fmt="dpo", include_ties=True, split="validation=0.3", seed=3, with_ids=True)
    rows = _rows(exports.start_export(ctx, project.id, request=split))
    parts: dict[str, set] = {}
    for r in rows:
        parts.setdefault(r["task_id"], set()).add(r["split"])
    assert all(len(p) == 1 for p in parts.values())  # both rows of a task in one part
    val = [t for t, p in parts.items() if p == {"validation"}]
    assert 0 < len(val) < 30
    only_val = _rows(
        exports.start_export(
            ctx,
            project.id,
            request=ExportRequest(
                fmt="dpo", include_ties=True, split="validation=0.3", seed=3, part="validation", with_ids=True
            ),
        )
    )
    assert {r["task_id"] for r in only_val} == set(val)


def test_lossless_rows_per_task_and_per_annotation(rt):
    items = preference_items(3)
    project, *_ = _project(rt, PREFERENCE, items, [[{"preferred": 1, "strength": "slight"}]] * 3)
    per_task = _rows(exports.start_export(system(rt), project.id))
    assert len(per_task) == 3 and all(len(r["annotations"]) == 1 for r in per_task)
    per_ann = _rows(exports.start_export(system(rt), project.id, request=ExportRequest(per="annotation")))
    assert len(per_ann) == 3 and per_ann[0]["annotation"]["result"] == {"preferred": 1, "strength": "slight"}
    assert "annotations" not in per_ann[0]


@pytest.mark.parametrize(
    "request_,message",
    [
        (ExportRequest(fmt="dpo", per="task"), "per: dpo rows are made from annotations"),
        (ExportRequest(fmt="coco"), "format: preference projects have no coco export"),
        (ExportRequest(fmt="sft", rows="dpo"), "rows: only with format parquet"),
        (ExportRequest(fmt="dpo", min_strength="huge"), "dpo_min_strength: 'huge' is not one of"),
        (ExportRequest(fmt="dpo", part="validation"), "part: needs a split"),
        (ExportRequest(fmt="dpo", split="validation=0.1", part="test"), "part: 'test' is not one of train, validation"),
        (ExportRequest(fmt="xml"), "format: unknown export format 'xml'"),
    ],
)
def test_refusals_are_clear_and_happen_before_any_byte(rt, request_, message):
    project, *_ = _project(rt, PREFERENCE, preference_items(1), [[{"preferred": 0, "strength": "clear"}]])
    with pytest.raises(InvalidInput) as info:
        exports.start_export(system(rt), project.id, request=request_)
    assert message in info.value.message


def test_accepted_only_training_rows_hold_only_accepted_annotations(rt):
    project, *_ = _project(rt, PREFERENCE, preference_items(2), [[{"preferred": 0, "strength": "clear"}]] * 2)
    assert len(_rows(exports.start_export(system(rt), project.id, request=ExportRequest(fmt="dpo")))) == 2
    assert (
        _rows(exports.start_export(system(rt), project.id, request=ExportRequest(fmt="dpo", accepted_only=True))) == []
    )


def test_export_api_streams_training_rows(client, rt):
    project, owner, _ = _project(rt, PREFERENCE, preference_items(4), [[{"preferred": 1, "strength": "clear"}]] * 4)
    headers = {"Authorization": f"Bearer {make_token(rt, owner.id)}"}
    r = client.get(
        f"/api/v1/projects/{project.id}/export", params={"format": "dpo", "chat": "conversational"}, headers=headers
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    rows = [orjson.loads(x) for x in r.content.splitlines()]
    assert (
        rows[0]["prompt"] == [{"role": "user", "content": "Question 0?"}] and rows[0]["chosen"][0]["content"] == "bad 0"
    )
    pq = client.get(
        f"/api/v1/projects/{project.id}/export", params={"format": "parquet", "rows": "dpo"}, headers=headers
    )
    assert pq.status_code == 200 and pq.content[:4] == b"PAR1" and pq.content[-4:] == b"PAR1"
    bad = client.get(f"/api/v1/projects/{project.id}/export", params={"format": "coco"}, headers=headers)
    assert bad.status_code == 422 and "no coco export" in bad.json()["error"]["message"]
    assert (
        client.get(f"/api/v1/projects/{project.id}/export", params={"format": "yaml"}, headers=headers).status_code
        == 422
    )


@pytest.fixture
def cli(tmp_path, settings, monkeypatch, capsys):
    import io
    import sys

    from bastion.cli import main

    monkeypatch.setenv("BASTION_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("BASTION_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("BASTION_MASTER_KEY", settings.master_key)

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["bastion", *args])
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_cli_writes_one_file_per_part_and_templates_work(rt, cli, tmp_path):
    project, owner, _ = _project(rt, PREFERENCE, preference_items(20), [[{"preferred": 0, "strength": "clear"}]] * 20)
    code, _, err = cli(
        "export",
        project.id,
        "--format",
        "dpo",
        "--split",
        "validation=0.25",
        "--seed",
        "1",
        "--out",
        str(tmp_path / "pairs-{split}.jsonl"),
    )
    assert code == 0, err
    train = (tmp_path / "pairs-train.jsonl").read_bytes().splitlines()
    val = (tmp_path / "pairs-validation.jsonl").read_bytes().splitlines()
    assert len(train) + len(val) == 20 and val
    assert {orjson.loads(x)["split"] for x in val} == {"validation"}
    code, _, err = cli("export", project.id, "--format", "dpo", "--per", "task", "--out", str(tmp_path / "x.jsonl"))
    assert code == 1 and "aggregated" in err and not (tmp_path / "x.jsonl").exists()
    code, out, err = cli("project", "create", project.workspace_id, "--template", "rubric")
    assert code == 0, err
    created = projects.get_project(system(rt), out.strip())
    assert created.task_type == "rubric" and created.name == "Rubric"
    code, _, err = cli("project", "create", project.workspace_id, "--template", "poetry")
    assert code == 1 and "no template 'poetry'" in err


def test_growing_pages_export_every_task_once_in_order(rt, monkeypatch):
    """Pages grow from FIRST_PAGE to PAGE (an early first byte); across their boundaries every task
    comes out once, in id order, with its own annotations — and JSON Lines' first chunk is small."""
    monkeypatch.setattr(exports, "FIRST_PAGE", 3)
    monkeypatch.setattr(exports, "PAGE", 40)
    config = {"type": "classification", "field": "text", "labels": ["a", "b"]}
    items = [{"external_id": f"e{i}", "data": {"text": f"text {i}"}} for i in range(90)]
    results = [[{"label": "a"}] if i % 3 == 0 else [] for i in range(90)]
    project, owner, by_external = _project(rt, config, items, results)
    monkeypatch.setattr(rt.settings, "export_workers", 0)  # the whole export in this process
    export = exports.start_export(as_user(rt, owner.id), project.id, fmt="jsonl")
    chunks = list(export.chunks())
    assert chunks[0].count(b"\n") == 50  # the first chunk leaves early
    rows = [orjson.loads(line) for line in b"".join(chunks).splitlines()]
    assert [r["id"] for r in rows] == sorted(by_external.values())
    labelled = {r["external_id"] for r in rows if r["annotations"]}
    assert labelled == {f"e{i}" for i in range(0, 90, 3)}
    assert all(a["task_id"] == r["id"] for r in rows for a in r["annotations"])
    # Encoded a page at a time (an export that may use worker processes): the first page is the first chunk.
    monkeypatch.setattr(rt.settings, "export_workers", 2)
    paged = list(exports.start_export(as_user(rt, owner.id), project.id, fmt="jsonl").chunks())
    assert paged[0].count(b"\n") == 3 and b"".join(paged) == b"".join(chunks)
