"""A plaintext canary put into tasks, predictions and annotations appears in no file, dump or log.

And after a workspace is deleted, a copy of the data taken before the deletion,
restored with every key the deployment still holds, opens none of its records.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url

from bastion.services import backups, workspaces
from bastion.services.runtime import Runtime
from bastion.storage import schema
from bastion.storage.crypto import Sealer
from bastion.storage.keyring import KeyDestroyed
from environment import owner_url
from factories import make_project, make_side, operator_tx, system

CANARY = "CANARY-5e1f0c-PLAINTEXT"


def _seed(rt, client):
    side = make_side(rt, "can", n_tasks=0)
    project = make_project(
        rt,
        side.workspace_id,
        name="canary",
        config={"type": "classification", "labels": [CANARY, "other"], "instructions": CANARY},
    )
    body = (
        f'{{"data": {{"text": "{CANARY} in data"}}, "external_id": "{CANARY}-ext", "meta": {{"m": "{CANARY}"}},'
        f' "predictions": [{{"label": "{CANARY}"}}]}}\n'
    ).encode()
    r = client.post(
        f"/api/v1/projects/{project.id}/tasks",
        content=body,
        headers={**side.headers("manager"), "Content-Type": "application/x-ndjson"},
    )
    assert r.json()["imported"] == 1
    task = client.post(f"/api/v1/projects/{project.id}/next", headers=side.headers("annotator")).json()
    assert task["data"]["text"].startswith(CANARY)
    r = client.post(
        f"/api/v1/tasks/{task['id']}/annotations", headers=side.headers("annotator"), json={"result": {"label": CANARY}}
    )
    assert r.status_code == 201
    r = client.post(
        f"/api/v1/tasks/{task['id']}/annotations",
        headers=side.headers("manager"),
        json={"result": {"label": f"{CANARY}-not-a-label"}},
    )
    assert r.status_code == 422  # a rejected result: the error names it to the caller, never to the log
    return side, project


def _png_with_canary() -> bytes:
    """A valid 2x2 PNG carrying the canary in a text chunk."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + b"\xff\x00\x00" * 2 + b"\x00" + b"\x00\xff\x00" * 2)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"tEXt", b"Comment\x00" + CANARY.encode())
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


@contextmanager
def _backup_runtime(rt):
    """The runtime ``bastion backup`` runs with. On PostgreSQL that is the owner (a superuser here):
    pg_dump refuses a role that row-level security applies to, such as the app role the tests
    connect as (docs/security.md)."""
    if rt.db.is_sqlite:
        yield rt
        return
    owner = Runtime.open(
        rt.settings.model_copy(update={"database_url": owner_url(rt.settings.database_url)}), migrate_schema="never"
    )
    try:
        yield owner
    finally:
        owner.close()


def _files_in(path: Path):
    return [p for p in path.rglob("*") if p.is_file()]


def test_canary_is_nowhere_at_rest(client, rt, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    side, project = _seed(rt, client)
    upload = client.post(
        f"/api/v1/projects/{project.id}/files",
        headers=side.headers("manager"),
        files={"file": ("canary.png", _png_with_canary(), "image/png")},
    )
    assert upload.status_code == 201, upload.text
    data_dir = rt.settings.data_dir
    copy = tmp_path / "raw-copy"
    shutil.copytree(data_dir, copy)  # a raw copy, WAL included
    backup = tmp_path / "backup.tar"
    with _backup_runtime(rt) as owner:
        backups.backup(owner, backup)
    places = _files_in(copy) + [backup]
    assert any(p.parent.name == side.workspace_id for p in places)  # the sealed file is in the copy
    if rt.db.is_sqlite:
        assert {"bastion.db", "keyring.db"} <= {p.name for p in places}
    else:
        dump = tmp_path / "dump.sql"
        url = make_url(owner_url(rt.db.url)).set(drivername="postgresql").render_as_string(hide_password=False)
        subprocess.run(["pg_dump", "--dbname", url, "--file", str(dump)], check=True)
        places.append(dump)
    needle = CANARY.encode()
    for place in places:
        assert needle not in place.read_bytes(), f"canary found in {place}"
    assert CANARY not in caplog.text
    # ... while the owner still reads it back.
    assert client.get(f"/api/v1/projects/{project.id}/export", headers=side.headers("owner")).text.count(CANARY) >= 4


def test_deleted_workspace_stays_unreadable_from_an_old_backup(client, rt, tmp_path):
    side, project = _seed(rt, client)
    keep = make_side(rt, "keep", n_tasks=1)
    backup = tmp_path / "before-deletion.tar"
    with _backup_runtime(rt) as owner:
        backups.backup(owner, backup)
    workspaces.delete_workspace(
        side.ctx(rt, "owner"), side.workspace_id, approval=side.approval(rt, "workspace.delete")
    )

    # Restored elsewhere (a copy of the data), with the keyring the deployment holds now.
    restored_settings = rt.settings.model_copy(
        update={"data_dir": tmp_path / "restored", "keyring_url": rt.settings.resolved_keyring_url}
    )
    if rt.db.is_sqlite:
        restored_settings = restored_settings.model_copy(update={"database_url": None})
    else:
        from benchmarks.servers import APP_ROLE, as_role

        from environment import pg_admin, pg_url

        copy_name = f"restored_{uuid.uuid4().hex[:10]}"
        pg_admin(f"CREATE DATABASE {copy_name}")
        restored_settings = restored_settings.model_copy(update={"database_url": pg_url(copy_name)})
    backups.restore(restored_settings, backup, force=True)  # as the owner (pg_restore, like pg_dump, needs it)
    if not rt.db.is_sqlite:  # the restored deployment runs as the app role again: its grants came back too
        restored_settings = restored_settings.model_copy(update={"database_url": as_role(pg_url(copy_name), APP_ROLE)})
    restored = Runtime.open(restored_settings, migrate_schema="never")
    try:
        with operator_tx(restored, write=False) as tx:
            rows = tx.execute(select(schema.tasks).where(schema.tasks.c.workspace_id == side.workspace_id)).all()
            results = tx.execute(
                select(schema.annotations).where(schema.annotations.c.workspace_id == side.workspace_id)
            ).all()
        assert rows and results  # the rows are back…
        opened = 0
        for key in [project.key_id] + [k["id"] for k in restored.keyring.keys_of(side.workspace_id)]:
            for row in rows:
                try:
                    Sealer(restored.keyring, side.workspace_id, key).open("tasks", row.id, "payload", row.payload)
                    opened += 1
                except KeyDestroyed:
                    pass
        assert opened == 0  # …but not one of them opens with the keys the deployment holds
        # The other workspace restored intact.
        from bastion.services import tasks

        assert tasks.list_tasks(system(restored), keep.project_id)["items"][0]["data"] == {"text": "keep 0"}
    finally:
        restored.close()
        if not rt.db.is_sqlite:
            pg_admin(f"DROP DATABASE IF EXISTS {copy_name} WITH (FORCE)")
    # The running deployment answers 404 for the deleted workspace's objects.
    assert client.get(f"/api/v1/projects/{project.id}", headers=side.headers("owner")).status_code == 404
