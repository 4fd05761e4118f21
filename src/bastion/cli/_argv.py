"""The command line as typed, before click parses it: global options after the command, NUL characters.

* ``global_options_first``: the global options (``--data-dir``, ``--database-url``) are
  declared on the root alone, yet scripts and docs have long put them after the command
  (``bastion serve --database-url …``); they are moved in front of it, so both orders
  mean the same.
* ``nul_argument``: arguments from a shell cannot hold NUL (``domain/text.py``); arguments
  given in-process can, and would reach PostgreSQL, which cannot store it. The first one
  is named from the command tree, like click would name it.
"""

from __future__ import annotations

from typer.core import TyperArgument, TyperGroup, TyperOption

from ..domain.text import NUL


def _value_options(command: TyperGroup) -> set[str]:
    """The names of ``command``'s options that take a value (not flags)."""
    return {
        name for p in command.params if isinstance(p, TyperOption) and not (p.is_flag or p.count) for name in p.opts
    }


def global_options_first(root: TyperGroup, args: list[str]) -> list[str]:
    """``args`` with the root's options that take a value (and their values) moved to the front."""
    names = _value_options(root)
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":  # what follows is arguments only
            rest += args[i:]
            break
        if arg.partition("=")[0] in names:
            taken = 1 if "=" in arg else 2
            front += args[i : i + taken]
            i += taken
            continue
        rest.append(arg)
        i += 1
    return front + rest


def nul_argument(root: TyperGroup, argv: list[str]) -> str | None:
    """The name of the first argument or option whose value holds NUL, else None."""
    if not any(NUL in arg for arg in argv):
        return None
    command = root
    positional, i = 0, 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-") and len(arg) > 1:
            name, eq, inline = arg.partition("=")
            # A global option may follow the command (global_options_first).
            option = next(
                (p for p in (*command.params, *root.params) if isinstance(p, TyperOption) and name in p.opts), None
            )
            takes_value = option is not None and not (option.is_flag or option.count)
            value = inline if eq else (argv[i + 1] if takes_value and i + 1 < len(argv) else "")
            if NUL in name or NUL in value:
                return name.replace(NUL, "\\0")
            i += 1 if eq or not takes_value else 2
            continue
        get_command = getattr(command, "get_command", None)  # groups (the root loads commands on demand)
        sub = get_command(None, arg) if get_command is not None else None
        if sub is not None:
            command, positional = sub, 0
        else:
            if NUL in arg:
                arguments = [p for p in command.params if isinstance(p, TyperArgument)]
                if not arguments:
                    return f"argument {i + 1}"
                named = arguments[min(positional, len(arguments) - 1)].name
                return named.upper() if named else f"argument {i + 1}"
            positional += 1
        i += 1
    return "an argument"
