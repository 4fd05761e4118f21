"""The stores of people, workspaces and walls on both databases: typed rows out, and integrity
errors that mean something raised as domain errors — with the transaction still usable after
(on PostgreSQL a failed statement would otherwise abort it)."""

from __future__ import annotations

import pytest

from bastion.domain.errors import Conflict, NotFound
from bastion.domain.workspaces import Role
from bastion.services import workspaces
from bastion.services.users import _digest
from bastion.storage import audit_store, memberships_store, users_store, workforce_store, workspaces_store
from factories import make_token, make_user, operator_tx, system


def _user(tx, user_id: str, email: str) -> None:
    users_store.insert_user(tx, user_id, email, name="", password_hash=None, is_admin=False, now=tx.now)


def test_a_second_person_with_an_email_is_a_conflict_and_the_transaction_goes_on(rt):
    with operator_tx(rt) as tx:
        _user(tx, "usr_store_a", "same@example.com")
        with pytest.raises(Conflict, match="email"):
            _user(tx, "usr_store_b", "same@example.com")
        _user(tx, "usr_store_c", "other@example.com")
    with operator_tx(rt, write=False) as tx:
        assert users_store.find_user(tx, "usr_store_b") is None
        assert users_store.find_user_by_email(tx, "same@example.com").id == "usr_store_a"
        assert users_store.find_user(tx, "usr_store_c").email == "other@example.com"


def test_adding_a_member_twice_is_a_conflict_and_the_transaction_goes_on(rt):
    owner = make_user(rt, "owner@example.com")
    ws = workspaces.create_workspace(system(rt), "Lab", owner=owner.id).id
    with operator_tx(rt) as tx:
        with pytest.raises(Conflict, match="member"):
            memberships_store.insert_membership(tx, ws, owner.id, Role.ANNOTATOR.value, tx.now)
        assert memberships_store.find_role(tx, ws, owner.id) == Role.OWNER.value


def test_a_second_group_with_a_name_is_a_conflict(rt):
    with operator_tx(rt) as tx:
        workforce_store.insert_group(tx, "grp_store_a", name="Labs", cooling_off_ms=None, now=tx.now)
        with pytest.raises(Conflict, match="name"):
            workforce_store.insert_group(tx, "grp_store_b", name="Labs", cooling_off_ms=None, now=tx.now)
        assert workforce_store.find_group(tx, "Labs").id == "grp_store_a"


def test_a_wall_or_group_with_a_workspace_that_does_not_exist_is_not_found(rt):
    ws = workspaces.create_workspace(system(rt), "Lab").id
    with operator_tx(rt) as tx:
        lo, hi = sorted((ws, "ws_missing"))
        with pytest.raises(NotFound):
            workforce_store.insert_declaration(
                tx, lo, hi, holder=ws, cooling_off_ms=None, now=tx.now, created_by="system"
            )
        workforce_store.insert_group(tx, "grp_store_c", name="Sector", cooling_off_ms=None, now=tx.now)
        with pytest.raises(NotFound):
            workforce_store.insert_group_member(tx, "grp_store_c", "ws_missing")
        assert workforce_store.list_declarations(tx, lo, hi) == []
        assert workforce_store.list_group_workspace_ids(tx, "grp_store_c") == []


def test_rows_come_back_typed(rt):
    """Booleans are bool on both databases (SQLite's driver answers 0/1), rows have named fields."""
    person = make_user(rt, "typed@example.com", admin=True)
    ws = workspaces.create_workspace(system(rt), "Lab", owner=person.id).id
    secret = make_token(rt, person.id)
    with operator_tx(rt, write=False) as tx:
        token = users_store.find_token_actor(tx, _digest(secret))
        assert token.user_id == person.id and token.scope == "full"
        assert token.is_admin is True and token.is_active is True
        assert [(m.workspace_id, m.role) for m in memberships_store.list_roles(tx, person.id)] == [(ws, "owner")]
        [member] = memberships_store.list_members(tx, ws)
        assert (member.email, member.role) == ("typed@example.com", Role.OWNER)
        assert workspaces_store.find_workspace(tx, ws).name == "Lab"
        assert workspaces_store.is_two_person_approval(tx, ws) is True


def test_the_audit_head_is_made_when_first_locked(rt):
    with operator_tx(rt) as tx:
        workspaces_store.insert_workspace(tx, "ws_store_head", name="Bare", now=tx.now, created_by="system")
        assert audit_store.find_head(tx, "ws_store_head") is None
        assert audit_store.lock_head(tx, "ws_store_head") == audit_store.Head(0, b"")
        assert audit_store.find_head(tx, "ws_store_head") == audit_store.Head(0, b"")
