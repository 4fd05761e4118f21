"""What a command runs with: the global options, the settings they make, a runtime for the command.

The global options (``--data-dir``, ``--database-url``) are declared once, on the root
callback (``cli/__init__.py``), which hands them to ``begin()`` before the command runs;
commands read them through ``settings()`` and ``runtime()`` and never declare them again.
A runtime opened here is closed when the root context closes: when the command ends,
whether it succeeded or raised.

The trap: the state is this module's (typer keeps its click context private), one command
at a time, as a process runs one; ``begin()`` starts it afresh for each invocation, so
commands run one after another in-process (the tests) never see the last one's options.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from ..access import Actor
from ..domain.errors import BastionError, NotFound
from ..services import users
from ..services.context import Context
from ..services.runtime import Runtime
from ..settings import Settings


@dataclass(frozen=True)
class GlobalOptions:
    """The root callback's options; None where the environment (``BASTION_*``) or the default decides."""

    data_dir: Path | None = None
    database_url: str | None = None


class _Command:
    """The command running now: its global options and the runtimes opened for it."""

    def __init__(self, options: GlobalOptions) -> None:
        self.options = options
        self.runtimes: list[Runtime] = []

    def close(self) -> None:
        while self.runtimes:
            self.runtimes.pop().close()


_current = _Command(GlobalOptions())


def begin(ctx: typer.Context, options: GlobalOptions) -> None:
    """Start a command (the root callback): its options, and its runtimes closed with ``ctx``."""
    global _current
    _current = _Command(options)
    ctx.call_on_close(_current.close)


def settings() -> Settings:
    """The settings of this command: the global options over the ``BASTION_*`` environment."""
    options = _current.options
    overrides: dict[str, Any] = {}
    if options.data_dir:
        overrides["data_dir"] = options.data_dir
    if options.database_url:
        overrides["database_url"] = options.database_url
    try:
        return Settings(**overrides)
    except ValidationError as exc:  # a BASTION_* variable out of range: name it, no traceback
        first = exc.errors()[0]
        name = "_".join(str(part) for part in first["loc"]).upper()
        raise BastionError(f"BASTION_{name}: {first['msg']}") from None


def open_runtime(chosen: Settings, *, migrate_schema: str = "never") -> Runtime:
    """Open a runtime on ``chosen`` settings, closed when the command ends."""
    rt = Runtime.open(chosen, migrate_schema=migrate_schema)
    _current.runtimes.append(rt)
    return rt


def runtime(*, migrate_schema: str = "never") -> Runtime:
    """Open the runtime of this command's settings, closed when the command ends."""
    return open_runtime(settings(), migrate_schema=migrate_schema)


def context(rt: Runtime) -> Context:
    """The local operator's context: admin commands act as ``Actor.system()``."""
    return Context(rt, Actor.system())


def user_id(ctx: Context, email: str) -> str:
    """The id of the person with this e-mail address (``NotFound`` names the address)."""
    user = users.find_user_by_email(ctx, email)
    if user is None:
        raise NotFound(f"no user with e-mail {email}")
    return user.id
