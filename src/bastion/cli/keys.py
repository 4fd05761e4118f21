"""``bastion keys …``: the master key, the workspaces' data keys, client-held keys, and the keyring's sealed
backup (``keys backup``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ._options import AsJson
from ._output import listing, out, print_json, print_table, progress_bar, when
from ._runtime import context, runtime, settings
from ._secrets import PASSPHRASE_ENV, read_passphrase
from ..domain.errors import InvalidInput
from ..services import keys

keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)


@keys_app.command("rotate")
def keys_rotate(
    new_passphrase_stdin: Annotated[
        bool, typer.Option("--new-passphrase-stdin", help="Passphrase provider: read the new passphrase from stdin.")
    ] = False,
    new_master_key_stdin: Annotated[
        bool,
        typer.Option(
            "--new-master-key-stdin", help="Injected master key: read the new key (64 hex digits) from stdin."
        ),
    ] = False,
):
    """Re-wrap every data key under a new master key; client data is not rewritten."""
    secret = sys.stdin.readline().strip() if (new_passphrase_stdin or new_master_key_stdin) else None
    rt = runtime()
    count = keys.rotate_master_key(
        context(rt),
        new_passphrase=secret if new_passphrase_stdin else None,
        new_master_key=secret if new_master_key_stdin else None,
    )
    out.print(f"re-wrapped {count} data key(s) under master key {rt.keyring.provider.kek_id}")


@keys_app.command("new-data-keys")
def keys_new_data_keys(
    workspace_id: str,
    reencrypt: Annotated[
        bool,
        typer.Option("--reencrypt", help="Also re-seal existing data under the new keys and destroy the old ones."),
    ] = False,
):
    """Start new data keys for a workspace's projects (old keys stay for reading, unless --reencrypt)."""
    ctx = context(runtime())
    project_ids = keys.start_new_data_keys(ctx, workspace_id)
    out.print(f"new data keys for {len(project_ids)} project(s)")
    if reencrypt:
        with progress_bar("re-encrypting") as progress:
            bar = progress.add_task("re-encrypt", total=None)
            for project_id in project_ids:
                done = keys.reencrypt_project(ctx, project_id, progress=lambda n: progress.advance(bar, n))
                out.print(
                    f"{project_id}: re-sealed {done['tasks']} task(s), {done['annotations']} annotation(s); "
                    f"destroyed {len(done['retired_keys'])} old key(s)"
                )


@keys_app.command("bind")
def keys_bind(
    workspace_id: str,
    provider: Annotated[
        str, typer.Option("--provider", help="The client's key service: pkcs11, aws-kms, gcp-kms or vault-transit.")
    ],
    config: Annotated[
        str,
        typer.Option(
            "--config",
            help="The provider's non-secret config as a JSON object (secrets are named by *_env or *_file fields).",
        ),
    ],
):
    """Wrap a workspace's data keys by a key in the client's own key service (re-wrapped at once)."""
    done = keys.bind_client_key(context(runtime()), workspace_id, provider, config)
    out.print(f"{workspace_id}: {done['keys']} data key(s) now wrapped by the client's {provider} key {done['kek']}")


@keys_app.command("unbind")
def keys_unbind(workspace_id: str):
    """Wrap a workspace's data keys by the deployment's key again (the client's key must still answer)."""
    done = keys.unbind_client_key(context(runtime()), workspace_id)
    out.print(f"{workspace_id}: {done['keys']} data key(s) now wrapped by the deployment's key {done['kek']}")


@keys_app.command("status")
def keys_status(as_json: AsJson = False):
    """Which key wraps each workspace's data keys: the deployment's, or the client's own."""
    rows = keys.key_status(context(runtime()))
    if as_json:
        print_json(rows)
        return
    table = listing("workspace", "name", "key held by", "provider", "key id", "bound at", ids=("workspace", "key id"))
    for row in rows:
        table.add_row(row["workspace"], row["name"], row["holder"], row["provider"], row["kek"], when(row["bound_at"]))
    print_table(table)


@keys_app.command("backup")
def keys_backup(
    out_file: Path,
    seal: Annotated[
        str,
        typer.Option(
            "--seal",
            help="passphrase: a backup passphrase of its own (scrypt); provider: the deployment's key provider.",
        ),
    ] = "passphrase",
    passphrase_env: Annotated[
        str, typer.Option("--passphrase-env", help="Environment variable holding the backup passphrase.")
    ] = PASSPHRASE_ENV,
):
    """Write a sealed, consistent copy of the keyring (online); never the master key."""
    from ..services import keyring_backups

    if seal not in ("passphrase", "provider"):
        raise InvalidInput(f"--seal: {seal!r} is not one of passphrase, provider")
    passphrase = read_passphrase(passphrase_env, confirm=True) if seal == "passphrase" else None
    manifest = keyring_backups.backup_keyring(settings(), out_file, passphrase=passphrase, seal=seal)
    out.print(
        f"wrote {out_file}: the keyring of deployment {manifest['deployment_id']} ({len(manifest['keys'])} key(s)), "
        f"sealed by {'the key provider' if seal == 'provider' else 'the backup passphrase'}; keep it apart from "
        "the data backups, and the master key apart from both"
    )
