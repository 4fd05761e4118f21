"""People and the credentials they present."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidInput
from .text import MESSAGE, NUL

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: str
    user_id: str
    name: str
    scope: str
    created_at: int
    last_used_at: int | None
    revoked_at: int | None
