"""``bastion webhook add / list / deliveries / replay / remove``: the secret printed once, clear errors."""

from __future__ import annotations

import orjson
import pytest

from bastion.web.api.webhooks import WebhookMade, WebhookOut


@pytest.mark.parametrize("db_kind", ["sqlite"])  # the services tests cover PostgreSQL
def test_add_list_deliveries_replay_remove(cli):
    cli("init")
    cli("user", "create", "o@example.com")
    ws = cli("workspace", "create", "Client", "--owner", "o@example.com").stdout.strip()
    args = ("webhook", "add", ws, "--url", "http://127.0.0.1:9/hook", "--event", "task.completed")
    bad = cli(*args, "--allow", "127.0.0.2:9", ok=False)
    assert bad.exit_code != 0 and "not on the allow-list" in bad.stderr and "Traceback" not in bad.stderr
    unknown = cli(*args, "--event", "task.deleted", "--allow", "127.0.0.1:9", ok=False)
    assert "task.deleted" in unknown.stderr and "Traceback" not in unknown.stderr
    made = WebhookMade.model_validate(orjson.loads(cli(*args, "--allow", "127.0.0.1:9", "--json").stdout))
    assert made.secret.startswith("whsec_")
    listed = cli("webhook", "list", ws, "--json").stdout
    assert "whsec_" not in listed and WebhookOut.model_validate(orjson.loads(listed)[0]).id == made.id
    assert made.id in cli("webhook", "list", ws).stdout
    assert orjson.loads(cli("webhook", "deliveries", made.id, "--json").stdout) == []
    assert "dead" in cli("webhook", "deliveries", made.id, "--state", "lost", ok=False).stderr
    assert "replaying 0" in cli("webhook", "replay", made.id).stdout
    missing = cli("webhook", "replay", made.id, "whd_nothing", ok=False)
    assert "delivery not found" in missing.stderr and "Traceback" not in missing.stderr
    assert f"removed {made.id}" in cli("webhook", "remove", made.id).stdout
    assert "webhook not found" in cli("webhook", "remove", made.id, ok=False).stderr
