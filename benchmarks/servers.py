"""Starting, watching and stopping ``bastion serve`` processes for the benchmarks.

* ``Server``: one ``python -m bastion.cli serve`` process on a free port, its log in
  the data directory; ``start`` returns the time from spawn to ``/healthz`` 200.
  ``--workers 1`` runs uvicorn inside that process, so its pid is the server's.
* ``MemoryWatch``: the peak resident memory of a process tree, from
  ``/proc/<pid>/status`` — ``VmHWM`` (the kernel's own high-water mark, so no peak
  between two samples is missed) for each process, sampled every 50 ms so that
  worker processes that come and go are seen too.
* ``postgres_database``: a fresh database on the benchmark PostgreSQL server, set
  up as docs/security.md deploys it (``init_database``: ``bastion init
  --app-role`` run as the owner), yielding the URL of the ordinary role the
  servers connect as — row-level security applies to them; dropped afterwards.
* ``bastion_cli``: run one CLI command in a subprocess and return its output.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx

PG_ADMIN = os.environ.get("BASTION_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
MASTER_KEY = "33" * 32


# Under pytest-xdist each worker picks ports from a block of its own, below the kernel's range for
# outgoing connections (32768 and up on Linux): two workers never pick the same port between one
# picking it and its server binding it, nor does a connection's own port take it meanwhile.
_WORKER_PORTS = 1000
_WORKER_PORTS_FROM = 12000
_next_port: list[int] = []


def free_port() -> int:
    """A port on 127.0.0.1 that nothing is bound to now."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    # (a program a worker starts inherits the variable, not the worker's next port: it binds port 0)
    in_worker = "xdist" in sys.modules and worker.startswith("gw") and worker[2:].isdigit() and int(worker[2:]) < 20
    if not in_worker:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    first = _WORKER_PORTS_FROM + int(worker[2:]) * _WORKER_PORTS
    if not _next_port:  # a random start: runs at the same time on one machine rarely meet
        _next_port.append(first + int.from_bytes(os.urandom(2), "big") % _WORKER_PORTS)
    for _ in range(_WORKER_PORTS):
        port = _next_port[0]
        _next_port[0] = first + (port + 1 - first) % _WORKER_PORTS
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {first}..{first + _WORKER_PORTS - 1} for pytest-xdist worker {worker}")


def server_env(data_dir: Path, database_url: str | None, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "BASTION_DATA_DIR": str(data_dir),
        "BASTION_MASTER_KEY": MASTER_KEY,
        "BASTION_CHECKPOINT_SECONDS": "0",
        "BASTION_LOG_LEVEL": "warning",
        **extra,
    }
    env.pop("BASTION_DATABASE_URL", None)
    if database_url:
        env["BASTION_DATABASE_URL"] = database_url
    return env


def bastion_cli(env: dict[str, str], *args: str, stdin: str | None = None, check: bool = True) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bastion.cli", *args], env=env, input=stdin, capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"bastion {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout.strip()


def timed_cli(env: dict[str, str], *args: str) -> tuple[float, int, str]:
    """Run a CLI command; (wall seconds, peak RSS of that process in bytes, stdout)."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "bastion.cli", *args], env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage: its peak RSS
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"bastion {' '.join(args)} failed: {err.read().decode()[-2000:]}")
        return elapsed, usage.ru_maxrss * 1024, out.read().decode().strip()


def _status_kib(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(field.encode() + b":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except FileNotFoundError:
        return []


class MemoryWatch:
    """Peak RSS (bytes) of a process and its children while the watch runs."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_bytes = 0  # the largest single process's high-water mark
        self.peak_total_bytes = 0  # the largest sum over the tree at one sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _sample(self) -> None:
        pids = [self.pid, *_children(self.pid)]
        total = 0
        for pid in pids:
            hwm = _status_kib(pid, "VmHWM")
            rss = _status_kib(pid, "VmRSS")
            if hwm is not None:
                self.peak_bytes = max(self.peak_bytes, hwm * 1024)
            total += (rss or 0) * 1024
        self.peak_total_bytes = max(self.peak_total_bytes, total)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()


def rss_bytes(pid: int) -> int:
    return (_status_kib(pid, "VmRSS") or 0) * 1024


class Server:
    """One ``bastion serve`` process (``workers`` uvicorn workers) on a free port."""

    def __init__(
        self,
        data_dir: Path,
        database_url: str | None = None,
        *,
        workers: int = 1,
        name: str = "server",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.database_url = database_url
        self.workers = workers
        self.name = name
        self.extra_env = extra_env or {}
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir / f"{name}.log"
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, *, timeout: float = 120) -> float:
        """Spawn and wait for /healthz 200; returns the seconds that took."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        env = server_env(self.data_dir, self.database_url, **self.extra_env)
        args = [sys.executable, "-m", "bastion.cli", "serve", "--port", str(self.port)]
        if self.workers != 1:
            args += ["--workers", str(self.workers)]
        began = time.perf_counter()
        with self.log_path.open("ab") as sink:
            self.proc = subprocess.Popen(args, env=env, stdout=sink, stderr=subprocess.STDOUT)
        self.starts += 1
        deadline = began + timeout
        with httpx.Client(timeout=2) as http:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited ({self.proc.returncode}): {self.log_tail()}")
                try:
                    if http.get(self.url + "/healthz").status_code == 200:
                        return time.perf_counter() - began
                except httpx.HTTPError:
                    pass
                if time.perf_counter() > deadline:
                    self.kill()
                    raise RuntimeError(f"{self.name} did not answer /healthz in {timeout} s: {self.log_tail()}")
                time.sleep(0.02)

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except FileNotFoundError:
            return ""

    def kill(self) -> None:
        """SIGKILL the server (and, with several workers, the whole process group's workers)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for child in _children(self.proc.pid):
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.kill()
        self.proc.wait()

    def stop(self, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


APP_ROLE = "bastion_app"

_CREATE_ROLE = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
    CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- another process made it first
END $$
"""


def ensure_app_role(admin_url: str, role: str = APP_ROLE) -> None:
    """The application's ordinary role (docs/security.md: ``createuser bastion_app``), made if missing.

    Safe when several processes start at once. A role of that name that is a
    superuser, bypasses row-level security or creates databases is refused: the
    tests and benchmarks would then prove nothing about row-level security.
    """
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(_CREATE_ROLE.format(role=role))
        flags = conn.execute(
            "SELECT rolsuper, rolbypassrls, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname = %s", (role,)
        ).fetchone()
    if flags != (False, False, False, True):
        raise RuntimeError(
            f"PostgreSQL role {role} must be an ordinary login role (no superuser, no BYPASSRLS, "
            f"no CREATEDB); it has rolsuper, rolbypassrls, rolcreatedb, rolcanlogin = {flags}"
        )


def as_role(url: str, role: str) -> str:
    """The same database URL, connecting as another role (trust auth: no password)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(username=role, password=None).render_as_string(hide_password=False)


def init_database(owner_url: str, role: str = APP_ROLE) -> str:
    """Migrate a database as its owner and grant ``role`` data access — the documented
    ``bastion init --app-role`` itself, in a subprocess. Returns the URL to connect as ``role``."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bastion-init-") as data:  # init's keyring: not needed after
        bastion_cli(server_env(Path(data), owner_url), "init", "--app-role", role)
    return as_role(owner_url, role)


@contextmanager
def postgres_database(prefix: str = "bastion_bench", admin_url: str = PG_ADMIN):
    """Yield the app role's URL of a fresh database, set up as documented; drop it afterwards."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    ensure_app_role(admin_url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield init_database(admin_url.rsplit("/", 1)[0] + "/" + name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
