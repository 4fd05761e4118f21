"""Path, query and form fields at the HTTP boundary: none of them carries NUL (domain/text.py).

One app-wide dependency, run before every route's own parameters (and before the
caller is authenticated: the answer depends on the request alone). JSON bodies are
checked by their models (``api/models.py``'s ``Strict``); import bodies line by line
(``sources.py``).

The trap: only URL-encoded forms are read here. A multipart body is an upload, read by
its route's own streaming reader (which keeps files off the disk); reading it here
would consume the stream first.
"""

from __future__ import annotations

from fastapi import Request

from ..domain.errors import InvalidInput
from ..domain.text import MESSAGE, NUL

FORM = "application/x-www-form-urlencoded"


def _refuse(where: str, name: str) -> None:
    shown = name.replace(NUL, "\\0")
    raise InvalidInput(f"{shown}: {MESSAGE}", details=[{"in": where, "field": shown, "message": MESSAGE}])


async def refuse_nul(request: Request) -> None:
    """FastAPI dependency: InvalidInput (422) naming the first path, query or form field holding NUL."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and NUL in value:
            _refuse("path", name)
    query = request.scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:  # the cheap look first: this runs on every request
        for name, value in request.query_params.multi_items():
            if NUL in name or NUL in value:
                _refuse("query", name)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == FORM:
        form = await request.form()
        for name, value in form.multi_items():
            if NUL in name or (isinstance(value, str) and NUL in value):
                _refuse("form", name)
