"""Export pages: a project's tasks and their annotations by keyset, as plain tuples (``fast.py``).

An export of a million tasks reads 500 pages; building SQLAlchemy row objects for
them costs more than decrypting them, so pages come back as tuples in a fixed
column order.
"""

from __future__ import annotations

from .fast import Statement

_TASK_COLUMNS = "id, payload, predictions, priority, annotation_count, done, created_at, is_gold, gold"
TASKS_PAGE = Statement(  # canaries are not the project's items (services/leaks.py)
    f"SELECT {_TASK_COLUMNS} FROM tasks WHERE workspace_id = :ws AND project_id = :project AND id > :after "
    "AND is_canary = 0 ORDER BY id LIMIT :limit",
    postgresql=f"SELECT {_TASK_COLUMNS} FROM tasks WHERE workspace_id = :ws AND project_id = :project "
    "AND id > :after AND NOT is_canary ORDER BY id LIMIT :limit",
)
ANNOTATED_TASKS_PAGE = Statement(
    f"SELECT {_TASK_COLUMNS} FROM tasks WHERE workspace_id = :ws AND project_id = :project AND id > :after "
    "AND annotation_count > 0 ORDER BY id LIMIT :limit"
)
ANNOTATIONS_IN_RANGE = Statement(
    "SELECT id, task_id, user_id, result, lead_time_ms, created_at, review_status, gold_score FROM annotations "
    "WHERE workspace_id = :ws AND project_id = :project AND task_id >= :first AND task_id <= :last "
    "ORDER BY task_id, id"
)
