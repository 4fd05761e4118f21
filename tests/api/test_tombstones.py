"""What a deleted workspace leaves: a tombstone only its former owners and auditors (and platform admins) can
read, and no folder of its files on disk."""

from __future__ import annotations

import pytest

from bastion.domain.errors import NotFound
from bastion.services import workspaces
from bastion.storage.blobs import DiskBlobs
from factories import ROLES, as_user, make_side, make_token, make_user, system


def _delete_with_people(rt, client):
    side = make_side(rt, "ts", n_tasks=1)
    ws = side.workspace_id
    former = make_user(rt, "former.ts@example.com")  # an owner, removed before the deletion
    workspaces.add_member(system(rt), ws, former.id, "owner")
    workspaces.remove_member(system(rt), ws, former.id)
    people = {role: side.headers(role) for role in ROLES}
    people["former owner"] = {"Authorization": f"Bearer {make_token(rt, former.id)}"}
    people["other client's owner"] = make_side(rt, "other", n_tasks=0).headers("owner")
    admin = make_user(rt, "admin.ts@example.com", admin=True)
    people["platform admin"] = {"Authorization": f"Bearer {make_token(rt, admin.id)}"}
    nobody = make_user(rt, "nobody.ts@example.com")
    people["member of nothing"] = {"Authorization": f"Bearer {make_token(rt, nobody.id)}"}
    # Someone who works for both sides: an annotator here, an owner of another client.
    both = make_user(rt, "both.ts@example.com")
    workspaces.add_member(system(rt), ws, both.id, "annotator")
    elsewhere = workspaces.create_workspace(system(rt), "Elsewhere", owner=both.id)
    people["annotator here, owner elsewhere"] = {"Authorization": f"Bearer {make_token(rt, both.id)}"}
    assert (
        client.delete(
            f"/api/v1/workspaces/{ws}",
            headers=side.headers("owner"),
            params={"approval": side.approval(rt, "workspace.delete")},
        ).status_code
        == 204
    )
    return side, people, elsewhere


def test_only_former_owners_auditors_and_admins_read_the_tombstone(rt, client):
    side, people, _ = _delete_with_people(rt, client)
    readers = {"owner", "auditor", "platform admin"}
    answers = {
        who: client.get(f"/api/v1/audit/tombstones/{side.workspace_id}", headers=h).status_code
        for who, h in people.items()
    }
    assert answers == {who: 200 if who in readers else 404 for who in people}
    body = client.get(f"/api/v1/audit/tombstones/{side.workspace_id}", headers=people["auditor"]).json()
    assert body["deleted_by"] == side.users["owner"] and body["final_checkpoint"]["size"] > 0
    # Refused exactly like a workspace that was never deleted (nothing tells them it existed).
    never = client.get("/api/v1/audit/tombstones/ws_" + "0" * 32, headers=people["manager"])
    refused = client.get(f"/api/v1/audit/tombstones/{side.workspace_id}", headers=people["manager"])
    assert never.json() == refused.json()


def test_the_tombstone_service_refuses_the_same_way(rt, client):
    side, _, _ = _delete_with_people(rt, client)
    assert (
        workspaces.get_tombstone(as_user(rt, side.users["owner"]), side.workspace_id)["workspace_id"]
        == side.workspace_id
    )
    assert workspaces.get_tombstone(system(rt), side.workspace_id)["deleted_by"] == side.users["owner"]
    for role in ("manager", "reviewer", "annotator"):
        with pytest.raises(NotFound):
            workspaces.get_tombstone(as_user(rt, side.users[role]), side.workspace_id)


def test_deleting_a_workspace_removes_its_file_folder(rt, client):
    side = make_side(rt, "fd", n_tasks=0)
    other = make_side(rt, "fk", n_tasks=0)
    store = DiskBlobs(rt.settings.files_dir)
    store.put(side.workspace_id, "fil_" + "1" * 32, b"sealed bytes")
    store.put(other.workspace_id, "fil_" + "2" * 32, b"sealed bytes")
    folder = rt.settings.files_dir / side.workspace_id
    assert folder.is_dir()
    workspaces.delete_workspace(
        side.ctx(rt, "owner"), side.workspace_id, approval=side.approval(rt, "workspace.delete")
    )
    assert not folder.exists()
    assert store.exists(other.workspace_id, "fil_" + "2" * 32)  # another client's files stay
    # A workspace that never stored a file deletes cleanly too.
    workspaces.delete_workspace(
        other.ctx(rt, "owner"), other.workspace_id, approval=other.approval(rt, "workspace.delete")
    )
    assert not (rt.settings.files_dir / other.workspace_id).exists()
