"""Property tests: the vectorised quality code against deliberately simple references.

Each ``reference_*`` function below is written straight from the textbook formula with
plain Python loops and dictionaries — slow, obvious, and independent of the NumPy code
under test. Hypothesis draws random long tables (missing values, duplicates, one
annotator, one label...) and both must agree to 1e-9, or both must say "undefined".
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter, defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.quality import (
    agreement_report,
    cohen_kappa,
    dawid_skene,
    fleiss_kappa,
    krippendorff_alpha,
    majority_vote,
    one_coin_dawid_skene,
    pairwise_agreement,
    per_label_agreement,
    percent_agreement,
    rank_correlation,
    span_agreement,
    wilson_interval,
)

TOLERANCE = 1e-9
FAST = settings(max_examples=60, deadline=None)


# ----------------------------------------------------------------------------- strategies


@st.composite
def long_tables(draw, max_tasks: int = 12, max_annotators: int = 5, max_values: int = 4, numeric: bool = False):
    """Rows (task, annotator, value); values may be None; pairs may repeat (last wins)."""
    n_rows = draw(st.integers(0, max_tasks * max_annotators))
    values = (
        st.one_of(st.none(), st.sampled_from([0.5, 1.0, 2.0, 3.5, 7.0, 10.0][: max_values + 2]))
        if numeric
        else st.one_of(st.none(), st.integers(0, max_values - 1))
    )
    rows = draw(
        st.lists(
            st.tuples(st.integers(0, max_tasks - 1), st.integers(0, max_annotators - 1), values),
            min_size=n_rows,
            max_size=n_rows,
        )
    )
    return rows


def columns(rows):
    return [r[0] for r in rows], [f"a{r[1]}" for r in rows], [r[2] for r in rows]


def deduplicated(rows) -> dict[int, dict[str, object]]:
    """task -> annotator -> value, missing values dropped, the last rating winning."""
    table: dict[int, dict[str, object]] = defaultdict(dict)
    for task, annotator, value in rows:
        if value is None:
            continue
        table[task][f"a{annotator}"] = value
    return table


def same(got, expected) -> bool:
    if expected is None:
        return got.value is None and bool(got.reason)
    return got.value is not None and math.isclose(got.value, expected, abs_tol=TOLERANCE)


# ----------------------------------------------------------------------------- references


def reference_units(rows) -> list[list]:
    return [list(by_annotator.values()) for by_annotator in deduplicated(rows).values() if len(by_annotator) >= 2]


def reference_percent(rows):
    units = reference_units(rows)
    if not units:
        return None
    shares = [sum(a == b for a, b in itertools.combinations(u, 2)) / (len(u) * (len(u) - 1) / 2) for u in units]
    return sum(shares) / len(shares)


def reference_fleiss(rows):
    units = reference_units(rows)
    if not units:
        return None
    observed = sum(sum(c * (c - 1) for c in Counter(u).values()) / (len(u) * (len(u) - 1)) for u in units) / len(units)
    totals = Counter(v for u in units for v in u)
    n = sum(totals.values())
    expected = sum((c / n) ** 2 for c in totals.values())
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def reference_alpha(rows, level):
    """Krippendorff (2011): coincidence matrix, then 1 - D_o / D_e."""
    units = reference_units(rows)
    if not units:
        return None
    coincidence: dict[tuple, float] = defaultdict(float)
    for unit in units:
        m = len(unit)
        for i, j in itertools.permutations(range(m), 2):
            coincidence[(unit[i], unit[j])] += 1 / (m - 1)
    n_c: dict[object, float] = defaultdict(float)
    for (c, _k), weight in coincidence.items():
        n_c[c] += weight
    n = sum(n_c.values())
    ordered = sorted(n_c)

    def delta(c, k):
        if level == "nominal":
            return 0.0 if c == k else 1.0
        if level == "interval":
            return (c - k) ** 2
        if level == "ratio":
            return 0.0 if c + k == 0 else ((c - k) / (c + k)) ** 2
        lo, hi = sorted((ordered.index(c), ordered.index(k)))
        between = sum(n_c[ordered[g]] for g in range(lo, hi + 1))
        return (between - (n_c[c] + n_c[k]) / 2) ** 2

    observed = sum(weight * delta(c, k) for (c, k), weight in coincidence.items())
    expected = sum(n_c[c] * n_c[k] * delta(c, k) for c in ordered for k in ordered) / (n - 1)
    if expected == 0:
        return None
    return 1 - observed / expected


def reference_cohen(a, b, weights):
    pairs = [(x, y) for x, y in zip(a, b, strict=True)]
    if not pairs:
        return None
    labels = sorted(set(a) | set(b))
    n = len(pairs)
    count_a = Counter(a)
    count_b = Counter(b)

    def w(i, j):
        d = abs(labels.index(i) - labels.index(j))
        return {None: float(d != 0), "linear": float(d), "quadratic": float(d * d)}[weights]

    observed = sum(w(x, y) for x, y in pairs) / n
    expected = sum(count_a[i] * count_b[j] * w(i, j) for i in labels for j in labels) / (n * n)
    if expected == 0:
        return None
    return 1 - observed / expected


def reference_kendall_tau_b(x, y):
    n = len(x)
    concordant = discordant = tied_x = tied_y = 0
    for i, j in itertools.combinations(range(n), 2):
        dx, dy = x[i] - x[j], y[i] - y[j]
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            tied_x += 1
        elif dy == 0:
            tied_y += 1
        elif dx * dy > 0:
            concordant += 1
        else:
            discordant += 1
    denominator = math.sqrt((concordant + discordant + tied_x) * (concordant + discordant + tied_y))
    if n < 2 or denominator == 0:
        return None
    return (concordant - discordant) / denominator


def reference_spearman(x, y):
    def ranks(values):
        out = []
        for v in values:
            below = sum(1 for w in values if w < v)
            equal = sum(1 for w in values if w == v)
            out.append(below + (equal + 1) / 2)
        return out

    if len(x) < 2:
        return None
    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def reference_spans(spans_a, spans_b, mode):
    a, b = set(spans_a), set(spans_b)

    def hit(span, others):
        if mode == "strict":
            return span in others
        return any(o[0] == span[0] and o[3] == span[3] and o[1] < span[2] and span[1] < o[2] for o in others)

    found_b = sum(hit(s, a) for s in b)
    found_a = sum(hit(s, b) for s in a)
    precision = found_b / len(b) if b else None
    recall = found_a / len(a) if a else None
    if not a and not b:
        f1 = None
    elif not a or not b:
        f1 = 0.0
    else:
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f1


# ----------------------------------------------------------------------------- equality


@FAST
@given(long_tables())
def test_percent_and_fleiss_equal_reference(rows) -> None:
    tasks, annotators, values = columns(rows)
    assert same(percent_agreement(tasks, annotators, values), reference_percent(rows))
    assert same(fleiss_kappa(tasks, annotators, values), reference_fleiss(rows))


@FAST
@given(long_tables(), st.sampled_from(["nominal", "ordinal"]))
def test_categorical_alpha_equals_reference(rows, level) -> None:
    tasks, annotators, values = columns(rows)
    assert same(krippendorff_alpha(tasks, annotators, values, level=level), reference_alpha(rows, level))


@FAST
@given(long_tables(numeric=True), st.sampled_from(["interval", "ratio", "ordinal"]))
def test_numeric_alpha_equals_reference(rows, level) -> None:
    tasks, annotators, values = columns(rows)
    assert same(krippendorff_alpha(tasks, annotators, values, level=level), reference_alpha(rows, level))


@FAST
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=30),
    st.sampled_from([None, "linear", "quadratic"]),
)
def test_cohen_kappa_equals_reference(pairs, weights) -> None:
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    assert same(cohen_kappa(a, b, weights=weights), reference_cohen(a, b, weights))


@FAST
@given(long_tables(max_annotators=4))
def test_per_pair_figures_equal_reference(rows) -> None:
    table = deduplicated(rows)
    tasks, annotators, values = columns(rows)
    for pair in pairwise_agreement(tasks, annotators, values):
        common = [t for t, r in table.items() if pair.annotator_a in r and pair.annotator_b in r]
        a = [table[t][pair.annotator_a] for t in common]
        b = [table[t][pair.annotator_b] for t in common]
        assert pair.n_tasks == len(common) > 0
        assert same(pair.percent_agreement, sum(x == y for x, y in zip(a, b, strict=True)) / len(a))
        assert same(pair.kappa, reference_cohen(a, b, None))


@FAST
@given(long_tables())
def test_per_label_kappa_is_fleiss_on_the_binarised_table(rows) -> None:
    tasks, annotators, values = columns(rows)
    for row in per_label_agreement(tasks, annotators, values):
        binary = [(t, a, None if v is None else v == row.label) for t, a, v in rows]
        assert same(row.kappa, reference_fleiss(binary))


@FAST
@given(
    st.lists(st.integers(0, 6), min_size=0, max_size=25).flatmap(
        lambda x: st.tuples(st.just(x), st.lists(st.integers(0, 6), min_size=len(x), max_size=len(x)))
    )
)
def test_rank_correlation_equals_reference(pair) -> None:
    x, y = pair
    result = rank_correlation(x, y)
    assert same(result.kendall_tau_b, reference_kendall_tau_b(x, y))
    assert same(result.spearman_rho, reference_spearman(x, y))


span = st.tuples(st.sampled_from(["d1", "d2"]), st.integers(0, 12), st.integers(1, 4), st.sampled_from(["X", "Y"]))


@FAST
@given(st.lists(span, max_size=10), st.lists(span, max_size=10), st.sampled_from(["strict", "overlap"]))
def test_span_agreement_equals_reference(raw_a, raw_b, mode) -> None:
    spans_a = [(doc, start, start + length, label) for doc, start, length, label in raw_a]
    spans_b = [(doc, start, start + length, label) for doc, start, length, label in raw_b]
    precision, recall, f1 = reference_spans(spans_a, spans_b, mode)
    result = span_agreement(spans_a, spans_b, mode=mode).overall
    assert same(result.precision, precision)
    assert same(result.recall, recall)
    assert same(result.f1, f1)


@FAST
@given(st.integers(0, 200).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))), st.floats(0.5, 0.999))
def test_wilson_equals_formula(counts, confidence) -> None:
    successes, n = counts
    interval = wilson_interval(successes, n, confidence)
    if n == 0:
        assert (interval.low, interval.high) == (0.0, 1.0)
        return
    z = _quantile_by_bisection(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert interval.low == pytest.approx(max(0.0, centre - half), abs=TOLERANCE)
    assert interval.high == pytest.approx(min(1.0, centre + half), abs=TOLERANCE)
    assert interval.low <= p <= interval.high


def _quantile_by_bisection(probability: float) -> float:
    low, high = -10.0, 10.0
    for _ in range(200):
        middle = (low + high) / 2
        if 0.5 * math.erfc(-middle / math.sqrt(2)) < probability:
            low = middle
        else:
            high = middle
    return (low + high) / 2


# ----------------------------------------------------------------------------- invariants


@FAST
@given(long_tables(), st.permutations(range(5)))
def test_figures_do_not_depend_on_annotator_names(rows, relabel) -> None:
    tasks, annotators, values = columns(rows)
    renamed = [f"a{relabel[r[1]]}" for r in rows]
    before = agreement_report(tasks, annotators, values, include_pairs=False)
    after = agreement_report(tasks, renamed, values, include_pairs=False)
    assert before == after


@FAST
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=30))
def test_cohen_kappa_is_symmetric_in_raters(pairs) -> None:
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    for weights in (None, "linear", "quadratic"):
        forward, backward = cohen_kappa(a, b, weights=weights), cohen_kappa(b, a, weights=weights)
        assert (forward.reason, forward.n_tasks) == (backward.reason, backward.n_tasks)
        assert same(forward, backward.value)


@FAST
@given(
    st.lists(st.integers(0, 4), min_size=1, max_size=15),
    st.integers(2, 5),
    st.sampled_from(["nominal", "ordinal", "interval", "ratio"]),
)
def test_perfect_agreement_gives_alpha_one_when_defined(truth, raters, level) -> None:
    tasks = [t for t in range(len(truth)) for _ in range(raters)]
    annotators = [r for _ in truth for r in range(raters)]
    values = [v + 1 for v in truth for _ in range(raters)]
    score = krippendorff_alpha(tasks, annotators, values, level=level)
    if len(set(truth)) > 1:
        assert score.value == pytest.approx(1.0, abs=TOLERANCE)
    else:
        assert score.value is None and score.reason


@FAST
@given(long_tables(), st.sampled_from(["nominal", "ordinal"]))
def test_report_is_always_finite_or_explained(rows, level) -> None:
    tasks, annotators, values = columns(rows)
    data = agreement_report(tasks, annotators, values, level=level).to_dict()
    text = json.dumps(data, allow_nan=False)  # raises on NaN or infinity

    def walk(node):
        if isinstance(node, dict):
            if "value" in node and "reason" in node:
                assert (node["value"] is None) == (node["reason"] is not None)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(json.loads(text))


@settings(max_examples=25, deadline=None)
@given(long_tables(max_tasks=15, max_annotators=5, max_values=3))
def test_aggregation_posteriors_are_distributions(rows) -> None:
    tasks, annotators, labels = columns(rows)
    for method in (majority_vote, dawid_skene, one_coin_dawid_skene):
        result = method(tasks, annotators, labels)
        assert np.all(np.isfinite(result.posteriors))
        if result.posteriors.size:
            np.testing.assert_allclose(result.posteriors.sum(axis=1), 1.0, atol=1e-9)
        assert np.all((result.skills >= 0) & (result.skills <= 1))


@settings(max_examples=25, deadline=None)
@given(long_tables(max_tasks=15, max_annotators=5, max_values=3))
def test_majority_vote_equals_counting(rows) -> None:
    table = deduplicated(rows)
    tasks, annotators, labels = columns(rows)
    result = majority_vote(tasks, annotators, labels, tie_seed="p")
    for task, label, confidence, tied in zip(
        result.tasks.tolist(), result.labels.tolist(), result.confidence.tolist(), result.tied.tolist(), strict=True
    ):
        counts = Counter(table[task].values())
        top = max(counts.values())
        winners = [v for v, c in counts.items() if c == top]
        assert label in winners and tied == (len(winners) > 1)  # a tie is drawn among the winners, and marked
        assert confidence == pytest.approx(top / sum(counts.values()))


# ------------------------------------------------------------------ labels survive aggregation whole

LABEL_TEXT = st.text(min_size=1, max_size=20)  # any character: "|", ",", quotes, spaces, newlines …


@settings(max_examples=60, deadline=None)
@given(labels=st.lists(LABEL_TEXT, min_size=2, max_size=6, unique=True), multiple=st.booleans(), data=st.data())
def test_aggregated_answers_are_made_of_whole_labels(labels, multiple, data) -> None:
    """Through the service the exports call: three annotators per task, majority vote; whatever the labels'
    characters, each aggregated answer is the majority's label (or label set), never a piece of one."""
    from bastion.services.quality import ProjectAnnotation, aggregate

    config = {"type": "classification", "labels": labels, "multiple": multiple}
    n_tasks = data.draw(st.integers(1, 4))
    answers = data.draw(
        st.lists(
            st.lists(
                st.lists(st.sampled_from(labels), min_size=1, unique=True) if multiple else st.sampled_from(labels),
                min_size=3,
                max_size=3,
            ),
            min_size=n_tasks,
            max_size=n_tasks,
        )
    )
    rows = [
        ProjectAnnotation(
            f"ann_{t}_{u}",
            "prj_1",
            f"tsk_{t}",
            f"usr_{u}",
            {"labels": answer} if multiple else {"label": answer},
            None,
            None,
            0,
            "none",
            False,
            None,
        )
        for t, task_answers in enumerate(answers)
        for u, answer in enumerate(task_answers)
    ]
    out = aggregate("classification", config, rows, "mv")
    for t, task_answers in enumerate(answers):
        got = out[f"tsk_{t}"]["label"]
        if multiple:
            votes = Counter(label for answer in task_answers for label in answer)
            assert got == [label for label in labels if votes[label] >= 2]
        else:
            votes = Counter(task_answers)
            top = max(votes.values())
            assert got in [label for label, n in votes.items() if n == top]
            assert out[f"tsk_{t}"]["tie"] == (top == 1)
