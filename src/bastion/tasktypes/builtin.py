"""The built-in task types, registered through the same hook as third-party plugins."""

from ..plugins import hookimpl


@hookimpl
def bastion_task_types():
    from .chat import Chat
    from .classification import Classification
    from .image import Image
    from .preference import Preference
    from .ranking import Ranking
    from .rubric import Rubric
    from .spans import Spans
    from .writing import Writing

    return [Classification(), Spans(), Preference(), Ranking(), Writing(), Rubric(), Image(), Chat()]
