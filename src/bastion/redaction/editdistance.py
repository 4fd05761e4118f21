"""Bounded edit distances for short strings (dictionary terms, variant slots).

Optimal string alignment (Damerau-Levenshtein without repeated edits of one
substring): insertions, deletions, substitutions and adjacent transpositions all
cost 1, which is what "a small misspelling" means to a reader (``Flacon`` is one
slip away from ``Falcon``). The ``limit`` lets callers stop as soon as a row
exceeds it: fuzzy lookup only ever asks "within 1 or 2?".
"""

from __future__ import annotations


def edit_distance(a: str, b: str, limit: int | None = None) -> int:
    """OSA distance between ``a`` and ``b``; any value above ``limit`` is returned as ``limit + 1``."""
    if a == b:
        return 0
    if limit is not None and abs(len(a) - len(b)) > limit:
        return limit + 1
    if not a or not b:
        return max(len(a), len(b))
    cap = limit + 1 if limit is not None else None
    previous_previous: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        row_min = i
        ai = a[i - 1]
        for j in range(1, len(b) + 1):
            cost = 0 if ai == b[j - 1] else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ai == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, previous_previous[j - 2] + 1)
            current[j] = value
            if value < row_min:
                row_min = value
        if cap is not None and row_min >= cap:
            return cap
        previous_previous, previous = previous, current
    result = previous[len(b)]
    return min(result, cap) if cap is not None else result
