"""A project's guidelines: a versioned Markdown document for its people, acknowledged before work.

* Owners and managers (``project.manage``) write a new version (the whole document again);
  versions count 1, 2, … per project and are never changed. A version ``requires_ack``
  unless its author says otherwise (a typo fix). Its author has acknowledged it by writing it.
* The project's people read them: whoever may work on the project (``task.work`` and its
  required skills) or manage it; walls decide as for any client content, another
  workspace's project is not there. Every read is audited (``guidelines.read``).
* The gate: while the newest version that requires acknowledgement is newer than the one a
  person acknowledged, the queue hands them no new task (``GuidelinesUnacknowledged``, HTTP
  409 ``guidelines_unacknowledged`` with the version); the task they hold stays theirs. The
  check is one statement of three index probes (``guidelines_store.standing``).
* Every annotation records the version it was made under (``annotations.guideline_version``):
  the newest version when the person is up to date, else the newest one before the first
  version they still owe an acknowledgement (a task leased before it came out).
* A manager promotes an answered question to an FAQ entry: a new version with the question
  and answer (as the manager edited them: a question may quote the task) appended under the
  document's ``## FAQ`` heading (made at the end when there is none).

Client content: each version's body is sealed with the project's key under its own id
(re-encryption re-seals it: ``keys_store.SEALED_COLUMNS``; a shred makes it unreadable), and
a person is shown their own variant of it, as of task text (services/variants.py): line by
line, keyed by the project and the line's text, so an unchanged line reads the same in every
version and a diff shows only what changed. The faint overlay of the labelling page goes on
every page that shows them.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from .context import Context, Unit
from .projects import load_project
from .tracing import overlay_of
from .variants import slots_of, tracing_settings
from .workforce import skills_of
from .. import ids
from ..access import Action
from ..domain.errors import Conflict, GuidelinesUnacknowledged, InvalidInput, NotFound, PermissionDenied
from ..domain.projects import Project
from ..leaks.variants import apply_bits, codeword
from ..storage import guidelines_store, questions_store
from ..storage.guidelines_store import GuidelineRow, Standing
from ..storage.workspace_secret import workspace_secret

TABLE = "guidelines"
MAX_BODY = 200_000
MAX_FAQ_TEXT = 5000
FAQ_HEADING = "## FAQ"
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")
_HEADING = re.compile(r"^#{1,2}\s")


# -- checks ------------------------------------------------------------------------------------


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field}: write a few words")
    if len(value) > limit:
        raise InvalidInput(f"{field}: at most {limit} characters")
    if "\x00" in value:
        raise InvalidInput(f"{field}: must not contain NUL characters")
    return value.replace("\r\n", "\n").strip() + "\n"


def _version(value: Any, field: str = "version") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.isdigit() and len(value) <= 9:
            return int(value)
        raise InvalidInput(f"{field}: a version number (1, 2, …)")
    if not 1 <= value <= 1_000_000_000:
        raise InvalidInput(f"{field}: a version number (1, 2, …)")
    return value


def _flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{field}: true or false")
    return value


# -- who reads ---------------------------------------------------------------------------------


def _for_reading(w: Unit, project_id: str) -> Project:
    """The project, if the caller is one of its people (works on it, or manages it); walls decide."""
    project = load_project(w, project_id, Action.TASK_WORK)
    ws = project.workspace_id
    if not w.actor.is_system and not w.access.allows(Action.PROJECT_MANAGE, ws):
        wanted = project.settings.required_skills
        if (wanted.all or wanted.any) and not wanted.met_by(skills_of(w, w.actor.user_id)):
            raise PermissionDenied("this project's guidelines are for the people who may work on it")
    w.see_content(ws)
    return project


def _open(w: Unit, project: Project, row: GuidelineRow) -> str:
    assert row.body is not None
    return w.sealer(project.workspace_id, project.key_id).open_json(TABLE, row.id, "body", row.body)


def watermark(u: Unit, project: Project, body: str) -> str:
    """The caller's variant of a guidelines text (the local operator reads it as written).

    Line by line, keyed by the project and the line's own text (never its position), so a line
    reads the same to one person in every version; code (fenced or indented) is left alone.
    """
    if u.actor.is_system:
        return body
    settings = tracing_settings(u.rt, project.config).variant_settings
    if not settings.enabled:
        return body
    secret = workspace_secret(u.rt.keyring, project.workspace_id)
    person, key = u.actor.user_id, f"{project.id}/guidelines"
    out: list[str] = []
    fence: str | None = None
    for line in body.split("\n"):
        opened = _FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1) == fence:
                fence = None
            out.append(line)
            continue
        if opened:
            fence = opened.group(1)
            out.append(line)
            continue
        if not line.strip() or line.startswith(("    ", "\t")):
            out.append(line)
            continue
        slots = slots_of(u.rt, line, (), settings)
        if slots:
            path = hashlib.sha256(line.encode("utf-8")).hexdigest()[:24]
            line = apply_bits(line, slots, codeword(secret, person, key, slots, path)).text
        out.append(line)
    return "\n".join(out)


# -- the gate and "made under" (the queue's and the submit path's calls) -------------------------


def standing(u: Unit, workspace_id: str, project_id: str) -> Standing:
    return guidelines_store.standing(u.tx, project_id, workspace_id=workspace_id, user_id=u.actor.user_id)


def owed(s: Standing) -> int | None:
    """The version the person must acknowledge before their next task, or None."""
    if s.required is None or (s.acknowledged is not None and s.acknowledged >= s.required):
        return None
    return s.required


def require_acknowledged(u: Unit, workspace_id: str, project_id: str) -> None:
    """The queue's gate: refuse a new task while the person owes an acknowledgement."""
    if u.actor.is_system:
        return
    version = owed(standing(u, workspace_id, project_id))
    if version is not None:
        raise GuidelinesUnacknowledged(
            f"the project's guidelines changed: read version {version} and acknowledge it before your next task",
            details={"project_id": project_id, "version": version},
        )


def version_in_force(u: Unit, workspace_id: str, project_id: str) -> int | None:
    """The guidelines version an annotation submitted now is made under (None: the project has none)."""
    if u.actor.is_system:
        return guidelines_store.newest_version(u.tx, project_id, workspace_id=workspace_id)
    s = standing(u, workspace_id, project_id)
    if s.newest is None or owed(s) is None:
        return s.newest
    return guidelines_store.in_force_before(u.tx, project_id, s.acknowledged, workspace_id=workspace_id)


# -- versions ----------------------------------------------------------------------------------


def _meta(row: GuidelineRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "version": row.version,
        "requires_ack": row.requires_ack,
        "created_by": row.created_by,
        "created_at": row.created_at,
    }


def add_version(w: Unit, project: Project, body: str, *, requires_ack: bool, **audit: Any) -> dict[str, Any]:
    """A new version of the project's guidelines, inside an open transaction (``body`` checked)."""
    ws = project.workspace_id
    newest = guidelines_store.newest_version(w.tx, project.id, workspace_id=ws)
    if newest is not None:
        current = guidelines_store.find_version(w.tx, project.id, newest, workspace_id=ws)
        assert current is not None
        if _open(w, project, current) == body:
            raise InvalidInput(f"body: the same as version {newest}; change something first")
    version = (newest or 0) + 1
    version_id = ids.new_id("gdl")
    sealed = w.sealer(ws, project.key_id).seal_json(TABLE, version_id, "body", body)
    try:
        guidelines_store.insert_version(
            w.tx,
            version_id,
            workspace_id=ws,
            project_id=project.id,
            version=version,
            body=sealed,
            requires_ack=requires_ack,
            created_by=None if w.actor.is_system else w.actor.user_id,
            now=w.now,
        )
    except w.tx.db.integrity_errors as exc:
        raise Conflict("another version was written a moment ago: read it, then write yours") from exc
    if not w.actor.is_system:  # the author has read what they wrote
        guidelines_store.acknowledge(
            w.tx, project.id, workspace_id=ws, user_id=w.actor.user_id, version=version, now=w.now
        )
    w.audit(
        ws, "guidelines.created", version_id, project=project.id, version=version, requires_ack=requires_ack, **audit
    )
    return {
        "id": version_id,
        "project_id": project.id,
        "version": version,
        "requires_ack": requires_ack,
        "created_at": w.now,
    }


def create_version(ctx: Context, project_id: str, body: Any, *, requires_ack: Any = True) -> dict[str, Any]:
    """Write a new version of the project's guidelines (the whole Markdown document); owners and managers."""
    text = _text(body, "body", MAX_BODY)
    requires_ack = _flag(requires_ack, "requires_ack")
    with ctx.write() as w:
        w.hold_person()
        project = load_project(w, project_id, Action.PROJECT_MANAGE)
        w.see_content(project.workspace_id)
        return add_version(w, project, text, requires_ack=requires_ack)


def list_versions(ctx: Context, project_id: str) -> dict[str, Any]:
    """The project's versions (metadata, newest first) and where the caller stands: ``newest``,
    ``owed`` (the version to acknowledge before the next task, or None) and ``acknowledged``."""
    with ctx.write() as w:
        project = _for_reading(w, project_id)
        rows = guidelines_store.list_versions(w.tx, project.id, workspace_id=project.workspace_id)
        s = standing(w, project.workspace_id, project.id)
        return {
            "items": [_meta(row) for row in rows],
            "newest": s.newest,
            "acknowledged": s.acknowledged,
            "owed": owed(s),
        }


@dataclass(frozen=True)
class Shown:
    """One version as the caller is shown it."""

    version: dict[str, Any]  # metadata (``_meta``)
    body: str  # the caller's variant of the Markdown
    overlay: dict[str, Any] | None  # the faint tiled person id and time, unless the project turned it off
    newest: int | None
    owed: int | None
    acknowledged: int | None
    project: Project


def _find(w: Unit, project: Project, version: int | None) -> GuidelineRow:
    ws = project.workspace_id
    if version is None:
        version = guidelines_store.newest_version(w.tx, project.id, workspace_id=ws)
        if version is None:
            raise NotFound("this project has no guidelines yet")
    row = guidelines_store.find_version(w.tx, project.id, version, workspace_id=ws)
    if row is None:
        raise NotFound(f"version {version} of the guidelines not found")
    return row


def show_version(ctx: Context, project_id: str, version: Any = None) -> Shown:
    """A version (None: the newest) as the caller is shown it: their variant, with the overlay; audited."""
    number = None if version is None else _version(version)
    with ctx.write() as w:
        project = _for_reading(w, project_id)
        row = _find(w, project, number)
        body = watermark(w, project, _open(w, project, row))
        s = standing(w, project.workspace_id, project.id)
        w.audit(project.workspace_id, "guidelines.read", row.id, project=project.id, version=row.version)
        return Shown(_meta(row), body, overlay_of(w, project.id), s.newest, owed(s), s.acknowledged, project)


def read_version(ctx: Context, project_id: str, version: Any = None) -> dict[str, Any]:
    """A version (None: the newest) in its API shape: metadata and ``body`` (the caller's variant)."""
    shown = show_version(ctx, project_id, version)
    return {**shown.version, "project_id": project_id, "body": shown.body, "owed": shown.owed}


@dataclass(frozen=True)
class Diff:
    old: int
    new: int
    unified: str  # a unified diff of the caller's variants
    lines: list[tuple[str, str]]  # (kind: same | added | removed | hunk, text), for a page
    overlay: dict[str, Any] | None
    project: Project


def diff_versions(ctx: Context, project_id: str, old: Any, new: Any) -> Diff:
    """What changed from version ``old`` to version ``new``, line by line, in the caller's variants; audited."""
    a, b = _version(old, "from"), _version(new, "to")
    if a == b:
        raise InvalidInput("to: a version other than from")
    with ctx.write() as w:
        project = _for_reading(w, project_id)
        texts = [watermark(w, project, _open(w, project, _find(w, project, n))).split("\n") for n in (a, b)]
        unified = list(difflib.unified_diff(texts[0], texts[1], f"version {a}", f"version {b}", n=3, lineterm=""))
        lines: list[tuple[str, str]] = []
        for line in unified[2:]:
            kind = {"@": "hunk", "+": "added", "-": "removed"}.get(line[:1], "same")
            lines.append((kind, line[1:] if kind != "hunk" else line))
        w.audit(project.workspace_id, "guidelines.diffed", project.id, project=project.id, versions=[a, b])
        return Diff(a, b, "\n".join(unified) + ("\n" if unified else ""), lines, overlay_of(w, project.id), project)


def source_for_editing(ctx: Context, project_id: str) -> tuple[Project, int | None, str]:
    """The newest version as written (no variant: the next version starts from it), for its editors
    (``project.manage``): the project, the version number (None: none yet) and the text; audited."""
    with ctx.write() as w:
        project = load_project(w, project_id, Action.PROJECT_MANAGE)
        ws = project.workspace_id
        w.see_content(ws)
        newest = guidelines_store.newest_version(w.tx, project.id, workspace_id=ws)
        if newest is None:
            return project, None, ""
        row = _find(w, project, newest)
        w.audit(ws, "guidelines.read", row.id, project=project.id, version=newest, via="edit")
        return project, newest, _open(w, project, row)


def acknowledge(ctx: Context, project_id: str, version: Any) -> dict[str, Any]:
    """The caller has read ``version`` (it must exist; acknowledging an older one than theirs changes nothing)."""
    number = _version(version)
    with ctx.write() as w:
        w.hold_person()
        project = _for_reading(w, project_id)
        ws = project.workspace_id
        _find(w, project, number)
        if guidelines_store.acknowledge(
            w.tx, project.id, workspace_id=ws, user_id=w.actor.user_id, version=number, now=w.now
        ):
            w.audit(ws, "guidelines.acknowledged", project.id, project=project.id, version=number)
        s = standing(w, ws, project.id)
        return {"project_id": project.id, "acknowledged": s.acknowledged, "owed": owed(s), "newest": s.newest}


# -- what the labelling page shows ---------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """The labelling page's word on the guidelines: the newest version, and the one owed (with its text)."""

    newest: int
    owed: int | None
    body: str | None  # the owed version, the caller's variant (None: nothing owed)


def notice_for(w: Unit, project: Project) -> Notice | None:
    """For the labelling page (inside its transaction): None when the project has no guidelines."""
    ws = project.workspace_id
    s = standing(w, ws, project.id)
    if s.newest is None:
        return None
    version = owed(s)
    if version is None:
        return Notice(s.newest, None, None)
    row = _find(w, project, version)
    w.audit(ws, "guidelines.read", row.id, project=project.id, version=version, via="label")
    return Notice(s.newest, version, watermark(w, project, _open(w, project, row)))


# -- FAQ ----------------------------------------------------------------------------------------


def with_faq_entry(body: str, question: str, answer: str) -> str:
    """``body`` with a Q&A appended at the end of its ``## FAQ`` section (made at the end if absent)."""
    entry = f"**Q:** {question.strip()}\n\n**A:** {answer.strip()}\n"
    lines = body.rstrip("\n").split("\n") if body.strip() else []
    start = next((i for i, line in enumerate(lines) if line.strip().lower() == FAQ_HEADING.lower()), None)
    if start is None:
        head = "\n".join(lines)
        return (head + "\n\n" if head else "") + f"{FAQ_HEADING}\n\n{entry}"
    end = next((i for i in range(start + 1, len(lines)) if _HEADING.match(lines[i])), len(lines))
    section = "\n".join(lines[:end]).rstrip("\n")
    rest = "\n".join(lines[end:])
    return f"{section}\n\n{entry}" + (f"\n{rest}\n" if rest else "")


def promote_question(
    ctx: Context, project_id: str, question_id: str, question: Any, answer: Any, *, requires_ack: Any = True
) -> dict[str, Any]:
    """Add an answered question to the guidelines' FAQ, as the manager worded it: a new version; audited.

    ``question`` and ``answer`` are the manager's edit (the asker's words may quote a task)."""
    q = _text(question, "question", MAX_FAQ_TEXT).strip()
    a = _text(answer, "answer", MAX_FAQ_TEXT).strip()
    requires_ack = _flag(requires_ack, "requires_ack")
    with ctx.write() as w:
        w.hold_person()
        project = load_project(w, project_id, Action.PROJECT_MANAGE)
        ws = project.workspace_id
        w.access.require(Action.QUESTION_ANSWER, ws, what="project")
        w.see_content(ws)
        row = (
            questions_store.find_question(w.tx, question_id, workspace_id=ws) if isinstance(question_id, str) else None
        )
        if row is None or row.project_id != project.id:
            raise NotFound("question not found")
        if row.state != "answered":
            raise InvalidInput("question_id: answer the question before adding it to the guidelines")
        newest = guidelines_store.newest_version(w.tx, project.id, workspace_id=ws)
        current = "" if newest is None else _open(w, project, _find(w, project, newest))
        body = with_faq_entry(current, q, a)
        if len(body) > MAX_BODY:
            raise InvalidInput(f"body: the guidelines would be longer than {MAX_BODY} characters")
        return add_version(w, project, body, requires_ack=requires_ack, question=row.id, via="faq")


__all__ = [
    "Diff",
    "Notice",
    "Shown",
    "acknowledge",
    "add_version",
    "create_version",
    "diff_versions",
    "list_versions",
    "notice_for",
    "owed",
    "promote_question",
    "read_version",
    "require_acknowledged",
    "show_version",
    "source_for_editing",
    "standing",
    "version_in_force",
    "watermark",
    "with_faq_entry",
]
