"""Tracing a leak: who was shown the text that leaked? And the labelling page's overlay.

:func:`trace` takes leaked excerpts, finds the task(s) they came from, reads
the variant slots (services/variants.py), and ranks the people who were shown
them (assignments and the audit log: ``task.shown``, ``task.read``,
``tasks.listed``) by their codeword, with the probability that an innocent
matches as well; canaries (services/canaries.py) are matched on their facts.
It answers "inconclusive" rather than accuse on weak evidence.

The trap: the texts, field paths and protected ranges read here must be those
used at display time (:func:`~bastion.services.variants.view_for`), or the wrong
bits are read. Paraphrase defeats the variant slots; only canaries survive it.

:func:`overlay_of` gives the labelling page the faint tiled person id and time.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from ._audit_append import fold
from .context import Context, Unit
from .projects import load_project
from .variants import protected_ranges, text_fields, tracing_settings
from ..access import Action
from ..domain.errors import InvalidInput
from ..leaks.canaries import match_canary
from ..leaks.settings import LeakTracingSettings
from ..leaks.trace import DEFAULT_ALPHA, SourceIndex, SourceItem, trace_leak
from ..storage import canaries_store, leaks_store, redaction_store, users_store
from ..storage.workspace_secret import workspace_secret

MAX_EXCERPTS = 50
MAX_EXCERPT_CHARS = 200_000
MAX_RANKED = 20
TRACE_PAGE = 2000
MIN_CANARY_FACTS = 2


def overlay_of(u: Unit, project_id: str) -> dict[str, Any] | None:
    """The labelling page's overlay (faint tiled person id and time), unless the project turned it off."""
    if u.actor.is_system:
        return None
    project = load_project(u, project_id, Action.TASK_WORK)  # the whole config, settings included
    if not tracing_settings(u.rt, project.config).overlay:
        return None
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return {"text": f"{u.actor.user_id} · {stamp}"}


def _check_excerpts(excerpts: Any) -> list[str]:
    if isinstance(excerpts, str):
        excerpts = [excerpts]
    if not isinstance(excerpts, list) or not excerpts:
        raise InvalidInput("excerpts: a non-empty list of leaked texts")
    if len(excerpts) > MAX_EXCERPTS:
        raise InvalidInput(f"excerpts: at most {MAX_EXCERPTS}")
    for i, text in enumerate(excerpts):
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput(f"excerpts[{i}]: a non-empty text")
        if len(text) > MAX_EXCERPT_CHARS:
            raise InvalidInput(f"excerpts[{i}]: longer than {MAX_EXCERPT_CHARS} characters")
    return excerpts


def trace(ctx: Context, project_id: str, excerpts: Any, *, alpha: float = DEFAULT_ALPHA) -> dict[str, Any]:
    """Who was shown the text that leaked? (owners; audited). See the module docstring."""
    texts = _check_excerpts(excerpts)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha <= 0.05:
        raise InvalidInput("alpha: a probability above 0 and at most 0.05")
    with ctx.read() as r:
        project = load_project(r, project_id, Action.LEAKS_TRACE)
    ws = project.workspace_id
    task_type = ctx.rt.task_types.get(project.task_type)
    config = task_type.parse_config(project.config)
    settings = tracing_settings(ctx.rt, config)
    variant_settings = settings.variant_settings
    secret = workspace_secret(ctx.rt.keyring, ws)
    items = list(_source_items(ctx, project, task_type, config, settings)) if variant_settings.enabled else []
    index = SourceIndex(items, settings=variant_settings)
    located = trace_leak(texts, index, secret, alpha=alpha) if items else None
    with ctx.write() as w:
        w.access.require(Action.LEAKS_TRACE, ws, what="project")
        task_ids = sorted({s.task_id for s in located.sources}) if located else []
        fold(w, ws)  # who was shown what is in the log: the queued entries too (PostgreSQL)
        viewers = redaction_store.viewers_of(w.tx, ws, project.id, task_ids)
        report = (
            trace_leak(texts, index.with_recipients({t: sorted(v) for t, v in viewers.items()}), secret, alpha=alpha)
            if located and located.sources
            else located
        )
        canaries = _trace_canaries(w, ws, project.id, texts, secret)
        emails = _emails(
            w, {s.person_id for s in (report.scores if report else ())[:MAX_RANKED]} | {m["user_id"] for m in canaries}
        )
        out = _report_out(report, canaries, emails, alpha, viewers)
        w.audit(ws, "leaks.traced", project.id, excerpts=len(texts), verdict=out["verdict"], suspects=out["suspects"])
        return out


def _source_items(ctx: Context, project, task_type, config, settings: LeakTracingSettings) -> Iterable[SourceItem]:
    """Every task's shown texts, canonical, with the protected ranges used at display time."""
    ws = project.workspace_id
    has_offsets = bool(task_type.offset_fields(config))
    after = ""
    while True:
        with ctx.read() as r:
            r.access.require(Action.LEAKS_TRACE, ws, what="project")
            rows = leaks_store.source_tasks(r.tx, project.id, workspace_id=ws, after=after, limit=TRACE_PAGE)
            if not rows:
                return
            sealer = r.sealer(ws, project.key_id)
            page = []
            for row in rows:
                data = sealer.open_json("tasks", row.id, "payload", row.payload)["data"]
                answers = []
                if has_offsets:
                    if row.predictions is not None:
                        answers.extend(sealer.open_json("tasks", row.id, "predictions", row.predictions))
                    if row.gold is not None:
                        answers.append(sealer.open_json("tasks", row.id, "gold", row.gold))
                protected = protected_ranges(task_type, config, answers)
                for path, text in text_fields(task_type, config, settings, data):
                    page.append(SourceItem(row.id, text, (), path, protected.get(path, ())))
        yield from page
        after = rows[-1].id


def _trace_canaries(w: Unit, ws: str, project_id: str, texts: list[str], secret: bytes) -> list[dict]:
    canary_ids = canaries_store.traced_canary_ids(w.tx, project_id, workspace_id=ws)
    recipients = canaries_store.recipients_of(w.tx, canary_ids, workspace_id=ws)
    joined = "\n".join(texts)
    found: list[dict[str, Any]] = []
    for canary_id in canary_ids:
        if not recipients[canary_id]:
            continue
        for match in match_canary(joined, canary_id, recipients[canary_id], secret):
            # One fact alone may turn up in any text by chance: naming someone takes two.
            identified = match.is_identified and len(match.facts) >= MIN_CANARY_FACTS
            found.append(
                {
                    "canary_id": canary_id,
                    "user_id": match.person_id,
                    "facts": list(match.facts),
                    "p_value": match.p_value,
                    "identified": identified,
                }
            )
    found.sort(key=lambda m: (m["p_value"], -len(m["facts"])))
    return found[:MAX_RANKED]


def _emails(u: Unit, user_ids: set[str]) -> dict[str, str]:
    return users_store.emails_of(u.tx, sorted(user_ids))


def _report_out(
    report, canaries: list[dict], emails: dict[str, str], alpha: float, viewers: dict[str, set[str]]
) -> dict[str, Any]:
    suspects = list(report.suspects) if report else []
    canary_suspects = [m["user_id"] for m in canaries if m["identified"]]
    for person in canary_suspects:
        if person not in suspects:
            suspects.append(person)
    source_found = bool(report is not None and report.sources) or bool(canaries)
    verdict = "conclusive" if suspects else "inconclusive"
    ranking = []
    if report is not None:
        for score in report.scores[:MAX_RANKED]:
            ranking.append(
                {
                    "user_id": score.person_id,
                    "email": emails.get(score.person_id),
                    "observed": score.observed,
                    "matched": score.matched,
                    "p_value": score.p_value,
                    # the chance that some innocent recipient matches at least this well
                    "p_innocent_as_good": score.corrected,
                }
            )
    if suspects:
        message = (
            "The evidence names the people in suspects: an innocent recipient would match this well "
            "with a probability below alpha."
        )
    elif source_found:
        message = (
            "The source was found, but the evidence is too weak to name anyone (too few variant slots "
            "survived, or the text was reworded). More leaked excerpts add evidence; canaries survive rewording."
        )
    else:
        message = "No task or canary of this project matches the text: nobody is named."
    return {
        "verdict": verdict,
        "source_found": source_found,
        "message": message,
        "alpha": alpha,
        "sources": [
            {
                "excerpt": s.excerpt_index,
                "task_id": s.task_id,
                "field": s.field_path,
                "coverage": round(s.coverage, 4),
                "runner_up": round(s.runner_up, 4),
                "recipients": len(viewers.get(s.task_id, ())),
            }
            for s in (report.sources if report else ())
        ],
        "slots_read": len(report.readings) if report else 0,
        "ranking": ranking,
        "suspects": suspects,
        "canaries": [{**m, "email": emails.get(m["user_id"])} for m in canaries],
    }


__all__ = ["MAX_EXCERPTS", "overlay_of", "trace"]
