"""Backups taken under load, with kill -9: of the server during the backup, and of a backup midway.

A real ``bastion serve`` process (``benchmarks/servers.py``) takes a load of
annotation submits from two clients; every one acknowledged with a 201 is recorded
with the time of its answer. Then ``bastion backup`` and ``bastion keys backup``
run as their own processes, and the server is SIGKILLed while they do. Both must
finish. A second ``bastion backup`` and ``bastion keys backup`` are SIGKILLed midway
(the moment their ``.partial`` file appears): no complete-looking archive may be
left, and a re-run must succeed. Finally both archives are restored into an empty
data directory (and, on PostgreSQL, an empty database): every annotation
acknowledged before the backups started must be there and decrypt, and the
restore check must pass. (The re-runs, the restore and the check run in this
process, through the services the commands call: each command's start-up costs a
second on a busy machine.)

On PostgreSQL the server connects as the app role; the backups and the restore run
as the owner (docs/security.md: pg_dump refuses a role row-level security applies to).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from benchmarks import seeding
from benchmarks.servers import MASTER_KEY, Server, server_env
from benchmarks.workload import write_tasks

from bastion.domain.errors import InvalidInput
from bastion.services import backups, keyring_backups, restore_checks
from environment import owner_url

PASSPHRASE = "a passphrase for the keyring backup"
TASKS = 300
ACKS_BEFORE_BACKUP = 60


class Load:
    """Clients looping next + submit; ``acknowledged``: annotation id -> (task id, label, monotonic time)."""

    def __init__(self, url: str, project_id: str, tokens: list[str]) -> None:
        self.url, self.project_id, self.tokens = url, project_id, tokens
        self.acknowledged: dict[str, tuple[str, str, float]] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(t, i), daemon=True) for i, t in enumerate(tokens)]

    def _client(self, token: str, n: int) -> None:
        label = ("billing", "bug", "other")[n % 3]
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
            while not self.stop.is_set():
                try:
                    r = http.post(f"/api/v1/projects/{self.project_id}/next")
                    if r.status_code == 204:
                        return
                    task_id = r.json()["id"]
                    r = http.post(f"/api/v1/tasks/{task_id}/annotations", json={"result": {"label": label}})
                except httpx.HTTPError:
                    return  # the server was killed
                if r.status_code == 201:
                    with self.lock:
                        self.acknowledged[r.json()["id"]] = (task_id, label, time.monotonic())

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, f"only {len(self.acknowledged)} annotations acknowledged"
            time.sleep(0.01)


def _cli(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bastion.cli", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(proc: subprocess.Popen, what: str) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}): {err[-2000:]}"
    return out


def _kill_midway(env: dict[str, str], out: Path, *args: str) -> bool:
    """Start a backup and SIGKILL it the moment its ``.partial`` appears; whether it was caught midway."""
    partial = out.with_name(out.name + ".partial")
    proc = _cli(env, *args, str(out))
    caught = False
    while proc.poll() is None:
        if partial.exists():
            os.kill(proc.pid, signal.SIGKILL)
            caught = True
            break
        time.sleep(0.0005)
    proc.communicate()
    return caught


@pytest.mark.slow
def test_backups_under_load_survive_kill9_and_restore_everything_acknowledged(database_url, db_kind, tmp_path):
    data_dir = tmp_path / "data"
    settings = seeding.settings_for(data_dir, database_url if db_kind == "postgresql" else None)
    rt = seeding.open_runtime(settings)
    try:
        world = seeding.make_world(rt, annotators=2, tag="bk")
        project = seeding.add_project(rt, world, "Load", overlap=1)
        seeding.import_file(rt, project, write_tasks(tmp_path / "tasks.jsonl", TASKS))
    finally:
        rt.close()
    server = Server(data_dir, settings.database_url, name="backup-load")
    # The backups: as the owner on PostgreSQL; the keyring's passphrase from the environment.
    backup_url = owner_url(database_url) if db_kind == "postgresql" else None
    scratch = tmp_path / "tmp"  # the backups' temporary folders: seen there as they start copying
    scratch.mkdir()
    env = server_env(data_dir, backup_url, BASTION_KEYRING_BACKUP_PASSPHRASE=PASSPHRASE, TMPDIR=str(scratch))
    (tmp_path / "data-backups").mkdir()
    (tmp_path / "key-backups").mkdir()
    data_archive = tmp_path / "data-backups" / "data.tar"
    keyring_archive = tmp_path / "key-backups" / "keyring.bkr"
    server.start()
    load = Load(server.url, project, world.annotator_tokens)
    try:
        load.start()
        load.wait_for(ACKS_BEFORE_BACKUP)
        backup_started = time.monotonic()
        data_backup = _cli(env, "backup", str(data_archive))
        keyring_backup = _cli(env, "keys", "backup", str(keyring_archive))
        # The server dies the moment a backup starts copying (its scratch folder appears), under load.
        deadline = time.monotonic() + 60
        while not any(scratch.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.001)
        assert any(scratch.iterdir()), "no backup started copying"
        server.kill()
        _finish(data_backup, "bastion backup")
        _finish(keyring_backup, "bastion keys backup")
    finally:
        load.stop.set()
        server.kill()
    before = {a: v for a, v in load.acknowledged.items() if v[2] < backup_started}
    assert len(before) >= ACKS_BEFORE_BACKUP

    # A backup killed midway leaves no complete-looking archive; a re-run succeeds (both at once).
    again = tmp_path / "data-backups" / "again.tar", tmp_path / "key-backups" / "again.bkr"
    caught: dict[Path, bool] = {}
    threads = [
        threading.Thread(target=lambda: caught.update({again[0]: _kill_midway(env, again[0], "backup")})),
        threading.Thread(target=lambda: caught.update({again[1]: _kill_midway(env, again[1], "keys", "backup")})),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert caught[again[0]]  # the data backup writes for long enough to be caught every time
    for out in again:
        assert not out.exists() if caught[out] else out.exists()
    partial = again[0].with_name(again[0].name + ".partial")
    with pytest.raises(InvalidInput, match="not a Bastion backup"):
        backups.restore(_restored_settings(tmp_path / "never", None), partial)  # not taken for a backup
    assert not (tmp_path / "never" / "bastion.db").exists()
    with _owner_runtime(settings, backup_url) as owner:
        for out in again:
            if out.exists():
                continue
            if out.suffix == ".tar":
                backups.backup(owner, out)
            else:
                keyring_backups.backup_keyring(settings, out, passphrase=PASSPHRASE)
            assert not out.with_name(out.name + ".partial").exists()

    # Restore both into an empty data directory (and an empty database), then check and read back.
    restored_url = None
    if db_kind == "postgresql":
        from environment import pg_admin, pg_url

        name = f"restored_{uuid.uuid4().hex[:10]}"
        pg_admin(f"CREATE DATABASE {name}")
        restored_url = pg_url(name)
    try:
        target = _restored_settings(tmp_path / "restored", restored_url)
        backups.restore(target, data_archive, keyring_archive=keyring_archive, passphrase=PASSPHRASE)
        for data, keys in ((data_archive, keyring_archive), (again[0], again[1])):
            report = restore_checks.check_backup(target, data, keyring_archive=keys, passphrase=PASSPHRASE)
            assert report.ok, report.problems
            assert report.counts["annotations.result"] >= len(before)
        _assert_all_there(target, before)
    finally:
        if restored_url:
            pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _restored_settings(data_dir: Path, database_url: str | None):
    from bastion.settings import Settings

    return Settings(data_dir=data_dir, database_url=database_url, master_key=MASTER_KEY)


@contextmanager
def _owner_runtime(settings, backup_url: str | None):
    from bastion.services.runtime import Runtime

    if backup_url:
        settings = settings.model_copy(update={"database_url": backup_url})
    rt = Runtime.open(settings, migrate_schema="never")
    try:
        yield rt
    finally:
        rt.close()


def _assert_all_there(target, acknowledged: dict) -> None:
    from bastion.services import annotations
    from bastion.services.runtime import Runtime
    from factories import system

    if target.database_url:  # the restored deployment runs as the app role again
        from benchmarks.servers import APP_ROLE, as_role

        target = target.model_copy(update={"database_url": as_role(target.database_url, APP_ROLE)})
    rt = Runtime.open(target, migrate_schema="never")
    try:
        ctx = system(rt)
        by_task: dict[str, dict] = {}
        for annotation_id, (task_id, label, _) in sorted(acknowledged.items()):
            if task_id not in by_task:
                by_task[task_id] = {a["id"]: a["result"] for a in annotations.list_annotations(ctx, task_id)}
            assert by_task[task_id].get(annotation_id) == {"label": label}, f"lost acknowledged {annotation_id}"
    finally:
        rt.close()
