"""The labelling page in one service call: the task a person works on, as they are shown it.

:func:`labelling_view` leases (or re-shows) the task, loads the project with its
counts, and asks the task type for the widget's context — all in ONE
transaction, so what the page shows is one consistent reading: the task's data
as this person is shown it (their variant, services/variants.py; redacted text
as stored), its predictions, the lease's expiry, the project's instructions and
counts, and the overlay (services/tracing.py).

The trap: the GET of the page must not lease or bind (a link from another site
can make a browser follow it): ``lease=False`` only re-shows a lease already
held (``queue.show_held``), and the wall is decided without binding there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .context import Context
from .projects import work_project
from .queue import lease_next, show_held
from .tracing import overlay_of
from ..access import Action
from ..domain.projects import Project


@dataclass(frozen=True)
class LabellingView:
    """Everything the labelling page shows."""

    project: Project  # with its counts, as this person may read its config
    config: Any  # the parsed config (labels, instructions)
    task: dict[str, Any] | None  # as shown to this person, with ``lease.expires_at``; None: nothing held or left
    widget: str  # the task type's Jinja partial
    widget_script: str  # its script's URL
    widget_context: dict[str, Any]  # the type's derived views of the task's data (``TaskType.widget_context``)
    overlay: dict[str, Any] | None  # the faint tiled person id and time, unless the project turned it off


def labelling_view(ctx: Context, project_id: str, *, lease: bool) -> LabellingView:
    """The labelling page's content. ``lease``: lease (or renew) the next task — a POST; else show what is held."""
    with ctx.write() as w:
        task = lease_next(w, project_id) if lease else show_held(w, project_id)
        project = work_project(w, project_id, Action.TASK_WORK)
        task_type = w.rt.task_types.get(project.task_type)
        config = task_type.parse_config(project.config)
        widget_context = (
            task_type.widget_context(
                config, task["data"], task_id=task["id"], user_id=ctx.actor.user_id, predictions=task["predictions"]
            )
            if task
            else {}
        )
        overlay = overlay_of(w, project_id) if task else None
    return LabellingView(
        project=project,
        config=config,
        task=task,
        widget=f"tasktypes/{task_type.name}/widget.html",
        widget_script=f"/static/tasktypes/{task_type.name}/widget.js",
        widget_context=widget_context,
        overlay=overlay,
    )


__all__ = ["LabellingView", "labelling_view"]
