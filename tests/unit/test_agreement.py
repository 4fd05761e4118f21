"""Agreement metrics against reference values produced once by the reference libraries.

The numbers in ``tests/fixtures/quality/agreement.json`` come from krippendorff,
statsmodels, scikit-learn, seqeval and scipy (see ``generate_reference.py``); the tests
themselves import none of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bastion.domain.errors import InvalidInput
from bastion.quality import (
    agreement_report,
    canonical_choices,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_agreement,
    per_label_agreement,
    percent_agreement,
    positions_from_orders,
    preference_agreement,
    rank_correlation,
    span_agreement,
    wilson_interval,
)
from bastion.quality.intervals import normal_quantile, wilson_intervals

FIXTURES = json.loads((Path(__file__).parents[1] / "fixtures" / "quality" / "agreement.json").read_text())
TOLERANCE = 1e-9
LEVELS = ("nominal", "ordinal", "interval", "ratio")


def by_name(section: str) -> list:
    return [pytest.param(case, id=case["name"]) for case in FIXTURES[section]]


# ------------------------------------------------------------------ Krippendorff's alpha


@pytest.mark.parametrize("case", by_name("alpha"))
@pytest.mark.parametrize("level", LEVELS)
def test_alpha_equals_krippendorff_package(case: dict, level: str) -> None:
    score = krippendorff_alpha(case["tasks"], case["annotators"], case["values"], level=level)
    assert score.value == pytest.approx(case["alpha"][level], abs=TOLERANCE)


def test_alpha_textbook_example_c_krippendorff_2011() -> None:
    case = FIXTURES["alpha"][0]
    assert case["name"] == "krippendorff_2011_example_c"
    published = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}
    for level, value in published.items():
        score = krippendorff_alpha(case["tasks"], case["annotators"], case["values"], level=level)
        assert round(score.value, 3) == value
        assert score.n_tasks == 11  # unit 12 has a single value and is not pairable
        assert score.n_ratings == 40


def test_alpha_ordinal_strings_need_ordered_categories() -> None:
    words = ["low", "mid", "high"]
    tasks = [1, 1, 2, 2, 3, 3]
    annotators = ["x", "y"] * 3
    values = ["low", "mid", "high", "high", "mid", "mid"]
    with pytest.raises(InvalidInput):
        krippendorff_alpha(tasks, annotators, values, level="ordinal")
    as_words = krippendorff_alpha(tasks, annotators, values, level="ordinal", categories=words)
    as_numbers = krippendorff_alpha(tasks, annotators, [words.index(v) for v in values], level="ordinal")
    assert as_words.value == pytest.approx(as_numbers.value, abs=TOLERANCE)


def test_alpha_interval_is_stable_for_large_offsets() -> None:
    case = FIXTURES["alpha"][1]
    shifted = [None if v is None else v + 1e6 for v in case["values"]]
    plain = krippendorff_alpha(case["tasks"], case["annotators"], case["values"], level="interval")
    moved = krippendorff_alpha(case["tasks"], case["annotators"], shifted, level="interval")
    assert moved.value == pytest.approx(plain.value, abs=1e-9)


# ------------------------------------------------------------------ percent agreement, Fleiss


@pytest.mark.parametrize("case", by_name("alpha") + by_name("fleiss"))
def test_percent_agreement_equals_enumerated_pairs(case: dict) -> None:
    score = percent_agreement(case["tasks"], case["annotators"], case["values"])
    assert score.value == pytest.approx(case["percent_agreement"], abs=TOLERANCE)


@pytest.mark.parametrize("case", by_name("fleiss"))
def test_fleiss_kappa_equals_statsmodels(case: dict) -> None:
    score = fleiss_kappa(case["tasks"], case["annotators"], case["values"])
    assert score.value == pytest.approx(case["fleiss_kappa"], abs=TOLERANCE)


def test_fleiss_kappa_textbook_1971_example() -> None:
    case = FIXTURES["fleiss"][0]
    assert case["name"] == "fleiss_1971"
    score = fleiss_kappa(case["tasks"], case["annotators"], case["values"])
    assert round(score.value, 3) == 0.430
    assert (score.n_tasks, score.n_ratings) == (30, 180)


@pytest.mark.parametrize("case", by_name("fleiss"))
def test_per_label_kappa_equals_statsmodels_on_binarised_table(case: dict) -> None:
    rows = {row.label: row for row in per_label_agreement(case["tasks"], case["annotators"], case["values"])}
    for label, expected in case["per_label_kappa"].items():
        got = rows[float(label)].kappa
        if expected is None:
            assert got.value is None and got.reason
        else:
            assert got.value == pytest.approx(expected, abs=TOLERANCE)


@pytest.mark.parametrize("case", by_name("fleiss"))
def test_per_pair_kappa_equals_scikit_learn(case: dict) -> None:
    pairs = pairwise_agreement(case["tasks"], case["annotators"], case["values"])
    assert {f"{p.annotator_a}|{p.annotator_b}" for p in pairs} == set(case["per_pair"])
    for pair in pairs:
        expected = case["per_pair"][f"{pair.annotator_a}|{pair.annotator_b}"]
        assert pair.percent_agreement.value == pytest.approx(expected["percent"], abs=TOLERANCE)
        if expected["kappa"] is None:
            assert pair.kappa.value is None
        else:
            assert pair.kappa.value == pytest.approx(expected["kappa"], abs=TOLERANCE)


def test_specific_agreement_for_two_raters_is_2a_over_2a_b_c() -> None:
    # a = both say "x" (3 tasks), b = only the first says "x" (1), c = only the second (2).
    first = ["x", "x", "x", "x", "y", "y", "y"]
    second = ["x", "x", "x", "y", "x", "x", "y"]
    tasks = list(range(7)) * 2
    annotators = ["p"] * 7 + ["q"] * 7
    rows = {row.label: row for row in per_label_agreement(tasks, annotators, first + second)}
    assert rows["x"].specific_agreement.value == pytest.approx(2 * 3 / (2 * 3 + 1 + 2))
    assert rows["y"].specific_agreement.value == pytest.approx(2 * 1 / (2 * 1 + 1 + 2))


# ------------------------------------------------------------------ Cohen's kappa


@pytest.mark.parametrize("case", by_name("cohen"))
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_equals_scikit_learn_and_statsmodels(case: dict, weights: str | None) -> None:
    score = cohen_kappa(case["a"], case["b"], weights=weights)
    assert score.value == pytest.approx(case["kappa"][weights or "none"], abs=TOLERANCE)
    assert score.n_tasks == len(case["a"])


def test_cohen_kappa_drops_pairs_with_a_missing_side() -> None:
    full = cohen_kappa([1, 2, 2, 3], [1, 2, 3, 3])
    holes = cohen_kappa([1, None, 2, 2, 3, float("nan")], [1, 3, 2, 3, 3, 1])
    assert holes.value == pytest.approx(full.value)
    assert holes.n_tasks == 4


def test_cohen_weights_use_category_positions() -> None:
    # The numeric gaps (1 -> 10 -> 11) do not matter, only the positions 0, 1, 2.
    spread = cohen_kappa([1, 10, 11, 10], [10, 10, 11, 1], weights="linear")
    compact = cohen_kappa([0, 1, 2, 1], [1, 1, 2, 0], weights="linear")
    assert spread.value == pytest.approx(compact.value)


# ------------------------------------------------------------------ spans


@pytest.mark.parametrize("case", by_name("spans"))
def test_strict_span_scores_equal_seqeval(case: dict) -> None:
    result = span_agreement([tuple(s) for s in case["spans_a"]], [tuple(s) for s in case["spans_b"]])
    assert result.overall.precision.value == pytest.approx(case["precision"], abs=TOLERANCE)
    assert result.overall.recall.value == pytest.approx(case["recall"], abs=TOLERANCE)
    assert result.overall.f1.value == pytest.approx(case["f1"], abs=TOLERANCE)
    per_label = {row.label: row for row in result.per_label}
    for label, expected in case["per_label"].items():
        row = per_label[label]
        assert row.n_reference == expected["support"]
        assert row.recall.value == pytest.approx(expected["recall"], abs=TOLERANCE)
        assert (row.precision.value or 0.0) == pytest.approx(expected["precision"], abs=TOLERANCE)
        assert row.f1.value == pytest.approx(expected["f1-score"], abs=TOLERANCE)


def test_overlap_spans_match_on_shared_units_only() -> None:
    reference = [("d", 0, 3, "PER"), ("d", 5, 8, "ORG"), ("d", 10, 12, "PER")]
    candidate = [("d", 2, 4, "PER"), ("d", 3, 5, "ORG"), ("d", 9, 11, "LOC"), ("e", 0, 3, "PER")]
    result = span_agreement(reference, candidate, mode="overlap")
    # Only (2, 4, PER) overlaps a reference span of its label; (3, 5, ORG) merely touches.
    assert result.overall.precision.value == pytest.approx(1 / 4)
    assert result.overall.recall.value == pytest.approx(1 / 3)
    assert result.overall.f1.value == pytest.approx(2 * (1 / 4) * (1 / 3) / (1 / 4 + 1 / 3))
    strict = span_agreement(reference, candidate)
    assert strict.overall.f1.value == 0.0


def test_overlap_counts_one_span_covering_several() -> None:
    reference = [("d", 0, 2, "X"), ("d", 4, 6, "X")]
    candidate = [("d", 1, 5, "X")]
    result = span_agreement(reference, candidate, mode="overlap")
    assert (result.overall.precision.value, result.overall.recall.value) == (1.0, 1.0)


def test_span_degenerate_rules() -> None:
    neither = span_agreement([], [])
    assert neither.overall.f1.value is None and neither.overall.f1.reason
    only_reference = span_agreement([("d", 0, 1, "X")], [])
    assert only_reference.overall.precision.value is None
    assert only_reference.overall.recall.value == 0.0
    assert only_reference.overall.f1.value == 0.0
    duplicates = span_agreement([("d", 0, 1, "X"), ("d", 0, 1, "X")], [("d", 0, 1, "X")])
    assert duplicates.overall.f1.value == 1.0


def test_span_rejects_empty_or_reversed_ranges() -> None:
    with pytest.raises(InvalidInput):
        span_agreement([("d", 3, 3, "X")], [])
    with pytest.raises(InvalidInput):
        span_agreement([("d", 0, 1)], [])


# ------------------------------------------------------------------ preferences


@pytest.mark.parametrize("case", by_name("preferences"))
def test_preference_agreement_undoes_the_swap(case: dict) -> None:
    result = preference_agreement(case["tasks"], case["annotators"], case["shown"], case["swapped"])
    assert result.krippendorff_alpha.value == pytest.approx(case["alpha"], abs=TOLERANCE)
    assert result.percent_agreement.value == pytest.approx(case["percent_agreement"], abs=TOLERANCE)


def test_preference_flipping_shown_order_and_answer_changes_nothing() -> None:
    case = FIXTURES["preferences"][0]
    flipped_choices = canonical_choices(case["shown"], [True] * len(case["shown"]))
    flipped_swaps = [not s for s in case["swapped"]]
    before = preference_agreement(case["tasks"], case["annotators"], case["shown"], case["swapped"])
    after = preference_agreement(case["tasks"], case["annotators"], flipped_choices, flipped_swaps)
    assert after == before


def test_preference_answers_must_be_known() -> None:
    with pytest.raises(InvalidInput):
        canonical_choices(["left"], [False])


# ------------------------------------------------------------------ rankings


@pytest.mark.parametrize("case", by_name("rankings"))
def test_rank_correlation_equals_scipy(case: dict) -> None:
    result = rank_correlation(case["a"], case["b"])
    assert result.kendall_tau_b.value == pytest.approx(case["kendall_tau_b"], abs=TOLERANCE)
    assert result.spearman_rho.value == pytest.approx(case["spearman_rho"], abs=TOLERANCE)


def test_rank_correlation_degenerate() -> None:
    constant = rank_correlation([1, 1, 1], [1, 2, 3])
    assert constant.kendall_tau_b.value is None and constant.spearman_rho.value is None
    single = rank_correlation([1], [1])
    assert single.kendall_tau_b.reason and single.spearman_rho.reason
    reversed_order = rank_correlation([1, 2, 3, 4], [4, 3, 2, 1])
    assert reversed_order.kendall_tau_b.value == -1.0
    assert reversed_order.spearman_rho.value == -1.0


def test_positions_from_orders_keeps_common_candidates() -> None:
    a, b = positions_from_orders(["x", "y", "z", "w"], ["z", "x", "y"])
    assert a.tolist() == [0.0, 1.0, 2.0] and b.tolist() == [1.0, 2.0, 0.0]  # x, y, z


# ------------------------------------------------------------------ Wilson interval


@pytest.mark.parametrize("case", FIXTURES["wilson"])
def test_wilson_interval_equals_statsmodels(case: dict) -> None:
    interval = wilson_interval(case["successes"], case["n"], confidence=case["confidence"])
    assert interval.low == pytest.approx(case["low"], abs=1e-12)
    assert interval.high == pytest.approx(case["high"], abs=1e-12)
    assert interval.low <= interval.estimate <= interval.high


def test_wilson_without_trials_is_uninformative() -> None:
    interval = wilson_interval(0, 0)
    assert (interval.estimate, interval.low, interval.high) == (None, 0.0, 1.0)
    low, high = wilson_intervals([0, 3], [0, 4])
    assert low[0] == 0.0 and high[0] == 1.0 and 0 < low[1] < 0.75 < high[1] < 1


def test_wilson_rejects_impossible_counts() -> None:
    with pytest.raises(InvalidInput):
        wilson_interval(5, 4)
    with pytest.raises(InvalidInput):
        wilson_interval(1, 4, confidence=1.0)


def test_normal_quantile_matches_known_values() -> None:
    assert normal_quantile(0.975) == pytest.approx(1.959963984540054, abs=1e-14)
    assert normal_quantile(0.5) == pytest.approx(0.0, abs=1e-15)
    assert normal_quantile(1e-10) == pytest.approx(-6.361340902404056, abs=1e-12)


# ------------------------------------------------------------------ degenerate inputs


@pytest.mark.parametrize(
    ("tasks", "annotators", "values", "reason_word"),
    [
        ([], [], [], "two or more"),  # no tasks
        ([1, 2, 3], ["a", "a", "a"], ["x", "y", "x"], "two or more"),  # a single annotator
        ([1, 1, 2], ["a", "b", "a"], [None, None, float("nan")], "two or more"),  # all missing
        ([1, 1, 2, 2], ["a", "b", "a", "b"], ["x", "x", "x", "x"], "same"),  # one label only
    ],
    ids=["no-tasks", "single-annotator", "all-missing", "one-label"],
)
def test_degenerate_inputs_are_undefined_not_errors(tasks, annotators, values, reason_word) -> None:
    report = agreement_report(tasks, annotators, values)
    for score in (report.fleiss_kappa, report.krippendorff_alpha):
        assert score.value is None
        assert reason_word in score.reason
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert "NaN" not in text


def test_one_label_only_has_full_percent_agreement() -> None:
    score = percent_agreement([1, 1, 2, 2], ["a", "b", "a", "b"], ["x"] * 4)
    assert score.value == 1.0


def test_cohen_kappa_degenerate() -> None:
    assert cohen_kappa([], []).value is None
    same = cohen_kappa(["x", "x"], ["x", "x"])
    assert same.value is None and "same category" in same.reason
    assert cohen_kappa(["x", "y"], ["x", "y"]).value == 1.0


def test_duplicate_rating_keeps_the_last() -> None:
    tasks = [1, 1, 1, 2, 2]
    annotators = ["a", "b", "a", "a", "b"]
    values = ["x", "y", "y", "x", "x"]  # a's first answer on task 1 is replaced by "y"
    assert percent_agreement(tasks, annotators, values).value == 1.0


def test_report_serialises_to_strict_json() -> None:
    case = FIXTURES["fleiss"][1]
    report = agreement_report(case["tasks"], case["annotators"], case["values"])
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["fleiss_kappa"]["value"] == pytest.approx(case["fleiss_kappa"], abs=TOLERANCE)
    assert len(data["per_pair"]) == len(case["per_pair"])
    assert data["per_label"][0]["label"] == 0.0


def test_invalid_input_is_rejected() -> None:
    with pytest.raises(InvalidInput):
        percent_agreement([1, 2], ["a"], ["x", "y"])
    with pytest.raises(InvalidInput):
        krippendorff_alpha([1, 1], ["a", "b"], ["x", "y"], level="cardinal")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        krippendorff_alpha([1, 1], ["a", "b"], ["x", "y"], level="interval")
    with pytest.raises(InvalidInput):
        krippendorff_alpha([1, 1], ["a", "b"], [1, 4], categories=[1, 2, 3])
    with pytest.raises(InvalidInput):
        cohen_kappa([1], [1], weights="cubic")  # type: ignore[arg-type]


def test_numpy_and_list_inputs_agree() -> None:
    case = FIXTURES["alpha"][3]
    values = np.array([np.nan if v is None else v for v in case["values"]])
    as_arrays = krippendorff_alpha(np.array(case["tasks"]), np.array(case["annotators"]), values, level="interval")
    as_lists = krippendorff_alpha(case["tasks"], case["annotators"], case["values"], level="interval")
    assert as_arrays == as_lists


def test_report_for_interval_data_has_no_per_label_rows() -> None:
    case = FIXTURES["alpha"][2]
    report = agreement_report(case["tasks"], case["annotators"], case["values"], level="interval")
    assert report.per_label == []
    assert report.krippendorff_alpha.value == pytest.approx(case["alpha"]["interval"], abs=TOLERANCE)
    assert report.n_annotators == len(set(case["annotators"]))
