"""``bastion doctor``: check the deployment's setup; one line a check, non-zero exit on a failure."""

from __future__ import annotations

import typer
from rich.markup import escape

from ._output import out
from ._runtime import settings
from ..services.doctor import run_checks

MARKS = {"ok": "[green]ok  [/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]fail[/red]"}


def doctor():
    """Check permissions, key placement, database settings, clock skew and the key provider; say what to fix."""
    findings = run_checks(settings())
    for finding in findings:
        out.print(f"{MARKS[finding.level]} {finding.check}: {escape(finding.message)}", soft_wrap=True)
    failed = sum(f.level == "fail" for f in findings)
    warned = sum(f.level == "warn" for f in findings)
    out.print(f"{len(findings)} checks: {failed} failed, {warned} warnings")
    if failed:
        raise typer.Exit(1)
