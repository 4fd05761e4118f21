"""The task page: a task's data, every annotation in its widget, its reviews, and who was shown it.

GET /tasks/{task_id} (``?as=<person>``: owners, the text that person was shown). Read
only: it leases and binds nothing (a first access offers the Open button); the
reading is audited by the service (services/task_history.py).
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request

from .common import render
from ..auth import page_session
from ...services import labelling, task_history

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]


def _pretty(value) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


@router.get("/tasks/{task_id}")
def task_page(
    request: Request,
    task_id: str,
    session: Session,
    as_user: str | None = Query(None, alias="as", max_length=60),
):
    ctx, csrf = session
    history = task_history.task_history(ctx, task_id, as_user=as_user or None)
    return render(
        request,
        "task.html",
        h=history,
        project=history.project,
        pretty=_pretty,
        widget_script=labelling.widget_script(history.project.task_type),
        csrf_token=csrf,
    )
