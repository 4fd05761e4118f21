"""Pure domain rules: dataclasses and functions, no I/O, no web or database imports."""
