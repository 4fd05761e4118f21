"""The built-in task types, registered through the same hook as third-party plugins."""

from ..plugins import hookimpl


@hookimpl
def bastion_task_types():
    from .classification import Classification

    return [Classification()]
