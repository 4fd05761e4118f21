"""Ready configs for ``bastion project create --template TYPE``: one complete example per task type.

Each type declares its own (``TaskType.template``), so a plugin type has one as
soon as it is installed. The built-ins' are the examples of docs/task-types.md
(a test keeps the two equal), and each parses with its type's config model, so a
template is always a config that works as it is — edit it from there.
"""

from __future__ import annotations

import copy
from typing import Any

from .base import installed
from ..domain.errors import InvalidConfig


def templates() -> dict[str, dict[str, Any]]:
    """Task type name -> its ready config, for every installed type that has one (in name order)."""
    return {tt.name: tt.template for tt in sorted(installed(), key=lambda tt: tt.name) if tt.template is not None}


def template_config(name: str) -> dict[str, Any]:
    """A copy of the ready config for ``name``."""
    ready = templates()
    try:
        return copy.deepcopy(ready[name])
    except KeyError:
        raise InvalidConfig(f"--template: no template {name!r} (one of: {', '.join(ready)})") from None


def __getattr__(name: str) -> Any:
    """``TEMPLATES``: ``templates()`` when read (the registry as it is then, plugins included)."""
    if name == "TEMPLATES":
        return templates()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
