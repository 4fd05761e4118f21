"""``bastion model add / list / test / remove`` against tests/model_server.py on 127.0.0.1."""

from __future__ import annotations

import orjson

from bastion.web.api.model_endpoints import EndpointOut, ProbeOut
from model_server import model_server, served  # noqa: F401  (fixtures)


def test_add_list_test_remove(cli, served, monkeypatch):
    cli("init")
    cli("user", "create", "o@example.com")
    ws = cli("workspace", "create", "Client", "--owner", "o@example.com").stdout.strip()
    allow = f"127.0.0.1:{served.port}"
    bad = cli(
        "model",
        "add",
        ws,
        "--name",
        "lab",
        "--base-url",
        "http://other.example/v1",
        "--model",
        "m",
        "--allow",
        allow,
        ok=False,
    )
    assert bad.exit_code != 0 and "not on the allow-list" in bad.stderr and "Traceback" not in bad.stderr
    monkeypatch.setenv("LAB_KEY", "sk-cli-secret")
    made = orjson.loads(
        cli(
            "model",
            "add",
            ws,
            "--name",
            "lab",
            "--base-url",
            served.url(),
            "--model",
            "lab-7b",
            "--allow",
            allow,
            "--api-key-env",
            "LAB_KEY",
            "--json",
        ).stdout
    )
    EndpointOut.model_validate(made)
    assert made["has_api_key"] and made["allowed_hosts"] == [allow]
    listed = cli("model", "list", ws).stdout
    assert made["id"] in listed and "sk-cli-secret" not in listed
    report = ProbeOut.model_validate(orjson.loads(cli("model", "test", made["id"], "--json").stdout))
    assert report.model == "lab-7b" and report.prompt_tokens == 6
    assert served.requests[-1]["headers"]["authorization"] == "Bearer sk-cli-secret"
    assert "removed" in cli("model", "remove", made["id"]).stdout
    assert orjson.loads(cli("model", "list", ws, "--json").stdout) == []
    gone = cli("model", "test", made["id"], ok=False)
    assert gone.exit_code != 0 and "model endpoint not found" in gone.stderr
