"""The credentials page (record, list, revoke; people.read / people.manage as the API decides), the
project settings' required credentials, and the labelling page's refusal naming the credential."""

from __future__ import annotations

import html
import re

import pytest

from bastion.services import credentials, projects, queue, users, workspaces
from bastion.storage import database
from factories import ROLES, as_user, make_side, make_user, system

PASSWORD = "credentials page password"
HTML = {"Accept": "text/html"}
DAY = 24 * 3600 * 1000


def _text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def _member(rt, side, role, tag="c"):
    person = make_user(rt, f"{role}.{tag}.{side.workspace_id[-6:]}@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, person.id, role)
    return person


def _sign_in(client, rt, person) -> str:
    secret, csrf = users.create_session(rt, users.authenticate(rt, person.email, PASSWORD))
    client.cookies.set("bastion_session", secret)
    return csrf


def test_a_workforce_manager_records_lists_and_revokes(client, rt):
    side = make_side(rt, "cpage", 1)
    wfm = _member(rt, side, "workforce_manager")
    csrf = _sign_in(client, rt, wfm)
    url = f"/workspaces/{side.workspace_id}/credentials"
    page = client.get(url, headers=HTML)
    assert page.status_code == 200 and 'id="no-credentials"' in page.text and 'id="add-credential"' in page.text
    assert f'href="{url}"' in client.get("/", headers=HTML).text  # linked from the home page

    form = {
        "csrf_token": csrf,
        "action": "add",
        "email": "annotator.cpage@example.com",
        "kind": "NDA",
        "name": "Acme NDA 2026",
        "issuer": "Acme Legal",
        "issued": "",
        "expires": "2099-01-31",
        "document": "dms://4711",
    }
    bad = client.post(url, data={**form, "expires": "next year"}, headers=HTML)
    assert bad.status_code == 422 and "expires: a date like" in _text(bad)
    assert 'value="Acme NDA 2026"' in bad.text  # what was typed is kept
    stranger = client.post(url, data={**form, "email": "nobody@example.com"}, headers=HTML)
    assert stranger.status_code == 422 and "is not a member of this workspace" in _text(stranger)
    r = client.post(url, data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=add")
    shown = client.get(r.headers["location"], headers=HTML)
    text = _text(shown)
    assert "Credential recorded." in text and "Acme NDA 2026" in text and "annotator.cpage@example.com" in text
    assert "31 January 2099" in text or "2099-01-31" in text
    made = credentials.list_credentials(system(rt), side.workspace_id)[0]
    assert made["kind"] == "nda" and made["expires_at"] is not None

    r = client.post(
        url, data={"csrf_token": csrf, "action": "revoke", "credential": made["id"]}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "revoked" in _text(client.get(url, headers=HTML))
    again = client.post(url, data={"csrf_token": csrf, "action": "revoke", "credential": made["id"]}, headers=HTML)
    assert again.status_code == 422 and "already revoked" in _text(again)


@pytest.mark.parametrize("role", ROLES)
def test_who_sees_the_page(client, rt, role):
    side = make_side(rt, f"cwho{role[:3]}", 0)
    other = make_side(rt, f"cwhx{role[:3]}", 0)
    person = _member(rt, side, role)
    csrf = _sign_in(client, rt, person)
    url = f"/workspaces/{side.workspace_id}/credentials"
    expected = 200 if role in ("owner", "manager") else 403
    assert client.get(url, headers=HTML).status_code == expected
    form = {
        "csrf_token": csrf,
        "action": "add",
        "email": f"reviewer.cwho{role[:3]}@example.com",
    }
    form |= {"kind": "nda", "name": "N", "issuer": "I"}
    posted = client.post(url, data=form, headers=HTML, follow_redirects=False)
    assert posted.status_code == (303 if expected == 200 else 403)
    own = client.post(url, data={**form, "email": person.email}, headers=HTML)
    assert own.status_code == 403  # nobody records their own
    foreign = f"/workspaces/{other.workspace_id}/credentials"
    assert client.get(foreign, headers=HTML).status_code == 404
    assert client.post(foreign, data=form, headers=HTML).status_code == 404


def test_settings_page_sets_required_credentials_and_the_label_page_names_the_expired_one(client, rt, monkeypatch):
    side = make_side(rt, "clabel", 2)
    owner = _member(rt, side, "owner", tag="o")
    csrf = _sign_in(client, rt, owner)
    url = f"/projects/{side.project_id}/settings"
    form = {
        "csrf_token": csrf,
        "form": "settings",
        "name": "Project",
        "overlap": "1",
        "lease_seconds": "600",
        "priority": "0",
        "quality.gold_rate": "0",
        "quality.pause_after": "10",
        "quality.review": "none",
        "quality.review_fraction": "0.1",
        "qualification.pass_score": "0.8",
        "qualification.retake_after_days": "7",
    }
    bad = client.post(url, data={**form, "required_credentials": "not a kind!"}, headers=HTML)
    assert bad.status_code == 422 and "(required_credentials):" in _text(bad)
    r = client.post(url, data={**form, "required_credentials": "NDA: Acme NDA; clearance"}, follow_redirects=False)
    assert r.status_code == 303
    settings = projects.get_project(system(rt), side.project_id).settings
    assert [(c.kind, c.name) for c in settings.required_credentials] == [("nda", "Acme NDA"), ("clearance", None)]
    assert 'value="nda: Acme NDA; clearance"' in client.get(url, headers=HTML).text
    client.post(url, data={**form, "required_credentials": "nda: Acme NDA"}, follow_redirects=False)

    annotator = _member(rt, side, "annotator", tag="a")
    made = credentials.add_credential(
        side.ctx(rt, "owner"),
        annotator.email,
        kind="nda",
        name="Acme NDA",
        issuer="Acme",
        workspace_id=side.workspace_id,
        expires_at=database.now_ms() + DAY,
    )
    assert queue.next_task(as_user(rt, annotator.id), side.project_id) is not None
    monkeypatch.setattr(database, "now_ms", lambda: made["expires_at"] + 1)
    _sign_in(client, rt, annotator)
    page = client.get(f"/projects/{side.project_id}/label", headers=HTML)
    assert page.status_code == 403
    text = _text(page)
    assert 'nda "Acme NDA": yours expired on' in text and "a workforce manager can record a valid one" in text
