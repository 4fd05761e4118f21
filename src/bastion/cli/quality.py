"""``bastion quality``: a project's agreement, accuracy on gold, aggregation and review figures."""

from __future__ import annotations

from typing import Annotated

from ._choices import aggregation_methods as methods_installed
from ._choices import option_of
from ._help import aggregation_methods
from ._options import AsJson
from ._output import listing, out, print_json, print_table
from ._runtime import context, runtime
from ..services import quality


def quality_(
    project_id: str,
    method: Annotated[
        str | None,
        option_of(
            methods_installed,
            "--method",
            help=f"Aggregation, a method that fits the project's type ({aggregation_methods()}; default: the first).",
        ),
    ] = None,
    as_json: AsJson = False,
):
    """A project's agreement, accuracy on gold, aggregation and throughput."""
    report = quality.quality_report(context(runtime()), project_id, method=method)
    if as_json:
        print_json(report)
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
        table = listing("annotator", "gold answers", "accuracy", "95% interval", ids=("annotator",))
        for row in report["gold_accuracy"]:
            table.add_row(
                row["email"] or row["user_id"],
                str(row["gold_answers"]),
                f"{row['accuracy']:.2f}",
                f"{row['low']:.2f}–{row['high']:.2f}",
            )
        print_table(table)
    review = report["review"]
    out.print(
        f"review: {review['pending']} pending, {review['accepted']} accepted, {review['rejected']} rejected, "
        f"{review['corrected']} corrected",
        highlight=False,
    )
    for pause in report["pauses"]:
        out.print(f"paused: {pause['email'] or pause['user_id']} — {pause['reason']}", highlight=False)
