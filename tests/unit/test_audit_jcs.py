"""Audit entries in RFC 8785 (JCS): the RFC's own vectors, and logs that mix them with legacy entries."""

from __future__ import annotations

import math
import struct
from datetime import timedelta
from typing import Any

import orjson
import pytest

from bastion.audit import (
    AuditEntry,
    Frontier,
    InvalidAuditEntry,
    ProblemKind,
    canonical_bytes,
    entry_line,
    format_timestamp,
    generate_signing_key,
    leaf_bytes,
    leaf_hash,
    parse_entry_line,
    sign_checkpoint,
    verifier_key_string,
    verify_log,
)

NAME = "bastion.example"
WS = "ws_jcs"
ORIGIN = f"{NAME}/{WS}"

# RFC 8785 Appendix B: IEEE 754 bit patterns and their JCS spelling.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]
NOT_NUMBERS = ["7fffffffffffffff", "7ff0000000000000"]  # NaN, Infinity: errors in JCS

# RFC 8785 section 3.2.2 (primitives) and 3.2.3 (sorting by UTF-16 code units).
PRIMITIVES_IN = (
    '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
    ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
    ' "literals": [null, true, false]}'
)
PRIMITIVES_OUT = (
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
    '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
).encode()
SORTING = {
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\U0001f600": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis",
}
SORTED_KEYS = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def double(bits: str) -> float:
    return struct.unpack(">d", bytes.fromhex(bits))[0]


def jcs_entry(seq: int, details: dict[str, Any] | None = None) -> dict[str, Any]:
    from datetime import UTC, datetime

    at = datetime(2026, 11, 28, 9, 0, tzinfo=UTC) + timedelta(seconds=seq)
    return {
        "seq": seq,
        "id": f"aud_{seq:06d}",
        "at": format_timestamp(at),
        "workspace": WS,
        "actor": "usr_1",
        "action": "task.shown",
        "target": f"tsk_{seq}",
        "details": {"n": seq, "score": seq / 8} if details is None else details,
        "v": 2,
    }


def legacy_entry(seq: int) -> dict[str, Any]:
    entry = jcs_entry(seq, {"n": seq, "score": seq / 8, "big": 10**18, "ratio": 1e16, "one": 1.0})
    del entry["v"]
    return entry


def details_of(line: bytes) -> bytes:
    start = line.index(b'"details":') + len(b'"details":')
    end = line.index(b',"id":"aud_')
    return line[start:end]


@pytest.mark.parametrize("bits,spelling", APPENDIX_B)
def test_appendix_b_numbers_are_spelled_as_the_rfc_says(bits: str, spelling: str) -> None:
    line = leaf_bytes(jcs_entry(1, {"x": double(bits)}))
    assert details_of(line) == b'{"x":' + spelling.encode() + b"}"
    # A verifier reads the number back from the line and spells it again the same way.
    assert canonical_bytes(orjson.loads(line)) == line
    assert parse_entry_line(line + b"\n").seq == 1


@pytest.mark.parametrize("bits", NOT_NUMBERS)
def test_nan_and_infinity_have_no_spelling(bits: str) -> None:
    with pytest.raises(InvalidAuditEntry, match="not a JSON number"):
        leaf_bytes(jcs_entry(1, {"x": double(bits)}))


def test_primitives_example_of_section_3_2_2() -> None:
    line = leaf_bytes(jcs_entry(2, orjson.loads(PRIMITIVES_IN)))
    assert details_of(line) == PRIMITIVES_OUT
    assert canonical_bytes(orjson.loads(line)) == line


def test_members_sort_by_utf16_code_units_as_in_section_3_2_3() -> None:
    line = leaf_bytes(jcs_entry(3, SORTING))
    assert list(orjson.loads(details_of(line))) == SORTED_KEYS
    # Code-point order (the legacy encoding) puts the emoji after U+FB33: the two differ.
    legacy = orjson.dumps(SORTING, option=orjson.OPT_SORT_KEYS)
    assert list(orjson.loads(legacy)) != SORTED_KEYS
    assert details_of(line).decode() == (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )


def test_large_integers_must_fit_a_double_exactly() -> None:
    top = 2**53 - 1
    assert (
        details_of(leaf_bytes(jcs_entry(4, {"x": top, "y": -top}))) == b'{"x":9007199254740991,"y":-9007199254740991}'
    )
    for value in (2**53, -(2**53), 10**18):
        with pytest.raises(InvalidAuditEntry, match="record it as a string"):
            leaf_bytes(jcs_entry(4, {"x": value}))
        with pytest.raises(InvalidAuditEntry):
            AuditEntry.from_dict(jcs_entry(4, {"x": value}))
    # An integral double past 2**53 is spelled in full and read back as that double.
    line = leaf_bytes(jcs_entry(4, {"x": 1e16}))
    assert details_of(line) == b'{"x":10000000000000000}'
    assert canonical_bytes(orjson.loads(line)) == line
    # A literal no double holds is not what JCS would write: the line is not canonical.
    forged = line.replace(b"10000000000000000", b"10000000000000001")
    assert canonical_bytes(orjson.loads(forged)) != forged
    with pytest.raises(InvalidAuditEntry, match="canonical"):
        parse_entry_line(forged)


def test_lone_surrogates_and_bad_markers_are_rejected() -> None:
    with pytest.raises(InvalidAuditEntry, match="encoded"):
        leaf_bytes(jcs_entry(5, {"x": "\ud800"}))
    for marker in (1, 3, "2", True, 2.0):
        with pytest.raises(InvalidAuditEntry, match="v must be 2"):
            leaf_bytes(jcs_entry(5) | {"v": marker})


def test_new_entries_are_jcs_and_old_ones_keep_their_encoding() -> None:
    entry = AuditEntry(7, "aud_7", jcs_entry(7)["at"], WS, "system", "task.shown", None, {"r": 1.0, "e": 1e21})
    data = leaf_bytes(entry)
    assert data.endswith(b',"v":2,"workspace":"ws_jcs"}')
    assert details_of(data) == b'{"e":1e+21,"r":1}'
    assert AuditEntry.from_dict(orjson.loads(data)).to_dict() == orjson.loads(data)
    old = legacy_entry(7)
    assert leaf_bytes(old) == orjson.dumps(old, option=orjson.OPT_SORT_KEYS)
    # orjson's spellings, kept: 1e+16 and 1.0 where RFC 8785 writes 10000000000000000 and 1.
    assert b'"ratio":1e+16' in leaf_bytes(old) and b'"one":1.0' in leaf_bytes(old)
    assert b'"big":1000000000000000000' in leaf_bytes(old)
    assert AuditEntry.from_dict(old).v == 1 and leaf_bytes(AuditEntry.from_dict(old)) == leaf_bytes(old)
    # The same content in the two encodings: different bytes, so the marker decides which is hashed.
    as_jcs = canonical_bytes(orjson.loads(leaf_bytes(old)) | {"v": 2})
    assert details_of(as_jcs) == b'{"big":1000000000000000000,"n":7,"one":1,"ratio":10000000000000000,"score":0.875}'


# ---------------------------------------------------------------------------
# A log of legacy entries followed by RFC 8785 entries
# ---------------------------------------------------------------------------

LEGACY = 40
TOTAL = 100


@pytest.fixture(scope="module")
def key():
    return generate_signing_key()


@pytest.fixture(scope="module")
def verifier(key) -> str:
    return verifier_key_string(NAME, key)


@pytest.fixture(scope="module")
def mixed() -> list[dict[str, Any]]:
    unicode_details = {"name": "étiquette \U0001f600", "\ufb33": 1, "\U0001f600": 2, "f": 0.1 + 0.2, "big": 2**53 - 1}
    return [legacy_entry(i) if i < LEGACY else jcs_entry(i, unicode_details if i % 3 else None) for i in range(TOTAL)]


def sign(key, entries: list[dict[str, Any]], sizes: set[int]) -> dict[int, str]:
    from datetime import UTC, datetime

    frontier = Frontier()
    notes = {}
    for i, entry in enumerate(entries):
        frontier.append(leaf_hash(entry))
        if i + 1 in sizes:
            notes[i + 1] = sign_checkpoint(key, NAME, ORIGIN, i + 1, frontier.root(), datetime.now(UTC))
    return notes


@pytest.fixture(scope="module")
def notes(key, mixed) -> dict[int, str]:
    return sign(key, mixed, set(range(1, TOTAL + 1)))


def lines(entries: list[dict[str, Any]]) -> list[bytes]:
    return [entry_line(e) for e in entries]


def test_a_log_of_legacy_then_jcs_entries_verifies(mixed, notes, verifier) -> None:
    exported = lines(mixed)
    assert b'"v"' not in exported[LEGACY - 1] and b'"v":2' in exported[LEGACY]
    report = verify_log(exported, notes[TOTAL], verifier, checkpoints=[notes[LEGACY]])
    assert report.ok, report.problems
    assert report.verified_size == TOTAL
    # The old checkpoint, signed before any JCS entry existed, still verifies the prefix.
    assert verify_log(exported[:LEGACY], notes[LEGACY], verifier).ok


def _edit(line: bytes, old: bytes, new: bytes) -> bytes:
    assert old in line, (old, line)
    return line.replace(old, new)


@pytest.mark.parametrize("seq", [5, LEGACY - 1, LEGACY, TOTAL - 2])
def test_an_edited_entry_of_either_kind_is_located(mixed, notes, verifier, seq: int) -> None:
    exported = lines(mixed)
    # Re-encoded canonically after the edit, so only the root can catch it.
    edited = orjson.loads(exported[seq]) | {"actor": "usr_2"}
    exported[seq] = entry_line(edited)
    dense = [notes[size] for size in range(1, TOTAL)]
    report = verify_log(exported, notes[TOTAL], verifier, checkpoints=dense)
    assert not report.ok
    problem = next(p for p in report.problems if p.kind == ProblemKind.ROOT_MISMATCH)
    assert (problem.first_seq, problem.last_seq) == (seq, seq)


def test_switching_an_entry_between_encodings_is_caught(mixed, notes, verifier) -> None:
    exported = lines(mixed)
    downgraded = list(exported)
    as_legacy = orjson.loads(exported[LEGACY])
    del as_legacy["v"]
    downgraded[LEGACY] = orjson.dumps(as_legacy, option=orjson.OPT_SORT_KEYS) + b"\n"
    report = verify_log(downgraded, notes[TOTAL], verifier)
    assert not report.ok and ProblemKind.ROOT_MISMATCH in report.kinds()
    upgraded = list(exported)
    upgraded[3] = canonical_bytes(orjson.loads(exported[3]) | {"v": 2}) + b"\n"
    report = verify_log(upgraded, notes[TOTAL], verifier)
    assert not report.ok and ProblemKind.ROOT_MISMATCH in report.kinds()


def test_a_jcs_line_in_another_spelling_is_not_canonical(mixed, notes, verifier) -> None:
    exported = lines(mixed)
    seq = LEGACY + 1  # holds the unicode details, a float and keys outside the BMP
    parsed = orjson.loads(exported[seq])
    for respelled in (
        orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS) + b"\n",  # code-point order, orjson floats
        _edit(exported[seq], b'"v":2', b'"v":2.0'),
        _edit(exported[seq], b'"seq":41', b'"seq":4.1e1'),
        _edit(exported[seq], b'"action":"task.shown"', b'"action":"task.shown","action":"task.shown"'),
    ):
        tampered = list(exported)
        tampered[seq] = respelled
        report = verify_log(tampered, notes[TOTAL], verifier)
        assert not report.ok
        assert any(p.kind == ProblemKind.NON_CANONICAL and p.line == seq + 1 for p in report.problems), (
            respelled,
            report.problems,
        )


def test_a_deleted_entry_at_the_boundary_is_named(mixed, notes, verifier) -> None:
    exported = lines(mixed)
    del exported[LEGACY]
    report = verify_log(exported, notes[TOTAL], verifier)
    assert not report.ok
    gap = next(p for p in report.problems if p.kind == ProblemKind.SEQ_GAP)
    assert gap.seq == LEGACY


def test_floats_survive_the_round_trip_through_the_parser() -> None:
    for value in (0.1 + 0.2, 1 / 3, 5e-324, 1.7976931348623157e308, -0.0, 123456789.0, 2.5e-7):
        line = leaf_bytes(jcs_entry(9, {"x": value}))
        assert canonical_bytes(orjson.loads(line)) == line
        assert orjson.loads(details_of(line))["x"] == value or (value == 0 and math.copysign(1, value) < 0)
