"""The labelling page in one service call: the task a person works on, as they are shown it.

:func:`labelling_view` leases (or re-shows) the task, loads the project with its
counts, and asks the task type for the widget's context — all in ONE
transaction, so what the page shows is one consistent reading: the task's data
as this person is shown it (their variant, services/variants.py; redacted text
as stored), its predictions, the lease's expiry, the project's instructions and
counts, and the overlay (services/tracing.py).

The page's other POSTs are one call each too: :func:`undo_view` takes back the
person's newest annotation (services/own_annotations.py) and shows its task with
their result in the widget; :func:`ask_view` records a question about the task
(services/questions.py) and goes on with it or the next one. The GET adds the
person's progress and the unread answers to their questions; the POSTs count
nothing (the page counts on in the browser).

The trap: the GET of the page must not lease or bind (a link from another site
can make a browser follow it): ``lease=False`` only re-shows a lease already
held (``queue.show_held``), and the wall is decided without binding there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .context import Context, Unit
from .own_annotations import Progress, progress_of, take_back_last
from .projects import work_project
from .questions import record_question, unseen_answers
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
    # The person's own progress and unread answers to their questions: on the page's GET only
    # (the submit path never counts; the page counts on in the browser).
    progress: Progress | None = None
    unseen_answers: int = 0


def labelling_view(ctx: Context, project_id: str, *, lease: bool, with_progress: bool = False) -> LabellingView:
    """The labelling page's content. ``lease``: lease (or renew) the next task — a POST; else show what is held.

    ``with_progress``: add the person's progress and the unread answers to their questions (the page's GET).
    """
    with ctx.write() as w:
        task = lease_next(w, project_id) if lease else show_held(w, project_id)
        return _view(w, project_id, task, with_progress=with_progress)


def undo_view(ctx: Context, project_id: str) -> LabellingView:
    """Undo: the caller's newest annotation here is taken back (services/own_annotations.py) and its task
    shown again, the widget starting from the result they gave."""
    with ctx.write() as w:
        taken = take_back_last(w, project_id)
        task = {**taken.task, "predictions": [taken.previous, *taken.task["predictions"]]}
        return _view(w, project_id, task)


def ask_view(ctx: Context, project_id: str, task_id: str, text: Any, *, keep_lease: bool) -> LabellingView:
    """Ask the managers about the task in front of you (services/questions.py), then go on: the same task
    (``keep_lease``) or the next one."""
    with ctx.write() as w:
        record_question(w, project_id, task_id, text, keep_lease=keep_lease)
        return _view(w, project_id, lease_next(w, project_id))


def _view(w: Unit, project_id: str, task: dict[str, Any] | None, *, with_progress: bool = False) -> LabellingView:
    project = work_project(w, project_id, Action.TASK_WORK)
    task_type = w.rt.task_types.get(project.task_type)
    config = task_type.parse_config(project.config)
    widget_context = (
        task_type.widget_context(
            config, task["data"], task_id=task["id"], user_id=w.actor.user_id, predictions=task["predictions"]
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
        progress=progress_of(w, project) if with_progress else None,
        unseen_answers=unseen_answers(w, project.id, workspace_id=project.workspace_id) if with_progress else 0,
    )


__all__ = ["LabellingView", "ask_view", "labelling_view", "undo_view"]
