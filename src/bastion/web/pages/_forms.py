"""How a page form's post is answered, with or without htmx.

A form that htmx posts (``hx-post`` … ``hx-select="main"``) gets its refusal as 200, the page
showing the error — htmx 2 swaps no 4xx answer — and a plain post gets 422. A change that
went through is answered with a redirect to the page that shows it: a 303 for a plain post,
``HX-Redirect`` for htmx (which would otherwise follow the 303 itself and show the page
under the form's URL).
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import RedirectResponse, Response


def is_htmx(request: Request) -> bool:
    return bool(request.headers.get("hx-request"))


def refused_status(request: Request) -> int:
    """The status of a page that shows why a form's change was refused."""
    return 200 if is_htmx(request) else 422


def redirect_after_post(request: Request, url: str) -> Response:
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
