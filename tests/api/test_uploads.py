"""Uploads never touch the disk in clear: every upload route, watched by an audit hook while it runs.

Starlette's form parser (behind FastAPI's ``UploadFile`` and ``Form``) spools a
file part above 1 MiB to a temporary file — on Linux an unnamed ``O_TMPFILE``
that no directory listing shows. So the check is not a scan of the temporary
directory but Python's audit hook: every file opened for writing while the
request runs is recorded, and only the sealed blob store may appear.
"""

from __future__ import annotations

import os
import random
import struct
import sys
import tempfile
import zlib

import orjson
import pytest
from starlette.testclient import TestClient

import image_samples as S
from bastion.services import projects, tasks, users, workspaces
from bastion.services.runtime import Runtime
from bastion.web.app import create_app
from blob_support import loopback_only, s3, s3_server  # noqa: F401  (fixtures)
from environment import make_settings
from factories import make_token, make_user, system

PASSWORD = "uploads password long"
_WATCHING: list[list[tuple[str, str]]] = []


def _hook(event: str, args: tuple) -> None:
    if not _WATCHING:
        return
    if event == "open":
        path, mode, flags = args
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            mode is None and isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR)
        )
        if writes:
            _WATCHING[-1].append((event, str(path)))
    elif event in ("tempfile.mkstemp", "tempfile.mkdtemp"):
        _WATCHING[-1].append((event, str(args[0])))


sys.addaudithook(_hook)  # hooks cannot be removed; this one records only inside ``watch_writes``


class watch_writes:
    def __enter__(self) -> list[tuple[str, str]]:
        _WATCHING.append([])
        return _WATCHING[-1]

    def __exit__(self, *exc) -> None:
        _WATCHING.pop()


def big_png(canary: bytes) -> bytes:
    """A 1.5 MB PNG (incompressible pixels) with the canary in a text chunk: larger than Starlette's spool size."""
    rnd = random.Random(7)
    width, height = 700, 700
    rows = b"".join(b"\x00" + rnd.randbytes(width * 3) for _ in range(height))
    return S.png_from(
        [
            (b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),
            (b"tEXt", b"Comment\x00" + canary),
            (b"IDAT", zlib.compress(rows, 0)),
            (b"IEND", b""),
        ]
    )


@pytest.fixture
def image_project(rt):
    owner = make_user(rt, "owner.uploads@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Uploads", owner=owner.id)
    project = projects.create_project(system(rt), ws.id, name="Boxes", config={"type": "image", "box_labels": ["a"]})
    return owner, ws, project


@pytest.fixture
def no_temp_dir(tmp_path, monkeypatch):
    """The temporary directory, pointed somewhere a test can list (named temporary files would show there)."""
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    return spool


def _outside(writes, allowed) -> list[tuple[str, str]]:
    return [(event, path) for event, path in writes if not path.startswith(str(allowed) + os.sep)]


def test_an_image_upload_over_1_mib_is_never_spooled(client, rt, image_project, no_temp_dir):
    owner, ws, project = image_project
    content = big_png(S.CANARY)
    assert len(content) > 1024 * 1024 and S.CANARY in content
    headers = {"Authorization": f"Bearer {make_token(rt, owner.id)}"}
    with watch_writes() as writes:
        r = client.post(
            f"/api/v1/projects/{project.id}/files", headers=headers, files={"file": ("big.png", content, "image/png")}
        )
    assert r.status_code == 201, r.text
    assert (r.json()["width"], r.json()["height"]) == (700, 700)
    assert writes, "the audit hook saw nothing: it would not see a spool file either"  # the blob itself was seen
    assert _outside(writes, rt.settings.files_dir) == []
    assert list(no_temp_dir.iterdir()) == []


def test_a_task_file_over_1_mib_uploaded_on_the_project_page_is_never_spooled(client, rt, image_project, no_temp_dir):
    owner, ws, project = image_project
    text_project = projects.create_project(
        system(rt), ws.id, name="Text", config={"type": "classification", "labels": ["a", "b"]}
    )
    lines = b"\n".join(
        orjson.dumps({"data": {"text": f"{S.CANARY.decode()} line {i} " + "x" * 200}}) for i in range(6000)
    )
    assert len(lines) > 1024 * 1024
    secret, csrf = users.create_session(rt, users.authenticate(rt, owner.email, PASSWORD))
    client.cookies.set("bastion_session", secret)
    with watch_writes() as writes:
        r = client.post(
            f"/projects/{text_project.id}/import",
            data={"csrf_token": csrf},
            files={"file": ("tasks.jsonl", lines, "application/x-ndjson")},
        )
    assert r.status_code == 200, r.text
    assert "Imported <strong>6000</strong>" in r.text
    assert _outside(writes, rt.settings.files_dir) == []
    assert tasks.list_tasks(system(rt), text_project.id, limit=1)["items"]
    # the form's other fields come through too: a strict import of a bad line writes nothing
    with watch_writes() as writes:
        r = client.post(
            f"/projects/{text_project.id}/import",
            data={"csrf_token": csrf, "strict": "true"},
            files={"file": ("more.jsonl", b'{"data": {"text": "new"}}\n{"oops"', "application/x-ndjson")},
        )
    assert r.status_code == 200 and "Imported <strong>0</strong>" in r.text and writes == []
    # and the CSRF token is still required
    r = client.post(
        f"/projects/{text_project.id}/import",
        data={"csrf_token": "forged"},
        files={"file": ("tasks.jsonl", b'{"data": {"text": "x"}}', "application/x-ndjson")},
    )
    assert r.status_code == 403


def test_the_json_import_streams_without_spooling(client, rt, image_project, no_temp_dir):
    owner, ws, project = image_project
    text_project = projects.create_project(
        system(rt), ws.id, name="Text", config={"type": "classification", "labels": ["a", "b"]}
    )
    body = b"\n".join(orjson.dumps({"data": {"text": f"{S.CANARY.decode()} {i} " + "y" * 200}}) for i in range(6000))
    headers = {"Authorization": f"Bearer {make_token(rt, owner.id)}", "Content-Type": "application/x-ndjson"}
    with watch_writes() as writes:
        r = client.post(f"/api/v1/projects/{text_project.id}/tasks", headers=headers, content=body)
    assert r.status_code == 200 and r.json()["imported"] == 6000
    assert _outside(writes, rt.settings.files_dir) == []


def test_upload_errors_are_clear_and_name_the_field(client, rt, image_project):
    owner, ws, project = image_project
    headers = {"Authorization": f"Bearer {make_token(rt, owner.id)}"}
    url = f"/api/v1/projects/{project.id}/files"
    too_big = client.post(url, headers=headers, files={"file": ("x.png", b"\x89PNG" + b"\x00" * (20 * 1024 * 1024))})
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"
    assert "file" in too_big.json()["error"]["message"] and "20971520 bytes" in too_big.json()["error"]["message"]
    missing = client.post(url, headers=headers, files={"other": ("x.png", S.PNG)})
    assert missing.status_code == 422 and "file" in missing.json()["error"]["message"]
    raw = client.post(url, headers={**headers, "Content-Type": "image/png"}, content=S.PNG)
    assert raw.status_code == 422 and "multipart/form-data" in raw.json()["error"]["message"]
    broken = client.post(
        url,
        headers={**headers, "Content-Type": "multipart/form-data; boundary=xyz"},
        content=b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc',
    )
    assert broken.status_code in (400, 422) and broken.json()["error"]["code"] in ("bad_request", "invalid_input")
    no_boundary = client.post(url, headers={**headers, "Content-Type": "multipart/form-data"}, content=b"abc")
    assert no_boundary.status_code in (400, 422)
    twice = client.post(url, headers=headers, files=[("file", ("a.png", S.PNG)), ("file", ("b.png", S.PNG))])
    assert twice.status_code == 422 and "one file" in twice.json()["error"]["message"]
    dims = client.post(url, headers=headers, files={"file": ("bomb.png", S.png_header(50_000, 50_000))})
    assert dims.status_code == 413 and "50000×50000" in dims.json()["error"]["message"]
    bad = client.post(url, headers=headers, files={"file": ("cut.png", S.PNG[:-12])})
    assert bad.status_code == 422 and "not a well-formed PNG" in bad.json()["error"]["message"]
    # a project the caller cannot see answers 404 whatever the body
    stranger = make_user(rt, "stranger.uploads@example.com")
    other = {"Authorization": f"Bearer {make_token(rt, stranger.id)}"}
    assert client.post(url, headers=other, files={"file": ("x.png", S.PNG)}).status_code == 404
    assert client.post(url, headers=other, content=b"junk").status_code == 404
    assert client.post(url, files={"file": ("x.png", S.PNG)}).status_code == 401


def test_the_annotator_gets_the_picture_not_the_metadata(client, rt, image_project):
    owner, ws, project = image_project
    ann = make_user(rt, "ann.uploads@example.com")
    workspaces.add_member(system(rt), ws.id, ann.id, "annotator")
    owner_h = {"Authorization": f"Bearer {make_token(rt, owner.id)}"}
    ann_h = {"Authorization": f"Bearer {make_token(rt, ann.id)}"}
    for content in (
        S.jpeg_with_metadata(S.JPEG),
        S.png_with_metadata(S.PNG),
        S.webp_with_metadata(S.WEBP_LOSSY),
        S.gif_with_metadata(S.GIF),
    ):
        r = client.post(f"/api/v1/projects/{project.id}/files", headers=owner_h, files={"file": ("photo", content)})
        assert r.status_code == 201, r.text
        client.post(f"/api/v1/projects/{project.id}/tasks", json=[{"data": {"image": r.json()["id"]}}], headers=owner_h)
        task = client.post(f"/api/v1/projects/{project.id}/next", headers=ann_h).json()
        got = client.get(f"/api/v1/tasks/{task['id']}/files/{task['data']['image']}", headers=ann_h)
        assert got.status_code == 200 and got.content and S.CANARY not in got.content
        assert len(got.content) == r.json()["size_bytes"] < len(content)
        client.post(f"/api/v1/tasks/{task['id']}/skip", headers=ann_h)


def test_with_the_s3_blob_store_an_upload_touches_no_disk_at_all(s3, tmp_path, database_url, no_temp_dir):
    """The same rule with files kept in a bucket: nothing is opened for writing, and the bucket gets ciphertext."""
    rt = Runtime.open(make_settings(tmp_path, database_url, **s3.settings()), migrate_schema="never")
    try:
        owner = make_user(rt, "owner.s3@example.com")
        ws = workspaces.create_workspace(system(rt), "Uploads", owner=owner.id)
        project = projects.create_project(
            system(rt), ws.id, name="Boxes", config={"type": "image", "box_labels": ["a"]}
        )
        content = big_png(S.CANARY)
        with TestClient(create_app(rt), raise_server_exceptions=False) as client, watch_writes() as writes:
            r = client.post(
                f"/api/v1/projects/{project.id}/files",
                files={"file": ("big.png", content, "image/png")},
                headers={"Authorization": f"Bearer {make_token(rt, owner.id)}"},
            )
        assert r.status_code == 201, r.text
    finally:
        rt.close()
    assert writes == [] and list(no_temp_dir.iterdir()) == []
    (body,) = s3.objects().values()
    assert len(body) > 1024 * 1024 and S.CANARY not in body and b"IHDR" not in body
