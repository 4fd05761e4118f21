"""Export manifests: the signed datasheet that travels with an exported file.

Concept
    Every export gets a manifest: what was exported (workspace, project, task
    type, format and options), how much (rows, tasks, annotations, per
    annotator), who labelled it under which config version, the quality
    figures and redaction policy in force, the audit checkpoint the export was
    cut at, the SHA-256 and length of the exported bytes, and when and by whom
    it was made. The deployment signs it with the Ed25519 key that signs audit
    checkpoints (published at ``GET /api/v1/audit/public-key``), so a client
    checks a file offline with public material only (:func:`verify_export`).

    The signature covers ``SIGNING_CONTEXT`` followed by the RFC 8785 (JCS)
    encoding of the manifest without its ``signature`` member::

        "signature": {"algorithm": "Ed25519", "key": "<name>+<key id>",
                      "value": "<base64 of the 64-byte signature>"}

    The context line keeps a manifest signature from ever passing for a
    signature over something else the same key signs (checkpoint notes).

What is checked, in order
    1. The shape, then the signature with the one trusted key; nothing else in
       the manifest is looked at before it verifies.
    2. The audit checkpoint inside: its own signature, and that it is the log
       of the manifest's workspace.
    3. The file: its length and SHA-256.
    4. For the line formats (JSON Lines rows): the number of rows, and for the
       lossless ``jsonl`` rows the tasks, annotations and annotations per
       annotator, counted again from the lines.

The trap
    A hash in a manifest proves nothing unless the manifest's signature was
    checked with a key the client already trusts: whoever changes the file can
    rewrite the hash too. And a valid signature says only that the deployment
    made this manifest: the counts say what the file must contain, so they are
    recounted, not read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .checkpoint import checkpoint_from_json, resolve_verifier_key
from .errors import CheckpointError
from .notes import VerifierKey, compute_key_id

MANIFEST_TYPE = "bastion.export-manifest"
MANIFEST_VERSION = 1
SIGNING_CONTEXT = b"bastion export manifest v1\n"
LINE_FORMATS = ("jsonl", "sft", "dpo", "spacy")  # one JSON row per line
_SAFE = 2**53


def _as_doubles(value: Any) -> Any:
    """A JSON value with every number as JCS reads it: an integer past 2**53 is a double."""
    kind = type(value)
    if kind is int:
        return value if -_SAFE < value < _SAFE else float(value)
    if kind is dict:
        return {key: _as_doubles(item) for key, item in value.items()}
    if kind is list:
        return [_as_doubles(item) for item in value]
    return value


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON value (integers past 2**53 read as the doubles they denote)."""
    return rfc8785.dumps(_as_doubles(orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))))


def signed_message(manifest: Mapping[str, Any]) -> bytes:
    """What the signature covers: the context line and the JCS of the manifest without ``signature``."""
    return SIGNING_CONTEXT + canonical_json({k: v for k, v in manifest.items() if k != "signature"})


def sign_manifest(body: Mapping[str, Any], name: str, private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """The manifest with its ``signature`` member (``body`` must not have one)."""
    if "signature" in body:
        raise ValueError("the manifest body already has a signature")
    plain = orjson.loads(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY))
    key_id = compute_key_id(name, private_key.public_key()).hex()
    value = private_key.sign(signed_message(plain))
    return {
        **plain,
        "signature": {
            "algorithm": "Ed25519",
            "key": f"{name}+{key_id}",
            "value": base64.b64encode(value).decode("ascii"),
        },
    }


@dataclass
class ManifestReport:
    """What :func:`verify_export` found; ``ok`` only when every check ran and passed."""

    ok: bool = False
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class _LineCounts:
    """Rows, tasks, annotations and annotations per annotator, recounted from JSON Lines."""

    def __init__(self, lossless: bool, per: str) -> None:
        self.lossless, self.per = lossless, per
        self.rows = 0
        self.annotations = 0
        self.tasks: set[str] = set()
        self.per_annotator: Counter[str] = Counter()
        self.problem: str | None = None
        self._pending = b""

    def feed(self, chunk: bytes) -> None:
        lines = (self._pending + chunk).split(b"\n")
        self._pending = lines.pop()
        for line in lines:
            self._line(line)

    def close(self) -> None:
        if self._pending:
            self._line(self._pending)

    def _line(self, line: bytes) -> None:
        self.rows += 1
        if not self.lossless or self.problem:
            return
        try:
            row = orjson.loads(line)
            annotations = [row["annotation"]] if self.per == "annotation" else row["annotations"]
            self.tasks.add(row["id"])
            for annotation in annotations:
                self.per_annotator[annotation["user_id"]] += 1
                self.annotations += 1
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            self.problem = f"row {self.rows} is not a {self.per} row of a lossless export ({exc})"


def _check_shape(manifest: Any) -> str | None:
    if not isinstance(manifest, dict):
        return "a manifest is a JSON object"
    if manifest.get("type") != MANIFEST_TYPE or manifest.get("version") != MANIFEST_VERSION:
        return f"not a {MANIFEST_TYPE} of version {MANIFEST_VERSION}"
    signature = manifest.get("signature")
    if not isinstance(signature, dict) or signature.get("algorithm") != "Ed25519":
        return 'the manifest has no "signature" with algorithm Ed25519'
    if not isinstance(signature.get("key"), str) or not isinstance(signature.get("value"), str):
        return "the manifest's signature has no key or value"
    return None


def _check_signature(manifest: dict[str, Any], key: VerifierKey) -> str | None:
    signature = manifest["signature"]
    trusted = f"{key.name}+{key.key_id.hex()}"
    if signature["key"] != trusted:
        return f"the manifest is signed by {signature['key']}, not by the trusted key {trusted}"
    try:
        value = base64.b64decode(signature["value"], validate=True)
        key.public_key.verify(value, signed_message(manifest))
    except (binascii.Error, ValueError, InvalidSignature, rfc8785.CanonicalizationError):
        return (
            f"the manifest's signature does not verify with {trusted}: the manifest was changed"
            " after it was signed, or signed by another key"
        )
    return None


def _expect(report: ManifestReport, what: str, stated: Any, found: Any) -> None:
    if stated == found:
        report.checked.append(what)
    else:
        report.problems.append(f"{what}: the manifest says {stated!r}, the file has {found!r}")


def verify_export(manifest: Any, chunks: Iterable[bytes], verifier_key: str | VerifierKey) -> ManifestReport:
    """Check an exported file against its manifest with the trusted key alone.

    ``chunks`` are the file's bytes (read in pieces). A malformed key string
    raises; everything about the manifest and the file is reported.
    """
    key = resolve_verifier_key(verifier_key)
    report = ManifestReport()
    problem = _check_shape(manifest) or _check_signature(manifest, key)
    if problem:
        report.problems.append(problem)
        return report
    report.checked.append(f"signature by {key.name}+{key.key_id.hex()}")

    try:
        checkpoint = checkpoint_from_json(manifest.get("audit_checkpoint"), key)
        if checkpoint.workspace != manifest.get("workspace_id"):
            report.problems.append(
                f"the audit checkpoint is for log {checkpoint.origin}, not the"
                f" manifest's workspace {manifest.get('workspace_id')}"
            )
        else:
            report.checked.append(f"audit checkpoint {checkpoint.origin} at size {checkpoint.size}")
    except CheckpointError as exc:
        report.problems.append(f"the audit checkpoint: {exc}")

    fmt = manifest.get("format") or {}
    counts = manifest.get("counts") or {}
    stated_file = manifest.get("file") or {}
    lines = (
        _LineCounts(fmt.get("rows") == "lossless", fmt.get("per") or "task")
        if fmt.get("name") in LINE_FORMATS
        else None
    )
    digest, length = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        length += len(chunk)
        if lines is not None:
            lines.feed(chunk)
    _expect(report, "byte length", stated_file.get("bytes"), length)
    _expect(report, "SHA-256", stated_file.get("sha256"), digest.hexdigest())
    if lines is not None:
        lines.close()
        _expect(report, "rows", counts.get("rows"), lines.rows)
        if lines.lossless:
            if lines.problem:
                report.problems.append(lines.problem)
            else:
                _expect(report, "tasks", counts.get("tasks"), len(lines.tasks))
                _expect(report, "annotations", counts.get("annotations"), lines.annotations)
                _expect(report, "annotations per annotator", counts.get("per_annotator"), dict(lines.per_annotator))
    report.ok = not report.problems
    return report


__all__ = [
    "LINE_FORMATS",
    "MANIFEST_TYPE",
    "MANIFEST_VERSION",
    "SIGNING_CONTEXT",
    "ManifestReport",
    "canonical_json",
    "sign_manifest",
    "signed_message",
    "verify_export",
]
