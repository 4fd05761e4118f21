"""The offline verifier against every kind of tampering, plus the entry encoding it relies on."""

from __future__ import annotations

import base64
import hashlib
import math
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bastion.audit import (
    AuditEntry,
    AuditVerificationError,
    CheckpointError,
    Frontier,
    InvalidAuditEntry,
    Problem,
    ProblemKind,
    ProofError,
    TreeNodes,
    VerifyReport,
    checkpoint_to_json,
    consistency_proof,
    entry_line,
    find_entry_problem,
    format_timestamp,
    generate_signing_key,
    inclusion_proof,
    leaf_bytes,
    leaf_hash,
    parse_entry_line,
    sign_checkpoint,
    verifier_key_string,
    verify_consistency,
    verify_inclusion,
    verify_log,
)
from bastion.audit.merkle import EMPTY_ROOT
from bastion.domain.errors import InvalidInput

NAME = "bastion.example"
WS = "ws_alpha"
OTHER_WS = "ws_beta"
ORIGIN = f"{NAME}/{WS}"
OTHER_ORIGIN = f"{NAME}/{OTHER_WS}"
T0 = datetime(2026, 11, 27, 21, 45, 54, 123456, tzinfo=UTC)
SIZE = 300
EVERY = 16
ACTIONS = ["task.shown", "annotation.submitted", "review.approved", "member.invited"]

Log = list[dict[str, Any]]
Notes = dict[int, str]


def make_entry(seq: int, workspace: str = WS, salt: str = "") -> dict[str, Any]:
    return {
        "seq": seq,
        "id": f"aud_{salt}{seq:06d}",
        "at": format_timestamp(T0 + timedelta(seconds=seq, microseconds=seq)),
        "workspace": workspace,
        "actor": "system" if seq % 7 == 0 else f"usr_{seq % 5}",
        "action": ACTIONS[seq % len(ACTIONS)],
        "target": None if seq % 11 == 0 else f"tsk_{seq // 3}",
        "details": {
            "n": seq,
            "label": f"étiquette {salt}{seq}",
            "score": seq / 8,
            "tags": ["a", None, True],
        },
    }


def make_log(n: int, workspace: str = WS, salt: str = "") -> list[dict[str, Any]]:
    return [make_entry(i, workspace, salt) for i in range(n)]


def sign_sizes(key: Ed25519PrivateKey, entries: Log, sizes: set[int], origin: str = ORIGIN) -> Notes:
    notes = {}
    frontier = Frontier()
    if 0 in sizes:
        notes[0] = sign_checkpoint(key, NAME, origin, 0, EMPTY_ROOT, T0)
    for i, entry in enumerate(entries):
        frontier.append(leaf_hash(entry))
        if i + 1 in sizes:
            when = T0 + timedelta(seconds=i + 1)
            notes[i + 1] = sign_checkpoint(key, NAME, origin, i + 1, frontier.root(), when)
    return notes


def lines_of(entries: Log) -> list[bytes]:
    return [entry_line(e) for e in entries]


def write(tmp_path: Path, lines: list[bytes], name: str = "audit.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(b"".join(lines))
    return path


def only(report: VerifyReport, kind: ProblemKind) -> Problem:
    found = [p for p in report.problems if p.kind == kind]
    assert found, f"no {kind} in {[(p.kind, p.message) for p in report.problems]}"
    return found[0]


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return generate_signing_key()


@pytest.fixture(scope="module")
def verifier(key: Ed25519PrivateKey) -> str:
    return verifier_key_string(NAME, key)


@pytest.fixture(scope="module")
def entries() -> Log:
    return make_log(SIZE)


@pytest.fixture(scope="module")
def notes(key: Ed25519PrivateKey, entries: Log) -> Notes:
    """Checkpoints every 16 entries and at 300, as the deployment would sign them."""
    return sign_sizes(key, entries, {*range(EVERY, SIZE + 1, EVERY), SIZE})


@pytest.fixture(scope="module")
def dense_notes(key: Ed25519PrivateKey, entries: Log) -> Notes:
    """A checkpoint at every size: locates an edit to the entry."""
    return sign_sizes(key, entries, set(range(1, SIZE + 1)))


def check(source: Any, notes: Notes, verifier: str, **kwargs: Any) -> VerifyReport:
    return verify_log(source, notes[SIZE], verifier, checkpoints=list(notes.values()), **kwargs)


# ---------------------------------------------------------------------------
# The untampered log
# ---------------------------------------------------------------------------


def test_untampered_jsonl_export_verifies(tmp_path: Path, entries: Log, notes: Notes, verifier: str) -> None:
    path = write(tmp_path, lines_of(entries))
    report = check(path, notes, verifier, previous_checkpoint=notes[160], origin=ORIGIN)
    assert report.ok, report.problems
    assert report.problems == []
    assert report.entries_read == SIZE
    assert report.verified_size == SIZE
    assert report.checkpoint_size == SIZE
    assert report.origin == ORIGIN
    assert report.sizes_checked == sorted(notes)
    report.raise_for_problems()


@pytest.mark.parametrize("form", ["dicts", "entries", "lines", "str lines", "json checkpoint", "files"])
def test_untampered_log_verifies_in_every_input_form(
    tmp_path: Path, entries: Log, notes: Notes, verifier: str, form: str
) -> None:
    checkpoint: Any = notes[SIZE]
    source: Any = entries
    if form == "entries":
        source = [AuditEntry.from_dict(e) for e in entries]
    elif form == "lines":
        source = iter(lines_of(entries))
    elif form == "str lines":
        source = [line.decode() for line in lines_of(entries)]
    elif form == "json checkpoint":
        checkpoint = checkpoint_to_json(notes[SIZE])
    elif form == "files":
        source = write(tmp_path, lines_of(entries))
        checkpoint = tmp_path / "checkpoint.json"
        checkpoint.write_bytes(orjson.dumps(checkpoint_to_json(notes[SIZE])))
    report = verify_log(source, checkpoint, verifier)
    assert report.ok, report.problems
    assert report.sizes_checked == [SIZE]


def test_empty_log_verifies_against_an_empty_checkpoint(key: Ed25519PrivateKey, verifier: str) -> None:
    report = verify_log([], sign_sizes(key, [], {0})[0], verifier)
    assert report.ok and report.sizes_checked == [0] and report.entries_read == 0


def test_entries_past_the_checkpoint_are_a_warning(
    key: Ed25519PrivateKey, entries: Log, notes: Notes, verifier: str
) -> None:
    longer = entries + [make_entry(seq) for seq in range(SIZE, SIZE + 10)]
    report = check(longer, notes, verifier)
    assert report.ok
    warning = only(report, ProblemKind.NOT_COVERED)
    assert warning.severity == "warning"
    assert (warning.first_seq, warning.last_seq, warning.line) == (300, 309, 301)
    assert report.errors == [] and report.warnings == [warning]


# ---------------------------------------------------------------------------
# Edited entries
# ---------------------------------------------------------------------------

EDITS = {
    "id": "aud_forged",
    "at": "2026-11-27T23:59:59.000000Z",
    "actor": "usr_someone_else",
    "action": "task.skipped",
    "target": "tsk_other",
    "details": {"n": 137, "label": "changed"},
}


@pytest.mark.parametrize("field", sorted(EDITS))
def test_edited_entry_is_located_in_its_checkpoint_window(
    entries: Log, notes: Notes, verifier: str, field: str
) -> None:
    tampered = list(entries)
    tampered[137] = entries[137] | {field: EDITS[field]}
    report = check(lines_of(tampered), notes, verifier)
    assert not report.ok
    problem = only(report, ProblemKind.ROOT_MISMATCH)
    assert (problem.first_seq, problem.last_seq, problem.size) == (128, 143, 144)
    assert "seq 128..143" in problem.message
    assert report.verified_size == 128
    assert report.kinds() == {ProblemKind.ROOT_MISMATCH}


@pytest.mark.parametrize("field", sorted(EDITS))
def test_edited_entry_is_located_exactly_with_a_checkpoint_per_entry(
    entries: Log, dense_notes: Notes, verifier: str, field: str
) -> None:
    tampered = list(entries)
    tampered[137] = entries[137] | {field: EDITS[field]}
    report = check(lines_of(tampered), dense_notes, verifier)
    problem = only(report, ProblemKind.ROOT_MISMATCH)
    assert (problem.line, problem.seq, problem.first_seq, problem.last_seq) == (138, 137, 137, 137)
    assert report.first_error == problem


def test_edited_entry_with_only_the_latest_checkpoint_names_the_whole_range(
    entries: Log, notes: Notes, verifier: str
) -> None:
    tampered = list(entries)
    tampered[137] = entries[137] | {"actor": "usr_x"}
    report = verify_log(tampered, notes[SIZE], verifier)
    problem = only(report, ProblemKind.ROOT_MISMATCH)
    assert (problem.first_seq, problem.last_seq, problem.size) == (0, 299, 300)
    assert report.verified_size == 0


def test_edited_seq_is_located_exactly(entries: Log, notes: Notes, verifier: str) -> None:
    tampered = list(entries)
    tampered[137] = entries[137] | {"seq": 500}
    report = check(lines_of(tampered), notes, verifier)
    problem = only(report, ProblemKind.SEQ_MISMATCH)
    assert (problem.line, problem.seq) == (138, 137)
    assert report.first_error == problem


def test_edited_workspace_is_located_exactly(entries: Log, notes: Notes, verifier: str) -> None:
    tampered = list(entries)
    tampered[137] = entries[137] | {"workspace": OTHER_WS}
    report = check(lines_of(tampered), notes, verifier)
    problem = only(report, ProblemKind.WRONG_WORKSPACE)
    assert problem.line == 138 and OTHER_WS in problem.message
    assert report.first_error == problem


def test_edited_entry_made_invalid_is_named(entries: Log, notes: Notes, verifier: str) -> None:
    lines = lines_of(entries)
    # Written the way an editor would: sorted and compact, but not a valid entry.
    edited = entries[20] | {"at": "2026-11-27 21:45:54"}
    lines[20] = orjson.dumps(edited, option=orjson.OPT_SORT_KEYS) + b"\n"
    report = check(lines, notes, verifier)
    problem = only(report, ProblemKind.INVALID_ENTRY)
    assert problem.line == 21 and "at must be" in problem.message


# ---------------------------------------------------------------------------
# Deleted, inserted, reordered, duplicated, truncated
# ---------------------------------------------------------------------------


def test_deleted_entry_is_a_seq_gap(entries: Log, notes: Notes, verifier: str) -> None:
    tampered = entries[:100] + entries[101:]
    report = check(lines_of(tampered), notes, verifier)
    problem = only(report, ProblemKind.SEQ_GAP)
    assert (problem.line, problem.seq) == (101, 100)
    assert report.first_error == problem
    assert ProblemKind.ROOT_MISMATCH in report.kinds()


def test_deleted_range_is_a_seq_gap_naming_the_range(entries: Log, notes: Notes, verifier: str) -> None:
    tampered = entries[:100] + entries[105:]
    problem = only(check(tampered, notes, verifier), ProblemKind.SEQ_GAP)
    assert (problem.line, problem.first_seq, problem.last_seq) == (101, 100, 104)


def test_inserted_entry_with_a_new_seq(entries: Log, notes: Notes, verifier: str) -> None:
    tampered = entries[:138] + [make_entry(999)] + entries[138:]
    report = check(lines_of(tampered), notes, verifier)
    problem = only(report, ProblemKind.SEQ_ORDER)
    assert (problem.line, problem.seq) == (139, 138)


def test_inserted_entry_taking_an_existing_seq(entries: Log, notes: Notes, verifier: str) -> None:
    tampered = entries[:138] + [make_entry(138, salt="x")] + entries[138:]
    report = check(lines_of(tampered), notes, verifier)
    problem = only(report, ProblemKind.SEQ_DUPLICATE)
    assert (problem.line, problem.seq) == (140, 138)
    assert "lines 139 and 140" in problem.message


def test_inserted_entry_with_the_rest_renumbered(entries: Log, notes: Notes, verifier: str) -> None:
    forged = make_entry(138, salt="x")
    renumbered = [e | {"seq": e["seq"] + 1} for e in entries[138:]]
    tampered = entries[:138] + [forged] + renumbered
    report = check(lines_of(tampered), notes, verifier)
    problem = only(report, ProblemKind.ROOT_MISMATCH)
    assert (problem.first_seq, problem.last_seq) == (128, 143)
    assert only(report, ProblemKind.NOT_COVERED).severity == "warning"
    assert not report.ok


def test_reordered_entries(entries: Log, notes: Notes, verifier: str) -> None:
    tampered = list(entries)
    tampered[50], tampered[51] = entries[51], entries[50]
    report = check(lines_of(tampered), notes, verifier)
    problem = only(report, ProblemKind.SEQ_ORDER)
    assert (problem.line, problem.seq) == (51, 50)
    assert "line 52" in problem.message
    assert report.first_error == problem


def test_duplicated_entry(entries: Log, notes: Notes, verifier: str) -> None:
    tampered = entries[:71] + [entries[70]] + entries[71:]
    report = check(lines_of(tampered), notes, verifier)
    problem = only(report, ProblemKind.SEQ_DUPLICATE)
    assert (problem.line, problem.seq) == (72, 70)
    assert report.first_error == problem


def test_truncated_log(entries: Log, notes: Notes, verifier: str) -> None:
    report = check(lines_of(entries[:250]), notes, verifier)
    problem = only(report, ProblemKind.TRUNCATED)
    assert (problem.line, problem.seq, problem.first_seq, problem.last_seq) == (251, 250, 250, 299)
    assert not report.ok
    # Everything that is there is still proven by the intermediate checkpoints.
    assert report.verified_size == 240
    assert ProblemKind.ROOT_MISMATCH not in report.kinds()


def test_last_entry_removed_is_truncation(entries: Log, notes: Notes, verifier: str) -> None:
    report = verify_log(entries[:-1], notes[SIZE], verifier)
    assert only(report, ProblemKind.TRUNCATED).seq == 299
    assert not report.ok


# ---------------------------------------------------------------------------
# Entries from another workspace
# ---------------------------------------------------------------------------


def test_entry_moved_in_from_another_workspace(entries: Log, notes: Notes, verifier: str) -> None:
    tampered = list(entries)
    tampered[90] = make_entry(90, OTHER_WS)
    report = check(lines_of(tampered), notes, verifier)
    problem = only(report, ProblemKind.WRONG_WORKSPACE)
    assert problem.line == 91
    assert report.first_error == problem
    assert only(report, ProblemKind.ROOT_MISMATCH).first_seq == 80


def test_entry_appended_from_another_workspace(entries: Log, notes: Notes, verifier: str) -> None:
    report = check(entries + [make_entry(SIZE, OTHER_WS)], notes, verifier)
    assert only(report, ProblemKind.WRONG_WORKSPACE).line == 301
    assert not report.ok


def test_checkpoint_of_another_workspace_is_refused(key: Ed25519PrivateKey, entries: Log, verifier: str) -> None:
    foreign = sign_sizes(key, entries, {SIZE}, origin=OTHER_ORIGIN)[SIZE]
    pinned = verify_log(entries, foreign, verifier, origin=ORIGIN)
    assert only(pinned, ProblemKind.ORIGIN_MISMATCH)
    assert not pinned.ok and pinned.sizes_checked == []
    # Unpinned, the checkpoint names ws_beta and every entry is reported.
    unpinned = verify_log(entries, foreign, verifier)
    assert not unpinned.ok
    wrong = [p for p in unpinned.problems if p.kind == ProblemKind.WRONG_WORKSPACE]
    assert [p.line for p in wrong] == list(range(1, SIZE + 1))


def test_whole_log_of_another_workspace_with_its_own_checkpoint(key: Ed25519PrivateKey, verifier: str) -> None:
    other = make_log(40, OTHER_WS)
    note = sign_sizes(key, other, {40}, origin=OTHER_ORIGIN)[40]
    # Valid for ws_beta, so only pinning the origin catches the swap.
    assert verify_log(other, note, verifier).ok
    report = verify_log(other, note, verifier, origin=ORIGIN)
    assert not report.ok and ProblemKind.ORIGIN_MISMATCH in report.kinds()


# ---------------------------------------------------------------------------
# Forged and altered checkpoints: the signature is always checked
# ---------------------------------------------------------------------------


def test_recomputed_root_under_a_forged_checkpoint_is_refused(entries: Log, verifier: str) -> None:
    tampered = list(entries)
    tampered[5] = entries[5] | {"actor": "usr_cover_up"}
    forger = generate_signing_key()
    # The forger recomputes the root correctly; only the signature can tell.
    forged = sign_sizes(forger, tampered, {SIZE})[SIZE]
    report = verify_log(tampered, forged, verifier)
    assert not report.ok
    assert only(report, ProblemKind.UNKNOWN_KEY)
    assert report.sizes_checked == [] and report.verified_size == 0
    with pytest.raises(AuditVerificationError):
        report.raise_for_problems()


def test_forged_checkpoint_among_good_ones_is_reported(entries: Log, notes: Notes, verifier: str) -> None:
    forged = sign_sizes(generate_signing_key(), entries, {SIZE})[SIZE]
    report = verify_log(entries, forged, verifier, checkpoints=[notes[160]])
    assert not report.ok
    assert only(report, ProblemKind.UNKNOWN_KEY).message.startswith("checkpoint:")


def test_checkpoint_with_altered_root_is_refused(entries: Log, notes: Notes, verifier: str) -> None:
    note = notes[SIZE]
    root_line = note.split("\n")[2]
    other_root = checkpoint_to_json(notes[272])["root"]
    report = verify_log(entries, note.replace(root_line, other_root), verifier)
    assert not report.ok
    assert only(report, ProblemKind.BAD_SIGNATURE)
    assert report.sizes_checked == []


def test_saved_checkpoint_with_altered_root_copy_is_reported(entries: Log, notes: Notes, verifier: str) -> None:
    saved = checkpoint_to_json(notes[SIZE]) | {"root": checkpoint_to_json(notes[16])["root"]}
    report = verify_log(entries, saved, verifier)
    assert not report.ok
    assert only(report, ProblemKind.CHECKPOINT_MISMATCH)
    # The signed note is still what the log was checked against.
    assert report.sizes_checked == [SIZE] and report.verified_size == SIZE


def test_malformed_checkpoint_is_reported(entries: Log, verifier: str) -> None:
    report = verify_log(entries, "not a note", verifier)
    assert not report.ok and only(report, ProblemKind.CHECKPOINT_MALFORMED)


def test_previous_checkpoint_must_be_signed_by_the_same_key(entries: Log, notes: Notes, verifier: str) -> None:
    other_key = sign_sizes(generate_signing_key(), entries, {200})[200]
    report = check(entries, notes, verifier, previous_checkpoint=other_key)
    assert not report.ok
    assert only(report, ProblemKind.UNKNOWN_KEY).message.startswith("previous checkpoint:")


def test_malformed_verifier_key_or_origin_raises(entries: Log, notes: Notes, verifier: str) -> None:
    with pytest.raises(CheckpointError):
        verify_log(entries, notes[SIZE], "not+a+key")
    with pytest.raises(CheckpointError):
        verify_log(entries, notes[SIZE], verifier, origin="bastion.example")


# ---------------------------------------------------------------------------
# History: forks and rollbacks
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def branch_b(entries: Log) -> Log:
    """Shares the first 200 entries with ``entries``, then diverges."""
    return entries[:200] + [make_entry(seq, salt="b") for seq in range(200, SIZE)]


def test_fork_against_a_saved_smaller_checkpoint(
    key: Ed25519PrivateKey, entries: Log, branch_b: Log, verifier: str
) -> None:
    a = sign_sizes(key, entries, {250, SIZE})
    b = sign_sizes(key, branch_b, {250, SIZE})
    # Both histories verify on their own...
    assert verify_log(entries, a[SIZE], verifier, previous_checkpoint=a[250]).ok
    assert verify_log(branch_b, b[SIZE], verifier, previous_checkpoint=b[250]).ok
    # ...but a client that saw A at 250 and is now shown B catches the fork.
    report = verify_log(branch_b, b[SIZE], verifier, previous_checkpoint=a[250])
    problem = only(report, ProblemKind.FORK)
    assert problem.size == 250 and "two histories" in problem.message
    assert not report.ok
    assert ProblemKind.ROOT_MISMATCH not in report.kinds()


def test_fork_at_the_same_size(key: Ed25519PrivateKey, entries: Log, branch_b: Log, verifier: str) -> None:
    a = sign_sizes(key, entries, {SIZE})[SIZE]
    b = sign_sizes(key, branch_b, {SIZE})[SIZE]
    report = verify_log(branch_b, b, verifier, previous_checkpoint=a)
    assert only(report, ProblemKind.FORK).size == SIZE
    assert not report.ok


def test_fork_among_listed_checkpoints(key: Ed25519PrivateKey, entries: Log, branch_b: Log, verifier: str) -> None:
    a = sign_sizes(key, entries, {240})[240]
    b = sign_sizes(key, branch_b, {SIZE})[SIZE]
    report = verify_log(branch_b, b, verifier, checkpoints=[a])
    assert only(report, ProblemKind.FORK).size == 240


def test_rollback_to_an_older_log(key: Ed25519PrivateKey, entries: Log, notes: Notes, verifier: str) -> None:
    report = verify_log(entries[:208], notes[208], verifier, previous_checkpoint=notes[SIZE])
    problem = only(report, ProblemKind.ROLLBACK)
    assert problem.size == SIZE and (problem.first_seq, problem.last_seq) == (208, 299)
    assert ProblemKind.TRUNCATED not in report.kinds()
    assert not report.ok


def test_rollback_of_the_checkpoint_only(entries: Log, notes: Notes, verifier: str) -> None:
    # The server still has the entries but hands out an old head.
    report = verify_log(entries, notes[208], verifier, previous_checkpoint=notes[SIZE])
    assert only(report, ProblemKind.ROLLBACK)
    assert not report.ok


def test_consistent_previous_checkpoint_passes(entries: Log, notes: Notes, verifier: str) -> None:
    for size in (16, 208, SIZE):
        assert verify_log(entries, notes[SIZE], verifier, previous_checkpoint=notes[size]).ok


# ---------------------------------------------------------------------------
# Lines that are not the exported entries
# ---------------------------------------------------------------------------


def test_unparseable_and_blank_lines(tmp_path: Path, entries: Log, notes: Notes, verifier: str) -> None:
    lines = lines_of(entries)
    lines[41] = b"{not json\n"
    lines[60] = b"\n"
    report = check(write(tmp_path, lines), notes, verifier)
    malformed = [p for p in report.problems if p.kind == ProblemKind.MALFORMED_LINE]
    assert [p.line for p in malformed] == [42, 61]
    # The seq run is not thrown off by an unreadable line.
    assert not {ProblemKind.SEQ_GAP, ProblemKind.SEQ_ORDER} & report.kinds()
    assert report.first_error is malformed[0]


def test_reformatted_line_is_not_canonical(entries: Log, notes: Notes, verifier: str) -> None:
    lines = lines_of(entries)
    lines[10] = orjson.dumps(entries[10], option=orjson.OPT_INDENT_2).replace(b"\n", b" ") + b"\n"
    report = check(lines, notes, verifier)
    assert only(report, ProblemKind.NON_CANONICAL).line == 11
    # Same content, so the roots still match.
    assert ProblemKind.ROOT_MISMATCH not in report.kinds() and not report.ok


def test_duplicate_key_trick_is_caught(entries: Log, notes: Notes, verifier: str) -> None:
    lines = lines_of(entries)
    genuine = lines[10]
    # A reader grepping the line sees the first action; a JSON parser keeps the last.
    lines[10] = genuine.replace(b'{"action":', b'{"action":"task.deleted","action":', 1)
    report = check(lines, notes, verifier)
    assert only(report, ProblemKind.NON_CANONICAL).line == 11


def test_problem_flood_is_capped(key: Ed25519PrivateKey, verifier: str) -> None:
    log = make_log(1200)
    note = sign_sizes(key, log, {1200}, origin=OTHER_ORIGIN)[1200]
    report = verify_log(log, note, verifier)
    assert report.suppressed_problems == 200
    assert len([p for p in report.problems if p.kind == ProblemKind.WRONG_WORKSPACE]) == 1000


def test_report_serialises(entries: Log, notes: Notes, verifier: str) -> None:
    report = check(entries[:100] + entries[101:], notes, verifier)
    data = orjson.loads(orjson.dumps(report.to_dict()))
    assert data["ok"] is False
    assert {"seq_gap", "root_mismatch", "truncated"} <= {p["kind"] for p in data["problems"]}
    with pytest.raises(AuditVerificationError) as caught:
        report.raise_for_problems()
    assert "seq 100 is missing" in str(caught.value)


# ---------------------------------------------------------------------------
# Single proofs from the API
# ---------------------------------------------------------------------------


def test_inclusion_proof_for_an_entry(entries: Log, notes: Notes, verifier: str) -> None:
    nodes = TreeNodes(leaf_hash(e) for e in entries)
    proof = inclusion_proof(137, SIZE, nodes)
    cp = verify_inclusion(entries[137], proof, notes[SIZE], verifier, origin=ORIGIN)
    assert cp.size == SIZE
    encoded = [base64.b64encode(p).decode() for p in proof]
    verify_inclusion(AuditEntry.from_dict(entries[137]), encoded, notes[SIZE], verifier)
    with pytest.raises(ProofError):
        verify_inclusion(entries[137] | {"actor": "usr_x"}, proof, notes[SIZE], verifier)
    with pytest.raises(ProofError):
        verify_inclusion(entries[138], proof, notes[SIZE], verifier)
    with pytest.raises(ProofError):
        verify_inclusion(entries[137] | {"workspace": OTHER_WS}, proof, notes[SIZE], verifier)
    with pytest.raises(CheckpointError):
        verify_inclusion(entries[137], proof, notes[SIZE], verifier, origin=OTHER_ORIGIN)
    forged = sign_sizes(generate_signing_key(), entries, {SIZE})[SIZE]
    with pytest.raises(CheckpointError):
        verify_inclusion(entries[137], proof, forged, verifier)


def test_consistency_proof_between_checkpoints(
    key: Ed25519PrivateKey, entries: Log, branch_b: Log, notes: Notes, verifier: str
) -> None:
    nodes = TreeNodes(leaf_hash(e) for e in entries)
    proof = consistency_proof(208, SIZE, nodes)
    assert verify_consistency(notes[208], notes[SIZE], proof, verifier).size == SIZE
    with pytest.raises(ProofError, match="rollback"):
        verify_consistency(notes[SIZE], notes[208], proof, verifier)
    b = sign_sizes(key, branch_b, {SIZE})[SIZE]
    b_proof = consistency_proof(208, SIZE, TreeNodes(leaf_hash(e) for e in branch_b))
    with pytest.raises(ProofError, match="fork"):
        verify_consistency(notes[208], b, b_proof, verifier)
    other = sign_sizes(key, entries, {SIZE}, origin=OTHER_ORIGIN)[SIZE]
    with pytest.raises(CheckpointError):
        verify_consistency(notes[208], other, proof, verifier)


# ---------------------------------------------------------------------------
# Entries and their canonical encoding
# ---------------------------------------------------------------------------


def test_leaf_bytes_are_the_sorted_compact_json_of_the_whole_entry() -> None:
    entry = make_entry(3)
    data = leaf_bytes(entry)
    assert data == orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)
    assert data.startswith(b'{"action":"member.invited","actor":"usr_3","at":"2026-11-27T21:45:57.123459Z"')
    assert b" " not in data.replace(b"\xc3\xa9tiquette 3", b"")
    assert entry_line(entry) == data + b"\n"
    assert leaf_hash(entry) == hashlib.sha256(b"\x00" + data).digest()
    assert leaf_bytes(AuditEntry.from_dict(entry)) == data


def test_seq_and_workspace_are_bound_into_the_leaf() -> None:
    entry = make_entry(3)
    assert leaf_hash(entry) != leaf_hash(entry | {"seq": 4})
    assert leaf_hash(entry) != leaf_hash(entry | {"workspace": OTHER_WS})


@pytest.mark.parametrize(
    "change,message",
    [
        ({"details": {"x": math.nan}}, "not a JSON number"),
        ({"details": {"x": math.inf}}, "not a JSON number"),
        ({"details": {"x": (1, 2)}}, "tuple"),
        ({"details": {"x": datetime(2026, 1, 1, tzinfo=UTC)}}, "datetime"),
        ({"details": {"x": uuid.uuid4()}}, "UUID"),
        ({"details": {1: "x"}}, "not a string"),
        ({"details": {"x": 2**64}}, "64-bit"),
        ({"details": {"x": "\ud800"}}, "encoded"),
        ({"details": []}, "details must be"),
        ({"seq": True}, "seq"),
        ({"seq": -1}, "seq"),
        ({"id": "evt_1"}, "id"),
        ({"at": "2026-11-27T21:45:54Z"}, "at must be"),
        ({"at": "2026-11-27T21:45:54.123456+00:00"}, "at must be"),
        ({"at": "2026-02-30T21:45:54.123456Z"}, "at must be"),
        ({"workspace": "ws_a/b"}, "workspace"),
        ({"actor": ""}, "actor"),
        ({"action": "Task.Shown"}, "action"),
        ({"target": ""}, "target"),
        ({"extra": 1}, "unexpected extra"),
    ],
)
def test_entries_that_cannot_be_hashed_faithfully_are_rejected(change: dict, message: str) -> None:
    entry = make_entry(1) | change
    with pytest.raises(InvalidAuditEntry, match=message):
        leaf_bytes(entry)
    with pytest.raises(InvalidAuditEntry):
        AuditEntry.from_dict(entry)


def test_missing_field_is_named() -> None:
    entry = make_entry(1)
    del entry["target"]
    assert find_entry_problem(entry) == "entry fields: missing target"


def test_audit_entry_keeps_a_private_copy_of_details() -> None:
    details = {"n": 1}
    entry = AuditEntry(1, "aud_1", format_timestamp(T0), WS, "system", "task.shown", None, details)
    before = leaf_bytes(entry)
    details["n"] = 2
    assert leaf_bytes(entry) == before
    assert entry.to_dict()["details"] == {"n": 1}


def test_parse_entry_line_requires_the_canonical_form() -> None:
    entry = make_entry(2)
    assert parse_entry_line(entry_line(entry)).to_dict() == entry
    assert parse_entry_line(entry_line(entry).decode()).seq == 2
    with pytest.raises(InvalidAuditEntry, match="canonical"):
        parse_entry_line(orjson.dumps(entry))  # keys not sorted
    with pytest.raises(InvalidAuditEntry, match="JSON"):
        parse_entry_line(b"{")
    with pytest.raises(InvalidAuditEntry):
        parse_entry_line(b"[1]")


def test_public_surface() -> None:
    import bastion.audit as audit

    assert audit.__all__ == sorted(set(audit.__all__))
    for name in audit.__all__:
        assert getattr(audit, name) is not None, name
    required = {
        "AuditEntry",
        "Checkpoint",
        "Frontier",
        "VerifyReport",
        "consistency_proof",
        "inclusion_proof",
        "leaf_bytes",
        "leaf_hash",
        "parse_and_verify_checkpoint",
        "sign_checkpoint",
        "verify_consistency",
        "verify_consistency_proof",
        "verify_inclusion",
        "verify_inclusion_proof",
        "verify_log",
    }
    assert required <= set(audit.__all__)
    for name in ("AuditVerificationError", "CheckpointError", "InvalidAuditEntry", "ProofError"):
        assert issubclass(getattr(audit, name), InvalidInput)
