"""The second-language verifier (docs/verify-audit.mjs) against a log and checkpoint the server produced.

It runs with the machine's Node.js: missing Node skips with the reason, except under
CI=true, where it fails.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from functools import partial
from pathlib import Path

import orjson
import pytest

from bastion.audit import LEGACY_FORMAT, AuditEntry
from bastion.services import _audit_append, annotations, queue
from environment import IN_CI
from factories import add_tasks, make_side, system

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "verify-audit.mjs"
NODE = shutil.which("node")


def _node_problem() -> str | None:
    if NODE is None:
        return "node is not installed (the Node.js audit verifier needs v18 or later)"
    version = subprocess.run([NODE, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 18:
        return f"node {version} is older than v18"
    return None


@pytest.fixture(scope="module")
def node() -> str:
    problem = _node_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"CI must run the Node.js audit verifier: {problem}")
        pytest.skip(problem)
    assert NODE is not None
    return NODE


# Details that exercise what RFC 8785 decides: the RFC's numbers (Appendix B), its sorting
# example (section 3.2.3), control characters, large integers and text outside the BMP.
APPENDIX_B = [
    "0000000000000001",
    "7fefffffffffffff",
    "4340000000000000",
    "4430000000000000",
    "44b52d02c7e14af5",
    "44b52d02c7e14af6",
    "44b52d02c7e14af7",
    "444b1ae4d6e2ef4e",
    "444b1ae4d6e2ef50",
    "3eb0c6f7a0b5ed8c",
    "3eb0c6f7a0b5ed8d",
    "41b3de4355555553",
    "41b3de4355555557",
    "becbf647612f3696",
    "43143ff3c1cb0959",
]
VECTORS = {
    "numbers": [struct.unpack(">d", bytes.fromhex(bits))[0] for bits in APPENDIX_B] + [1.0, -0.0, 0.1 + 0.2, 1e16],
    "integers": [2**53 - 1, -(2**53 - 1), 0],
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\U0001f600": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis",
    "string": '\u20ac$\u000f\nA\'B"\\\\"/\u2028\u007f\U0001d11e',
    "literals": [None, True, False, {}, []],
}


@pytest.fixture
def exported(rt, client, tmp_path, monkeypatch):
    """A log the server wrote, legacy entries first, fetched over the API with its checkpoint and key."""
    monkeypatch.setattr(_audit_append, "AuditEntry", partial(AuditEntry, v=LEGACY_FORMAT))  # before RFC 8785
    side = make_side(rt, "node", n_tasks=3)
    monkeypatch.setattr(_audit_append, "AuditEntry", AuditEntry)
    add_tasks(rt, side.project_id, 2, start=10)
    worker = side.ctx(rt, "annotator")
    task = queue.next_task(worker, side.project_id)
    annotations.submit_annotation(worker, task["id"], {"label": "pos"})
    with system(rt).write() as w:
        w.audit(side.workspace_id, "vectors.recorded", None, **VECTORS)
    headers = side.headers("owner")
    key = client.get("/api/v1/audit/public-key").json()["verifier_key"]
    checkpoint = client.get(f"/api/v1/workspaces/{side.workspace_id}/audit/checkpoint", headers=headers)
    log = client.get(f"/api/v1/workspaces/{side.workspace_id}/audit/export", headers=headers)
    assert checkpoint.status_code == 200 and log.status_code == 200
    (tmp_path / "key.pub").write_text(key + "\n")
    (tmp_path / "checkpoint.json").write_bytes(checkpoint.content)
    (tmp_path / "audit.jsonl").write_bytes(log.content)
    return tmp_path, log.content.splitlines(keepends=True), side


def run(
    node: str, folder: Path, log: str = "audit.jsonl", checkpoint: str = "checkpoint.json", key: str = "key.pub"
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [node, str(SCRIPT), str(folder / log), str(folder / checkpoint), str(folder / key)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_node_verifies_the_servers_log_and_checkpoint(node, exported):
    folder, lines, side = exported
    vectors = next(line for line in lines if b'"action":"vectors.recorded"' in line)
    assert b'"v":2' not in lines[0] and b'"v":2' in vectors and b"1e+23" in vectors
    result = run(node, folder)
    assert result.returncode == 0, result.stderr
    size = orjson.loads((folder / "checkpoint.json").read_bytes())["size"]
    assert result.stdout.startswith(f"ok: bastion/{side.workspace_id}, {size} entries match the root")
    assert "legacy entries hashed as exported" in result.stdout
    # The key may also be given as the string itself.
    key = (folder / "key.pub").read_text().strip()
    assert (
        subprocess.run(
            [node, str(SCRIPT), str(folder / "audit.jsonl"), str(folder / "checkpoint.json"), key],
            capture_output=True,
            text=True,
            timeout=120,
        ).returncode
        == 0
    )


def _write(folder: Path, name: str, lines: list[bytes]) -> str:
    (folder / name).write_bytes(b"".join(lines))
    return name


def test_node_rejects_tampered_copies(node, exported):
    folder, lines, _ = exported
    last = next(i for i, line in enumerate(lines) if b'"action":"vectors.recorded"' in line)
    signed = orjson.loads((folder / "checkpoint.json").read_bytes())["size"]
    legacy = next(i for i, line in enumerate(lines) if b'"v":2' not in line and b'"action":"member.added"' in line)

    def edited(seq: int, old: bytes, new: bytes) -> list[bytes]:
        assert old in lines[seq]
        return [line.replace(old, new) if i == seq else line for i, line in enumerate(lines)]

    cases = {
        # an RFC 8785 entry changed and re-encoded canonically: only the root can tell
        "jcs_edit": (
            edited(last, b'"action":"vectors.recorded"', b'"action":"vectors.removed"'),
            "not the signed root",
        ),
        # a legacy entry changed
        "legacy_edit": (
            edited(legacy, b'"action":"member.added"', b'"action":"member.blocked"'),
            "not the signed root",
        ),
        # the same entry in another spelling (orjson's floats): not canonical
        "respelled": (edited(last, b"1e+23", b"1e23"), "not in RFC 8785 canonical form"),
        # text that is no Unicode string (what JSON.parse lets through)
        "surrogate": (edited(last, b'"Euro Sign"', b'"Euro \\ud800Sign"'), "lone surrogate"),
        "deleted": ([line for i, line in enumerate(lines) if i != 2], "the checkpoint signs"),
        "reordered": ([*lines[:2], lines[3], lines[2], *lines[4:]], "has seq 3, expected 2"),
        "truncated": (lines[: signed - 1], "the checkpoint signs"),
    }
    for name, (tampered, message) in cases.items():
        result = run(node, folder, log=_write(folder, f"{name}.jsonl", tampered))
        assert result.returncode == 1 and message in result.stderr, (name, result.stdout, result.stderr)

    checkpoint = orjson.loads((folder / "checkpoint.json").read_bytes())
    text, _, signatures = checkpoint["note"].rpartition("\n\n")
    origin, size, root, stamp = text.split("\n")
    forged_root = "A" * 43 + "="
    (folder / "forged.json").write_bytes(
        orjson.dumps(checkpoint | {"note": "\n".join([origin, size, forged_root, stamp]) + "\n\n" + signatures})
    )
    result = run(node, folder, checkpoint="forged.json")
    assert result.returncode == 1 and "no valid signature" in result.stderr, result.stderr

    from bastion.audit import generate_signing_key, verifier_key_string

    (folder / "other.pub").write_text(verifier_key_string("bastion", generate_signing_key()))
    result = run(node, folder, key="other.pub")
    assert result.returncode == 1 and "no valid signature" in result.stderr, result.stderr
