"""``bastion credential add / list / revoke / remind``: as the local operator, clear errors."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from bastion.web.api.credentials import CredentialOut


@pytest.mark.parametrize("db_kind", ["sqlite"])  # the services tests cover PostgreSQL
def test_add_list_revoke_remind(cli):
    cli("init")
    cli("user", "create", "o@example.com")
    cli("user", "create", "a@example.com")
    ws = cli("workspace", "create", "Client", "--owner", "o@example.com").stdout.strip()
    cli("member", "add", ws, "a@example.com", "--role", "annotator")
    soon = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=5)).isoformat()
    base = ("credential", "add", "a@example.com", "--kind", "nda", "--name", "Client NDA", "--issuer", "Client")
    neither = cli(*base, ok=False)
    assert "--workspace" in neither.stderr and "Traceback" not in neither.stderr
    bad = cli(*base, "--workspace", ws, "--expires", "someday", ok=False)
    assert "--expires" in bad.stderr and "Traceback" not in bad.stderr
    made = CredentialOut.model_validate(orjson.loads(cli(*base, "--workspace", ws, "--expires", soon, "--json").stdout))
    assert made.workspace_id == ws and made.state == "valid"
    everywhere = cli(*base, "--all", "--document", "dms://1").stdout
    assert "every workspace" in everywhere
    listed = orjson.loads(cli("credential", "list", "--workspace", ws, "--json").stdout)
    assert {c["scope"] for c in listed} == {"workspace", "all"}
    assert "Client NDA" in cli("credential", "list", "--person", "a@example.com").stdout
    assert "--person" in cli("credential", "list", ok=False).stderr
    assert orjson.loads(cli("credential", "remind", "--json").stdout)["expiring"] == 1  # within 7 days
    assert orjson.loads(cli("credential", "remind", "--json").stdout)["expiring"] == 0  # once
    assert "revoked" in cli("credential", "revoke", made.id).stdout
    again = cli("credential", "revoke", made.id, ok=False)
    assert "already revoked" in again.stderr and "Traceback" not in again.stderr
