"""People and the credentials they present."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidInput
from .text import MESSAGE, NUL

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# An external annotator's handle (``ext:vendor-a/17``): someone whose annotations were made
# elsewhere and imported, who never signs in here.
EXTERNAL_HANDLE = re.compile(r"^ext:[A-Za-z0-9][A-Za-z0-9._/@+-]{0,195}$")
_EXTERNAL_EMAIL = re.compile(r"^ext:\S+ \(ws_\S+\)$")


def external_email(handle: str, workspace_id: str) -> str:
    """The users row e-mail of a workspace's external annotator: whitespace keeps it apart from any address."""
    return f"{handle} ({workspace_id})"


def is_external_email(email: str) -> bool:
    """Whether a users row is an external annotator (no password, no token, no sign-in)."""
    return bool(_EXTERNAL_EMAIL.match(email))


def normalise_email(value: str) -> str:
    email = (value or "").strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise InvalidInput(f"email: {value!r} is not an e-mail address")
    return email


def check_password(password: str) -> None:
    if NUL in password:
        raise InvalidInput(f"password: {MESSAGE}")
    if len(password) < 10:
        raise InvalidInput("password: use at least 10 characters")
    if len(password) > 1024:
        raise InvalidInput("password: at most 1024 characters")


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    name: str
    is_admin: bool
    is_active: bool
    created_at: int
    deactivated_at: int | None = None


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: str
    user_id: str
    name: str
    scope: str
    created_at: int
    last_used_at: int | None
    revoked_at: int | None
