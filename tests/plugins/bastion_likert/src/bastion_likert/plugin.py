"""The module the ``bastion`` entry point names: it registers the task type through Bastion's hook."""

from bastion.plugins import hookimpl

from .tasktype import Likert


@hookimpl
def bastion_task_types():
    return [Likert()]
