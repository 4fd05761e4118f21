"""Property: a redacted item says which of its values are equal, and nothing about what they are.

Pseudonyms are numbered per task. So two items built on one template, whose
values differ but repeat in the same places, redact to the same text — whatever
was redacted before them. That is what makes an imported guess useless: right or
wrong, it comes back the same.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.redaction import compile_policy, load_policy

CODENAMES = ["Nightjar", "Bluewhistle", "Kestrel Prime", "Falcon"]
REDACTOR = compile_policy(load_policy({"dictionaries": {"codename": CODENAMES}}))
PLACES = ["Mail {email} about {codename}.", "{codename} is late, says {email}.", "Ask {email}", "({codename})"]

locals_ = st.from_regex(r"[a-z]{3,10}(\.[a-z]{2,6})?", fullmatch=True)


@st.composite
def two_fillings(draw: st.DrawFn) -> tuple[str, str]:
    """One template filled twice: different values, equal in the same places."""
    places = draw(st.lists(st.sampled_from(PLACES), min_size=1, max_size=6))
    slots = [(draw(st.integers(0, 2)), draw(st.integers(0, 3))) for _ in places]  # (which e-mail, which codename)
    emails = [draw(st.lists(locals_, min_size=3, max_size=3, unique=True)) for _ in range(2)]
    codenames = [draw(st.permutations(CODENAMES)) for _ in range(2)]

    def fill(k: int) -> str:
        return " ".join(
            place.format(email=f"{emails[k][e]}@example.com", codename=codenames[k][c])
            for place, (e, c) in zip(places, slots, strict=True)
        )

    return fill(0), fill(1)


@settings(max_examples=200, deadline=None)
@given(two_fillings(), st.lists(st.sampled_from(CODENAMES), max_size=4))
def test_items_equal_but_for_their_values_redact_alike(pair: tuple[str, str], before: list[str]) -> None:
    first, second = pair
    for name in before:  # other items of the project, redacted earlier by the same (cached) redactor
        REDACTOR.redact_item({"text": f"{name} and {name.lower()}@example.com"})
    one = REDACTOR.redact_item({"text": first}).data
    other = REDACTOR.redact_item({"text": second}).data
    assert one == other
    assert "@" not in one["text"] and not any(name in one["text"] for name in CODENAMES)
