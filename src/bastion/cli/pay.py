"""``bastion pay …``: a workspace's pay statements — list, show, approve, lock, CSV (docs/workforce.md#pay).

Commands run as the local operator (any workspace); rates and settings are set over the API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._output import listing, print_json, print_table, when
from ._runtime import context, runtime
from ..services import pay

pay_app = typer.Typer(help="Pay statements: list, show, approve, lock, CSV.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")]
StatementArg = Annotated[str, typer.Argument(help="The statement (pst_…).")]


def _money(minor, currency) -> str:
    return "" if minor is None else f"{minor} {currency} minor units"


@pay_app.command("list")
def pay_list(
    workspace_id: Annotated[str, typer.Argument(help="The workspace (ws_…).")],
    status: Annotated[str | None, typer.Option("--status", help="Only draft, approved or locked ones.")] = None,
    as_json: JsonOpt = False,
):
    """A workspace's statements by person and period (a draft's total computed now)."""
    found = pay.list_statements(context(runtime()), workspace_id, status=status)
    if as_json:
        print_json(found)
        return
    table = listing("id", "person", "from", "to", "status", "total", ids=("id",))
    for s in found:
        table.add_row(s["id"], s["person"], when(s["period_start"]), when(s["period_end"]), s["status"],
                      _money(s["total"], s["currency"]))  # fmt: skip
    print_table(table)


def _show(statement: dict, as_json: bool) -> None:
    if as_json:
        print_json(statement)
        return
    typer.echo(f"{statement['id']}  {statement['person']}  {when(statement['period_start'])} – "
        f"{when(statement['period_end'])}  {statement['status']}  total {_money(statement['total'], statement['currency'])}")  # fmt: skip


@pay_app.command("show")
def pay_show(statement_id: StatementArg, as_json: JsonOpt = False):
    """One statement with its lines."""
    statement = pay.get_statement(context(runtime()), statement_id)
    _show(statement, as_json)
    if not as_json:
        for line in statement["lines"]:
            typer.echo(
                f"  {line['n']}  {line['kind']}  {line['annotation_id'] or ''}  {line['amount']}  {line['note']}"
            )


@pay_app.command("approve")
def pay_approve(statement_id: StatementArg, as_json: JsonOpt = False):
    """Approve a draft: its lines are frozen."""
    _show(pay.approve_statement(context(runtime()), statement_id), as_json)


@pay_app.command("lock")
def pay_lock(statement_id: StatementArg, as_json: JsonOpt = False):
    """Lock an approved statement: final (corrections go into the next one)."""
    _show(pay.lock_statement(context(runtime()), statement_id), as_json)


@pay_app.command("csv")
def pay_csv(
    statement_id: StatementArg,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")] = None,
):
    """The statement as CSV (one row per line, then a total; formula-safe)."""
    _, text = pay.statement_csv(context(runtime()), statement_id)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
