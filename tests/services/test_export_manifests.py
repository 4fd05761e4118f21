"""Signed export manifests: made after the last byte, verified offline, tied to the audit log."""

from __future__ import annotations

import hashlib

import orjson
import pytest
import rfc8785
from starlette.requests import ClientDisconnect

from async_support import run_async
from bastion.audit import generate_signing_key, verifier_key_string, verify_log
from bastion.audit.manifests import verify_export
from bastion.domain.errors import Conflict, NotFound, PermissionDenied
from bastion.services import annotations, audit, exports, imports, projects, queue
from bastion.services.exports import ExportRequest
from factories import make_side, system

CONFIG = {
    "type": "classification",
    "field": "text",
    "labels": ["pos", "neg"],
    "redaction": {"dictionaries": {"codename": ["Nightjar", "Kestrel Prime"]}, "allow_words": ["heroic"]},
}
DPO = {"type": "preference", "criteria": []}


def _labelled(rt, tag: str, config=CONFIG, items=None, results=None):
    """A project with overlap 2: the annotator and the reviewer each label every task."""
    side = make_side(rt, tag, n_tasks=0)
    project = projects.create_project(
        system(rt), side.workspace_id, name=f"Manifest {tag}", config=config, settings={"overlap": 2}
    )
    items = items or [{"data": {"text": f"text {i} about Nightjar"}, "external_id": f"e{i}"} for i in range(6)]
    imports.import_tasks(system(rt), project.id, list(enumerate(items, start=1)))
    for role in ("annotator", "reviewer"):
        ctx = side.ctx(rt, role)
        for i in range(len(items)):
            task = queue.next_task(ctx, project.id)
            if task is None:
                break
            result = results(role, i) if results else {"label": "pos" if (i + (role == "reviewer")) % 3 else "neg"}
            annotations.submit_annotation(ctx, task["id"], result)
    return side, project


def _export(ctx, project_id, **options):
    export = exports.start_export(ctx, project_id, request=ExportRequest(**options))
    data = b"".join(export.stream())
    return export, data


def _entries(rt, side):
    return audit.list_entries(side.ctx(rt, "owner"), side.workspace_id, limit=5000)["items"]


def test_the_manifest_is_a_signed_datasheet_of_the_file(rt):
    side, project = _labelled(rt, "mf")
    owner = side.ctx(rt, "owner")
    export, data = _export(owner, project.id)
    manifest = export.manifest
    assert manifest == exports.get_manifest(owner, export.id)
    assert manifest["type"] == "bastion.export-manifest" and manifest["export_id"] == export.id
    assert manifest["workspace_id"] == side.workspace_id
    assert manifest["project"]["id"] == project.id and manifest["project"]["task_type"] == "classification"
    shared = {k: v for k, v in project.config.items() if k not in ("redaction", "leak_tracing")}
    assert manifest["project"]["config_sha256"] == hashlib.sha256(rfc8785.dumps(shared)).hexdigest()
    assert manifest["project"]["config_version"] == 1 and manifest["project"]["guidelines"] is None
    assert manifest["format"] | {"options": None} == {
        "name": "jsonl",
        "media_type": "application/x-ndjson",
        "filename": f"{project.id}.jsonl",
        "rows": "lossless",
        "per": "task",
        "options": None,
    }
    people = sorted([side.users["annotator"], side.users["reviewer"]])
    assert manifest["counts"] == {"rows": 6, "tasks": 6, "annotations": 12, "per_annotator": {p: 6 for p in people}}
    assert manifest["annotators"] == people
    assert manifest["quality"]["kind"] == "categorical" and manifest["quality"]["n_ratings"] == 12
    # The whole project was exported: the same figures as the quality report's.
    from bastion.services import quality

    assert manifest["quality"] == orjson.loads(
        orjson.dumps(quality.quality_report(owner, project.id)["agreement"], option=orjson.OPT_SERIALIZE_NUMPY)
    )
    assert manifest["file"] == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert manifest["created_by"] == side.users["owner"]
    assert manifest["created_at"] <= manifest["completed_at"]
    assert manifest["signature"]["algorithm"] == "Ed25519"
    assert manifest["signature"]["key"] == "+".join(audit.public_key(rt).split("+")[:2])

    report = verify_export(manifest, [data[:100], data[100:]], audit.public_key(rt))
    assert report.ok, report.problems
    assert {"byte length", "SHA-256", "rows", "tasks", "annotations", "annotations per annotator"} <= set(
        report.checked
    )


def test_a_huge_project_ends_its_export_without_agreement_figures(rt, monkeypatch):
    monkeypatch.setattr(exports, "QUALITY_MAX_ANNOTATIONS", 11)
    side, project = _labelled(rt, "big")
    export, data = _export(side.ctx(rt, "owner"), project.id)
    assert export.manifest["quality"]["kind"] == "not_computed"
    assert "12 annotations" in export.manifest["quality"]["note"]
    assert verify_export(export.manifest, [data], audit.public_key(rt)).ok


def test_the_redaction_policy_is_described_never_listed(rt):
    side, project = _labelled(rt, "rp")
    export, _ = _export(side.ctx(rt, "manager"), project.id)  # managers may not read the policy itself
    redaction = export.manifest["redaction"]
    assert redaction["settings"]["dictionaries"] == {"codename": 2}
    assert redaction["settings"]["allow_words"] == 1 and redaction["reidentified"] is False
    text = orjson.dumps(export.manifest)
    for term in (b"Nightjar", b"Kestrel", b"heroic"):
        assert term not in text
    # The digest is keyed: hashing candidate policies cannot confirm a guessed codename.
    from bastion.redaction import load_policy

    policy = load_policy(CONFIG["redaction"]).model_dump(mode="json")
    assert redaction["policy_digest"].startswith("hmac-sha256:")
    assert redaction["policy_digest"][12:] != hashlib.sha256(rfc8785.dumps(policy)).hexdigest()
    again, _ = _export(
        side.ctx(rt, "owner"),
        project.id,
        reidentify=True,
        approval=side.approval(rt, "redaction.reidentify", {"project": project.id}),
    )
    assert again.manifest["redaction"]["policy_digest"] == redaction["policy_digest"]
    assert again.manifest["redaction"]["reidentified"] is True
    other = projects.create_project(system(rt), side.workspace_id, name="Same policy", config=CONFIG)
    third, _ = _export(side.ctx(rt, "owner"), other.id)
    assert third.manifest["redaction"]["policy_digest"] != redaction["policy_digest"]


def test_a_changed_file_a_changed_manifest_or_another_key_fail(rt):
    side, project = _labelled(rt, "tm")
    export, data = _export(side.ctx(rt, "owner"), project.id)
    key = audit.public_key(rt)
    manifest = export.manifest

    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x01
    report = verify_export(manifest, [bytes(flipped)], key)
    assert not report.ok and any(p.startswith("SHA-256") for p in report.problems), report.problems

    lines = data.splitlines(keepends=True)
    report = verify_export(manifest, [b"".join(lines[:-1])], key)  # a task left out
    assert {p.split(":")[0] for p in report.problems} >= {"byte length", "SHA-256", "rows", "tasks", "annotations"}

    for edit in (
        {"counts": manifest["counts"] | {"rows": 5}},
        {"created_by": side.users["annotator"]},
        {"file": {"bytes": len(data) - 1, "sha256": manifest["file"]["sha256"]}},
        {"extra": 1},
    ):
        report = verify_export(manifest | edit, [data], key)
        assert not report.ok and report.checked == [], edit
        assert "signature does not verify" in report.problems[0]
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    assert 'no "signature"' in verify_export(unsigned, [data], key).problems[0]

    other = verifier_key_string(key.split("+")[0], generate_signing_key())
    report = verify_export(manifest, [data], other)
    assert not report.ok and "not by the trusted key" in report.problems[0]
    # The same name and key id with another key: the signature decides.
    forged = manifest | {"signature": manifest["signature"] | {"key": "+".join(other.split("+")[:2])}}
    report = verify_export(forged, [data], other)
    assert not report.ok and "signature does not verify" in report.problems[0]


def test_the_checkpoint_in_the_manifest_verifies_against_the_log_and_covers_the_export(rt):
    side, project = _labelled(rt, "cp")
    owner = side.ctx(rt, "owner")
    export, _ = _export(owner, project.id)
    checkpoint = export.manifest["audit_checkpoint"]
    lines = b"".join(audit.iter_export(owner, side.workspace_id)).splitlines()
    report = verify_log(lines, checkpoint, audit.public_key(rt))
    assert report.ok, report.problems
    entries = _entries(rt, side)
    started = next(e for e in entries if e["action"] == "project.exported")
    assert started["details"]["export"] == export.id and started["seq"] < checkpoint["size"]
    created = next(e for e in entries if e["action"] == "export.manifest_created")
    assert created["target"] == export.id and created["seq"] >= checkpoint["size"]
    assert created["details"] == {
        "project": project.id,
        "bytes": export.manifest["file"]["bytes"],
        "sha256": export.manifest["file"]["sha256"],
        "rows": 6,
        "annotations": 12,
    }
    # A manifest naming another workspace's checkpoint (even one the deployment signed) is refused.
    from bastion.audit.manifests import sign_manifest

    other = make_side(rt, "cpo", n_tasks=1)
    foreign = audit.latest_checkpoint(other.ctx(rt, "owner"), other.workspace_id)
    body = {k: v for k, v in export.manifest.items() if k != "signature"} | {"audit_checkpoint": foreign}
    resigned = sign_manifest(body, *audit.signer(rt))
    data = b"".join(exports.start_export(owner, project.id).chunks())
    report = verify_export(resigned, [data], audit.public_key(rt))
    assert not report.ok and f"not the manifest's workspace {side.workspace_id}" in report.problems[0]


@pytest.mark.parametrize(
    "options,checked",
    [
        ({"per": "annotation"}, {"rows", "tasks", "annotations", "annotations per annotator"}),
        ({"fmt": "json"}, set()),
        ({"fmt": "parquet"}, set()),
        ({"fmt": "jsonl", "accepted_only": True}, {"rows", "tasks", "annotations"}),
    ],
)
def test_other_shapes_verify_and_a_flipped_byte_fails(rt, options, checked):
    side, project = _labelled(rt, "sh")
    export, data = _export(side.ctx(rt, "owner"), project.id, **options)
    key = audit.public_key(rt)
    report = verify_export(export.manifest, [data], key)
    assert report.ok and checked <= set(report.checked), report.problems
    if options.get("per") == "annotation":
        assert export.manifest["counts"]["rows"] == 12 and export.manifest["counts"]["tasks"] == 6
    if options.get("accepted_only"):
        assert export.manifest["counts"] == {"rows": 6, "tasks": 6, "annotations": 0, "per_annotator": {}}
    flipped = bytearray(data)
    flipped[-3] ^= 0x20
    assert not verify_export(export.manifest, [bytes(flipped)], key).ok


def test_training_rows_count_what_they_were_made_of(rt):
    items = [
        {"external_id": f"p{i}", "data": {"prompt": f"Q{i}?", "responses": [f"good {i}", f"bad {i}"]}} for i in range(4)
    ]

    def results(role, i):
        return {"preferred": "tie"} if role == "reviewer" else {"preferred": 0, "strength": "clear"}

    side, project = _labelled(rt, "dp", config=DPO, items=items, results=results)
    export, data = _export(side.ctx(rt, "owner"), project.id, fmt="dpo")  # ties make no DPO row
    counts = export.manifest["counts"]
    assert counts == {"rows": 4, "tasks": 4, "annotations": 4, "per_annotator": {side.users["annotator"]: 4}}
    assert export.manifest["annotators"] == [side.users["annotator"]]
    report = verify_export(export.manifest, [data], audit.public_key(rt))
    assert report.ok and "rows" in report.checked
    assert "rows" in " ".join(
        verify_export(export.manifest, [data + data.splitlines(keepends=True)[0]], audit.public_key(rt)).problems
    )


def test_a_stream_that_stops_early_gets_no_manifest(rt):
    side, project = _labelled(rt, "ab")
    owner = side.ctx(rt, "owner")
    export = exports.start_export(owner, project.id, request=ExportRequest(fmt="jsonl"))
    with pytest.raises(Conflict, match="still streaming"):
        exports.get_manifest(owner, export.id)
    stream = export.stream()
    first = next(stream)
    stream.close()  # what the server does when the client goes away
    with pytest.raises(Conflict, match=f"stopped after {len(first)} bytes"):
        exports.get_manifest(owner, export.id)
    assert export.manifest is None
    entry = [e for e in _entries(rt, side) if e["action"] == "export.incomplete"]
    assert [(e["target"], e["details"]["bytes_sent"]) for e in entry] == [(export.id, len(first))]
    assert not any(e["action"] == "export.manifest_created" for e in _entries(rt, side))


def test_who_may_read_a_manifest(rt):
    side, project = _labelled(rt, "who")
    export, _ = _export(side.ctx(rt, "owner"), project.id)
    assert exports.get_manifest(side.ctx(rt, "manager"), export.id)["export_id"] == export.id
    for role in ("reviewer", "annotator", "auditor"):
        with pytest.raises(PermissionDenied):
            exports.get_manifest(side.ctx(rt, role), export.id)
    other = make_side(rt, "who2", n_tasks=1)
    for role in ("owner", "manager", "auditor"):
        with pytest.raises(NotFound):
            exports.get_manifest(other.ctx(rt, role), export.id)
    with pytest.raises(NotFound):
        exports.get_manifest(side.ctx(rt, "owner"), "exp_" + "0" * 32)
    # Deleting the project shreds its exports' manifests with it.
    projects.delete_project(system(rt), project.id)
    with pytest.raises(NotFound):
        exports.get_manifest(side.ctx(rt, "owner"), export.id)


# -- over HTTP -------------------------------------------------------------------------


def test_http_names_the_export_and_serves_its_manifest_after_the_last_byte(rt, client):
    side, project = _labelled(rt, "http")
    r = client.get(f"/api/v1/projects/{project.id}/export", params={"format": "jsonl"}, headers=side.headers("owner"))
    assert r.status_code == 200
    export_id = r.headers["x-bastion-export-id"]
    assert r.headers["link"] == f'</api/v1/exports/{export_id}/manifest>; rel="describedby"'
    m = client.get(f"/api/v1/exports/{export_id}/manifest", headers=side.headers("manager"))
    assert m.status_code == 200 and m.json()["export_id"] == export_id
    key = client.get("/api/v1/audit/public-key").json()["verifier_key"]
    report = verify_export(m.json(), [r.content], key)
    assert report.ok, report.problems
    expected = {"owner": 200, "manager": 200, "reviewer": 403, "annotator": 403, "auditor": 403}
    for role, status in expected.items():
        got = client.get(f"/api/v1/exports/{export_id}/manifest", headers=side.headers(role))
        assert got.status_code == status, (role, got.text)
    other = make_side(rt, "http2", n_tasks=1)
    got = client.get(f"/api/v1/exports/{export_id}/manifest", headers=other.headers("owner"))
    assert got.status_code == 404 and side.workspace_id not in got.text
    started = exports.start_export(side.ctx(rt, "owner"), project.id)
    got = client.get(f"/api/v1/exports/{started.id}/manifest", headers=side.headers("owner"))
    assert got.status_code == 409 and got.json()["error"]["code"] == "conflict"


def test_a_client_that_leaves_mid_stream_gets_no_manifest(rt, monkeypatch):
    """The ASGI server raises OSError from send() when the client has gone (ASGI spec 2.4)."""

    from bastion.web.app import create_app

    monkeypatch.setattr(exports, "FIRST_PAGE", 1)
    side, project = _labelled(rt, "gone")
    app = create_app(rt)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/api/v1/projects/{project.id}/export",
        "raw_path": f"/api/v1/projects/{project.id}/export".encode(),
        "root_path": "",
        "query_string": b"format=jsonl",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {side.tokens['owner']}".encode())],
    }
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            raise OSError("the client closed the connection")

    async def main():
        # Starlette turns the server's OSError into ClientDisconnect (older releases let the OSError through).
        with pytest.raises((OSError, ClientDisconnect)):
            await app(scope, receive, send)

    run_async(main)
    start = next(m for m in sent if m["type"] == "http.response.start")
    export_id = dict(start["headers"])[b"x-bastion-export-id"].decode()
    with pytest.raises(Conflict, match="did not finish"):
        exports.get_manifest(side.ctx(rt, "owner"), export_id)
    assert any(e["action"] == "export.incomplete" and e["target"] == export_id for e in _entries(rt, side))


# -- the command line ------------------------------------------------------------------


def test_cli_writes_the_manifest_beside_the_file_and_verifies_offline(rt, tmp_path, monkeypatch, capsys, settings):
    import io
    import sys

    from bastion.cli import main

    monkeypatch.setenv("BASTION_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("BASTION_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("BASTION_MASTER_KEY", settings.master_key)
    monkeypatch.setenv("COLUMNS", "250")

    def cli(*args):
        monkeypatch.setattr(sys, "argv", ["bastion", *args])
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        out = capsys.readouterr()
        return code, out.out, out.err

    side, project = _labelled(rt, "cli")
    data_file, manifest_file, key_file = tmp_path / "data.jsonl", tmp_path / "data.jsonl.manifest.json", tmp_path / "k"
    code, _, err = cli("export", project.id, "--out", str(data_file))
    assert code == 0, err
    manifest = orjson.loads(manifest_file.read_bytes())
    assert f"wrote {manifest_file} (export {manifest['export_id']})" in err
    key_file.write_text(audit.public_key(rt) + "\n")
    code, out, err = cli(
        "export", "verify", str(data_file), "--manifest", str(manifest_file), "--public-key", str(key_file)
    )
    assert code == 0, err
    assert "ok SHA-256" in out and "ok annotations per annotator" in out and "verified:" in out

    data = data_file.read_bytes()
    data_file.write_bytes(data.replace(b'"label":"neg"', b'"label":"pos"', 1))
    code, out, err = cli(
        "export", "verify", str(data_file), "--manifest", str(manifest_file), "--public-key", str(key_file)
    )
    assert code == 1 and "SHA-256: the manifest says" in err and "does not match its manifest" in err
    data_file.write_bytes(data)

    manifest_file.write_bytes(orjson.dumps(manifest | {"counts": manifest["counts"] | {"tasks": 7}}))
    code, _, err = cli(
        "export", "verify", str(data_file), "--manifest", str(manifest_file), "--public-key", str(key_file)
    )
    assert code == 1 and "signature does not verify" in err

    key_file.write_text(verifier_key_string(audit.public_key(rt).split("+")[0], generate_signing_key()))
    manifest_file.write_bytes(orjson.dumps(manifest))
    code, _, err = cli(
        "export", "verify", str(data_file), "--manifest", str(manifest_file), "--public-key", str(key_file)
    )
    assert code == 1 and "not by the trusted key" in err

    # Stdout exports keep their manifest on the server; --manifest writes it too.
    code, out, err = cli("export", project.id)
    assert code == 0 and "its signed manifest is stored (bastion export manifest exp_" in err
    export_id = err.split("bastion export manifest ")[1].split(")")[0]
    code, printed, _ = cli("export", "manifest", export_id)
    assert code == 0 and orjson.loads(printed)["file"]["sha256"] == hashlib.sha256(out.encode()).hexdigest()
    code, out, err = cli("export", project.id, "--manifest", str(tmp_path / "stdout.manifest.json"))
    assert code == 0 and orjson.loads((tmp_path / "stdout.manifest.json").read_bytes())["counts"]["rows"] == 6
    code, _, err = cli(
        "export",
        "verify",
        str(tmp_path / "missing.jsonl"),
        "--manifest",
        str(manifest_file),
        "--public-key",
        str(key_file),
    )
    assert code == 1 and "cannot read" in err
    code, _, err = cli("export", "manifest", "exp_" + "0" * 32)
    assert code == 1 and "export not found" in err
