"""The label-studio export format: what Label Studio imports, read back by our parser and by its SDK."""

from __future__ import annotations

import io
from pathlib import Path

import orjson

from bastion.exporting import installed as formats
from bastion.interop.labelstudio import convert_config, read_label_studio_export
from bastion.services import annotations, exports, imports, projects, tasks, workspaces
from bastion.services.exports import ExportRequest
from bastion.tasktypes import installed
from factories import as_user, make_user, system

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "labelstudio"


def _spans_project(rt):
    owner = make_user(rt, "owner@example.com")
    second = make_user(rt, "second@example.com")
    ws = workspaces.create_workspace(system(rt), "LS", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, second.id, "manager")
    config = convert_config((FIXTURES / "labels_text" / "config.xml").read_text())[0]
    project = projects.create_project(system(rt), ws.id, name="P", config=config, settings={"overlap": 2})
    text = "Ada Lovelace worked for Babbage in London."
    prediction = {"spans": [{"start": 0, "end": 12, "label": "PERSON"}]}
    imports.import_tasks(
        system(rt), project.id, [(1, {"external_id": "t1", "data": {"text": text}, "predictions": [prediction]})]
    )
    task_id = tasks.list_tasks(system(rt), project.id)["items"][0]["id"]
    results = [
        {
            "spans": [{"start": 0, "end": 12, "label": "PERSON"}, {"start": 24, "end": 31, "label": "PERSON"}],
            "relations": [{"from": 0, "to": 1, "label": "works_for"}],
        },
        {"spans": [{"start": 35, "end": 41, "label": "LOCATION"}], "relations": []},
    ]
    for person, result in zip((owner.id, second.id), results):
        annotations.submit_annotation(as_user(rt, person), task_id, result)
    return project, config


def test_the_format_is_offered_to_mapped_types_only():
    fmt = formats().find("label-studio")
    assert fmt is not None
    offered = {tt.name for tt in installed() if fmt.kinds_for(tt)}
    assert offered == {tt.name for tt in installed() if tt.label_studio_tags}
    assert offered >= {"classification", "spans", "preference", "ranking", "writing", "rubric", "image"}


def test_label_studio_export_reads_back(rt):
    project, config = _spans_project(rt)
    export = exports.start_export(system(rt), project.id, request=ExportRequest(fmt="label-studio"))
    body = b"".join(export.chunks())
    rows = orjson.loads(body)
    assert len(rows) == 1
    row = rows[0]
    assert row["data"] == {"text": "Ada Lovelace worked for Babbage in London."}
    assert row["meta"]["external_id"] == "t1"
    assert [len(a["result"]) for a in row["annotations"]] == [3, 1]
    assert all(a["created_at"].endswith("Z") for a in row["annotations"])
    assert row["annotations"][0]["result"][2] == {
        "from_id": "s0",
        "to_id": "s1",
        "type": "relation",
        "direction": "right",
        "labels": ["works_for"],
    }
    assert row["predictions"][0]["result"][0]["value"]["labels"] == ["PERSON"]
    # Our own reader takes it back (Label Studio's annotators are ids it gives on import: here none).
    for ann in row["annotations"]:
        ann["completed_by"] = 1
    (got,) = read_label_studio_export(io.BytesIO(orjson.dumps(rows)), config)
    assert got.errors == []
    assert got.line["annotations"][0]["result"]["relations"] == [{"from": 0, "to": 1, "label": "works_for"}]


CONLL = """
import sys
from label_studio_sdk.converter import Converter
config, source, out = sys.argv[1:4]
Converter(config=open(config).read(), project_dir=out).convert_to_conll2003(source, out, is_dir=False)
"""


def test_label_studio_sdk_converter_reads_the_export(rt, tmp_path, ls_sdk):
    project, _ = _spans_project(rt)
    export = exports.start_export(system(rt), project.id, request=ExportRequest(fmt="label-studio"))
    source = tmp_path / "export.json"
    source.write_bytes(b"".join(export.chunks()))
    ls_sdk(CONLL, str(FIXTURES / "labels_text" / "config.xml"), str(source), str(tmp_path / "conll"))
    out = next((tmp_path / "conll").iterdir()).read_text()
    assert "Ada -X- _ B-PERSON" in out and "Babbage -X- _ B-PERSON" in out
