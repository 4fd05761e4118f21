"""Key operations: rotate the master key, start new data keys, re-encrypt, retire old keys.

* ``rotate_master_key`` re-wraps every data key (and the audit signing key)
  under a new key-encryption key. No client data is rewritten. For the file
  provider the new key is written to ``master.key.next`` first, then the keyring
  is re-wrapped in one transaction, then the file is renamed over
  ``master.key``; ``Keyring.open`` finishes a rotation a crash interrupted.
* ``start_new_data_keys`` gives each project of a workspace a fresh data key:
  new writes use it, old ciphertexts still open with the old keys (a sealed
  value names its key).
* ``reencrypt_project`` re-seals a project's rows under its current key in
  bounded batches, then destroys the keys no row uses any more.
* ``bind_client_key`` / ``unbind_client_key`` move a workspace's data keys onto a
  key in the client's own key service and back (storage/clientkeys.py): every
  key of the workspace re-wrapped in one keyring transaction. Platform admins only.

Every operation is recorded in the affected workspaces' audit logs.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from . import approvals, search
from .context import Context
from .projects import load_project
from ..access import Action
from ..domain.errors import InvalidInput, NotFound, PermissionDenied
from ..storage import keys_store, search_store, workspaces_store
from ..storage.clientkeys import parse_config
from ..storage.crypto import key_id_of
from ..storage.keyproviders import FileKeyProvider, PassphraseKeyProvider
from ..storage.keyring import set_meta

BATCH = 1000


def _record(ctx: Context, action: str, **details) -> None:
    with ctx.write() as w:
        for workspace_id in workspaces_store.list_workspace_ids(w.tx):
            w.audit(workspace_id, action, None, **details)


def rotate_master_key(ctx: Context, *, new_passphrase: str | None = None, new_master_key: str | None = None) -> int:
    """Re-wrap every data key under a new master key (operator only). Returns keys re-wrapped.

    File provider: a new key file is made — unless the key is injected with
    ``BASTION_MASTER_KEY``, in which case the new key is given (``new_master_key``)
    and the operator updates the injected value afterwards.
    """
    if not ctx.actor.is_system:
        raise InvalidInput("rotating the master key is a local operator command (bastion keys rotate)")
    settings = ctx.rt.settings
    keyring = ctx.rt.keyring
    old_kek = keyring.provider.kek_id
    if settings.key_provider == "passphrase":
        if not new_passphrase:
            raise InvalidInput("the passphrase provider needs the new passphrase")
        salt = os.urandom(16)
        provider = PassphraseKeyProvider(new_passphrase, salt)
        count = keyring.rewrap(provider)
        set_meta(keyring.engine, "scrypt_salt", salt)
    elif settings.key_provider == "file":
        if settings.master_key:
            if not new_master_key:
                raise InvalidInput(
                    "the master key is injected with BASTION_MASTER_KEY: give the new one "
                    "(--new-master-key-stdin), then update BASTION_MASTER_KEY"
                )
            count = keyring.rewrap(FileKeyProvider.from_hex(new_master_key))
            _record(ctx, "keys.master_rotated", previous=old_kek, current=keyring.provider.kek_id, keys=count)
            return count
        path = Path(settings.resolved_master_key_file)
        pending = path.with_name(path.name + ".next")
        new_hex = secrets.token_hex(32)
        fd = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(new_hex + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        count = keyring.rewrap(FileKeyProvider.from_hex(new_hex))
        os.replace(pending, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    else:
        raise InvalidInput(f"key provider {settings.key_provider!r} rotates its key itself; nothing to do here")
    _record(ctx, "keys.master_rotated", previous=old_kek, current=keyring.provider.kek_id, keys=count)
    return count


def start_new_data_keys(
    ctx: Context, workspace_id: str, *, approval: str | None = None, break_glass: str | None = None
) -> list[str]:
    """A fresh data key for every project of the workspace; returns the project ids (two-person approval)."""
    with ctx.write() as r:
        r.access.require(Action.PROJECT_MANAGE, workspace_id)
        approvals.consume(r, "keys.rotate", workspace_id, {}, approval_id=approval, break_glass=break_glass)
        project_ids = keys_store.list_project_ids(r.tx, workspace_id)
    for project_id in project_ids:
        key_id = ctx.rt.keyring.create_key(workspace_id, project_id)
        with ctx.write() as w:
            w.access.require(Action.PROJECT_MANAGE, workspace_id)
            search_store.remember_project_key(w.tx, workspace_id, project_id)  # its index stays findable
            keys_store.set_project_key(w.tx, workspace_id, project_id, key_id)
            w.audit(workspace_id, "keys.data_key_started", project_id, key=key_id)
    return project_ids


def reencrypt_project(
    ctx: Context,
    project_id: str,
    progress: Callable[[int], None] | None = None,
    *,
    approval: str | None = None,
    break_glass: str | None = None,
) -> dict:
    """Re-seal every value of a project under its current key, then destroy unused older keys (two-person approval)."""
    with ctx.write() as r:
        project = load_project(r, project_id, Action.PROJECT_MANAGE)
        approvals.consume(
            r,
            "keys.reencrypt",
            project.workspace_id,
            {"project": project_id},
            approval_id=approval,
            break_glass=break_glass,
        )
    ws, current = project.workspace_id, project.key_id
    counts = {"tasks": 0, "annotations": 0, "config": 0}

    with ctx.write() as w:
        config = keys_store.get_project_config(w.tx, ws, project_id)
        if key_id_of(config) != current:
            sealer = w.sealer(ws, current)
            plain = sealer.open("projects", project_id, "config", config)
            keys_store.set_project_config(w.tx, ws, project_id, sealer.seal("projects", project_id, "config", plain))
            counts["config"] = 1

    def sweep(table: str) -> None:
        after = ""
        while True:
            with ctx.write() as w:
                w.access.require(Action.PROJECT_MANAGE, ws, what="project")
                sealer = w.sealer(ws, current)
                rows = keys_store.list_sealed_rows(w.tx, ws, project_id, table, after=after, limit=BATCH)
                if not rows:
                    return
                for row in rows:
                    values = {
                        column: sealer.seal(table, row.id, column, sealer.open(table, row.id, column, blob))
                        for column, blob in row.values.items()
                        if blob is not None and key_id_of(blob) != current
                    }
                    if values:
                        keys_store.update_sealed_row(w.tx, ws, table, row.id, values)
                        counts[table] += 1
                after = rows[-1].id
            if progress:
                progress(len(rows))

    # Everything sealed with the project's key (keys_store.SEALED_COLUMNS: tasks, annotations, reviews,
    # the redaction records, canaries): an old key is destroyed below, so a table left out would become
    # unreadable.
    for table in keys_store.SEALED_COLUMNS:
        counts.setdefault(table, 0)
        sweep(table)
    # The search index is keyed hashes under the keys it was written with: rebuilt under the current
    # one before the others go, or search would stop finding what they hashed.
    counts["search_reindexed"] = search.reindex_project(ctx, project_id)["tasks"]
    retired = [k["id"] for k in ctx.rt.keyring.keys_of(ws) if k["project_id"] == project_id and k["id"] != current]
    for key_id in retired:
        ctx.rt.keyring.destroy_key(ws, key_id)
    with ctx.write() as w:
        w.audit(ws, "keys.reencrypted", project_id, key=current, retired=retired, **counts)
    return {**counts, "retired_keys": retired}


def _require_admin(ctx: Context, what: str) -> None:
    if not ctx.actor.is_admin:
        raise PermissionDenied(f"{what} is for platform admins")


def _require_workspace(ctx: Context, workspace_id: str) -> None:
    with ctx.read() as r:
        if workspaces_store.find_workspace(r.tx, workspace_id) is None:
            raise NotFound(f"workspace {workspace_id} not found")


def bind_client_key(ctx: Context, workspace_id: str, provider: str, config: dict | str) -> dict:
    """Wrap a workspace's data keys by a key in the client's own key service (platform admins).

    ``config`` is the provider's non-secret config (a dict, or its JSON text): a bad
    field is an ``InvalidConfig`` naming it, and the client's key must wrap and unwrap
    before anything changes. The re-wrap is one keyring transaction; it is audited in
    the workspace's log.
    """
    _require_admin(ctx, "binding a workspace to a client key")
    parsed = parse_config(config) if isinstance(config, str) else config
    if provider == "pkcs11" and not ctx.actor.is_system and isinstance(parsed, dict):
        # Loading a PKCS#11 library runs its code in the server: a platform admin names only the
        # libraries the operator listed; the local operator (the CLI on the server) any.
        allowed = [p for p in ctx.rt.settings.pkcs11_modules.split(":") if p]
        if parsed.get("module") not in allowed:
            raise PermissionDenied(
                "config.module: not one of the PKCS#11 libraries this deployment allows (BASTION_PKCS11_MODULES)"
            )
    _require_workspace(ctx, workspace_id)
    keyring = ctx.rt.keyring
    previous = keyring.binding(workspace_id)
    count = keyring.bind(workspace_id, provider, parsed)
    binding = keyring.binding(workspace_id)
    assert binding is not None
    with ctx.write() as w:
        w.audit(
            workspace_id,
            "keys.client_key_bound",
            None,
            provider=provider,
            config=binding.config,
            kek=binding.kek_id,
            previous=previous.kek_id if previous is not None else keyring.provider.kek_id,
            keys=count,
        )
    return {"workspace": workspace_id, "provider": provider, "kek": binding.kek_id, "keys": count}


def unbind_client_key(ctx: Context, workspace_id: str) -> dict:
    """Wrap a workspace's data keys by the deployment's key again (platform admins); audited."""
    _require_admin(ctx, "unbinding a workspace from its client key")
    _require_workspace(ctx, workspace_id)
    keyring = ctx.rt.keyring
    previous = keyring.binding(workspace_id)
    if previous is None:
        raise InvalidInput(f"workspace {workspace_id} is not bound to a client key")
    count = keyring.unbind(workspace_id)
    with ctx.write() as w:
        w.audit(
            workspace_id,
            "keys.client_key_unbound",
            None,
            provider=previous.provider_name,
            previous=previous.kek_id,
            kek=keyring.provider.kek_id,
            keys=count,
        )
    return {"workspace": workspace_id, "provider": keyring.provider.name, "kek": keyring.provider.kek_id, "keys": count}


def key_status(ctx: Context) -> list[dict]:
    """Each workspace's key provider: its client's (with the non-secret config) or the deployment's."""
    _require_admin(ctx, "the key status")
    with ctx.read() as r:
        workspaces = workspaces_store.list_workspaces(r.tx, None)
    keyring = ctx.rt.keyring
    bindings = keyring.bindings()
    rows = []
    for ws in workspaces:
        binding = bindings.get(ws.id)
        rows.append(
            {
                "workspace": ws.id,
                "name": ws.name,
                "holder": "client" if binding is not None else "deployment",
                "provider": binding.provider_name if binding is not None else keyring.provider.name,
                "kek": binding.kek_id if binding is not None else keyring.provider.kek_id,
                "config": binding.config if binding is not None else None,
                "bound_at": binding.created_at if binding is not None else None,
            }
        )
    return rows
