"""SCIM 2.0 under /scim/v2: who may call it, people and groups, errors as SCIM, groups -> roles.

The invariants: only a SCIM token opens /scim/v2, and a SCIM token opens nothing else; deactivating
a person through SCIM (``active: false``, DELETE) refuses their very next request; DELETE hides
the person from SCIM but keeps their row and their history; every change is audited.
"""

from __future__ import annotations

import orjson
import pytest

from bastion.services import audit, queue, scim, users, workspaces
from bastion.storage import memberships_store
from factories import as_user, make_side, make_token, make_user, operator_tx, system

SCIM_JSON = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def scim_headers(rt):
    secret, _ = scim.create_token(system(rt), "idp")
    return {"Authorization": f"Bearer {secret}", "Content-Type": SCIM_JSON}


def _send(client, method, path, headers, body=None, **params):
    content = orjson.dumps(body) if body is not None else None
    return client.request(method, f"/scim/v2{path}", headers=headers, content=content, params=params or None)


def _error(r, status, scim_type=None):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(SCIM_JSON)
    body = r.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status)
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    return body


def _new_user(client, headers, email, **extra):
    body = {"schemas": [USER], "userName": email, "active": True, **extra}
    r = _send(client, "POST", "/Users", headers, body)
    assert r.status_code == 201, r.text
    return r.json()


def _patch(*operations):
    return {"schemas": [PATCH], "Operations": list(operations)}


def _actions(rt, workspace_id):
    return [e["action"] for e in audit.list_entries(system(rt), workspace_id, limit=500)["items"]]


def test_only_a_scim_token_opens_scim_and_it_opens_nothing_else(client, rt, scim_headers):
    admin = make_user(rt, "admin@example.com", admin=True)
    admin_token = {"Authorization": f"Bearer {make_token(rt, admin.id)}"}
    for headers in ({}, admin_token, {"Authorization": "Bearer bscim_forged"}, {"Authorization": "Basic eDp5"}):
        _error(_send(client, "GET", "/Users", headers), 401)
    r = _send(client, "GET", "/Users", scim_headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith(SCIM_JSON)
    for path in ("/api/v1/me", "/api/v1/users", "/api/v1/workspaces"):  # a SCIM token calls nothing else
        assert client.get(path, headers=scim_headers).status_code == 401, path
    client.cookies.clear()
    assert client.get("/people", headers=scim_headers, follow_redirects=False).status_code == 303
    # Only platform admins (or the operator) make SCIM tokens; a revoked one is refused at once.
    owner = make_user(rt, "owner@example.com")
    with pytest.raises(Exception, match="only platform admins"):
        scim.create_token(as_user(rt, owner.id), "mine")
    [token] = [t for t in scim.list_tokens(system(rt)) if t.name == "idp"]
    scim.revoke_token(system(rt), token.id)
    _error(_send(client, "GET", "/Users", scim_headers), 401)
    _error(_send(client, "GET", "/NoSuchThing", scim_headers), 404)  # unknown paths answer as SCIM too


def test_users_create_filter_page_replace_and_errors(client, rt, scim_headers):
    made = _new_user(
        client, scim_headers, "Ada@Example.com", externalId="okta-1", name={"givenName": "Ada", "familyName": "L"}
    )
    assert made["userName"] == "ada@example.com" and made["displayName"] == "Ada L" and made["active"] is True
    assert made["meta"]["location"].endswith(f"/scim/v2/Users/{made['id']}") and made["externalId"] == "okta-1"
    for i in range(3):
        _new_user(client, scim_headers, f"p{i}@example.com", displayName=f"P {i}")
    local = make_user(rt, "local@example.com")  # made outside SCIM: found, linked by filter

    for flt in ('userName eq "ADA@example.com"', 'externalId eq "okta-1"', 'emails.value eq "ada@example.com"'):
        r = _send(client, "GET", "/Users", scim_headers, filter=flt)
        assert r.json()["totalResults"] == 1 and r.json()["Resources"][0]["id"] == made["id"], flt
    r = _send(client, "GET", "/Users", scim_headers, filter='displayName sw "P "')  # evaluated, not looked up
    assert r.json()["totalResults"] == 3
    assert _send(client, "GET", "/Users", scim_headers, filter='userName eq "nobody"').json()["totalResults"] == 0
    r = _send(client, "GET", "/Users", scim_headers, filter=f'userName eq "{local.email}"')
    assert r.json()["Resources"][0]["id"] == local.id
    page = _send(client, "GET", "/Users", scim_headers, startIndex=2, count=2).json()
    assert page["totalResults"] == 5 and page["startIndex"] == 2 and page["itemsPerPage"] == 2
    everyone = _send(client, "GET", "/Users", scim_headers).json()["Resources"]
    assert [u["id"] for u in page["Resources"]] == [u["id"] for u in everyone[1:3]]

    _error(
        _send(client, "POST", "/Users", scim_headers, {"schemas": [USER], "userName": "ada@example.com"}),
        409,
        "uniqueness",
    )
    _error(
        _send(client, "POST", "/Users", scim_headers, {"schemas": [USER], "userName": "not an e-mail"}),
        400,
        "invalidValue",
    )
    _error(_send(client, "GET", "/Users", scim_headers, filter='userName eq "unterminated'), 400, "invalidFilter")
    _error(_send(client, "GET", "/Users/usr_nobody", scim_headers), 404)
    r = client.post("/scim/v2/Users", headers=scim_headers, content=b"{not json")
    _error(r, 400, "invalidSyntax")

    body = {"schemas": [USER], "userName": "ada.l@example.com", "displayName": "Ada Lovelace", "active": True}
    r = _send(client, "PUT", f"/Users/{made['id']}", scim_headers, body)
    assert r.status_code == 200 and r.json()["userName"] == "ada.l@example.com"
    assert r.json()["displayName"] == "Ada Lovelace" and "externalId" not in r.json()  # PUT replaces
    _send(
        client,
        "PATCH",
        f"/Users/{made['id']}",
        scim_headers,
        _patch({"op": "replace", "path": "active", "value": False}),
    )
    body.pop("active")  # a PUT without active keeps the state: it never reactivates by omission
    assert _send(client, "PUT", f"/Users/{made['id']}", scim_headers, body).json()["active"] is False
    body["userName"] = "p0@example.com"
    _error(_send(client, "PUT", f"/Users/{made['id']}", scim_headers, body), 409, "uniqueness")
    assert users.get_user(system(rt), made["id"]).email == "ada.l@example.com"  # nothing half-written


def test_deactivation_through_scim_refuses_the_next_request_and_delete_keeps_history(client, rt, scim_headers):
    side = make_side(rt, "sc", n_tasks=2)
    person = _new_user(client, scim_headers, "worker@example.com", displayName="Worker")
    workspaces.add_member(system(rt), side.workspace_id, person["id"], "annotator")
    token = {"Authorization": f"Bearer {make_token(rt, person['id'])}"}
    assert queue.next_task(as_user(rt, person["id"]), side.project_id) is not None
    assert client.get("/api/v1/me", headers=token).status_code == 200

    r = _send(
        client, "PATCH", f"/Users/{person['id']}", scim_headers, _patch({"op": "replace", "value": {"active": False}})
    )
    assert r.status_code == 200 and r.json()["active"] is False
    assert client.get("/api/v1/me", headers=token).status_code == 401  # the very next request
    actions = _actions(rt, side.workspace_id)
    assert "person.deactivated" in actions and "scim.user_changed" in actions

    entra = _patch(  # as Entra ID sends it: "Replace", a string boolean, an e-mail Bastion derives
        {"op": "Replace", "path": "active", "value": "True"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "worker@example.com"},
        {"op": "Add", "path": "title", "value": "Annotator"},
    )
    r = _send(client, "PATCH", f"/Users/{person['id']}", scim_headers, entra)
    assert r.status_code == 200 and r.json()["active"] is True
    assert client.get("/api/v1/me", headers=token).status_code == 401  # the old token stays revoked

    r = _send(client, "DELETE", f"/Users/{person['id']}", scim_headers)
    assert r.status_code == 204
    _error(_send(client, "GET", f"/Users/{person['id']}", scim_headers), 404)
    _error(_send(client, "DELETE", f"/Users/{person['id']}", scim_headers), 404)
    found = _send(client, "GET", "/Users", scim_headers, filter='userName eq "worker@example.com"').json()
    assert found["totalResults"] == 0
    kept = users.get_user(system(rt), person["id"])  # the row stays, deactivated; so does the history
    assert not kept.is_active and kept.email == "worker@example.com"
    assert "scim.user_deleted" in _actions(rt, side.workspace_id)
    # Creating the e-mail again links the same person anew (no old token comes back).
    again = _new_user(client, scim_headers, "worker@example.com")
    assert again["id"] == person["id"] and again["active"] is True
    assert client.get("/api/v1/me", headers=token).status_code == 401


def test_group_membership_grants_and_removes_workspace_roles(client, rt, scim_headers, monkeypatch):
    side = make_side(rt, "gr", n_tasks=1)
    mapping = {"Labellers": {side.workspace_id: "annotator"}, "Leads": {side.workspace_id: "manager"}}
    monkeypatch.setattr(rt, "settings", rt.settings.model_copy(update={"group_roles": orjson.dumps(mapping).decode()}))
    alice = _new_user(client, scim_headers, "alice@example.com")
    bob = _new_user(client, scim_headers, "bob@example.com")

    def role(user):
        with operator_tx(rt, write=False) as tx:
            return memberships_store.find_role(tx, side.workspace_id, user["id"])

    r = _send(client, "POST", "/Groups", scim_headers, {"schemas": [GROUP], "displayName": "Labellers"})
    assert r.status_code == 201 and r.headers["location"].endswith(r.json()["id"])
    group = r.json()
    _error(
        _send(client, "POST", "/Groups", scim_headers, {"schemas": [GROUP], "displayName": "labellers"}),
        409,
        "uniqueness",
    )
    assert role(alice) is None

    add = _patch({"op": "add", "path": "members", "value": [{"value": alice["id"]}, {"value": bob["id"]}]})
    r = _send(client, "PATCH", f"/Groups/{group['id']}", scim_headers, add)
    assert r.status_code == 200 and {m["value"] for m in r.json()["members"]} == {alice["id"], bob["id"]}
    assert role(alice) == "annotator" and role(bob) == "annotator"
    assert [g["display"] for g in _send(client, "GET", f"/Users/{alice['id']}", scim_headers).json()["groups"]] == [
        "Labellers"
    ]
    found = _send(client, "GET", "/Groups", scim_headers, filter='displayName eq "labellers"').json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == group["id"]

    remove = _patch({"op": "remove", "path": f'members[value eq "{alice["id"]}"]'})
    assert _send(client, "PATCH", f"/Groups/{group['id']}", scim_headers, remove).status_code == 200
    assert role(alice) is None and role(bob) == "annotator"
    assert "member.removed" in _actions(rt, side.workspace_id)

    rename = _patch({"op": "replace", "path": "displayName", "value": "Leads"})
    assert _send(client, "PATCH", f"/Groups/{group['id']}", scim_headers, rename).status_code == 200
    assert role(bob) == "manager"  # the group's new name maps to another role

    carol = _new_user(client, scim_headers, "carol@example.com", active=False)
    join = _patch({"op": "add", "path": "members", "value": [{"value": carol["id"]}]})
    assert _send(client, "PATCH", f"/Groups/{group['id']}", scim_headers, join).status_code == 200
    assert role(carol) is None  # a deactivated person gets no role from a group ...
    assert "member.group_refused" in _actions(rt, side.workspace_id)
    on = _patch({"op": "replace", "path": "active", "value": True})
    assert _send(client, "PATCH", f"/Users/{carol['id']}", scim_headers, on).status_code == 200
    assert role(carol) == "manager"  # ... until they are reactivated

    bad = _patch({"op": "add", "path": "members", "value": [{"value": "usr_nobody"}]})
    _error(_send(client, "PATCH", f"/Groups/{group['id']}", scim_headers, bad), 400, "invalidValue")

    assert _send(client, "DELETE", f"/Groups/{group['id']}", scim_headers).status_code == 204
    assert role(bob) is None  # no group grants a role any more
    _error(_send(client, "GET", f"/Groups/{group['id']}", scim_headers), 404)


def test_discovery_endpoints(client, rt, scim_headers):
    spc = _send(client, "GET", "/ServiceProviderConfig", scim_headers).json()
    assert spc["patch"]["supported"] is True and spc["bulk"]["supported"] is False
    assert spc["filter"] == {"supported": True, "maxResults": 200}
    types = _send(client, "GET", "/ResourceTypes", scim_headers).json()
    assert {t["endpoint"] for t in types["Resources"]} == {"/Users", "/Groups"}
    schemas = _send(client, "GET", "/Schemas", scim_headers).json()["Resources"]
    user_schema = next(s for s in schemas if s["id"] == USER)
    names = {a["name"]: a for a in user_schema["attributes"]}
    assert set(names) == {"userName", "name", "displayName", "active", "emails", "groups"}
    assert names["emails"]["mutability"] == "readOnly"  # derived from userName
    _error(_send(client, "GET", "/Schemas/urn:nope", scim_headers), 404)


def test_the_scim_app_is_made_at_its_first_request(tmp_path):
    # web/app.py mounts /scim/v2 without importing web/scim.py (scim2-models, Lark): a server no
    # identity provider provisions never loads them; the mount's prefix is web/scim.py's own
    import subprocess
    import sys

    from bastion.web import app
    from bastion.web import scim as scim_web

    assert app.SCIM_PREFIX == scim_web.PREFIX
    code = (
        "import sys; from bastion.web.app import create_app; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('scim2_models', 'lark') or m == 'bastion.web.scim'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
