"""The sealed file store: checked on the way in, sealed at rest, served only through a visible task."""

from __future__ import annotations

import struct
from pathlib import Path

import orjson
import pytest

import image_samples as S
from bastion.domain.errors import InvalidInput, NotFound, PayloadTooLarge, PermissionDenied
from bastion.services import files, imports, projects, queue, tasks, workspaces
from bastion.sources import iter_file
from factories import as_user, make_user, system

IMAGES = Path(__file__).resolve().parents[2] / "src" / "bastion" / "demo" / "data" / "images"
PNG = (IMAGES / "single_tree.png").read_bytes()
IMAGE_CONFIG = {"type": "image", "box_labels": ["car", "tree"]}


@pytest.fixture
def setup(rt):
    owner = make_user(rt, "owner@example.com")
    ann = make_user(rt, "ann@example.com")
    other = make_user(rt, "other@example.com")
    ws = workspaces.create_workspace(system(rt), "Images", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, ann.id, "annotator")
    workspaces.add_member(system(rt), ws.id, other.id, "annotator")
    project = projects.create_project(system(rt), ws.id, name="Boxes", config=IMAGE_CONFIG)
    return rt, ws, project, owner, ann, other


def facts(image):
    return image.media_type, image.width, image.height


def test_checked_by_content_and_size():
    limits = files.ImageLimits()
    assert facts(files.check_content(PNG, limits)) == ("image/png", 320, 240)
    assert facts(files.check_content(S.JPEG, limits)) == ("image/jpeg", 48, 32)
    assert facts(files.check_content(S.GIF, limits)) == ("image/gif", 12, 8)
    assert facts(files.check_content(S.WEBP_LOSSLESS, limits)) == ("image/webp", 48, 32)
    for bad in (b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"%PDF-1.7", b"\x89PNG but not"):
        with pytest.raises(InvalidInput, match="PNG, JPEG, WebP or GIF"):
            files.check_content(bad, limits)
    with pytest.raises(InvalidInput, match="empty"):
        files.check_content(b"", limits)
    with pytest.raises(PayloadTooLarge):
        files.check_content(PNG + b"\x00" * files.MAX_FILE_BYTES, limits)


def test_stored_sealed_deduplicated_and_read_through_a_task(setup):
    rt, ws, project, owner, ann, other = setup
    stored = files.store_file(system(rt), project.id, PNG)
    assert (stored.media_type, stored.width, stored.height, stored.reused) == ("image/png", 320, 240, False)
    on_disk = rt.settings.files_dir / ws.id / stored.id
    assert on_disk.exists() and PNG not in on_disk.read_bytes() and b"IHDR" not in on_disk.read_bytes()
    again = files.store_file(system(rt), project.id, PNG)
    assert again.id == stored.id and again.reused
    assert not list(on_disk.parent.glob(".*partial"))

    imports.import_tasks(
        system(rt),
        project.id,
        [
            (1, {"data": {"image": stored.id}, "external_id": "a"}),
            (2, {"data": {"image": stored.id}, "external_id": "b"}),
        ],
    )
    task = queue.next_task(as_user(rt, ann.id), project.id)
    content, media = files.read_task_file(as_user(rt, ann.id), task["id"], stored.id)
    assert (content, media) == (PNG, "image/png")
    assert files.read_task_file(as_user(rt, owner.id), task["id"], stored.id)[0] == PNG
    # another annotator was not handed that task; an outsider does not see the workspace at all
    with pytest.raises(PermissionDenied):
        files.read_task_file(as_user(rt, other.id), task["id"], stored.id)
    stranger = make_user(rt, "stranger@example.com")
    with pytest.raises(NotFound):
        files.read_task_file(as_user(rt, stranger.id), task["id"], stored.id)
    # a file id the task does not name is not reachable through it
    second = files.store_file(system(rt), project.id, S.JPEG)
    with pytest.raises(NotFound):
        files.read_task_file(as_user(rt, owner.id), task["id"], second.id)


def test_a_tampered_blob_does_not_open(setup):
    rt, ws, project, owner, *_ = setup
    stored = files.store_file(system(rt), project.id, PNG)
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"image": stored.id}})])
    path = rt.settings.files_dir / ws.id / stored.id
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(bytes(blob))
    task = queue.next_task(as_user(rt, owner.id), project.id)
    with pytest.raises(Exception, match="does not authenticate"):
        files.read_task_file(as_user(rt, owner.id), task["id"], stored.id)


def test_annotators_cannot_upload(setup):
    rt, ws, project, owner, ann, other = setup
    with pytest.raises(PermissionDenied):
        files.store_file(as_user(rt, ann.id), project.id, PNG)


def test_import_with_files_dir(setup, tmp_path):
    rt, ws, project, *_ = setup
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "tree.png").write_bytes(PNG)
    (tmp_path / "imgs" / "notes.txt").write_text("not an image")
    (tmp_path / "secret.png").write_bytes(PNG)
    lines = [
        {"data": {"image": "imgs/tree.png"}, "external_id": "ok"},
        {"data": {"image": "imgs/missing.png"}, "external_id": "missing"},
        {"data": {"image": "imgs/notes.txt"}, "external_id": "text"},
        {"data": {"image": "../secret.png"}, "external_id": "escape"},
        {"data": {"image": "http://169.254.169.254/latest/meta-data"}, "external_id": "url"},
        {"data": {"image": "/etc/passwd"}, "external_id": "absolute"},
    ]
    source = tmp_path / "tasks.jsonl"
    source.write_bytes(b"\n".join(orjson.dumps(x) for x in lines))
    refs = files.FileReferences(system(rt), project.id, tmp_path, lambda: iter_file(source, "jsonl"))
    report = imports.import_tasks(system(rt), project.id, refs)
    assert report.imported == 1
    errors = {r["line"]: r["error"] for r in report.rejected}
    assert "no such file" in errors[2]
    assert "PNG, JPEG, WebP or GIF" in errors[3]
    assert "outside the --files directory" in errors[4]
    assert "URLs and absolute paths are refused" in errors[5] and "URLs and absolute paths are refused" in errors[6]
    listed = tasks.list_tasks(system(rt), project.id)
    (only,) = listed["items"]
    assert only["data"]["image"].startswith("fil_") and (only["data"]["width"], only["data"]["height"]) == (320, 240)
    # again: nothing new, neither tasks nor files
    again = imports.import_tasks(
        system(rt),
        project.id,
        files.FileReferences(system(rt), project.id, tmp_path, lambda: iter_file(source, "jsonl")),
    )
    assert again.imported == 0 and again.duplicates == 1
    assert len(list((rt.settings.files_dir / ws.id).iterdir())) == 1


def test_strict_import_stores_nothing_when_a_line_is_bad(setup, tmp_path):
    rt, ws, project, *_ = setup
    (tmp_path / "tree.png").write_bytes(PNG)
    source = tmp_path / "tasks.jsonl"
    source.write_bytes(
        orjson.dumps({"data": {"image": "tree.png"}}) + b"\n" + orjson.dumps({"data": {"image": "nope.png"}})
    )
    refs = files.FileReferences(system(rt), project.id, tmp_path, lambda: iter_file(source, "jsonl"), strict=True)
    report = imports.import_tasks(system(rt), project.id, refs, strict=True)
    assert report.imported == 0 and report.rejected_count == 1
    assert not (rt.settings.files_dir / ws.id).exists()


def test_files_only_for_types_that_refer_to_them(rt, tmp_path):
    owner = make_user(rt, "o@example.com")
    ws = workspaces.create_workspace(system(rt), "Text", owner=owner.id)
    project = projects.create_project(
        system(rt), ws.id, name="Text", config={"type": "classification", "labels": ["a", "b"]}
    )
    with pytest.raises(InvalidInput, match="do not refer to files"):
        files.FileReferences(system(rt), project.id, tmp_path, lambda: [])


def test_upload_and_read_over_http(client, rt):
    from factories import make_token

    owner = make_user(rt, "owner@example.com")
    ann = make_user(rt, "ann@example.com")
    ws = workspaces.create_workspace(system(rt), "Images", owner=owner.id)
    workspaces.add_member(system(rt), ws.id, ann.id, "annotator")
    project = projects.create_project(system(rt), ws.id, name="Boxes", config=IMAGE_CONFIG)
    owner_h = {"Authorization": f"Bearer {make_token(rt, owner.id)}"}
    ann_h = {"Authorization": f"Bearer {make_token(rt, ann.id)}"}
    r = client.post(
        f"/api/v1/projects/{project.id}/files", files={"file": ("x.png", PNG, "image/png")}, headers=owner_h
    )
    assert r.status_code == 201, r.text
    ref = r.json()["id"]
    assert r.json()["width"] == 320
    r2 = client.post(f"/api/v1/projects/{project.id}/files", files={"file": ("y.png", PNG)}, headers=owner_h)
    assert r2.status_code == 200 and r2.json()["reused"] is True and r2.json()["id"] == ref
    bad = client.post(
        f"/api/v1/projects/{project.id}/files", files={"file": ("x.svg", b"<svg/>", "image/svg+xml")}, headers=owner_h
    )
    assert bad.status_code == 422 and "PNG, JPEG" in bad.json()["error"]["message"]
    assert (
        client.post(f"/api/v1/projects/{project.id}/files", files={"file": ("x.png", PNG)}, headers=ann_h).status_code
        == 403
    )
    url_task = client.post(
        f"/api/v1/projects/{project.id}/tasks", json=[{"data": {"image": "https://example.com/a.png"}}], headers=owner_h
    )
    assert (
        url_task.json()["rejected_count"] == 1 and "URLs are never fetched" in url_task.json()["rejected"][0]["error"]
    )
    client.post(f"/api/v1/projects/{project.id}/tasks", json=[{"data": {"image": ref}}], headers=owner_h)
    task = client.post(f"/api/v1/projects/{project.id}/next", headers=ann_h).json()
    got = client.get(f"/api/v1/tasks/{task['id']}/files/{ref}", headers=ann_h)
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png" and got.headers["cache-control"] == "private, no-store"
    assert client.get(f"/api/v1/tasks/{task['id']}/files/fil_{'0' * 32}", headers=ann_h).status_code == 404
    assert client.get(f"/api/v1/tasks/{task['id']}/files/{ref}").status_code == 401


# -- metadata, sizes -------------------------------------------------------------------------------

SAMPLES = {
    "png": (S.PNG, S.png_with_metadata, "image/png", (320, 240)),
    "jpeg": (S.JPEG, S.jpeg_with_metadata, "image/jpeg", (48, 32)),
    "webp": (S.WEBP_LOSSY, S.webp_with_metadata, "image/webp", (48, 32)),
    "gif": (S.GIF, S.gif_with_metadata, "image/gif", (12, 8)),
}
DIRTY = {kind: (add(base), media, size) for kind, (base, add, media, size) in SAMPLES.items()}


def _kept(rt, project, file_id) -> bytes:
    """The plaintext of the sealed blob, opened with the project's key (what is at rest, not what is served)."""
    from bastion.access import Action

    with system(rt).write() as w:
        found = projects.load_project(w, project.id, Action.TASK_IMPORT)
        sealed = files.blobs(system(rt)).get(found.workspace_id, file_id)
        return w.sealer(found.workspace_id, found.key_id).open("files", file_id, "content", sealed)


def _served(rt, project, ann, file_id):
    imports.import_tasks(system(rt), project.id, [(1, {"data": {"image": file_id}})])
    task = queue.next_task(as_user(rt, ann.id), project.id)
    return files.read_task_file(as_user(rt, ann.id), task["id"], file_id)


@pytest.mark.parametrize("kind", sorted(DIRTY))
def test_metadata_never_reaches_the_annotator(setup, kind):
    """A client's image with a codename, a name and GPS coordinates in every metadata place: the annotator
    gets the picture, the same size, without any of it; what is stored is what is served."""
    rt, ws, project, owner, ann, other = setup
    dirty, media_type, size = DIRTY[kind]
    assert S.CANARY in dirty
    stored = files.store_file(system(rt), project.id, dirty)
    kept = _kept(rt, project, stored.id)
    content, media = _served(rt, project, ann, stored.id)
    assert content == kept  # served as stored
    assert S.CANARY not in content and S.CANARY.decode().encode("utf-16-le") not in content
    assert media == media_type and (stored.width, stored.height) == size and stored.size_bytes == len(content)
    assert files.clean_image(content, files.ImageLimits()).content == content  # well-formed, nothing left to strip
    # the same picture with other metadata (or none) is the same stored file
    base, add_metadata, *_ = SAMPLES[kind]
    again = files.store_file(system(rt), project.id, add_metadata(base, b"another camera, another person"))
    assert again.id == stored.id and again.reused


def test_the_stored_png_still_decodes_to_the_same_pixels(setup):
    rt, ws, project, owner, ann, other = setup
    stored = files.store_file(system(rt), project.id, DIRTY["png"][0])
    content, _ = _served(rt, project, ann, stored.id)
    assert S.png_pixels(content) == S.png_pixels(S.PNG)
    kinds = [k for k, _ in S.png_chunks(content)]
    assert b"eXIf" in kinds and [k for k in kinds if k != b"eXIf"] == [k for k, _ in S.png_chunks(S.PNG)]


def test_a_file_stored_before_cleaning_is_served_clean(setup, monkeypatch):
    """Files kept by an earlier version (metadata sealed with them) lose it on the way out."""
    rt, ws, project, owner, ann, other = setup
    dirty = DIRTY["jpeg"][0]
    with monkeypatch.context() as m:  # store as the earlier version did: the bytes as given
        m.setattr(files, "clean_image", lambda content, limits: files.CleanImage("image/jpeg", 48, 32, content))
        stored = files.store_file(system(rt), project.id, dirty)
    assert S.CANARY in _kept(rt, project, stored.id)  # at rest, as the earlier version kept it
    content, _ = _served(rt, project, ann, stored.id)
    assert S.CANARY not in content and content == files.clean_image(dirty, files.ImageLimits()).content


def test_oversized_images_are_refused_before_anything_is_stored(setup):
    rt, ws, project, *_ = setup
    bomb = S.png_header(50_000, 50_000, S.zlib_bomb(50_000, 50_000), color=0)
    for content in (bomb, S.png_header(2**31 - 1, 2**31 - 1), S.png_header(20_001, 10)):
        with pytest.raises(PayloadTooLarge, match="max_image_side_px"):
            files.store_file(system(rt), project.id, content)
    assert not (rt.settings.files_dir / ws.id).exists()


def test_the_caps_are_settings(setup, monkeypatch):
    rt, ws, project, *_ = setup
    monkeypatch.setattr(rt.settings, "max_image_side_px", 300)
    with pytest.raises(PayloadTooLarge, match=r"320×240 pixels \(.*\); at most 300 pixels a side"):
        files.store_file(system(rt), project.id, S.PNG)
    monkeypatch.setattr(rt.settings, "max_image_side_px", 320)
    monkeypatch.setattr(rt.settings, "max_image_pixels", 320 * 240 - 1)
    with pytest.raises(PayloadTooLarge, match="76,799 pixels in all"):
        files.store_file(system(rt), project.id, S.PNG)
    monkeypatch.setattr(rt.settings, "max_image_pixels", 320 * 240)
    assert files.store_file(system(rt), project.id, S.PNG).width == 320


def test_malformed_images_are_refused_at_import_with_the_line(setup, tmp_path):
    rt, ws, project, *_ = setup
    (tmp_path / "cut.png").write_bytes(S.PNG[:-12])
    (tmp_path / "huge.png").write_bytes(
        S.png_from([(b"IHDR", struct.pack(">IIBBBBB", 30_000, 30_000, 8, 2, 0, 0, 0)), (b"IDAT", b"x"), (b"IEND", b"")])
    )
    (tmp_path / "dirty.jpg").write_bytes(DIRTY["jpeg"][0])
    lines = [{"data": {"image": "cut.png"}}, {"data": {"image": "huge.png"}}, {"data": {"image": "dirty.jpg"}}]
    refs = files.FileReferences(system(rt), project.id, tmp_path, lambda: list(enumerate(lines, 1)))
    report = imports.import_tasks(system(rt), project.id, refs)
    errors = {r["line"]: r["error"] for r in report.rejected}
    assert "not a well-formed PNG image: the file ends before its IEND chunk" in errors[1]
    assert "30000×30000 pixels" in errors[2]
    assert report.imported == 1
    (only,) = tasks.list_tasks(system(rt), project.id)["items"]
    assert (only["data"]["width"], only["data"]["height"]) == (48, 32)
