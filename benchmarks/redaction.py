"""Redaction, evaluated: recall and precision per entity type on the seeded corpus, and speed.

Run from the repository root:

    PYTHONPATH=src python -m benchmarks.redaction             # evaluation, speed, a 20,000-item import
    PYTHONPATH=src python -m benchmarks.redaction --quick     # the same with a 2,000-item import
    PYTHONPATH=src python -m benchmarks.redaction --import-only --import-items 5000

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
Import: the import service end to end (redaction, pseudonyms, sealing, the
insert) into a fresh SQLite database, items of about 200 words each carrying a
few e-mail addresses, phone numbers and dictionary terms drawn from a pool (so
values repeat across items, as in real data), against the same items imported
into a project without redaction.
Prints a table and writes benchmarks/results/redaction.json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bastion.leaks.simulation import generate_items
from bastion.redaction import EntityType, compile_policy, load_policy, redact_item

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "redaction"
RESULTS = ROOT / "benchmarks" / "results" / "redaction.json"


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
            if any(
                m.entity_type == kind and min(end, m.end) - max(start, m.start) >= 0.9 * (end - start) for m in found
            ):
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
        rows.append(
            {
                "type": kind,
                "class": "dictionary" if kind in dictionary else "deterministic",
                "expected": hits[kind] + misses[kind],
                "found": hits[kind],
                "false_positives": false[kind],
                "recall": hits[kind] / max(1, hits[kind] + misses[kind]),
                "precision": hits[kind] / max(1, hits[kind] + false[kind]),
            }
        )
    return {"per_type": rows, "missed": missed, "false_positives": spurious, "lines": len(corpus())}


def speed(items: int = 400) -> dict:
    dictionary = json.loads((FIXTURES / "dictionary.json").read_text(encoding="utf-8"))
    redactor = compile_policy(load_policy({"dictionaries": dictionary}))
    texts = generate_items(items, seed=3, plain_share=0.5)
    started = time.perf_counter()
    for text in texts:
        redact_item({"text": text}, redactor)
    elapsed = time.perf_counter() - started
    return {
        "items": items,
        "words_per_item": statistics.mean(len(t.split()) for t in texts),
        "items_per_second": items / elapsed,
        "ms_per_item": 1000 * elapsed / items,
    }


def import_items(count: int, seed: int = 5) -> list[dict]:
    """Prose items with values to redact: a pool of 2,000 addresses and phones, the fixture dictionary."""
    dictionary = json.loads((FIXTURES / "dictionary.json").read_text(encoding="utf-8"))
    terms = [term for kind in dictionary.values() for term in kind]
    rng = random.Random(seed)
    pool = 2000
    items = []
    for i, text in enumerate(generate_items(count, seed=seed, plain_share=0.5)):
        sentences = text.split(". ")
        for _ in range(rng.randint(2, 6)):
            k = min(int(rng.paretovariate(1.2)) - 1, pool - 1)
            value = rng.choice((f"person{k}@example.com", f"+1 212 555 {k:04d}", rng.choice(terms)))
            at = rng.randrange(len(sentences))
            sentences[at] = f"{sentences[at]} (ask {value})"
        items.append({"data": {"text": ". ".join(sentences)}, "external_id": f"item-{i}"})
    return items


def import_speed(count: int) -> dict:
    """Items per second through ``imports.import_tasks``, with and without a redaction policy."""
    from bastion.services import imports, projects

    from .seeding import make_world, open_runtime, settings_for, system

    dictionary = json.loads((FIXTURES / "dictionary.json").read_text(encoding="utf-8"))
    items = import_items(count)
    out: dict = {"items": count, "words_per_item": statistics.mean(len(i["data"]["text"].split()) for i in items)}
    with tempfile.TemporaryDirectory(prefix="bastion-redaction-") as tmp:
        rt = open_runtime(settings_for(Path(tmp)))
        try:
            world = make_world(rt, annotators=0, tag="redaction")
            for name, config in (
                ("plain", {"type": "spans", "labels": ["PERSON"]}),
                (
                    "redacted",
                    {
                        "type": "spans",
                        "labels": ["PERSON"],
                        "redaction": {"dictionaries": dictionary},
                        "leak_tracing": {"variants": {"enabled": False}},
                    },
                ),
            ):
                project = projects.create_project(system(rt), world.workspace_id, name=name, config=config)
                started = time.perf_counter()
                report = imports.import_tasks(system(rt), project.id, list(enumerate(items, start=1)))
                elapsed = time.perf_counter() - started
                if report.imported != count:
                    raise RuntimeError(f"{name}: imported {report.imported} of {count}: {report.rejected[:3]}")
                out[name] = {"seconds": elapsed, "items_per_second": count / elapsed}
        finally:
            rt.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.redaction", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 2,000-item import instead of 20,000")
    parser.add_argument("--import-items", type=int, default=None, help="how many items to import")
    parser.add_argument("--import-only", action="store_true", help="skip the evaluation and the detector speed")
    args = parser.parse_args(argv)
    count = args.import_items or (2000 if args.quick else 20_000)
    if args.import_only:
        result = {"import": import_speed(count)}
        _print_import(result["import"])
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.with_name("redaction-import.json").write_text(json.dumps(result, indent=1))
        return 0
    result = evaluate()
    result["speed"] = speed()
    result["import"] = import_speed(count)
    print(f"{'type':16} {'class':13} {'recall':>14} {'precision':>10}")
    for row in result["per_type"]:
        print(
            f"{row['type']:16} {row['class']:13} {row['found']:4}/{row['expected']:<4} {row['recall']:6.1%} "
            f"{row['precision']:9.1%}"
        )
    print(f"missed: {len(result['missed'])}; false positives: {len(result['false_positives'])}")
    for line in result["missed"] + result["false_positives"]:
        print("  " + line)
    s = result["speed"]
    print(
        f"speed: {s['items_per_second']:.0f} items/s ({s['ms_per_item']:.2f} ms per {s['words_per_item']:.0f}-word item)"
    )
    _print_import(result["import"])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))
    return 0 if not result["missed"] else 1


def _print_import(figures: dict) -> None:
    print(
        f"import of {figures['items']:,} {figures['words_per_item']:.0f}-word items (SQLite): "
        f"{figures['redacted']['items_per_second']:.0f} items/s with redaction, "
        f"{figures['plain']['items_per_second']:.0f} items/s without"
    )


if __name__ == "__main__":
    sys.exit(main())
