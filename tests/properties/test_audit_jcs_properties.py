"""Property tests: the audit entries' JCS encoder against the reference RFC 8785 library.

``bastion.audit.entries`` hands entries without floats (and with member names whose
UTF-16 and code-point orders agree) to orjson and everything else to ``rfc8785``.
Hypothesis draws JSON values meant to hit the edges — floats of every size, integers at
2**53, names outside the BMP next to U+E000…U+FFFF, control characters — and the bytes
must be exactly what ``rfc8785.dumps`` writes, from the value and from the parsed line.
"""

from __future__ import annotations

import orjson
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.audit import canonical_bytes, leaf_bytes
from bastion.audit.entries import _jcs

SAFE = 2**53 - 1
# No lone surrogates: they are not Unicode text, and both encoders refuse them.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
NAMES = st.one_of(
    TEXT,
    st.sampled_from(["\ufb33", "\ue000", "\uffff", "\U0001f600", "\U00010000", "a\U0001f600", "a\ufb33", "\r", "1"]),
)
NUMBERS = st.one_of(
    st.integers(-SAFE, SAFE),
    st.sampled_from([SAFE, -SAFE, 2**53 - 2, 0]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e16, 1e21, 1e-7, 1e-6, 5e-324, 0.1 + 0.2, -0.0, 1.0, 123456789012345680000.0]),
)
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBERS, TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(NAMES, inner, max_size=6)),
    max_leaves=30,
)


@settings(max_examples=600, deadline=None)
@given(JSON)
def test_the_fast_path_writes_what_rfc_8785_writes(value) -> None:
    assert _jcs(value) == rfc8785.dumps(value)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(NAMES, JSON, max_size=6))
def test_an_entry_reads_back_to_the_same_bytes(details) -> None:
    entry = {
        "seq": 3,
        "id": "aud_1",
        "at": "2026-11-28T09:00:00.000000Z",
        "workspace": "ws_p",
        "actor": "usr_1",
        "action": "task.shown",
        "target": None,
        "details": details,
        "v": 2,
    }
    line = leaf_bytes(entry)
    assert line == rfc8785.dumps(entry)
    assert canonical_bytes(orjson.loads(line)) == line
