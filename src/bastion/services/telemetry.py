"""What a running deployment reports about itself: Prometheus metrics and readiness.

Two kinds of figures, kept apart on purpose:

* **Events this process saw** — rows imported and exported, failed authentications,
  (in ``web/observability.py``) request latencies. Counters and histograms of
  ``prometheus_client``: with ``PROMETHEUS_MULTIPROC_DIR`` set before the server starts
  every worker writes its values to files there and a scrape of any worker sums them all
  (``bastion serve --workers N`` then reports the whole server, not the worker that answered).
* **Facts of the database** — tasks still to do and live leases per project, the size of
  each workspace's audit log. They belong to no process: ``DatabaseCollector`` reads them
  at scrape time, one grouped query each, so every process reports the same true figure
  however many there are.

The trap: label values are ids (``ws_…``, ``prj_…``), outcome words and route templates,
never names, e-mail addresses, paths with ids in them, or anything a client imported.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

from .context import Context
from .runtime import Runtime
from ..access import Actor
from ..storage import audit_store, queue_store

IMPORT_ROWS = Counter(
    "bastion_import_rows",
    "Rows of task imports by outcome: imported, duplicate (already there), rejected (a bad line).",
    ["outcome"],
)
EXPORT_ROWS = Counter("bastion_export_rows", "Rows written into exported files, by export format.", ["format"])
AUTH_FAILURES = Counter(
    "bastion_auth_failures",
    "Failed authentications by kind: sign_in (wrong e-mail or password), sign_in_locked (refused by the "
    "sign-in limits), token (unknown or revoked API token), session (unknown or ended session cookie).",
    ["kind"],
)


def count_import(imported: int, duplicates: int, rejected: int) -> None:
    IMPORT_ROWS.labels("imported").inc(imported)
    IMPORT_ROWS.labels("duplicate").inc(duplicates)
    IMPORT_ROWS.labels("rejected").inc(rejected)


def count_export(format_name: str, rows: int) -> None:
    EXPORT_ROWS.labels(format_name).inc(rows)


def count_auth_failure(kind: str) -> None:
    AUTH_FAILURES.labels(kind).inc()


class DatabaseCollector(Collector):
    """Gauges read from the database when scraped (the same in every process)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "bastion_queue_open_tasks",
            "Tasks still to do (below their overlap, not held) per project.",
            labels=["workspace_id", "project_id"],
        )
        leases = GaugeMetricFamily(
            "bastion_queue_live_leases",
            "Leases handed out and not yet expired per project.",
            labels=["workspace_id", "project_id"],
        )
        audit = GaugeMetricFamily(
            "bastion_audit_log_entries",
            "Entries in each workspace's audit log (the size of its signed head).",
            labels=["workspace_id"],
        )
        up = GaugeMetricFamily("bastion_database_up", "1 when the database answered this scrape's queries, else 0.")
        try:
            facts = read_database_facts(self.rt)
        except Exception:  # the scrape still answers (process metrics, counters), saying the database is down
            up.add_metric([], 0)
            yield up
            return
        for row in facts["open_tasks"]:
            depth.add_metric([row.workspace_id, row.project_id], row.number)
        for row in facts["leases"]:
            leases.add_metric([row.workspace_id, row.project_id], row.number)
        for workspace_id, size in facts["audit"]:
            audit.add_metric([workspace_id], size)
        up.add_metric([], 1)
        yield from (depth, leases, audit, up)


def read_database_facts(rt: Runtime) -> dict[str, Any]:
    """The database facts /metrics reports, in one read transaction as the local operator."""
    ctx = Context(rt, Actor.system())
    with ctx.read() as r:
        return {
            "open_tasks": queue_store.count_open_tasks_by_project(r.tx),
            "leases": queue_store.count_live_leases_by_project(r.tx, now=int(time.time() * 1000)),
            "audit": audit_store.list_head_sizes(r.tx),
        }


def metrics_registry(rt: Runtime) -> CollectorRegistry:
    """The registry of the database gauges of this runtime (one per app)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(rt))
    return registry


def render_metrics(database_registry: CollectorRegistry) -> tuple[bytes, str]:
    """The Prometheus text exposition: this process's (or all workers') metrics, then the database's."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        process_registry = CollectorRegistry()
        MultiProcessCollector(process_registry, path=folder)
        events = generate_latest(process_registry)
    else:
        events = generate_latest(REGISTRY)
    return events + generate_latest(database_registry), CONTENT_TYPE_LATEST


def readiness(rt: Runtime) -> dict[str, str]:
    """Each dependency a request needs, "ok" or why it is down (no secrets, no content)."""
    checks: dict[str, str] = {}
    try:
        rt.db.ping()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"down: {type(exc).__name__}"
    try:
        rt.keyring.probe()
        checks["key_provider"] = "ok"
    except Exception as exc:
        checks["key_provider"] = f"down: {type(exc).__name__}"
    return checks
