"""Project set-up in the browser: a new project from a template or from scratch, the config editor's
check (errors by path, a live preview on sample data), and a project's settings forms."""

from __future__ import annotations

import html
import re

import orjson
import pytest
from sqlalchemy import func, select

from bastion.services import content, model_endpoints, projects, users, workspaces
from bastion.storage import schema
from bastion.tasktypes import installed
from factories import ROLES, as_user, make_side, make_user, operator_tx, system

PASSWORD = "setup pages password"
HTML = {"Accept": "text/html"}
GOOD = {"type": "classification", "labels": ["pos", {"value": "neg", "hotkey": "n"}], "instructions": "Read **it**."}
BAD_HOTKEY = {
    "type": "classification",
    "labels": ["pos", {"value": "neg", "hotkey": "x"}, {"value": "mid", "hotkey": "x"}],
}


def _member(rt, side, role, tag="m"):
    """A member in ``role`` who has opened the workspace, signed in: (user, csrf)."""
    person = make_user(rt, f"{role}.{tag}.{side.workspace_id[-6:]}@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, person.id, role)
    content.open_workspace(as_user(rt, person.id), side.workspace_id)
    return person


def _sign_in(client, rt, person) -> str:
    secret, csrf = users.create_session(rt, users.authenticate(rt, person.email, PASSWORD))
    client.cookies.set("bastion_session", secret)
    return csrf


def _text(response) -> str:
    """The page's text as read: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", response.text))


def _counts(rt) -> dict[str, int]:
    """Rows per table (the audit log's and the sessions' aside): what a refused or read-only call must not change."""
    skip = {"audit_events", "audit_heads", "audit_nodes", "audit_checkpoints", "audit_queue", "web_sessions"}
    with operator_tx(rt, write=False) as tx:
        return {
            t.name: tx.execute(select(func.count()).select_from(t)).scalar_one()
            for t in schema.metadata.sorted_tables
            if t.name not in skip
        }


def _project_ids(rt, workspace_id) -> list[str]:
    return [p.id for p in projects.list_project_summaries(system(rt), workspace_id)]


def test_owner_creates_a_project_from_a_template_and_from_scratch(client, rt):
    side = make_side(rt, "new", 1)
    owner = _member(rt, side, "owner")
    csrf = _sign_in(client, rt, owner)
    home = client.get("/", headers=HTML)
    assert f'href="/workspaces/{side.workspace_id}/projects/new"' in home.text
    assert f'href="/workspaces/{side.workspace_id}/members"' in home.text

    page = client.get(f"/workspaces/{side.workspace_id}/projects/new", params={"template": "spans"}, headers=HTML)
    assert page.status_code == 200
    text = html.unescape(re.search(r'<textarea id="config-text"[^>]*>(.*?)</textarea>', page.text, re.S).group(1))
    assert orjson.loads(text) == installed().get("spans").template  # the template, ready to edit
    assert 'id="config-preview"' in page.text and "Ada Lovelace" in page.text  # spans' sample item, previewed
    assert "disabled>Submit" in page.text
    # Every installed type's template is offered.
    for tt in installed():
        assert f'<option value="{tt.name}"' in page.text
    bad = client.get(f"/workspaces/{side.workspace_id}/projects/new", params={"template": "nope"}, headers=HTML)
    assert bad.status_code == 422 and "template" in bad.text

    before = set(_project_ids(rt, side.workspace_id))
    r = client.post(
        f"/workspaces/{side.workspace_id}/projects/new",
        data={"csrf_token": csrf, "name": "Entities", "config": text, "template": "spans"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    made = set(_project_ids(rt, side.workspace_id)) - before
    assert len(made) == 1 and r.headers["location"] == f"/projects/{made.pop()}"

    r = client.post(
        f"/workspaces/{side.workspace_id}/projects/new",
        data={"csrf_token": csrf, "name": "From scratch", "config": orjson.dumps(GOOD).decode()},
        follow_redirects=False,
    )
    assert r.status_code == 303
    project = projects.get_project(system(rt), r.headers["location"].rsplit("/", 1)[1])
    assert project.name == "From scratch" and project.task_type == "classification"
    assert [label["value"] for label in project.config["labels"]] == ["pos", "neg"]
    # The project page offers its settings to whoever may change them.
    assert 'id="settings-link"' in client.get(f"/projects/{project.id}", headers=HTML).text
    client.cookies.clear()


def test_a_refused_project_leaves_nothing_behind(client, rt):
    side = make_side(rt, "ref", 1)
    owner = _member(rt, side, "owner")
    csrf = _sign_in(client, rt, owner)
    before = _counts(rt)
    url = f"/workspaces/{side.workspace_id}/projects/new"
    cases = [
        ({"name": "X", "config": '{"type": "classification", "labels": ["a",]}'}, "line 1, column"),
        ({"name": "X", "config": orjson.dumps(BAD_HOTKEY).decode()}, "labels[2].hotkey"),
        ({"name": "X", "config": ""}, "config"),
        ({"name": "   ", "config": orjson.dumps(GOOD).decode()}, "name: required"),
        ({"name": "X", "config": '{"type": "nope"}'}, "type"),
        ({"name": "X", "config": "[1, 2]"}, "config: must be a JSON object"),
    ]
    for fields, named in cases:
        r = client.post(url, data={"csrf_token": csrf, **fields}, headers=HTML, follow_redirects=False)
        assert r.status_code == 422, (fields, r.status_code)
        assert named in _text(r), (fields, _text(r)[:2000])
        assert fields["config"] in _text(r)  # what was typed is kept
    # No CSRF token: refused, nothing made.
    r = client.post(url, data={"name": "X", "config": orjson.dumps(GOOD).decode()}, follow_redirects=False)
    assert r.status_code == 403
    assert _counts(rt) == before
    assert len(_project_ids(rt, side.workspace_id)) == 1
    client.cookies.clear()


def test_the_check_names_paths_previews_and_changes_nothing(client, rt):
    side = make_side(rt, "chk", 1)
    endpoints = [  # the chat template names the workspace's model endpoints
        model_endpoints.create_endpoint(
            side.ctx(rt, "owner"),
            side.workspace_id,
            name=f"model {n}",
            base_url="http://127.0.0.1:9/v1",
            default_model="m",
            allowed_hosts=["127.0.0.1:9"],
        )["id"]
        for n in (1, 2)
    ]
    manager = _member(rt, side, "manager")
    csrf = _sign_in(client, rt, manager)
    url = f"/workspaces/{side.workspace_id}/config-check"
    hx = {"HX-Request": "true"}
    before = _counts(rt)
    r = client.post(url, data={"csrf_token": csrf, "config": orjson.dumps(BAD_HOTKEY).decode()}, headers=hx)
    assert r.status_code == 200
    assert '<code class="path">labels[2].hotkey</code>' in r.text and "duplicate key" in _text(r)
    assert "config-preview" not in r.text  # an invalid config leaves the last good preview where it is
    r = client.post(url, data={"csrf_token": csrf, "config": '{"type": "classification", "labels": ["a" "b"]}'})
    assert "line 1, column" in r.text
    extra = {**GOOD, "labelz": []}
    assert (
        '<code class="path">labelz</code>: unknown key'
        in client.post(url, data={"csrf_token": csrf, "config": orjson.dumps(extra).decode()}).text
    )

    r = client.post(url, data={"csrf_token": csrf, "config": orjson.dumps(GOOD).decode()}, headers=hx)
    assert r.status_code == 200 and 'id="config-valid"' in r.text
    preview = r.text[r.text.index('id="config-preview"') :]
    assert 'hx-swap-oob="true"' in r.text
    assert 'value="neg"' in preview and "<kbd>n</kbd>" in preview and "<strong>it</strong>" in preview
    assert "<form" not in preview and "disabled>Submit" in preview  # inert: nothing in it posts
    # A managers' check says the owners' sections are not theirs to set.
    sections = {**GOOD, "leak_tracing": {"overlay": False}}
    r = client.post(url, data={"csrf_token": csrf, "config": orjson.dumps(sections).decode()})
    assert '<code class="path">leak_tracing</code>: only the workspace' in r.text
    # Every built-in template previews on its own sample item.
    for tt in installed():
        if tt.template:
            template = tt.template
            if tt.name == "chat":  # its placeholders are no endpoints of this workspace: said so, by path
                r = client.post(url, data={"csrf_token": csrf, "config": orjson.dumps(template).decode()})
                assert '<code class="path">models[0].endpoint</code>' in r.text, r.text
                template = {**template, "models": [{"endpoint": e, "label": n} for e, n in zip(endpoints, "AB")]}
            r = client.post(url, data={"csrf_token": csrf, "config": orjson.dumps(template).decode()})
            assert 'id="config-valid"' in r.text and f'data-task-type="{tt.name}"' in r.text, tt.name
    r = client.post(url, data={"csrf_token": csrf, "config": orjson.dumps(installed().get("image").template).decode()})
    assert 'src="/static/tasktypes/image/sample.svg"' in r.text
    assert client.get("/static/tasktypes/image/sample.svg").status_code == 200
    assert _counts(rt) == before
    # No CSRF token, a wrong one: refused.
    assert client.post(url, data={"config": orjson.dumps(GOOD).decode()}).status_code == 403
    assert client.post(url, data={"csrf_token": "x", "config": "{}"}).status_code == 403
    client.cookies.clear()


@pytest.mark.parametrize("role", ROLES)
def test_only_owners_and_managers_set_projects_up(client, rt, role):
    side, other = make_side(rt, f"r{role[:3]}", 1), make_side(rt, f"o{role[:3]}", 1)
    person = _member(rt, side, role)
    csrf = _sign_in(client, rt, person)
    may = role in ("owner", "manager")
    expected = 200 if may else 403
    config = orjson.dumps(GOOD).decode()
    assert client.get(f"/workspaces/{side.workspace_id}/projects/new", headers=HTML).status_code == expected
    r = client.post(f"/workspaces/{side.workspace_id}/config-check", data={"csrf_token": csrf, "config": config})
    assert r.status_code == expected
    r = client.post(
        f"/workspaces/{side.workspace_id}/projects/new",
        data={"csrf_token": csrf, "name": "Mine", "config": config},
        follow_redirects=False,
    )
    assert r.status_code == (303 if may else 403)
    assert client.get(f"/projects/{side.project_id}/settings", headers=HTML).status_code == expected
    r = client.post(
        f"/projects/{side.project_id}/settings",
        data={"csrf_token": csrf, "form": "config", "config": config},
        follow_redirects=False,
    )
    assert r.status_code == (303 if may else 403)
    home = client.get("/", headers=HTML).text
    assert (f"/workspaces/{side.workspace_id}/projects/new" in home) is may
    assert ('id="settings-link"' in client.get(f"/projects/{side.project_id}", headers=HTML).text) is may
    # Another workspace, its project: as if they did not exist.
    assert client.get(f"/workspaces/{other.workspace_id}/projects/new", headers=HTML).status_code == 404
    r = client.post(f"/workspaces/{other.workspace_id}/config-check", data={"csrf_token": csrf, "config": config})
    assert r.status_code == 404
    r = client.post(
        f"/workspaces/{other.workspace_id}/projects/new", data={"csrf_token": csrf, "name": "X", "config": config}
    )
    assert r.status_code == 404
    assert client.get(f"/projects/{other.project_id}/settings", headers=HTML).status_code == 404
    r = client.post(
        f"/projects/{other.project_id}/settings", data={"csrf_token": csrf, "form": "config", "config": config}
    )
    assert r.status_code == 404
    assert len(_project_ids(rt, other.workspace_id)) == 1
    client.cookies.clear()


def _settings_form(csrf, **changes) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "form": "settings",
        "name": "Renamed",
        "overlap": "3",
        "lease_seconds": "600",
        "idle_after_s": "90",
        "priority": "5",
        "max_tasks_per_person": "",
        "max_tasks_per_day": "40",
        "required_skills.all": "history:3, law",
        "required_skills.any": "",
        "quality.gold_rate": "0.1",
        "quality.gold_feedback": "on",
        "quality.pause_below": "",
        "quality.pause_after": "10",
        "quality.review": "sample",
        "quality.review_fraction": "0.25",
        "qualification.grants": "",
        "qualification.pass_score": "0.8",
        "qualification.retake_after_days": "7",
    }
    form.update(changes)
    return form


def test_settings_forms_save_and_name_each_bad_field(client, rt):
    side = make_side(rt, "set", 2)
    manager = _member(rt, side, "manager")
    csrf = _sign_in(client, rt, manager)
    page = client.get(f"/projects/{side.project_id}/settings", headers=HTML)
    assert page.status_code == 200
    assert 'name="quality.gold_rate" value="0.0"' in page.text and 'name="overlap" value="1"' in page.text
    assert 'id="config-preview"' in page.text  # the project's own config, previewed on sample data
    assert 'id="redaction-form"' not in page.text  # the need-to-know sections are the owners'

    url = f"/projects/{side.project_id}/settings"
    before = projects.get_project(system(rt), side.project_id)
    r = client.post(url, data=_settings_form(csrf, **{"quality.gold_rate": "2", "overlap": "many"}), headers=HTML)
    assert r.status_code == 422
    text = html.unescape(r.text)
    assert "Gold rate (quality.gold_rate): Input should be less than or equal to 1" in text
    assert "(overlap): Input should be a valid integer" in text
    assert 'id="f-quality-gold_rate" name="quality.gold_rate" value="2"' in r.text  # what was typed is kept
    after = projects.get_project(system(rt), side.project_id)
    assert (after.name, after.settings, after.updated_at) == (before.name, before.settings, before.updated_at)
    r = client.post(url, data=_settings_form(csrf, **{"required_skills.all": "Not A Skill"}), headers=HTML)
    assert r.status_code == 422 and "required_skills.all" in r.text
    r = client.post(url, data=_settings_form(csrf, idle_after_s="2"), headers=HTML)
    assert r.status_code == 422 and "(idle_after_s): Input should be greater than or equal to 5" in html.unescape(
        r.text
    )

    r = client.post(url, data=_settings_form(csrf), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?saved=settings")
    saved = projects.get_project(system(rt), side.project_id)
    s = saved.settings
    assert saved.name == "Renamed" and (s.overlap, s.lease_seconds, s.priority, s.idle_after_s) == (3, 600, 5, 90)
    assert (s.max_tasks_per_person, s.max_tasks_per_day) == (None, 40)
    assert s.required_skills.all == ["history:3", "law"] and s.quality.gold_feedback is True
    assert (s.quality.gold_rate, s.quality.review, s.quality.review_fraction) == (0.1, "sample", 0.25)
    assert s.qualification is None
    assert "Settings saved." in client.get(r.headers["location"], headers=HTML).text
    # A qualification test, then no longer one.
    r = client.post(url, data=_settings_form(csrf, **{"qualification.grants": "history:2"}), follow_redirects=False)
    assert r.status_code == 303
    assert projects.get_project(system(rt), side.project_id).settings.qualification.grants == "history:2"
    client.post(url, data=_settings_form(csrf), follow_redirects=False)
    assert projects.get_project(system(rt), side.project_id).settings.qualification is None
    r = client.post(url, data={"csrf_token": csrf, "form": "nope"}, headers=HTML)
    assert r.status_code == 422 and "form" in r.text
    client.cookies.clear()


def test_the_config_editor_of_a_project(client, rt):
    side = make_side(rt, "cfg", 2)
    owner, manager = _member(rt, side, "owner", "o"), _member(rt, side, "manager", "g")
    url = f"/projects/{side.project_id}/settings"
    csrf = _sign_in(client, rt, owner)
    # Owners: the need-to-know sections in forms of their own.
    r = client.post(url, data={"csrf_token": csrf, "form": "leak_tracing", "text": '{"canary_rate": 0.9}'})
    assert r.status_code == 422 and "leak_tracing.canary_rate" in r.text
    r = client.post(url, data={"csrf_token": csrf, "form": "leak_tracing", "text": '{"overlay": false'})
    assert r.status_code == 422 and "leak_tracing: not valid JSON" in _text(r)
    r = client.post(
        url, data={"csrf_token": csrf, "form": "leak_tracing", "text": '{"overlay": false}'}, follow_redirects=False
    )
    assert r.status_code == 303
    assert projects.get_project(system(rt), side.project_id).config["leak_tracing"] == {"overlay": False}
    page = client.get(url, headers=HTML).text
    assert (
        'id="leak_tracing-form"' in page
        and "leak_tracing" not in page.split('id="config-text"')[1].split("</textarea>")[0]
    )

    # A manager saves a new config: the owners' section stays.
    csrf = _sign_in(client, rt, manager)
    new = {"type": "classification", "labels": ["pos", "neg", "unsure"]}
    r = client.post(url, data={"csrf_token": csrf, "form": "config", "config": orjson.dumps(BAD_HOTKEY).decode()})
    assert r.status_code == 422 and '<code class="path">labels[2].hotkey</code>' in r.text
    assert [lab["value"] for lab in projects.get_project(system(rt), side.project_id).config["labels"]] == [
        "pos",
        "neg",
        "neutral",
    ]
    r = client.post(
        url, data={"csrf_token": csrf, "form": "config", "config": orjson.dumps(new).decode()}, follow_redirects=False
    )
    assert r.status_code == 303
    stored = projects.get_project(system(rt), side.project_id).config
    assert [lab["value"] for lab in stored["labels"]] == ["pos", "neg", "unsure"]
    assert stored["leak_tracing"] == {"overlay": False}
    # Changing the task type once there are tasks: refused, named, nothing written.
    other = {"type": "writing"}
    r = client.post(url, data={"csrf_token": csrf, "form": "config", "config": orjson.dumps(other).decode()})
    assert r.status_code == 422 and "task type cannot change" in r.text
    assert projects.get_project(system(rt), side.project_id).task_type == "classification"
    # The sections are not a manager's: not through their form, nor by nulling them in a config.
    r = client.post(url, data={"csrf_token": csrf, "form": "redaction", "text": "{}"})
    assert r.status_code == 403
    assert "redaction" not in projects.get_project(system(rt), side.project_id).config
    projects.update_project(as_user(rt, manager.id), side.project_id, config={**new, "leak_tracing": None})
    assert projects.get_project(system(rt), side.project_id).config["leak_tracing"] == {"overlay": False}

    # The owner's config editor keeps the sections too; an emptied section form removes its section.
    csrf = _sign_in(client, rt, owner)
    r = client.post(
        url, data={"csrf_token": csrf, "form": "config", "config": orjson.dumps(GOOD).decode()}, follow_redirects=False
    )
    assert r.status_code == 303
    assert projects.get_project(system(rt), side.project_id).config["leak_tracing"] == {"overlay": False}
    r = client.post(url, data={"csrf_token": csrf, "form": "leak_tracing", "text": "  "}, follow_redirects=False)
    assert r.status_code == 303
    stored = projects.get_project(system(rt), side.project_id).config
    assert "leak_tracing" not in stored and [lab["value"] for lab in stored["labels"]] == ["pos", "neg"]
    client.cookies.clear()


def test_a_project_of_a_workspace_not_opened_yet_asks_to_open_it(client, rt):
    side = make_side(rt, "fst", 1)
    person = make_user(rt, "fresh.owner@example.com", password=PASSWORD)
    workspaces.add_member(system(rt), side.workspace_id, person.id, "owner")
    _sign_in(client, rt, person)
    page = client.get(f"/projects/{side.project_id}/settings", headers=HTML)
    assert page.status_code == 200 and 'id="open-workspace"' in page.text  # a page view binds nobody
    # The new-project page shows no client data: it opens without binding.
    assert client.get(f"/workspaces/{side.workspace_id}/projects/new", headers=HTML).status_code == 200
    client.cookies.clear()
