"""`bastion user deactivate` / `activate` and `bastion scim token …`: what they change takes effect at once."""

from __future__ import annotations

import orjson
import pytest


@pytest.fixture
def db_kind():
    return "sqlite"  # the services behind these commands run on both databases in tests/api/test_deactivation.py


def test_deactivate_and_activate_from_the_command_line(cli):
    cli("init")
    cli("user", "create", "leaver@example.com")
    token = cli("token", "create", "leaver@example.com").stdout.strip()
    assert "leaver@example.com deactivated" in cli("user", "deactivate", "leaver@example.com").stdout
    assert "already deactivated" in cli("user", "deactivate", "leaver@example.com").stdout
    listed = cli("user", "list").stdout
    assert "leaver@example.com" in listed and " no" in listed
    tokens = orjson.loads(cli("token", "list", "leaver@example.com", "--json").stdout)
    assert len(tokens) == 1 and tokens[0]["revoked_at"] is not None and token not in str(tokens)
    assert "leaver@example.com activated" in cli("user", "activate", "leaver@example.com").stdout
    tokens = orjson.loads(cli("token", "list", "leaver@example.com", "--json").stdout)
    assert tokens[0]["revoked_at"] is not None  # reactivation revives no token
    missing = cli("user", "deactivate", "nobody@example.com", ok=False)
    assert missing.exit_code != 0 and "no user with e-mail nobody@example.com" in missing.stderr


def test_scim_tokens_from_the_command_line(cli):
    cli("init")
    secret = cli("scim", "token", "create", "--name", "okta").stdout.strip()
    assert secret.startswith("bscim_") and len(secret) > 40
    [token] = orjson.loads(cli("scim", "token", "list", "--json").stdout)
    assert token["name"] == "okta" and token["revoked_at"] is None and secret not in str(token)
    made = orjson.loads(cli("scim", "token", "create", "--json").stdout)
    assert made["token"].startswith("bscim_") and made["id"] != token["id"]
    assert f"revoked {token['id']}" in cli("scim", "token", "revoke", token["id"]).stdout
    listed = {t["id"]: t for t in orjson.loads(cli("scim", "token", "list", "--json").stdout)}
    assert listed[token["id"]]["revoked_at"] is not None and listed[made["id"]]["revoked_at"] is None
    missing = cli("scim", "token", "revoke", "stk_nope", ok=False)
    assert missing.exit_code == 1 and "SCIM token not found" in missing.stderr
