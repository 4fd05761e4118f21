"""Redaction, evaluated: recall and precision per entity type on the seeded corpus, and speed.

Run from the repository root:

    PYTHONPATH=src python benchmarks/redaction.py

The corpus (tests/fixtures/redaction/corpus.jsonl, written for the tests — no
real personal data) seeds personal data, fake secrets in many formats and
client codenames in several forms (case, inflection, misspelling, spacing),
plus negatives (look-alikes that must stay). The client dictionary is
tests/fixtures/redaction/dictionary.json. Scoring, per type:

* an expected value counts at every occurrence; it is *found* when a finding
  of the same type covers at least 90% of it (recall);
* a finding that overlaps no expected value of its type is a false positive
  (precision).

The bar for the deterministic detectors and the dictionaries is 100% recall.
Speed: the whole policy (every detector, the dictionary) over 200-word items.
Prints a table and writes benchmarks/results/redaction.json.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from bastion.leaks.simulation import generate_items
from bastion.redaction import (
    EntityType,
    InMemoryVault,
    compile_policy,
    load_policy,
    redact_item,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "redaction"
RESULTS = ROOT / "benchmarks" / "results" / "redaction.json"
SECRET = b"benchmark-redaction-secret-00001"


def corpus() -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line]


def evaluate() -> dict:
    dictionary = json.loads((FIXTURES / "dictionary.json").read_text(encoding="utf-8"))
    redactor = compile_policy(load_policy({"dictionaries": dictionary}))
    kinds = {t.value for t in EntityType} | set(dictionary)
    hits, misses, false = Counter(), Counter(), Counter()
    missed, spurious = [], []
    for line in corpus():
        text = line["text"]
        found = [m for m in redactor.find(text) if m.entity_type in kinds]
        expected = []
        for entity in line["entities"]:
            at = text.find(entity["value"])
            while at != -1:
                expected.append((at, at + len(entity["value"]), entity["type"]))
                at = text.find(entity["value"], at + 1)
        for start, end, kind in expected:
            if any(m.entity_type == kind and min(end, m.end) - max(start, m.start) >= 0.9 * (end - start)
                   for m in found):
                hits[kind] += 1
            else:
                misses[kind] += 1
                missed.append(f"{line['id']}: {kind} {text[start:end]!r}")
        for m in found:
            if not any(m.entity_type == k and m.start < e and s < m.end for s, e, k in expected):
                false[m.entity_type] += 1
                spurious.append(f"{line['id']}: {m.entity_type} {m.text!r}")
    rows = []
    for kind in sorted(set(hits) | set(misses) | set(false)):
        rows.append({
            "type": kind, "class": "dictionary" if kind in dictionary else "deterministic",
            "expected": hits[kind] + misses[kind], "found": hits[kind], "false_positives": false[kind],
            "recall": hits[kind] / max(1, hits[kind] + misses[kind]),
            "precision": hits[kind] / max(1, hits[kind] + false[kind]),
        })
    return {"per_type": rows, "missed": missed, "false_positives": spurious, "lines": len(corpus())}


def speed(items: int = 400) -> dict:
    dictionary = json.loads((FIXTURES / "dictionary.json").read_text(encoding="utf-8"))
    redactor = compile_policy(load_policy({"dictionaries": dictionary}))
    texts = generate_items(items, seed=3, plain_share=0.5)
    vault = InMemoryVault()
    started = time.perf_counter()
    for text in texts:
        redact_item({"text": text}, redactor, vault, SECRET)
    elapsed = time.perf_counter() - started
    return {"items": items, "words_per_item": statistics.mean(len(t.split()) for t in texts),
            "items_per_second": items / elapsed, "ms_per_item": 1000 * elapsed / items}


def main() -> int:
    result = evaluate()
    result["speed"] = speed()
    print(f"{'type':16} {'class':13} {'recall':>14} {'precision':>10}")
    for row in result["per_type"]:
        print(f"{row['type']:16} {row['class']:13} {row['found']:4}/{row['expected']:<4} {row['recall']:6.1%} "
              f"{row['precision']:9.1%}")
    print(f"missed: {len(result['missed'])}; false positives: {len(result['false_positives'])}")
    for line in result["missed"] + result["false_positives"]:
        print("  " + line)
    s = result["speed"]
    print(f"speed: {s['items_per_second']:.0f} items/s ({s['ms_per_item']:.2f} ms per {s['words_per_item']:.0f}-word item)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))
    return 0 if not result["missed"] else 1


if __name__ == "__main__":
    sys.exit(main())
