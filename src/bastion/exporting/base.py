"""Export formats are plugins: each names the rows it encodes and turns them into bytes.

An export (``services/exports.py``) reads a project's task records page by page,
makes rows of them and hands the rows to a format's encoder, which yields the
file's bytes as they are made. A format (:class:`ExportFormat`) declares:

* ``name`` (what ``--format``/``format=`` take), ``media_type``, ``extension``
  and a one-line ``description``;
* ``rows`` — the kinds of rows it encodes, its default first. ``lossless`` rows
  are the export's own (each task with its annotations, or one row per
  annotation with ``per=annotation``) and fit every task type; any other kind
  (``sft``, ``dpo``, ``spacy``, ``conll``, ``coco``, or a plugin's own) is made
  by the project's task type (``TaskType.export_rows``), so the format applies
  to the types that make its rows. Where it encodes several kinds the ``rows``
  option picks one (``parquet``: ``rows=jsonl|sft|dpo``);
* ``task_types`` — narrows it to these types (None: every type that makes its rows);
* ``options`` — which of the row options (:data:`ROW_OPTIONS`: ``chat``,
  ``sft_form``, …) it takes. Options every export takes (``split``, ``part``,
  ``annotated_only``, ``accepted_only``, ``aggregate``…) need no declaring; an
  option a format does not take is refused, naming it, before the first byte;
* ``encode(rows, encoding)`` — an iterator of bytes over an iterator of rows
  (:class:`Encoding` says which kind of rows, for which task type and config,
  with which options, and gives the rows that head the file);
* how its rows are made: ``per_task`` (a type's rows asked once per task rather
  than once per annotation: ``coco``, an image per task), ``split_column``
  (False: the file has no place for a ``split`` column, so a split is exported one
  part at a time) and ``file_facts`` (records carry the extension, width and
  height of the file they name: ``coco``'s ``file_name`` and sizes);
* ``pages`` (optional, :class:`PageEncoding`): how it encodes one page of rows on its
  own and joins the pages' parts, so that a large export can encode its pages in worker
  processes (``services/export_pool.py``). The parts joined must be the very bytes
  ``encode`` makes of the same rows, however the rows fall into pages (a test checks
  each built-in format). A format without it is encoded in the exporting process.

Built-ins register through the ``bastion_export_formats`` hook exactly like
third-party packages (``exporting/builtin.py``), so adding a format never
touches the export pipeline. :func:`installed` is the registry of them all.

The trap: an encoder streams. It yields bytes as rows arrive — the first chunk
early (the time to the first byte is measured) — and never holds a whole
export's rows. Anything it could refuse must be checked before the first byte
(``services/exports.py`` ``start_export``): an error raised while streaming can
only cut the file short (and then no manifest is signed for it).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..domain.errors import InvalidInput
from ..plugins import plugin_manager

LOSSLESS = "lossless"
# The row options a format may take (the API's and the CLI's names); each is a field of
# tasktypes/_export.py ExportOptions, which the row makers of the task types read.
ROW_OPTIONS = ("chat", "sft_form", "dpo_min_strength", "include_ties", "with_ids")
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,15}")  # exports.format is String(16)
_EXTENSION = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")  # part of a Content-Disposition file name


class RowMaker(Protocol):
    def __call__(self, config: Any, task: dict | None, annotation: dict | None, options: Any) -> Iterable[dict]: ...


class TaskTypeRows(Protocol):
    """What the registry asks of a task type (``tasktypes/base.py`` ``TaskType``)."""

    @property
    def name(self) -> str: ...  # read-only: a task type declares it as a class variable

    def export_rows(self, kind: str) -> RowMaker | None: ...


@dataclass(frozen=True)
class Encoding:
    """What an encoder is told about the rows it encodes."""

    kind: str  # the kind of the rows: "lossless" or a kind the task type made
    task_type: str  # the project's task type
    config: Any = None  # the project's config, as its task type parsed it (which data field holds the text…)
    options: Any = None  # the row options chosen (tasktypes/_export.py ExportOptions)
    head: Callable[[], list[dict]] = list  # the rows that head the file, made by the task type (COCO's categories)


Encoder = Callable[[Iterator[dict], Encoding], Iterator[bytes]]


def no_state(rows: list[dict], encoding: Encoding) -> None:
    """What the first rows fix for a format whose pages need nothing of them: nothing."""
    return None


@dataclass(frozen=True, kw_only=True)
class PageEncoding:
    """How a format encodes one page of rows by itself (in a worker process) and joins the parts.

    ``fix(first_rows, encoding)`` — what the export's first rows decide for every later
    page (Parquet: the columns), computed once in the exporting process; it must pickle.
    ``encode(rows, encoding, fixed)`` — a page's part (bytes, or what ``join`` takes),
    for a page of at least one row; it runs in a worker, so it and its result must pickle
    and it must not touch anything but its arguments. ``join(parts, encoding)`` — the
    file's bytes from the parts in the file's order (None for a page without rows), in
    the exporting process.
    """

    encode: Callable[[list[dict], Encoding, Any], Any]
    join: Callable[[Iterator[Any], Encoding], Iterator[bytes]]
    fix: Callable[[list[dict], Encoding], Any] = no_state


@dataclass(frozen=True, kw_only=True)
class ExportFormat:
    """One export format (see the module docstring for what each part means)."""

    name: str
    media_type: str
    extension: str
    description: str
    encode: Encoder
    rows: tuple[str, ...] = (LOSSLESS,)
    task_types: tuple[str, ...] | None = None
    options: tuple[str, ...] = ()
    per_task: bool = False
    split_column: bool = True
    file_facts: bool = False
    pages: PageEncoding | None = None

    def kinds_for(self, task_type: TaskTypeRows) -> tuple[str, ...]:
        """The kinds of rows this format can encode for projects of ``task_type`` (none: it does not apply)."""
        if self.task_types is not None and task_type.name not in self.task_types:
            return ()
        return tuple(k for k in self.rows if k == LOSSLESS or task_type.export_rows(k) is not None)


def _check(fmt: Any) -> ExportFormat:
    """A plugin's format, or RuntimeError saying what is wrong with it (at start-up, never per request)."""
    if not isinstance(fmt, ExportFormat):
        raise RuntimeError(f"an export format plugin returned {fmt!r}, not a bastion.exporting.ExportFormat")
    where = f"export format {fmt.name!r}"
    problems = []
    if not isinstance(fmt.name, str) or not _NAME.fullmatch(fmt.name):
        problems.append("name: 1 to 16 characters a-z, 0-9, '_' or '-', starting with a letter")
    if not isinstance(fmt.extension, str) or not _EXTENSION.fullmatch(fmt.extension):
        problems.append("extension: 1 to 32 characters a-z, 0-9, '.', '_' or '-' (it ends a file name)")
    if not isinstance(fmt.media_type, str) or "/" not in fmt.media_type or any(c in fmt.media_type for c in "\r\n"):
        problems.append("media_type: a media type such as application/x-ndjson")
    if (
        not isinstance(fmt.rows, tuple)
        or not fmt.rows
        or not all(isinstance(k, str) and _NAME.fullmatch(k) for k in fmt.rows)
    ):
        problems.append("rows: a tuple of one or more row kinds (lossless, sft, dpo, … or its own)")
    if fmt.task_types is not None and not (
        isinstance(fmt.task_types, tuple) and all(isinstance(t, str) for t in fmt.task_types)
    ):
        problems.append("task_types: a tuple of task type names, or None for every type that makes its rows")
    if not isinstance(fmt.options, tuple):
        problems.append(f"options: a tuple of some of: {', '.join(ROW_OPTIONS)}")
    else:
        unknown = [o for o in fmt.options if o not in ROW_OPTIONS]
        if unknown:
            problems.append(
                f"options: {', '.join(map(repr, unknown))} (a format takes some of: {', '.join(ROW_OPTIONS)})"
            )
    if not callable(fmt.encode):
        problems.append("encode: a function (rows, encoding) -> iterator of bytes")
    if fmt.pages is not None and not isinstance(fmt.pages, PageEncoding):
        problems.append("pages: a bastion.exporting.PageEncoding, or None")
    if problems:
        raise RuntimeError(f"{where}: " + "; ".join(problems))
    return fmt


@dataclass
class ExportFormats:
    """The registry of installed export formats, in the order they were registered."""

    formats: dict[str, ExportFormat] = field(default_factory=dict)

    @classmethod
    def of(cls, formats: Iterable[ExportFormat]) -> ExportFormats:
        registry = cls()
        for fmt in formats:
            _check(fmt)
            if fmt.name in registry.formats:
                raise RuntimeError(f"two plugins define export format {fmt.name!r}")
            registry.formats[fmt.name] = fmt
        return registry

    def __iter__(self) -> Iterator[ExportFormat]:
        return iter(self.formats.values())

    def names(self) -> list[str]:
        return list(self.formats)

    def find(self, name: str) -> ExportFormat | None:
        return self.formats.get(name)

    def get(self, name: str, task_type: TaskTypeRows | None = None) -> ExportFormat:
        """The format named ``name``; InvalidInput naming ``format`` and what there is (for ``task_type``)."""
        fmt = self.formats.get(name)
        if fmt is None:
            there = (
                f"{task_type.name} projects export as: {', '.join(self.names_for(task_type))}"
                if task_type is not None
                else f"one of: {', '.join(self.formats)}"
            )
            raise InvalidInput(f"format: unknown export format {name!r} ({there})")
        return fmt

    def for_task_type(self, task_type: TaskTypeRows) -> list[ExportFormat]:
        return [fmt for fmt in self.formats.values() if fmt.kinds_for(task_type)]

    def names_for(self, task_type: TaskTypeRows) -> list[str]:
        return [fmt.name for fmt in self.for_task_type(task_type)]


@functools.cache
def installed() -> ExportFormats:
    """Every format the plugins provide: the built-ins first, then packages' in the order they were loaded."""
    provided = plugin_manager().hook.bastion_export_formats()
    # pluggy calls the last registered plugin first: reversed, the built-ins lead.
    return ExportFormats.of(fmt for formats in reversed(provided) for fmt in (formats or []))
