"""``bastion quality``: a project's agreement, accuracy on gold, aggregation and review figures."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer
from rich.table import Table

from ._help import aggregation_methods
from ._output import out
from ._runtime import context, runtime
from ..services import quality


def quality_(
    project_id: str,
    method: Annotated[
        str | None,
        typer.Option(
            "--method",
            help=(f"Aggregation, a method that fits the project's type ({aggregation_methods()}; default: the first)."),
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole report as JSON.")] = False,
):
    """A project's agreement, accuracy on gold, aggregation and throughput."""
    report = quality.quality_report(context(runtime()), project_id, method=method)
    if as_json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return
    agreement = report["agreement"]
    out.print(
        f"[bold]{project_id}[/bold] ({report['task_type']}): {report['annotations']} annotations, "
        f"{report['gold_answers']} gold answers",
        highlight=False,
    )
    out.print(f"agreement: {agreement.get('summary') or agreement.get('note') or agreement['kind']}", highlight=False)
    if "aggregation" in report:
        agg = report["aggregation"]
        figures = (
            (
                f", mean confidence {agg['mean_confidence']}, {agg['low_confidence_tasks']} below 0.7, "
                f"{agg['ties']} ties drawn at random"
            )
            if "mean_confidence" in agg
            else ""
        )
        out.print(f"aggregation ({agg['method']}): {agg['tasks']} tasks{figures}", highlight=False)
    if report["gold_accuracy"]:
        table = Table("annotator", "gold answers", "accuracy", "95% interval")
        for row in report["gold_accuracy"]:
            table.add_row(
                row["email"] or row["user_id"],
                str(row["gold_answers"]),
                f"{row['accuracy']:.2f}",
                f"{row['low']:.2f}–{row['high']:.2f}",
            )
        out.print(table)
    review = report["review"]
    out.print(
        f"review: {review['pending']} pending, {review['accepted']} accepted, {review['rejected']} rejected, "
        f"{review['corrected']} corrected",
        highlight=False,
    )
    for pause in report["pauses"]:
        out.print(f"paused: {pause['email'] or pause['user_id']} — {pause['reason']}", highlight=False)
