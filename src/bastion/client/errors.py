"""The client's errors: the API's error answers raised again as exceptions of the server's names.

Every error the API answers is ``{"error": {"code", "message", "details"?}}`` with a fitting
status; the client raises the class for that status, carrying all four::

    BastionError                 status, code, message, details
     ├── TransportError          no answer at all: refused, reset, timed out (status None)
     ├── BadRequest              400 an unreadable body
     ├── Unauthenticated         401 no token, or a bad one
     ├── PermissionDenied        403 role too weak, a conflict-of-interest wall
     │    └── ApprovalRequired   403 with code approval_required (two-person approval)
     ├── NotFound                404 (also: another workspace's object)
     ├── Conflict                409 conflicts with the current state
     │    └── GuidelinesUnacknowledged 409 with code guidelines_unacknowledged (read the new guidelines first)
     ├── PayloadTooLarge         413
     ├── UnsupportedMediaType    415
     ├── InvalidInput            422 the message names the field
     ├── RateLimited             429
     ├── Unavailable             502, 503, 504
     └── ServerError             any other 5xx

``MissingDependency`` (an ``ImportError``) is raised when a DataFrame or a ``datasets.Dataset``
is asked for and pandas or datasets is not installed.

The trap: catching ``httpx.HTTPError`` catches nothing the client raises — httpx's own
errors are wrapped where they enter (``TransportError``, with the original as ``__cause__``).
"""

from __future__ import annotations

from typing import Any

import httpx


class BastionError(Exception):
    """An error answered by the API (or no answer at all: ``TransportError``)."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "error", details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details

    def __str__(self) -> str:
        where = f"{self.status} " if self.status is not None else ""
        return f"{where}{self.code}: {self.message}"


class TransportError(BastionError):
    """The server could not be reached, or the connection broke before an answer came."""


class BadRequest(BastionError):
    pass


class Unauthenticated(BastionError):
    pass


class PermissionDenied(BastionError):
    pass


class ApprovalRequired(PermissionDenied):
    pass


class NotFound(BastionError):
    pass


class Conflict(BastionError):
    pass


class GuidelinesUnacknowledged(Conflict):
    """The project's guidelines have a version to acknowledge before the next task (``details["version"]``)."""


class PayloadTooLarge(BastionError):
    pass


class UnsupportedMediaType(BastionError):
    pass


class InvalidInput(BastionError):
    pass


class RateLimited(BastionError):
    pass


class Unavailable(BastionError):
    pass


class ServerError(BastionError):
    pass


class MissingDependency(ImportError):
    """An optional library (pandas, datasets) that the asked-for conversion needs is not installed."""


BY_STATUS: dict[int, type[BastionError]] = {
    400: BadRequest,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: InvalidInput,
    429: RateLimited,
    502: Unavailable,
    503: Unavailable,
    504: Unavailable,
}
BY_CODE: dict[str, type[BastionError]] = {
    "approval_required": ApprovalRequired,
    "guidelines_unacknowledged": GuidelinesUnacknowledged,
}


def error_from_response(response: httpx.Response) -> BastionError:
    """The exception for an error answer (its body already read)."""
    code, message, details = "error", response.reason_phrase or f"HTTP {response.status_code}", None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = str(error.get("code", code))
        message = str(error.get("message", message))
        details = error.get("details")
    elif response.text:
        message = response.text[:500]
    cls = BY_CODE.get(code) or BY_STATUS.get(response.status_code)
    if cls is None:
        cls = ServerError if response.status_code >= 500 else BastionError
    return cls(message, status=response.status_code, code=code, details=details)


def missing(package: str, purpose: str) -> MissingDependency:
    return MissingDependency(f"{purpose} needs {package}, which is not installed: pip install {package}")
