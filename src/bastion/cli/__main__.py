"""``python -m bastion.cli``: the ``bastion`` command."""

from . import main

main()
