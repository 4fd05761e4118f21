"""The export page: every registered format that applies to the project's task type, with its
options; a checked form answers a one-use download ticket; the download is recorded and audited
like an API export; its progress is polled; foreign ids answer 404."""

from __future__ import annotations

import re
from html import unescape

import orjson
import pytest

from bastion.exporting import installed
from bastion.services import audit, export_downloads, exports, projects, users, workspaces
from bastion.services.exports import ExportRequest
from bastion.storage import export_store
from bastion.tasktypes import installed as task_types
from factories import as_user, make_project, make_side, make_user, operator_tx, system

PASSWORD = "export page password"
HTMX = {"hx-request": "true", "accept": "text/html"}


def _session(client, rt, email: str) -> str:
    secret, csrf = users.create_session(rt, users.authenticate(rt, email, PASSWORD))
    client.cookies.set("bastion_session", secret)
    return csrf


def _member(client, rt, side, role: str, tag: str) -> tuple[str, str]:
    person = make_user(rt, f"{role}.{tag}.export@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, person.id, role)
    if role != "annotator":
        projects.get_project(as_user(rt, person.id), side.project_id)  # opened: bound to the workspace
    return _session(client, rt, person.email), person.id


def _section(html: str, fmt: str) -> str:
    return html[html.index(f'id="format-{fmt}"') :].split("</details>")[0]


def _ticket_link(html: str) -> str:
    return unescape(re.search(r'href="(/projects/[^"]+/exports/download\?ticket=[^"]+)"', html).group(1))


def test_the_page_offers_every_format_of_the_task_type_with_its_options(client, rt):
    side = make_side(rt, "xp", 3)
    csrf, _ = _member(client, rt, side, "manager", "xp")
    page = client.get(f"/projects/{side.project_id}/export")
    assert page.status_code == 200
    offered = re.findall(r'name="format" value="([^"]+)"', page.text)
    assert offered == installed().names_for(task_types().get("classification"))
    assert "dpo" not in offered and "coco" not in offered  # formats of other task types are not offered
    parquet = _section(page.text, "parquet")
    assert 'name="aggregate"' in parquet and 'name="accepted_only"' in parquet
    assert 'name="rows"' not in parquet  # classification makes no training rows: parquet is its lossless rows
    assert 'style="' not in page.text  # strict CSP: no inline styles
    preference = make_project(rt, side.workspace_id, name="Pairs", config={"type": "preference"})
    page = client.get(f"/projects/{preference.id}/export").text
    offered = re.findall(r'name="format" value="([^"]+)"', page)
    assert offered == installed().names_for(task_types().get("preference")) and "dpo" in offered
    assert re.findall(
        r'<option value="(\w+)">', _section(page, "parquet").split('name="rows"')[1].split("</select>")[0]
    ) == [
        "jsonl",
        "sft",
        "dpo",
    ]
    dpo = _section(page, "dpo")
    for option in ("chat", "dpo_min_strength", "include_ties", "with_ids"):
        assert f'name="{option}"' in dpo
    assert 'name="sft_form"' not in dpo and 'name="per"' not in dpo  # options dpo does not take
    client.cookies.clear()


def test_a_bad_option_is_named_in_place(client, rt):
    side = make_side(rt, "xb", 2)
    csrf, _ = _member(client, rt, side, "owner", "xb")
    url = f"/projects/{side.project_id}/export"
    r = client.post(url, data={"csrf_token": csrf, "format": "jsonl", "split": "nonsense"}, headers=HTMX)
    assert r.status_code == 200 and "split:" in r.text and 'role="alert"' in r.text  # htmx swaps 200 only
    r = client.post(url, data={"csrf_token": csrf, "format": "dpo"}, headers={"accept": "text/html"})
    assert r.status_code == 422 and "classification projects have no dpo export" in r.text
    r = client.post(url, data={"csrf_token": csrf, "format": "jsonl", "seed": "x"}, headers=HTMX)
    assert "seed:" in r.text
    assert client.post(url, data={"csrf_token": "forged", "format": "jsonl"}).status_code == 403
    with operator_tx(rt, write=False) as tx:
        assert export_store.list_recent_exports(tx, side.workspace_id, side.project_id, limit=5) == []
    client.cookies.clear()


def test_download_by_ticket_once_with_progress_and_an_audit_record(client, rt):
    side = make_side(rt, "xd", 4)
    csrf, person = _member(client, rt, side, "owner", "xd")
    r = client.post(
        f"/projects/{side.project_id}/export",
        data={"csrf_token": csrf, "format": "jsonl", "per": "task", "with_ids": ""},
        headers=HTMX,
    )
    assert r.status_code == 200, r.text
    link = _ticket_link(r.text)
    export_id = re.search(r'data-export-id="(exp_[0-9a-z]+)"', r.text).group(1)
    progress = f"/projects/{side.project_id}/exports/{export_id}/progress"
    assert "Waiting for the download" in client.get(progress).text  # nothing recorded before the download
    download = client.get(link)
    assert download.status_code == 200 and download.headers["x-bastion-export-id"] == export_id
    assert "attachment" in download.headers["content-disposition"]
    rows = [orjson.loads(line) for line in download.content.splitlines()]
    assert len(rows) == 4
    done = client.get(progress).text
    assert 'data-status="complete"' in done and "4 rows" in done and f"/api/v1/exports/{export_id}/manifest" in done
    assert "hx-get" not in done  # finished: the polling stops
    again = client.get(link, headers={"accept": "text/html"})
    assert again.status_code == 409 and "started already" in again.text
    log = audit.list_entries(system(rt), side.workspace_id, limit=1000)["items"]
    exported = [e for e in log if e["action"] == "project.exported" and e["actor"] == person]
    assert [e["details"]["export"] for e in exported] == [export_id]
    assert export_id in client.get(f"/projects/{side.project_id}/export").text  # listed among recent exports
    client.cookies.clear()


def test_a_ticket_is_for_its_person_project_and_bytes(client, rt):
    side, other = make_side(rt, "xt", 2), make_side(rt, "xo", 2)
    owner = side.ctx(rt, "owner")
    prepared = export_downloads.prepare_download(owner, side.project_id, ExportRequest(fmt="json"))
    with pytest.raises(Exception) as foreign:  # another owner of the same workspace
        export_downloads.start_download(side.ctx(rt, "manager"), side.project_id, prepared.ticket)
    assert foreign.value.code == "forbidden"
    export_id, _, sealed = prepared.ticket.partition(".")
    flipped = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(Exception) as tampered:  # options the checks did not see cannot be slipped in
        export_downloads.start_download(owner, side.project_id, f"{export_id}.{flipped}")
    assert tampered.value.code == "invalid_input"
    other_id = "exp_" + "0" * 32
    with pytest.raises(Exception) as moved:  # nor its id changed: the options are bound to it
        export_downloads.start_download(owner, side.project_id, f"{other_id}.{sealed}")
    assert moved.value.code == "invalid_input"
    assert "approval" not in export_downloads._unb64(sealed).decode("latin-1")  # sealed, not readable
    with pytest.raises(Exception) as garbage:
        export_downloads.start_download(owner, side.project_id, "not.a-ticket")
    assert garbage.value.code == "invalid_input"
    # Another workspace's owner: the project does not exist for them, whatever the ticket.
    with pytest.raises(Exception) as outsider:
        export_downloads.start_download(other.ctx(rt, "owner"), side.project_id, prepared.ticket)
    assert outsider.value.code == "not_found"
    export = export_downloads.start_download(owner, side.project_id, prepared.ticket)
    assert export.id == prepared.export_id
    export.abandon()


def test_foreign_ids_and_roles_that_may_not_export(client, rt):
    side, other = make_side(rt, "xf", 2), make_side(rt, "xg", 2)
    foreign_export = exports.start_export(other.ctx(rt, "owner"), other.project_id)
    foreign_export.abandon()
    _member(client, rt, side, "owner", "xf")
    assert client.get(f"/projects/{other.project_id}/export").status_code == 404
    # Another workspace's export through this project reads as one not started: nothing of it shows.
    foreign = client.get(f"/projects/{side.project_id}/exports/{foreign_export.id}/progress")
    assert (
        foreign.status_code == 200 and "Waiting for the download" in foreign.text and "incomplete" not in foreign.text
    )
    assert client.get(f"/projects/{other.project_id}/exports/{foreign_export.id}/progress").status_code == 404
    _member(client, rt, side, "annotator", "xf")
    assert client.get(f"/projects/{side.project_id}/export").status_code == 403
    client.cookies.clear()


def test_progress_while_streaming_and_when_the_bytes_stop(rt, monkeypatch):
    side = make_side(rt, "xs", 300)
    owner = side.ctx(rt, "owner")
    monkeypatch.setattr(exports, "PROGRESS_EVERY_S", 0.0)  # write the bytes so far after every chunk
    monkeypatch.setattr(exports, "FIRST_PAGE", 50)
    export = exports.start_export(owner, side.project_id, request=ExportRequest(fmt="jsonl"))
    stream = export.stream()
    first = next(stream)
    second = next(stream)  # the progress of the first chunk is written before the second is made
    seen = export_downloads.export_progress(owner, side.project_id, export.id)
    assert seen is not None and seen.status == "streaming" and seen.bytes_sent >= len(first)
    assert not seen.stalled
    # The page comes back with what it saw; the bytes have not moved for longer than STALLED_MS.
    long_ago = seen.since - export_downloads.STALLED_MS - 1
    stalled = export_downloads.export_progress(
        owner, side.project_id, export.id, seen=seen.bytes_sent, seen_since=long_ago
    )
    assert stalled.stalled and stalled.quiet_ms > export_downloads.STALLED_MS
    moved = export_downloads.export_progress(owner, side.project_id, export.id, seen=0, seen_since=long_ago)
    assert not moved.stalled
    for _ in stream:
        pass
    done = export_downloads.export_progress(owner, side.project_id, export.id)
    assert done.status == "complete" and done.counts["rows"] == 300 and done.bytes_sent >= len(first) + len(second)
