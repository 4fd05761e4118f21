"""Workspaces, members, projects; crypto-shredding on delete."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bastion.domain.errors import Conflict, InvalidConfig, InvalidInput, NotFound, PermissionDenied
from bastion.services import projects, workspaces
from bastion.storage import schema
from bastion.storage.crypto import Sealer, TamperedCiphertext
from bastion.storage.keyring import KeyDestroyed
from factories import CLASSIFICATION, add_tasks, approval, as_user, make_side, make_user, operator_tx, system


def test_roles_manage_projects(rt):
    side = make_side(rt, "r", n_tasks=0)
    for role in ("owner", "manager"):
        projects.create_project(side.ctx(rt, role), side.workspace_id, name=f"by {role}", config=CLASSIFICATION)
    for role in ("reviewer", "annotator", "auditor"):
        with pytest.raises(PermissionDenied):
            projects.create_project(side.ctx(rt, role), side.workspace_id, name="x", config=CLASSIFICATION)
    assert len(projects.list_projects(side.ctx(rt, "auditor"), side.workspace_id)) == 3


def test_config_errors_name_the_field(rt):
    side = make_side(rt, "c", n_tasks=0)
    ctx = side.ctx(rt, "manager")
    cases = {
        "labels[2].hotkey: duplicate key '1'": {
            "type": "classification",
            "labels": [{"value": "a", "hotkey": "1"}, "b", {"value": "c", "hotkey": "1"}],
        },
        "colour: unknown key": {**CLASSIFICATION, "colour": "red"},
        "type: unknown task type 'essay'": {"type": "essay"},
        "labels: List should have at least 1 item": {"type": "classification", "labels": []},
    }
    for expected, config in cases.items():
        with pytest.raises(InvalidConfig) as info:
            projects.create_project(ctx, side.workspace_id, name="x", config=config)
        assert expected in info.value.message
    with pytest.raises(InvalidInput, match="settings.overlap"):
        projects.create_project(ctx, side.workspace_id, name="x", config=CLASSIFICATION, settings={"overlap": 0})
    assert len(projects.list_projects(ctx, side.workspace_id)) == 1  # nothing half-made
    assert len(rt.keyring.keys_of(side.workspace_id)) == 1


def test_members_and_owners(rt):
    side = make_side(rt, "m", n_tasks=0)
    newcomer = make_user(rt, "new@example.com")
    manager = side.ctx(rt, "manager")
    workspaces.add_member(manager, side.workspace_id, "new@example.com", "annotator")
    with pytest.raises(PermissionDenied):  # only owners make owners (docs/permissions.md)
        workspaces.add_member(manager, side.workspace_id, newcomer.id, "owner")
    with pytest.raises(PermissionDenied):
        workspaces.add_member(side.ctx(rt, "annotator"), side.workspace_id, newcomer.id, "manager")
    with pytest.raises(Conflict):
        workspaces.remove_member(side.ctx(rt, "owner"), side.workspace_id, side.users["owner"])
    with pytest.raises(InvalidInput, match="role"):
        workspaces.add_member(manager, side.workspace_id, newcomer.id, "emperor")
    workspaces.remove_member(manager, side.workspace_id, newcomer.id)
    assert newcomer.id not in {m.user_id for m in workspaces.list_members(manager, side.workspace_id)}


def test_outsiders_and_admins_see_no_content(rt):
    side = make_side(rt, "x", n_tasks=1)
    outsider = make_user(rt, "out@example.com")
    admin = make_user(rt, "adm@example.com", admin=True)
    with pytest.raises(NotFound):
        workspaces.get_workspace(as_user(rt, outsider.id), side.workspace_id)
    with pytest.raises(NotFound):
        projects.get_project(as_user(rt, outsider.id), side.project_id)
    # Admins manage workspaces but do not read projects unless made members.
    admin_ctx = as_user(rt, admin.id, is_admin=True)
    assert workspaces.get_workspace(admin_ctx, side.workspace_id).role is None
    with pytest.raises(NotFound):
        projects.get_project(admin_ctx, side.project_id)


def test_delete_workspace_shreds_its_keys(rt):
    side = make_side(rt, "del", n_tasks=3)
    other = make_side(rt, "keep", n_tasks=1)
    with operator_tx(rt, write=False) as tx:
        saved = tx.execute(select(schema.tasks).where(schema.tasks.c.workspace_id == side.workspace_id)).all()
    project = projects.get_project(system(rt), side.project_id)
    with pytest.raises(PermissionDenied):
        workspaces.delete_workspace(side.ctx(rt, "manager"), side.workspace_id)
    workspaces.delete_workspace(
        side.ctx(rt, "owner"), side.workspace_id, approval=side.approval(rt, "workspace.delete")
    )
    assert rt.keyring.keys_of(side.workspace_id) == []
    rt.keyring.forget_cache()
    # A copy of the rows taken before the deletion opens with no key the deployment holds.
    with pytest.raises(KeyDestroyed):
        Sealer(rt.keyring, side.workspace_id, project.key_id)
    for row in saved:
        for key in rt.keyring.keys_of(other.workspace_id):
            sealer = Sealer(rt.keyring, other.workspace_id, key["id"])
            # The record names its (destroyed) data key; another key never opens it either.
            with pytest.raises((KeyDestroyed, TamperedCiphertext)):
                sealer.open("tasks", row.id, "payload", row.payload)
    with operator_tx(rt, write=False) as tx:
        assert tx.execute(select(schema.tasks.c.id).where(schema.tasks.c.workspace_id == side.workspace_id)).all() == []
    assert projects.get_project(other.ctx(rt, "owner"), other.project_id).counts.tasks == 1


def test_a_tombstone_is_read_only_by_those_who_could_read_the_log(rt):
    """Once deleted, a workspace's tombstone is for its owners and auditors at the time, whoever
    deleted it, platform admins and the operator; to anyone else it does not exist."""
    gone, other, by_admin = make_side(rt, "tg", 1), make_side(rt, "to", 0), make_side(rt, "ta", 0)
    admin = as_user(rt, make_user(rt, "stones@example.com", admin=True).id, is_admin=True)
    workspaces.delete_workspace(
        gone.ctx(rt, "owner"), gone.workspace_id, approval=gone.approval(rt, "workspace.delete")
    )
    allowed = approval(rt, by_admin.workspace_id, "workspace.delete", requester=admin.actor.user_id, admins=True)
    workspaces.delete_workspace(admin, by_admin.workspace_id, approval=allowed)  # an admin who was no member
    for ctx in (gone.ctx(rt, "owner"), gone.ctx(rt, "auditor"), admin, system(rt)):
        assert workspaces.get_tombstone(ctx, gone.workspace_id)["deleted_by"] == gone.users["owner"]
    for ctx in (gone.ctx(rt, "manager"), gone.ctx(rt, "reviewer"), gone.ctx(rt, "annotator"), other.ctx(rt, "owner")):
        with pytest.raises(NotFound, match="no deleted workspace"):
            workspaces.get_tombstone(ctx, gone.workspace_id)
    assert (
        workspaces.get_tombstone(by_admin.ctx(rt, "owner"), by_admin.workspace_id)["deleted_by"] == admin.actor.user_id
    )
    assert workspaces.get_tombstone(admin, by_admin.workspace_id)["final_checkpoint"]["size"] > 0


def test_delete_project_shreds_only_that_project(rt):
    side = make_side(rt, "dp", n_tasks=2)
    second = projects.create_project(side.ctx(rt, "manager"), side.workspace_id, name="two", config=CLASSIFICATION)
    add_tasks(rt, second.id, 2)
    projects.delete_project(side.ctx(rt, "manager"), second.id)
    assert [k["project_id"] for k in rt.keyring.keys_of(side.workspace_id)] == [side.project_id]
    with pytest.raises(NotFound):
        projects.get_project(side.ctx(rt, "manager"), second.id)
    assert projects.get_project(side.ctx(rt, "manager"), side.project_id).counts.tasks == 2


def test_ciphertext_moved_between_records_fails(rt):
    side = make_side(rt, "sw", n_tasks=2)
    other = make_side(rt, "sw2", n_tasks=1)
    with operator_tx(rt, write=False) as tx:
        a, b = tx.execute(select(schema.tasks).where(schema.tasks.c.workspace_id == side.workspace_id)).all()
        (c,) = tx.execute(select(schema.tasks).where(schema.tasks.c.workspace_id == other.workspace_id)).all()
    key = projects.get_project(system(rt), side.project_id).key_id
    sealer = Sealer(rt.keyring, side.workspace_id, key)
    assert sealer.open_json("tasks", a.id, "payload", a.payload)["data"]["text"].startswith("sw")
    from bastion.storage.crypto import TamperedCiphertext

    with pytest.raises(TamperedCiphertext):
        sealer.open("tasks", b.id, "payload", a.payload)  # another record
    with pytest.raises(TamperedCiphertext):
        sealer.open("tasks", a.id, "predictions", a.payload)  # another column
    with pytest.raises(KeyDestroyed):
        sealer.open("tasks", a.id, "payload", c.payload)  # another workspace's key


def test_a_key_destroyed_by_another_process_stops_working_here(rt, monkeypatch):
    from bastion.storage.keyring import Keyring

    side = make_side(rt, "proc", n_tasks=1)
    owner = side.ctx(rt, "owner")
    assert projects.get_project(owner, side.project_id).config  # opened and cached in this process
    other_process = Keyring(rt.keyring.url, rt.keyring.provider)
    other_process.destroy(side.workspace_id)
    other_process.dispose()
    monkeypatch.setattr(Keyring, "RECHECK_SECONDS", 0.0)
    with pytest.raises(NotFound, match="destroyed"):
        projects.get_project(owner, side.project_id)
