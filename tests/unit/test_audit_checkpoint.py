"""Signed notes, key strings and checkpoints: every signature really is checked."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bastion.audit.checkpoint import (
    Checkpoint,
    checkpoint_from_json,
    checkpoint_origin,
    checkpoint_to_json,
    parse_and_verify_checkpoint,
    sign_checkpoint,
    workspace_of_origin,
)
from bastion.audit.errors import (
    BadCheckpointSignature,
    CheckpointError,
    CheckpointMismatch,
    InvalidKey,
    MalformedCheckpoint,
    UnknownCheckpointKey,
)
from bastion.audit.merkle import EMPTY_ROOT, hash_leaf
from bastion.audit.notes import (
    VerifierKey,
    compute_key_id,
    generate_signing_key,
    open_note,
    parse_signer_key,
    sign_note,
    signer_key_string,
    verifier_key_string,
)
from bastion.domain.errors import InvalidInput

GO = json.loads((Path(__file__).parents[1] / "fixtures" / "audit" / "note_vectors.json").read_text())
NAME = "bastion.example"
ORIGIN = "bastion.example/ws_alpha"
ROOT = hash_leaf(b"some root")
WHEN = datetime(2026, 11, 27, 21, 45, 54, 123456, tzinfo=UTC)


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return generate_signing_key()


@pytest.fixture(scope="module")
def verifier(key: Ed25519PrivateKey) -> str:
    return verifier_key_string(NAME, key)


@pytest.fixture(scope="module")
def note(key: Ed25519PrivateKey) -> str:
    return sign_checkpoint(key, NAME, ORIGIN, 300, ROOT, WHEN)


def resign_body(note: str, key: Ed25519PrivateKey, name: str = NAME) -> str:
    """Sign the body of ``note`` again with another key."""
    body = note[: note.rfind("\n\n") + 1]
    return sign_note(body, name, key)


# ---------------------------------------------------------------------------
# Interoperability with the Go signed-note implementation
# ---------------------------------------------------------------------------


def test_go_reference_note_is_reproduced_byte_for_byte() -> None:
    name, private_key = parse_signer_key(GO["signer_key"])
    assert name == GO["name"]
    assert sign_note(GO["text"], name, private_key) == GO["signed_note"]
    assert verifier_key_string(name, private_key) == GO["verifier_key"]
    assert signer_key_string(name, private_key) == GO["signer_key"]


def test_go_reference_note_opens_with_its_verifier_key() -> None:
    key = VerifierKey.from_string(GO["verifier_key"])
    assert key.name == GO["name"]
    assert key.key_id.hex() == GO["key_id_hex"]
    assert compute_key_id(key.name, key.public_key).hex() == GO["key_id_hex"]
    assert key.to_string() == GO["verifier_key"]
    assert open_note(GO["signed_note"], key) == GO["text"]
    assert open_note(GO["signed_note"].encode("utf-8"), key) == GO["text"]


def test_go_reference_note_with_one_changed_character_fails() -> None:
    key = VerifierKey.from_string(GO["verifier_key"])
    altered = GO["signed_note"].replace("answer", "Answer")
    with pytest.raises(BadCheckpointSignature):
        open_note(altered, key)


def test_every_single_character_deletion_of_a_verifier_key_is_rejected() -> None:
    text = GO["verifier_key"]
    for i in range(len(text)):
        mangled = text[:i] + text[i + 1 :]
        with pytest.raises(InvalidKey):
            VerifierKey.from_string(mangled)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "PeterNeumann",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # upper-case id
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong id
        "PeterNeumann+c74f20a3+AhpcZ2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # wrong type byte
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in name
    ],
)
def test_malformed_verifier_keys_are_rejected(text: str) -> None:
    with pytest.raises(InvalidKey):
        VerifierKey.from_string(text)


@pytest.mark.parametrize(
    "text",
    [
        "PRIVATE+KEY+PeterNeumann+c74f20a3",
        "PUBLIC+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PRIVATE+KEY+PeterNeumann+00000000+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDF",
    ],
)
def test_malformed_signer_keys_are_rejected(text: str) -> None:
    with pytest.raises(InvalidKey):
        parse_signer_key(text)


def test_signer_key_round_trip(key: Ed25519PrivateKey) -> None:
    name, restored = parse_signer_key(signer_key_string(NAME, key))
    assert name == NAME
    assert verifier_key_string(name, restored) == verifier_key_string(NAME, key)


# ---------------------------------------------------------------------------
# Checkpoints: round trip and format
# ---------------------------------------------------------------------------


def test_checkpoint_text_has_the_tlog_checkpoint_shape(note: str) -> None:
    body, signatures = note.split("\n\n")
    assert body.split("\n") == [
        ORIGIN,
        "300",
        base64.b64encode(ROOT).decode(),
        "timestamp 2026-11-27T21:45:54.123456Z",
    ]
    assert signatures.startswith("\u2014 bastion.example ")
    blob = base64.b64decode(signatures.split(" ")[2])
    assert len(blob) == 4 + 64


def test_sign_then_verify_round_trip(note: str, verifier: str, key: Ed25519PrivateKey) -> None:
    cp = parse_and_verify_checkpoint(note, verifier)
    assert (cp.origin, cp.size, cp.root, cp.timestamp) == (ORIGIN, 300, ROOT, WHEN)
    assert cp.note == note
    assert cp.key_name == NAME
    assert cp.workspace == "ws_alpha"
    signature_blob = base64.b64decode(note.rsplit(" ", 1)[1])
    assert signature_blob[:4] == compute_key_id(NAME, key.public_key())


def test_timestamp_is_normalised_to_utc(key: Ed25519PrivateKey, verifier: str) -> None:
    local = WHEN.astimezone(timezone(timedelta(hours=5, minutes=30)))
    cp = parse_and_verify_checkpoint(sign_checkpoint(key, NAME, ORIGIN, 1, ROOT, local), verifier)
    assert cp.timestamp == WHEN and cp.timestamp.tzinfo == UTC


def test_empty_tree_checkpoint(key: Ed25519PrivateKey, verifier: str) -> None:
    cp = parse_and_verify_checkpoint(sign_checkpoint(key, NAME, ORIGIN, 0, EMPTY_ROOT, WHEN), verifier)
    assert cp.size == 0 and cp.root == EMPTY_ROOT


def test_origin_helpers() -> None:
    assert checkpoint_origin("bastion.example", "ws_alpha") == ORIGIN
    assert workspace_of_origin("bastion.example/eu/ws_x1") == "ws_x1"
    assert workspace_of_origin("bastion.example") is None
    assert workspace_of_origin("bastion.example/ws_") is None
    with pytest.raises(MalformedCheckpoint):
        checkpoint_origin("bastion.example", "alpha")
    with pytest.raises(MalformedCheckpoint):
        checkpoint_origin("bastion example", "ws_alpha")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"origin": "has space/ws_a"},
        {"origin": "plus+sign/ws_a"},
        {"origin": ""},
        {"size": -1},
        {"size": True},
        {"root": b"short"},
        {"timestamp": datetime(2026, 1, 1)},  # naive
    ],
)
def test_sign_checkpoint_rejects_bad_fields(key: Ed25519PrivateKey, kwargs: dict) -> None:
    args = {"origin": ORIGIN, "size": 3, "root": ROOT, "timestamp": WHEN} | kwargs
    with pytest.raises(MalformedCheckpoint):
        sign_checkpoint(key, NAME, **args)


@pytest.mark.parametrize("name", ["", "with space", "a+b", "tab\tname"])
def test_sign_checkpoint_rejects_bad_key_names(key: Ed25519PrivateKey, name: str) -> None:
    with pytest.raises(InvalidKey):
        sign_checkpoint(key, name, ORIGIN, 3, ROOT, WHEN)


# ---------------------------------------------------------------------------
# Signatures: forged, altered, foreign
# ---------------------------------------------------------------------------


def test_checkpoint_signed_by_another_key_is_rejected(note: str, verifier: str) -> None:
    forger = generate_signing_key()
    # Another name: no signature from the trusted key at all.
    with pytest.raises(UnknownCheckpointKey):
        parse_and_verify_checkpoint(resign_body(note, forger, "evil.example"), verifier)
    # The trusted name with another key: the key id differs, still unknown.
    with pytest.raises(UnknownCheckpointKey):
        parse_and_verify_checkpoint(resign_body(note, forger), verifier)


def test_forged_signature_reusing_the_trusted_key_id_is_rejected(
    note: str, verifier: str, key: Ed25519PrivateKey
) -> None:
    forger = generate_signing_key()
    body = note[: note.rfind("\n\n") + 1]
    key_id = compute_key_id(NAME, key.public_key())
    forged = base64.b64encode(key_id + forger.sign(body.encode())).decode()
    with pytest.raises(BadCheckpointSignature):
        parse_and_verify_checkpoint(f"{body}\n\u2014 {NAME} {forged}\n", verifier)


def test_verifying_with_the_wrong_verifier_key_fails(note: str) -> None:
    other = verifier_key_string(NAME, generate_signing_key())
    with pytest.raises(UnknownCheckpointKey):
        parse_and_verify_checkpoint(note, other)


@pytest.mark.parametrize(
    "old,new",
    [
        ("\n300\n", "\n301\n"),  # size
        ("\n300\n", "\n3000\n"),
        ("bastion.example/ws_alpha", "bastion.example/ws_beta"),  # origin
        ("54.123456Z", "55.123456Z"),  # timestamp
    ],
)
def test_altered_checkpoint_text_is_rejected(note: str, verifier: str, old: str, new: str) -> None:
    assert old in note
    with pytest.raises(BadCheckpointSignature):
        parse_and_verify_checkpoint(note.replace(old, new, 1), verifier)


def test_altered_root_is_rejected(note: str, verifier: str) -> None:
    encoded = base64.b64encode(ROOT).decode()
    altered = base64.b64encode(hash_leaf(b"another root")).decode()
    with pytest.raises(BadCheckpointSignature):
        parse_and_verify_checkpoint(note.replace(encoded, altered), verifier)


def test_altered_signature_bytes_are_rejected(note: str, verifier: str) -> None:
    body, _, line = note.rstrip("\n").rpartition("\n")
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[-1] ^= 1
    forged = f"{body}\n\u2014 {NAME} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(BadCheckpointSignature):
        parse_and_verify_checkpoint(forged, verifier)


def test_extra_witness_signatures_are_ignored_but_ours_must_verify(
    note: str, verifier: str, key: Ed25519PrivateKey
) -> None:
    witness = generate_signing_key()
    body = note[: note.rfind("\n\n") + 1]
    witness_line = resign_body(note, witness, "witness.example").split("\n\n")[1]
    ours_line = note.split("\n\n")[1]
    cosigned = f"{body}\n{witness_line}{ours_line}"
    assert parse_and_verify_checkpoint(cosigned, verifier).size == 300
    # A broken signature from the trusted key sinks the note, whatever else is there.
    broken = ours_line.replace(ours_line[-6:-2], "AAAA")
    with pytest.raises(BadCheckpointSignature):
        parse_and_verify_checkpoint(f"{body}\n{witness_line}{broken}", verifier)
    # Only the witness signed: the trusted key did not.
    with pytest.raises(UnknownCheckpointKey):
        parse_and_verify_checkpoint(f"{body}\n{witness_line}", verifier)


# ---------------------------------------------------------------------------
# Malformed notes: clear errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "transform,message",
    [
        (lambda n: n.rstrip("\n"), "newline"),
        (lambda n: n.replace("\n\n", "\n"), "blank line"),
        (lambda n: n.split("\n\n")[0] + "\n\n", "no signature"),
        (lambda n: n.replace("\u2014 ", "- "), "'— '"),
        (lambda n: n.replace("\n", "\r\n"), "control character"),
        (lambda n: n.replace("bastion.example ", "bastion.example  "), "signature line"),
        (lambda n: n[:-3] + "!=\n", "base64"),
        (lambda n: n + n.split("\n\n")[1] * 70, "more than"),
        (lambda n: "x" * 70000 + n, "larger than"),
    ],
)
def test_malformed_notes_give_clear_errors(
    note: str, verifier: str, transform: Callable[[str], str], message: str
) -> None:
    with pytest.raises(MalformedCheckpoint, match=message):
        parse_and_verify_checkpoint(transform(note), verifier)


def test_invalid_utf8_is_malformed(note: str, verifier: str) -> None:
    with pytest.raises(MalformedCheckpoint, match="UTF-8"):
        parse_and_verify_checkpoint(note.encode() + b"\xff", verifier)


@pytest.mark.parametrize(
    "body,message",
    [
        ("bastion.example/ws_alpha\n300\n", "lines"),
        (
            "bastion.example/ws_alpha\n0300\n{root}\ntimestamp 2026-11-27T21:45:54.123456Z\n",
            "leading zeros",
        ),
        (
            "bastion.example/ws_alpha\n-3\n{root}\ntimestamp 2026-11-27T21:45:54.123456Z\n",
            "decimal",
        ),
        ("bastion.example/ws_alpha\n3\nAAAA\ntimestamp 2026-11-27T21:45:54.123456Z\n", "32"),
        ("bastion.example/ws_alpha\n3\n{root}\nwhen 2026-11-27T21:45:54.123456Z\n", "timestamp"),
        ("bastion.example/ws_alpha\n3\n{root}\ntimestamp 2026-11-27T21:45:54Z\n", "timestamp"),
        (
            "bastion.example/ws_alpha\n3\n{root}\ntimestamp 2026-11-27T21:45:54.123456Z\nextra\n",
            "lines",
        ),
        ("bastion example\n3\n{root}\ntimestamp 2026-11-27T21:45:54.123456Z\n", "origin"),
    ],
)
def test_signed_but_malformed_checkpoint_bodies_are_rejected(
    key: Ed25519PrivateKey, verifier: str, body: str, message: str
) -> None:
    text = body.replace("{root}", base64.b64encode(ROOT).decode())
    with pytest.raises(MalformedCheckpoint, match=message):
        parse_and_verify_checkpoint(sign_note(text, NAME, key), verifier)


def test_errors_are_invalid_input_with_distinct_codes() -> None:
    classes = [
        MalformedCheckpoint,
        UnknownCheckpointKey,
        BadCheckpointSignature,
        CheckpointMismatch,
        InvalidKey,
    ]
    for cls in classes:
        assert issubclass(cls, CheckpointError) and issubclass(cls, InvalidInput)
    assert len({cls.code for cls in classes}) == len(classes)


# ---------------------------------------------------------------------------
# The saved JSON form
# ---------------------------------------------------------------------------


def test_json_form_round_trip(note: str, verifier: str) -> None:
    saved = checkpoint_to_json(note)
    assert saved == {
        "note": note,
        "origin": ORIGIN,
        "size": 300,
        "root": base64.b64encode(ROOT).decode(),
        "timestamp": "2026-11-27T21:45:54.123456Z",
    }
    assert parse_and_verify_checkpoint(note, verifier).to_json() == saved
    for form in (saved, orjson.dumps(saved), orjson.dumps(saved).decode(), {"note": note}):
        cp = checkpoint_from_json(form, verifier)
        assert isinstance(cp, Checkpoint) and cp.size == 300 and cp.root == ROOT


@pytest.mark.parametrize(
    "field,value",
    [
        ("size", 301),
        ("size", "300"),
        ("root", base64.b64encode(hash_leaf(b"x")).decode()),
        ("origin", "bastion.example/ws_beta"),
        ("timestamp", "2026-11-27T21:45:55.123456Z"),
    ],
)
def test_json_copies_that_disagree_are_reported(note: str, verifier: str, field: str, value: object) -> None:
    saved = checkpoint_to_json(note) | {field: value}
    with pytest.raises(CheckpointMismatch) as caught:
        checkpoint_from_json(saved, verifier)
    # The signed note still decides what the checkpoint says.
    assert caught.value.checkpoint.size == 300
    assert caught.value.checkpoint.root == ROOT
    assert field in caught.value.details


def test_json_form_trusts_only_the_note(note: str, verifier: str, key: Ed25519PrivateKey) -> None:
    forger = generate_signing_key()
    forged_note = resign_body(note.replace("\n300\n", "\n301\n"), forger)
    saved = checkpoint_to_json(note) | {"note": forged_note, "size": 301}
    with pytest.raises(UnknownCheckpointKey):
        checkpoint_from_json(saved, verifier)


@pytest.mark.parametrize("data", [b"not json", "[]", {"origin": ORIGIN}, {"note": 3}])
def test_json_form_without_a_note_is_malformed(verifier: str, data: object) -> None:
    with pytest.raises(MalformedCheckpoint):
        checkpoint_from_json(data, verifier)
