"""Client-held keys end to end, on SoftHSM2 with two tokens apart: the operator's (the
deployment's key) and the client's (the key one workspace is bound to).

The client's workspace works through the services (import, annotate, read, export); then
the client destroys its key on its own token, and not one task payload or annotation of
that workspace opens any more — every one refused with the clear error — while the other
workspace, on the deployment's key, goes on as before. The client can also revoke and
restore access (its PIN) without losing anything. Binding is for platform admins, checked
first, and all or nothing.
"""

from __future__ import annotations

import uuid

import orjson
import pytest
from sqlalchemy import select

from bastion.domain.errors import InvalidConfig, PermissionDenied
from bastion.services import annotations, audit, imports, keys, queue, tasks, workspaces
from bastion.services.runtime import Runtime
from bastion.settings import Settings
from bastion.storage import schema
from bastion.storage.crypto import Sealer, key_id_of
from bastion.storage.keyring import KeyUnavailable, data_keys, workspace_keks
from clientkey_support import CLIENT_PIN, OPERATOR_PIN, softhsm  # noqa: F401 (the fixture)
from factories import as_user, make_export, make_side, make_user, operator_tx, system


@pytest.fixture
def hsm_rt(softhsm, tmp_path, database_url, monkeypatch):  # noqa: F811
    """A deployment whose own key is on the operator's token; client keys re-checked at every use."""
    monkeypatch.setenv("OPERATOR_HSM_PIN", OPERATOR_PIN)
    monkeypatch.setenv("CLIENT_HSM_PIN", CLIENT_PIN)
    label = f"deployment-{uuid.uuid4().hex[:8]}"
    softhsm.make_key("operator", OPERATOR_PIN, label)
    config = {"module": softhsm.module, "token_label": "operator", "key_label": label, "pin_env": "OPERATOR_HSM_PIN"}
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        key_provider="pkcs11",
        key_provider_config=orjson.dumps(config).decode(),
        client_key_check_seconds=0,
        pkcs11_modules=softhsm.module,
    )
    runtime = Runtime.open(settings, migrate_schema="never")
    yield runtime
    runtime.close()


def _client_key(softhsm) -> dict:  # noqa: F811
    label = f"client-{uuid.uuid4().hex[:8]}"
    softhsm.make_key("client", CLIENT_PIN, label)
    return {"module": softhsm.module, "token_label": "client", "key_label": label, "pin_env": "CLIENT_HSM_PIN"}


def _sealed(rt, workspace_id: str) -> list[tuple[str, str, str, bytes]]:
    """Every task payload and annotation of the workspace, as stored: (table, id, column, blob)."""
    with operator_tx(rt, write=False) as tx:
        rows = [
            ("tasks", r.id, "payload", r.payload)
            for r in tx.execute(
                select(schema.tasks.c.id, schema.tasks.c.payload).where(schema.tasks.c.workspace_id == workspace_id)
            )
        ]
        rows += [
            ("annotations", r.id, "result", r.result)
            for r in tx.execute(
                select(schema.annotations.c.id, schema.annotations.c.result).where(
                    schema.annotations.c.workspace_id == workspace_id
                )
            )
        ]
    return rows


def _opened(rt, workspace_id: str, rows) -> tuple[int, list[KeyUnavailable]]:
    opened, refused = 0, []
    for table, record_id, column, blob in rows:
        try:
            Sealer(rt.keyring, workspace_id, key_id_of(blob)).open(table, record_id, column, blob)
            opened += 1
        except KeyUnavailable as exc:
            refused.append(exc)
    return opened, refused


def _texts(rt, project_id: str) -> list[str]:
    return sorted(t["data"]["text"] for t in tasks.list_tasks(system(rt), project_id)["items"])


def test_a_workspace_on_the_clients_hsm_key_then_the_client_destroys_it(hsm_rt, softhsm):  # noqa: F811
    rt = hsm_rt
    client, other = make_side(rt, "cl", n_tasks=3), make_side(rt, "op", n_tasks=3)
    config = _client_key(softhsm)

    done = keys.bind_client_key(system(rt), client.workspace_id, "pkcs11", config)
    assert done["keys"] >= 1 and done["kek"].startswith("pkcs11:")
    with rt.keyring.engine.connect() as conn:
        wrapped_by = dict(conn.execute(select(data_keys.c.workspace_id, data_keys.c.provider)).all())
        stored = conn.execute(select(workspace_keks.c.config)).scalar_one()
    assert wrapped_by == {client.workspace_id: "client:pkcs11", other.workspace_id: "pkcs11"}
    assert orjson.loads(stored) == config and CLIENT_PIN not in stored  # the PIN is named, never kept
    status = {row["workspace"]: row for row in keys.key_status(system(rt))}
    assert status[client.workspace_id]["holder"] == "client" and status[other.workspace_id]["holder"] == "deployment"
    entries = audit.list_entries(system(rt), client.workspace_id, limit=500)["items"]
    bound = [e for e in entries if e["action"] == "keys.client_key_bound"]
    assert len(bound) == 1 and bound[0]["details"]["kek"] == done["kek"]

    # End to end on the client's key: import, annotate, read back, export.
    imports.import_tasks(system(rt), client.project_id, [(1, {"data": {"text": "cl new"}})])
    annotator = client.ctx(rt, "annotator")
    task = queue.next_task(annotator, client.project_id)
    annotations.submit_annotation(annotator, task["id"], {"label": "pos"})
    assert _texts(rt, client.project_id) == ["cl 0", "cl 1", "cl 2", "cl new"]
    export_id = make_export(system(rt), client.project_id)
    assert export_id.startswith("exp_")
    rows = _sealed(rt, client.workspace_id)
    assert len(rows) == 5 and _opened(rt, client.workspace_id, rows) == (5, [])

    # The client destroys its key on its own token. The next use finds out (the check is every use here).
    softhsm.destroy_key("client", CLIENT_PIN, config["key_label"])
    opened, refused = _opened(rt, client.workspace_id, rows)
    assert opened == 0 and len(refused) == len(rows) == 5
    assert {(e.code, e.reason) for e in refused} == {("key_unavailable", "destroyed")}
    assert "unreadable for good" in refused[0].message and config["key_label"] in refused[0].message
    for read in (
        lambda: tasks.list_tasks(system(rt), client.project_id),
        lambda: make_export(system(rt), client.project_id),
    ):
        with pytest.raises(KeyUnavailable, match="destroyed"):
            read()
    # Writes fail before anything is acknowledged: no task, no annotation is written.
    with pytest.raises(KeyUnavailable):
        imports.import_tasks(system(rt), client.project_id, [(1, {"data": {"text": "after"}})])
    with pytest.raises(KeyUnavailable):
        queue.next_task(annotator, client.project_id)  # handing out a task shows its content
    with operator_tx(rt, write=False) as tx:
        leased = (
            tx.execute(
                select(schema.tasks.c.id).where(
                    schema.tasks.c.workspace_id == client.workspace_id, schema.tasks.c.id != task["id"]
                )
            )
            .scalars()
            .first()
        )
    with pytest.raises(KeyUnavailable):
        annotations.submit_annotation(client.ctx(rt, "owner"), leased, {"label": "neg"})
    assert len(_sealed(rt, client.workspace_id)) == 5

    # The other workspace, on the deployment's key, is untouched.
    other_annotator = other.ctx(rt, "annotator")
    mine = queue.next_task(other_annotator, other.project_id)
    annotations.submit_annotation(other_annotator, mine["id"], {"label": "neg"})
    assert _texts(rt, other.project_id) == ["op 0", "op 1", "op 2"]
    other_rows = _sealed(rt, other.workspace_id)
    assert _opened(rt, other.workspace_id, other_rows) == (len(other_rows), []) and len(other_rows) == 4
    # Rotating the deployment's key leaves the client's keys to the client.
    assert rt.keyring.check() >= 1


def test_the_client_revokes_and_restores_access_and_nothing_is_lost(hsm_rt, softhsm, monkeypatch):  # noqa: F811
    rt = hsm_rt
    side = make_side(rt, "rv", n_tasks=2)
    keys.bind_client_key(system(rt), side.workspace_id, "pkcs11", _client_key(softhsm))
    assert _texts(rt, side.project_id) == ["rv 0", "rv 1"]
    monkeypatch.setenv("CLIENT_HSM_PIN", "not-the-pin")  # the client stops giving Bastion its PIN
    with pytest.raises(KeyUnavailable, match="refused the key.*restores access") as caught:
        tasks.list_tasks(system(rt), side.project_id)
    assert caught.value.reason == "refused"
    monkeypatch.setenv("CLIENT_HSM_PIN", CLIENT_PIN)
    assert _texts(rt, side.project_id) == ["rv 0", "rv 1"]
    # Back onto the deployment's key: audited, and readable without the client's token.
    assert keys.unbind_client_key(system(rt), side.workspace_id)["keys"] >= 1
    monkeypatch.setenv("CLIENT_HSM_PIN", "not-the-pin")
    assert _texts(rt, side.project_id) == ["rv 0", "rv 1"]
    actions = [e["action"] for e in audit.list_entries(system(rt), side.workspace_id, limit=500)["items"]]
    assert actions.count("keys.client_key_bound") == 1 and actions.count("keys.client_key_unbound") == 1


def test_binding_is_for_platform_admins_and_all_or_nothing(hsm_rt, softhsm):  # noqa: F811
    rt = hsm_rt
    side = make_side(rt, "bd", n_tasks=1)
    config = _client_key(softhsm)
    with rt.keyring.engine.connect() as conn:
        before = conn.execute(select(data_keys.c.id, data_keys.c.wrapped).order_by(data_keys.c.id)).all()
    for role in ("owner", "manager"):
        with pytest.raises(PermissionDenied):
            keys.bind_client_key(side.ctx(rt, role), side.workspace_id, "pkcs11", config)
    with pytest.raises(PermissionDenied):
        keys.key_status(side.ctx(rt, "owner"))
    with pytest.raises(InvalidConfig, match="config.key_label: required"):
        keys.bind_client_key(
            system(rt), side.workspace_id, "pkcs11", {k: v for k, v in config.items() if k != "key_label"}
        )
    with pytest.raises(InvalidConfig, match="config: not valid JSON"):
        keys.bind_client_key(system(rt), side.workspace_id, "pkcs11", "{nope")
    with pytest.raises(KeyUnavailable, match="destroyed: no AES key labelled 'missing'"):
        keys.bind_client_key(system(rt), side.workspace_id, "pkcs11", {**config, "key_label": "missing"})
    with rt.keyring.engine.connect() as conn:
        assert conn.execute(select(data_keys.c.id, data_keys.c.wrapped).order_by(data_keys.c.id)).all() == before
        assert conn.execute(select(workspace_keks)).all() == []
    # A platform admin who is no member of the workspace binds it, to a PKCS#11 library the operator allows.
    admin = make_user(rt, "keys-admin@example.com", admin=True)
    with pytest.raises(PermissionDenied, match="config.module: not one of the PKCS#11 libraries"):
        keys.bind_client_key(
            as_user(rt, admin.id, is_admin=True), side.workspace_id, "pkcs11", {**config, "module": "/tmp/evil.so"}
        )
    assert keys.bind_client_key(as_user(rt, admin.id, is_admin=True), side.workspace_id, "pkcs11", config)["keys"] >= 1
    assert _texts(rt, side.project_id) == ["bd 0"]
    # Deleting the workspace destroys its keys and its binding with them.
    workspaces.delete_workspace(system(rt), side.workspace_id)
    with rt.keyring.engine.connect() as conn:
        assert conn.execute(select(workspace_keks)).all() == []
    assert rt.keyring.binding(side.workspace_id) is None


def test_the_api_answers_503_key_unavailable_and_writes_nothing(hsm_rt, softhsm):  # noqa: F811
    from starlette.testclient import TestClient

    from bastion.web.app import create_app

    rt = hsm_rt
    side = make_side(rt, "api", n_tasks=2)
    config = _client_key(softhsm)
    keys.bind_client_key(system(rt), side.workspace_id, "pkcs11", config)
    with TestClient(create_app(rt), raise_server_exceptions=False) as http:
        url = f"/api/v1/projects/{side.project_id}/tasks"
        assert http.get(url, headers=side.headers("owner")).status_code == 200
        softhsm.destroy_key("client", CLIENT_PIN, config["key_label"])
        answer = http.get(url, headers=side.headers("owner"))
        assert answer.status_code == 503
        error = answer.json()["error"]
        assert error["code"] == "key_unavailable" and error["details"] == {"provider": "pkcs11", "reason": "destroyed"}
        assert "nothing was written" in error["message"]
        posted = http.post(url, headers=side.headers("owner"), json=[{"data": {"text": "late"}}])
        assert posted.status_code == 503 and posted.json()["error"]["code"] == "key_unavailable"
    assert len(_sealed(rt, side.workspace_id)) == 2
