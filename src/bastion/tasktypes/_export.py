"""What task types need to turn records into training rows: the options and shared pieces.

Exports hand a task type each task record (``{"id", "external_id", "data",
"meta", "predictions", "annotations": [...]}``) and one of its annotations;
the type returns rows in the shape its trainers load (TRL's SFT/DPO columns,
spaCy offsets). The options are chosen by the person exporting and validated
once in ``services/exports.py``.

The trap: a row must be complete in itself — trainers shuffle rows — so the
prompt goes into every DPO pair, and nothing refers to another row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STRENGTHS = ("slight", "clear", "strong")


@dataclass(frozen=True)
class ExportOptions:
    per: str = "annotation"  # "annotation" | "task"
    chat: str = "auto"  # "auto" | "conversational" | "standard"
    sft_form: str = "messages"  # "messages" | "prompt-completion"
    min_strength: str | None = None  # DPO: drop preference pairs weaker than this
    include_ties: bool = False  # DPO: keep ties (as rows with "tie": true)
    with_ids: bool = False  # add task_id / annotation_id / external_id columns


def ids(task: dict, annotation: dict | None, options: ExportOptions) -> dict[str, Any]:
    if not options.with_ids:
        return {}
    return {
        "task_id": task["id"],
        "annotation_id": annotation["id"] if annotation else None,
        "external_id": task.get("external_id"),
    }


def strong_enough(strength: str | None, options: ExportOptions) -> bool:
    if options.min_strength is None:
        return True
    if strength not in STRENGTHS:
        return False
    return STRENGTHS.index(strength) >= STRENGTHS.index(options.min_strength)


def chat_form(config, data: dict, options: ExportOptions) -> str:
    """``conversational`` or ``standard`` for this task's rows."""
    from . import _conversation as conv

    if options.chat != "auto":
        return options.chat
    return "conversational" if conv.is_conversation(data, getattr(config, "prompt_field", None)) else "standard"


def prompt_of(config, task: dict, form: str):
    from . import _conversation as conv

    field = getattr(config, "prompt_field", None)
    if form == "conversational":
        return conv.messages(task["data"], field)
    return conv.prompt_text(task["data"], field, f"task {task['id']}")


def completion_of(text: str, form: str):
    return [{"role": "assistant", "content": text}] if form == "conversational" else text


def pair_row(
    config, task: dict, annotation: dict, chosen: str, rejected: str, options: ExportOptions, *, tie: bool = False
) -> dict:
    """One DPO row (TRL's preference type, explicit prompt)."""
    form = chat_form(config, task["data"], options)
    row: dict[str, Any] = {
        "prompt": prompt_of(config, task, form),
        "chosen": completion_of(chosen, form),
        "rejected": completion_of(rejected, form),
    }
    if options.include_ties:
        row["tie"] = tie
    row.update(ids(task, annotation, options))
    return row


def sft_row(config, task: dict, annotation: dict, answer: str, options: ExportOptions) -> dict:
    """One SFT row: ``{"messages"}`` or ``{"prompt", "completion"}`` (TRL's forms)."""
    row: dict[str, Any]
    if options.sft_form == "messages":  # always conversational: a prompt string is one user turn
        row = {"messages": [*prompt_of(config, task, "conversational"), {"role": "assistant", "content": answer}]}
    else:
        form = chat_form(config, task["data"], options)
        row = {"prompt": prompt_of(config, task, form), "completion": completion_of(answer, form)}
    row.update(ids(task, annotation, options))
    return row
