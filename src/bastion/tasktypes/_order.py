"""The order in which a person is shown a task's responses: shuffled, repeatable, recorded.

Annotators favour whatever is shown first (position bias). Preference and
ranking widgets therefore show responses in an order drawn per (task, person):
the same person reloading the page sees the same order, two people see
independent orders, and the order is stored in the result (``shown_order``:
the original indices in the order shown) so the bias can be measured and undone.

The draw is a Fisher–Yates shuffle driven by HMAC-SHA256 of the task and user
ids. No secret is needed — the point is determinism, not unpredictability.
The trap: never derive it from ``random`` or the time, or a reload reshuffles
the responses under the annotator's eyes and the recorded order is a lie.
"""

from __future__ import annotations

import hashlib
import hmac

_KEY = b"bastion/shown-order/1"


def shown_order(n: int, task_id: str, user_id: str, salt: str = "") -> list[int]:
    """A permutation of ``range(n)``: position on screen -> original index."""
    order = list(range(n))
    if n < 2:
        return order
    stream = b""
    counter = 0
    pos = 0

    def draw(bound: int) -> int:
        nonlocal stream, counter, pos
        limit = (1 << 32) - ((1 << 32) % bound)  # rejection sampling: no modulo bias
        while True:
            if pos + 4 > len(stream):
                msg = f"{task_id}|{user_id}|{salt}|{counter}".encode()
                stream, pos = hmac.new(_KEY, msg, hashlib.sha256).digest(), 0
                counter += 1
            value = int.from_bytes(stream[pos : pos + 4], "big")
            pos += 4
            if value < limit:
                return value % bound

    for i in range(n - 1, 0, -1):
        j = draw(i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def check_shown_order(value, n: int, path: str = "result.shown_order") -> list[int]:
    """Validate a recorded order (a permutation of 0..n-1); InvalidAnswer otherwise."""
    from ..domain.errors import InvalidAnswer

    if (
        not isinstance(value, list)
        or sorted(v for v in value if isinstance(v, int) and not isinstance(v, bool)) != list(range(n))
        or len(value) != n
    ):
        raise InvalidAnswer(
            f"{path}: must list the {n} response indices in the order shown (a permutation of 0..{n - 1})"
        )
    return list(value)


def recorded_order(result, n: int) -> list[int] | None:
    """The order a result records (``shown_order``), if it is one of ``n`` responses; else None.

    A result is shown back (read-only, or to correct) in the order its author saw.
    """
    from ..domain.errors import InvalidAnswer

    value = result.get("shown_order") if isinstance(result, dict) else None
    if value is None:
        return None
    try:
        return check_shown_order(value, n)
    except InvalidAnswer:
        return None


def excerpt(text, limit: int = 48) -> str:
    """A short quote of a response, on one line (facts name responses by their words, not by screen letters)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
