"""Text Bastion accepts: never the NUL character (U+0000).

PostgreSQL's ``text`` cannot hold U+0000 (SQLite's can), so a NUL in a name, an
e-mail or an organisation would be stored on one database and answer 500 on the
other. It means nothing in any text a person types or a dataset holds, so Bastion
refuses it once, where input enters, with an error naming the field:

* JSON request bodies: the ``Strict`` base of every request model (web/api/models.py),
  nested JSON (configs, answers, task data) included;
* path, query and form fields of the API and the pages (web/inputs.py);
* imported tasks, line by line (sources.py);
* command-line arguments (cli/).

JSON that Bastion keeps as text or seals is written escaped (``\\u0000`` is six
characters), so text that *spells* ``\\u0000`` is ordinary content everywhere.

The trap: a JSON value can be nested as deep as its parser allows; the walk below
uses its own stack, never recursion, so a deep document is an answer, not a crash.
"""

from __future__ import annotations

from typing import Any

NUL = "\x00"
MESSAGE = "must not contain the NUL character (U+0000)"


def has_nul(value: Any) -> bool:
    """Whether any string (or key) in a JSON-like value holds NUL."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return True
        elif isinstance(item, dict):
            for key, sub in item.items():
                if isinstance(key, str) and NUL in key:
                    return True
                stack.append(sub)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


def find_nul(value: Any, path: str = "") -> str | None:
    """The path (``a.b[2]``) of the first string or key holding NUL, ``path`` itself for a string; else None."""
    if not has_nul(value):
        return None
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return where
        elif isinstance(item, dict):
            for key, sub in reversed(list(item.items())):
                name = str(key).replace(NUL, "\\0")
                inner = f"{where}.{name}" if where else name
                if isinstance(key, str) and NUL in key:
                    return inner
                stack.append((inner, sub))
        elif isinstance(item, (list, tuple)):
            stack.extend((f"{where}[{i}]", sub) for i, sub in reversed(list(enumerate(item))))
    return path
