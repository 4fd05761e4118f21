"""Audit log costs: appending with the frontier, signing, proofs, and offline verification.

    PYTHONPATH=src python benchmarks/audit.py [--entries 1000000] [--every 1024]

Prints one figure per line. The verification figure is end to end: read the
JSONL export, parse and check each line, hash it, fold it into the frontier,
compare the roots at every signed size.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta

from bastion.audit import (
    Frontier,
    TreeNodes,
    consistency_proof,
    format_timestamp,
    generate_signing_key,
    inclusion_proof,
    leaf_bytes,
    leaf_hash,
    sign_checkpoint,
    verifier_key_string,
    verify_log,
)
from bastion.audit.merkle import hash_leaf

NAME = "bastion.example"
WORKSPACE = "ws_0190f3c2a1b24c8e9d7f6a5b4c3d2e1f"
ORIGIN = f"{NAME}/{WORKSPACE}"
T0 = datetime(2026, 11, 27, 21, 45, 54, 123456, tzinfo=UTC)


def entry(seq: int) -> dict:
    return {
        "seq": seq,
        "id": f"aud_{seq:032x}",
        "at": format_timestamp(T0 + timedelta(microseconds=seq * 1500)),
        "workspace": WORKSPACE,
        "actor": f"usr_{seq % 97:032x}",
        "action": "task.shown",
        "target": f"tsk_{seq // 3:032x}",
        "details": {"project": "prj_0190f3c2a1b24c8e9d7f6a5b4c3d2e1f", "position": seq % 50},
        "v": 2,  # RFC 8785, as every entry is written now
    }


def figure(label: str, value: float, unit: str) -> None:
    print(f"{label:<52} {value:>12.3f} {unit}")


def bench_append(count: int) -> None:
    leaves = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(count)]
    frontier = Frontier()
    start = time.perf_counter()
    for leaf in leaves:
        frontier.append(leaf)
    elapsed = time.perf_counter() - start
    figure("frontier append (precomputed leaf hash)", elapsed / count * 1e6, "µs/leaf")
    start = time.perf_counter()
    for _ in range(1000):
        frontier.root()
    figure(f"frontier root at size {count}", (time.perf_counter() - start) / 1000 * 1e6, "µs")
    stored_size, stored = frontier.size, frontier.to_bytes()
    start = time.perf_counter()
    for _ in range(1000):
        restored = Frontier.from_bytes(stored_size, stored)
        restored.append(leaves[0])
        restored.root()
    figure("load stored frontier + append + root", (time.perf_counter() - start) / 1000 * 1e6, "µs")
    figure("stored frontier size", len(frontier.to_bytes()), "bytes")

    entries = [entry(i) for i in range(20000)]
    frontier = Frontier()
    start = time.perf_counter()
    for item in entries:
        frontier.append(leaf_hash(item))
    elapsed = time.perf_counter() - start
    figure("validate + encode + hash entry + append", elapsed / len(entries) * 1e6, "µs/entry")


def bench_sign_and_proofs(count: int) -> None:
    key = generate_signing_key()
    start = time.perf_counter()
    for i in range(1000):
        sign_checkpoint(key, NAME, ORIGIN, i, hash_leaf(b"r"), T0)
    figure("sign checkpoint", (time.perf_counter() - start), "ms each")

    leaves = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(count)]
    start = time.perf_counter()
    nodes = TreeNodes(leaves)
    figure(f"build node table for {count} leaves", time.perf_counter() - start, "s")
    start = time.perf_counter()
    for i in range(1000):
        inclusion_proof((i * 7919) % count, count, nodes)
        consistency_proof(max(1, (i * 104729) % count), count, nodes)
    figure("inclusion + consistency proof from node table", (time.perf_counter() - start), "ms each")
    start = time.perf_counter()
    inclusion_proof(count // 3, count, leaves)
    figure("inclusion proof from bare leaf hashes", time.perf_counter() - start, "s")


def bench_verify(count: int, every: int) -> None:
    key = generate_signing_key()
    verifier = verifier_key_string(NAME, key)
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "audit.jsonl")
        frontier = Frontier()
        start = time.perf_counter()
        with open(path, "wb") as out:
            for seq in range(count):
                line = leaf_bytes(entry(seq))
                out.write(line + b"\n")
                frontier.append(hash_leaf(line))
                if (seq + 1) % every == 0 or seq + 1 == count:
                    notes.append(sign_checkpoint(key, NAME, ORIGIN, seq + 1, frontier.root(), T0))
        figure(
            f"write {count} entry export + {len(notes)} checkpoints",
            time.perf_counter() - start,
            "s",
        )
        figure("export size", os.path.getsize(path) / 2**20, "MiB")

        start = time.perf_counter()
        report = verify_log(path, notes[-1], verifier, origin=ORIGIN)
        elapsed = time.perf_counter() - start
        assert report.ok, report.problems[:3]
        figure(f"verify {count} entries, latest checkpoint only", elapsed, "s")
        figure("  per entry", elapsed / count * 1e6, "µs")

        start = time.perf_counter()
        report = verify_log(path, notes[-1], verifier, origin=ORIGIN, checkpoints=notes)
        elapsed = time.perf_counter() - start
        assert report.ok and len(report.sizes_checked) == len(notes)
        figure(f"verify {count} entries, {len(notes)} checkpoints", elapsed, "s")
    figure(
        "peak resident memory so far (writer + verifier)",
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "MiB",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=1024, help="sign a checkpoint every N entries")
    args = parser.parse_args()
    # Verification first, so the peak memory figure is the verifier's alone.
    bench_verify(args.entries, args.every)
    bench_append(args.entries)
    bench_sign_and_proofs(args.entries)


if __name__ == "__main__":
    main()
