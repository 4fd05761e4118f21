"""Pre-labels: a model of the workspace labels a project's tasks first, as a durable job (docs/prelabel.md).

Concept. A project's ``prelabel`` setting names a model endpoint of its workspace (``mep_…``), a
model (the endpoint's default when none), a system prompt template (the task type's own when
none) and ``on_import`` (each import is followed by a job). The task type builds the messages
for one task and reads the reply back (``TaskType.prelabel_prompt`` / ``parse_prelabel``); its
``validate_prediction`` (``validate_result`` unless the type holds predictions to other rules)
checks the result like an imported prediction. The job kind ``prelabel.run`` goes
through the project's tasks in id order, 20 a chunk: the model calls are made before the chunk's
transaction (``before_chunk``: remote calls never hold the write lock), each audited as
``model.called``; the predictions ``{"result", "model_version"}`` are appended to the tasks'
sealed predictions in the chunk's transaction, with its checkpoint.

The version (``model_version``) is ``ENDPOINT/MODEL/PROMPT-HASH``: the hash is of the system
prompt as rendered for the project's config, so a new prompt or new labels make a new version,
and a task already holding a prediction of this version is passed over — the next job for the
same version labels only what is left (failed replies included).

Who: owners and managers start a pre-label job (``task.manage``); the person who submits must be
allowed the endpoint (``model.use``) and the workspace's content (walls). The runner calls as
the system, in the workspace of the job.

The trap: exactly once. A runner killed between its model calls and its commit has written
nothing; the next runner calls the model again for those tasks (a model call may happen twice,
a prediction never). A chunk re-reads each task's predictions in its own transaction and skips
a task that already has one of this version, so a job and a second one for the same version
cannot both add one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from . import egress
from .context import Context, Unit
from .job_kinds import Prepared, RunningJob, Step, only_keys
from .projects import load_project
from .. import ids
from ..access import Action
from ..domain.completions import Completion
from ..domain.errors import Conflict, InvalidAnswer, InvalidInput, NotFound
from ..domain.projects import PrelabelSetting, Project
from ..plugins import hookimpl
from ..storage import model_endpoints_store, tasks_store
from ..tasktypes import _prelabel

KIND = "prelabel.run"
CHUNK = 20
MAX_CHUNK = 100
MAX_REPLY_TOKENS = 1024
CALLS_AT_ONCE = 4  # model calls in flight at once, within one chunk


def prompt_hash(system: str) -> str:
    return hashlib.sha256(system.encode()).hexdigest()[:12]


def check_setting(u: Unit, workspace_id: str, task_type: Any, config: Any, setting: PrelabelSetting | None) -> None:
    """Refuse a ``prelabel`` setting the project cannot use (errors name the field)."""
    if setting is None:
        return
    refusal = task_type.prelabel_refusal(config)
    if refusal:
        raise InvalidInput(f"settings.prelabel: {refusal}")
    if setting.prompt is not None:
        problem = _prelabel.check_template(setting.prompt, task_type.prelabel_values)
        if problem:
            raise InvalidInput(f"settings.prelabel.prompt: {problem}")
    row = model_endpoints_store.find_endpoint(u.tx, setting.endpoint, workspace_ids=[workspace_id])
    if row is None:
        raise InvalidInput(f"settings.prelabel.endpoint: no model endpoint {setting.endpoint} in this workspace")


def _setting(project: Project) -> PrelabelSetting:
    setting = project.settings.prelabel
    if setting is None:
        raise InvalidInput("settings.prelabel: this project has no pre-label setting (give its endpoint first)")
    return setting


def plan(u: Unit, project: Project) -> dict[str, Any]:
    """The job's params for the project's setting as it is now: endpoint, model, version."""
    setting = _setting(project)
    task_type = u.rt.task_types.get(project.task_type)
    config = task_type.parse_config(project.config)
    check_setting(u, project.workspace_id, task_type, config, setting)
    row = model_endpoints_store.find_endpoint(u.tx, setting.endpoint, workspace_ids=[project.workspace_id])
    assert row is not None  # check_setting found it
    model = setting.model or row.default_model
    sample = task_type.sample_data(config)
    system = task_type.prelabel_prompt(config, sample, setting.prompt)[0]["content"]
    version = f"{setting.endpoint}/{model}/{prompt_hash(system)}"
    return {"project_id": project.id, "endpoint": setting.endpoint, "model": model, "version": version}


def _version_of(prediction: Any) -> str | None:
    return prediction.get("model_version") if isinstance(prediction, dict) and "result" in prediction else None


class PrelabelRun:
    """``prelabel.run``: pre-label a project's tasks with its model (see the module docstring).

    Checkpoint: ``{"after": last task id, "counts": {"labelled", "failed", "skipped"}}``."""

    name = KIND
    action = Action.TASK_MANAGE
    description = "Pre-label a project's tasks with the model its settings name"
    max_attempts = 5

    def prepare(self, u: Unit, workspace_id: str, params: Mapping[str, Any]) -> Prepared:
        only_keys(params, {"project_id", "chunk"})
        project_id = params.get("project_id")
        if not ids.has_prefix(project_id, "prj"):
            raise InvalidInput("params.project_id: a project id (prj_…) is required")
        chunk = params.get("chunk", CHUNK)
        if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= MAX_CHUNK:
            raise InvalidInput(f"params.chunk: a whole number from 1 to {MAX_CHUNK}")
        project = load_project(u, str(project_id), self.action)
        if project.workspace_id != workspace_id:
            raise NotFound("project not found")
        planned = plan(u, project)
        if not u.actor.is_system:  # the submitter must be allowed the endpoint and the content
            u.access.require(Action.MODEL_USE, workspace_id, what="model endpoint")
            u.see_content(workspace_id)
        return Prepared({**planned, "chunk": chunk}, dedupe_key=f"{self.name}:{project.id}")

    def _project(self, u: Unit, job: RunningJob) -> Project:
        project = load_project(u, str(job.params["project_id"]), self.action)
        if project.workspace_id != job.workspace_id:
            raise NotFound("project not found")
        return project

    def before_chunk(self, ctx: Context, job: RunningJob, checkpoint: dict[str, Any] | None) -> dict[str, Any]:
        """The next chunk's tasks and their model replies (parsed), fetched outside any transaction."""
        from .completions import complete

        if checkpoint is None:
            return {"start": True}
        version = str(job.params["version"])
        with ctx.read() as r:
            project = self._project(r, job)
            if plan(r, project)["version"] != version:
                raise InvalidInput(
                    "settings.prelabel: the project's pre-label setting changed while the job ran; submit a new job"
                )
            task_type = r.rt.task_types.get(project.task_type)
            config = task_type.parse_config(project.config)
            template = _setting(project).prompt
            rows = tasks_store.list_task_page(
                r.tx,
                project.id,
                workspace_id=project.workspace_id,
                after=checkpoint["after"],
                limit=int(job.params["chunk"]),
            )
            sealer = r.sealer(project.workspace_id, project.key_id)
            todo: list[tuple[str, dict]] = []
            skipped: list[str] = []
            for row in rows:
                preds = (
                    [] if row.predictions is None else sealer.open_json("tasks", row.id, "predictions", row.predictions)
                )
                if any(_version_of(p) == version for p in preds):
                    skipped.append(row.id)
                else:
                    todo.append((row.id, sealer.open_json("tasks", row.id, "payload", row.payload)["data"]))

        def label(item: tuple[str, dict]) -> dict | str:
            task_id, data = item
            reply = complete(
                ctx,
                str(job.params["endpoint"]),
                task_type.prelabel_prompt(config, data, template),
                model=str(job.params["model"]),
                params={"max_tokens": MAX_REPLY_TOKENS, "temperature": 0},
                limits=egress.Limits(),
                purpose="prelabel",
            )
            assert isinstance(reply, Completion)
            try:
                return task_type.validate_prediction(config, data, task_type.parse_prelabel(config, data, reply.text))
            except InvalidAnswer as exc:
                return exc.message[:200]

        # A few calls at once (a model endpoint's latency, not our CPU, bounds a chunk); a call that fails
        # (the endpoint down, a timeout) fails the chunk: nothing of it is written, the job retries.
        with ThreadPoolExecutor(max_workers=max(1, min(CALLS_AT_ONCE, len(todo)))) as pool:
            outcomes = dict(zip((task_id for task_id, _ in todo), pool.map(label, todo), strict=True))
        return {"last": rows[-1].id if rows else None, "outcomes": outcomes, "skipped": skipped}

    def run_chunk(self, u: Unit, job: RunningJob, checkpoint: dict[str, Any] | None) -> Step:
        project = self._project(u, job)
        fetched = job.prefetched
        if not isinstance(fetched, dict):
            raise Conflict("prelabel.run: a chunk ran without its model replies")
        if checkpoint is None:
            counts = {"labelled": 0, "failed": 0, "skipped": 0}
            total = tasks_store.count_listed_tasks(u.tx, project.id, workspace_id=project.workspace_id)
            return Step({"after": "", "counts": counts}, done=0, total=total)
        counts = dict(checkpoint["counts"])
        if fetched["last"] is None:
            done = sum(counts.values())
            return Step(checkpoint, done=done, total=done, finished=True, result=counts)
        version = str(job.params["version"])
        ws = project.workspace_id
        sealer = u.sealer(ws, project.key_id)
        outcomes: dict[str, dict | str] = fetched["outcomes"]
        counts["skipped"] += len(fetched["skipped"])
        current = tasks_store.sealed_predictions(u.tx, list(outcomes), workspace_id=ws)
        changes: list[tuple[str, dict[str, bytes | None]]] = []
        for task_id, outcome in outcomes.items():
            if task_id not in current:  # deleted meanwhile
                continue
            sealed = current[task_id]
            preds = [] if sealed is None else sealer.open_json("tasks", task_id, "predictions", sealed)
            if any(_version_of(p) == version for p in preds):
                counts["skipped"] += 1
                continue
            if isinstance(outcome, str):
                counts["failed"] += 1
                continue
            preds.append({"result": outcome, "model_version": version})
            blob = sealer.seal("tasks", task_id, "predictions", orjson.dumps(preds))
            changes.append((task_id, {"predictions": blob}))
            counts["labelled"] += 1
        tasks_store.set_sealed(u.tx, changes, workspace_id=ws)
        done = sum(counts.values())
        total = max(job.progress_total or 0, done)
        return Step({"after": fetched["last"], "counts": counts}, done=done, total=total)


PRELABEL_RUN = PrelabelRun()


@hookimpl
def bastion_job_kinds():
    return [PRELABEL_RUN]


def submit(ctx: Context, project_id: str, *, chunk: int | None = None) -> dict[str, Any]:
    """Queue a ``prelabel.run`` job for the project (one at a time per project: a second answers the first)."""
    from .jobs import submit as submit_job

    with ctx.read() as r:
        project = load_project(r, project_id, Action.TASK_MANAGE)
    params: dict[str, Any] = {"project_id": project.id}
    if chunk is not None:
        params["chunk"] = chunk
    return submit_job(ctx, project.workspace_id, KIND, params)


def after_import(ctx: Context, project: Project) -> str | None:
    """The job that pre-labels an import's tasks when the project asks for it (``on_import``), or None.

    Submitted as the system (the importer may be an annotator-less integration token); a setting
    that no longer works is not an import's failure: it is logged and the import stands."""
    setting = project.settings.prelabel
    if setting is None or not setting.on_import:
        return None
    from .jobs import submit as submit_job
    from ..access import Actor

    try:
        job = submit_job(Context(ctx.rt, Actor.system()), project.workspace_id, KIND, {"project_id": project.id})
    except (InvalidInput, NotFound) as exc:
        import logging

        logging.getLogger("bastion.prelabel").warning("project %s: no pre-label job: %s", project.id, exc.message)
        return None
    return str(job["id"])
