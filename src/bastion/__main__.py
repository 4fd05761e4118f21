"""``python -m bastion``: the ``bastion`` command."""

from .cli import main

if __name__ == "__main__":  # not when a helper process (multiprocessing's spawn) imports this module
    main()
