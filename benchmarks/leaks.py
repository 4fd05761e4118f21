"""Leak-tracing benchmark at full size: 1,000 simulated annotators, ~200-word items.

Run from the repository root:

    PYTHONPATH=src python benchmarks/leaks.py            # full size (several minutes)
    PYTHONPATH=src python benchmarks/leaks.py --quick    # a smoke run

Scenarios (each prints a table; all figures go to benchmarks/results/leaks.json):

1. one item, 2-5 recipients, per attack: copy, HTML sanitiser, NFKC + zero-width
   stripping, obfuscation (invisible and fullwidth characters), 1% OCR-style
   character edits, half the item, paraphrase. Targets: top-1 >= 99%,
   false accusations <= 1e-3.
2. one whole item, all 1,000 annotators recipients: exact identification.
3. the null case: the leaker is not among the recipients; every accusation is false.
4. the same on ordinary prose (about 12 slots per 200 words instead of ~48).
5. evidence over several items of ordinary prose, and collusion (2-3 colluders
   mixing their copies) over several items.
6. paraphrase: variant slots are gone, canaries are recovered.

"Top-1" counts a case only when the guilty person is ranked strictly first;
"conclusive" only when the report names exactly the guilty person; a "false
accusation" is any innocent named as a suspect.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

from bastion.leaks.canaries import CanaryTemplate, canary_fact, match_canary, render_canary
from bastion.leaks.simulation import ATTACKS, CANARY_TEXT, generate_items, paraphrase_canary
from bastion.leaks.trace import DEFAULT_ALPHA, SourceIndex, SourceItem, trace_leak
from bastion.leaks.variants import apply_bits, find_slots, render_variant

SECRET = b"benchmark-workspace-secret-000001"
RESULTS = Path(__file__).resolve().parent / "results" / "leaks.json"


class Corpus:
    def __init__(self, count: int, seed: int, plain_share: float) -> None:
        self.texts = generate_items(count, seed=seed, plain_share=plain_share)
        self.index = SourceIndex(SourceItem(f"task-{i}", text, ()) for i, text in enumerate(self.texts))
        self.slots_per_item = statistics.mean(len(find_slots(t)) for t in self.texts)
        self.words_per_item = statistics.mean(len(t.split()) for t in self.texts)

    def leak(self, item: int, person: str, attack: str, rng: random.Random) -> tuple[str, tuple[int, ...]]:
        variant = render_variant(self.texts[item], secret=SECRET, person_id=person, task_id=f"task-{item}")
        return ATTACKS[attack](variant.text, rng), variant.bits


def run_cases(
    corpus: Corpus, people: list[str], attack: str, cases: int, rng: random.Random, *, recipients: str
) -> dict:
    top1 = conclusive = false = 0
    read = correct = 0
    started = time.perf_counter()
    for _ in range(cases):
        item = rng.randrange(len(corpus.texts))
        if recipients == "few":
            chosen = rng.sample(people, rng.randint(2, 5))
            guilty = rng.choice(chosen)
        elif recipients == "all":
            chosen = people
            guilty = rng.choice(people)
        else:  # "outsider": the leak comes from someone who was not shown the item
            half = len(people) // 2
            chosen = rng.sample(people[:half], 5)
            guilty = rng.choice(people[half:])
        text, bits = corpus.leak(item, guilty, attack, rng)
        report = trace_leak(text, corpus.index.with_recipients({f"task-{item}": chosen}), SECRET)
        top1 += report.top is not None and report.top.person_id == guilty and report.is_top_unique
        conclusive += report.suspects == (guilty,)
        false += any(s != guilty for s in report.suspects)
        by_key = (
            {s.key: b for s, b in zip(find_slots(corpus.texts[item]), bits, strict=True)} if report.readings else {}
        )
        read += len(report.readings)
        correct += sum(by_key.get(r.slot_key) == r.form for r in report.readings)
    elapsed = time.perf_counter() - started
    return {
        "attack": attack,
        "recipients": recipients,
        "cases": cases,
        "top1_rate": top1 / cases,
        "conclusive_rate": conclusive / cases,
        "false_accusation_rate": false / cases,
        "false_accusations": false,
        "slots_read_per_case": read / cases,
        "reading_accuracy": correct / read if read else None,
        "ms_per_case": 1000 * elapsed / cases,
    }


def print_table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}", flush=True)
    print(
        f"{'attack':18} {'cases':>6} {'top-1':>7} {'conclusive':>11} {'false acc.':>11} {'slots read':>11} {'read ok':>8} {'ms/case':>8}"
    )
    for row in rows:
        accuracy = "-" if row["reading_accuracy"] is None else f"{row['reading_accuracy']:.1%}"
        print(
            f"{row['attack']:18} {row['cases']:6d} {row['top1_rate']:7.1%} {row['conclusive_rate']:11.1%} "
            f"{row['false_accusation_rate']:11.2e} {row['slots_read_per_case']:11.1f} {accuracy:>8} {row['ms_per_case']:8.1f}",
            flush=True,
        )


def accumulation(corpus: Corpus, people: list[str], rng: random.Random, trials: int, sizes: list[int]) -> list[dict]:
    """One person leaks several whole items of ordinary prose; all 1,000 annotators saw each."""
    rows = []
    for size in sizes:
        named = false = 0
        for _ in range(trials):
            guilty = rng.choice(people)
            items = rng.sample(range(len(corpus.texts)), size)
            leaks = [corpus.leak(i, guilty, "copy", rng)[0] for i in items]
            report = trace_leak(leaks, corpus.index.with_recipients({f"task-{i}": people for i in items}), SECRET)
            named += report.suspects == (guilty,)
            false += any(s != guilty for s in report.suspects)
        rows.append({"items": size, "trials": trials, "identified_rate": named / trials, "false_accusations": false})
    return rows


def collusion(
    corpus: Corpus, people: list[str], rng: random.Random, trials: int, sizes: list[int], colluder_counts: list[int]
) -> list[dict]:
    """Colluders compare copies and, where they differ, each picks a form at random; 3 innocents per item."""
    rows = []
    for count in colluder_counts:
        for size in sizes:
            any_named = all_named = false = 0
            for _ in range(trials):
                colluders = rng.sample(people, count)
                items = rng.sample(range(len(corpus.texts)), size)
                leaks, recipients = [], {}
                for i in items:
                    text = corpus.texts[i]
                    slots = find_slots(text)
                    copies = [
                        render_variant(text, secret=SECRET, person_id=c, task_id=f"task-{i}").bits for c in colluders
                    ]
                    mixed = [
                        column[0] if len(set(column)) == 1 else rng.choice(column)
                        for column in zip(*copies, strict=True)
                    ]
                    leaks.append(apply_bits(text, slots, mixed).text)
                    recipients[f"task-{i}"] = colluders + rng.sample([p for p in people if p not in colluders], 3)
                report = trace_leak(leaks, corpus.index.with_recipients(recipients), SECRET)
                named = set(report.suspects)
                any_named += bool(named & set(colluders))
                all_named += named >= set(colluders)
                false += bool(named - set(colluders))
            rows.append(
                {
                    "colluders": count,
                    "items": size,
                    "trials": trials,
                    "some_colluder_named": any_named / trials,
                    "all_colluders_named": all_named / trials,
                    "false_accusations": false,
                }
            )
    return rows


def canaries(people: list[str], rng: random.Random, trials: int) -> dict:
    template = CanaryTemplate("canary-benchmark", CANARY_TEXT, approved_by="owner")
    identified = false = 0
    for _ in range(trials):
        guilty = rng.choice(people)
        render_canary(template, SECRET, guilty)
        leaked = paraphrase_canary(canary_fact(SECRET, template.canary_id, guilty).formatted(), rng)
        named = [m.person_id for m in match_canary(leaked, template.canary_id, people, SECRET) if m.is_identified]
        identified += named == [guilty]
        false += any(p != guilty for p in named)
    return {
        "trials": trials,
        "recipients": len(people),
        "identified_rate": identified / trials,
        "false_accusations": false,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotators", type=int, default=1000)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--cases", type=int, default=2000, help="single-item cases per attack")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a small run to check the script works")
    args = parser.parse_args(argv)
    if args.quick:
        args.items, args.cases = 60, 100
    rng = random.Random(args.seed)
    people = [f"annotator-{i:04d}" for i in range(args.annotators)]
    results: dict = {"alpha": DEFAULT_ALPHA, "annotators": args.annotators, "seed": args.seed}

    rich = Corpus(args.items, args.seed, plain_share=0.0)
    plain = Corpus(args.items, args.seed + 1, plain_share=0.8)
    results["corpora"] = {
        "rich": {"items": args.items, "words_per_item": rich.words_per_item, "slots_per_item": rich.slots_per_item},
        "ordinary": {
            "items": args.items,
            "words_per_item": plain.words_per_item,
            "slots_per_item": plain.slots_per_item,
        },
    }
    print(f"rich prose: {rich.words_per_item:.0f} words, {rich.slots_per_item:.1f} slots per item; "
          f"ordinary prose: {plain.words_per_item:.0f} words, {plain.slots_per_item:.1f} slots per item", flush=True)  # fmt: skip

    rows = [run_cases(rich, people, attack, args.cases, rng, recipients="few") for attack in ATTACKS]
    print_table("1. one item, 2-5 recipients (rich prose)", rows)
    results["single_item_few_recipients"] = rows

    whole = max(20, args.cases // 10)
    rows = [
        run_cases(rich, people, attack, whole, rng, recipients="all")
        for attack in ("copy", "html_sanitiser", "nfkc_zero_width", "char_edits_1pct", "half_excerpt")
    ]
    print_table(f"2. one item, all {args.annotators} annotators recipients (rich prose)", rows)
    results["single_item_all_recipients"] = rows

    rows = [
        run_cases(rich, people, attack, args.cases, rng, recipients="outsider")
        for attack in ("copy", "char_edits_1pct")
    ]
    print_table("3. null case: the leaker was not a recipient (every accusation is false)", rows)
    results["null_outsider"] = rows

    rows = [
        run_cases(plain, people, attack, args.cases // 2, rng, recipients="few")
        for attack in ATTACKS
        if attack != "paraphrase"
    ]
    print_table("4. one item, 2-5 recipients (ordinary prose)", rows)
    results["ordinary_prose_few_recipients"] = rows

    trials = 10 if args.quick else 40
    acc = accumulation(plain, people, rng, trials, [1, 2, 3, 4, 6])
    print(f"\n5a. several whole items of ordinary prose leaked by one person, all {args.annotators} recipients")
    for row in acc:
        print(
            f"  {row['items']} items: identified {row['identified_rate']:.0%}, false accusations {row['false_accusations']}"
        )
    results["accumulation_ordinary_prose"] = acc
    col = collusion(plain, people, rng, trials, [2, 4, 8, 16], [2, 3])
    print("\n5b. collusion: colluders mix their copies slot by slot (ordinary prose, 3 innocents per item)")
    for row in col:
        print(
            f"  {row['colluders']} colluders, {row['items']:2d} items: some named {row['some_colluder_named']:.0%}, "
            f"all named {row['all_colluders_named']:.0%}, false accusations {row['false_accusations']}"
        )
    results["collusion_ordinary_prose"] = col

    canary = canaries(people, rng, 200 if not args.quick else 40)
    print(
        f"\n6. paraphrase: variant slots give top-1 {results['single_item_few_recipients'][-1]['top1_rate']:.1%}, "
        f"conclusive {results['single_item_few_recipients'][-1]['conclusive_rate']:.1%}; canaries identify "
        f"{canary['identified_rate']:.1%} of leakers among {canary['recipients']} ({canary['false_accusations']} false)"
    )
    results["canaries_after_paraphrase"] = canary

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
