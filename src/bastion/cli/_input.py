"""Values the operator gives in files and options, read into clear errors that name them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson

from ..domain.errors import InvalidInput


def read_json(path: Path, what: str):
    """The JSON document in ``path``; ``what`` names it in the error (``manifest``, ``checkpoint``)."""
    try:
        return orjson.loads(path.read_bytes())
    except OSError as exc:
        raise InvalidInput(f"{what} {path}: cannot read ({exc.strerror})") from exc
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{what} {path}: not valid JSON ({exc})") from exc


def date_ms(value: str | None, what: str) -> int | None:
    """A ``YYYY-MM-DD`` date as epoch milliseconds at its UTC midnight; ``what`` names the option."""
    if value is None:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{what}: {value!r} is not a date like 2025-06-30") from exc
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)
