"""``bastion trace``: leaked text traced back to the people who were shown it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._options import AsJson
from ._output import listing, out, print_json, print_table
from ._runtime import context, runtime
from ..domain.errors import InvalidInput
from ..services import tracing


def trace_(
    project_id: str,
    files: Annotated[list[Path], typer.Argument(help="Leaked text files; several pool their evidence.")],
    alpha: Annotated[
        float,
        typer.Option(
            "--alpha", help="Name someone only if an innocent would match this well with a lower probability."
        ),
    ] = 1e-4,
    as_json: AsJson = False,
):
    """Trace leaked text back to the people who were shown it: a verdict and a ranking."""
    texts = []
    for path in files:
        try:
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            raise InvalidInput(f"{path}: cannot read ({exc.strerror})") from exc
    report = tracing.trace(context(runtime()), project_id, texts, alpha=alpha)
    if as_json:
        print_json(report)
        return
    out.print(f"verdict: {report['verdict']}", highlight=False)
    out.print(report["message"], highlight=False)
    for source in report["sources"]:
        out.print(
            f"source: {files[source['excerpt']]} -> task {source['task_id']} ({source['field']}), "
            f"{source['coverage']:.0%} of the excerpt aligned, {source['recipients']} recipient(s)",
            highlight=False,
        )
    if report["ranking"]:
        table = listing(
            "person", "e-mail", "slots matched", "p (this person)", "p (an innocent does as well)", ids=("person",)
        )
        for row in report["ranking"]:
            table.add_row(
                row["user_id"],
                row["email"] or "",
                f"{row['matched']}/{row['observed']}",
                f"{row['p_value']:.2e}",
                f"{row['p_innocent_as_good']:.2e}",
            )
        print_table(table)
    for match in report["canaries"]:
        out.print(
            f"canary {match['canary_id']}: {match['email'] or match['user_id']} — facts {', '.join(match['facts'])}, "
            f"p={match['p_value']:.2e}{' (identified)' if match['identified'] else ''}",
            highlight=False,
        )
    if report["suspects"]:
        out.print("suspects: " + ", ".join(report["suspects"]), highlight=False)
