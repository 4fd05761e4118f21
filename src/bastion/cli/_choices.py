"""Options and arguments that take one of a set of values, read from where the set is kept.

The set is read when the command runs (or completes a word), never at import: the
installed task types and export formats are the plugins' (``tasktypes.installed()``,
``exporting.installed()``), so a plugin's type or format is a valid choice as soon as it is
installed. A value outside the set is a usage
error naming the valid ones (exit 2, like click's own choices); shell completion offers them.

The trap: a set written here as a literal list goes stale the day a service or plugin adds a
value; each function below reads the registry or the constant the service itself checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import typer

from ..domain.workspaces import Role
from ..exporting import LOSSLESS
from ..exporting import installed as export_formats
from ..services import approvals, exports, workforce
from ..tasktypes import installed as task_types
from ..tasktypes.templates import templates

Values = Callable[[], Iterable[str]]


def roles() -> list[str]:
    """A member's roles in a workspace."""
    return [role.value for role in Role]


def template_names() -> list[str]:
    """The installed task types that have a ready config (built-ins and plugins)."""
    return list(templates())


def format_names() -> list[str]:
    """The export formats installed here, plugins' included."""
    return [fmt.name for fmt in export_formats()]


def row_kinds() -> list[str]:
    """Every kind of rows an installed format encodes (``jsonl``: the lossless rows); the format decides which fit."""
    kinds = ("jsonl" if kind == LOSSLESS else kind for fmt in export_formats() for kind in fmt.rows)
    return list(dict.fromkeys(kinds))


def aggregation_methods() -> list[str]:
    """Every aggregation method of an installed task type; the project's type decides which fit."""
    return list(dict.fromkeys(method for tt in task_types() for method in tt.aggregation_methods))


def approval_kinds() -> list[str]:
    """The operations a two-person approval is asked for."""
    return list(approvals.KINDS)


def affiliation_kinds() -> list[str]:
    """The kinds of tie between a person and an organisation."""
    return list(workforce.KINDS)


def per_values() -> list[str]:
    """Rows per annotation or per task."""
    return list(exports.PER)


def chat_forms() -> list[str]:
    """How prompts are exported: as chat turns or as strings."""
    return list(exports.CHAT)


def sft_forms() -> list[str]:
    """The forms of SFT rows."""
    return list(exports.SFT_FORMS)


def strengths() -> list[str]:
    """Preference strengths, weakest first."""
    return list(exports.STRENGTHS)


def _check(values: Values) -> Callable[[Any], Any]:
    """A typer callback: the value unchanged when it is one of ``values()``, else a usage error naming them."""

    def check(value: Any) -> Any:
        if value is None:
            return value
        allowed = list(values())
        if value not in allowed:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(map(repr, allowed))}.")
        return value

    return check


def _complete(values: Values) -> Callable[[str], list[str]]:
    """Shell completion: the values that start with what is typed."""

    def complete(incomplete: str) -> list[str]:
        return [value for value in values() if value.startswith(incomplete)]

    return complete


def option_of(values: Values, *param_decls: str, help: str, check: bool = True) -> Any:
    """A ``typer.Option`` whose value must be one of ``values()``; with ``check=False`` they are only
    offered for completion, where the service's own refusal already names them (``--template``)."""
    return typer.Option(
        *param_decls, help=help, callback=_check(values) if check else None, autocompletion=_complete(values)
    )


def argument_of(values: Values, *, help: str) -> Any:
    """A ``typer.Argument`` whose value must be one of ``values()``."""
    return typer.Argument(help=help, callback=_check(values), autocompletion=_complete(values))
