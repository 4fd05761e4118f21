"""Offline verification of an exported workspace log, with public material only.

Concept
    A client holds an export (JSON Lines, one canonical entry per line, see
    :mod:`bastion.audit.entries`), the deployment's verifier key, the signed
    checkpoint that came with the export and, ideally, the checkpoint it saved
    last time. :func:`verify_log` answers: is this exactly the log the server
    signed, an append-only extension of what I saw before, and if not, where
    does it break? It streams the file once, holds O(log n) hashes (a
    :class:`~bastion.audit.merkle.Frontier`) and reports every problem it can
    name instead of stopping at the first.

What is checked, in order
    1. Every checkpoint's signature, with the one trusted key, before anything
       in it is used; its origin must be the log being checked.
    2. Per line: it parses, it is a well-formed entry, it is in canonical form
       (the exact bytes the server hashed, re-encoded from the parsed entry:
       RFC 8785 for entries with ``"v": 2``, the legacy sorted-keys form for
       entries without; this rules out duplicate-key tricks where a reader and
       the verifier see different values), and its ``workspace`` is the one
       the checkpoint origin names. Legacy and RFC 8785 entries may follow
       each other in one log.
    3. The ``seq`` run 0, 1, 2, … The first break is classified: a missing seq
       is a ``seq_gap`` (deleted entry), a repeated one a ``seq_duplicate``, a
       seq that shows up later a ``seq_order`` (reordered), a lone wrong value
       with the run resuming after it a ``seq_mismatch`` (edited seq).
    4. The recomputed root at each signed size against the signed root. A log
       shorter than a signed size is ``truncated``; entries past the latest
       checkpoint are a ``not_covered`` warning.
    5. History: two signed checkpoints that cannot both describe this log are
       a ``fork`` (same size and different roots, or a smaller one that
       disagrees with a larger one the log matches); a saved checkpoint larger
       than the latest one is a ``rollback``.

How an edited entry is located (the design choice)
    Hashes alone cannot say *which* entry changed: a wrong root only says
    "somewhere in the first n entries", and any unsigned helper data shipped
    with the export (per-entry hashes, chained roots, tree nodes) can be
    rewritten by whoever rewrote the entry. The only evidence an editor cannot
    forge is a signature, so localisation is built on signed checkpoints:

    * The deployment signs a checkpoint every K entries (and whenever it
      exports); an export carries them, and ``verify_log(..., checkpoints=…)``
      takes them along with the latest one.
    * A matching root at size s authenticates entries 0..s-1 (collision
      resistance), so the signed sizes cut the log into windows. The first
      checkpoint whose root fails closes the window that holds the first
      altered, inserted or removed entry; the report names that window
      (``first_seq``..``last_seq``) and which checkpoint failed. With one
      checkpoint per entry the window is the entry itself.
    * This is the bisection among checkpoints, done inside the single pass the
      verifier needs anyway (every entry must be hashed once), since the
      frontier yields the root at any prefix size for O(log n) extra hashes.
    * Structural edits need no signatures: deletions, insertions, duplicates,
      reorders, moved-in entries and seq edits are named at their exact line by
      the per-line and seq checks. Within a window, an API inclusion proof for
      a suspect entry (:func:`verify_inclusion`) passes only for the authentic
      entry.

The trap
    Recomputing the root and comparing it with the root *written in* the
    checkpoint proves nothing unless the signature over that root was verified
    with a key the client already trusts: an editor recomputes the root too.
    Equally, a valid signature on a checkpoint of *another* workspace proves
    nothing about this one. Both are checked first, and a report is only ``ok``
    when a trusted checkpoint covers the log.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Literal

import orjson

from .checkpoint import (
    Checkpoint,
    check_origin,
    checkpoint_from_json,
    parse_and_verify_checkpoint,
    resolve_verifier_key,
    workspace_of_origin,
)
from .entries import (
    FORMAT_FIELD,
    AuditEntry,
    canonical_bytes,
    find_entry_problem,
    leaf_hash,
)
from .errors import (
    AuditVerificationError,
    BadCheckpointSignature,
    CheckpointError,
    CheckpointMismatch,
    InvalidAuditEntry,
    MalformedCheckpoint,
    ProofError,
    UnknownCheckpointKey,
)
from .merkle import (
    EMPTY_ROOT,
    Frontier,
    hash_leaf,
    verify_consistency_proof,
    verify_inclusion_proof,
)
from .notes import VerifierKey

MAX_LINE_PROBLEMS = 1000

CheckpointInput = str | bytes | Mapping[str, Any] | Checkpoint | os.PathLike[str]
EntriesInput = str | os.PathLike[str] | Iterable[Mapping[str, Any] | AuditEntry | bytes | str]


class ProblemKind(StrEnum):
    # The material itself.
    CHECKPOINT_MALFORMED = "checkpoint_malformed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    ORIGIN_MISMATCH = "origin_mismatch"
    # One line.
    MALFORMED_LINE = "malformed_line"
    INVALID_ENTRY = "invalid_entry"
    NON_CANONICAL = "non_canonical"
    WRONG_WORKSPACE = "wrong_workspace"
    # The seq run.
    SEQ_GAP = "seq_gap"
    SEQ_DUPLICATE = "seq_duplicate"
    SEQ_ORDER = "seq_order"
    SEQ_MISMATCH = "seq_mismatch"
    # Roots and history.
    ROOT_MISMATCH = "root_mismatch"
    TRUNCATED = "truncated"
    FORK = "fork"
    ROLLBACK = "rollback"
    NOT_COVERED = "not_covered"


Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding. ``line`` is 1-based and exact; a window is ``first_seq``..``last_seq``."""

    kind: ProblemKind
    message: str
    line: int | None = None
    seq: int | None = None
    first_seq: int | None = None
    last_seq: int | None = None
    size: int | None = None
    severity: Severity = "error"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = str(self.kind)
        return data


@dataclass(slots=True)
class VerifyReport:
    """The outcome of :func:`verify_log`.

    ``ok`` is true only when no error was found *and* a trusted checkpoint was
    compared with the log. ``verified_size`` is how many leading entries are
    proven authentic by a signed root; ``sizes_checked`` lists every signed
    size whose root was compared.
    """

    ok: bool
    problems: list[Problem]
    sizes_checked: list[int]
    entries_read: int
    verified_size: int
    origin: str | None
    checkpoint_size: int | None
    suppressed_problems: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def first_error(self) -> Problem | None:
        """The error at the earliest exact line, else the first error found."""
        errors = self.errors
        located = [p for p in errors if p.line is not None]
        if located:
            return min(located, key=lambda p: p.line or 0)
        return errors[0] if errors else None

    def kinds(self) -> set[ProblemKind]:
        return {p.kind for p in self.problems}

    def raise_for_problems(self) -> None:
        """Raise :class:`AuditVerificationError` unless the report is ok."""
        if self.ok:
            return
        first = self.first_error
        message = first.message if first else "no trusted checkpoint covers the log"
        raise AuditVerificationError(
            f"audit log verification failed: {message}",
            details=[p.to_dict() for p in self.errors],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": [p.to_dict() for p in self.problems],
            "sizes_checked": list(self.sizes_checked),
            "entries_read": self.entries_read,
            "verified_size": self.verified_size,
            "origin": self.origin,
            "checkpoint_size": self.checkpoint_size,
            "suppressed_problems": self.suppressed_problems,
        }


# ---------------------------------------------------------------------------
# Loading checkpoints
# ---------------------------------------------------------------------------


def _read_checkpoint(value: CheckpointInput, key: VerifierKey) -> Checkpoint:
    if isinstance(value, Checkpoint):
        return parse_and_verify_checkpoint(value.note, key)  # trust nothing unverified
    if isinstance(value, os.PathLike):
        with open(value, "rb") as handle:
            value = handle.read()
    if isinstance(value, Mapping):
        return checkpoint_from_json(value, key)
    if isinstance(value, bytes):
        if value.lstrip().startswith(b"{"):
            return checkpoint_from_json(value, key)
        return parse_and_verify_checkpoint(value, key)
    if isinstance(value, str):
        if value.lstrip().startswith("{"):
            return checkpoint_from_json(value, key)
        return parse_and_verify_checkpoint(value, key)
    raise MalformedCheckpoint(f"a checkpoint is note text or its JSON form, got {type(value).__name__}")


def _load_checkpoint(
    value: CheckpointInput, key: VerifierKey, label: str, problems: list[Problem]
) -> Checkpoint | None:
    try:
        return _read_checkpoint(value, key)
    except CheckpointMismatch as exc:
        problems.append(Problem(ProblemKind.CHECKPOINT_MISMATCH, f"{label}: {exc}"))
        return exc.checkpoint
    except UnknownCheckpointKey as exc:
        problems.append(Problem(ProblemKind.UNKNOWN_KEY, f"{label}: {exc}"))
    except BadCheckpointSignature as exc:
        problems.append(Problem(ProblemKind.BAD_SIGNATURE, f"{label}: {exc}"))
    except MalformedCheckpoint as exc:
        problems.append(Problem(ProblemKind.CHECKPOINT_MALFORMED, f"{label}: {exc}"))
    return None


def _describe(checkpoint: Checkpoint, label: str) -> str:
    return f"{label} (size {checkpoint.size}, signed {checkpoint.timestamp:%Y-%m-%dT%H:%M:%SZ})"


# ---------------------------------------------------------------------------
# Reading entries
# ---------------------------------------------------------------------------


def _iter_lines(path: str | os.PathLike[str]) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        yield from handle


def _items(entries: EntriesInput) -> Iterable[Any]:
    if isinstance(entries, (str, os.PathLike)):
        return _iter_lines(entries)
    return entries


class _SeqTracker:
    """Watches the seq run; keeps the tail only after the first break."""

    __slots__ = ("broken_at", "tail")

    def __init__(self) -> None:
        self.broken_at: int | None = None
        self.tail: list[int | None] = []

    def see(self, index: int, seq: int | None) -> None:
        if self.broken_at is None:
            # An unreadable seq is reported on its own line; assume it was
            # right so that later breaks are still found.
            if seq is None or seq == index:
                return
            self.broken_at = index
        self.tail.append(seq)

    def problem(self) -> Problem | None:
        a = self.broken_at
        if a is None:
            return None
        s = self.tail[0]
        assert s is not None
        after = self.tail[1] if len(self.tail) > 1 else None
        line = a + 1
        if after == a + 1:
            return Problem(
                ProblemKind.SEQ_MISMATCH,
                f"line {line} has seq {s} where {a} was expected, and the run continues"
                f" with {a + 1} on the next line: this entry's seq was changed"
                + (f" (or it was replaced by a copy of entry {s})" if s < a else ""),
                line=line,
                seq=a,
            )
        if s < a:
            return Problem(
                ProblemKind.SEQ_DUPLICATE,
                f"seq {s} appears twice, at lines {s + 1} and {line}: an entry was duplicated or inserted",
                line=line,
                seq=s,
            )
        if a in self.tail:
            later = self.tail.index(a) + a + 1
            return Problem(
                ProblemKind.SEQ_ORDER,
                f"line {line} has seq {s} where {a} was expected; seq {a} comes later, at line"
                f" {later}: entries were reordered or an entry was inserted",
                line=line,
                seq=a,
            )
        return Problem(
            ProblemKind.SEQ_GAP,
            f"seq {a} is missing: line {line} has seq {s}; entries {a}..{s - 1} were deleted"
            if s - 1 > a
            else f"seq {a} is missing: line {line} has seq {s}; an entry was deleted",
            line=line,
            seq=a,
            first_seq=a,
            last_seq=s - 1,
        )


Report = Callable[[Problem], None]


def _read_line(item: bytes | str, line: int, report: Report) -> tuple[Any, bytes]:
    """Parse one exported line; return the object (``None`` if unusable) and its leaf hash."""
    raw = item.encode("utf-8") if isinstance(item, str) else item
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        report(
            Problem(
                ProblemKind.MALFORMED_LINE,
                f"line {line} is not JSON: {exc}",
                line=line,
                seq=line - 1,
            )
        )
        return None, hash_leaf(raw)
    problem = find_entry_problem(obj, deep=False)
    if problem:
        report(Problem(ProblemKind.INVALID_ENTRY, f"line {line}: {problem}", line=line, seq=line - 1))
    try:
        canonical = canonical_bytes(obj)
    except InvalidAuditEntry as exc:
        report(Problem(ProblemKind.INVALID_ENTRY, f"line {line}: {exc}", line=line, seq=line - 1))
        return None, hash_leaf(raw)
    if canonical != raw:
        spelling = "RFC 8785" if type(obj) is dict and FORMAT_FIELD in obj else "sorted keys, no spaces"
        report(
            Problem(
                ProblemKind.NON_CANONICAL,
                f"line {line} is not in canonical form ({spelling}, no duplicate keys): it is"
                " not the exported line as signed",
                line=line,
                seq=line - 1,
            )
        )
    # The leaf is the canonical encoding of what was parsed; a reformatted line
    # is reported above but still checked for content.
    return obj, hash_leaf(canonical)


def _read_object(item: Any, line: int, report: Report) -> tuple[Any, bytes]:
    """Check one entry given as a mapping or ``AuditEntry``; return it and its leaf hash."""
    obj = item.to_dict() if isinstance(item, AuditEntry) else item
    if isinstance(obj, Mapping) and type(obj) is not dict:
        obj = dict(obj)
    problem = find_entry_problem(obj)
    if problem:
        report(Problem(ProblemKind.INVALID_ENTRY, f"entry {line}: {problem}", line=line, seq=line - 1))
    try:
        return obj, hash_leaf(canonical_bytes(obj))
    except InvalidAuditEntry as exc:
        if not problem:
            report(Problem(ProblemKind.INVALID_ENTRY, f"entry {line}: {exc}", line=line, seq=line - 1))
        # No faithful leaf exists; any stand-in keeps the positions of the
        # following entries, and the roots will not match.
        return None, hash_leaf(repr(obj).encode("utf-8", "replace"))


# ---------------------------------------------------------------------------
# verify_log
# ---------------------------------------------------------------------------


def verify_log(
    entries: EntriesInput,
    checkpoint: CheckpointInput,
    verifier_key: str | VerifierKey,
    *,
    previous_checkpoint: CheckpointInput | None = None,
    origin: str | None = None,
    checkpoints: Sequence[CheckpointInput] = (),
) -> VerifyReport:
    """Verify an exported log against its latest signed checkpoint.

    ``entries`` is a JSONL path, or an iterable of entry dicts, ``AuditEntry``
    objects or raw lines. ``checkpoint`` is the latest signed head (note text,
    its saved JSON form, or a path to either). ``previous_checkpoint`` is the
    one this client saved last time; ``checkpoints`` are further signed
    checkpoints (for instance every K entries) used to locate an edit.
    ``origin`` pins the log (``bastion.example/ws_…``); without it the latest
    checkpoint's origin is used. A malformed ``verifier_key`` or ``origin``
    raises; everything about the material is reported, never raised.
    """
    key = resolve_verifier_key(verifier_key)
    if origin is not None:
        check_origin(origin)
        if workspace_of_origin(origin) is None:
            raise MalformedCheckpoint(f"origin {origin!r} does not end with a workspace id (ws_…)")
    problems: list[Problem] = []

    latest = _load_checkpoint(checkpoint, key, "checkpoint", problems)
    previous = (
        None
        if previous_checkpoint is None
        else _load_checkpoint(previous_checkpoint, key, "previous checkpoint", problems)
    )
    extras = [
        (cp, f"checkpoint #{i + 1} of the list")
        for i, value in enumerate(checkpoints)
        if (cp := _load_checkpoint(value, key, f"checkpoint #{i + 1} of the list", problems))
    ]

    expected_origin = origin
    candidates = [(latest, "checkpoint"), *extras, (previous, "previous checkpoint")]
    if expected_origin is None:
        expected_origin = next((cp.origin for cp, _ in candidates if cp is not None), None)
    trusted: list[tuple[Checkpoint, str]] = []
    for cp, label in candidates:
        if cp is None:
            continue
        if cp.origin != expected_origin:
            problems.append(
                Problem(
                    ProblemKind.ORIGIN_MISMATCH,
                    f"{label} is for log {cp.origin!r}, not {expected_origin!r}; it says nothing about this log",
                    size=cp.size,
                )
            )
            continue
        trusted.append((cp, label))
    latest = latest if any(cp is latest for cp, _ in trusted) else None
    previous = previous if any(cp is previous for cp, _ in trusted) else None

    workspace = workspace_of_origin(expected_origin) if expected_origin else None
    if expected_origin is not None and workspace is None:
        problems.append(
            Problem(
                ProblemKind.ORIGIN_MISMATCH,
                f"checkpoint origin {expected_origin!r} names no workspace (…/ws_…)",
            )
        )

    targets = {cp.size for cp, _ in trusted}
    roots: dict[int, bytes] = {0: EMPTY_ROOT} if 0 in targets else {}
    line_problems: list[Problem] = []
    suppressed = 0
    seqs = _SeqTracker()
    frontier = Frontier()
    append = frontier.append
    reference_workspace = workspace
    count = 0

    def report(problem: Problem) -> None:
        nonlocal suppressed
        if len(line_problems) < MAX_LINE_PROBLEMS:
            line_problems.append(problem)
        else:
            suppressed += 1

    for index, item in enumerate(_items(entries)):
        line = index + 1
        if isinstance(item, (bytes, str)):
            obj, leaf = _read_line(item, line, report)
        else:
            obj, leaf = _read_object(item, line, report)

        seq = None
        if type(obj) is dict:
            seq_value = obj.get("seq")
            seq = seq_value if type(seq_value) is int else None
            entry_workspace = obj.get("workspace")
            if reference_workspace is None and isinstance(entry_workspace, str):
                reference_workspace = entry_workspace
            elif isinstance(entry_workspace, str) and entry_workspace != reference_workspace:
                source = "the checkpoint's" if workspace else "the first entry's"
                report(
                    Problem(
                        ProblemKind.WRONG_WORKSPACE,
                        f"line {line} belongs to workspace {entry_workspace!r}, not {source}"
                        f" {reference_workspace!r}: it was moved in from another log",
                        line=line,
                        seq=index,
                    )
                )
        seqs.see(index, seq)

        append(leaf)
        count = index + 1
        if count in targets:
            roots[count] = frontier.root()

    problems.extend(line_problems)
    seq_problem = seqs.problem()
    if seq_problem:
        problems.append(seq_problem)

    sizes_checked, verified_size = _check_roots(trusted, latest, previous, roots, count, problems)

    has_error = any(p.severity == "error" for p in problems)
    return VerifyReport(
        ok=not has_error and latest is not None and latest.size in sizes_checked,
        problems=problems,
        sizes_checked=sizes_checked,
        entries_read=count,
        verified_size=verified_size,
        origin=expected_origin,
        checkpoint_size=latest.size if latest else None,
        suppressed_problems=suppressed,
    )


def _check_roots(
    trusted: list[tuple[Checkpoint, str]],
    latest: Checkpoint | None,
    previous: Checkpoint | None,
    roots: dict[int, bytes],
    count: int,
    problems: list[Problem],
) -> tuple[list[int], int]:
    rollback = latest is not None and previous is not None and previous.size > latest.size
    if rollback:
        assert latest is not None and previous is not None
        problems.append(
            Problem(
                ProblemKind.ROLLBACK,
                f"the saved {_describe(previous, 'previous checkpoint')} is ahead of the log's"
                f" {_describe(latest, 'latest checkpoint')}: the log was rolled back",
                size=previous.size,
                first_seq=latest.size,
                last_seq=previous.size - 1,
            )
        )

    # Two signed heads of one size with different roots: a fork, whatever the log says.
    by_size: dict[int, tuple[Checkpoint, str]] = {}
    for cp, label in sorted(trusted, key=lambda item: item[0].size):
        seen = by_size.get(cp.size)
        if seen is None:
            by_size[cp.size] = (cp, label)
        elif seen[0].root != cp.root:
            problems.append(
                Problem(
                    ProblemKind.FORK,
                    f"{_describe(seen[0], seen[1])} and {_describe(cp, label)} are both signed"
                    " for the same size with different roots: the log has two histories",
                    size=cp.size,
                )
            )

    covering = [cp for cp, _ in trusted if not (rollback and cp is previous)]
    beyond = [cp for cp in covering if cp.size > count]
    if beyond:
        longest = max(beyond, key=lambda cp: cp.size)
        problems.append(
            Problem(
                ProblemKind.TRUNCATED,
                f"the log has {count} entries but a checkpoint is signed for {longest.size}:"
                f" entries {count}..{longest.size - 1} are missing",
                line=count + 1,
                seq=count,
                first_seq=count,
                last_seq=longest.size - 1,
                size=longest.size,
            )
        )

    matched: list[int] = []
    mismatched: list[tuple[Checkpoint, str]] = []
    for size, (cp, label) in sorted(by_size.items()):
        if size > count:
            continue
        if roots[size] == cp.root:
            matched.append(size)
        else:
            mismatched.append((cp, label))
    checked = sorted(set(matched) | {cp.size for cp, _ in mismatched})

    altered: list[tuple[Checkpoint, str]] = []
    for cp, label in mismatched:
        larger = [size for size in matched if size > cp.size]
        if larger:
            witness, witness_label = by_size[larger[0]]
            problems.append(
                Problem(
                    ProblemKind.FORK,
                    f"{_describe(cp, label)} disagrees with {_describe(witness, witness_label)},"
                    " which this log matches: both are signed, so the log has two histories",
                    size=cp.size,
                )
            )
        else:
            altered.append((cp, label))
    if altered:
        first, label = altered[0]
        start = max((size for size in matched if size < first.size), default=0)
        end = first.size - 1
        where = f"seq {start}" if start == end else f"seq {start}..{end}"
        also = (
            f"; {len(altered) - 1} later checkpoint(s) up to size {altered[-1][0].size} fail too"
            if len(altered) > 1
            else ""
        )
        problems.append(
            Problem(
                ProblemKind.ROOT_MISMATCH,
                f"the log does not match the {_describe(first, label)}: the first altered,"
                f" inserted or removed entry is at {where} (lines {start + 1}..{end + 1}){also}",
                line=start + 1 if start == end else None,
                seq=start if start == end else None,
                first_seq=start,
                last_seq=end,
                size=first.size,
            )
        )

    covered = max((cp.size for cp in covering if cp is not previous), default=None)
    if covered is not None and count > covered:
        problems.append(
            Problem(
                ProblemKind.NOT_COVERED,
                f"entries {covered}..{count - 1} are not yet covered by a checkpoint",
                line=covered + 1,
                seq=covered,
                first_seq=covered,
                last_seq=count - 1,
                severity="warning",
            )
        )
    verified = max(matched, default=0)
    return checked, verified


# ---------------------------------------------------------------------------
# Single proofs returned by the API
# ---------------------------------------------------------------------------


def _proof_hashes(proof: Sequence[bytes | str]) -> list[bytes]:
    hashes = []
    for position, item in enumerate(proof):
        if isinstance(item, str):
            try:
                item = base64.b64decode(item.encode("ascii"), validate=True)
            except (ValueError, UnicodeEncodeError) as exc:
                raise ProofError(f"proof hash {position} is not base64") from exc
        hashes.append(item)
    return hashes


def _verified(value: CheckpointInput, key: VerifierKey) -> Checkpoint:
    return _read_checkpoint(value, key)


def verify_inclusion(
    entry: Mapping[str, Any] | AuditEntry,
    proof: Sequence[bytes | str],
    checkpoint: CheckpointInput,
    verifier_key: str | VerifierKey,
    *,
    origin: str | None = None,
) -> Checkpoint:
    """Check that ``entry`` is leaf ``entry["seq"]`` of the signed tree; return the checkpoint.

    ``proof`` is the inclusion proof (bytes or base64 strings, bottom-up).
    Raises :class:`CheckpointError`, :class:`InvalidAuditEntry` or :class:`ProofError`.
    """
    key = resolve_verifier_key(verifier_key)
    cp = _verified(checkpoint, key)
    if origin is not None and cp.origin != origin:
        raise CheckpointError(f"checkpoint is for log {cp.origin!r}, not {origin!r}")
    obj = entry.to_dict() if isinstance(entry, AuditEntry) else dict(entry)
    leaf = leaf_hash(obj)
    if cp.workspace != obj["workspace"]:
        raise ProofError(f"entry belongs to workspace {obj['workspace']!r}, the checkpoint to {cp.origin!r}")
    verify_inclusion_proof(obj["seq"], cp.size, leaf, _proof_hashes(proof), cp.root)
    return cp


def verify_consistency(
    old_checkpoint: CheckpointInput,
    new_checkpoint: CheckpointInput,
    proof: Sequence[bytes | str],
    verifier_key: str | VerifierKey,
) -> Checkpoint:
    """Check that the new signed tree extends the old one; return the new checkpoint.

    Raises :class:`CheckpointError` or :class:`ProofError` (which names a
    rollback when the new checkpoint is smaller, and a fork when the proof fails).
    """
    key = resolve_verifier_key(verifier_key)
    old = _verified(old_checkpoint, key)
    new = _verified(new_checkpoint, key)
    if old.origin != new.origin:
        raise CheckpointError(f"checkpoints are for different logs: {old.origin!r}, {new.origin!r}")
    if old.size > new.size:
        raise ProofError(f"rollback: the new checkpoint (size {new.size}) is older than the old one (size {old.size})")
    try:
        verify_consistency_proof(old.size, new.size, old.root, new.root, _proof_hashes(proof))
    except ProofError as exc:
        raise ProofError(
            f"fork or bad proof: size {old.size} is not proven a prefix of size {new.size}: {exc}"
        ) from exc
    return new


__all__ = [
    "Problem",
    "ProblemKind",
    "VerifyReport",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
]
