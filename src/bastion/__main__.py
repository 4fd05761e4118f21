"""``python -m bastion``: the ``bastion`` command."""

from .cli import main

main()
