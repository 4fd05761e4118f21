"""Idempotent imports: an ``Idempotency-Key`` makes sending the same import twice harmless.

Concept. A client that lost the answer of an import (a timeout, a dropped
connection) sends it again with the same key. The same key from the same person
on the same project within ``WINDOW_MS`` answers the first import's report again
and imports nothing; the same key with another request (another body, media type
or ``strict``) is refused with 409 naming the key — a key names one request.

What is kept: keyed hashes of the key and of the request (``Sealer.index_hash``,
with the project's key: neither can be guessed from the table) and the report,
sealed (its errors may quote a task's content). The key is recorded when the
import finishes, so a request that failed part-way is not remembered and may be
sent again as it was (``storage/idempotency_store.py`` says what two concurrent
requests with one new key do).

The request's digest is the caller's: a SHA-256 over what identifies the request
(``web/api/tasks.py`` hashes the body as it streams in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .context import Context
from .projects import load_project
from ..access import Action
from ..domain.errors import Conflict
from ..storage import idempotency_store as store
from ..storage.crypto import Sealer

WINDOW_MS = 24 * 3600 * 1000
HEADER = "Idempotency-Key"


@dataclass(frozen=True, slots=True)
class PastImport:
    """An import recorded under a key: its report, and the keyed hash of the request it answered."""

    key: str
    body_hash: bytes
    report: dict[str, Any]


def _key_hash(sealer: Sealer, key: str) -> bytes:
    return sealer.index_hash(b"idempotency-key", key)


def _body_hash(sealer: Sealer, digest: bytes) -> bytes:
    return sealer.index_hash(b"idempotency-body", digest)


def find_import(ctx: Context, project_id: str, key: str) -> PastImport | None:
    """The caller's import into this project under ``key`` within the window, if any (importers only)."""
    with ctx.read() as r:
        project = load_project(r, project_id, Action.TASK_IMPORT)
        sealer = r.sealer(project.workspace_id, project.key_id)
        row = store.find_import_key(
            r.tx, project.workspace_id, project.id, ctx.actor.user_id, _key_hash(sealer, key), since=r.now - WINDOW_MS
        )
        if row is None:
            return None
        report = sealer.open_json("import_keys", row.import_id, "report", row.report)
        return PastImport(key, row.body_hash, report)


def replay_import(ctx: Context, project_id: str, past: PastImport, digest: bytes) -> dict[str, Any]:
    """The past import's report when ``digest`` is the same request's; Conflict (409) naming the key if not."""
    with ctx.read() as r:
        project = load_project(r, project_id, Action.TASK_IMPORT)
        same = _body_hash(r.sealer(project.workspace_id, project.key_id), digest) == past.body_hash
    if not same:
        raise Conflict(
            f"{HEADER} {past.key!r} was used for another import into this project in the last 24 hours "
            "(a key names one request: send a new key for new content)",
            details=[{"in": "header", "field": HEADER, "message": "used for another request"}],
        )
    return past.report


def remember_import(ctx: Context, project_id: str, key: str, digest: bytes, report: dict[str, Any]) -> None:
    """Record a finished import under its key, for ``WINDOW_MS``."""
    with ctx.write() as w:
        project = load_project(w, project_id, Action.TASK_IMPORT)
        sealer = w.sealer(project.workspace_id, project.key_id)
        store.record_import_key(
            w.tx,
            project.workspace_id,
            project.id,
            ctx.actor.user_id,
            _key_hash(sealer, key),
            import_id=report["import_id"],
            body_hash=_body_hash(sealer, digest),
            report=sealer.seal_json("import_keys", report["import_id"], "report", report),
            now=w.now,
            expired_before=w.now - WINDOW_MS,
        )
