"""Credentials: NDAs, clearances and certificates; projects that require them; reminders before expiry."""

from __future__ import annotations

import pytest
from tests.factories import ROLES, as_user, make_side, make_user, system

from bastion.domain.credentials import CredentialRequired
from bastion.domain.errors import InvalidInput, NotFound, PermissionDenied
from bastion.services import annotations, credentials, events, projects, queue, workspaces
from bastion.storage import database

DAY = 24 * 3600 * 1000
NDA = {"required_credentials": [{"kind": "nda", "name": "Acme NDA"}]}


def _nda(rt, side, person: str, *, days: float = 60, name: str = "Acme NDA", workspace_id=None, by="manager"):
    return credentials.add_credential(
        side.ctx(rt, by),
        person,
        kind="nda",
        name=name,
        issuer="Acme Legal",
        workspace_id=workspace_id or side.workspace_id,
        expires_at=database.now_ms() + int(days * DAY),
    )


def _at(monkeypatch, instant: int) -> None:
    monkeypatch.setattr(database, "now_ms", lambda: instant)


def test_a_valid_nda_routes_and_an_expired_one_refuses_at_once(rt, monkeypatch):
    side = make_side(rt, "nda", 3, settings=NDA)
    annotator = side.ctx(rt, "annotator")
    with pytest.raises(CredentialRequired, match='nda "Acme NDA": none is recorded for you') as refused:
        queue.next_task(annotator, side.project_id)
    assert refused.value.code == "credential_required"
    assert refused.value.details == {"unmet": [{"kind": "nda", "name": "Acme NDA", "reason": "missing", "at": None}]}

    made = _nda(rt, side, side.users["annotator"], days=1, name="  acme   nda ")  # names match loosely
    assert made["state"] == "valid" and made["scope"] == "workspace"
    task = queue.next_task(annotator, side.project_id)
    assert task is not None

    # One millisecond past expiry: the next request is refused, the held lease included, and the
    # task leased before expiry takes no answer and is not shown again.
    _at(monkeypatch, made["expires_at"])
    with pytest.raises(CredentialRequired, match=r'nda "Acme NDA": yours expired on \d+ \w+ \d{4}') as refused:
        queue.next_task(annotator, side.project_id)
    assert refused.value.details["unmet"][0]["reason"] == "expired"
    assert refused.value.details["unmet"][0]["at"] == made["expires_at"]
    with pytest.raises(CredentialRequired):
        annotations.submit_annotation(annotator, task["id"], {"label": "pos"})
    with pytest.raises(CredentialRequired):
        queue.held_task(annotator, side.project_id)
    assert queue.next_any(annotator) is None  # passed over across projects

    # A renewed NDA lets the person go on with the lease they hold.
    monkeypatch.undo()
    _nda(rt, side, side.users["annotator"], days=365)
    _at(monkeypatch, made["expires_at"] + 1)
    again = queue.next_task(annotator, side.project_id)
    assert again is not None and again["id"] == task["id"]
    annotations.submit_annotation(annotator, task["id"], {"label": "pos"})


def test_a_project_requiring_nothing_ignores_credentials_and_any_name_matches_a_bare_kind(rt):
    side = make_side(rt, "free", 2)
    assert queue.next_task(side.ctx(rt, "annotator"), side.project_id) is not None
    bare = projects.create_project(
        system(rt),
        side.workspace_id,
        name="Any NDA",
        config={"type": "classification", "field": "text", "labels": ["a", "b"]},
        settings={"required_credentials": [{"kind": "nda"}, {"kind": "clearance"}]},
    )
    from tests.factories import add_tasks

    add_tasks(rt, bare.id, 1, prefix="bare")
    _nda(rt, side, side.users["reviewer"], name="Whatever NDA")
    with pytest.raises(CredentialRequired, match="clearance: none is recorded") as refused:
        queue.next_task(side.ctx(rt, "reviewer"), bare.id)
    assert [u["kind"] for u in refused.value.details["unmet"]] == ["clearance"]


def test_scope_a_credential_for_one_workspace_does_not_open_another(rt):
    a = make_side(rt, "sa", 2, settings=NDA)
    b = make_side(rt, "sb", 2, settings=NDA)
    person = make_user(rt, "both@example.com")
    for side in (a, b):
        workspaces.add_member(system(rt), side.workspace_id, person.id, "annotator")
    _nda(rt, a, person.id)
    assert queue.next_task(as_user(rt, person.id), a.project_id) is not None
    with pytest.raises(CredentialRequired):
        queue.next_task(as_user(rt, person.id), b.project_id)
    # A deployment-wide NDA (platform admins) counts everywhere.
    admin = make_user(rt, "admin.scope@example.com", admin=True)
    everywhere = credentials.add_credential(
        as_user(rt, admin.id, is_admin=True),
        person.email,
        kind="nda",
        name="Acme NDA",
        issuer="Acme Legal",
        workspace_id=None,
    )
    assert everywhere["scope"] == "all" and everywhere["expires_at"] is None
    assert queue.next_task(as_user(rt, person.id), b.project_id) is not None
    # b's people readers see the deployment-wide one, never a's own.
    seen = credentials.list_credentials(b.ctx(rt, "manager"), b.workspace_id)
    assert [c["id"] for c in seen] == [everywhere["id"]]


def test_revoking_refuses_at_once_and_ends_the_leases_it_covered(rt):
    side = make_side(rt, "rv", 3, settings=NDA)
    made = _nda(rt, side, side.users["annotator"])
    task = queue.next_task(side.ctx(rt, "annotator"), side.project_id)
    assert task is not None
    revoked = credentials.revoke_credential(side.ctx(rt, "owner"), made["id"])
    assert revoked["state"] == "revoked" and revoked["released_leases"] == 1
    with pytest.raises(CredentialRequired, match="yours was revoked on"):
        queue.next_task(side.ctx(rt, "annotator"), side.project_id)
    with pytest.raises(Exception, match="already revoked"):
        credentials.revoke_credential(side.ctx(rt, "owner"), made["id"])
    log = [e for e in _audit(rt, side) if e["action"].startswith("person.credential")]
    assert [e["action"] for e in log] == ["person.credential_added", "person.credential_revoked"]
    assert log[0]["target"] == side.users["annotator"] and log[0]["details"]["credential"] == made["id"]


def _audit(rt, side):
    from bastion.services import audit

    return audit.list_entries(side.ctx(rt, "owner"), side.workspace_id, limit=1000)["items"]


def test_reminders_are_announced_once_per_threshold_and_the_expiry_once(rt, monkeypatch):
    side = make_side(rt, "rm", 2, settings=NDA)
    start = database.now_ms()
    _at(monkeypatch, start)
    made = _nda(rt, side, side.users["annotator"], days=40)
    lease = queue.next_task(side.ctx(rt, "annotator"), side.project_id)
    assert lease is not None

    def kinds():
        feed = events.list_events(side.ctx(rt, "owner"), side.workspace_id, limit=500)["events"]
        return [(e["kind"], e["data"].get("days")) for e in feed if e["kind"].startswith("credential.")]

    assert credentials.sweep(system(rt), [30, 7]) == {"expiring": 0, "expired": 0, "released_leases": 0}
    _at(monkeypatch, start + 11 * DAY)  # 29 days left
    assert credentials.sweep(system(rt), [30, 7])["expiring"] == 1
    assert credentials.sweep(system(rt), [30, 7])["expiring"] == 0  # never twice
    assert kinds() == [("credential.expiring", 30)]
    _at(monkeypatch, start + 35 * DAY)  # 5 days left
    credentials.sweep(system(rt), [30, 7])
    credentials.sweep(system(rt), [30, 7])
    assert kinds() == [("credential.expiring", 30), ("credential.expiring", 7)]
    feed = events.list_events(side.ctx(rt, "owner"), side.workspace_id, limit=500)["events"]
    last = feed[-1]
    assert last["subject"] == made["id"]
    assert last["data"] == {
        "user": side.users["annotator"],
        "credential_kind": "nda",
        "expires_at": made["expires_at"],
        "days": 7,
        "days_left": 5,
    }
    _at(monkeypatch, made["expires_at"])
    done = credentials.sweep(system(rt), [30, 7])
    assert done == {"expiring": 0, "expired": 1, "released_leases": 1}  # the lease taken before expiry ended
    assert credentials.sweep(system(rt), [30, 7])["expired"] == 0
    assert kinds()[-1] == ("credential.expired", None)
    assert len(kinds()) == 3


def test_a_late_sweep_announces_only_the_nearest_threshold(rt, monkeypatch):
    side = make_side(rt, "late", 1, settings=NDA)
    start = database.now_ms()
    _at(monkeypatch, start)
    _nda(rt, side, side.users["annotator"], days=40)
    _at(monkeypatch, start + 38 * DAY)
    assert credentials.sweep(system(rt), [30, 7])["expiring"] == 1
    feed = events.list_events(side.ctx(rt, "owner"), side.workspace_id, limit=500)["events"]
    assert [e["data"]["days"] for e in feed if e["kind"] == "credential.expiring"] == [7]


def test_the_runner_sweeps_when_due(rt, monkeypatch):
    from bastion.services.job_runner import Runner

    side = make_side(rt, "run", 1, settings=NDA)
    start = database.now_ms()
    _nda(rt, side, side.users["annotator"], days=3)
    runner = Runner(rt, sweeps=True)
    assert runner.maybe_sweep(clock=lambda: 1000.0)
    assert not runner.maybe_sweep(clock=lambda: 1001.0)  # not due again for credential_sweep_seconds
    assert not Runner(rt).maybe_sweep(clock=lambda: 1000.0)  # only the runner that sweeps
    feed = events.list_events(side.ctx(rt, "owner"), side.workspace_id, limit=500)["events"]
    assert [e["kind"] for e in feed if e["kind"].startswith("credential.")] == ["credential.expiring"]
    assert start  # the clock the NDA was made with


# -- access -----------------------------------------------------------------------------------


def test_who_may_record_list_and_revoke(rt):
    side = make_side(rt, "acc", 1)
    other = make_side(rt, "acc2", 1)
    target = side.users["reviewer"]
    for role in ROLES:
        ctx = side.ctx(rt, role)
        if role in ("owner", "manager"):
            made = _nda(rt, side, target, by=role)
            assert made["user_id"] == target
            assert credentials.list_credentials(ctx, side.workspace_id)[0]["id"] == made["id"]
        else:
            with pytest.raises(PermissionDenied):
                _nda(rt, side, target, by=role)
            with pytest.raises(PermissionDenied):
                credentials.list_credentials(ctx, side.workspace_id)
        # nobody records their own credential, whatever their role
        with pytest.raises(PermissionDenied):
            _nda(rt, side, side.users[role], by=role)
        # a foreign workspace's id, person or credential is not found
        with pytest.raises(NotFound):
            credentials.list_credentials(ctx, other.workspace_id)
        with pytest.raises(NotFound):
            credentials.add_credential(ctx, target, kind="nda", name="X", issuer="Y", workspace_id=other.workspace_id)
    foreign = _nda(rt, other, other.users["annotator"], by="owner")
    for role in ROLES:
        with pytest.raises(NotFound):
            credentials.revoke_credential(side.ctx(rt, role), foreign["id"])
    # a person outside the workspace is not found (no one learns who exists elsewhere)
    with pytest.raises(NotFound):
        _nda(rt, side, other.users["annotator"])
    with pytest.raises(NotFound):
        credentials.list_credentials(side.ctx(rt, "manager"), side.workspace_id, other.users["annotator"])
    # deployment-wide credentials: platform admins only
    with pytest.raises(PermissionDenied):
        credentials.add_credential(side.ctx(rt, "owner"), target, kind="nda", name="X", issuer="Y", workspace_id=None)
    # an annotator sees their own, and no one else's
    mine = credentials.mine(side.ctx(rt, "reviewer"))
    assert {c["user_id"] for c in mine} == {target}
    assert credentials.person_credentials(side.ctx(rt, "reviewer"), target)
    with pytest.raises(NotFound):
        credentials.person_credentials(side.ctx(rt, "annotator"), target)
    with pytest.raises(PermissionDenied):
        credentials.revoke_credential(side.ctx(rt, "annotator"), mine[0]["id"])
    with pytest.raises(PermissionDenied):
        credentials.revoke_credential(side.ctx(rt, "reviewer"), mine[0]["id"])  # not their own either


def test_a_workforce_manager_records_and_revokes(rt):
    side = make_side(rt, "wfm", 1, settings=NDA)
    wfm = make_user(rt, "wfm.wfm@example.com")
    workspaces.add_member(system(rt), side.workspace_id, wfm.id, "workforce_manager")
    made = credentials.add_credential(
        as_user(rt, wfm.id),
        side.users["annotator"],
        kind="nda",
        name="Acme NDA",
        issuer="Acme",
        workspace_id=side.workspace_id,
    )
    assert credentials.list_credentials(as_user(rt, wfm.id), side.workspace_id)[0]["id"] == made["id"]
    credentials.revoke_credential(as_user(rt, wfm.id), made["id"])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kind", "NDA!", "kind:"),
        ("kind", "", "kind:"),
        ("name", "", "name:"),
        ("name", "x" * 201, "name:"),
        ("issuer", None, "issuer:"),
        ("expires_at", "soon", "expires_at:"),
        ("expires_at", 1, "expires_at: already past"),
        ("document", "d" * 501, "document:"),
    ],
)
def test_bad_input_names_the_field(rt, field, value, message):
    side = make_side(rt, f"bad{len(str(value))}", 0)
    fields = {"kind": "nda", "name": "Acme NDA", "issuer": "Acme", "workspace_id": side.workspace_id}
    fields[field] = value
    with pytest.raises(InvalidInput, match=message):
        credentials.add_credential(side.ctx(rt, "owner"), side.users["annotator"], **fields)


def test_project_settings_validate_required_credentials(rt):
    side = make_side(rt, "ps", 0)
    owner = side.ctx(rt, "owner")
    changed = projects.update_project(owner, side.project_id, settings=NDA)
    assert [r.model_dump() for r in changed.settings.required_credentials] == NDA["required_credentials"]
    for bad in ([{"kind": "Bad Kind"}], [{"kind": "nda", "extra": 1}], [{"kind": "nda"}] * 11, "nda"):
        with pytest.raises(InvalidInput, match="required_credentials"):
            projects.update_project(owner, side.project_id, settings={"required_credentials": bad})
    cleared = projects.update_project(owner, side.project_id, settings={"required_credentials": None})
    assert cleared.settings.required_credentials == []


def test_assigning_a_task_needs_the_credentials_too(rt):
    from bastion.domain.errors import Conflict
    from bastion.services import task_assignees, tasks

    side = make_side(rt, "asg", 1, settings=NDA)
    task_id = tasks.list_tasks(side.ctx(rt, "owner"), side.project_id, limit=1)["items"][0]["id"]
    with pytest.raises(Conflict, match='cannot be served this project.s tasks: .*nda "Acme NDA": none is recorded'):
        task_assignees.assign_task(side.ctx(rt, "owner"), task_id, "annotator.asg@example.com")
    _nda(rt, side, side.users["annotator"])
    assigned = task_assignees.assign_task(side.ctx(rt, "owner"), task_id, "annotator.asg@example.com")
    assert assigned["user_id"] == side.users["annotator"]


def test_revoking_one_of_two_keeps_the_leases_the_other_covers(rt):
    side = make_side(rt, "two", 2, settings={"required_credentials": [{"kind": "nda"}, {"kind": "clearance"}]})
    person = side.users["annotator"]
    first = _nda(rt, side, person, name="Old NDA")
    _nda(rt, side, person, name="New NDA")
    credentials.add_credential(
        side.ctx(rt, "manager"), person, kind="clearance", name="SC", issuer="Gov", workspace_id=side.workspace_id
    )
    task = queue.next_task(side.ctx(rt, "annotator"), side.project_id)
    assert task is not None
    assert credentials.revoke_credential(side.ctx(rt, "owner"), first["id"])["released_leases"] == 0
    assert queue.next_task(side.ctx(rt, "annotator"), side.project_id)["id"] == task["id"]
