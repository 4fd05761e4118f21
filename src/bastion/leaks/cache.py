"""What leak tracing remembers between requests of one process: parsed settings and found slots.

Both are pure functions of their key (a settings section; a canonical text, its
protected ranges and the variant settings), so the cache only saves work: the
same task is shown, submitted and listed, and finding slots in a long text is
the costly part. The runtime holds one (``Runtime.leak_cache``); nothing here is
module-global, so two runtimes in one process (tests) share nothing.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import orjson

from .settings import DEFAULT_LEAK_TRACING, LeakTracingSettings, load_leak_tracing
from .slots import Slot, VariantSettings, find_slots

SETTINGS_LIMIT = 256
SLOTS_LIMIT = 4096


class LeakCache:
    """Parsed ``leak_tracing`` sections and the slots of canonical texts (bounded; safe across threads)."""

    def __init__(self) -> None:
        self._settings: dict[str, LeakTracingSettings] = {}
        self._slots: OrderedDict[tuple, tuple[Slot, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def settings(self, raw: Mapping[str, Any] | None) -> LeakTracingSettings:
        """The section validated once per distinct value (None: the defaults)."""
        if raw is None:
            return DEFAULT_LEAK_TRACING
        key = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS).decode()
        found = self._settings.get(key)
        if found is None:
            if len(self._settings) > SETTINGS_LIMIT:
                self._settings.clear()
            found = self._settings[key] = load_leak_tracing(raw)
        return found

    def slots(self, text: str, protected: tuple[tuple[int, int], ...], settings: VariantSettings) -> tuple[Slot, ...]:
        """The slots of a canonical text outside ``protected`` (least recently used dropped first)."""
        key = (hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest(), protected, settings)
        with self._lock:
            found = self._slots.get(key)
            if found is not None:
                self._slots.move_to_end(key)
                return found
        found = tuple(find_slots(text, protected=protected, settings=settings))
        with self._lock:
            self._slots[key] = found
            if len(self._slots) > SLOTS_LIMIT:
                self._slots.popitem(last=False)
        return found


__all__ = ["LeakCache"]
