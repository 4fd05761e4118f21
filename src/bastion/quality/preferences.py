"""Agreement on pairwise preferences ("which response is better, A or B?").

To fight position bias the two candidates of a task are shown in random order, so the
raw answer "left"/"A" means different things for different annotators. Each annotation
therefore carries ``swapped``: True when the candidate shown first was the task's
canonical B. Agreement is measured **after undoing the swap**, on the canonical
outcomes {A, B, tie}:

- percent agreement, as in :func:`bastion.quality.agreement.percent_agreement`;
- Krippendorff's alpha, nominal, on the three outcomes.

Invariant: flipping ``swapped`` *and* the shown answer of any annotation changes
nothing. The trap: computing agreement on the shown answers rewards two annotators who
both always click "left" even when they saw opposite orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._ratings import code_ratings
from .agreement import _alpha, _percent, _TaskCounts
from .scores import Score
from ..domain.errors import InvalidInput

OUTCOMES: tuple[str, str, str] = ("A", "B", "tie")


@dataclass(frozen=True, slots=True)
class PreferenceAgreement:
    percent_agreement: Score
    krippendorff_alpha: Score

    def to_dict(self) -> dict[str, Any]:
        return {
            "percent_agreement": self.percent_agreement.to_dict(),
            "krippendorff_alpha": self.krippendorff_alpha.to_dict(),
        }


def canonical_choices(shown_choices: Any, swapped: Any) -> np.ndarray:
    """Map answers given on the shown order ("A" = shown first) to canonical outcomes."""
    choices = np.asarray(list(shown_choices) if not isinstance(shown_choices, np.ndarray) else shown_choices)
    flags = np.asarray(list(swapped) if not isinstance(swapped, np.ndarray) else swapped)
    if choices.shape != flags.shape:
        raise InvalidInput("each choice needs its swapped flag")
    if choices.size == 0:
        return np.zeros(0, dtype="<U3")
    choices = choices.astype(str)
    unknown = ~np.isin(choices, OUTCOMES)
    if np.any(unknown):
        raise InvalidInput(
            "a preference is 'A', 'B' or 'tie'",
            details={"values": sorted(set(choices[unknown].tolist()))[:10]},
        )
    if flags.dtype.kind != "b":
        raise InvalidInput("swapped flags must be booleans")
    flipped = np.where(choices == "A", "B", np.where(choices == "B", "A", "tie"))
    return np.where(flags, flipped, choices).astype("<U3")


def preference_agreement(tasks: Any, annotators: Any, shown_choices: Any, swapped: Any) -> PreferenceAgreement:
    """Percent agreement and nominal alpha on canonical {A, B, tie} outcomes."""
    canonical = canonical_choices(shown_choices, swapped)
    counts = _TaskCounts.of(code_ratings(tasks, annotators, canonical, categories=np.asarray(OUTCOMES)))
    return PreferenceAgreement(
        percent_agreement=_percent(counts),
        krippendorff_alpha=_alpha(counts, "nominal"),
    )
