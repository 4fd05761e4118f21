"""The sync client against a real ``bastion serve`` (SQLite and PostgreSQL): paging, every import
source, every export sink and format, and the API's errors raised as the client's exceptions."""

from __future__ import annotations

import csv
import inspect
import json
import subprocess
import sys
import uuid

import datasets
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import bastion.client as client_package
from async_support import run_async
from bastion.client import (
    AsyncClient,
    Client,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    models,
)
from image_samples import PNG

CLASSIFICATION = {"type": "classification", "field": "text", "labels": ["pos", "neg"]}


@pytest.fixture
def admin(served):
    with Client(served.url, served.admin_token) as client:
        yield client


@pytest.fixture
def workspace(admin):
    return admin.create_workspace(f"Client {uuid.uuid4().hex[:8]}")


def _project(admin, workspace, config=CLASSIFICATION, **settings):
    return admin.create_project(workspace.id, "Tasks", config, settings=settings or None)


def _tasks(n: int, prefix: str = "t"):
    return ({"data": {"text": f"text {i}"}, "external_id": f"{prefix}{i}"} for i in range(n))


def test_importing_the_client_loads_no_server_module():
    code = (
        "import sys, bastion.client\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'sqlalchemy', 'starlette')"
        " or m.split('.')[:2] in (['bastion', 'web'], ['bastion', 'services'], ['bastion', 'storage']))\n"
        "print(','.join(bad))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_every_answer_model_is_exported():
    mine = [
        name
        for name, obj in vars(models).items()
        if inspect.isclass(obj) and issubclass(obj, models.Model) and obj is not models.Model
    ]
    assert set(mine) <= set(client_package.__all__)


def test_iter_tasks_follows_the_cursor_through_every_page(admin, workspace):
    project = _project(admin, workspace)
    report = admin.import_tasks(project.id, _tasks(25))
    assert (report.imported, report.rejected_count) == (25, 0)
    first = admin.list_tasks(project.id, limit=10)
    assert len(first.items) == 10 and first.next_cursor
    tasks = list(admin.iter_tasks(project.id, page_size=10))
    assert sorted(t.external_id for t in tasks) == sorted(f"t{i}" for i in range(25))
    assert len({t.id for t in tasks}) == 25
    assert admin.get_task(tasks[0].id).data == tasks[0].data


def test_import_from_every_kind_of_source(admin, workspace, tmp_path):
    project = _project(admin, workspace)
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_bytes(b"".join(orjson.dumps(t) + b"\n" for t in _tasks(3, "jl")) + b"not json\n")
    array = tmp_path / "b.json"
    array.write_bytes(orjson.dumps(list(_tasks(2, "js"))))
    table = tmp_path / "c.csv"
    with table.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["external_id", "text", "priority"])
        writer.writerows([["csv0", "from csv", "3"], ["csv1", "more csv", ""]])
    parquet = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist([{"external_id": "pq0", "text": "from parquet"}]), parquet)
    frame = pd.DataFrame(
        {
            "text": ["df a", "df b", "df c"],
            "external_id": ["df0", "df1", "df2"],
            "priority": [1, None, 2],
            "score": [0.5, float("nan"), 1.5],
        }
    )
    dataset = datasets.Dataset.from_list(
        [{"text": "hf a", "external_id": "hf0"}, {"text": "hf b", "external_id": "hf1"}]
    )
    listed = [{"data": {"text": "a list"}, "external_id": "ls0", "meta": {"batch": 7}, "priority": 5}]

    reports = {
        name: admin.import_tasks(project.id, source)
        for name, source in [
            ("jsonl", jsonl),
            ("json", str(array)),
            ("csv", table),
            ("parquet", parquet),
            ("generator", _tasks(4, "gen")),
            ("list", listed),
            ("dataframe", frame),
            ("dataset", dataset),
        ]
    }

    assert {k: r.imported for k, r in reports.items()} == {
        "jsonl": 3,
        "json": 2,
        "csv": 2,
        "parquet": 1,
        "generator": 4,
        "list": 1,
        "dataframe": 3,
        "dataset": 2,
    }
    assert [(r.line, r.error.startswith("not valid JSON")) for r in reports["jsonl"].rejected] == [(4, True)]
    assert all(r.idempotency_key for r in reports.values())
    tasks = {t.external_id: t for t in admin.iter_tasks(project.id)}
    assert len(tasks) == 18
    assert tasks["csv0"].data == {"text": "from csv"} and tasks["csv0"].priority == 3
    assert tasks["ls0"].meta == {"batch": 7} and tasks["ls0"].priority == 5
    assert tasks["df0"].data == {"text": "df a", "score": 0.5} and tasks["df0"].priority == 1
    assert tasks["df1"].data == {"text": "df b", "score": None}
    assert tasks["df2"].data == {"text": "df c", "score": 1.5} and tasks["df2"].priority == 2
    assert tasks["hf1"].data == {"text": "hf b"}
    assert tasks["pq0"].data == {"text": "from parquet"}


def test_strict_import_writes_nothing_when_a_line_is_bad(admin, workspace):
    project = _project(admin, workspace)
    report = admin.import_tasks(project.id, [{"data": {"text": "ok"}}, {"nodata": 1}], strict=True)
    assert report.imported == 0 and report.rejected_count == 1 and report.rejected[0].line == 2
    assert admin.get_project(project.id).counts.tasks == 0


def _labelled(admin, workspace, config, tasks, results):
    """A project whose tasks (in order) got ``results`` (one each, None: unlabelled) from the admin, an owner."""
    project = _project(admin, workspace, config)
    admin.import_tasks(project.id, tasks)
    by_external = {t.external_id: t.id for t in admin.iter_tasks(project.id)}
    for task, result in zip(tasks, results):
        if result is not None:
            admin.submit_annotation(by_external[task["external_id"]], result, lead_time_ms=100)
    return project


def test_export_to_every_sink(admin, workspace, tmp_path):
    project = _labelled(
        admin,
        workspace,
        CLASSIFICATION,
        list(_tasks(5)),
        [{"label": "pos"}, {"label": "neg"}, None, {"label": "pos"}, None],
    )
    for fmt in ("jsonl", "json", "parquet"):
        info = admin.export_to_file(project.id, tmp_path / f"out.{fmt}", format=fmt)
        assert info.export_id.startswith("exp_") and info.size_bytes == (tmp_path / f"out.{fmt}").stat().st_size
        assert admin.export_manifest(info.export_id)["file"]["sha256"]
        assert not (tmp_path / f"out.{fmt}.partial").exists()
        rows = list(admin.iter_export(project.id, format=fmt))
        assert sorted(r["external_id"] for r in rows) == [f"t{i}" for i in range(5)]
        labelled = {r["external_id"]: [a["result"] for a in r["annotations"]] for r in rows}
        if fmt == "parquet":  # parquet keeps nested values as JSON text in the lossless rows
            labelled = {k: [json.loads(x) if isinstance(x, str) else x for x in v] for k, v in labelled.items()}
        assert labelled["t0"] == [{"label": "pos"}] and labelled["t2"] == []
        frame = admin.export_dataframe(project.id, format=fmt, annotated_only=True)
        assert isinstance(frame, pd.DataFrame) and sorted(frame["external_id"]) == ["t0", "t1", "t3"]
        dataset = admin.export_dataset(project.id, format=fmt, annotated_only=True)
        assert isinstance(dataset, datasets.Dataset) and sorted(dataset["external_id"]) == ["t0", "t1", "t3"]
    with open(tmp_path / "out.jsonl", "rb") as fh:
        assert [orjson.loads(line)["external_id"] for line in fh] == [f"t{i}" for i in range(5)]


def test_iter_export_reads_every_training_format(admin, workspace, tmp_path):
    writing = _labelled(
        admin, workspace, {"type": "writing"}, [{"data": {"prompt": "Say hi"}, "external_id": "w0"}], [{"text": "Hi!"}]
    )
    assert list(admin.iter_export(writing.id, format="sft")) == [
        {"messages": [{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "Hi!"}]}
    ]

    preference = _labelled(
        admin,
        workspace,
        {"type": "preference", "criteria": []},
        [{"data": {"prompt": "Q?", "responses": ["good", "bad"]}, "external_id": "p0"}],
        [{"preferred": 0, "strength": "strong"}],
    )
    dpo = list(admin.iter_export(preference.id, format="dpo"))
    assert len(dpo) == 1 and dpo[0]["chosen"] and dpo[0]["rejected"]

    text = "Ingrid Solberg visited Bergen."
    spans = _labelled(
        admin,
        workspace,
        {"type": "spans", "field": "text", "labels": ["PERSON", "LOCATION"]},
        [{"data": {"text": text}, "external_id": "s0"}],
        [{"spans": [{"start": 0, "end": 14, "label": "PERSON"}, {"start": 23, "end": 29, "label": "LOCATION"}]}],
    )
    assert list(admin.iter_export(spans.id, format="conll")) == [
        {"tokens": ["Ingrid", "Solberg", "visited", "Bergen."], "tags": ["B-PERSON", "I-PERSON", "O", "B-LOCATION"]}
    ]
    spacy = list(admin.iter_export(spans.id, format="spacy"))
    assert spacy[0]["text"] == text
    assert admin.export_dataframe(spans.id, format="conll")["tags"][0][0] == "B-PERSON"

    image = admin.create_project(workspace.id, "Images", {"type": "image", "field": "image", "box_labels": ["tree"]})
    picture = tmp_path / "tree.png"
    picture.write_bytes(PNG)
    stored = admin.upload_file(image.id, picture)
    admin.import_tasks(image.id, [{"data": {"image": stored.id}, "external_id": "i0"}])
    task = next(admin.iter_tasks(image.id))
    admin.submit_annotation(task.id, {"boxes": [{"x": 1, "y": 2, "w": 3, "h": 4, "label": "tree"}]})
    coco = list(admin.iter_export(image.id, format="coco"))
    assert len(coco) == 1 and coco[0]["annotations"][0]["bbox"] == [1, 2, 3, 4]
    assert coco[0]["annotations"][0]["category"] == "tree"


def test_errors_carry_the_status_and_the_api_code(served, admin, workspace):
    project = _project(admin, workspace)
    with pytest.raises(NotFound) as caught:
        admin.get_project("prj_missing")
    assert (caught.value.status, caught.value.code) == (404, "not_found")
    with pytest.raises(InvalidInput) as caught:
        admin.create_project(workspace.id, "Bad", {"type": "no-such-type"})
    assert caught.value.status == 422 and caught.value.message
    with pytest.raises(InvalidInput) as caught:
        list(admin.iter_export(project.id, format="no-such-format"))
    assert "format" in caught.value.message
    with pytest.raises(TypeError, match="unknown export option"):
        list(admin.iter_export(project.id, annotated=True))
    admin.import_tasks(project.id, _tasks(1))
    task = next(admin.iter_tasks(project.id))
    admin.submit_annotation(task.id, {"label": "pos"})
    with pytest.raises(Conflict) as caught:
        admin.submit_annotation(task.id, {"label": "neg"})
    assert caught.value.status == 409
    with Client(served.url, "bst_not-a-token") as stranger, pytest.raises(Unauthenticated) as caught:
        stranger.list_workspaces()
    assert caught.value.status == 401
    admin.add_member(workspace.id, served.annotator_email, "annotator")
    with Client(served.url, served.annotator_token) as annotator:
        with pytest.raises(PermissionDenied) as caught:
            annotator.list_tasks(project.id)
        assert caught.value.status == 403
        with pytest.raises(NotFound):
            annotator.get_project("prj_missing")


def test_the_async_client_does_the_same(served, tmp_path):
    async def run():
        async with AsyncClient(served.url, served.admin_token) as client:
            workspace = await client.create_workspace(f"Async {uuid.uuid4().hex[:8]}")
            project = await client.create_project(workspace.id, "Async", CLASSIFICATION)
            frame = pd.DataFrame(
                {"text": [f"text {i}" for i in range(12)], "external_id": [f"a{i}" for i in range(12)]}
            )
            report = await client.import_tasks(project.id, frame, chunk_tasks=5)
            tasks = [t async for t in client.iter_tasks(project.id, page_size=5)]
            leased = await client.next_task(project.id)
            done = await client.submit_and_next(leased.id, {"label": "pos"}, lead_time_ms=5)
            rows = [r async for r in client.iter_export(project.id, format="jsonl", annotated_only=True)]
            info = await client.export_to_file(project.id, tmp_path / "async.parquet", format="parquet")
            frame_out = await client.export_dataframe(project.id, format="parquet")
            with pytest.raises(NotFound):
                await client.get_task("tsk_missing")
            return report, tasks, done, rows, info, frame_out

    report, tasks, done, rows, info, frame_out = run_async(run)
    assert report.imported == 12 and sorted(t.external_id for t in tasks) == sorted(f"a{i}" for i in range(12))
    assert done.annotation.result == {"label": "pos"} and done.next is not None
    assert [r["id"] for r in rows] == [done.annotation.task_id]
    assert info.size_bytes > 0 and info.media_type == "application/vnd.apache.parquet"
    assert len(frame_out) == 12


LABEL_STUDIO_CONFIG = (
    '<View><Header value="Is it kind?"/><Text name="text" value="$text"/>'
    '<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices>'
    '<Number name="n" toName="text"/></View>'
)


def test_a_project_from_a_label_studio_config(admin, workspace, served):
    made = admin.create_project_from_label_studio(workspace.id, "From LS", LABEL_STUDIO_CONFIG, settings={"overlap": 2})
    assert made.project.task_type == "classification" and made.project.settings["overlap"] == 2
    assert made.project.config["instructions"] == "Is it kind?"
    assert made.unconverted == ["<Number name='n'>: a classification project has no place for it"]
    assert admin.get_project(made.project.id).name == "From LS"
    with pytest.raises(InvalidInput):
        admin.create_project_from_label_studio(workspace.id, "Bad", "<View><Text/>")

    async def run():
        async with AsyncClient(served.url, served.admin_token) as client:
            return await client.create_project_from_label_studio(workspace.id, "Async LS", LABEL_STUDIO_CONFIG)

    assert run_async(run).project.name == "Async LS"
