"""``python -m bastion.cli``: the ``bastion`` command."""

from . import main

if __name__ == "__main__":  # not when a helper process (multiprocessing's spawn) imports this module
    main()
