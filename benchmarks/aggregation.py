"""Benchmark the label aggregators on synthetic data with a known truth.

    .venv/bin/python -m benchmarks.aggregation [--labels 300000,1000000]
        [--methods mv,ds,onecoin,glad,mace] [--crowdkit] [--crowdkit-skip glad,mace]

Data: 200 annotators with accuracies drawn uniformly from [0.55, 0.95], 5 classes with
uniform truth, 3 distinct annotators per task, a wrong answer uniform over the other 4
classes; fixed seed, rows in task order with integer ids. Prints accuracy against the
truth and wall-clock seconds per method and, with ``--crowdkit`` when Toloka crowd-kit
is importable (run with an interpreter that has it, e.g.
``PYTHONPATH=/work/main/src:/work/main /work/refenv/bin/python -m benchmarks.aggregation --crowdkit``),
crowd-kit 1.4.2's accuracy and seconds beside it with its default settings.
crowd-kit's GLAD and MACE take minutes; ``--crowdkit-skip glad,mace`` leaves them out,
and crowd-kit's GLAD runs only up to ``--crowdkit-glad-max-labels`` (default 300000).
Results are also written as JSON to ``benchmarks/results/aggregation.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bastion.quality import aggregation

N_ANNOTATORS = 200
N_CLASSES = 5
LABELS_PER_TASK = 3
ACCURACY_RANGE = (0.55, 0.95)
SEED = 20240611
RESULTS = Path(__file__).resolve().parent / "results" / "aggregation.json"

OURS: dict[str, Callable[..., Any]] = {
    "mv": aggregation.majority_vote,
    "ds": aggregation.dawid_skene,
    "onecoin": aggregation.one_coin_dawid_skene,
    "glad": aggregation.glad,
    "mace": aggregation.mace,
}
CROWDKIT_NAMES = {
    "mv": "MajorityVote",
    "ds": "DawidSkene",
    "onecoin": "OneCoinDawidSkene",
    "glad": "GLAD",
    "mace": "MACE",
}


def synthetic_labels(n_labels: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """Long table of labels with the truth per task (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n_tasks = n_labels // LABELS_PER_TASK
    accuracy = rng.uniform(*ACCURACY_RANGE, size=N_ANNOTATORS)
    truth = rng.integers(0, N_CLASSES, size=n_tasks)
    chosen = rng.integers(0, N_ANNOTATORS, size=(n_tasks, LABELS_PER_TASK))
    while True:  # redraw tasks that got the same annotator twice
        ordered = np.sort(chosen, axis=1)
        repeated = np.any(ordered[:, 1:] == ordered[:, :-1], axis=1)
        if not repeated.any():
            break
        chosen[repeated] = rng.integers(0, N_ANNOTATORS, size=(int(repeated.sum()), LABELS_PER_TASK))
    task = np.repeat(np.arange(n_tasks), LABELS_PER_TASK)
    annotator = chosen.ravel()
    correct = rng.random(task.size) < accuracy[annotator]
    shift = rng.integers(1, N_CLASSES, size=task.size)  # a wrong answer: any other class
    label = np.where(correct, truth[task], (truth[task] + shift) % N_CLASSES)
    return {"task": task, "annotator": annotator, "label": label, "truth": truth}


def run_ours(method: str, data: dict[str, np.ndarray]) -> tuple[float, float]:
    start = time.perf_counter()
    result = OURS[method](data["task"], data["annotator"], data["label"])
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(result.labels == data["truth"][result.tasks]))
    return accuracy, seconds


def crowdkit_available() -> bool:
    try:
        import crowdkit.aggregation  # noqa: F401
    except ImportError:
        return False
    return True


def run_crowdkit(method: str, data: dict[str, np.ndarray]) -> tuple[float, float]:
    import warnings

    import crowdkit.aggregation as ck
    import pandas as pd

    frame = pd.DataFrame({"task": data["task"], "worker": data["annotator"], "label": data["label"]})
    model = getattr(ck, CROWDKIT_NAMES[method])()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = model.fit_predict(frame)
    seconds = time.perf_counter() - start
    truth = pd.Series(data["truth"])
    accuracy = float((labels.sort_index() == truth.loc[labels.sort_index().index]).mean())
    return accuracy, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", default="300000,1000000", help="comma-separated numbers of labels")
    parser.add_argument("--methods", default="mv,ds,onecoin,glad,mace", help="subset of mv,ds,onecoin,glad,mace")
    parser.add_argument("--crowdkit", action="store_true", help="also time Toloka crowd-kit when importable")
    parser.add_argument("--crowdkit-skip", default="", help="methods not to run in crowd-kit (its GLAD/MACE are slow)")
    parser.add_argument(
        "--crowdkit-glad-max-labels",
        type=int,
        default=300_000,
        help="run crowd-kit's GLAD only up to this many labels (it needs minutes per 100k)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    sizes = [int(size) for size in args.labels.split(",") if size]
    methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(methods) - set(OURS))
    if unknown:
        parser.error(f"unknown methods: {', '.join(unknown)}")
    skip = {m for m in args.crowdkit_skip.split(",") if m}
    with_crowdkit = args.crowdkit and crowdkit_available()
    if args.crowdkit and not with_crowdkit:
        print("crowd-kit is not importable here; showing our figures only")
    if with_crowdkit and skip:
        print(f"crowd-kit skipped for: {', '.join(sorted(skip))}")

    rows: list[dict[str, Any]] = []
    header = f"{'labels':>9} {'method':>8} {'accuracy':>9} {'seconds':>8}"
    if with_crowdkit:
        header += f" {'ck acc':>8} {'ck sec':>8} {'Δacc':>7} {'speed-up':>8}"
    print(header)
    for size in sizes:
        data = synthetic_labels(size)
        for method in methods:
            accuracy, seconds = run_ours(method, data)
            row: dict[str, Any] = {"labels": size, "method": method, "accuracy": accuracy, "seconds": seconds}
            line = f"{size:>9} {method:>8} {accuracy:>9.4f} {seconds:>8.2f}"
            too_slow = method == "glad" and size > args.crowdkit_glad_max_labels
            if with_crowdkit and method not in skip and not too_slow:
                ck_accuracy, ck_seconds = run_crowdkit(method, data)
                row.update(crowdkit_accuracy=ck_accuracy, crowdkit_seconds=ck_seconds)
                line += (
                    f" {ck_accuracy:>8.4f} {ck_seconds:>8.2f} {accuracy - ck_accuracy:>+7.4f}"
                    f" {ck_seconds / max(seconds, 1e-9):>7.1f}x"
                )
            elif with_crowdkit:
                line += f" {'skipped':>8}"
            print(line, flush=True)
            rows.append(row)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "python": platform.python_version(),
                "numpy": np.__version__,
                "seed": SEED,
                "annotators": N_ANNOTATORS,
                "classes": N_CLASSES,
                "labels_per_task": LABELS_PER_TASK,
                "results": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
