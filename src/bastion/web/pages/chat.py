"""The chat widget's calls (tasktypes/chat, services/chat.py): JSON in, JSON or a stream of events out.

``GET  /tasks/{t}/chat`` — the chat in progress on a task the caller holds;
``POST /tasks/{t}/chat/turn`` — ``{"content", "at"?, "judgements"?, "version"?}``: send a user turn;
the answer streams newline-delimited JSON events (``application/x-ndjson``) as the models reply,
read by the widget with ``fetch`` and a ``ReadableStream``;
``POST /tasks/{t}/chat/judgements`` — ``{"judgements", "version"}``: keep choices, ratings, rewrites;
``POST /tasks/{t}/chat/restart`` — discard the chat and start again.

The POSTs carry the page's CSRF token in ``X-CSRF-Token``. Refusals (not the holder, another
workspace's task, a wall, ``model.use``) answer ``{"error": {"code", "message"}}`` before any event.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from ..auth import CSRF_HEADER, page_session, require_form_csrf
from ...domain.errors import InvalidInput
from ...services import chat

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]
NO_STORE = {"Cache-Control": "no-store"}


def _json(value: Any) -> Response:
    return Response(orjson.dumps(value), media_type="application/json", headers=NO_STORE)


async def _body(request: Request, csrf: str) -> dict[str, Any]:
    require_form_csrf(csrf, request.headers.get(CSRF_HEADER))
    raw = await request.body()
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise InvalidInput("body: not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("body: must be a JSON object")
    return body


@router.get("/tasks/{task_id}/chat")
async def chat_state(task_id: str, session: Session) -> Response:
    ctx, _csrf = session
    return _json(await run_in_threadpool(chat.load_chat, ctx, task_id))


@router.post("/tasks/{task_id}/chat/turn")
async def chat_turn(request: Request, task_id: str, session: Session) -> Response:
    ctx, csrf = session
    body = await _body(request, csrf)
    turn = await run_in_threadpool(
        lambda: chat.open_turn(
            ctx,
            task_id,
            body.get("content"),
            at=body.get("at"),
            judgements=body.get("judgements"),
            version=body.get("version"),
        )
    )
    headers = {**NO_STORE, "X-Accel-Buffering": "no"}
    return StreamingResponse(turn.events(), media_type="application/x-ndjson", headers=headers)


@router.post("/tasks/{task_id}/chat/judgements")
async def chat_judgements(request: Request, task_id: str, session: Session) -> Response:
    ctx, csrf = session
    body = await _body(request, csrf)
    saved = await run_in_threadpool(
        lambda: chat.save_judgements(ctx, task_id, body.get("judgements"), version=body.get("version"))
    )
    return _json(saved)


@router.post("/tasks/{task_id}/chat/restart")
async def chat_restart(request: Request, task_id: str, session: Session) -> Response:
    ctx, csrf = session
    await _body(request, csrf)
    return _json(await run_in_threadpool(chat.restart, ctx, task_id))
