"""Shared fixtures: a fresh database per test, on SQLite and (when reachable) PostgreSQL.

Which databases are reachable is decided in ``environment.py``. Each test gets its own database, copied from a template migrated once per
session (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL). On PostgreSQL a
thread of its own readies them a few tests ahead and puts used ones back into the template's
exact state, schema and rows, instead of dropping them (``PgDatabases``: each drop forces a
checkpoint of the whole server). They commit without waiting for the disk (``synchronous_commit =
off``: what other connections see is the same). The template is set up by the documented ``bastion init --app-role bastion_app`` as the owner, and
``database_url`` connects as ``bastion_app``: row-level security applies to every test, as in a
deployment.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

from bastion.settings import Settings
from environment import PG_ADMIN_URL, make_settings, pg_admin, pg_url, require_postgres


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    from bastion.storage import migrate
    from bastion.storage.database import Database

    path = tmp_path_factory.mktemp("template") / "bastion.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template():
    require_postgres()
    from benchmarks.servers import ensure_app_role, init_database

    name = f"bastion_tpl_{os.getpid()}"
    ensure_app_role(PG_ADMIN_URL)
    pg_admin(f"DROP DATABASE IF EXISTS {name}")
    pg_admin(f"CREATE DATABASE {name}")
    init_database(pg_url(name))  # as the owner, exactly as docs/security.md deploys it
    yield name
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


MEMORY_TMP_MIN_FREE = 8 * 2**30
_MEMORY_TMP = pytest.StashKey[str]()


def _memory_tmp() -> str | None:
    """A folder in memory (tmpfs at /dev/shm) for the tests' files, when the machine has one with room for them
    that allows running programs from it; None otherwise, or when ``BASTION_TEST_TMPFS=0``.

    SQLite commits with ``synchronous=FULL`` (storage/database.py): every commit of every test
    waits for an fsync, a few milliseconds on a disk and nothing in memory. What the tests check is
    the same (fsync is called either way; the kill -9 tests kill processes, not the machine).
    """
    if os.environ.get("BASTION_TEST_TMPFS", "1") == "0":
        return None
    try:
        room = os.statvfs("/dev/shm")
    except OSError:
        return None
    if room.f_flag & (os.ST_NOEXEC | os.ST_RDONLY) or room.f_bavail * room.f_frsize < MEMORY_TMP_MIN_FREE:
        return None
    return tempfile.mkdtemp(prefix="bastion-tests-", dir="/dev/shm")


_TERMINAL = ("COLUMNS", "LINES")


def _same_terminal_as_the_run() -> None:
    """A pytest-xdist worker (3.8) finds ``COLUMNS=80 LINES=24`` in its environment by the time this file is
    imported, though the run had neither; rich's consoles made at import (the CLI's, ``cli/_output.py``)
    then keep 80 columns whatever a test sets, and wrap a long path in two. The worker gets back the
    terminal settings the run was started with (the controller notes them in ``BASTION_TEST_TERMINAL``)."""
    started = os.environ.get("BASTION_TEST_TERMINAL")
    if started is None:
        return
    for name, value in zip(_TERMINAL, started.split(",")):
        if value:
            os.environ[name] = value
        else:
            os.environ.pop(name, None)


# At import: before any module that makes a console (a conftest further down imports the CLI).
if "PYTEST_XDIST_WORKER" in os.environ:
    _same_terminal_as_the_run()
else:
    os.environ["BASTION_TEST_TERMINAL"] = ",".join(os.environ.get(name, "") for name in _TERMINAL)


@pytest.hookimpl(tryfirst=True)  # before the tmp_path plugin reads --basetemp
def pytest_configure(config):
    if config.option.basetemp is not None or "PYTEST_XDIST_WORKER" in os.environ:
        return
    folder = _memory_tmp()
    if folder:
        config.option.basetemp = folder
        os.environ["TMPDIR"] = folder  # tempfile here and in the programs the tests start
        tempfile.tempdir = None
        config.stash[_MEMORY_TMP] = folder


def pytest_sessionfinish(session, exitstatus):
    folder = session.config.stash.get(_MEMORY_TMP, None)
    if folder and exitstatus == 0:
        shutil.rmtree(folder, ignore_errors=True)  # kept, in memory, for a look when something failed


# Everything about a database's schema that a test could change (tables, columns, keys, indexes,
# row-level security and its policies, triggers, functions, grants, settings, sequences, large
# objects), as one digest: a used database whose digest differs from a fresh copy's is dropped.
_SCHEMA_DIGEST = r"""
WITH ns AS (SELECT oid, nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema')
SELECT md5(string_agg(x, E'\n' ORDER BY x)) FROM (
  SELECT 'n ' || nspname || ' ' || coalesce((SELECT nspacl::text FROM pg_namespace WHERE oid = ns.oid), '') FROM ns
  UNION ALL SELECT 'c ' || ns.nspname || '.' || c.relname || ' ' || c.relkind::text || ' ' || c.relrowsecurity || ' '
      || c.relforcerowsecurity || ' ' || coalesce(c.relacl::text, '') || ' ' || pg_get_userbyid(c.relowner)
    FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
  UNION ALL SELECT 'a ' || ns.nspname || '.' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
      || ' ' || a.attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' ' || coalesce(a.attacl::text, '')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN ns ON ns.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped
  UNION ALL SELECT 'k ' || conrelid::regclass::text || '.' || conname || ' ' || pg_get_constraintdef(co.oid)
    FROM pg_constraint co JOIN ns ON ns.oid = co.connamespace
  UNION ALL SELECT 'i ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN ns ON ns.oid = c.relnamespace
  UNION ALL SELECT 'p ' || polrelid::regclass::text || '.' || polname || ' ' || polcmd::text || ' ' || polpermissive || ' '
      || polroles::text || ' ' || coalesce(pg_get_expr(polqual, polrelid), '') || ' '
      || coalesce(pg_get_expr(polwithcheck, polrelid), '')
    FROM pg_policy
  UNION ALL SELECT 't ' || pg_get_triggerdef(oid) || ' ' || tgenabled::text FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL SELECT 'f ' || p.oid::regprocedure::text || ' ' || md5(coalesce(p.prosrc, '')) || ' ' || p.prosecdef || ' '
      || coalesce(p.proacl::text, '') || ' ' || coalesce(p.proconfig::text, '')
    FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
  UNION ALL SELECT 'v ' || c.oid::regclass::text || ' ' || md5(pg_get_viewdef(c.oid))
    FROM pg_class c JOIN ns ON ns.oid = c.relnamespace WHERE c.relkind IN ('v', 'm')
  UNION ALL SELECT 'y ' || ns.nspname || '.' || t.typname || ' ' || t.typtype::text || ' '
      || coalesce((SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid), '')
    FROM pg_type t JOIN ns ON ns.oid = t.typnamespace WHERE t.typtype IN ('e', 'd', 'r', 'm')
  UNION ALL SELECT 'e ' || extname || ' ' || extversion FROM pg_extension
  UNION ALL SELECT 'q ' || schemaname || '.' || sequencename || ' ' || coalesce(last_value::text, '') FROM pg_sequences
  UNION ALL SELECT 's ' || setrole::text || ' ' || setconfig::text FROM pg_db_role_setting
    WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
  UNION ALL SELECT 'd ' || coalesce(datacl::text, '') FROM pg_database WHERE datname = current_database()
  UNION ALL SELECT 'r ' || defaclrole::regrole::text || ' ' || defaclnamespace::text || ' ' || defaclobjtype::text || ' '
      || defaclacl::text FROM pg_default_acl
  UNION ALL SELECT 'l ' || count(*) FROM pg_largeobject_metadata
  UNION ALL SELECT 'x ' || count(*) FROM pg_prepared_xacts WHERE database = current_database()
) AS described(x)
"""

_TABLES = r"""
SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema' ORDER BY 1
"""


class PgDatabases:
    """Databases for the tests: copies of the template, each used by one test at a time, made ready in a thread.

    ``CREATE DATABASE … TEMPLATE`` writes the whole copy, and ``DROP DATABASE`` forces a
    checkpoint of the server (every dirty page of every database, written and synced): together
    about a second per test on a busy machine, on the tests' path. Instead a used database comes
    back here and, in this thread, is made a fresh copy again: its connections are ended; then
    if its schema digest (``_SCHEMA_DIGEST``: tables, columns, indexes, policies, triggers,
    functions, grants, settings, sequences…) is a fresh copy's, every table's rows are deleted and
    the template's own rows (the Alembic version) put back, and the row counts checked; if
    anything differs (a test that migrates, alters or grants) it is dropped and a new copy made.
    A test therefore always starts on exactly the template's schema and rows, seeing nothing
    of another test (tests/storage/test_test_databases.py holds this to account).
    """

    READY = 2

    def __init__(self, template: str):
        self.template = template
        self._ready: queue.Queue[str] = queue.Queue()
        self._used: list[str] = []
        self._wanted = threading.Condition()
        self._stopping = False
        self._failure: BaseException | None = None
        self._fresh: tuple[str, list[str], dict[str, list[tuple]]] | None = None  # digest, tables, rows
        self.reused = self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="pg-databases", daemon=True)
        self._thread.start()

    def take(self) -> str:
        """A database in exactly the template's state that no test is using (waits for the thread if none is ready)."""
        while True:
            try:
                name = self._ready.get(timeout=1)
            except queue.Empty:
                if self._failure is not None:
                    raise RuntimeError("could not ready a PostgreSQL test database") from self._failure
                if not self._thread.is_alive():
                    raise RuntimeError("the thread readying PostgreSQL test databases has stopped") from None
                continue
            with self._wanted:
                self._wanted.notify()  # another one, to be ready for the next test
            return name

    def give_back(self, name: str) -> None:
        """A test is done with the database: the thread resets it (or drops it), soon."""
        with self._wanted:
            self._used.append(name)
            self._wanted.notify()

    def reset(self, name: str) -> bool:
        """Make a used database a fresh copy again, in place; False (and nothing changed) when its schema is not
        a fresh copy's. Its connections are ended first."""
        import psycopg

        assert self._fresh is not None, "no fresh copy described yet"
        digest, tables, rows = self._fresh
        with psycopg.connect(pg_url(name), autocommit=True) as conn:
            self._end_connections(conn)
            if conn.execute(_SCHEMA_DIGEST).fetchone()[0] != digest:
                return False
            with conn.transaction():
                conn.execute("SET LOCAL session_replication_role = replica")  # no triggers or key checks while emptying
                for table in tables:
                    conn.execute(f"DELETE FROM {table}")
                for table, table_rows in rows.items():
                    with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                        for row in table_rows:
                            copy.write_row(row)
            counts = self._counts(conn, tables)
        assert counts == {table: len(rows.get(table, ())) for table in tables}, f"{name} was not emptied: {counts}"
        return True

    def _reset_or_not(self, name: str) -> bool:
        import psycopg

        try:
            return self.reset(name)
        except psycopg.Error:  # e.g. a connection that would not end: dropping it is always safe
            return False

    def close(self) -> None:
        with self._wanted:
            self._stopping = True
            self._wanted.notify()
        self._thread.join(120)
        names = self._used
        while not self._ready.empty():
            names.append(self._ready.get_nowait())
        for name in names:
            pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    @staticmethod
    def _end_connections(conn) -> None:
        import time

        deadline = time.monotonic() + 30
        while conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]:
            assert time.monotonic() < deadline, "connections to a used test database would not end"
            time.sleep(0.01)

    @staticmethod
    def _counts(conn, tables: list[str]) -> dict[str, int]:
        query = " UNION ALL ".join(f"SELECT {i}, count(*) FROM {table}" for i, table in enumerate(tables))
        return {tables[i]: n for i, n in conn.execute(query).fetchall()}

    def _describe(self, name: str) -> None:
        """Note a fresh copy's schema digest, tables and rows (what a reset must give back)."""
        import psycopg

        with psycopg.connect(pg_url(name), autocommit=True) as conn:
            digest = conn.execute(_SCHEMA_DIGEST).fetchone()[0]
            tables = [table for (table,) in conn.execute(_TABLES).fetchall()]
            rows = {}
            for table, n in self._counts(conn, tables).items():
                if n:
                    with conn.cursor().copy(f"COPY {table} TO STDOUT") as copy:
                        rows[table] = list(copy.rows())
        self._fresh = (digest, tables, rows)

    def _create(self, conn) -> str:
        name = f"bastion_t_{uuid.uuid4().hex[:12]}"
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {self.template}")
        # A commit need not wait for the server's disk: visibility and isolation are the same, only a
        # crash of the PostgreSQL server itself could lose the last commits, and no test crashes it (the
        # kill -9 tests kill Bastion's processes).
        conn.execute(f"ALTER DATABASE {name} SET synchronous_commit = off")
        if self._fresh is None:
            self._describe(name)
        return name

    def _run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                while True:
                    with self._wanted:
                        while not (self._stopping or self._used or self._ready.qsize() < self.READY):
                            self._wanted.wait()
                        if self._stopping:
                            return
                        used = self._used.pop(0) if self._used else None
                    if used is None:
                        self._ready.put(self._create(conn))
                    elif self._reset_or_not(used):
                        self.reused += 1
                        self._ready.put(used)
                    else:
                        self.dropped += 1
                        conn.execute(f"DROP DATABASE IF EXISTS {used} WITH (FORCE)")
        except BaseException as exc:  # reported by take()
            self._failure = exc


@pytest.fixture(scope="session")
def pg_databases(pg_template):
    databases = PgDatabases(pg_template)
    yield databases
    databases.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_kind(request) -> str:
    if request.param == "postgresql":
        require_postgres()
    return request.param


@pytest.fixture
def database_url(db_kind, tmp_path, request):
    if db_kind == "sqlite":
        target = tmp_path / "data" / "bastion.db"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    from benchmarks.servers import APP_ROLE, as_role

    databases = request.getfixturevalue("pg_databases")
    name = databases.take()
    yield as_role(pg_url(name), APP_ROLE)
    databases.give_back(name)


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def rt(settings):
    from bastion.services.runtime import Runtime

    runtime = Runtime.open(settings, migrate_schema="never")
    yield runtime
    runtime.close()


@pytest.fixture
def world(rt):
    """Two workspaces with people in every role (see tests/factories.py)."""
    from factories import make_world

    return make_world(rt)


@pytest.fixture
def client(rt):
    from starlette.testclient import TestClient

    from bastion.web.app import create_app

    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        yield c
