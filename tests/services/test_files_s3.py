"""Files kept in an S3-compatible bucket: ciphertext only, deleted with their workspace, and a server that fails
fails the upload cleanly — nothing half-stored, no upload left open.

The runtime here is configured as a deployment would be (``BASTION_BLOB_STORE=s3``…), against moto's S3 server
on 127.0.0.1 behind a relay the tests take down (``tests/blob_support.py``).
"""

from __future__ import annotations

import random
import struct
import zlib

import orjson
import pytest
from sqlalchemy import func, select

import image_samples as S
from bastion.domain.errors import Unavailable
from bastion.services import files, imports, projects, queue, tasks, workspaces
from bastion.storage import schema
from blob_support import loopback_only, s3, s3_server  # noqa: F401  (fixtures)
from environment import make_settings
from factories import as_user, make_side, make_token, make_user, system

IMAGE_CONFIG = {"type": "image", "box_labels": ["car", "tree"]}


@pytest.fixture
def settings(tmp_path, database_url, s3):
    return make_settings(tmp_path, database_url, **s3.settings(s3_part_size_mb=5, s3_prefix="bastion"))


@pytest.fixture
def setup(rt):
    owner = make_user(rt, "owner@example.com")
    ann = make_user(rt, "ann@example.com")
    ws = workspaces.create_workspace(system(rt), "Images", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, ann.id, "annotator")
    project = projects.create_project(system(rt), ws.id, name="Boxes", config=IMAGE_CONFIG)
    return rt, ws, project, owner, ann


def big_png(width: int, height: int, canary: bytes = S.CANARY) -> bytes:
    """A PNG of incompressible pixels (3 bytes a pixel, stored), the canary in a text chunk."""
    rnd = random.Random(width)
    rows = b"".join(b"\x00" + rnd.randbytes(width * 3) for _ in range(height))
    return S.png_from(
        [
            (b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),
            (b"tEXt", b"Comment\x00" + canary),
            (b"IDAT", zlib.compress(rows, 0)),
            (b"IEND", b""),
        ]
    )


def file_rows(rt, workspace_id: str) -> int:
    with system(rt).read() as r:
        return r.tx.execute(
            select(func.count()).select_from(schema.files).where(schema.files.c.workspace_id == workspace_id)
        ).scalar_one()


def test_the_bucket_holds_only_ciphertext(setup, s3):
    """A canary over the bucket: no upload's content — metadata or pixels — is in any object."""
    rt, ws, project, owner, ann = setup
    uploads = [
        S.png_with_metadata(S.PNG),
        S.jpeg_with_metadata(S.JPEG),
        S.webp_with_metadata(S.WEBP_LOSSY),
        S.gif_with_metadata(S.GIF),
        big_png(1400, 1400),
    ]  # the last one over a part: multipart
    stored = [files.store_file(system(rt), project.id, content) for content in uploads]
    kept = [files.clean_image(content, files.ImageLimits()).content for content in uploads]
    objects = s3.objects()
    assert sorted(objects) == sorted(f"bastion/{ws.id}/{f.id}" for f in stored)
    assert max(len(body) for body in objects.values()) > 5 * 1024 * 1024
    for body in objects.values():
        assert S.CANARY not in body and S.CANARY.decode().encode("utf-16-le") not in body
        for clean in kept:  # no stretch of any stored picture: 64-byte windows across each
            assert not any(clean[i : i + 64] in body for i in range(0, len(clean) - 64, max(64, len(clean) // 200)))
        for marker in (b"IHDR", b"IDAT", b"JFIF", b"WEBP", b"GIF89a"):
            assert marker not in body
    assert not (rt.settings.files_dir / ws.id).exists()  # nothing on the local disk
    # what comes back through a task is the picture
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"image": stored[-1].id}})])
    task = queue.next_task(as_user(rt, ann.id), project.id)
    content, media = files.read_task_file(as_user(rt, ann.id), task["id"], stored[-1].id)
    assert (content, media) == (kept[-1], "image/png")
    assert files.store_file(system(rt), project.id, uploads[0]).reused  # and it deduplicates as on disk


def test_deleting_a_workspace_deletes_its_objects(rt, s3):
    sides = [make_side(rt, tag, n_tasks=0) for tag in ("gone", "kept")]
    for side in sides:
        project = projects.create_project(side.ctx(rt, "owner"), side.workspace_id, name="Images", config=IMAGE_CONFIG)
        files.store_file(side.ctx(rt, "owner"), project.id, S.PNG)
        files.store_file(side.ctx(rt, "owner"), project.id, big_png(1400, 1400))
    gone, kept = sides
    assert {key.split("/")[1] for key in s3.objects()} == {gone.workspace_id, kept.workspace_id}
    workspaces.delete_workspace(
        gone.ctx(rt, "owner"), gone.workspace_id, approval=gone.approval(rt, "workspace.delete")
    )
    assert {key.split("/")[1] for key in s3.objects()} == {kept.workspace_id}
    assert len(s3.objects()) == 2 and s3.unfinished_uploads() == []


def test_a_server_down_fails_the_upload_and_stores_nothing(setup, s3):
    rt, ws, project, owner, ann = setup
    s3.relay.down()
    with pytest.raises(Unavailable, match="the file store could not be reached to store the file"):
        files.store_file(system(rt), project.id, S.PNG)
    assert file_rows(rt, ws.id) == 0
    s3.relay.up()
    assert s3.objects() == {}
    assert not files.store_file(system(rt), project.id, S.PNG).reused  # stored for real now
    assert file_rows(rt, ws.id) == 1 and len(s3.objects()) == 1


def test_a_server_going_down_mid_upload_stores_nothing_and_leaves_no_upload(setup, s3):
    rt, ws, project, owner, ann = setup

    def down_before_the_second_part(params, **kwargs):
        if params.get("PartNumber") == 2:
            s3.relay.down()

    rt.blobs.client.meta.events.register("provide-client-params.s3.UploadPart", down_before_the_second_part)
    with pytest.raises(Unavailable, match="could not be reached to store the file"):
        files.store_file(system(rt), project.id, big_png(1400, 1400))
    rt.blobs.client.meta.events.unregister("provide-client-params.s3.UploadPart", down_before_the_second_part)
    assert file_rows(rt, ws.id) == 0
    s3.relay.up()
    assert s3.objects() == {}
    files.store_file(system(rt), project.id, S.PNG)  # the next upload aborts the one left open
    assert s3.unfinished_uploads() == [] and len(s3.objects()) == 1 and file_rows(rt, ws.id) == 1


def test_over_http_a_server_down_answers_503(client, rt, s3):
    owner = make_user(rt, "owner.http@example.com")
    ws = workspaces.create_workspace(system(rt), "Images", owner=owner.id)
    project = projects.create_project(system(rt), ws.id, name="Boxes", config=IMAGE_CONFIG)
    headers = {"Authorization": f"Bearer {make_token(rt, owner.id)}"}
    s3.relay.down()
    r = client.post(f"/api/v1/projects/{project.id}/files", files={"file": ("x.png", S.PNG)}, headers=headers)
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "unavailable"
    assert "could not be reached to store the file" in r.json()["error"]["message"]
    assert file_rows(rt, ws.id) == 0
    s3.relay.up()
    r = client.post(f"/api/v1/projects/{project.id}/files", files={"file": ("x.png", S.PNG)}, headers=headers)
    assert r.status_code == 201 and s3.objects()


def test_an_import_with_files_stops_with_a_clear_message_and_no_half_task(setup, s3, tmp_path, monkeypatch, capsys):
    import sys

    from bastion.cli import main

    rt, ws, project, owner, ann = setup
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "tree.png").write_bytes(S.PNG)
    (tmp_path / "tasks.jsonl").write_bytes(orjson.dumps({"data": {"image": "imgs/tree.png"}}))
    for name, value in {
        "BASTION_DATA_DIR": rt.settings.data_dir,
        "BASTION_DATABASE_URL": rt.settings.database_url,
        "BASTION_MASTER_KEY": rt.settings.master_key,
        **{f"BASTION_{k.upper()}": v for k, v in s3.settings(s3_prefix="bastion").items()},
    }.items():
        monkeypatch.setenv(name, str(value).lower() if isinstance(value, bool) else str(value))
    monkeypatch.setattr(
        sys, "argv", ["bastion", "import", project.id, str(tmp_path / "tasks.jsonl"), "--files", str(tmp_path)]
    )
    s3.relay.down()
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    assert "error: the file store could not be reached to store the file" in capsys.readouterr().err
    assert tasks.list_tasks(system(rt), project.id)["items"] == [] and file_rows(rt, ws.id) == 0
    s3.relay.up()
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code in (0, None) and "imported 1" in capsys.readouterr().out
    assert len(s3.objects()) == 1 and file_rows(rt, ws.id) == 1


def test_a_backup_holds_the_bucket_and_restores_into_it(setup, s3, tmp_path):
    import tarfile

    from bastion.services import backups
    from bastion.services.runtime import Runtime
    from environment import owner_url

    rt, ws, project, owner, ann = setup
    stored = [
        files.store_file(system(rt), project.id, S.PNG),
        files.store_file(system(rt), project.id, big_png(1400, 1400)),
    ]
    in_bucket = {key.removeprefix("bastion/"): body for key, body in s3.objects().items()}
    out = tmp_path / "backup.tar"
    backup_rt = (
        rt
        if rt.db.is_sqlite
        else Runtime.open(  # pg_dump needs the owner (docs/security.md)
            rt.settings.model_copy(update={"database_url": owner_url(rt.settings.database_url)}), migrate_schema="never"
        )
    )
    try:
        backups.backup(backup_rt, out)
    finally:
        if backup_rt is not rt:
            backup_rt.close()
    with tarfile.open(out) as tar:
        members = {m.name.removeprefix("files/"): tar.extractfile(m).read() for m in tar if m.name.startswith("files/")}
    assert members == in_bucket and sorted(members) == sorted(f"{ws.id}/{f.id}" for f in stored)
    if not rt.db.is_sqlite:
        return  # restoring a PostgreSQL dump is tested in test_canary.py; the files' part is the same
    for key in s3.objects():  # the bucket lost its objects; an orphan of no backed-up workspace is there
        s3.client.delete_object(Bucket=s3.bucket, Key=key)
    stray = "ws_" + "0" * 32
    s3.client.put_object(Bucket=s3.bucket, Key=f"bastion/{stray}/fil_{'1' * 32}", Body=b"x")
    restored = rt.settings.model_copy(
        update={
            "data_dir": tmp_path / "restored",
            "database_url": None,
            "keyring_url": rt.settings.resolved_keyring_url,
        }
    )  # the keys stay
    backups.restore(restored, out)
    assert {key.removeprefix("bastion/"): body for key, body in s3.objects().items()} == in_bucket
    again = Runtime.open(restored, migrate_schema="never")
    try:
        imports.import_tasks(system(again), project.id, [(1, {"data": {"image": stored[1].id}})])
        task = queue.next_task(as_user(again, ann.id), project.id)
        content, _ = files.read_task_file(as_user(again, ann.id), task["id"], stored[1].id)
        assert content == files.clean_image(big_png(1400, 1400), files.ImageLimits()).content
    finally:
        again.close()


def test_the_bucket_is_never_called_while_the_database_write_lock_is_held(setup, s3):
    """An upload or a read from a bucket takes seconds when the server is slow; on SQLite, every writer of the
    process would wait behind it. A write made from inside each call to the bucket shows none holds the lock
    (a write within a write is refused there: one writer per process)."""
    rt, ws, project, owner, ann = setup
    if not rt.db.is_sqlite:
        pytest.skip("one writer per process is SQLite's; PostgreSQL writers do not wait for each other here")
    made = []

    def write_meanwhile(**kwargs):
        made.append(make_user(rt, f"meanwhile{len(made)}@example.com").id)

    for operation in ("PutObject", "HeadObject", "GetObject", "CreateMultipartUpload", "UploadPart"):
        rt.blobs.client.meta.events.register(f"provide-client-params.s3.{operation}", write_meanwhile)
    small = files.store_file(system(rt), project.id, S.PNG)  # PutObject
    big = files.store_file(system(rt), project.id, big_png(1400, 1400))  # CreateMultipartUpload, UploadPart
    assert files.store_file(system(rt), project.id, S.PNG).reused  # HeadObject
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"image": small.id}})])
    task = queue.next_task(as_user(rt, ann.id), project.id)
    assert files.read_task_file(as_user(rt, ann.id), task["id"], small.id)[0] == S.PNG  # GetObject
    assert len(made) == 6 and big.size_bytes > 5 * 1024 * 1024


def test_the_same_picture_stored_twice_at_once_is_one_file(setup, s3):
    """Two uploads of one picture race: the one that commits second answers the first one's file, and its own
    object is removed again."""
    rt, ws, project, owner, ann = setup
    inner = []

    def the_other_upload(**kwargs):
        if not inner:
            inner.append(None)
            inner[0] = files.store_file(system(rt), project.id, S.PNG)

    rt.blobs.client.meta.events.register("provide-client-params.s3.PutObject", the_other_upload)
    outer = files.store_file(system(rt), project.id, S.PNG)
    assert outer.reused and outer.id == inner[0].id and not inner[0].reused
    assert list(s3.objects()) == [f"bastion/{ws.id}/{outer.id}"] and file_rows(rt, ws.id) == 1


def test_a_backup_naming_a_file_that_is_not_ours_restores_nothing(setup, s3, tmp_path):
    import io
    import tarfile

    from bastion.domain.errors import InvalidInput
    from bastion.services import backups

    rt, ws, project, owner, ann = setup
    if not rt.db.is_sqlite:
        pytest.skip("the names are checked before either database is touched; SQLite's run shows it")
    files.store_file(system(rt), project.id, S.PNG)
    out = tmp_path / "backup.tar"
    backups.backup(rt, out)
    with tarfile.open(out, "a") as tar:  # a member a crafted backup could hold
        info = tarfile.TarInfo(f"files/{ws.id}/notes.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    before = s3.objects()
    restored = rt.settings.model_copy(update={"data_dir": tmp_path / "restored", "database_url": None})
    with pytest.raises(InvalidInput, match=rf"not a Bastion backup \(files/{ws.id}/notes.txt is not a stored file\)"):
        backups.restore(restored, out)
    assert not (tmp_path / "restored" / "bastion.db").exists() and s3.objects() == before
