"""Install a plugin distribution from its source tree for the length of a test module, as a third party would.

``installed_distribution(source, site)`` does what ``pip install -e`` does, offline:
it reads the distribution's ``pyproject.toml`` and writes a ``NAME-VERSION.dist-info``
with its ``METADATA`` and ``entry_points.txt`` into ``site``, and puts ``site`` and the
package's ``src`` folder on ``sys.path``. Bastion then finds the plugin as it finds any
installed package — ``importlib.metadata`` lists the entry point of the ``bastion``
group, pluggy loads it — and nothing in the tests imports the plugin itself.

Bastion reads its plugins once (``plugin_manager`` and ``installed`` are cached), so the
caches are cleared on the way in and on the way out: runtimes opened inside see the
plugin, those opened after no longer do. The trap: a module-level name computed from the
registry at import (a help text, a constant) keeps what it saw then.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bastion.plugins import plugin_manager
from bastion.tasktypes import installed

PLUGINS = Path(__file__).resolve().parent / "plugins"


def _forget_plugins() -> None:
    plugin_manager.cache_clear()
    installed.cache_clear()


@contextmanager
def installed_distribution(source: Path, site: Path) -> Iterator[str]:
    """The distribution at ``source`` installed into ``site`` (on ``sys.path``) inside the block; yields its name."""
    project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
    name, version = project["name"], project["version"]
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    groups = project.get("entry-points", {})
    (dist_info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in points.items()) + "\n"
            for group, points in groups.items()
        )
    )
    paths = [str(site), str(source / "src")]
    packages = [p.name for p in (source / "src").iterdir() if (p / "__init__.py").exists()]
    sys.path[:0] = paths
    _forget_plugins()
    try:
        yield name
    finally:
        for path in paths:
            sys.path.remove(path)
        for module in [m for m in sys.modules if m.split(".")[0] in packages]:
            del sys.modules[module]
        _forget_plugins()
