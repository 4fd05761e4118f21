"""Plain factory functions for tests (no framework): each makes one thing through the services."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from bastion.access import Actor
from bastion.services import approvals, imports, projects, users, workspaces
from bastion.services.context import Context

ROLES = ("owner", "manager", "reviewer", "annotator", "auditor")
CLASSIFICATION = {"type": "classification", "field": "text", "labels": ["pos", "neg", "neutral"]}


def system(rt) -> Context:
    return Context(rt, Actor.system())


@contextmanager
def operator_tx(rt, *, write: bool = True) -> Iterator:
    """A transaction in the local operator's scope, for tests that read or edit rows directly.

    PostgreSQL's row-level security shows nothing to a transaction that sets no
    scope (the tests connect as the app role), so a bare ``rt.db.transaction()``
    would see empty tables; this one sees every workspace, as the CLI does.
    """
    ctx = system(rt)
    with ctx.write() if write else ctx.read() as unit:
        yield unit.tx


def as_user(rt, user_id: str, *, read_only: bool = False, is_admin: bool = False) -> Context:
    return Context(rt, Actor(kind="user", user_id=user_id, is_admin=is_admin, read_only=read_only))


def make_user(rt, email: str, *, admin: bool = False, password: str | None = None):
    return users.create_user(system(rt), email, name=email.split("@")[0], password=password, is_admin=admin)


def make_token(rt, user_id: str, scope: str = "full") -> str:
    return users.create_token(system(rt), user_id, name="test", scope=scope)[0]


def make_project(rt, workspace_id: str, *, config=None, settings=None, name: str = "Project"):
    return projects.create_project(
        system(rt), workspace_id, name=name, config=config or CLASSIFICATION, settings=settings
    )


def fold_audit(rt) -> int:
    """Fold every queued audit entry and feed event into its log (PostgreSQL; nothing is queued on
    SQLite), for tests that read the log's tables directly: the services' readers fold themselves."""
    from bastion.services import audit

    return audit.fold_apart(rt)


def add_tasks(rt, project_id: str, n: int, *, start: int = 0, prefix: str = "item"):
    items = [
        (i + 1, {"data": {"text": f"{prefix} {start + i}"}, "external_id": f"{prefix}-{start + i}"}) for i in range(n)
    ]
    return imports.import_tasks(system(rt), project_id, items)


def co_owner(rt, workspace_id: str) -> str:
    """A second owner of the workspace (made once), who approves two-person operations."""
    email = f"co-owner.{workspace_id}@example.com"
    user = users.find_user_by_email(system(rt), email) or make_user(rt, email)
    workspaces.add_member(system(rt), workspace_id, user.id, "owner")
    return user.id


def approval(
    rt,
    workspace_id: str,
    kind: str,
    params: dict | None = None,
    *,
    requester: str,
    approver: str | None = None,
    admins: bool = False,
    reason: str = "needed for the test",
) -> str:
    """A real two-person approval: ``requester`` asks, a second owner (or ``approver``) approves; returns its id.

    ``admins``: the request and decision are platform admins' (group walls, deleting a workspace one does not own).
    """
    asked = approvals.request(as_user(rt, requester, is_admin=admins), workspace_id, kind, params or {}, reason)
    decider = approver or (
        make_user(rt, f"admin2.{asked['id']}@example.com", admin=True).id if admins else co_owner(rt, workspace_id)
    )
    approvals.decide(as_user(rt, decider, is_admin=admins), asked["id"], approve=True)
    return asked["id"]


@dataclass
class Side:
    """One workspace with a member in every role, their tokens and a project with tasks."""

    workspace_id: str
    project_id: str
    users: dict[str, str] = field(default_factory=dict)  # role -> user id
    tokens: dict[str, str] = field(default_factory=dict)  # role -> bearer token

    def ctx(self, rt, role: str) -> Context:
        return as_user(rt, self.users[role])

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def approval(self, rt, kind: str, params: dict | None = None, *, requester: str = "owner") -> str:
        """A two-person approval of ``kind`` in this workspace, requested by the member in ``requester``'s role."""
        return approval(rt, self.workspace_id, kind, params, requester=self.users[requester])


@dataclass
class World:
    a: Side
    b: Side
    admin_id: str
    admin_token: str
    outsider_id: str
    outsider_token: str


def make_side(rt, tag: str, n_tasks: int = 5, settings=None) -> Side:
    people = {role: make_user(rt, f"{role}.{tag}@example.com").id for role in ROLES}
    ws = workspaces.create_workspace(system(rt), f"Workspace {tag}", owner=people["owner"])
    for role in ROLES[1:]:
        workspaces.add_member(system(rt), ws.id, people[role], role)
    project = make_project(rt, ws.id, name=f"Project {tag}", settings=settings)
    add_tasks(rt, project.id, n_tasks, prefix=tag)
    side = Side(ws.id, project.id, people)
    side.tokens = {role: make_token(rt, uid) for role, uid in people.items()}
    return side


def make_world(rt) -> World:
    a = make_side(rt, "a")
    b = make_side(rt, "b")
    admin = make_user(rt, "admin@example.com", admin=True)
    outsider = make_user(rt, "outsider@example.com")
    return World(a, b, admin.id, make_token(rt, admin.id), outsider.id, make_token(rt, outsider.id))


def make_export(ctx, project_id: str) -> str:
    """A finished export of a project (its signed manifest is stored): its id."""
    from bastion.services import exports

    export = exports.start_export(ctx, project_id)
    for _ in export.stream():
        pass
    return export.id


def make_statement(rt, workspace_id: str, user_id: str, *, start: int = 0, end: int = 86_400_000) -> str:
    """A draft pay statement of ``user_id`` (the workspace's currency set to EUR if unset): its id."""
    from bastion.services import pay

    if pay.get_settings(system(rt), workspace_id)["currency"] is None:
        pay.set_settings(system(rt), workspace_id, currency="EUR")
    return pay.create_statement(system(rt), workspace_id, user_id, start, end)["id"]
