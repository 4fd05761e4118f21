"""No text input carries the NUL character (U+0000) into the database: every one answers a clear 4xx naming it.

PostgreSQL's text cannot hold U+0000, so before this a NUL in a name, an e-mail or a token
name answered 500 there. The inputs are enumerated, so a field or route added tomorrow is
covered the day it lands: every string of every JSON request body (the OpenAPI document's
request schemas must all be reached by the bodies below), every path and query parameter of
the API, every field of every page form, the login form included, and every line of an
import.
"""

from __future__ import annotations

import copy
import re

import pytest
from fastapi.routing import APIRoute

from bastion.services import users, workspaces
from factories import make_side, make_token, make_user, system

NUL = "\x00"
PASSWORD = "a password long enough"
# Parts of the API whose bodies are not JSON request models: multipart uploads (their own reader).
NOT_JSON = {("post", "/api/v1/projects/{project_id}/files")}
IMPORT = ("post", "/api/v1/projects/{project_id}/tasks")
CONFIG = {"type": "classification", "field": "text", "labels": ["pos", "neg"], "instructions": "Read it."}
SETTINGS = {
    "required_skills": {"all": ["history:1"], "any": ["law:1"]},
    "qualification": {"grants": "history:2"},
    "quality": {"review": "sample"},
    "prelabel": {"endpoint": "mep_1", "model": "m", "prompt": "Label it."},
    "required_credentials": [{"kind": "nda", "name": "Acme NDA"}],
}
CREDENTIAL = {
    "person": "annotator.nul@example.com",
    "kind": "nda",
    "name": "Acme NDA",
    "issuer": "Acme",
    "document": "d-1",
}


@pytest.fixture
def world(rt, client):
    """A platform admin who owns a workspace with a task leased and annotated, and every id a route takes."""
    side = make_side(rt, "nul", n_tasks=3)
    boss = make_user(rt, "boss.nul@example.com", admin=True, password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, boss.id, "owner")
    headers = {"Authorization": f"Bearer {make_token(rt, boss.id)}"}
    other = make_side(rt, "rival", n_tasks=0)
    task = client.post(f"/api/v1/projects/{side.project_id}/next", headers=headers).json()
    ann = client.post(f"/api/v1/tasks/{task['id']}/annotations", headers=headers, json={"result": {"label": "pos"}})
    spare = client.post(f"/api/v1/projects/{side.project_id}/next", headers=headers).json()
    group = client.post("/api/v1/conflict-groups", headers=headers, json={"name": "Sector"}).json()
    canary = client.post(
        f"/api/v1/projects/{side.project_id}/canaries",
        headers=headers,
        json={"data": {"text": "{name} {figure} {date} {place}"}},
    ).json()
    token = client.get("/api/v1/tokens", headers=headers).json()[0]
    ids = {
        "workspace_id": side.workspace_id,
        "project_id": side.project_id,
        "task_id": spare["id"],
        "annotation_id": ann.json()["id"],
        "user_id": side.users["annotator"],
        "token_id": token["id"],
        "group_id": group["id"],
        "competitor_id": other.workspace_id,
        "skill": "history",
        "canary_id": canary["id"],
        "file_id": "fil_" + "0" * 32,
    }
    return {"side": side, "boss": boss, "headers": headers, "ids": ids, "other": other}


def _valid_bodies(w) -> dict[tuple[str, str], dict]:
    ids, other = w["ids"], w["other"]
    annotation = {"result": {"label": "pos"}, "lead_time_ms": 5}
    return {
        ("post", "/api/v1/workspaces"): {"name": "Acme", "owner": "boss.nul@example.com"},
        ("post", "/api/v1/workspaces/{workspace_id}/members"): {
            "user": "annotator.rival@example.com",
            "role": "annotator",
            "approval": "apr_1",
            "break_glass": "the client asked",
        },
        ("post", "/api/v1/workspaces/{workspace_id}/approvals"): {
            "kind": "keys.reencrypt",
            "reason": "yearly",
            "params": {"project": ids["project_id"]},
        },
        ("post", "/api/v1/approvals/{approval_id}/approve"): {"note": "checked"},
        ("post", "/api/v1/approvals/{approval_id}/refuse"): {"note": "not now"},
        ("put", "/api/v1/workspaces/{workspace_id}/two-person-approval"): {"enabled": False, "approval": "apr_1"},
        ("post", "/api/v1/me/alerts/read"): {"ids": ["alr_1"]},
        ("post", "/api/v1/workspaces/{workspace_id}/projects"): {"name": "P", "config": CONFIG, "settings": SETTINGS},
        ("post", "/api/v1/workspaces/{workspace_id}/projects/from-label-studio"): {
            "name": "P",
            "label_config": '<View><Text name="t" value="$t"/><TextArea name="a" toName="t"/></View>',
            "settings": SETTINGS,
        },
        ("patch", "/api/v1/projects/{project_id}"): {"name": "Renamed", "config": CONFIG, "settings": SETTINGS},
        ("post", "/api/v1/tasks/{task_id}/annotations"): annotation,
        ("post", "/api/v1/tasks/{task_id}/submit-and-next"): annotation,
        ("post", "/api/v1/me/password"): {"current_password": PASSWORD, "new_password": "another long password"},
        ("post", "/api/v1/tokens"): {"name": "laptop", "scope": "read"},
        ("post", "/api/v1/users"): {"email": "new.nul@example.com", "name": "New", "password": "long enough pw"},
        ("post", "/api/v1/workspaces/{workspace_id}/conflicts"): {"competitor": other.workspace_id},
        ("post", "/api/v1/workspaces/{workspace_id}/exclusions"): {"org": "Acme", "kind": "investor"},
        ("post", "/api/v1/conflict-groups"): {"name": "Sector two"},
        ("post", "/api/v1/conflict-groups/{group_id}/members"): {"workspace_id": other.workspace_id},
        ("post", "/api/v1/users/{user_id}/affiliations"): {"org": "Acme", "kind": "investor"},
        ("post", "/api/v1/users/{user_id}/history"): {
            "workspace_id": other.workspace_id,
            "source": "declared",
            "approved_by": "Jane at the client",
        },
        ("post", "/api/v1/users/{user_id}/skills"): {"skill": "history:3"},
        ("post", "/api/v1/workspaces/{workspace_id}/credentials"): CREDENTIAL,
        ("post", "/api/v1/credentials"): CREDENTIAL,
        ("post", "/api/v1/annotations/{annotation_id}/review"): {
            "decision": "correct",
            "comment": "close",
            "correction": {"label": "neg"},
        },
        ("patch", "/api/v1/projects/{project_id}/me/annotations/{annotation_id}"): {"result": {"label": "neg"}},
        ("post", "/api/v1/projects/{project_id}/canaries"): {"data": {"text": "{name} {figure} {date} {place}"}},
        ("post", "/api/v1/projects/{project_id}/trace"): {"excerpts": ["a leaked text"]},
        IMPORT: [{"data": {"text": "hello"}, "external_id": "e-1", "meta": {"source": "web"}}],
        ("patch", "/api/v1/tasks/{task_id}"): {"priority": 1, "meta": {"source": "web"}},
        ("patch", "/api/v1/projects/{project_id}/tasks"): {
            "filter": {"ids": ["tsk_1"], "external_ids": ["e-1"]},
            "patch": {"meta": {"source": "web"}},
        },
        ("post", "/api/v1/projects/{project_id}/tasks/delete"): {"filter": {"ids": ["tsk_1"], "external_ids": ["e-1"]}},
        ("post", "/api/v1/tasks/{task_id}/assignee"): {"user": "boss.nul@example.com"},
        ("post", "/api/v1/workspaces/{workspace_id}/model-endpoints"): {
            "name": "lab",
            "base_url": "http://models.example/v1",
            "default_model": "m",
            "allowed_hosts": ["models.example"],
            "api_key": "sk-1",
        },
        ("post", "/api/v1/workspaces/{workspace_id}/jobs"): {
            "kind": "search.reindex",
            "params": {"project_id": ids["project_id"]},
        },
        ("post", "/api/v1/projects/{project_id}/prelabel"): {"chunk": 20},
        ("put", "/api/v1/workspaces/{workspace_id}/pay/settings"): {"currency": "EUR"},
        ("post", "/api/v1/workspaces/{workspace_id}/pay/rates"): {
            "task_type": "classification",
            "project_id": ids["project_id"],
            "per_task": 1,
        },
        ("post", "/api/v1/workspaces/{workspace_id}/pay/statements"): {
            "user_id": ids["user_id"],
            "period_start": 0,
            "period_end": 1,
        },
        ("post", "/api/v1/workspaces/{workspace_id}/webhooks"): {
            "url": "https://hooks.example/bastion",
            "events": ["tasks.imported"],
            "allowed_hosts": ["hooks.example"],
        },
        ("post", "/api/v1/projects/{project_id}/guidelines"): {"body": "Rules.", "requires_ack": True},
        ("post", "/api/v1/projects/{project_id}/guidelines/acknowledge"): {"version": 1},
        ("post", "/api/v1/projects/{project_id}/questions/{question_id}/promote"): {
            "question": "q?",
            "answer": "a.",
            "requires_ack": True,
        },
        ("patch", "/api/v1/model-endpoints/{endpoint_id}"): {
            "name": "lab",
            "base_url": "http://models.example/v1",
            "default_model": "m",
            "allowed_hosts": ["models.example"],
            "api_key": "sk-1",
        },
    }


def _url(path: str, ids: dict, nul_in: str | None = None) -> str:
    """The path with real ids (a parameter this test does not know gets a made-up one: its NUL is refused
    before any lookup)."""
    for name in re.findall(r"{(\w+)}", path):
        path = path.replace("{" + name + "}", ids.get(name, f"{name}_1") + ("%00" if name == nul_in else ""))
    return path


def _routes(router):
    """Every route of a router, through the routers included in it."""
    for route in router.routes:
        inner = getattr(route, "original_router", None)
        yield from _routes(inner) if inner is not None else [route]


def _strings(value, path=""):
    """(path, value) of every string in a JSON value; list indexes written [i]."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")


def _with_nul(value, path: str):
    """A copy of ``value`` with a NUL put inside the string at ``path``."""
    out = copy.deepcopy(value)
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    holder = out
    for part in parts[:-1]:
        holder = holder[int(part[1:-1])] if part.startswith("[") else holder[part]
    last = parts[-1]
    key = int(last[1:-1]) if last.startswith("[") else last
    holder[key] = holder[key][:1] + NUL + holder[key][1:]
    return out


def _schema_strings(schema, spec, path="") -> set[str]:
    """Every string field a request schema declares (lists as [])."""
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    found = set()
    for option in schema.get("anyOf", []):
        found |= _schema_strings(option, spec, path)
    if schema.get("type") == "string":
        found.add(path)
    if schema.get("type") == "array" and "items" in schema:
        found |= _schema_strings(schema["items"], spec, f"{path}[]")
    for name, sub in schema.get("properties", {}).items():
        found |= _schema_strings(sub, spec, f"{path}.{name}" if path else name)
    return found


def _names_it(r, field: str) -> bool:
    return field in r.text and "NUL" in r.text


def _json_operations(spec):
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if "requestBody" in op and (method, path) not in NOT_JSON:
                yield method, path, op["requestBody"]["content"]


def test_every_string_of_every_request_body_refuses_nul(client, rt, world):
    spec = client.get("/api/v1/openapi.json").json()
    bodies = _valid_bodies(world)
    wrong, checked = [], 0
    for method, path, content in _json_operations(spec):
        assert (method, path) in bodies, f"no valid body for {method.upper()} {path}: add one to this test"
        body = bodies[(method, path)]
        declared = _schema_strings(content["application/json"]["schema"], spec)
        reached = {re.sub(r"\[\d+\]", "[]", p) for p, _ in _strings(body)}
        assert declared <= reached, f"{method.upper()} {path}: the body reaches no string at {declared - reached}"
        for where, _ in _strings(body):
            r = client.request(
                method.upper(), _url(path, world["ids"]), headers=world["headers"], json=_with_nul(body, where)
            )
            checked += 1
            top = re.split(r"[.\[]", where)[0] if (method, path) != IMPORT else re.sub(r"^\[\d+\]\.?", "", where)
            if (method, path) == IMPORT:  # an import reports bad lines, naming them, and stores none of them
                ok = r.status_code == 200 and r.json()["imported"] == 0 and _names_it(r, top)
            else:
                ok = r.status_code in (400, 422) and _names_it(r, top)
            if not ok:
                wrong.append(f"{method.upper()} {path} with NUL at {where}: {r.status_code} {r.text[:160]}")
    assert checked > 40
    assert not wrong, "\n".join(wrong)


def test_nul_in_free_form_json_keys_is_refused(client, world):
    config = {**CONFIG, "lab\x00els": ["pos"]}
    r = client.post(
        f"/api/v1/workspaces/{world['ids']['workspace_id']}/projects",
        headers=world["headers"],
        json={"name": "P", "config": config},
    )
    assert r.status_code == 422 and _names_it(r, "config")


def test_every_path_and_query_parameter_refuses_nul(client, world):
    spec = client.get("/api/v1/openapi.json").json()
    wrong, checked = [], 0
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            params = op.get("parameters", [])
            required = {
                p["name"]: ("1" if p["schema"].get("type") == "integer" else "x")
                for p in params
                if p["in"] == "query" and p.get("required")
            }
            for p in params:
                if p["in"] == "path":
                    url, query = _url(path, world["ids"], nul_in=p["name"]), required
                elif p["in"] == "query":
                    url, query = _url(path, world["ids"]), {**required, p["name"]: "a" + NUL}
                else:
                    continue
                r = client.request(method.upper(), url, headers=world["headers"], params=query)
                checked += 1
                if r.status_code not in (400, 422) or not _names_it(r, p["name"]):
                    wrong.append(
                        f"{method.upper()} {path} with NUL in {p['in']} {p['name']}: {r.status_code} {r.text[:160]}"
                    )
    assert checked > 60
    assert not wrong, "\n".join(wrong)


def _page_forms(w, csrf: str) -> dict[str, dict[str, str]]:
    ids = w["ids"]
    return {
        "/login": {"email": "boss.nul@example.com", "password": PASSWORD, "csrf_token": csrf, "next": "/"},
        "/logout": {"csrf_token": csrf},
        "/projects/{project_id}/label": {
            "csrf_token": csrf,
            "task_id": ids["task_id"],
            "label": "pos",
            "lead_time_ms": "1",
            "pasted_chars": "0",
        },
        "/projects/{project_id}/skip": {"csrf_token": csrf, "task_id": ids["task_id"]},
        "/projects/{project_id}/ask": {"csrf_token": csrf, "task_id": ids["task_id"], "text": "why?", "keep": "yes"},
        "/projects/{project_id}/mine/{annotation_id}/edit": {"csrf_token": csrf, "label": "neg"},
        "/projects/{project_id}/questions/{question_id}/answer": {"csrf_token": csrf, "answer": "so", "state": "open"},
        "/projects/{project_id}/questions/{question_id}/promote": {
            "csrf_token": csrf,
            "question": "q?",
            "answer": "a.",
            "minor": "yes",
        },
        "/projects/{project_id}/guidelines": {"csrf_token": csrf, "body": "Rules.", "minor": "yes"},
        "/projects/{project_id}/guidelines/acknowledge": {"csrf_token": csrf, "version": "1"},
        "/projects/{project_id}/review": {
            "csrf_token": csrf,
            "annotation_id": ids["annotation_id"],
            "decision": "reject",
            "comment": "not quite",
            "label": "neg",  # a correction comes from the widget's own fields
        },
        "/workspaces/{workspace_id}/walls": {
            "csrf_token": csrf,
            "action": "add-exclusion",
            "org": "Acme",
            "kind": "investor",
            "competitor": "",
            "cooling_off_days": "",
        },
        "/workspaces/{workspace_id}/config-check": {"csrf_token": csrf, "config": '{"type": "classification"}'},
        "/workspaces/{workspace_id}/projects/new": {
            "csrf_token": csrf,
            "name": "New",
            "config": '{"type": "classification", "labels": ["a"]}',
            "template": "spans",
        },
        "/projects/{project_id}/settings": {
            "csrf_token": csrf,
            "form": "config",
            "config": '{"type": "x"}',
            "text": "{}",
        },
        "/workspaces/{workspace_id}/members": {
            "csrf_token": csrf,
            "action": "add",
            "email": "someone@example.com",
            "role": "annotator",
            "approval": "apr_1",
            "user": "usr_1",
        },
        "/workspaces/{workspace_id}/credentials": {
            "csrf_token": csrf,
            "action": "add",
            "email": "annotator.nul@example.com",
            "kind": "nda",
            "name": "Acme NDA",
            "issuer": "Acme",
            "issued": "2026-01-01",
            "expires": "2099-01-01",
            "document": "d-1",
            "credential": "crd_1",
        },
        "/workspaces/{workspace_id}/approvals": {
            "csrf_token": csrf,
            "action": "request",
            "kind": "keys.rotate",
            "params": "",
            "reason": "yearly",
            "approval": "apr_1",
            "note": "x",
        },
    }


# Page forms that upload a file (multipart, read by their own upload reader).
MULTIPART_PAGES = {"/projects/{project_id}/import"}
PAGE_QUERIES = {
    "/login": "next",
    "/workspaces/{workspace_id}/walls": "person",
    "/projects/{project_id}/tasks": "cursor",
    "/workspaces/{workspace_id}/projects/new": "template",
    "/projects/{project_id}/settings": "saved",
    "/workspaces/{workspace_id}/members": "done",
    "/workspaces/{workspace_id}/credentials": "done",
}


def test_every_page_form_field_and_query_refuses_nul(client, rt, world):
    secret, csrf = users.create_session(rt, world["boss"])
    client.cookies.set("bastion_session", secret)
    client.cookies.set("bastion_login_csrf", csrf)
    known = _page_forms(world, csrf)
    posted = {
        r.path
        for r in _routes(client.app.router)
        if isinstance(r, APIRoute) and not r.include_in_schema and "POST" in r.methods
    }
    assert set(known) <= posted
    # Every page form is posted to: those above with their fields, any other with its CSRF token.
    forms = {path: known.get(path, {"csrf_token": csrf}) for path in sorted(posted - MULTIPART_PAGES)}
    wrong = []
    for path, fields in forms.items():
        for name in fields:
            data = {**fields, name: fields[name][:1] + NUL + fields[name][1:]}
            r = client.post(
                _url(path, world["ids"]), data=data, follow_redirects=False, headers={"Accept": "text/html"}
            )
            if r.status_code not in (400, 422) or not _names_it(r, name):
                wrong.append(f"POST {path} with NUL in {name}: {r.status_code} {r.text[:120]}")
    for path, name in PAGE_QUERIES.items():
        r = client.get(_url(path, world["ids"]), params={name: "a" + NUL}, headers={"Accept": "text/html"})
        if r.status_code not in (400, 422) or not _names_it(r, name):
            wrong.append(f"GET {path}?{name}=NUL: {r.status_code} {r.text[:120]}")
    assert not wrong, "\n".join(wrong)
    client.cookies.clear()


def test_imports_refuse_nul_in_every_format(client, world):
    pid, headers = world["ids"]["project_id"], world["headers"]
    bodies = {
        "application/x-ndjson": b'{"data": {"text": "fine"}}\n{"data": {"text": "bad\\u0000"}}\n'
        b'{"data": {"text": "ok"}, "external_id": "x\\u0000"}\n',
        "text/csv": b"text,external_id\nfine in csv,a\nbad\x00,b\n",
        "application/json": b'[{"data": {"text": "fine in json"}}, {"data": {"te\\u0000xt": "bad"}}]',
    }
    for media, body in bodies.items():
        r = client.post(f"/api/v1/projects/{pid}/tasks", headers={**headers, "Content-Type": media}, content=body)
        assert r.status_code == 200, (media, r.text)
        report = r.json()
        assert report["imported"] == 1 and report["rejected_count"] == len(report["rejected"]) >= 1, (media, report)
        assert all(
            "NUL" in x["error"] and "data" in x["error"] or "external_id" in x["error"] for x in report["rejected"]
        ), report
    # A backslash before "u0000" is text, not a NUL: it imports.
    r = client.post(
        f"/api/v1/projects/{pid}/tasks",
        headers={**headers, "Content-Type": "application/x-ndjson"},
        content=b'{"data": {"text": "a path C:\\\\u0000 stays"}}\n',
    )
    assert r.json()["imported"] == 1


def test_stored_json_with_escaped_nul_text_round_trips(client, world):
    """Text that spells \\u0000 (a backslash, not a NUL) is ordinary content on both databases."""
    r = client.post(
        f"/api/v1/workspaces/{world['ids']['workspace_id']}/projects",
        headers=world["headers"],
        json={"name": "Escapes \\u0000", "config": {**CONFIG, "instructions": "Type \\u0000 as is."}},
    )
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "Escapes \\u0000"
    got = client.get(f"/api/v1/projects/{r.json()['id']}", headers=world["headers"]).json()
    assert got["config"]["instructions"] == "Type \\u0000 as is."
