"""Chat quality: per-turn choice agreement when several experts hold the same task's chat.

Experts write their own user turns, so two transcripts of a task are different
conversations; what they share is the task's seed (the opening message) and the two
models. The figure compares, for each pair of experts on a task, the reply they chose at
each turn index both judged (``0``, ``1`` or ``"tie"``): the share of such turn pairs where
they chose the same. Turn 1 answers the same opening when the task seeds one; later turns
are compared as "which model did better at this point of the conversation".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from itertools import combinations
from typing import Any


def choices(result: dict) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for i, turn in enumerate(result.get("turns") or []):
        if isinstance(turn, dict) and isinstance(turn.get("choice"), dict):
            out[i] = turn["choice"].get("preferred")
    return out


def _pairs(results: Sequence[dict]) -> tuple[int, int]:
    same = total = 0
    for first, second in combinations([choices(r) for r in results], 2):
        for turn in first.keys() & second.keys():
            total += 1
            same += first[turn] == second[turn]
    return same, total


def agreement(ratings) -> dict[str, Any]:
    by_task: dict[str, list[dict]] = defaultdict(list)
    for rating in ratings:
        by_task[rating.task].append(rating.result)
    same = total = tasks = 0
    for results in by_task.values():
        if len(results) < 2:
            continue
        s, t = _pairs(results)
        if t:
            tasks += 1
        same, total = same + s, total + t
    if not total:
        return {
            "kind": "chat",
            "turn_choice_agreement": None,
            "n_turn_pairs": 0,
            "n_tasks": 0,
            "reason": "no task has two experts who both chose at the same turn",
            "summary": "not enough overlap to compare choices",
        }
    share = round(same / total, 4)
    return {
        "kind": "chat",
        "turn_choice_agreement": share,
        "n_turn_pairs": total,
        "n_tasks": tasks,
        "summary": f"experts chose the same reply at {share:.0%} of {total} turn pairs over {tasks} tasks",
    }


def task_agreement(results: Sequence[dict]) -> float | None:
    """One task's share of same choices over its turn pairs; None below two answers or without shared turns."""
    if len(results) < 2:
        return None
    same, total = _pairs(results)
    return same / total if total else None
