"""Cleaned images in Chromium: each format, uploaded with metadata everywhere, decodes to the very pixels of the upload.

Chromium is the decoder annotators use. The served file and the file as uploaded
are decoded side by side (``createImageBitmap``, EXIF orientation applied to
both) and compared pixel for pixel: cleaning dropped the metadata and nothing
that rendering uses.
"""

from __future__ import annotations

import base64

import image_samples as S
from bastion.services import files, imports, workspaces
from bastion.tasktypes.templates import TEMPLATES
from browser_support import PASSWORD, login, open_project
from factories import make_project, make_user, system

DECODE = """async ([url, original]) => {
  const pixels = async (blob) => {
    const bitmap = await createImageBitmap(blob);
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const g = canvas.getContext('2d');
    g.drawImage(bitmap, 0, 0);
    return [bitmap.width, bitmap.height, Array.from(g.getImageData(0, 0, bitmap.width, bitmap.height).data)];
  };
  const served = await (await fetch(url)).blob();
  const bytes = Uint8Array.from(atob(original), (c) => c.charCodeAt(0));
  const [w1, h1, p1] = await pixels(served);
  const [w2, h2, p2] = await pixels(new Blob([bytes], {type: served.type}));
  let differ = 0;
  for (let i = 0; i < p1.length; i++) if (p1[i] !== p2[i]) differ++;
  const text = new TextDecoder('latin1').decode(new Uint8Array(await served.arrayBuffer()));
  return {served: [w1, h1], original: [w2, h2], differ, length: p1.length, type: served.type, text};
}"""

SAMPLES = {
    "png": S.png_with_metadata(S.PNG),
    "jpeg": S.jpeg_with_metadata(S.JPEG),
    "webp lossy": S.webp_with_metadata(S.WEBP_LOSSY),
    "webp simple": S.webp_with_metadata(S.webp_simple(S.WEBP_LOSSY)),
    "webp lossless": S.webp_with_metadata(S.WEBP_LOSSLESS),
    "webp alpha": S.webp_with_metadata(S.WEBP_ALPHA),
    "webp animated": S.webp_animated(S.WEBP_ALPHA),
    "gif": S.gif_with_metadata(S.GIF),
}


def test_every_format_decodes_to_the_same_pixels_without_its_metadata(rt, live_url, page):
    owner = make_user(rt, "owner@example.com", password=PASSWORD)
    ws = workspaces.create_workspace(system(rt), "Vision", owner=owner.id)
    project = make_project(rt, ws.id, name="Boxes", config=TEMPLATES["image"])
    stored = {name: files.store_file(system(rt), project.id, content) for name, content in SAMPLES.items()}
    imports.import_tasks(
        system(rt),
        project.id,
        [(i, {"data": {"image": s.id}, "external_id": name}) for i, (name, s) in enumerate(stored.items(), 1)],
    )
    task_of = {t["external_id"]: t["id"] for t in _tasks(rt, project.id)}

    login(page, live_url, "owner@example.com")
    open_project(page, live_url, project.id)  # the owner's first look at the workspace's content is a POST
    for name, content in SAMPLES.items():
        url = f"{live_url}/api/v1/tasks/{task_of[name]}/files/{stored[name].id}"
        got = page.evaluate(DECODE, [url, base64.b64encode(content).decode()])
        assert got["served"] == got["original"] and got["length"] > 0, name
        assert got["differ"] == 0, f"{name}: {got['differ']} of {got['length']} channel values differ"
        assert S.CANARY.decode() not in got["text"], name
        # EXIF orientation 6 (a quarter turn) survives: shown turned, as uploaded (Chromium reads it in PNG
        # and JPEG; for WebP it reads none, before or after, and the pixels above are equal all the same)
        if name in ("png", "jpeg"):
            assert got["served"] == [stored[name].height, stored[name].width], name


def _tasks(rt, project_id):
    from bastion.services import tasks

    return tasks.list_tasks(system(rt), project_id)["items"]
