"""Webhooks: a workspace's events POSTed to the endpoints its owners registered, signed the Standard
Webhooks way (docs/webhooks.md), delivered by the jobs runner.

Concept. An endpoint (``whk_…``) is a URL, the event kinds it wants, the egress allow-list its
deliveries go through (``domain/egress.py``: exact ``host[:port]`` entries; the URL's host must be on
it) and a signing secret ``whsec_<base64>`` Bastion generates, shows once and keeps sealed with the
workspace's own data key under the endpoint's id. When an event is appended (``services/events.py``)
each endpoint of its workspace that wants its kind gets a delivery (``whd_…``) and a ``webhook.deliver``
job for it, in the same transaction: an acknowledged change has its deliveries queued, a rolled-back
one has none.

Delivery. One job per delivery; each chunk is one attempt: one POST through the egress guard (no
redirects, the pinned address, short time limits), its result recorded (``webhook_attempts``) and
audited (``webhook.attempt``: endpoint, event id, status, latency — no body) in the chunk's
transaction. A 2xx ends it (``delivered``). Anything else (another status, a timeout, a refused
connection, a refusal of the guard) waits a back-off (``Step.wait_ms``: the job goes back to the queue,
due then) and tries again, up to ``webhook_attempts`` tries; then the delivery is dead (the dead-letter
list, ``webhook.dead_lettered``) until an owner replays it, which starts a new round of tries.

Exactly once per attempt record, at least once per event: the POST is the kind's ``before_chunk``
(job_kinds.py), made outside any transaction — a slow or silent receiver never holds a database lock
(on SQLite the write lock would stop every writer of the deployment for as long as it takes). The
attempt's record, its audit entry and the job's checkpoint then commit together in the chunk. A runner
killed after the POST but before that commit leaves no record, and the job, taken up again after its
lease, sends that attempt again — with the same ``webhook-id`` (the event's id), as the spec allows:
receivers dedupe by it.

Who: owners add, list and remove endpoints and replay deliveries (``webhook.manage``); owners,
managers and auditors list endpoints and deliveries (``event.read``). An id of another workspace's
endpoint or delivery is not found.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from . import egress
from .context import Context, Unit
from .events import KINDS, payload, whole_number
from .job_kinds import Prepared, RunningJob, Step
from .job_runner import backoff_ms
from .. import ids
from ..access import Action
from ..domain.egress import EgressRefused, parse_allow_list, parse_target, require_allowed_host
from ..domain.errors import BastionError, Conflict, InvalidInput, NotFound
from ..ids import new_id
from ..storage import events_store as store
from ..storage import jobs_store
from ..storage.events_store import AttemptRow, DeliveryRow, EventRow, WebhookRow
from ..storage.workspace_secret import workspace_key

TABLE = "webhook_endpoints"
JOB_KIND = "webhook.deliver"
LIMITS = egress.Limits(connect_seconds=5.0, read_seconds=10.0, total_seconds=15.0, max_bytes=64 * 1024)
MAX_ENDPOINTS = 20


# -- signing (Standard Webhooks) ---------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` with the secret's base64 part as the key."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "user-agent": "Bastion-Webhooks",
    }


# -- endpoints ---------------------------------------------------------------------------------------


def _url(value: Any, allowed: list[str]) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 2000:
        raise InvalidInput("url must be an http(s) URL of at most 2000 characters")
    url = value.strip()
    if any(ord(c) < 33 for c in url):
        raise InvalidInput("url holds spaces or control characters")
    try:
        require_allowed_host(parse_target(url), parse_allow_list(allowed))
    except EgressRefused as exc:
        raise InvalidInput(f"url: {exc.message}", details=exc.details) from exc
    if "#" in url:
        raise InvalidInput("url: give it without a fragment")
    return url


def _allowed(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidInput("allowed_hosts must be a non-empty list of host[:port] entries")
    return [str(e) for e in parse_allow_list(value)]


def _kinds(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"events must be a non-empty list of event kinds ({', '.join(KINDS)})")
    unknown = sorted(set(value) - set(KINDS))
    if unknown:
        raise InvalidInput(f"events: no event kind {unknown[0]!r} (kinds: {', '.join(KINDS)})")
    return sorted(set(value))


def _out(row: WebhookRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "workspace_id": row.workspace_id,
        "url": row.url,
        "events": row.kinds,
        "allowed_hosts": row.allowed_hosts,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _find(u: Unit, webhook_id: Any, action: Action) -> WebhookRow:
    """The endpoint, looked for only in the caller's workspaces; then the role check (404 before 403)."""
    if not isinstance(webhook_id, str) or not webhook_id:
        raise NotFound("webhook not found")
    scope = None if u.actor.is_system else u.access.workspace_ids()
    row = store.find_webhook(u.tx, webhook_id, workspace_ids=scope)
    if row is None:
        raise NotFound("webhook not found")
    u.access.require(action, row.workspace_id, what="webhook")
    return row


def _open_secret(u: Unit, row: WebhookRow) -> str:
    sealer = u.sealer(row.workspace_id, workspace_key(u.rt.keyring, row.workspace_id))
    return sealer.open(TABLE, row.id, "secret", row.secret).decode()


def create_webhook(ctx: Context, workspace_id: str, *, url: Any, events: Any, allowed_hosts: Any) -> dict[str, Any]:
    """Add a webhook endpoint (owners). The answer carries the signing secret — the only time it is shown."""
    allowed = _allowed(allowed_hosts)
    target = _url(url, allowed)
    kinds = _kinds(events)
    with ctx.write() as w:
        w.access.require(Action.WEBHOOK_MANAGE, workspace_id, what="workspace")
        if len(store.list_webhooks(w.tx, workspace_id)) >= MAX_ENDPOINTS:
            raise Conflict(f"a workspace has at most {MAX_ENDPOINTS} webhooks; remove one first")
        webhook_id = new_id("whk")
        secret = new_secret()
        sealer = w.sealer(workspace_id, workspace_key(w.rt.keyring, workspace_id))
        sealed = sealer.seal(TABLE, webhook_id, "secret", secret.encode())
        row = WebhookRow(workspace_id, webhook_id, target, kinds, allowed, sealed, w.actor.user_id, w.now, w.now)
        if w.actor.is_system:
            row = row._replace(created_by=None)
        store.insert_webhook(w.tx, row)
        w.audit(workspace_id, "webhook.created", webhook_id, events=kinds, hosts=allowed)
    return {**_out(row), "secret": secret}


def list_webhooks(ctx: Context, workspace_id: str) -> list[dict[str, Any]]:
    with ctx.read() as r:
        r.access.require(Action.EVENT_READ, workspace_id, what="workspace")
        return [_out(row) for row in store.list_webhooks(r.tx, workspace_id)]


def get_webhook(ctx: Context, webhook_id: str) -> dict[str, Any]:
    with ctx.read() as r:
        return _out(_find(r, webhook_id, Action.EVENT_READ))


def delete_webhook(ctx: Context, webhook_id: str) -> None:
    """Remove an endpoint (owners): its sealed secret, deliveries and attempts go with it; their jobs,
    finding nothing, end."""
    with ctx.write() as w:
        row = _find(w, webhook_id, Action.WEBHOOK_MANAGE)
        store.delete_webhook(w.tx, row.workspace_id, row.id)
        w.audit(row.workspace_id, "webhook.deleted", row.id)


# -- deliveries --------------------------------------------------------------------------------------


def _submit(u: Unit, workspace_id: str, delivery_id: str) -> str:
    job_id = new_id("job")
    jobs_store.insert_job(
        u.tx,
        workspace_id,
        job_id,
        kind=JOB_KIND,
        params={"delivery_id": delivery_id},
        max_attempts=DELIVER_WEBHOOK.max_attempts,
        dedupe_key=None,
        created_by=u.actor.user_id,
        now=u.now,
    )
    return job_id


def enqueue_deliveries(u: Unit, events: list[EventRow]) -> None:
    """A delivery and its job for each (endpoint that wants it, event): called as the events are appended."""
    if not events:
        return
    endpoints = store.list_webhooks(u.tx, events[0].workspace_id)
    for event in events:
        for endpoint in endpoints:
            if event.kind not in endpoint.kinds:
                continue
            delivery_id = new_id("whd")
            store.insert_delivery(
                u.tx,
                DeliveryRow(
                    event.workspace_id,
                    delivery_id,
                    endpoint.id,
                    event.seq,
                    "pending",
                    0,
                    0,
                    None,
                    None,
                    None,
                    u.now,
                    u.now,
                ),
            )
            job_id = _submit(u, event.workspace_id, delivery_id)
            store.update_delivery(u.tx, event.workspace_id, delivery_id, job_id=job_id)


def _delivery_out(row: DeliveryRow, event_id: str | None, attempts: list[AttemptRow]) -> dict[str, Any]:
    return {
        "id": row.id,
        "webhook_id": row.endpoint_id,
        "event_seq": row.event_seq,
        "event_id": event_id,
        "state": row.state,
        "attempts": row.attempts,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "job_id": row.job_id,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "history": [
            {"n": a.n, "at": a.at, "status": a.status, "error": a.error, "latency_ms": a.latency_ms} for a in attempts
        ],
    }


STATES = ("pending", "delivered", "dead")


def list_deliveries(ctx: Context, webhook_id: str, *, state: Any = None, limit: Any = 100) -> list[dict[str, Any]]:
    """An endpoint's deliveries, newest event first, each with its attempts (``state="dead"``: the dead letters)."""
    if state is not None and state not in STATES:
        raise InvalidInput(f"state: one of {', '.join(STATES)}")
    count = whole_number(limit, "limit", 1, 500)
    with ctx.read() as r:
        hook = _find(r, webhook_id, Action.EVENT_READ)
        rows = store.list_deliveries(r.tx, hook.workspace_id, hook.id, state=state, limit=count)
        attempts: dict[str, list[AttemptRow]] = {}
        for a in store.list_attempts(r.tx, hook.workspace_id, [d.id for d in rows]):
            attempts.setdefault(a.delivery_id, []).append(a)
        out = []
        for d in rows:
            event = store.find_event(r.tx, hook.workspace_id, d.event_seq)
            out.append(_delivery_out(d, event.id if event else None, attempts.get(d.id, [])))
        return out


def _still_tried(u: Unit, workspace_id: str, job_id: str | None) -> bool:
    """Whether the delivery's job is queued or running (a job that failed for good — its runners went away
    too often — leaves its delivery pending with nobody trying it: that one may be replayed)."""
    job = None if job_id is None else jobs_store.find_job(u.tx, job_id, workspace_ids=[workspace_id])
    return job is not None and job.state in jobs_store.ACTIVE


def replay(ctx: Context, webhook_id: str, delivery_id: Any) -> dict[str, Any]:
    """Deliver again (owners): a dead delivery — or a delivered one, asked again — starts a new round of tries
    with the same ``webhook-id``. A delivery still being tried is refused (Conflict)."""
    if not ids.has_prefix(delivery_id, "whd"):
        raise NotFound("delivery not found")
    with ctx.write() as w:
        hook = _find(w, webhook_id, Action.WEBHOOK_MANAGE)
        row = store.find_delivery(w.tx, hook.workspace_id, str(delivery_id))
        if row is None or row.endpoint_id != hook.id:
            raise NotFound("delivery not found")
        if row.state == "pending" and _still_tried(w, hook.workspace_id, row.job_id):
            raise Conflict("this delivery is still being tried; replay it once it is delivered or dead")
        job_id = _submit(w, hook.workspace_id, row.id)
        store.update_delivery(
            w.tx, hook.workspace_id, row.id, state="pending", round_attempts=0, job_id=job_id, updated_at=w.now
        )
        w.audit(hook.workspace_id, "webhook.replayed", row.id, webhook=hook.id, was=row.state)
        return {"id": row.id, "state": "pending", "job_id": job_id}


def replay_dead(ctx: Context, webhook_id: str) -> int:
    """Replay every dead delivery of the endpoint (owners); returns how many."""
    with ctx.read() as r:
        hook = _find(r, webhook_id, Action.WEBHOOK_MANAGE)
        dead = store.list_deliveries(r.tx, hook.workspace_id, hook.id, state="dead", limit=500)
    for d in dead:
        replay(ctx, webhook_id, d.id)
    return len(dead)


# -- the job kind ------------------------------------------------------------------------------------


class DeliverWebhook:
    """``webhook.deliver``: one delivery, one attempt a chunk (the module docstring)."""

    name = JOB_KIND
    action = Action.WEBHOOK_MANAGE
    description = "Deliver one event to one webhook endpoint, retrying with back-off"
    max_attempts = 5  # runner-level: chunks that raised or runners that went away (not the POSTs)

    def prepare(self, u: Unit, workspace_id: str, params: Mapping[str, Any]) -> Prepared:
        raise InvalidInput("webhook deliveries are queued by the events they deliver; replay one instead")

    def before_chunk(self, ctx: Context, job: RunningJob, checkpoint: dict[str, Any] | None) -> Posted | None:
        """This attempt's POST, outside any transaction; None when there is nothing to send."""
        ws = job.workspace_id
        with ctx.read() as r:
            delivery = store.find_delivery(r.tx, ws, str(job.params["delivery_id"]))
            if delivery is None or delivery.state != "pending" or delivery.job_id != job.id:
                return None  # the chunk says why
            hook = store.find_webhook(r.tx, delivery.endpoint_id, workspace_ids=[ws])
            event = store.find_event(r.tx, ws, delivery.event_seq)
            if hook is None or event is None:
                return None
            secret = _open_secret(r, hook)
        body = orjson.dumps(payload(event))
        signed = headers(secret, event.id, int(time.time()), body)
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            reply = egress.send("POST", hook.url, hook.allowed_hosts, headers=signed, content=body, limits=LIMITS)
            status = reply.status
            if not 200 <= status < 300:
                error = f"http_{status}"
        except BastionError as exc:
            error = exc.code
        return Posted(hook.id, event.id, status, error, int((time.monotonic() - started) * 1000))

    def run_chunk(self, u: Unit, job: RunningJob, checkpoint: dict[str, Any] | None) -> Step:
        """Record the attempt ``before_chunk`` made (the POST's outcome), in the chunk's transaction."""
        ws = job.workspace_id
        delivery = store.find_delivery(u.tx, ws, str(job.params["delivery_id"]))
        if delivery is None:
            raise NotFound("delivery not found (its webhook was removed)")
        if delivery.state != "pending" or delivery.job_id != job.id:
            return Step({"skipped": delivery.state}, done=0, total=1, finished=True)
        posted: Posted | None = job.prefetched
        if posted is None or posted.webhook_id != delivery.endpoint_id:
            raise NotFound("delivery not found (its webhook was removed)")
        status, error, latency = posted.status, posted.error, posted.latency_ms
        n = delivery.attempts + 1
        store.insert_attempt(u.tx, AttemptRow(ws, delivery.id, n, u.now, status, error, latency))
        u.audit(
            ws, "webhook.attempt", delivery.id, webhook=posted.webhook_id, event=posted.event_id, attempt=n,
            status=status, error=error, latency_ms=latency,
        )  # fmt: skip
        round_attempts = delivery.round_attempts + 1
        if error is None:
            store.update_delivery(
                u.tx, ws, delivery.id, state="delivered", attempts=n, round_attempts=round_attempts,
                last_status=status, last_error=None, updated_at=u.now,
            )  # fmt: skip
            return Step({"attempts": n}, done=1, total=1, finished=True, result={"delivered": 1})
        limit = u.rt.settings.webhook_attempts
        dead = round_attempts >= limit
        store.update_delivery(
            u.tx, ws, delivery.id, state="dead" if dead else "pending", attempts=n, round_attempts=round_attempts,
            last_status=status, last_error=error, updated_at=u.now,
        )  # fmt: skip
        if dead:
            u.audit(
                ws, "webhook.dead_lettered", delivery.id, webhook=posted.webhook_id, event=posted.event_id,
                attempts=round_attempts,
            )  # fmt: skip
            return Step({"attempts": n}, done=1, total=1, finished=True, result={"dead": 1})
        wait = backoff_ms(u.rt.settings.job_retry_seconds, round_attempts)
        return Step({"attempts": n}, done=0, total=1, wait_ms=wait)


@dataclass(frozen=True, slots=True)
class Posted:
    """One attempt's POST, as ``before_chunk`` made it: no body, no secret."""

    webhook_id: str
    event_id: str
    status: int | None
    error: str | None
    latency_ms: int


DELIVER_WEBHOOK = DeliverWebhook()
