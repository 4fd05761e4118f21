"""People's credentials (NDAs, clearances, certificates) and the credentials a project requires.

Pure: what a credential is, what a project may require, and whether what a person holds meets
a requirement at an instant (``unmet``). Storage, access and events are services/credentials.py's.

A credential is *valid* at ``now`` when it is not revoked, its ``issued_at`` (if any) has come
and its ``expires_at`` (if any) is still ahead: a credential expiring at 12:00 no longer counts at
12:00. A requirement names a kind and, optionally, a name (matched without regard to case or
runs of spaces): ``{"kind": "nda"}`` is met by any valid NDA in scope, ``{"kind": "nda", "name":
"Acme NDA 2026"}`` only by that one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import PermissionDenied
from .walls import when

# The kinds people record most; any other lower-case word fits too (a licence, a vetting level).
COMMON_KINDS = ("nda", "clearance", "certificate")
KIND = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")
KIND_RULE = "a lower-case word of up to 32 letters, digits, '.', '_' or '-' (nda, clearance, certificate, …)"
MAX_REQUIRED = 10


def check_kind(value: Any, field: str = "kind") -> str:
    if not isinstance(value, str) or not KIND.match(value.strip()):
        raise ValueError(f"{field}: {KIND_RULE}")
    return value.strip()


def name_key(name: str) -> str:
    """How names are compared: case and runs of spaces do not matter."""
    return " ".join(name.split()).casefold()


class CredentialRequirement(BaseModel):
    """One credential a project requires: a kind and, optionally, its name."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="The credential's kind: nda, clearance, certificate or another lower-case word.")
    name: str | None = Field(
        default=None, min_length=1, max_length=200, description="Only a credential of this name (any case)."
    )

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        return check_kind(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = " ".join(value.split())
        if not text:
            raise ValueError("name: a credential's name, or leave it out for any of the kind")
        return text

    def label(self) -> str:
        return f'{self.kind} "{self.name}"' if self.name else self.kind


@dataclass(frozen=True, slots=True)
class Held:
    """What routing reads of one of a person's credentials in scope."""

    kind: str
    name: str
    issued_at: int | None
    expires_at: int | None
    revoked_at: int | None

    def valid(self, now: int) -> bool:
        return (
            self.revoked_at is None
            and (self.issued_at is None or self.issued_at <= now)
            and (self.expires_at is None or now < self.expires_at)
        )

    def matches(self, wanted: CredentialRequirement) -> bool:
        return self.kind == wanted.kind and (wanted.name is None or name_key(self.name) == name_key(wanted.name))


@dataclass(frozen=True, slots=True)
class Unmet:
    """A requirement the person does not meet, and why: ``missing``, ``expired``, ``revoked`` or
    ``not_yet_valid`` (of the best match: a revoked one only when no expired one, and so on)."""

    requirement: CredentialRequirement
    reason: str
    at: int | None = None  # when it expired, was revoked, or becomes valid

    def message(self) -> str:
        what = self.requirement.label()
        if self.reason == "expired":
            return f"{what}: yours expired on {when(self.at or 0)}"
        if self.reason == "revoked":
            return f"{what}: yours was revoked on {when(self.at or 0)}"
        if self.reason == "not_yet_valid":
            return f"{what}: yours is valid from {when(self.at or 0)}"
        return f"{what}: none is recorded for you"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.requirement.kind, "name": self.requirement.name, "reason": self.reason, "at": self.at}


def unmet(required: list[CredentialRequirement], held: list[Held], now: int) -> list[Unmet]:
    """The requirements ``held`` does not meet at ``now`` (none: the person may work)."""
    out: list[Unmet] = []
    for wanted in required:
        matching = [h for h in held if h.matches(wanted)]
        if any(h.valid(now) for h in matching):
            continue
        expired = [h.expires_at for h in matching if h.revoked_at is None and h.expires_at and h.expires_at <= now]
        revoked = [h.revoked_at for h in matching if h.revoked_at is not None]
        future = [h.issued_at for h in matching if h.revoked_at is None and h.issued_at and h.issued_at > now]
        if future:
            out.append(Unmet(wanted, "not_yet_valid", min(future)))
        elif expired:
            out.append(Unmet(wanted, "expired", max(expired)))
        elif revoked:
            out.append(Unmet(wanted, "revoked", max(revoked)))
        else:
            out.append(Unmet(wanted, "missing"))
    return out


class CredentialRequired(PermissionDenied):
    """Routing refuses a person who lacks a valid credential the project requires (HTTP 403,
    ``credential_required``); ``details.unmet`` lists each requirement and why."""

    code = "credential_required"

    @classmethod
    def of(cls, missing: list[Unmet]) -> CredentialRequired:
        text = "this project requires credentials you do not hold: " + "; ".join(m.message() for m in missing)
        return cls(
            text + " (a workforce manager can record a valid one)", details={"unmet": [m.as_dict() for m in missing]}
        )
