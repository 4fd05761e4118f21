"""``bastion keys bind / status / unbind`` against a Vault Transit server on 127.0.0.1 (tests/clientkey_support.py)."""

from __future__ import annotations

import json

import pytest

from clientkey_support import FakeVault


@pytest.fixture
def vault(monkeypatch):
    server = FakeVault(token="s.cli-token")
    monkeypatch.setenv("CLIENT_VAULT_TOKEN", "s.cli-token")
    yield server
    server.close()


def test_bind_status_unbind(cli, vault, tmp_path):
    cli("init")
    cli("user", "create", "o@example.com")
    ws = cli("workspace", "create", "Client", "--owner", "o@example.com").stdout.strip()
    project_config = tmp_path / "config.yaml"
    project_config.write_text("type: classification\nfield: text\nlabels: ['yes', 'no']\n")
    cli("project", "create", ws, "--config", str(project_config))  # its data key is made now
    config = json.dumps({"address": vault.url, "key": "client-ws", "token_env": "CLIENT_VAULT_TOKEN"})

    bad = cli("keys", "bind", ws, "--provider", "vault-transit", "--config", '{"address": 1}', ok=False)
    assert bad.exit_code == 1 and "config.address: must be a non-empty string" in bad.stderr
    assert "Traceback" not in bad.stderr + bad.stdout
    secret = json.dumps({"address": vault.url, "key": "k", "token": "s.cli-token"})
    assert (
        "secrets are never stored"
        in cli("keys", "bind", ws, "--provider", "vault-transit", "--config", secret, ok=False).stderr
    )
    missing = cli("keys", "bind", "ws_nosuch", "--provider", "vault-transit", "--config", config, ok=False)
    assert "workspace ws_nosuch not found" in missing.stderr

    bound = cli("keys", "bind", ws, "--provider", "vault-transit", "--config", config)
    assert "1 data key(s) now wrapped by the client's vault-transit key" in bound.stdout
    assert any(seen.path == "/v1/transit/encrypt/client-ws" for seen in vault.seen)
    status = {row["workspace"]: row for row in json.loads(cli("keys", "status", "--json").stdout)}
    assert status[ws]["holder"] == "client" and status[ws]["provider"] == "vault-transit"
    assert status[ws]["config"] == json.loads(config)
    assert "client" in cli("keys", "status").stdout

    vault.sealed = True  # unbinding needs the client's key to answer: refused, nothing changes
    refused = cli("keys", "unbind", ws, ok=False)
    assert "unreachable" in refused.stderr and "Vault is sealed" in refused.stderr
    assert json.loads(cli("keys", "status", "--json").stdout)[0]["holder"] == "client"
    vault.sealed = False
    assert "1 data key(s) now wrapped by the deployment's key" in cli("keys", "unbind", ws).stdout
    assert json.loads(cli("keys", "status", "--json").stdout)[0]["holder"] == "deployment"
    assert "not bound to a client key" in cli("keys", "unbind", ws, ok=False).stderr
