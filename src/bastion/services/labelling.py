"""A task type's widget, ready to render: to label, to show a result read-only, or to correct one.

:func:`labelling_view` is the labelling page in one service call: it leases (or
re-shows) the task, loads the project with its counts, and asks the task type for
the widget's context — all in ONE transaction, so what the page shows is one
consistent reading: the task's data as this person is shown it (their variant,
services/variants.py; redacted text as stored), its predictions, the lease's
expiry, the project's instructions and counts, and the overlay (services/tracing.py).

:class:`Widget` is the one seam every page that shows a widget goes through (the
labelling page, review, the task page, a set-up preview, an annotator's "edit my
last answer"): :func:`label_widget` for a task to label, :func:`result_widget`
for a result shown ``read``-only or as a ``correct``-ion form (whose post the task
type's ``result_from_form`` reads back), and :func:`compared_widgets` for several
results of one task side by side, each marking the facts (``TaskType.result_facts``)
that not every one of them holds. ``web/pages/widgets.py`` renders a Widget; the
ids inside a widget's template are scoped by its ``prefix``, so several widgets
share a page. A plugin's widget works unchanged: its template reads the result as
``task.predictions[0]``, as it reads a pre-annotation.

When the project's guidelines have a version the person has not acknowledged yet
(services/guidelines.py), the view carries it (``guidelines``) and a lease is refused: the
page shows the guidelines and an "I have read them" button instead of the next task.

The labelling page's other POSTs are one call each too: :func:`undo_view` takes back the
person's newest annotation (services/own_annotations.py) and shows its task with
their result in the widget; :func:`ask_view` records a question about the task
(services/questions.py) and goes on with it or the next one. The GET adds the
person's progress and the unread answers to their questions; the POSTs count
nothing (the page counts on in the browser).

The trap: the GET of the labelling page must not lease or bind (a link from
another site can make a browser follow it): ``lease=False`` only re-shows a lease
already held (``queue.show_held``), and the wall is decided without binding there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .context import Context, Unit
from .guidelines import Notice, notice_for
from .own_annotations import Progress, progress_of, take_back_last
from .projects import load_project, work_project
from .questions import record_question, unseen_answers
from .queue import lease_next, show_held
from .tracing import overlay_of
from ..access import Action
from ..domain.errors import GuidelinesUnacknowledged, InvalidInput
from ..domain.projects import Project

MODES = ("label", "read", "correct")
_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,80}$")


@dataclass(frozen=True)
class Widget:
    """One widget on a page: the type's template with what it reads, how it may be used, and its id prefix."""

    name: str  # the task type
    template: str  # "tasktypes/<name>/widget.html"
    script: str  # its script's URL
    config: Any  # the parsed config
    task: dict[str, Any]  # what the template reads as ``task``: id, data, predictions (a shown result first)
    view: dict[str, Any]  # ``TaskType.widget_context`` / ``result_widget_context``
    mode: str  # label | read (inert) | correct (a correction form: locked until the page unlocks it)
    prefix: str = ""  # prepended to every id in the template ("" on the labelling page)
    differs: frozenset[str] = frozenset()  # keys of this result's facts that not every compared result holds
    disputed: tuple[str, ...] = ()  # the words of those facts, for a list under the widget
    locked: bool = True  # a correction form starts locked (the page unlocks it); False: editable at once
    suggested_by: str | None = None  # the model version whose pre-label the widget starts from


def widget_script(task_type_name: str) -> str:
    """The URL of a task type's widget script (a page showing its widgets loads it once, in its head)."""
    return f"/static/tasktypes/{task_type_name}/widget.js"


def _check(mode: str, prefix: str) -> None:
    if mode not in MODES:
        raise InvalidInput(f"mode: one of {', '.join(MODES)}")
    if prefix and not _PREFIX.match(prefix):
        raise InvalidInput("prefix: a letter, then letters, digits, '-' or '_'")


def _widget(task_type, config, task: dict, view: dict, mode: str, prefix: str, **extra: Any) -> Widget:
    return Widget(
        name=task_type.name,
        template=f"tasktypes/{task_type.name}/widget.html",
        script=widget_script(task_type.name),
        config=config,
        task=task,
        view=view,
        mode=mode,
        prefix=prefix,
        **extra,
    )


def starting_values(predictions: Sequence[Any] | None) -> tuple[list[Any], str | None]:
    """Predictions as widgets read them — each a result (one stored with its model,
    ``{"result", "model_version", …}``, gives its result) — and the model version of the first
    when it came from a model (a pre-label: docs/prelabel.md), so the page can say so."""
    shown: list[Any] = []
    for p in predictions or []:
        wrapped = isinstance(p, dict) and isinstance(p.get("result"), dict) and "model_version" in p
        shown.append(p["result"] if wrapped else p)
    first = (predictions or [None])[0]
    version = first.get("model_version") if isinstance(first, dict) and isinstance(first.get("result"), dict) else None
    return shown, version if isinstance(version, str) else None


def label_widget(task_type, config, task: dict[str, Any], *, user_id: str, prefix: str = "") -> Widget:
    """The widget to label ``task`` (as ``user_id`` is shown it), starting from its predictions (a model's
    pre-label marked as its suggestion)."""
    _check("label", prefix)
    predictions, suggested_by = starting_values(task.get("predictions"))
    task = {**task, "predictions": predictions}
    view = task_type.widget_context(config, task["data"], task_id=task["id"], user_id=user_id, predictions=predictions)
    return _widget(task_type, config, task, view, "label", prefix, suggested_by=suggested_by)


def result_widget(
    task_type,
    config,
    task: dict[str, Any],
    result: Any,
    *,
    mode: str = "read",
    prefix: str,
    user_id: str = "",
    differs: frozenset[str] = frozenset(),
    disputed: tuple[str, ...] = (),
    locked: bool = True,
) -> Widget:
    """The widget showing ``result`` on ``task`` (its data as the viewer is shown it): ``read``-only, or to
    ``correct`` (the form posts what ``result_from_form`` reads; ``locked``: until the page unlocks it, as
    review does on Correct — an "edit my answer" form passes False). ``user_id``: whose order to draw
    where the result records none."""
    _check(mode, prefix)
    if not prefix:
        raise InvalidInput("prefix: required for a result's widget (several share a page)")
    view = task_type.result_widget_context(config, task["data"], result, task_id=task["id"], user_id=user_id)
    shown = {"id": task["id"], "data": task["data"], "predictions": [result] if result is not None else []}
    return _widget(task_type, config, shown, view, mode, prefix, differs=differs, disputed=disputed, locked=locked)


def disagreements(
    task_type, config, data: dict, results: Sequence[Any]
) -> list[tuple[frozenset[str], tuple[str, ...]]]:
    """For each result: the keys and words of its facts that not every one of ``results`` holds."""
    facts = [task_type.result_facts(config, data, result) for result in results]
    if len(facts) < 2:
        return [(frozenset(), ()) for _ in facts]
    shared = set(facts[0]).intersection(*facts[1:])
    out = []
    for mine in facts:
        keys = [k for k in mine if k not in shared]
        out.append((frozenset(keys), tuple(mine[k] for k in keys)))
    return out


def compared_widgets(
    task_type,
    config,
    task: dict[str, Any],
    results: Sequence[tuple[str, Any]],
    *,
    modes: Sequence[str] | None = None,
    unlocked: frozenset[int] = frozenset(),
) -> list[Widget]:
    """Several results of one task, side by side: ``(prefix, result)`` each, read-only (or ``modes``; the
    positions in ``unlocked`` start editable), each marking its facts that not every one of them holds."""
    marks = disagreements(task_type, config, task["data"], [result for _, result in results])
    return [
        result_widget(
            task_type,
            config,
            task,
            result,
            mode=modes[i] if modes else "read",
            prefix=prefix,
            differs=marks[i][0],
            disputed=marks[i][1],
            locked=i not in unlocked,
        )
        for i, (prefix, result) in enumerate(results)
    ]


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
    shown: Widget | None = None  # the widget to label the task with (None: no task)
    # The person's own progress and unread answers to their questions: on the page's GET only
    # (the submit path never counts; the page counts on in the browser).
    progress: Progress | None = None
    unseen_answers: int = 0
    # The project's guidelines: the newest version, and the one owed before the next task (with its text).
    guidelines: Notice | None = None


def labelling_view(ctx: Context, project_id: str, *, lease: bool, with_progress: bool = False) -> LabellingView:
    """The labelling page's content. ``lease``: lease (or renew) the next task — a POST; else show what is held.

    ``with_progress``: add the person's progress and the unread answers to their questions (the page's GET).
    """
    with ctx.write() as w:
        try:
            task = lease_next(w, project_id) if lease else show_held(w, project_id)
        except GuidelinesUnacknowledged:  # no lease: the view shows the guidelines to acknowledge
            task = None
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
        try:
            task = lease_next(w, project_id)
        except GuidelinesUnacknowledged:  # refused before the queue wrote anything: the question stands
            task = None
        return _view(w, project_id, task)


def _view(w: Unit, project_id: str, task: dict[str, Any] | None, *, with_progress: bool = False) -> LabellingView:
    project = work_project(w, project_id, Action.TASK_WORK)
    task_type = w.rt.task_types.get(project.task_type)
    config = task_type.parse_config(project.config)
    shown = label_widget(task_type, config, task, user_id=w.actor.user_id) if task else None
    guidelines = None if w.actor.is_system else notice_for(w, load_project(w, project_id, Action.TASK_WORK))
    overlay = overlay_of(w, project_id) if task or (guidelines and guidelines.body) else None
    return LabellingView(
        project=project,
        config=config,
        task=task,
        widget=f"tasktypes/{task_type.name}/widget.html",
        widget_script=widget_script(task_type.name),
        widget_context=shown.view if shown else {},
        overlay=overlay,
        shown=shown,
        progress=progress_of(w, project) if with_progress else None,
        unseen_answers=unseen_answers(w, project.id, workspace_id=project.workspace_id) if with_progress else 0,
        guidelines=guidelines,
    )


__all__ = [
    "MODES",
    "LabellingView",
    "Widget",
    "ask_view",
    "compared_widgets",
    "disagreements",
    "label_widget",
    "labelling_view",
    "result_widget",
    "undo_view",
    "widget_script",
]
