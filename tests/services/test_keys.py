"""Key operations: master key rotation (file, injected, passphrase), new data keys, re-encryption."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from bastion.services import annotations, keys, projects, queue, tasks
from bastion.services.runtime import Runtime
from bastion.settings import Settings
from bastion.storage import schema
from bastion.storage.crypto import key_id_of
from bastion.storage.keyproviders import KeyProviderError
from factories import make_side, operator_tx, system


@pytest.fixture
def file_rt(tmp_path, database_url):
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    runtime = Runtime.open(settings, migrate_schema="always")  # creates master.key
    yield runtime
    runtime.close()


def _first_task(rt, project_id):
    page = tasks.list_tasks(system(rt), project_id, limit=1)
    return page["items"][0]


def test_rotating_the_master_key_file(file_rt, tmp_path):
    side = make_side(file_rt, "rot", n_tasks=2)
    key_file = tmp_path / "data" / "master.key"
    old = key_file.read_text()
    before = _first_task(file_rt, side.project_id)
    assert keys.rotate_master_key(system(file_rt)) >= 1
    assert key_file.read_text() != old and not (tmp_path / "data" / "master.key.next").exists()
    reopened = Runtime.open(file_rt.settings, migrate_schema="never")
    assert _first_task(reopened, side.project_id) == before
    reopened.close()
    # The old master key no longer opens the keyring.
    stale = Runtime.open(
        Settings(data_dir=tmp_path / "data", database_url=file_rt.settings.database_url, master_key=old.strip()),
        migrate_schema="never",
    )
    with pytest.raises(KeyProviderError):
        stale.keyring.check()
    stale.close()


def test_an_interrupted_rotation_is_finished_at_start(file_rt, tmp_path):
    side = make_side(file_rt, "crash", n_tasks=1)
    key_file = tmp_path / "data" / "master.key"
    pending = tmp_path / "data" / "master.key.next"
    from bastion.storage.keyproviders import FileKeyProvider

    new = secrets.token_hex(32)
    pending.write_text(new)
    file_rt.keyring.rewrap(FileKeyProvider.from_hex(new))  # crash before the rename
    reopened = Runtime.open(file_rt.settings, migrate_schema="never")
    assert key_file.read_text().strip() == new and not pending.exists()
    assert _first_task(reopened, side.project_id)["data"] == {"text": "crash 0"}
    reopened.close()


def test_injected_and_passphrase_keys_rotate(rt, tmp_path, database_url):
    side = make_side(rt, "inj", n_tasks=1)
    with pytest.raises(Exception, match="BASTION_MASTER_KEY"):
        keys.rotate_master_key(system(rt))
    new = secrets.token_hex(32)
    keys.rotate_master_key(system(rt), new_master_key=new)
    reopened = Runtime.open(rt.settings.model_copy(update={"master_key": new}), migrate_schema="never")
    assert _first_task(reopened, side.project_id)["data"] == {"text": "inj 0"}
    reopened.close()

    pp = Settings(
        data_dir=tmp_path / "pp",
        database_url=database_url,
        key_provider="passphrase",
        passphrase="first passphrase",
        keyring_url=f"sqlite:///{tmp_path / 'pp-keyring.db'}",
    )
    prt = Runtime.open(pp, migrate_schema="never")
    prt.keyring.create_key("ws_x")
    keys.rotate_master_key(system(prt), new_passphrase="second passphrase")
    prt.close()
    again = Runtime.open(pp.model_copy(update={"passphrase": "second passphrase"}), migrate_schema="never")
    assert again.keyring.check() == 1
    again.close()
    wrong = Runtime.open(pp, migrate_schema="never")
    with pytest.raises(KeyProviderError):
        wrong.keyring.check()
    wrong.close()


def test_new_data_keys_and_reencryption(rt):
    side = make_side(rt, "dk", n_tasks=3)
    ctx = side.ctx(rt, "annotator")
    task = queue.next_task(ctx, side.project_id)
    annotations.submit_annotation(ctx, task["id"], {"label": "pos"})
    old_key = projects.get_project(system(rt), side.project_id).key_id
    with operator_tx(rt, write=False) as tx:
        old_rows = tx.execute(select(schema.tasks.c.id, schema.tasks.c.payload)).all()
    keys.start_new_data_keys(side.ctx(rt, "owner"), side.workspace_id, approval=side.approval(rt, "keys.rotate"))
    new_key = projects.get_project(system(rt), side.project_id).key_id
    assert new_key != old_key
    # Old data still reads (old key kept); new writes use the new key.
    assert _first_task(rt, side.project_id)["data"]["text"].startswith("dk")
    second = queue.next_task(ctx, side.project_id)
    done = annotations.submit_annotation(ctx, second["id"], {"label": "neg"})
    with operator_tx(rt, write=False) as tx:
        blob = tx.execute(select(schema.annotations.c.result).where(schema.annotations.c.id == done["id"])).scalar_one()
    assert key_id_of(blob) == new_key

    result = keys.reencrypt_project(
        side.ctx(rt, "owner"),
        side.project_id,
        approval=side.approval(rt, "keys.reencrypt", {"project": side.project_id}),
    )
    assert result["tasks"] == 3 and result["annotations"] == 1 and result["retired_keys"] == [old_key]
    with operator_tx(rt, write=False) as tx:
        blobs = tx.execute(select(schema.tasks.c.payload)).scalars().all()
    assert {key_id_of(b) for b in blobs} == {new_key}
    rt.keyring.forget_cache()
    export = [t["data"]["text"] for t in tasks.list_tasks(system(rt), side.project_id)["items"]]
    assert export == ["dk 0", "dk 1", "dk 2"]
    # A copy of the rows from before the re-encryption no longer opens.
    from bastion.storage.crypto import Sealer
    from bastion.storage.keyring import KeyDestroyed

    sealer = Sealer(rt.keyring, side.workspace_id, new_key)
    for row in old_rows:
        with pytest.raises(KeyDestroyed):
            sealer.open("tasks", row.id, "payload", row.payload)
