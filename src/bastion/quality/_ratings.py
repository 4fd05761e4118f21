"""The long table every quality function starts from: (task, annotator, value) rows.

Callers hand over three parallel sequences (Python lists or NumPy arrays). This module
turns them into integer codes once, so the metrics and aggregators work on dense
``int64`` arrays and never loop in Python over rows.

Invariants of a :class:`Ratings`:

- missing values (``None`` or NaN) are dropped, so every row is an observed rating;
- at most one rating per (task, annotator): when a pair repeats, the **last** row wins
  (an annotator who edits an answer replaces it);
- rows are sorted by task, then annotator, so per-task sums are contiguous slices;
- ``categories`` is the sorted set of observed values (or the caller's ordered domain),
  and ``value_codes`` index into it.

The trap: ``np.asarray`` on a list that mixes ``None`` with strings yields an object
array whose ``np.unique`` fails or sorts oddly; missing values are filtered *before*
the array is typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Ratings:
    """Coded long table; see the module docstring for its invariants."""

    task_codes: np.ndarray  # int64, sorted ascending
    annotator_codes: np.ndarray  # int64
    value_codes: np.ndarray  # int64 into ``categories``
    tasks: np.ndarray  # unique task ids, sorted
    annotators: np.ndarray  # unique annotator ids, sorted
    categories: np.ndarray  # ordered value domain
    source_rows: np.ndarray  # position of each kept row in the caller's sequences

    @property
    def n_ratings(self) -> int:
        return int(self.task_codes.size)

    def values(self) -> np.ndarray:
        """The rated values themselves (as float where the domain is numeric)."""
        return self.categories[self.value_codes]


def missing_mask(values: Any) -> np.ndarray:
    """True where a value is missing (``None`` or a float NaN)."""
    array = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if array.dtype.kind == "f":
        return np.isnan(array)
    if array.dtype.kind == "O":
        # Element-wise comparisons run in C: None equals None, and only NaN differs from itself.
        return np.equal(array, None) | np.not_equal(array, array)  # type: ignore[call-overload]  # object arrays
    return np.zeros(array.shape, dtype=bool)


def as_array(values: Any) -> np.ndarray:
    """A 1-D array of the values, typed from the values themselves (not object)."""
    if isinstance(values, np.ndarray):
        array = values
    else:
        array = np.asarray(list(values) if not isinstance(values, (list, tuple)) else values)
    if array.ndim != 1:
        raise InvalidInput(f"expected a flat sequence, got shape {array.shape}")
    if array.dtype.kind == "O" and array.size:
        # Re-type now that missing values are gone, so np.unique sorts naturally.
        array = np.asarray(array.tolist())
    return array


def code_ratings(
    tasks: Any,
    annotators: Any,
    values: Any,
    *,
    categories: Any = None,
) -> Ratings:
    """Validate and code a long table of ratings.

    ``categories`` fixes the value domain and its order (needed for ordinal strings
    and for weighted kappa); values outside it are an :class:`InvalidInput`.
    """
    task_array = np.asarray(tasks) if isinstance(tasks, np.ndarray) else np.asarray(list(tasks))
    annotator_array = np.asarray(annotators) if isinstance(annotators, np.ndarray) else np.asarray(list(annotators))
    value_raw = values if isinstance(values, np.ndarray) else np.asarray(list(values), dtype=object)
    if not (task_array.shape[0] == annotator_array.shape[0] == value_raw.shape[0]):
        raise InvalidInput(
            "tasks, annotators and values must have the same length",
            details={
                "tasks": int(task_array.shape[0]),
                "annotators": int(annotator_array.shape[0]),
                "values": int(value_raw.shape[0]),
            },
        )
    keep = ~missing_mask(value_raw)
    task_array = task_array[keep]
    annotator_array = annotator_array[keep]
    value_array = as_array(value_raw[keep])

    tasks_unique, task_codes = factorize(task_array)
    annotators_unique, annotator_codes = factorize(annotator_array)
    if categories is None:
        domain, value_codes = factorize(value_array)
    else:
        domain = as_array(categories)
        if np.unique(domain).size != domain.size:
            raise InvalidInput("categories must not repeat a value")
        value_codes = _codes_in_domain(value_array, domain)

    task_codes = task_codes.astype(np.int64).ravel()
    annotator_codes = annotator_codes.astype(np.int64).ravel()
    value_codes = value_codes.astype(np.int64).ravel()

    # Sort by (task, annotator) keeping input order inside a pair, then keep the last.
    n_annotators = max(int(annotators_unique.size), 1)
    pair_key = task_codes * n_annotators + annotator_codes
    order = np.argsort(pair_key, kind="stable")
    pair_key = pair_key[order]
    is_last = np.ones(pair_key.size, dtype=bool)
    is_last[:-1] = pair_key[1:] != pair_key[:-1]
    order = order[is_last]
    return Ratings(
        task_codes=task_codes[order],
        annotator_codes=annotator_codes[order],
        value_codes=value_codes[order],
        tasks=tasks_unique,
        annotators=annotators_unique,
        categories=domain,
        source_rows=np.flatnonzero(keep)[order],
    )


def factorize(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique values and the code of each element (``np.unique`` semantics).

    Integer ids in a compact range take a counting path, O(n + range) with no sort —
    the common case of database ids — and anything else goes through ``np.unique``.
    """
    if array.dtype.kind in "iu" and array.size:
        low = int(array.min())
        span = int(array.max()) - low + 1
        if span <= 4 * array.size + 1024:
            shifted = (array - low).astype(np.intp)
            present = np.bincount(shifted, minlength=span) > 0
            code_of = np.cumsum(present) - 1
            uniques = (np.flatnonzero(present) + low).astype(array.dtype)
            return uniques, code_of[shifted]
    uniques, codes = np.unique(array, return_inverse=True)
    return uniques, codes.ravel()


def _codes_in_domain(values: np.ndarray, domain: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    sorter = np.argsort(domain, kind="stable")
    sorted_domain = domain[sorter]
    try:
        position = np.searchsorted(sorted_domain, values)
    except TypeError as exc:
        raise InvalidInput("values and categories are of different kinds") from exc
    position = np.clip(position, 0, sorted_domain.size - 1)
    found = sorted_domain[position] == values
    if not np.all(found):
        outside = np.unique(values[~found])[:10].tolist()
        raise InvalidInput(
            "some values are not among the given categories",
            details={"values": [str(v) for v in outside]},
        )
    return sorter[position]


def group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Start index of each run of equal keys in a sorted array."""
    if sorted_keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    return np.concatenate(([0], change)).astype(np.int64)
