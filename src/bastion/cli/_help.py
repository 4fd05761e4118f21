"""Help texts that list what is installed here: task types, their templates and methods, export formats.

Read from the registries (``tasktypes.installed()``, ``exporting.installed()``), so a
plugin's type or format shows in ``--help`` as soon as it is installed.
"""

from __future__ import annotations

from ..exporting import LOSSLESS
from ..exporting import installed as export_formats
from ..tasktypes import installed as task_types
from ..tasktypes.templates import templates


def template_names() -> str:
    """The installed task types that have a ready config (built-ins and plugins)."""
    return ", ".join(templates())


def aggregation_methods() -> str:
    """``classification, image, preference: ds, mv, …; ranking: bt`` — the installed types' methods."""
    grouped: dict[tuple[str, ...], list[str]] = {}
    for tt in task_types():
        if tt.aggregation_methods:
            grouped.setdefault(tt.aggregation_methods, []).append(tt.name)
    return "; ".join(f"{', '.join(names)}: {', '.join(methods)}" for methods, names in grouped.items())


def export_format_helps() -> dict[str, str]:
    """The help of ``--format`` and ``--rows``: every installed format, the task types it is for, its rows."""
    types = list(task_types())
    listed, several = [], []
    for fmt in export_formats():
        names = [t.name for t in types if fmt.kinds_for(t)]
        listed.append(fmt.name + ("" if len(names) == len(types) else f" ({', '.join(names) or 'no type'})"))
        if len(fmt.rows) > 1:
            kinds = ", ".join("jsonl" if k == LOSSLESS else k for k in fmt.rows)
            several.append(f"{fmt.name}: {kinds}")
    return {
        "format": f"One of: {', '.join(listed)} — the task types a format is for in brackets, the others are"
        " for every type (see docs/task-types.md#exports).",
        "rows": f"With a format that encodes several kinds of rows ({'; '.join(several)}): which rows.",
    }
