"""Agreement between two annotators' span sets (named entities, highlights).

A span is ``(task, start, end, label)`` with a half-open range ``[start, end)`` in any
integer unit (characters or tokens). Annotator A plays the reference, B the candidate:

- **strict**: a span matches when task, start, end and label are all equal. Spans are a
  *set*: an exact duplicate counts once. Precision = matched / |B|, recall = matched /
  |A|. F1 = 2·matched / (|A| + |B|). Over token spans this is seqeval's entity-level
  micro precision/recall/F1 on the equivalent BIO tagging (default, non-strict mode),
  because BIO chunks are exactly (type, first token, last token) triples.
- **overlap**: a B span counts as correct when it overlaps (shares at least one unit
  with) some A span of the same task and label; an A span counts as found when some B
  span of the same task and label overlaps it. One span may match several. F1 is the
  harmonic mean of precision and recall.

Degenerate rules: precision is undefined when B has no span, recall when A has none;
F1 is undefined when neither has a span and 0 when exactly one side is empty.

The trap: with half-open ranges, ``[0, 3)`` and ``[3, 5)`` touch but do not overlap.
Per-label figures are computed for all labels at once (no loop over spans).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .scores import Score, defined, undefined
from ..domain.errors import InvalidInput

Mode = Literal["strict", "overlap"]

NO_CANDIDATE_SPAN = "the second annotator marked no span"
NO_REFERENCE_SPAN = "the first annotator marked no span"
NO_SPAN = "neither annotator marked a span"


@dataclass(frozen=True, slots=True)
class SpanScores:
    """Precision, recall and F1 of one label (or of all labels, ``label=None``)."""

    label: Any
    n_reference: int
    n_candidate: int
    precision: Score
    recall: Score
    f1: Score

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label.item() if isinstance(self.label, np.generic) else self.label,
            "n_reference": self.n_reference,
            "n_candidate": self.n_candidate,
            "precision": self.precision.to_dict(),
            "recall": self.recall.to_dict(),
            "f1": self.f1.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class SpanAgreement:
    mode: str
    overall: SpanScores
    per_label: list[SpanScores] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "overall": self.overall.to_dict(),
            "per_label": [row.to_dict() for row in self.per_label],
        }


def span_agreement(spans_a: Any, spans_b: Any, *, mode: Mode = "strict") -> SpanAgreement:
    """Compare two annotators' spans; each is a sequence of ``(task, start, end, label)``."""
    if mode not in ("strict", "overlap"):
        raise InvalidInput(f"unknown span matching mode {mode!r}; use 'strict' or 'overlap'")
    task_a, start_a, end_a, label_a = _columns(spans_a)
    task_b, start_b, end_b, label_b = _columns(spans_b)

    # Shared codes for tasks and labels so that both sides compare as integers.
    _, task_codes = np.unique(_joined(task_a, task_b), return_inverse=True)
    labels, label_codes = np.unique(_joined(label_a, label_b), return_inverse=True)
    task_codes, label_codes = task_codes.ravel(), label_codes.ravel()
    n_a = task_a.size
    a = np.stack([task_codes[:n_a], start_a, end_a, label_codes[:n_a]], axis=1).astype(np.int64)
    b = np.stack([task_codes[n_a:], start_b, end_b, label_codes[n_a:]], axis=1).astype(np.int64)
    a = np.unique(a, axis=0) if a.size else a.reshape(0, 4)
    b = np.unique(b, axis=0) if b.size else b.reshape(0, 4)

    if mode == "strict":
        found_b = _rows_in(b, a)
        found_a = _rows_in(a, b)
    else:
        found_b = _overlaps_any(b, a)
        found_a = _overlaps_any(a, b)

    k = int(labels.size)
    ref_per_label = np.bincount(a[:, 3], minlength=k)
    cand_per_label = np.bincount(b[:, 3], minlength=k)
    found_a_per_label = np.bincount(a[:, 3], found_a.astype(np.float64), minlength=k)
    found_b_per_label = np.bincount(b[:, 3], found_b.astype(np.float64), minlength=k)
    overall = _scores(None, int(a.shape[0]), int(b.shape[0]), float(found_a.sum()), float(found_b.sum()))
    per_label = [
        _scores(
            labels[index].item() if isinstance(labels[index], np.generic) else labels[index],
            int(ref_per_label[index]),
            int(cand_per_label[index]),
            float(found_a_per_label[index]),
            float(found_b_per_label[index]),
        )
        for index in range(k)  # one row per label for the report
    ]
    return SpanAgreement(mode=mode, overall=overall, per_label=per_label)


def _scores(label: Any, n_ref: int, n_cand: int, found_ref: float, found_cand: float) -> SpanScores:
    if n_cand:
        precision = defined(found_cand / n_cand, n_ratings=n_cand)
    else:
        precision = undefined(NO_CANDIDATE_SPAN)
    if n_ref:
        recall = defined(found_ref / n_ref, n_ratings=n_ref)
    else:
        recall = undefined(NO_REFERENCE_SPAN)
    if not n_ref and not n_cand:
        f1 = undefined(NO_SPAN)
    elif not n_ref or not n_cand:
        f1 = defined(0.0, n_ratings=n_ref + n_cand)
    else:
        p = found_cand / n_cand
        r = found_ref / n_ref
        f1 = defined(0.0 if p + r == 0 else 2 * p * r / (p + r), n_ratings=n_ref + n_cand)
    return SpanScores(label=label, n_reference=n_ref, n_candidate=n_cand, precision=precision, recall=recall, f1=f1)


def _columns(spans: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rows = list(spans)
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(0, dtype=np.int64)
    if any(len(row) != 4 for row in rows):
        raise InvalidInput("a span is (task, start, end, label)")
    task, start, end, label = (np.asarray(column) for column in zip(*rows, strict=True))
    if start.dtype.kind not in "iu" or end.dtype.kind not in "iu":
        raise InvalidInput("span offsets must be integers")
    if np.any(end <= start) or np.any(start < 0):
        raise InvalidInput("a span needs 0 <= start < end")
    return task, start.astype(np.int64), end.astype(np.int64), label


def _joined(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    # An empty side has no dtype of its own; let the other side's ids decide.
    if first.size == 0:
        return second
    if second.size == 0:
        return first
    try:
        return np.concatenate([first, second])
    except TypeError as exc:
        raise InvalidInput("both annotators' spans must use ids and labels of the same kind") from exc


def _rows_in(rows: np.ndarray, other: np.ndarray) -> np.ndarray:
    """True for each (unique) row that also appears in ``other`` (unique rows)."""
    if rows.shape[0] == 0 or other.shape[0] == 0:
        return np.zeros(rows.shape[0], dtype=bool)
    both = np.concatenate([rows, other])
    _, inverse, counts = np.unique(both, axis=0, return_inverse=True, return_counts=True)
    return counts[inverse.ravel()[: rows.shape[0]]] > 1


def _overlaps_any(rows: np.ndarray, other: np.ndarray) -> np.ndarray:
    """True for each row overlapping at least one span of ``other`` with the same task and label.

    ``other`` is sorted by (task, label, start); the running maximum of ``end`` within each
    (task, label) group tells whether any span starting before a row's end reaches past
    its start.
    """
    if rows.shape[0] == 0 or other.shape[0] == 0:
        return np.zeros(rows.shape[0], dtype=bool)
    n_labels = int(max(rows[:, 3].max(), other[:, 3].max())) + 1
    group_other = other[:, 0] * n_labels + other[:, 3]
    group_rows = rows[:, 0] * n_labels + rows[:, 3]
    span = int(max(rows[:, 2].max(), other[:, 2].max())) + 1
    key_other = group_other * span + other[:, 1]
    order = np.argsort(key_other, kind="stable")
    key_other = key_other[order]
    group_sorted = group_other[order]
    end_sorted = other[order, 2]
    # Offsetting each group above the previous one makes a global running max group-local.
    _, group_rank = np.unique(group_sorted, return_inverse=True)
    running_end = np.maximum.accumulate(group_rank * span + end_sorted) - group_rank * span
    last_before_end = np.searchsorted(key_other, group_rows * span + rows[:, 2], side="left") - 1
    valid = last_before_end >= 0
    index = np.where(valid, last_before_end, 0)
    same_group = group_sorted[index] == group_rows
    return valid & same_group & (running_end[index] > rows[:, 1])
