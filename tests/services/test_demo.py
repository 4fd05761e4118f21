"""``bastion demo``'s data: two competing clients behind a wall with an annotator in both, the
logins kept in a 0600 file of the data directory, per-person wording variants off, and a
second run that changes nothing."""

from __future__ import annotations

import json
import stat

import pytest

from bastion.access import WallDenied
from bastion.demo import CONTOSO, LOGINS_FILE, NORTHWIND, WORKSPACE, setup_demo
from bastion.services import content, projects, queue, users, workforce, workspaces
from factories import as_user, system


@pytest.fixture
def db_kind():
    return "sqlite"  # the demo runs on SQLite; storage is covered on both elsewhere


def _spaces(rt) -> dict[str, str]:
    return {w.name: w.id for w in workspaces.list_workspaces(system(rt))}


def _project(rt, workspace_id: str):
    (project,) = projects.list_projects(system(rt), workspace_id)
    return project


def test_demo_logins_file_is_private_names_everyone_and_survives_a_second_run(rt):
    logins = setup_demo(rt)
    path = rt.settings.data_dir / LOGINS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    for login in logins:
        line = next(x for x in text.splitlines() if x.startswith(login.email))
        assert line.split()[1] == login.password
        assert users.authenticate(rt, login.email, login.password) is not None
    ana = next(login for login in logins if login.email == "ana@example.com")
    assert NORTHWIND in ana.role and CONTOSO in ana.role
    counts = {
        name: [p.counts.tasks for p in projects.list_projects(system(rt), ws)] for name, ws in _spaces(rt).items()
    }
    again = setup_demo(rt)
    assert [(x.email, x.password) for x in again] == [(x.email, x.password) for x in logins]
    assert {
        name: [p.counts.tasks for p in projects.list_projects(system(rt), ws)] for name, ws in _spaces(rt).items()
    } == counts


def test_an_older_json_logins_file_keeps_its_passwords_and_gains_the_new_people(rt):
    path = rt.settings.data_dir / LOGINS_FILE
    path.write_text(json.dumps({"manager@example.com": "kept-password-1"}))
    path.chmod(0o644)
    logins = {x.email: x.password for x in setup_demo(rt)}
    assert logins["manager@example.com"] == "kept-password-1"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "nora@example.com" in path.read_text() and "kept-password-1" in path.read_text()


def test_ana_works_for_one_client_and_the_other_is_walled_off_with_its_reason(rt):
    setup_demo(rt)
    spaces = _spaces(rt)
    assert {WORKSPACE, NORTHWIND, CONTOSO} <= set(spaces)
    walls = workforce.list_conflicts(system(rt), spaces[NORTHWIND])
    assert [w["competitor"] for w in walls] == [spaces[CONTOSO]]
    ana = as_user(rt, users.find_user_by_email(system(rt), "ana@example.com").id)
    both = [spaces[NORTHWIND], spaces[CONTOSO]]
    assert set(content.wall_states(ana, both).values()) == {content.CHOOSE}
    assert queue.next_task(ana, _project(rt, spaces[NORTHWIND]).id) is not None
    with pytest.raises(WallDenied) as refused:
        queue.next_task(ana, _project(rt, spaces[CONTOSO]).id)
    message = refused.value.message
    assert f"you have worked on {NORTHWIND} since" in message and CONTOSO in message
    assert content.wall_refusals(ana, both) == {spaces[CONTOSO]: message}


def test_demo_projects_show_the_text_as_imported(rt):
    setup_demo(rt)
    spaces = _spaces(rt)
    owner = system(rt)
    for workspace_id in spaces.values():
        for summary in projects.list_projects(owner, workspace_id):
            config = projects.get_project(owner, summary.id).config
            assert config["leak_tracing"]["variants"]["enabled"] is False, summary.name
    # What Ana is shown is the item as imported, word for word.
    preference = next(p for p in projects.list_projects(owner, spaces[WORKSPACE]) if p.task_type == "preference")
    ana = as_user(rt, users.find_user_by_email(owner, "ana@example.com").id)
    shown = queue.next_task(ana, preference.id)
    from bastion.demo import DATA

    imported = {
        item["external_id"]: item["data"]
        for item in map(json.loads, (DATA / "preference.jsonl").read_text().splitlines())
    }
    assert shown["data"] in imported.values()
