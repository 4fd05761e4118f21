"""``label-studio``: what Label Studio's import takes — a JSON array of tasks with results in its shape.

Each row is one task, made by the project's task type (``TaskType.label_studio_rows``,
``tasktypes/_labelstudio.py``): ``{"data", "meta", "annotations": [{"result",
"lead_time", "created_at"}], "predictions": [{"result", "model_version"?, "score"?}]}``.
The format applies to the types with a Label Studio mapping (the rows of kind
``labelstudio``), asks once per task, and carries the stored images' sizes
(``file_facts``) so boxes can be written in percent. Annotators are not written:
Label Studio credits imported annotations to the person importing them.
"""

from __future__ import annotations

from .base import ExportFormat
from .jsonrows import encode_json_array

LABEL_STUDIO = ExportFormat(
    name="label-studio",
    media_type="application/json",
    extension="ls.json",
    encode=encode_json_array,
    rows=("labelstudio",),
    per_task=True,
    split_column=False,
    file_facts=True,
    description="Label Studio tasks with annotations and predictions, as its import takes them",
)

__all__ = ["LABEL_STUDIO"]
