"""Quality control: agreement between annotators and aggregation of their labels.

Pure functions over NumPy arrays — no I/O, no database. The service layer reads a
project's annotations as a long table (task, annotator, value) and calls these.
README.md beside this file gives the formulas, tie rules and degenerate-case rules.
"""

from .aggregation import (
    BradleyTerryResult,
    CategoricalAggregation,
    bradley_terry,
    dawid_skene,
    glad,
    mace,
    majority_vote,
    one_coin_dawid_skene,
    pairs_from_rankings,
)
from .agreement import (
    AgreementReport,
    LabelAgreement,
    PairAgreement,
    agreement_report,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_agreement,
    per_label_agreement,
    percent_agreement,
)
from .intervals import Interval, wilson_interval, wilson_intervals
from .preferences import PreferenceAgreement, canonical_choices, preference_agreement
from .rankings import RankCorrelation, positions_from_orders, rank_correlation
from .scores import Score
from .spans import SpanAgreement, SpanScores, span_agreement

__all__ = [
    "AgreementReport",
    "BradleyTerryResult",
    "CategoricalAggregation",
    "Interval",
    "LabelAgreement",
    "PairAgreement",
    "PreferenceAgreement",
    "RankCorrelation",
    "Score",
    "SpanAgreement",
    "SpanScores",
    "agreement_report",
    "bradley_terry",
    "canonical_choices",
    "cohen_kappa",
    "dawid_skene",
    "fleiss_kappa",
    "glad",
    "krippendorff_alpha",
    "mace",
    "majority_vote",
    "one_coin_dawid_skene",
    "pairs_from_rankings",
    "pairwise_agreement",
    "per_label_agreement",
    "percent_agreement",
    "positions_from_orders",
    "preference_agreement",
    "rank_correlation",
    "span_agreement",
    "wilson_interval",
    "wilson_intervals",
]
