"""Nothing lost under kill -9: SIGKILL ``bastion serve`` at random moments, restart, check.

    python -m benchmarks.crash [--db sqlite|postgresql] [--cycles 200] [--seed N] [--import-tasks 30000] [--clients 8]

One ``bastion serve`` process on a fresh SQLite data directory (``--db sqlite``, the
default) or on a fresh PostgreSQL database on 127.0.0.1:5432 (``--db postgresql``; the
server at ``BASTION_BENCH_PG``, set up as docs/security.md deploys it, the server
connecting as the application role ``bastion_app``, never a superuser: see below).
Cycles alternate:

* **import** — a new project; a JSON Lines import of ``--import-tasks`` tasks in one
  HTTP request (several of the import service's batches, each its own transaction); SIGKILL at a
  random moment of it (drawn over the time an uncut import takes, measured first). After the restart: the tasks that are there are
  exactly the whole batches whose ``tasks.imported`` audit events committed (same
  transaction: a half batch would show as a difference), the project's counters
  agree, no external id is there twice, every payload decrypts. Then the import
  is run again to the end: the project then holds exactly the file's external
  ids, once each.
* **annotate** — ``--clients`` clients loop next + submit over HTTP on a project
  with overlap 2 and ``lease_seconds=10``; SIGKILL at a random moment (0.2–2 s in).
  Every annotation acknowledged with a 201 is kept. After the restart: every
  acknowledged annotation is stored and decrypts, no task has more annotations
  than its overlap, nobody annotated a task twice, each task's counters equal
  its rows (``annotation_count`` = its annotations, ``lease_count`` = its live
  leases).

After every kill, before the restart, ``PRAGMA integrity_check`` must answer ``ok``.

On PostgreSQL the kill takes Bastion's process only: PostgreSQL stays up, as it
would in a deployment, and ends the dead server's sessions when their sockets
close. Just before each kill the harness notes the server's sessions
(``pg_stat_activity``, by the ``application_name`` the server's URL gives them):
how many were in a transaction, held locks (advisory ones apart), or were
running the import's ``COPY`` (``pg_stat_progress_copy``), and that every one
connected as a role that is neither a superuser nor BYPASSRLS. Every other import
cycle (the 1st, 5th, 9th…) the kill, after its drawn delay, waits for the server
to be in a ``COPY`` (the import service's bulk insert) and comes then. The server is restarted at once,
while those sessions may still be there; then one audited write (a new project)
and a fold of the workspace's audit queue (which takes its audit head row ``FOR UPDATE``,
as the dead server's folds did) must go through, and
every one of the dead server's sessions must be gone within 60 s (the time from
the kill is reported). The integrity check is ``amcheck``'s ``verify_heapam`` on
every table (with its TOAST) and ``bt_index_check`` on every B-tree index, run as
the database's owner (skipped, and said so, if the server has no ``amcheck``);
everything else is checked as on SQLite.

Every ``--lease-check-every`` cycles and at the end: wait ``lease_seconds``, let a
person who never worked the project call next (each call reclaims expired leases)
and skip, until no lease is left; every task's ``lease_count`` must then be 0 —
every slot held by a killed client has returned to the pool. At the end,
``bastion audit verify WS`` must pass for every workspace. The report gives the
number of kill cycles and the restart time (spawn to ``/healthz`` 200).

Writes ``benchmarks/results/crash-<db>.json`` and exits 1 if any invariant
failed. ``tests/crash/test_kill9.py`` runs it at a CI size, on both databases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
from sqlalchemy.exc import SQLAlchemyError

from bastion.services.audit import fold_apart

from . import seeding
from .servers import Server, postgres_database, server_env
from .workload import BastionProtocol, annotate_async, write_tasks

ROOT = Path(__file__).resolve().parent
LEASE_SECONDS = 10
OVERLAP = 2
SERVER_APP_NAME = "bastion-crash-server"  # the server's PostgreSQL sessions, in pg_stat_activity
SESSIONS_GONE_WITHIN_S = 60


@dataclass
class Report:
    cycles: int = 0
    import_cycles: int = 0
    annotate_cycles: int = 0
    restarts_s: list[float] = field(default_factory=list)
    kill_after_s: list[float] = field(default_factory=list)
    imports_cut: int = 0  # imports the kill interrupted (no response)
    imports_partial_tasks: list[int] = field(default_factory=list)  # tasks found after a cut import
    acknowledged: int = 0
    cut_requests: int = 0  # requests in flight when the server died
    refused: Counter = field(default_factory=Counter)  # non-2xx answers, by "call status"
    lease_checks: int = 0
    leases_reclaimed: int = 0
    integrity_checks: int = 0
    audit_verified: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # PostgreSQL only: the killed server's sessions, noted just before each kill
    pg: dict | None = None

    def count_pg(self, key: str, n: int) -> None:
        assert self.pg is not None
        self.pg[key] = self.pg.get(key, 0) + n

    def note_pg(self, key: str, value: object) -> None:
        assert self.pg is not None
        self.pg.setdefault(key, []).append(value)

    def problem(self, text: str) -> None:
        self.problems.append(text)
        print(f"  PROBLEM: {text}", flush=True)

    def as_dict(self) -> dict:
        r = self.restarts_s
        return {
            "cycles": self.cycles,
            "import_cycles": self.import_cycles,
            "annotate_cycles": self.annotate_cycles,
            "restart_mean_s": round(statistics.mean(r), 3) if r else None,
            "restart_p50_s": round(statistics.median(r), 3) if r else None,
            "restart_max_s": round(max(r), 3) if r else None,
            "restarts": len(r),
            "imports_cut": self.imports_cut,
            # cut imports that had committed some batches but not all: where a half batch would show
            "imports_cut_between_batches": sum(1 for n in self.imports_partial_tasks if n),
            "imports_cut_tasks_found": self.imports_partial_tasks[:20],
            "acknowledged_annotations": self.acknowledged,
            "requests_cut_by_kill": self.cut_requests,
            "refused": dict(self.refused),
            "integrity_checks": self.integrity_checks,
            "lease_checks": self.lease_checks,
            "leases_reclaimed": self.leases_reclaimed,
            "audit_verified_workspaces": len(self.audit_verified),
            "lost_acknowledged": sum(1 for p in self.problems if p.startswith("lost")),
            **({"postgresql": _pg_summary(self.pg)} if self.pg is not None else {}),
            "problems": self.problems[:50],
            "problem_count": len(self.problems),
        }


def _pg_summary(pg: dict) -> dict:
    gone = pg.get("sessions_gone_s", [])
    probe = pg.get("first_write_s", [])
    return {
        "kills": pg.get("kills", 0),
        "server_sessions_at_kill": pg.get("sessions", 0),
        "server_sessions_max": max(pg.get("sessions_per_kill", [0])),
        "sessions_in_transaction_at_kill": pg.get("in_transaction", 0),
        "sessions_holding_locks_at_kill": pg.get("holding_locks", 0),
        "sessions_holding_advisory_locks_at_kill": pg.get("holding_advisory", 0),
        "kills_aimed_at_copy": pg.get("kills_aimed_at_copy", 0),
        "kills_during_copy": pg.get("kills_during_copy", 0),
        "kills_with_a_transaction_open": pg.get("kills_in_transaction", 0),
        "server_roles": sorted(set(pg.get("roles", []))),
        "dead_sessions_gone_after_kill_mean_s": round(statistics.mean(gone), 3) if gone else None,
        "dead_sessions_gone_after_kill_max_s": round(max(gone), 3) if gone else None,
        "first_write_after_restart_mean_s": round(statistics.mean(probe), 3) if probe else None,
        "first_write_after_restart_max_s": round(max(probe), 3) if probe else None,
        "integrity_check": pg.get("integrity", ["not run"])[-1],
    }


class PgSessions:
    """The killed server's PostgreSQL sessions, seen as the database's owner (PostgreSQL only)."""

    SESSIONS = """
        SELECT a.pid, a.usename, r.rolsuper OR r.rolbypassrls, a.state, a.xact_start IS NOT NULL,
               EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.granted
                       AND l.locktype NOT IN ('virtualxid', 'advisory')),
               EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.granted AND l.locktype = 'advisory'),
               EXISTS (SELECT 1 FROM pg_stat_progress_copy c WHERE c.pid = a.pid),
               clock_timestamp()
        FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.rolname = a.usename
        WHERE a.datname = current_database() AND a.application_name = %s
    """

    def __init__(self, owner_url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(_libpq_url(owner_url), autocommit=True)
        self.watch_conn = psycopg.connect(_libpq_url(owner_url), autocommit=True)  # the watcher thread's
        self._watcher: threading.Thread | None = None
        self.pids: list[int] = []
        self.seen_at = None  # when the sessions were noted (a pid PostgreSQL gives again later is not theirs)
        self.amcheck = self._amcheck()

    def _amcheck(self) -> str | None:
        """Make ``amcheck`` available in a schema of its own; None, or why it cannot be."""
        import psycopg

        if not self.conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck'").fetchone():
            return "the PostgreSQL server has no amcheck extension"
        try:
            self.conn.execute("CREATE SCHEMA IF NOT EXISTS crash_amcheck")
            self.conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck WITH SCHEMA crash_amcheck")
        except psycopg.Error as exc:
            return f"cannot create the amcheck extension: {exc}".splitlines()[0]
        return None

    def wait_for_copy(self, busy: threading.Thread, limit_s: float) -> float:
        """Poll until one of the server's sessions runs a ``COPY`` (or the import ends); the seconds waited."""
        began = time.perf_counter()
        while busy.is_alive() and time.perf_counter() - began < limit_s:
            if self.conn.execute(
                "SELECT 1 FROM pg_stat_progress_copy c JOIN pg_stat_activity a ON a.pid = c.pid "
                "WHERE a.datname = current_database() AND a.application_name = %s",
                (SERVER_APP_NAME,),
            ).fetchone():
                break
        return time.perf_counter() - began

    def before_kill(self, report: Report) -> None:
        rows = self.conn.execute(self.SESSIONS, (SERVER_APP_NAME,)).fetchall()
        self.pids = [row[0] for row in rows]
        self.seen_at = rows[0][8] if rows else None
        report.count_pg("kills", 1)
        report.count_pg("sessions", len(rows))
        report.note_pg("sessions_per_kill", len(rows))
        report.count_pg("in_transaction", sum(1 for row in rows if row[4]))
        report.count_pg("holding_locks", sum(1 for row in rows if row[5]))
        report.count_pg("holding_advisory", sum(1 for row in rows if row[6]))
        report.count_pg("kills_during_copy", int(any(row[7] for row in rows)))
        report.count_pg("kills_in_transaction", int(any(row[4] for row in rows)))
        for row in rows:
            report.note_pg("roles", row[1])
            if row[2] is not False:
                report.problem(f"the server's session {row[0]} connects as {row[1]}, a superuser or BYPASSRLS role")

    def watch(self, killed_at: float, report: Report) -> None:
        """From the kill on, in a thread (the restart goes on meanwhile): when the killed server's sessions end."""
        self._watcher = threading.Thread(target=self._wait_gone, args=(killed_at, report), daemon=True)
        self._watcher.start()

    def wait_gone(self) -> None:
        assert self._watcher is not None
        self._watcher.join()
        self._watcher = None

    def _wait_gone(self, killed_at: float, report: Report) -> None:
        """Every session of the killed server ends (PostgreSQL sees their sockets close)."""
        while True:
            left = (
                self.watch_conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s) AND backend_start <= %s",
                    (self.pids, self.seen_at),
                ).fetchone()[0]
                if self.pids
                else 0
            )
            took = time.perf_counter() - killed_at
            if not left:
                report.note_pg("sessions_gone_s", took)
                return
            if took > SESSIONS_GONE_WITHIN_S:
                report.problem(f"{left} sessions of the killed server still there {took:.0f} s after the kill")
                return
            time.sleep(0.005)

    def integrity_check(self, report: Report) -> None:
        """``amcheck`` on every table and B-tree index of the database (not other sessions' temporary tables)."""
        import psycopg

        if self.amcheck:
            report.note_pg("integrity", f"skipped: {self.amcheck}")
            return
        where = (
            "c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace, "
            "'pg_toast'::regnamespace, 'crash_amcheck'::regnamespace) AND c.relpersistence <> 't'"
        )
        try:
            heap = self.conn.execute(
                "SELECT c.oid::regclass::text, v.blkno, v.offnum, v.msg FROM pg_class c, "
                f"crash_amcheck.verify_heapam(c.oid) v WHERE c.relkind IN ('r', 'm') AND {where}"
            ).fetchall()
            tables = self.conn.execute(
                f"SELECT count(*) FROM pg_class c WHERE c.relkind IN ('r', 'm') AND {where}"
            ).fetchone()[0]
            indexes = self.conn.execute(
                "SELECT count(crash_amcheck.bt_index_check(c.oid, true)) FROM pg_class c "
                "JOIN pg_index i ON i.indexrelid = c.oid JOIN pg_am am ON am.oid = c.relam "
                f"WHERE c.relkind = 'i' AND am.amname = 'btree' AND i.indisvalid AND i.indisready AND {where}"
            ).fetchone()[0]
        except psycopg.Error as exc:
            report.problem(f"amcheck: {exc}".splitlines()[0])
            return
        report.integrity_checks += 1
        report.note_pg(
            "integrity",
            f"amcheck: verify_heapam on {tables} tables, bt_index_check (heapallindexed) on {indexes} indexes",
        )
        if heap:
            report.problem(f"amcheck verify_heapam: {heap[:5]}")

    def close(self) -> None:
        self.conn.close()
        self.watch_conn.close()


def _libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://``) as the libpq URL psycopg takes."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _with_app_name(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).update_query_dict({"application_name": SERVER_APP_NAME}).render_as_string(hide_password=False)


class Harness:
    def __init__(
        self,
        work: Path,
        *,
        import_tasks: int,
        clients: int,
        seed: int,
        load_tasks: int,
        database_url: str | None = None,
        owner_url: str | None = None,
    ) -> None:
        """SQLite in ``work / "data"``; or PostgreSQL at ``database_url`` (the application role's URL, which
        the server and the checks connect as), with ``owner_url`` (the database's owner) for the sessions
        view and ``amcheck``."""
        self.work = work
        self.rng = random.Random(seed)
        self.import_tasks = import_tasks
        self.clients = clients
        self.load_tasks = load_tasks
        self.report = Report()
        self.db = "postgresql" if database_url else "sqlite"
        if database_url and not owner_url:
            raise ValueError("PostgreSQL needs the database owner's URL too (owner_url)")
        self.settings = seeding.settings_for(work / "data", database_url)
        self.file = write_tasks(work / "import.jsonl", import_tasks)
        self.file_ids = {f"t-{i}" for i in range(import_tasks)}
        self.acknowledged: dict[str, str] = {}  # annotation id -> task id
        self.import_projects: list[str] = []
        self.rt = seeding.open_runtime(self.settings)
        self.world = seeding.make_world(self.rt, annotators=clients + 1, tag="crash")
        self.sweeper_token = self.world.annotator_tokens[-1]
        self.load_projects: list[str] = []
        self._top_up_start = 0
        self._new_load_project()
        self.pg: PgSessions | None = None
        if database_url and owner_url:
            self.report.pg = {}
            self.pg = PgSessions(owner_url)
        self.server = Server(
            self.settings.data_dir, _with_app_name(database_url) if database_url else None, name="crash"
        )
        self.import_estimate_s = 1.0
        self._killed_at = 0.0

    # -- helpers ------------------------------------------------------------------

    @property
    def owner(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.world.owner_token}"}

    def _new_load_project(self) -> None:
        project = seeding.add_project(
            self.rt, self.world, f"Load {len(self.load_projects)}", overlap=OVERLAP, lease_seconds=LEASE_SECONDS
        )
        path = write_tasks(self.work / "load.jsonl", self.load_tasks, start=self._top_up_start)
        self._top_up_start += self.load_tasks
        seeding.import_file(self.rt, project, path)
        self.load_projects.append(project)

    def start(self) -> None:
        took = self.server.start()
        self.report.restarts_s.append(took)

    def kill(self) -> None:
        if self.pg is not None:
            self.pg.before_kill(self.report)
        self.server.kill()
        self._killed_at = time.perf_counter()
        if self.pg is not None:
            self.pg.watch(self._killed_at, self.report)

    def import_once(self, project: str) -> tuple[int | None, dict | None, str]:
        try:
            r = httpx.post(
                f"{self.server.url}/api/v1/projects/{project}/tasks",
                content=_chunks(self.file),
                timeout=600,
                headers={**self.owner, "Content-Type": "application/x-ndjson"},
            )
        except httpx.HTTPError as exc:
            return None, None, repr(exc)
        return r.status_code, (r.json() if r.status_code == 200 else None), r.text[:300]

    def create_project(self, name: str) -> str:
        r = httpx.post(
            f"{self.server.url}/api/v1/workspaces/{self.world.workspace_id}/projects",
            json={"name": name, "config": seeding.CONFIG, "settings": {"overlap": OVERLAP}},
            headers=self.owner,
            timeout=60,
        )
        r.raise_for_status()
        return r.json()["id"]

    # -- phases ---------------------------------------------------------------------

    def calibrate(self) -> None:
        """Time two uncut imports (the first warms the server up); kills are drawn over the second's time."""
        for attempt in range(2):
            project = self.create_project(f"Calibration {attempt}")
            start = time.perf_counter()
            status, body, text = self.import_once(project)
            self.import_estimate_s = time.perf_counter() - start
            if status != 200 or body["imported"] != self.import_tasks:
                self.report.problem(f"calibration import: {status} {text}")
            self.import_projects.append(project)

    def import_cycle(self, n: int) -> None:
        project = self.create_project(f"Import {n}")
        self.import_projects.append(project)
        outcome: dict = {}
        thread = threading.Thread(
            target=lambda: outcome.update(zip(("status", "body", "text"), self.import_once(project)))
        )
        delay = self.rng.uniform(0, self.import_estimate_s)
        thread.start()
        time.sleep(delay)
        if self.pg is not None and n % 4 == 1:  # every other import on PostgreSQL: the kill waits for a COPY
            self.report.count_pg("kills_aimed_at_copy", 1)
            delay += self.pg.wait_for_copy(thread, self.import_estimate_s * 2)
        self.kill()
        thread.join()
        self.report.kill_after_s.append(delay)
        if outcome.get("status") is None:
            self.report.imports_cut += 1
        elif outcome["status"] != 200:
            self.report.problem(f"import cycle {n}: answered {outcome['status']} {outcome['text']}")
        self.after_kill()
        found = self.check_import(project, complete=False)
        if outcome.get("status") is None:
            self.report.imports_partial_tasks.append(found)
        status, body, text = self.import_once(project)
        if status != 200:
            self.report.problem(f"import cycle {n}: re-run answered {status} {text}")
        elif (
            body["imported"] + body["duplicates"] != self.import_tasks or body["imported"] != self.import_tasks - found
        ):
            self.report.problem(
                f"import cycle {n}: re-run imported {body['imported']} + {body['duplicates']} "
                f"duplicates with {found} already there (file: {self.import_tasks})"
            )
        self.check_import(project, complete=True)

    def annotate_cycle(self, n: int) -> None:
        project = self.load_projects[-1]
        stop = threading.Event()
        box: dict = {}

        def load() -> None:
            box["result"] = asyncio.run(
                annotate_async(
                    [self.server.url], self.world.annotator_tokens[: self.clients], BastionProtocol(project), stop=stop
                )
            )

        thread = threading.Thread(target=load)
        delay = self.rng.uniform(0.2, 2.0)
        thread.start()
        time.sleep(delay)
        self.kill()
        stop.set()
        thread.join()
        self.report.kill_after_s.append(delay)
        result = box["result"]
        for annotation_id, task_id, _ in result.acknowledged:
            self.acknowledged[annotation_id] = task_id
        self.report.acknowledged += len(result.acknowledged)
        self.report.cut_requests += result.broken
        for failure in result.failures:
            call, status = failure.split(" ", 2)[:2]
            self.report.refused[f"{call} {status}"] += 1
            if status.startswith("5"):
                self.report.problem(f"annotate cycle {n}: {failure}")
        self.after_kill()
        self.check_annotations()
        if result.emptied:
            self._new_load_project()

    def after_kill(self) -> None:
        if self.pg is None:
            self.integrity_check()
            self.start()
            return
        # PostgreSQL: restart at once (the dead server's sessions may still be there), write, then check.
        self.start()
        began = time.perf_counter()
        try:
            self.create_project(f"After restart {len(self.report.restarts_s)}")
            fold_apart(self.rt, [self.world.workspace_id])  # the head lock a dead fold may have held
        except (httpx.HTTPError, SQLAlchemyError) as exc:
            self.report.problem(f"first write (and fold) after the restart: {exc!r}")
        else:
            self.report.note_pg("first_write_s", time.perf_counter() - began)
        self.pg.wait_gone()
        self.integrity_check()

    # -- checks ---------------------------------------------------------------------

    def integrity_check(self) -> None:
        if self.pg is not None:
            self.pg.integrity_check(self.report)
            return
        db = self.settings.data_dir / "bastion.db"
        conn = sqlite3.connect(db)
        try:
            answer = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        finally:
            conn.close()
        self.report.integrity_checks += 1
        if answer != ["ok"]:
            self.report.problem(f"integrity_check: {answer[:5]}")

    def check_import(self, project: str, *, complete: bool) -> int:
        """The project's tasks against the committed batches (and, when complete, the file)."""
        from sqlalchemy import func, select

        from bastion.storage import schema

        T, C, E = schema.tasks, schema.project_counters, schema.audit_events
        ws = self.world.workspace_id
        ctx = seeding.system(self.rt)
        fold_apart(self.rt, [ws])  # PostgreSQL: committed entries still queued get their places first
        with ctx.read() as r:
            key_id = r.tx.execute(select(schema.projects.c.key_id).where(schema.projects.c.id == project)).scalar_one()
            sealer = r.sealer(ws, key_id)
            rows = r.tx.execute(
                select(T.c.id, T.c.payload).where(T.c.workspace_id == ws, T.c.project_id == project)
            ).all()
            counted = r.tx.execute(
                select(func.coalesce(func.sum(C.c.tasks), 0)).where(C.c.workspace_id == ws, C.c.project_id == project)
            ).scalar_one()
            leaves = (
                r.tx.execute(
                    select(E.c.leaf).where(
                        E.c.workspace_id == ws, E.c.target == project, E.c.action == "tasks.imported"
                    )
                )
                .scalars()
                .all()
            )
        batches = sum(orjson.loads(leaf)["details"]["imported"] for leaf in leaves)
        external = Counter()
        for row in rows:
            try:
                external[sealer.open_json("tasks", row.id, "payload", row.payload).get("external_id")] += 1
            except Exception as exc:  # noqa: BLE001 - any failure to open is the finding
                self.report.problem(f"task {row.id} of {project} does not decrypt: {exc!r}")
        if len(rows) != batches:
            self.report.problem(f"half batch? {project}: {len(rows)} tasks, committed batches say {batches}")
        if int(counted) != len(rows):
            self.report.problem(f"{project}: counters say {counted} tasks, {len(rows)} rows")
        twice = [k for k, v in external.items() if v > 1]
        if twice:
            self.report.problem(f"{project}: {len(twice)} external ids twice, e.g. {twice[:3]}")
        if not set(external) <= self.file_ids:
            self.report.problem(f"{project}: external ids not in the file")
        if complete and set(external) != self.file_ids:
            self.report.problem(
                f"{project}: after the re-run {len(external)} external ids, file has {len(self.file_ids)}"
            )
        return len(rows)

    def check_annotations(self, *, open_all: bool = False) -> None:
        """Acknowledged annotations stored; overlap, uniqueness and counters hold."""
        from sqlalchemy import func, select

        from bastion.storage import schema

        T, A, N = schema.tasks, schema.assignments, schema.annotations
        ws = self.world.workspace_id
        ctx = seeding.system(self.rt)
        with ctx.read() as r:
            stored = dict(r.tx.execute(select(N.c.id, N.c.task_id).where(N.c.workspace_id == ws)).all())
            per_task = dict(
                r.tx.execute(
                    select(N.c.task_id, func.count()).where(N.c.workspace_id == ws).group_by(N.c.task_id)
                ).all()
            )
            pairs = r.tx.execute(
                select(func.count()).select_from(
                    select(N.c.task_id, N.c.user_id)
                    .where(N.c.workspace_id == ws)
                    .group_by(N.c.task_id, N.c.user_id)
                    .having(func.count() > 1)
                    .subquery()
                )
            ).scalar_one()
            leased = dict(
                r.tx.execute(
                    select(A.c.task_id, func.count())
                    .where(A.c.workspace_id == ws, A.c.state == "leased")
                    .group_by(A.c.task_id)
                ).all()
            )
            tasks = r.tx.execute(
                select(T.c.id, T.c.project_id, T.c.annotation_count, T.c.lease_count, T.c.done).where(
                    T.c.workspace_id == ws, T.c.project_id.in_(self.load_projects)
                )
            ).all()
            missing = [a for a in self.acknowledged if a not in stored]
            wrong_task = [a for a, t in self.acknowledged.items() if a in stored and stored[a] != t]
            if open_all:
                key_id = r.tx.execute(
                    select(schema.projects.c.key_id).where(schema.projects.c.id == self.load_projects[0])
                ).scalar_one()
                sealer = r.sealer(ws, key_id)
                for row in r.tx.execute(
                    select(N.c.id, N.c.result).where(N.c.workspace_id == ws, N.c.project_id.in_(self.load_projects))
                ):
                    try:
                        sealer.open_json("annotations", row.id, "result", row.result)
                    except Exception as exc:  # noqa: BLE001
                        self.report.problem(f"annotation {row.id} does not decrypt: {exc!r}")
        for a in missing:
            self.report.problem(f"lost acknowledged annotation {a} (task {self.acknowledged[a]})")
        if wrong_task:
            self.report.problem(f"{len(wrong_task)} acknowledged annotations on another task")
        if pairs:
            self.report.problem(f"{pairs} (task, person) pairs annotated twice")
        for t in tasks:
            count = per_task.get(t.id, 0)
            if count > OVERLAP:
                self.report.problem(f"task {t.id} over its overlap: {count} annotations")
            if t.annotation_count != count:
                self.report.problem(f"task {t.id}: annotation_count {t.annotation_count}, {count} annotations")
            if t.lease_count != leased.get(t.id, 0):
                self.report.problem(f"task {t.id}: lease_count {t.lease_count}, {leased.get(t.id, 0)} live leases")
            if bool(t.done) != (count >= OVERLAP):
                self.report.problem(f"task {t.id}: done={t.done} with {count} annotations")

    def lease_check(self) -> None:
        """Wait out the leases, then show every slot a killed client held returns to the pool."""
        from sqlalchemy import func, select

        from bastion.storage import schema

        A, T = schema.assignments, schema.tasks
        ws = self.world.workspace_id
        ctx = seeding.system(self.rt)
        with ctx.read() as r:
            held = r.tx.execute(
                select(func.count()).select_from(A).where(A.c.workspace_id == ws, A.c.state == "leased")
            ).scalar_one()
        time.sleep(LEASE_SECONDS + 1)
        calls = 0
        headers = {"Authorization": f"Bearer {self.sweeper_token}"}
        with httpx.Client(base_url=self.server.url, headers=headers, timeout=60) as http:
            for project in self.load_projects:
                # each next call reclaims up to 100 expired leases of the project
                for _ in range(held // 100 + 3):
                    with ctx.read() as r:
                        left = r.tx.execute(
                            select(func.count())
                            .select_from(A)
                            .where(A.c.workspace_id == ws, A.c.project_id == project, A.c.state == "leased")
                        ).scalar_one()
                    if left == 0:
                        break
                    r = http.post(f"/api/v1/projects/{project}/next")
                    calls += 1
                    if r.status_code == 204:
                        break
                    if r.status_code != 200:
                        self.report.problem(f"sweeper next: {r.status_code} {r.text[:200]}")
                        break
                    skipped = http.post(f"/api/v1/tasks/{r.json()['id']}/skip")
                    if skipped.status_code != 204:
                        self.report.problem(f"sweeper skip: {skipped.status_code} {skipped.text[:200]}")
        with ctx.read() as r:
            left = r.tx.execute(
                select(func.count()).select_from(A).where(A.c.workspace_id == ws, A.c.state == "leased")
            ).scalar_one()
            stuck = r.tx.execute(
                select(func.count()).select_from(T).where(T.c.workspace_id == ws, T.c.lease_count != 0)
            ).scalar_one()
        self.report.lease_checks += 1
        self.report.leases_reclaimed += held
        if left or stuck:
            self.report.problem(
                f"leases stuck after {LEASE_SECONDS} s: {left} leased assignments, "
                f"{stuck} tasks with lease_count != 0 ({held} held before, {calls} sweeper calls)"
            )
        self.check_annotations()

    def audit_verify(self) -> None:
        from sqlalchemy import select

        from bastion.storage import schema

        with seeding.system(self.rt).read() as r:
            workspaces = r.tx.execute(select(schema.workspaces.c.id)).scalars().all()
        env = server_env(self.settings.data_dir, self.settings.database_url)
        for ws in workspaces:
            done = subprocess.run(
                [sys.executable, "-m", "bastion.cli", "audit", "verify", ws],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                self.report.problem(f"audit verify {ws}: {(done.stdout + done.stderr).strip()[-500:]}")
            else:
                self.report.audit_verified.append(ws)

    def close(self) -> None:
        self.server.stop()
        self.rt.close()
        if self.pg is not None:
            self.pg.close()


def _chunks(path: Path, size: int = 256 * 1024):
    with path.open("rb") as fh:
        while chunk := fh.read(size):
            yield chunk


def run(
    cycles: int,
    *,
    import_tasks: int = 30_000,
    clients: int = 8,
    seed: int = 1,
    load_tasks: int = 20_000,
    lease_check_every: int = 50,
    work: Path | None = None,
    verbose: bool = True,
    database_url: str | None = None,
    owner_url: str | None = None,
) -> dict:
    """Run the harness; returns the report (see ``Report.as_dict``).

    SQLite unless ``database_url`` names a PostgreSQL database (the application role's URL; ``owner_url``,
    its owner's, for the sessions view and ``amcheck``)."""
    own_work = work is None
    work = Path(tempfile.mkdtemp(prefix="bastion-crash-")) if work is None else work
    started = time.perf_counter()
    harness = Harness(
        work,
        import_tasks=import_tasks,
        clients=clients,
        seed=seed,
        load_tasks=load_tasks,
        database_url=database_url,
        owner_url=owner_url,
    )
    try:
        harness.start()
        harness.calibrate()
        for n in range(1, cycles + 1):
            if n % 2:
                harness.import_cycle(n)
                harness.report.import_cycles += 1
            else:
                harness.annotate_cycle(n)
                harness.report.annotate_cycles += 1
            harness.report.cycles += 1
            if n % lease_check_every == 0 and n != cycles:
                harness.lease_check()
            if verbose and (n % 10 == 0 or n == cycles):
                rep = harness.report
                print(
                    f"  cycle {n}/{cycles}: restart {rep.restarts_s[-1]:.2f} s, acknowledged {rep.acknowledged}, "
                    f"cut imports {rep.imports_cut}, problems {len(rep.problems)}",
                    flush=True,
                )
        harness.lease_check()
        harness.check_annotations(open_all=True)
        harness.server.stop()
        harness.integrity_check()
        harness.audit_verify()
        result = harness.report.as_dict()
        from bastion.services.imports import DEFAULT_BATCH

        result.update(
            {
                "db": harness.db,
                "seed": seed,
                "import_tasks": import_tasks,
                "import_batch": DEFAULT_BATCH,
                "clients": clients,
                "lease_seconds": LEASE_SECONDS,
                "overlap": OVERLAP,
                "seconds": round(time.perf_counter() - started, 1),
                "import_estimate_s": round(harness.import_estimate_s, 3),
                "synchronous": _synchronous(harness.rt),
            }
        )
        return result
    finally:
        harness.close()
        if own_work:
            shutil.rmtree(work, ignore_errors=True)


def _synchronous(rt) -> str:
    """What the server's own connection setup gives SQLite writes (2 = FULL); PostgreSQL's synchronous_commit."""
    with rt.db.engine.connect() as conn:
        if not rt.db.is_sqlite:
            return "synchronous_commit=" + str(conn.exec_driver_sql("SHOW synchronous_commit").scalar())
        value = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    return {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(value, str(value))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.crash", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--db",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="sqlite (a fresh data directory) or postgresql (a fresh database at BASTION_BENCH_PG's server, "
        "the server connecting as bastion_app); default sqlite",
    )
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--import-tasks", type=int, default=30_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--load-tasks", type=int, default=20_000)
    parser.add_argument("--lease-check-every", type=int, default=50)
    args = parser.parse_args(argv)
    import datetime as dt
    import os
    from contextlib import ExitStack

    load_before = os.getloadavg()
    with ExitStack() as stack:
        url = owner = None
        if args.db == "postgresql":
            url = stack.enter_context(postgres_database("bastion_crash"))
            owner = _owner_url(url)
        result = run(
            args.cycles,
            import_tasks=args.import_tasks,
            clients=args.clients,
            seed=args.seed,
            load_tasks=args.load_tasks,
            lease_check_every=args.lease_check_every,
            database_url=url,
            owner_url=owner,
        )
    import bastion

    result["date"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result["bastion_code"] = str(Path(bastion.__file__).parent)
    result["load"] = [round(x, 2) for x in load_before] + [round(x, 2) for x in os.getloadavg()]
    result["command"] = " ".join(["python -m benchmarks.crash", *(argv if argv is not None else sys.argv[1:])])
    (ROOT / "results").mkdir(exist_ok=True)
    out = ROOT / "results" / f"crash-{args.db}.json"
    out.write_text(json.dumps(result, indent=2))
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    return 1 if result["problem_count"] else 0


def _owner_url(url: str) -> str:
    """The database's owner: ``postgres_database`` creates and migrates it as ``BASTION_BENCH_PG``'s role."""
    from sqlalchemy.engine import make_url

    from .servers import PG_ADMIN

    return make_url(PG_ADMIN).set(database=make_url(url).database).render_as_string(hide_password=False)


if __name__ == "__main__":
    sys.exit(main())
