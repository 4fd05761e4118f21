"""The server's log: text or one JSON object a line, every record with its request id.

``BASTION_LOG_FORMAT=json`` writes records as JSON objects — ``time``, ``level``,
``logger``, ``message``, ``request_id`` and, on the access log's records, ``method``,
``route`` (the template, ``/api/v1/tasks/{task_id}``: never the path with its ids),
``status``, ``duration_ms`` and ``user_id`` when the request was authenticated.
Every logger goes through the same handler: Bastion's, uvicorn's, and any library's.

The rule: **no task content in the log, ever.** Bastion's own records carry ids,
counts and route templates. What a record cannot vouch for is an exception's message
(``KeyError('<a key from the payload>')``, a decoder quoting its input): so the log
shows an exception's type and its stack (file, line, function), never its message or
local values. ``tests/api/test_log_canary.py`` imports, exports and fails requests with
a unique canary string in the content and checks that no record holds it.
"""

from __future__ import annotations

import contextvars
import logging
import time
import traceback
from typing import Any

import orjson

# The id of the request being served (web/observability.py sets it for the request's duration).
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("bastion_request_id", default=None)

# Attributes the access log's records carry (``extra=``), in the order the JSON object shows them.
REQUEST_FIELDS = ("method", "route", "status", "duration_ms", "user_id")


class RequestIdFilter(logging.Filter):
    """Stamp each record with the id of the request it was logged in (None outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


def content_free_exception(exc_info: Any) -> str:
    """An exception as its type and stack, then its causes', without messages (which may quote content)."""
    value = exc_info[1]
    parts: list[str] = []
    seen: set[int] = set()
    while value is not None and id(value) not in seen:
        seen.add(id(value))
        if parts:
            parts.append("raised while handling:")
        parts.append(f"{type(value).__module__}.{type(value).__qualname__} (message not logged)")
        parts.extend(f"  at {f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(value.__traceback__))
        value = value.__cause__ or value.__context__
    return "\n".join(parts)


class TextFormatter(logging.Formatter):
    """``2026-12-06T02:40:01.123Z INFO bastion.access [req 3f…] GET /api/v1/… 200 3.1 ms``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = _stamp(record.created)
        request_id = getattr(record, "request_id", None)
        text = f"{stamp} {record.levelname} {record.name}"
        if request_id:
            text += f" [req {request_id}]"
        text += " " + record.getMessage()
        user_id = getattr(record, "user_id", None)
        if user_id:
            text += f" user={user_id}"
        if record.exc_info:
            text += "\n" + content_free_exception(record.exc_info)
        if record.stack_info:
            text += "\n" + record.stack_info
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object a line (no newline inside: the stack is one string with ``\\n`` escapes)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _stamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for name in REQUEST_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = content_free_exception(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def _stamp(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the server's processes (uvicorn applies it in each worker)."""
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"bastion": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "bastion",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        # uvicorn's loggers hand their records to the root's handler (they have none of their own).
        "loggers": {
            **{
                name: {"handlers": [], "propagate": True, "level": level.upper()}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            # At info and below SQLAlchemy logs every statement's parameters: e-mail addresses, names.
            "sqlalchemy": {"level": "WARNING"},
            "alembic": {"level": "WARNING"},  # each worker checks the schema's version as it starts
        },
    }
