"""Where commands print: results on stdout, messages and progress on stderr, times as UTC.

Listings print a table (``print_table``) or, with ``--json``, one JSON document
(``print_json``) shaped as the API answers it (``_json.py``). The trap: rich fits a table to the
terminal (80 columns when piped) by cutting or wrapping cells, and a script that reads an id
from the listing then holds half an id; id columns are made ``no_wrap`` and the table is laid
out at least as wide as they need, so an id is always whole on one line.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import orjson
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.segment import Segments
from rich.table import Table

out = Console()
err = Console(stderr=True)


def when(ms: int | None) -> str:
    """A time in epoch milliseconds as ``YYYY-MM-DD HH:MM:SS`` (UTC); empty for None."""
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def listing(*headers: str, ids: tuple[str, ...] = ("id",), **options: Any) -> Table:
    """A table whose columns named in ``ids`` hold ids: never wrapped or cut (``print_table``)."""
    table = Table(**options)
    for header in headers:
        table.add_column(header, no_wrap=header in ids)
    return table


def print_table(table: Table) -> None:
    """Print ``table`` with its ``no_wrap`` columns whole: the other columns wrap to make room, and
    where they cannot the lines run past the terminal's width rather than cut an id."""
    for column in table.columns:
        if column.no_wrap:
            column.min_width = max([cell_len(str(cell)) for cell in column.cells] + [cell_len(str(column.header))])
    # Measured without the terminal's limit: the narrowest layout that keeps those columns whole.
    needed = Measurement.get(out, out.options.update_width(1 << 20), table).minimum
    width = max(out.width, needed)
    out.print(Segments(out.render(table, out.options.update_width(width))), crop=False)


def print_json(document: Any) -> None:
    """Print one JSON document on stdout, alone (a script parses it whole)."""
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def progress_bar(label: str) -> Progress:
    """A progress bar on stderr, shown only on a terminal and gone when done."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
