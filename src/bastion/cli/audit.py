"""``bastion audit …``: the tamper-evident audit log, its signing key, export and verification."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from ._input import read_json
from ._output import err, out
from ._runtime import context, runtime
from ..audit import verify_log
from ..domain.errors import InvalidInput
from ..services import audit

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("public-key")
def audit_public_key():
    """Print the key that signs audit checkpoints (publish it; clients verify with it)."""
    print(audit.public_key(runtime()))


@audit_app.command("export")
def audit_export(
    workspace_id: str,
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the log (JSON Lines).")],
    checkpoint_out: Annotated[
        Path | None, typer.Option("--checkpoint-out", help="Also save the latest signed checkpoint here.")
    ] = None,
    checkpoints_out: Annotated[
        Path | None, typer.Option("--checkpoints-out", help="Also save every signed checkpoint (a JSON list).")
    ] = None,
):
    """Export a workspace's audit log, with its signed checkpoints, for offline verification."""
    ctx = context(runtime())
    latest = audit.latest_checkpoint(ctx, workspace_id)
    tmp = out_file.with_name(out_file.name + ".partial")
    with tmp.open("wb") as fh:
        for chunk in audit.iter_export(ctx, workspace_id):
            fh.write(chunk)
    tmp.replace(out_file)
    if checkpoint_out:
        checkpoint_out.write_bytes(orjson.dumps(latest, option=orjson.OPT_INDENT_2))
    if checkpoints_out:
        checkpoints_out.write_bytes(orjson.dumps(audit.list_checkpoints(ctx, workspace_id), option=orjson.OPT_INDENT_2))
    err.print(f"wrote {out_file} (checkpoint at size {latest['size']})")


@audit_app.command("verify")
def audit_verify(
    workspace_id: Annotated[str | None, typer.Argument(help="Verify this workspace's log on the server.")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="An exported log (JSON Lines) to verify offline.")] = None,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="The signed checkpoint to verify the log against.")
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="File holding the deployment's published key.")
    ] = None,
    previous: Annotated[
        Path | None, typer.Option("--previous", help="A checkpoint you saved earlier: the log must extend it.")
    ] = None,
    checkpoints: Annotated[
        Path | None, typer.Option("--checkpoints", help="More signed checkpoints (JSON list) to locate an edit.")
    ] = None,
    workspace: Annotated[str | None, typer.Option("--workspace", help="The workspace the log must belong to.")] = None,
):
    """Verify an audit log: on the server (WORKSPACE) or offline (--file, public material only)."""
    if file is None:
        if not workspace_id:
            raise InvalidInput("give a WORKSPACE to verify on the server, or --file/--checkpoint/--public-key")
        report, head = audit.verify_stored(context(runtime()), workspace_id)
    else:
        if checkpoint is None or public_key is None:
            raise InvalidInput("--file needs --checkpoint and --public-key")
        key = public_key.read_text().strip()
        extra = read_json(checkpoints, "checkpoints") if checkpoints else []
        # The key's name is the deployment; the origin pins the workspace too.
        origin = f"{key.split('+', 1)[0]}/{workspace}" if workspace else None
        report = verify_log(
            str(file),
            read_json(checkpoint, "checkpoint"),
            key,
            previous_checkpoint=read_json(previous, "previous checkpoint") if previous else None,
            checkpoints=extra,
            origin=origin,
        )
    for problem in report.problems:
        where = (
            f" (line {problem.line})" if problem.line else (f" (seq {problem.seq})" if problem.seq is not None else "")
        )
        colour = "red" if problem.severity == "error" else "yellow"
        err.print(
            f"[{colour}]{problem.severity}[/{colour}] {problem.kind}{where}: {problem.message}",
            markup=True,
            highlight=False,
        )
    if report.ok:
        out.print(f"OK: {report.verified_size} entries verified against signed checkpoints")
    else:
        err.print("[red]FAILED[/red]: the log does not verify")
        raise typer.Exit(1)
