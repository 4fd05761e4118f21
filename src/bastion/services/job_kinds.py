"""Job kinds: the seam for long work (DESIGN.md: "long work -> a job kind for the jobs runner").

A kind is one object with a ``name``, the ``action`` a member's role must allow to submit,
see, cancel and retry its jobs (``access.py``), ``prepare`` (check a submission's params —
ids and settings only, never task content — and that they name the workspace's own
objects) and ``run_chunk`` (do the next piece of work from the job's checkpoint and return
the new checkpoint and progress). Built-ins register through the ``bastion_job_kinds`` hook
exactly like a plugin's (docs/jobs.md shows one).

The contract the runner relies on (``services/job_runner.py``): ``run_chunk`` writes only
through the unit it is given, so its work, the new checkpoint and the progress commit in one
transaction — a runner killed mid-chunk leaves nothing of that chunk, and the job resumes
from the last checkpoint. A kind whose chunk must call out (a model endpoint) may also define ``before_chunk(ctx, job,
checkpoint)``: the runner calls it outside any transaction (remote calls must not hold the
database's write lock), then ``run_chunk`` in the chunk's transaction with its answer as
``job.prefetched`` — only when the checkpoint is still the one ``before_chunk`` saw; otherwise
the prefetched answer is dropped and the chunk starts again from the new checkpoint.

The trap: a kind that keeps state elsewhere (a file, a remote
call) must make that part idempotent itself, keyed by something in its checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import search
from .context import Unit
from .projects import load_project
from .. import ids
from ..access import Action
from ..domain.errors import InvalidInput, NotFound
from ..plugins import hookimpl


@dataclass(frozen=True, slots=True)
class Prepared:
    """A submission as a kind accepts it: its params (normalised) and, optionally, its dedupe key
    (while a job with this key is queued or running in the workspace, submitting answers that job)."""

    params: dict[str, Any]
    dedupe_key: str | None = None


@dataclass(frozen=True, slots=True)
class RunningJob:
    """What a kind sees of the job it runs a chunk of."""

    workspace_id: str
    id: str
    kind: str
    params: Mapping[str, Any]
    attempts: int
    progress_done: int
    progress_total: int | None
    # What the kind's ``before_chunk`` fetched for this chunk outside the transaction (None without one).
    prefetched: Any = None


@dataclass(frozen=True, slots=True)
class Step:
    """What a chunk did: the checkpoint the next chunk starts from, the progress so far (``done`` of
    ``total``, in the kind's own unit: tasks, rows), and whether the job is finished (``result``:
    counts kept with the finished job, metadata only). ``wait_ms``: the job is not finished but has nothing to
    do for a while (a webhook delivery's back-off): it goes back to the queue, due then, the attempt uncounted."""

    checkpoint: dict[str, Any]
    done: int
    total: int | None = None
    finished: bool = False
    result: dict[str, Any] = field(default_factory=dict)
    wait_ms: int | None = None


class JobKind(Protocol):
    name: str
    action: Action
    description: str
    max_attempts: int

    def prepare(self, u: Unit, workspace_id: str, params: Mapping[str, Any]) -> Prepared: ...

    def run_chunk(self, u: Unit, job: RunningJob, checkpoint: dict[str, Any] | None) -> Step: ...


class JobKinds:
    """The installed kinds by name."""

    def __init__(self, kinds: Iterable[JobKind]) -> None:
        self._kinds: dict[str, JobKind] = {}
        for kind in kinds:
            if kind.name in self._kinds:
                raise ValueError(f"two job kinds named {kind.name!r}")
            self._kinds[kind.name] = kind

    def find(self, name: str) -> JobKind | None:
        return self._kinds.get(name)

    def get(self, name: str) -> JobKind:
        kind = self._kinds.get(name)
        if kind is None:
            raise InvalidInput(f"kind: no job kind named {name!r} (installed: {', '.join(sorted(self._kinds))})")
        return kind

    @property
    def names(self) -> list[str]:
        return sorted(self._kinds)

    def __iter__(self):
        return iter(self._kinds.values())


def installed() -> JobKinds:
    """Every kind the built-ins and the installed plugins provide."""
    from ..plugins import plugin_manager

    found: list[JobKind] = []
    for provided in plugin_manager().hook.bastion_job_kinds():
        found.extend(provided or [])
    return JobKinds(found)


def kinds_of(rt) -> JobKinds:
    """The runtime's kinds (looked up once per runtime)."""
    if rt.job_kinds is None:
        rt.job_kinds = installed()
    return rt.job_kinds


def only_keys(params: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidInput(f"params: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


# -- the first built-in kind: rebuilding a project's search index --------------------------------------


class ReindexSearch:
    """``search.reindex``: rebuild a project's search index (``services/search.py``), one batch of tasks a
    chunk. The checkpoint is the last indexed task id and the counts; a batch's block, labels and
    agreements commit with it, so no task is indexed twice and none is skipped."""

    name = "search.reindex"
    action = Action.TASK_MANAGE
    description = "Rebuild a project's search index from its sealed tasks and answers"
    max_attempts = 3

    def prepare(self, u: Unit, workspace_id: str, params: Mapping[str, Any]) -> Prepared:
        only_keys(params, {"project_id", "batch"})
        project_id = params.get("project_id")
        if not ids.has_prefix(project_id, "prj"):
            raise InvalidInput("params.project_id: a project id (prj_…) is required")
        batch = params.get("batch", search.REINDEX_BATCH)
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= search.REINDEX_BATCH:
            raise InvalidInput(f"params.batch: a whole number from 1 to {search.REINDEX_BATCH}")
        project = load_project(u, str(project_id), self.action)
        if project.workspace_id != workspace_id:
            raise NotFound("project not found")
        return Prepared({"project_id": project.id, "batch": batch}, dedupe_key=f"{self.name}:{project.id}")

    def run_chunk(self, u: Unit, job: RunningJob, checkpoint: dict[str, Any] | None) -> Step:
        project = load_project(u, str(job.params["project_id"]), self.action)
        if project.workspace_id != job.workspace_id:
            raise NotFound("project not found")
        if checkpoint is None:
            search.begin_reindex(u, project)
            counts = {"tasks": 0, "blocks": 0, "labelled": 0, "agreements": 0}
            return Step({"after": "", "counts": counts}, done=0, total=search.count_tasks(u, project))
        counts = dict(checkpoint["counts"])
        batch = search.reindex_batch(u, project, after=checkpoint["after"], limit=int(job.params["batch"]))
        if batch is None:
            search.end_reindex(u, project, counts)
            return Step(checkpoint, done=counts["tasks"], total=counts["tasks"], finished=True, result=counts)
        search.add_counts(counts, batch)
        total = max(job.progress_total or 0, counts["tasks"])
        return Step({"after": batch.last_id, "counts": counts}, done=counts["tasks"], total=total)


REINDEX_SEARCH = ReindexSearch()


@hookimpl
def bastion_job_kinds():
    from .webhooks import DELIVER_WEBHOOK

    return [REINDEX_SEARCH, DELIVER_WEBHOOK]
