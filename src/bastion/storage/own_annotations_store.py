"""A person's own annotations: their progress, their list, and the versions an edit or undo keeps.

Off the submit path, except ``CARRIED_REVIEW`` (a submit on a task the person took back, in a
project that reviews a sample: the new annotation keeps the old one's draw, so an undo cannot
re-roll the review sample). Results stay sealed here; ``annotation_versions`` holds a person's
earlier results for a task (what an edit replaced, what an undo took back), sealed under their
own id. The changes to an annotation are guarded by its review state in the statement itself:
a review that lands first wins, and the change is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import and_, case, delete, func, insert, select, update

from . import schema
from .annotations_store import AnnotationRow
from .database import Tx
from .fast import Statement

A = schema.assignments
N = schema.annotations
T = schema.tasks
V = schema.annotation_versions
R = schema.reviews
L = schema.review_leases

_COLUMNS = [getattr(N.c, name) for name in AnnotationRow._fields]
UNREVIEWED = ("none", "pending")


class Progress(NamedTuple):
    """How much of a project a person did, and how much of it is open to them."""

    done: int  # tasks they annotated (canaries included: they cannot tell them apart)
    done_since: int  # of those, annotated after the ``since`` asked for
    passed_open: int  # tasks still open that they annotated or skipped: not theirs to get again


def count_progress(tx: Tx, project_id: str, *, workspace_id: str, user_id: str, since: int) -> Progress:
    """The person's submitted assignments (all, and since ``since``), and those on still-open tasks they passed.

    Reads their rows of ``ix_assignments_user`` (and the task of each passed one): the
    cost grows with what the person did, not with the project.
    """
    mine = (A.c.workspace_id == workspace_id, A.c.project_id == project_id, A.c.user_id == user_id)
    done, recent = tx.execute(
        select(func.count(), func.sum(case((A.c.updated_at > since, 1), else_=0))).where(
            *mine, A.c.state == "submitted"
        )
    ).one()
    passed = tx.execute(
        select(func.count())
        .select_from(A.join(T, and_(T.c.workspace_id == A.c.workspace_id, T.c.id == A.c.task_id)))
        .where(*mine, A.c.state.in_(("submitted", "skipped")), T.c.done.is_(False))
    ).scalar_one()
    return Progress(int(done), int(recent or 0), int(passed))


def count_tasks(tx: Tx, project_id: str, *, workspace_id: str) -> int:
    """The project's tasks a person can be handed (not canaries, not held): for a qualification test, small."""
    return tx.execute(
        select(func.count()).where(
            T.c.workspace_id == workspace_id,
            T.c.project_id == project_id,
            T.c.is_canary.is_(False),
            T.c.held.is_(False),
        )
    ).scalar_one()


def find_last_annotation(tx: Tx, project_id: str, *, workspace_id: str, user_id: str) -> AnnotationRow | None:
    """The person's newest annotation in the project (ids are time-ordered)."""
    row = tx.execute(
        select(*_COLUMNS)
        .where(N.c.workspace_id == workspace_id, N.c.user_id == user_id, N.c.project_id == project_id)
        .order_by(N.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else AnnotationRow._make(row)


def list_annotation_page(
    tx: Tx, project_id: str, *, workspace_id: str, user_id: str, before: str | None, limit: int
) -> list[AnnotationRow]:
    """The person's annotations in the project, newest first, older than ``before`` (keyset: any depth, one cost)."""
    query = select(*_COLUMNS).where(
        N.c.workspace_id == workspace_id, N.c.user_id == user_id, N.c.project_id == project_id
    )
    if before:
        query = query.where(N.c.id < before)
    return [AnnotationRow._make(row) for row in tx.execute(query.order_by(N.c.id.desc()).limit(limit)).all()]


class Decision(NamedTuple):
    """The latest review decision on an annotation (``comment`` sealed under the review's id)."""

    annotation_id: str
    review_id: str
    decision: str
    comment: bytes | None
    created_at: int


def latest_decisions(tx: Tx, annotation_ids: Sequence[str], *, workspace_id: str) -> dict[str, Decision]:
    """annotation id -> its latest review decision, for those reviewed."""
    if not annotation_ids:
        return {}
    rows = tx.execute(
        select(R.c.annotation_id, R.c.id, R.c.decision, R.c.comment, R.c.created_at)
        .where(R.c.workspace_id == workspace_id, R.c.annotation_id.in_(list(annotation_ids)))
        .order_by(R.c.id)
    ).all()
    return {row[0]: Decision._make(row) for row in rows}  # the last one of each wins


def count_versions(tx: Tx, task_ids: Sequence[str], *, workspace_id: str, user_id: str) -> dict[str, int]:
    """task id -> how many earlier versions of their annotation of it the person has (for those with any)."""
    if not task_ids:
        return {}
    rows = tx.execute(
        select(V.c.task_id, func.max(V.c.version))
        .where(V.c.workspace_id == workspace_id, V.c.user_id == user_id, V.c.task_id.in_(list(task_ids)))
        .group_by(V.c.task_id)
    ).all()
    return {task_id: int(version) for task_id, version in rows}


def last_version(tx: Tx, task_id: str, *, workspace_id: str, user_id: str) -> int:
    """The number of the person's latest kept version of their annotation of the task (0: none kept)."""
    found = tx.execute(
        select(func.max(V.c.version)).where(
            V.c.workspace_id == workspace_id, V.c.task_id == task_id, V.c.user_id == user_id
        )
    ).scalar()
    return int(found or 0)


class Version(NamedTuple):
    """One kept version of a person's annotation (``result`` sealed under ``id``)."""

    id: str
    version: int
    annotation_id: str
    result: bytes
    lead_time_ms: int | None
    review_status: str
    created_at: int
    replaced_at: int
    change: str


def list_versions(tx: Tx, task_id: str, *, workspace_id: str, user_id: str) -> list[Version]:
    """The person's kept versions of their annotation of the task, oldest first."""
    rows = tx.execute(
        select(
            V.c.id,
            V.c.version,
            V.c.annotation_id,
            V.c.result,
            V.c.lead_time_ms,
            V.c.review_status,
            V.c.created_at,
            V.c.replaced_at,
            V.c.change,
        )
        .where(V.c.workspace_id == workspace_id, V.c.task_id == task_id, V.c.user_id == user_id)
        .order_by(V.c.version)
    ).all()
    return [Version._make(row) for row in rows]


def keep_version(
    tx: Tx,
    version_id: str,
    *,
    row: AnnotationRow,
    version: int,
    result: bytes,
    change: str,
    created_at: int,
    now: int,
) -> None:
    """Keep ``row`` as the person's ``version`` of their annotation (``result``: sealed under ``version_id``)."""
    tx.execute(
        insert(V).values(
            workspace_id=row.workspace_id,
            id=version_id,
            project_id=row.project_id,
            task_id=row.task_id,
            user_id=row.user_id,
            version=version,
            annotation_id=row.id,
            result=result,
            lead_time_ms=row.lead_time_ms,
            review_status=row.review_status,
            created_at=created_at,
            replaced_at=now,
            change=change,
        )
    )


def version_made_at(tx: Tx, annotation_id: str, *, workspace_id: str, fallback: int) -> int:
    """When the annotation's current result was made: its last edit, else ``fallback`` (its creation)."""
    found = tx.execute(
        select(func.max(V.c.replaced_at)).where(
            V.c.workspace_id == workspace_id, V.c.annotation_id == annotation_id, V.c.change == "edited"
        )
    ).scalar()
    return int(found) if found is not None else fallback


CARRIED_REVIEW = Statement(
    "SELECT review_status FROM annotation_versions WHERE workspace_id = :ws AND task_id = :task "
    "AND user_id = :user AND change = 'undone' ORDER BY version DESC LIMIT 1"
)


def carried_review(tx: Tx, task_id: str, *, workspace_id: str, user_id: str) -> str | None:
    """The review state of the person's last annotation of the task that an undo took back, if any."""
    status: str | None = CARRIED_REVIEW.scalar(tx, ws=workspace_id, task=task_id, user=user_id)
    return status


def replace_result(tx: Tx, annotation_id: str, *, workspace_id: str, result: bytes, gold_score: float | None) -> bool:
    """The annotation's result is now ``result``; False when it was reviewed meanwhile (nothing changed)."""
    changed = tx.execute(
        update(N)
        .where(N.c.workspace_id == workspace_id, N.c.id == annotation_id, N.c.review_status.in_(UNREVIEWED))
        .values(result=result, gold_score=gold_score)
    ).rowcount
    return bool(changed)


def delete_annotation(tx: Tx, annotation_id: str, *, workspace_id: str) -> bool:
    """Remove an unreviewed annotation; False when it was reviewed meanwhile (nothing changed)."""
    gone = tx.execute(
        delete(N).where(N.c.workspace_id == workspace_id, N.c.id == annotation_id, N.c.review_status.in_(UNREVIEWED))
    ).rowcount
    return bool(gone)


def is_under_review(tx: Tx, annotation_id: str, *, workspace_id: str, now: int) -> bool:
    """Whether a reviewer holds the annotation now (a live review lease)."""
    return (
        tx.execute(
            select(L.c.annotation_id).where(
                L.c.workspace_id == workspace_id, L.c.annotation_id == annotation_id, L.c.expires_at >= now
            )
        ).first()
        is not None
    )


# Taking an annotation back: its slot becomes the person's lease again (the count of annotations
# falls, the count of leases rises: the task is no fuller than before, but no longer done).
RETAKE_SLOT = Statement(
    "UPDATE tasks SET annotation_count = annotation_count - 1, lease_count = lease_count + 1, "
    "done = CASE WHEN annotation_count - 1 >= :overlap THEN :yes ELSE :no END "
    "WHERE workspace_id = :ws AND id = :id AND annotation_count > 0 RETURNING done"
)
RETAKE_ANY = Statement(  # gold tasks: never in the queue, stored done
    "UPDATE tasks SET annotation_count = annotation_count - 1, lease_count = lease_count + 1 "
    "WHERE workspace_id = :ws AND id = :id AND annotation_count > 0"
)
TASK_DONE = Statement("SELECT done FROM tasks WHERE workspace_id = :ws AND id = :id")
