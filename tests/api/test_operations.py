"""Operations' endpoints and middleware: /metrics, /readyz, request ids, trusted proxies, rate limits."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import uuid

import pytest
from starlette.testclient import TestClient

from bastion.services.runtime import Runtime
from bastion.storage.database import Database
from bastion.storage.keyproviders import FileKeyProvider
from bastion.web.app import create_app
from environment import IN_CI, make_settings
from factories import make_side

LOCAL = ("127.0.0.1", 40000)
OUTSIDE = ("203.0.113.7", 40000)


@pytest.fixture
def sqlite_settings(tmp_path, sqlite_template):
    import shutil

    target = tmp_path / "data" / "bastion.db"
    target.parent.mkdir(parents=True)
    shutil.copy(sqlite_template, target)
    return lambda **extra: make_settings(tmp_path, f"sqlite:///{target}", **extra)


@pytest.fixture
def open_rt(sqlite_settings):
    opened = []

    def open_(**extra):
        rt = Runtime.open(sqlite_settings(**extra), migrate_schema="never")
        opened.append(rt)
        return rt

    yield open_
    for rt in opened:
        rt.close()


def _client(rt, client=LOCAL):
    """A client of the runtime's app (made once per runtime) from the address ``client``."""
    if not hasattr(rt, "_test_app"):
        rt._test_app = create_app(rt)
    return TestClient(rt._test_app, client=client, raise_server_exceptions=False)


def _sample(text: str, name: str, **labels) -> float | None:
    """The value of one sample, read by Prometheus' own text-format parser (None when absent).

    The parser refuses what a Prometheus server would refuse (a malformed line, a bad escape),
    so every scrape a test reads is also a well-formed exposition.
    """
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


# -- /metrics -------------------------------------------------------------------------------------


def test_metrics_answer_loopback_clients_only_when_no_token_is_set(open_rt):
    rt = open_rt()
    assert _client(rt, LOCAL).get("/metrics").status_code == 200
    outside = _client(rt, OUTSIDE).get("/metrics")
    assert outside.status_code == 403 and outside.json()["error"]["code"] == "forbidden"
    # A proxy on this machine makes every request loopback: a forwarded one is refused.
    assert _client(rt, LOCAL).get("/metrics", headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 403
    assert _client(rt, LOCAL).get("/metrics", headers={"Forwarded": "for=198.51.100.1"}).status_code == 403


def test_metrics_with_a_token_answer_only_that_token_from_anywhere(open_rt):
    rt = open_rt(metrics_token="scrape-secret")
    with _client(rt, OUTSIDE) as http:
        assert http.get("/metrics", headers={"Authorization": "Bearer scrape-secret"}).status_code == 200
        for headers in ({}, {"Authorization": "Bearer scrape-secre"}, {"Authorization": "Basic scrape-secret"}):
            r = http.get("/metrics", headers=headers)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", headers
    assert _client(rt, LOCAL).get("/metrics").status_code == 401  # the token is required from loopback too


def test_metrics_report_the_database_and_this_process_by_ids_and_templates(open_rt):
    rt = open_rt()
    side = make_side(rt, "mx", n_tasks=4)
    manager, annotator = side.headers("manager"), side.headers("annotator")
    with _client(rt) as http:
        before = http.get("/metrics").text
        r = http.post(
            f"/api/v1/projects/{side.project_id}/tasks",
            content=b'{"data": {"text": "a"}}\n{"data": {"text": "b"}}\n{"nope": 1}\n',
            headers={**manager, "Content-Type": "application/x-ndjson"},
        )
        assert r.json()["imported"] == 2
        task = http.post(f"/api/v1/projects/{side.project_id}/next", headers=annotator).json()
        http.post(f"/api/v1/tasks/{task['id']}/annotations", headers=annotator, json={"result": {"label": "pos"}})
        http.post(f"/api/v1/projects/{side.project_id}/next", headers=annotator)  # a lease held
        exported = http.get(f"/api/v1/projects/{side.project_id}/export", params={"format": "jsonl"}, headers=manager)
        assert exported.status_code == 200
        http.get("/api/v1/workspaces", headers={"Authorization": "Bearer bst_not_a_token"})
        after = http.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text

    def delta(name, **labels):
        return (_sample(text, name, **labels) or 0) - (_sample(before, name, **labels) or 0)

    assert delta("bastion_import_rows_total", outcome="imported") == 2
    assert delta("bastion_import_rows_total", outcome="rejected") == 1
    assert delta("bastion_export_rows_total", format="jsonl") == exported.text.count("\n")
    assert delta("bastion_auth_failures_total", kind="token") == 1
    ids = {"workspace_id": side.workspace_id, "project_id": side.project_id}
    assert _sample(text, "bastion_queue_open_tasks", **ids) == 5  # 4 + 2 imported, 1 annotated (overlap 1)
    assert _sample(text, "bastion_queue_live_leases", **ids) == 1
    assert _sample(text, "bastion_audit_log_entries", workspace_id=side.workspace_id) > 0
    assert _sample(text, "bastion_database_up") == 1
    template = "/api/v1/tasks/{task_id}/annotations"
    assert (
        _sample(text, "bastion_http_request_duration_seconds_count", route=template, method="POST", status="2xx") >= 1
    )
    # Ids are label values only as workspace_id/project_id: never inside a route, never a name.
    assert task["id"] not in text and side.project_id not in "".join(re.findall(r'route="[^"]*"', text))
    assert "Project mx" not in text and "Workspace mx" not in text


def test_the_database_gauges_say_so_when_the_database_is_down(open_rt):
    rt = open_rt()
    rt.db = Database("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    text = _client(rt).get("/metrics").text
    assert _sample(text, "bastion_database_up") == 0
    assert "bastion_http_request_duration_seconds" in text  # the process's own figures still answer


def test_several_processes_add_up_in_multiprocess_mode(tmp_path):
    """PROMETHEUS_MULTIPROC_DIR: each worker writes its counts; a scrape of any sums them all."""
    script = textwrap.dedent(
        """
        import os, sys
        from bastion.services import telemetry
        telemetry.count_import(3, 0, 1)
        pid = os.fork()
        if pid == 0:
            telemetry.count_import(4, 0, 0)
            os._exit(0)
        os.waitpid(pid, 0)
        from prometheus_client import CollectorRegistry
        body, _ = telemetry.render_metrics(CollectorRegistry())
        sys.stdout.write(body.decode())
        """
    )
    folder = tmp_path / "prom"
    folder.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(folder), "PYTHONPATH": ":".join(sys.path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert _sample(done.stdout, "bastion_import_rows_total", outcome="imported") == 7
    assert _sample(done.stdout, "bastion_import_rows_total", outcome="rejected") == 1


# -- /readyz --------------------------------------------------------------------------------------


def test_ready_when_the_database_and_key_provider_work(open_rt):
    rt = open_rt()
    with _client(rt, OUTSIDE) as http:
        r = http.get("/readyz")
        assert r.status_code == 200
        assert r.json() == {"status": "ok", "checks": {"database": "ok", "key_provider": "ok"}}
        assert http.get("/healthz").status_code == 200


def test_not_ready_names_the_key_provider_that_cannot_unwrap(open_rt):
    rt = open_rt()
    _client(rt).get("/readyz")  # the probe secret exists, wrapped by the right key
    rt.keyring.provider = FileKeyProvider.from_hex("22" * 32)  # a key that does not open the keyring
    r = _client(rt).get("/readyz")
    assert r.status_code == 503
    assert r.json()["status"] == "unavailable"
    assert r.json()["checks"]["database"] == "ok"
    assert r.json()["checks"]["key_provider"].startswith("down: ")


def test_not_ready_names_the_database_that_does_not_answer(open_rt):
    rt = open_rt()
    rt.db = Database("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    r = _client(rt).get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": "down: OperationalError", "key_provider": "ok"}


def test_operations_endpoints_are_outside_the_api_document(open_rt):
    paths = _client(open_rt()).get("/api/v1/openapi.json").json()["paths"]
    assert "/readyz" not in paths and "/metrics" not in paths


# -- request ids, client addresses ----------------------------------------------------------------


def test_every_answer_carries_a_request_id_and_a_sane_one_is_kept(open_rt):
    rt = open_rt()
    with _client(rt) as http:
        ids = {http.get("/healthz").headers["x-request-id"] for _ in range(3)}
        assert len(ids) == 3 and all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids)
        assert http.get("/healthz", headers={"X-Request-ID": "lb-7f3a.9:2"}).headers["x-request-id"] == "lb-7f3a.9:2"
        for insane in ("a b", "x" * 129, "<script>", "a/b"):
            kept = http.get("/api/v1/nothing", headers={"X-Request-ID": insane}).headers["x-request-id"]
            assert kept != insane and re.fullmatch(r"[0-9a-f]{24}", kept)


def test_forwarded_for_is_believed_only_from_trusted_proxies(open_rt):
    from bastion.web.observability import forwarded_client, parse_networks

    trusted = parse_networks("10.0.0.0/8, 127.0.0.1")
    assert forwarded_client("10.1.2.3", b"198.51.100.4", trusted) == "198.51.100.4"
    assert forwarded_client("10.1.2.3", b"6.6.6.6, 198.51.100.4, 10.9.9.9", trusted) == "198.51.100.4"
    assert forwarded_client("203.0.113.1", b"198.51.100.4", trusted) == "203.0.113.1"  # not a proxy of ours
    assert forwarded_client("10.1.2.3", b"garbage, 10.2.2.2", trusted) == "10.2.2.2"
    rt = open_rt(trusted_proxies="127.0.0.1", rate_limit_address="2/minute")
    with _client(rt) as http:  # through the trusted proxy: counted per client behind it
        assert [http.get("/api/v1/x", headers={"X-Forwarded-For": "198.51.100.4"}).status_code for _ in range(3)] == [
            404,
            404,
            429,
        ]
        assert http.get("/api/v1/x", headers={"X-Forwarded-For": "198.51.100.5"}).status_code == 404
    with pytest.raises(Exception, match="BASTION_TRUSTED_PROXIES"):
        create_app(open_rt(trusted_proxies="10.0.0.0/8, proxy.example"))


# -- rate limits ----------------------------------------------------------------------------------


def test_tokens_over_their_rate_get_429_with_retry_after(open_rt):
    rt = open_rt(rate_limit_token="3/minute")
    side = make_side(rt, "rl", n_tasks=1)
    with _client(rt) as http:
        codes = [http.get("/api/v1/workspaces", headers=side.headers("manager")).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        r = http.get("/api/v1/workspaces", headers=side.headers("manager"))
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limited" and "API token" in r.json()["error"]["message"]
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert r.headers["x-request-id"] and r.headers["x-content-type-options"] == "nosniff"
        assert http.get("/api/v1/workspaces", headers=side.headers("owner")).status_code == 200  # another token
        # Operations' endpoints and pages are not limited.
        for path in ("/healthz", "/readyz", "/metrics", "/login"):
            assert http.get(path, headers=side.headers("manager")).status_code == 200, path


def test_bad_rate_settings_stop_the_start_with_the_setting_named(open_rt):
    with pytest.raises(Exception, match="BASTION_RATE_LIMIT_TOKEN"):
        create_app(open_rt(rate_limit_token="lots"))
    with pytest.raises(Exception, match="BASTION_RATE_LIMIT_STORAGE"):
        create_app(open_rt(rate_limit_address="5/second", rate_limit_storage="carrier-pigeon://"))


def _redis_url() -> str | None:
    try:
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_timeout=1).ping()
        return "redis://127.0.0.1:6379/15"
    except Exception:
        return None


def test_processes_sharing_redis_share_the_counts(open_rt):
    url = _redis_url()
    if url is None:
        if IN_CI:
            pytest.fail("redis-server on 127.0.0.1:6379 is needed under CI (.ci/run installs it)")
        pytest.skip("no redis-server on 127.0.0.1:6379")
    address = f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"  # apart from an earlier run's counts
    first = _client(open_rt(rate_limit_address="3/minute", rate_limit_storage=url), (address, 1))
    second = _client(open_rt(rate_limit_address="3/minute", rate_limit_storage=url), (address, 2))
    codes = [c.get("/api/v1/x").status_code for c in (first, second, first, second)]
    assert codes == [404, 404, 404, 429]
