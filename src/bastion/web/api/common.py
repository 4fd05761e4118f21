"""Shared pieces of the JSON API: the context dependency, fast JSON responses, error docs."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Depends
from pydantic import BaseModel
from starlette.responses import Response

from ..auth import api_context
from ...services.context import Context

API_PREFIX = "/api/v1"

Ctx = Annotated[Context, Depends(api_context)]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    error: ErrorBody


def error_docs(*statuses: int) -> dict[int | str, dict[str, Any]]:
    names = {
        400: "Bad request",
        401: "Not signed in / bad token",
        403: "Role too weak",
        404: "Not found (or in another workspace)",
        409: "Conflicts with the current state",
        413: "Body too large",
        422: "Invalid input",
        429: "Too many attempts; try again later",
        502: "A server Bastion called (a model endpoint) failed or answered badly",
        503: "The file store is unavailable; nothing was stored, try again later",
        504: "A server Bastion called (a model endpoint) did not answer in time",
    }
    return {s: {"model": ErrorResponse, "description": names.get(s, "Error")} for s in statuses}


COMMON_ERRORS = error_docs(400, 401, 403, 404, 422)


def to_json(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json", headers=headers)


def created(content: Any, location: str) -> Response:
    """A 201 answer naming the created resource's URL (``location``: a path under /api/v1)."""
    return to_json(content, 201, {"Location": API_PREFIX + location})
