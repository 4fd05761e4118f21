"""Opening a workspace's content: the deliberate first access, and where each workspace stands for a person.

What is content and what is metadata (docs/walls.md):

* **content** — anything the client brought or that was written about it: project
  configs (labels, instructions, fields), tasks, predictions, annotations, reviews
  and feedback, files, canaries, exports, quality reports. Every read of it passes
  the wall (``Unit.see_content``): the first one binds the person to the workspace,
  and one across a live wall is refused (403) and recorded (``wall.denied``).
* **metadata** — what role alone decides: workspace names, members and roles,
  project ids, names, task types and counts, conflicts and exclusions, the audit
  log (whose details are metadata by construction). Listing it binds nobody.

Binding chooses a side, so only a state-changing request makes it (see
``access.FirstAccessRequired``): the labelling and review pages' Start buttons,
and ``open_workspace`` — the Open button pages show when a person's first look at
a workspace's content would be a page view.

The trap: a page listing several workspaces must never call a content read for
each of them — it would bind the person to every client at once (or be refused by
all but the first). It lists metadata and asks ``wall_states`` how each one stands.
"""

from __future__ import annotations

from .context import Context
from ..access import Action
from ..storage import workforce_store

OPEN = "open"  # not yet opened; no conflict makes the first access a choice
CHOOSE = "choose"  # not yet opened, and it conflicts with other workspaces: opening it walls them off
BOUND = "bound"  # already opened
WALLED = "walled"  # refused: a live wall or an excluded affiliation


def open_workspace(ctx: Context, workspace_id: str) -> None:
    """The person opens the workspace's content on purpose: binds them to it (walls decide; audited)."""
    with ctx.write() as w:
        w.access.require(Action.PROJECT_READ, workspace_id)
        w.see_content(workspace_id)


def wall_states(ctx: Context, workspace_ids: list[str]) -> dict[str, str]:
    """How each of the caller's workspaces stands for them (``OPEN``, ``CHOOSE``, ``BOUND``, ``WALLED``).

    Decides without binding or recording anything, like the cross-project queue does.
    Workspaces the caller is not a member of are left out.
    """
    return {ws: state for ws, (state, _why) in _standing(ctx, workspace_ids).items()}


def wall_refusals(ctx: Context, workspace_ids: list[str]) -> dict[str, str]:
    """Why each of these workspaces that is walled off for the caller is refused, in their words
    (the names of workspaces they are a member of, dates): the 403 they would get, said up front.
    Decides without binding or recording anything; the others are left out."""
    return {ws: why for ws, (state, why) in _standing(ctx, workspace_ids).items() if state == WALLED}


def _standing(ctx: Context, workspace_ids: list[str]) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    with ctx.read() as r:
        for workspace_id in workspace_ids:
            if r.access.role(workspace_id) is None and not r.actor.is_system:
                continue
            decision = r.access.decide_content(workspace_id, r.now)
            if not decision.allowed:
                out[workspace_id] = (WALLED, r.access.wall_denied(workspace_id, decision).message)
            elif not decision.binds:
                out[workspace_id] = (BOUND, "")
            else:
                state = CHOOSE if workforce_store.list_edges(r.tx, workspace_id) else OPEN
                out[workspace_id] = (state, "")
    return out


__all__ = ["BOUND", "CHOOSE", "OPEN", "WALLED", "open_workspace", "wall_refusals", "wall_states"]
