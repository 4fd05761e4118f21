"""THE access choke point: who may do what, in which workspace.

Every service call runs with an ``Actor`` and asks this module before it reads or
writes workspace data. Nothing else checks roles or filters by workspace.

Decisions:

* A workspace the actor is not a member of does not exist for them: every
  action there raises ``NotFound`` (HTTP 404), exactly as for an id that was
  never made. Platform admins manage the deployment (users, workspaces,
  memberships) but are not members of client workspaces by being admins: they
  see no client content unless a workspace makes them a member.
* A member whose role lacks the action gets ``PermissionDenied`` (HTTP 403).
* Object-level rules sit here too: an annotator sees only tasks they were
  leased (or annotated, or skipped) and only their own annotations.
* A read-only API token may perform only actions marked as reads.
* Walls (``require_content``) apply wherever a person is shown client content —
  project configs, canaries, tasks, annotations, reviews, files, exports, quality
  reports; metadata (workspace and project names, task types, counts, members,
  the audit log) is decided by role alone. The first access to a workspace's
  content binds the person to it, and only a request that may change state binds
  (``FirstAccessRequired`` otherwise): a page view or a link another site makes the
  browser follow never chooses a side for someone (docs/walls.md).

The role × action table is ``POLICY``, written once; docs/permissions.md is
generated from it and a test keeps them equal.

The trap: a service that fetches an object by id must fetch it *within the
actor's workspaces* (``Access.workspace_ids``) and then call ``require``; a
lookup by bare id followed by a role check would leak existence across
workspaces through 403-versus-404.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

from .domain.errors import NotFound, PermissionDenied
from .domain.walls import Decision, Reason, decide, when
from .domain.workspaces import Role
from .storage import memberships_store, workforce_store, workspaces_store
from .storage.database import Tx


class Action(Enum):
    """Actions on a workspace's data. Value: (name, is a read, description)."""

    WORKSPACE_READ = ("workspace.read", True, "See the workspace's name and your role in it")
    WORKSPACE_DELETE = ("workspace.delete", False, "Delete the workspace and crypto-shred its data")
    MEMBER_READ = ("member.read", True, "List the workspace's members and their roles")
    MEMBER_MANAGE = ("member.manage", False, "Add and remove members, change their roles")
    PROJECT_READ = ("project.read", True, "See projects, their labelling configs and counts")
    PROJECT_MANAGE = ("project.manage", False, "Create, change and delete projects")
    TASK_IMPORT = ("task.import", False, "Import tasks into a project")
    TASK_BROWSE = ("task.browse", True, "List and read any task of the workspace")
    TASK_WORK = ("task.work", False, "Lease tasks from the queue, read them, annotate and skip")
    TASK_MANAGE = ("task.manage", False, "Change, delete and assign a project's tasks after import")
    ANNOTATION_BROWSE = ("annotation.browse", True, "Read every annotation of the workspace")
    ANNOTATION_REVIEW = ("annotation.review", False, "Review annotations: accept, reject with a comment, or correct")
    ANNOTATION_IMPORT = (
        "annotation.import",
        False,
        "Import annotations made elsewhere with their authors (members or external annotators) and reviews",
    )
    QUESTION_ANSWER = (
        "question.answer",
        False,
        "Read the questions people ask about tasks while labelling, and answer them",
    )
    QUALITY_READ = ("quality.read", True, "See agreement, accuracy on gold, aggregation and throughput")
    QUALITY_MANAGE = ("quality.manage", False, "Lift an annotator's automatic pause")
    EXPORT = ("export", True, "Export a project's tasks and annotations")
    AUDIT_READ = ("audit.read", True, "Read the audit log and its signed checkpoints")
    WALLS_READ = ("walls.read", True, "See the conflict graph, exclusions and why a member may or may not see data")
    WALLS_MANAGE = ("walls.manage", False, "Declare competitors and excluded affiliations")
    REDACTION_REIDENTIFY = (
        "redaction.reidentify",
        False,
        "Re-identify redacted values: a task's original text, or an export with them",
    )
    REDACTION_REVIEW = ("redaction.review", False, "Review the tasks redaction held and release them to the queue")
    CANARY_MANAGE = ("canary.manage", False, "Create, approve and retire canary tasks and see who was issued them")
    LEAKS_TRACE = ("leaks.trace", True, "Trace a leaked text back to the people who were shown it")
    APPROVAL_REQUEST = (
        "approval.request",
        False,
        "Ask a second owner to approve an operation that can leak or destroy the workspace's data "
        "(and see the requests)",
    )
    APPROVAL_DECIDE = ("approval.decide", False, "Approve or refuse another owner's request")
    MODEL_READ = (
        "model.read",
        True,
        "See the workspace's model endpoints and the hosts their calls may reach (never their API keys)",
    )
    MODEL_MANAGE = (
        "model.manage",
        False,
        "Add, change, test and remove model endpoints, and so the hosts Bastion may send the workspace's data to",
    )
    MODEL_USE = (
        "model.use",
        False,
        "Send prompts to the workspace's model endpoints (through the features that call them)",
    )

    EVENT_READ = (
        "event.read",
        True,
        "Read the workspace's event feed (ids and counts of what changed) and its webhooks' deliveries",
    )
    WEBHOOK_MANAGE = (
        "webhook.manage",
        False,
        "Add and remove webhooks (where the workspace's events are sent) and replay their deliveries",
    )

    PEOPLE_READ = (
        "people.read",
        True,
        "See people's working time, pay rates and statements, credentials and the workforce dashboard "
        "(never task content)",
    )
    PEOPLE_MANAGE = (
        "people.manage",
        False,
        "Set pay rates, make, approve and lock pay statements, record and revoke people's credentials",
    )

    def __init__(self, label: str, is_read: bool, description: str) -> None:
        self.label = label
        self.is_read = is_read
        self.description = description


_ALL = frozenset(Action)

POLICY: dict[Role, frozenset[Action]] = {
    Role.OWNER: _ALL,
    Role.MANAGER: _ALL
    - {
        Action.WORKSPACE_DELETE,
        Action.AUDIT_READ,
        Action.WALLS_MANAGE,
        # need-to-know: the originals, canaries and who saw what stay with owners
        Action.REDACTION_REIDENTIFY,
        Action.REDACTION_REVIEW,
        Action.CANARY_MANAGE,
        Action.LEAKS_TRACE,
        # two-person approval is between owners (services/approvals.py)
        Action.APPROVAL_REQUEST,
        Action.APPROVAL_DECIDE,
        # where the workspace's data may be sent (the egress allow-list) is the owners' to decide
        Action.MODEL_MANAGE,
        # where the workspace's events are sent is the owners' to decide too
        Action.WEBHOOK_MANAGE,
    },
    Role.REVIEWER: frozenset(
        {
            Action.WORKSPACE_READ,
            Action.PROJECT_READ,
            Action.TASK_BROWSE,
            Action.TASK_WORK,
            Action.ANNOTATION_BROWSE,
            Action.ANNOTATION_REVIEW,
            Action.QUALITY_READ,
            Action.MODEL_USE,
        }
    ),
    Role.ANNOTATOR: frozenset({Action.WORKSPACE_READ, Action.PROJECT_READ, Action.TASK_WORK, Action.MODEL_USE}),
    Role.AUDITOR: frozenset(
        {
            Action.WORKSPACE_READ,
            Action.MEMBER_READ,
            Action.PROJECT_READ,
            Action.AUDIT_READ,
            Action.WALLS_READ,
            Action.MODEL_READ,
            Action.EVENT_READ,
        }
    ),
    # Time, pay and credentials across the workspaces they manage; never task content (no task,
    # annotation, export or quality reads).
    Role.WORKFORCE_MANAGER: frozenset(
        {
            Action.WORKSPACE_READ,
            Action.MEMBER_READ,
            Action.PROJECT_READ,
            Action.PEOPLE_READ,
            Action.PEOPLE_MANAGE,
        }
    ),
}

# Deployment-level actions, not tied to one workspace: platform admins only.
ADMIN_ACTIONS = frozenset(
    {"user.manage", "workspace.create", "workspace.list_all", "workforce.manage", "member.groups", "scim.manage"}
)
# Workspace actions a platform admin may take without being a member (no content).
ADMIN_WORKSPACE_ACTIONS = frozenset(
    {Action.WORKSPACE_READ, Action.WORKSPACE_DELETE, Action.MEMBER_READ, Action.MEMBER_MANAGE, Action.WALLS_READ}
)


class WallDenied(PermissionDenied):
    """Access refused by a conflict-of-interest wall or an excluded affiliation (HTTP 403).

    The message speaks in dates and names: the workspaces are named when the person
    is a member of them (names they may know), else "a competing client's workspace";
    never an id or a raw timestamp. ``Access.wall_denied`` looks the names up.
    The refusal itself is audited in the workspace's log, in a transaction of its
    own (the refused one rolls back): see ``services/context.py``.
    """

    def __init__(self, workspace_id: str, decision: Decision, names: Mapping[str, str] | None = None) -> None:
        kinds = {r.kind for r in decision.reasons}
        what = "an excluded affiliation" if kinds == {"excluded"} else "a conflict-of-interest wall"
        names = names or {}
        super().__init__(
            f"access refused by {what}: " + "; ".join(_refusal(r, workspace_id, names) for r in decision.reasons),
            details={"reasons": [r.kind for r in decision.reasons]},
        )
        self.workspace_id = workspace_id
        self.decision = decision


def _refusal(reason: Reason, workspace_id: str, names: Mapping[str, str]) -> str:
    """One reason of a refusal, in the person's words: names they may know, dates."""
    here = names.get(workspace_id, "this workspace")
    if reason.kind == "wall" and reason.edge is not None and reason.history is not None:
        other = names.get(reason.edge.other(workspace_id))
        there = other or "a competing client's workspace"
        line = (
            f"you have worked on {there} since {when(reason.history.first_at)}, and {here} competes with "
            f"{other or 'it'}, so {here} is walled off for you"
        )
        if reason.edge.cooling_off_ms is not None:
            lifts = reason.history.last_at + reason.edge.cooling_off_ms
            line += f" until {when(lifts)} (if you do not work on {other or 'it'} again before then)"
        return line
    if reason.kind == "excluded":
        return f"you are {reason.message.replace('this workspace', here)}"
    return reason.message


class FirstAccessRequired(PermissionDenied):
    """Showing this workspace's content would bind the person to it, and this request may not bind (HTTP 403).

    Binding chooses a side, so only a state-changing request makes it: a form POST
    carrying its CSRF token, or an API call (a bearer token cannot be sent by another
    site). A GET in a browser session — which a cross-site link can trigger, the
    SameSite=Lax cookie going with it — is answered with this instead; pages offer a
    button that opens the workspace (``POST /workspaces/{ws}/open``).
    """

    code = "first_access"

    def __init__(self, workspace_id: str) -> None:
        super().__init__(
            "this is your first look at this workspace's data, and opening it binds you to this client "
            "(its competitors' data is then walled off for you): open it with a deliberate action "
            "(the workspace's Open button, or any API call with a token)",
            details={"workspace_id": workspace_id},
        )
        self.workspace_id = workspace_id


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking. Built once per request (web/auth.py) or command (cli/)."""

    kind: str  # "user" | "system"
    user_id: str
    email: str = ""
    is_admin: bool = False
    read_only: bool = False
    via: str = "token"  # token | session | cli
    token_id: str | None = None

    @classmethod
    def system(cls) -> Actor:
        """The local operator running admin commands (CLI on the server)."""
        return cls(kind="system", user_id="system", email="", is_admin=True, via="cli")

    @property
    def is_system(self) -> bool:
        return self.kind == "system"


class Access:
    """Access decisions for one actor within one transaction."""

    __slots__ = ("actor", "_tx", "_roles")

    def __init__(self, actor: Actor, tx: Tx, roles: dict[str, Role] | None = None) -> None:
        self.actor = actor
        self._tx = tx
        # ``roles``: the person's memberships as already read at this transaction's auth generation
        # (services/auth_cache.py); loaded from the database on first use otherwise.
        self._roles: dict[str, Role] | None = roles

    @property
    def roles(self) -> dict[str, Role]:
        if self._roles is None:
            if self.actor.is_system:
                self._roles = {}
            else:
                rows = memberships_store.list_roles(self._tx, self.actor.user_id)
                self._roles = {row.workspace_id: Role(row.role) for row in rows}
        return self._roles

    def role(self, workspace_id: str) -> Role | None:
        return self.roles.get(workspace_id)

    def allows(self, action: Action, workspace_id: str) -> bool:
        try:
            self.require(action, workspace_id)
        except (NotFound, PermissionDenied):
            return False
        return True

    def require(self, action: Action, workspace_id: str, *, what: str = "workspace") -> Role | None:
        """Allow ``action`` in ``workspace_id`` or raise NotFound / PermissionDenied."""
        actor = self.actor
        if actor.read_only and not action.is_read:
            raise PermissionDenied("this API token is read-only")
        if actor.is_system:
            return None
        role = self.roles.get(workspace_id)
        if role is None:
            if actor.is_admin and action in ADMIN_WORKSPACE_ACTIONS:
                return None
            raise NotFound(f"{what} not found")
        if action not in POLICY[role]:
            if actor.is_admin and action in ADMIN_WORKSPACE_ACTIONS:
                return role
            raise PermissionDenied(f"your role ({role}) may not {action.description.lower()}")
        return role

    def require_admin(self, action: str) -> None:
        if action not in ADMIN_ACTIONS:
            raise ValueError(action)
        if self.actor.read_only:
            raise PermissionDenied("this API token is read-only")
        if not self.actor.is_admin:
            raise PermissionDenied("only platform admins may do this")

    def workspace_ids(self, action: Action | None = None) -> list[str]:
        """Workspaces where the actor may take ``action`` (all memberships if None)."""
        if action is None:
            return list(self.roles)
        return [ws for ws, role in self.roles.items() if action in POLICY[role]]

    def can_browse(self, workspace_id: str) -> bool:
        """May read any task/annotation of the workspace (not only their own)."""
        if self.actor.is_system:
            return True
        role = self.roles.get(workspace_id)
        return role is not None and Action.TASK_BROWSE in POLICY[role]

    def decide_content(self, workspace_id: str, now: int) -> Decision:
        """The wall decision (``domain.walls.Decision``) without a lock, binding or record: read paths
        decide with it, and bind apart when it says ``binds`` (``services/context.py``)."""
        if self.actor.is_system:
            return Decision(True)
        found = workforce_store.wall_inputs(self._tx, self.actor.user_id, workspace_id, now, lock=False)
        return decide(workspace_id, found.history, found.edges, found.affiliations, found.exclusions, now)

    def wall_denied(self, workspace_id: str, decision: Decision) -> WallDenied:
        """The refusal for ``decision``, naming the workspaces the person is a member of (names they know)."""
        wanted = {workspace_id} | {r.edge.other(workspace_id) for r in decision.reasons if r.edge is not None}
        known = sorted(ws for ws in wanted if ws in self.roles)
        names = {row.id: row.name for row in workspaces_store.list_workspaces(self._tx, known)} if known else {}
        return WallDenied(workspace_id, decision, names)

    def content_allowed(self, workspace_id: str, now: int) -> bool:
        """The wall decision without binding or recording anything (to route, not to show)."""
        return self.decide_content(workspace_id, now).allowed

    def require_content(
        self,
        workspace_id: str,
        now: int,
        audit: Callable[..., object],
        *,
        may_bind: bool = True,
        person_locked: bool = False,
    ) -> None:
        """The conflict-of-interest rule, at every point where a person is shown data.

        Loads the person's history and affiliations and the workspace's conflict
        edges and exclusions under a lock on the person (see storage/workforce_store.py),
        decides with ``domain.walls.decide``, and records the access: the first one
        binds (audited), later ones refresh the last-access time that cooling-off
        periods count from. Applies to every human, platform admins included; the
        local operator (system actor) has no history. ``may_bind=False`` (a GET in a
        browser session): a first access raises ``FirstAccessRequired`` instead of binding.
        ``person_locked``: this transaction holds the person's lock already (``Unit.hold_person``).
        The lock and the reads go in one round trip (``workforce_store.wall_inputs``).
        """
        if self.actor.is_system:
            return
        user = self.actor.user_id
        tx = self._tx
        found = workforce_store.wall_inputs(tx, user, workspace_id, now, lock=not person_locked)
        decision = decide(workspace_id, found.history, found.edges, found.affiliations, found.exclusions, now)
        if not decision.allowed:
            raise self.wall_denied(workspace_id, decision)
        if decision.binds and not may_bind:
            raise FirstAccessRequired(workspace_id)
        workforce_store.record_access(tx, user, workspace_id, now, new=decision.binds)
        if decision.binds:
            audit(workspace_id, "wall.bound", user, lifted=[edge.other(workspace_id) for edge in decision.lifted])

    def require_tombstone(self, readers: frozenset[str]) -> None:
        """A deleted workspace's tombstone: for its recorded readers (the owners and auditors at
        deletion, and whoever deleted it), platform admins and the operator; to anyone else it
        does not exist (NotFound), like the workspace itself."""
        actor = self.actor
        if not (actor.is_system or actor.is_admin or actor.user_id in readers):
            raise NotFound("no deleted workspace with this id")

    def require_task_visible(self, workspace_id: str, has_assignment: bool) -> None:
        """Tasks: browsers see all; workers see only tasks handed to them."""
        if self.can_browse(workspace_id):
            return
        self.require(Action.TASK_WORK, workspace_id, what="task")
        if not has_assignment:
            raise PermissionDenied("this task was not assigned to you")


def policy_table_roles(action: Action) -> list[str]:
    """The roles allowed ``action``, in rank order (docs/permissions.md is checked against this)."""
    return [r.value for r in Role if action in POLICY[r]]
