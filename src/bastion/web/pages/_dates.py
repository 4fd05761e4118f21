"""Times on pages: stored instants (milliseconds since the epoch, UTC) as people read them."""

from __future__ import annotations

import time


def when(ms) -> str:
    """``1718000000000`` -> ``2024-06-10 06:13 UTC``; anything else as it is."""
    if isinstance(ms, bool) or not isinstance(ms, int | float):
        return "" if ms is None else str(ms)
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))


__all__ = ["when"]
