"""``bastion task …``: change, delete and assign tasks after import (services/task_changes.py,
services/task_assignees.py), one by id or many by a filter (``--project`` with conditions); rebuild
a project's search index (services/search.py)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer

from ._output import out
from ._runtime import context, runtime
from ..domain.errors import BastionError
from ..services import jobs, task_assignees, task_changes

task_app = typer.Typer(help="Change, delete and assign tasks after import; reindex them.", no_args_is_help=True)

TaskArg = Annotated[str | None, typer.Argument(help="The task's id (or --project with a filter).", show_default=False)]
ProjectOpt = Annotated[
    str | None, typer.Option("--project", help="Act on this project's tasks that match the filter options.")
]
IdsOpt = Annotated[list[str] | None, typer.Option("--id", help="Filter: a task id (repeat for more).")]
ExternalOpt = Annotated[
    list[str] | None, typer.Option("--external-id", help="Filter: an external id (repeat for more).")
]
MinOpt = Annotated[int | None, typer.Option("--priority-min", help="Filter: priority at least this.")]
MaxOpt = Annotated[int | None, typer.Option("--priority-max", help="Filter: priority at most this.")]
AnnotatedOpt = Annotated[
    bool | None, typer.Option("--annotated/--unannotated", help="Filter: with or without annotations.")
]
GoldOpt = Annotated[bool | None, typer.Option("--gold/--not-gold", help="Filter: gold tasks or the others.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")]


def _json_value(option: str, text: str | None) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint=option) from None


def _filter(ids, external_ids, priority_min, priority_max, annotated, gold) -> dict[str, Any]:
    where = {
        "ids": ids or None,
        "external_ids": external_ids or None,
        "priority_min": priority_min,
        "priority_max": priority_max,
        "has_annotations": annotated,
        "gold": gold,
    }
    return {key: value for key, value in where.items() if value is not None}


def _target(task_id: str | None, project_id: str | None, where: dict[str, Any]) -> None:
    if (task_id is None) == (project_id is None):
        raise typer.BadParameter("give a task id, or --project with filter options (not both)")
    if task_id is not None and where:
        raise typer.BadParameter("filter options go with --project")
    if project_id is not None and not where:
        raise typer.BadParameter("--project needs one or more filter options (--id, --external-id, --priority-min, …)")


def _print(answer: dict[str, Any], as_json: bool, line: str) -> None:
    if as_json:
        typer.echo(orjson.dumps(answer).decode())
    else:
        out.print(line, highlight=False)


@task_app.command("update")
def task_update(
    task_id: TaskArg = None,
    project_id: ProjectOpt = None,
    ids: IdsOpt = None,
    external_ids: ExternalOpt = None,
    priority_min: MinOpt = None,
    priority_max: MaxOpt = None,
    annotated: AnnotatedOpt = None,
    gold: GoldOpt = None,
    priority: Annotated[int | None, typer.Option("--priority", help="New priority (-1000..1000).")] = None,
    predictions: Annotated[
        str | None, typer.Option("--predictions", help="New predictions, a JSON list ('[]' removes them).")
    ] = None,
    meta: Annotated[str | None, typer.Option("--meta", help="New meta, a JSON object.")] = None,
    clear_meta: Annotated[bool, typer.Option("--clear-meta", help="Remove the meta.")] = False,
    as_json: JsonOpt = False,
):
    """Change priority, predictions or meta of a task, or of a project's tasks matching a filter (audited)."""
    where = _filter(ids, external_ids, priority_min, priority_max, annotated, gold)
    _target(task_id, project_id, where)
    if meta is not None and clear_meta:
        raise typer.BadParameter("give --meta or --clear-meta, not both")
    patch: dict[str, Any] = {}
    if priority is not None:
        patch["priority"] = priority
    if predictions is not None:
        patch["predictions"] = _json_value("--predictions", predictions)
    if meta is not None or clear_meta:
        patch["meta"] = _json_value("--meta", meta)
    if not patch:
        raise typer.BadParameter("nothing to change: give --priority, --predictions, --meta or --clear-meta")
    ctx = context(runtime())
    if task_id is not None:
        answer = task_changes.update_task(ctx, task_id, patch)
        _print(answer, as_json, f"{task_id}: changed {', '.join(answer['fields'])}")
    else:
        assert project_id is not None
        answer = task_changes.update_tasks(ctx, project_id, where, patch)
        _print(answer, as_json, f"{answer['updated']} tasks: changed {', '.join(answer['fields'])}")


@task_app.command("delete")
def task_delete(
    task_id: TaskArg = None,
    project_id: ProjectOpt = None,
    ids: IdsOpt = None,
    external_ids: ExternalOpt = None,
    priority_min: MinOpt = None,
    priority_max: MaxOpt = None,
    annotated: AnnotatedOpt = None,
    gold: GoldOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Delete by a filter without asking.")] = False,
    as_json: JsonOpt = False,
):
    """Delete a task, or a project's tasks matching a filter, with their annotations, reviews and
    assignments and the files no other task names (audited)."""
    where = _filter(ids, external_ids, priority_min, priority_max, annotated, gold)
    _target(task_id, project_id, where)
    ctx = context(runtime())
    if task_id is not None:
        answer = task_changes.delete_task(ctx, task_id)
    else:
        assert project_id is not None
        if not yes:
            typer.confirm(f"Delete the tasks of {project_id} that match the filter, and their annotations?", abort=True)
        answer = task_changes.delete_tasks(ctx, project_id, where)
    _print(
        answer,
        as_json,
        f"deleted {answer['tasks']} tasks, {answer['annotations']} annotations, {answer['reviews']} reviews, "
        f"{answer['assignments']} assignments, {answer['files']} files",
    )


@task_app.command("assign")
def task_assign(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    user: Annotated[str | None, typer.Argument(help="The member's e-mail.", show_default=False)] = None,
    clear: Annotated[bool, typer.Option("--clear", help="End every lease on the task instead.")] = False,
    as_json: JsonOpt = False,
):
    """Give a task to a member (their next task in its project is this one), or --clear it (audited)."""
    if (user is None) == (not clear):
        raise typer.BadParameter("give a member's e-mail, or --clear")
    ctx = context(runtime())
    if clear:
        answer = task_assignees.unassign_task(ctx, task_id)
        _print(answer, as_json, f"{task_id}: {answer['released']} leases ended, back in the pool")
    else:
        assert user is not None
        answer = task_assignees.assign_task(ctx, task_id, user)
        _print(answer, as_json, f"{task_id}: assigned to {answer['user']}")


@task_app.command("reindex")
def task_reindex(
    project_id: Annotated[str, typer.Option("--project", help="The project whose search index to rebuild.")],
    as_json: JsonOpt = False,
):
    """Rebuild a project's search index from its sealed tasks and answers: for tasks imported before the
    index existed (the data browser says so), and after a project's data key changed (audited). Runs as a
    job (``search.reindex``, resumable: see ``bastion job``), here unless a server's runner has it already."""
    from .jobs import wait_with_progress

    rt = runtime()
    ctx = context(rt)
    job = wait_with_progress(rt, jobs.submit_reindex(ctx, project_id), "indexing")
    if job["state"] != "succeeded":
        raise BastionError(
            f"job {job['id']} {job['state']}"
            + (f": {job['last_error']}" if job["last_error"] else "")
            + f" (see `bastion job show {job['id']}`; `bastion job retry {job['id']}` resumes it)"
        )
    answer = {"job": job["id"], **job["checkpoint"]["counts"]}
    _print(
        answer,
        as_json,
        f"indexed {answer['tasks']} tasks in {answer['blocks']} blocks; "
        f"{answer['labelled']} with labels, {answer['agreements']} with an agreement",
    )


@task_app.command("prelabel")
def task_prelabel(
    project_id: Annotated[str, typer.Option("--project", help="The project whose tasks to pre-label.")],
    as_json: JsonOpt = False,
):
    """Pre-label a project's tasks with the model its ``prelabel`` setting names (docs/prelabel.md): each
    task without a prediction of this model version gets one. Runs as a job (``prelabel.run``, resumable:
    see ``bastion job``), here unless a server's runner has it already. Unreadable replies are counted."""
    from .jobs import wait_with_progress
    from ..services import prelabel

    rt = runtime()
    ctx = context(rt)
    job = wait_with_progress(rt, prelabel.submit(ctx, project_id), "pre-labelling")
    if job["state"] != "succeeded":
        raise BastionError(
            f"job {job['id']} {job['state']}"
            + (f": {job['last_error']}" if job["last_error"] else "")
            + f" (see `bastion job show {job['id']}`; `bastion job retry {job['id']}` resumes it)"
        )
    answer = {"job": job["id"], "version": job["params"]["version"], **job["checkpoint"]["counts"]}
    _print(
        answer,
        as_json,
        f"pre-labelled {answer['labelled']} tasks with {answer['version']}; "
        f"{answer['failed']} replies could not be read, {answer['skipped']} tasks had one already",
    )
