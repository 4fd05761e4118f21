"""Options several command groups declare alike."""

from __future__ import annotations

from typing import Annotated

import typer

Approval = Annotated[
    str | None,
    typer.Option(
        "--approval", help="A two-person approval (apr_…) to use and link in the log (the local operator needs none)."
    ),
]

AsJson = Annotated[
    bool, typer.Option("--json", help="Print one JSON document, shaped as the API answers it (messages go to stderr).")
]
