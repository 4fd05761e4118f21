"""The error tree every layer speaks.

Domain errors know nothing of HTTP or terminals; each adapter maps them once
(``web/errors.py`` to a status and a JSON body, ``cli/`` to a message and an
exit code, the SDK back to exceptions of the same names).

    BastionError                 code "error"
     ├── NotFound                "not_found"        (also: another workspace's object)
     ├── PermissionDenied        "forbidden"        (a known object, too weak a role)
     │    ├── ApprovalRequired   "approval_required" (needs a second person's approval first)
     │    └── EgressRefused      "egress_refused"   (the egress guard: domain/egress.py)
     ├── Unauthenticated         "unauthenticated"  (no or bad credentials)
     │    └── SignInRefused      "sign_in_refused"  (single sign-on: the provider's answer is not accepted)
     ├── Conflict                "conflict"         (state forbids it: already done, duplicate)
     │    └── GuidelinesUnacknowledged "guidelines_unacknowledged" (read the new guidelines first)
     ├── RateLimited             "rate_limited"
     ├── PayloadTooLarge         "payload_too_large"
     ├── Unavailable             "unavailable"      (a service Bastion relies on is down: the blob store)
     ├── RemoteError             "remote_error"     (a server Bastion called answered badly: a model endpoint)
     │    └── RemoteTimeout      "remote_timeout"   (… or not in time)
     └── InvalidInput            "invalid_input"    (bad request content)
          ├── InvalidConfig      "invalid_config"   (a project's labelling config)
          └── InvalidAnswer      "invalid_answer"   (an annotation result)

A message names what was wrong (file, line, field). ``details`` carries
machine-readable specifics (for example the list of rejected lines).
"""

from __future__ import annotations

from typing import Any


class BastionError(Exception):
    code = "error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class NotFound(BastionError):
    code = "not_found"


class PermissionDenied(BastionError):
    code = "forbidden"


class ApprovalRequired(PermissionDenied):
    """The operation needs two-person approval (or break-glass); ``details`` say which and why not."""

    code = "approval_required"


class Unauthenticated(BastionError):
    code = "unauthenticated"


class SignInRefused(Unauthenticated):
    """A single sign-on answer that cannot sign anyone in (a bad ID token, no account the policy allows)."""

    code = "sign_in_refused"


class Conflict(BastionError):
    code = "conflict"


class GuidelinesUnacknowledged(Conflict):
    """The project's guidelines have a version the person must acknowledge before their next task;
    ``details``: ``{"project_id", "version"}``."""

    code = "guidelines_unacknowledged"


class RateLimited(BastionError):
    code = "rate_limited"


class PayloadTooLarge(BastionError):
    code = "payload_too_large"


class Unavailable(BastionError):
    """Something the deployment relies on (the blob store) is down or refuses; trying again later may work."""

    code = "unavailable"


class RemoteError(BastionError):
    """A server Bastion reached out to (through the egress guard) failed: an HTTP error, an answer that
    cannot be read, a connection that failed, an answer over the size cap (HTTP 502)."""

    code = "remote_error"


class RemoteTimeout(RemoteError):
    """A server Bastion reached out to did not connect or answer in time (HTTP 504)."""

    code = "remote_timeout"


class InvalidInput(BastionError):
    code = "invalid_input"


class InvalidConfig(InvalidInput):
    code = "invalid_config"


class InvalidAnswer(InvalidInput):
    code = "invalid_answer"
