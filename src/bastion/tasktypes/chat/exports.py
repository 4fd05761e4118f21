"""Chat rows: TRL's conversational SFT rows (the final transcript) and preference rows (one per judged turn).

* ``sft`` — ``{"messages": [...]}``: system prompt, seed, then every turn's user message and
  the assistant message it carried on (a rewrite replaces the original reply); with
  ``sft_form=prompt-completion``, ``{"prompt": [...], "completion": [last reply]}``. Rows are
  always conversational (a conversation has no standard string form without a chat template).
* ``dpo`` — per turn, ``{"prompt": [...history...], "chosen": [{"role": "assistant", …}],
  "rejected": [...]}`` (TRL's conversational preference type, explicit prompt): where the
  expert chose between two replies, the preferred reply (its rewrite, if it was rewritten)
  over the other one; where a reply was rewritten, the rewrite over the original. A tie
  makes a row only with ``include_ties`` (``"tie": true``); ``dpo_min_strength`` drops
  choices weaker than asked (``slightly`` = slight, ``clearly`` = clear, ``much`` = strong;
  a rewrite counts as strong). A failed reply is never rejected (it has no text to learn from).

The full transcript — every reply of both models, choices, strengths, criteria, ratings,
rewrites, models, endpoint ids and usage — is the stored result: the lossless JSONL export.
"""

from __future__ import annotations

from collections.abc import Iterable

from .._export import ExportOptions, ids, strong_enough

AS_EXPORT_STRENGTH = {"slightly": "slight", "clearly": "clear", "much": "strong"}


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def _start(result: dict) -> list[dict[str, str]]:
    out = [{"role": "system", "content": result["system"]}] if result.get("system") else []
    out.extend({"role": t["role"], "content": t["content"]} for t in result.get("seed", []))
    return out


def _carried(turn: dict) -> str:
    if turn.get("rewrite"):
        return turn["rewrite"]["content"]
    return turn["replies"][turn["carried"]]["content"]


def sft_rows(config, task: dict, annotation: dict, options: ExportOptions) -> Iterable[dict]:
    messages = _start(annotation["result"])
    for turn in annotation["result"]["turns"]:
        messages.append({"role": "user", "content": turn["user"]})
        messages.append({"role": "assistant", "content": _carried(turn)})
    if options.sft_form == "prompt-completion":  # the last reply is the completion, all before it the prompt
        yield {"prompt": messages[:-1], "completion": messages[-1:], **ids(task, annotation, options)}
        return
    yield {"messages": messages, **ids(task, annotation, options)}


def dpo_rows(config, task: dict, annotation: dict, options: ExportOptions) -> Iterable[dict]:
    result = annotation["result"]
    before = _start(result)
    for turn in result["turns"]:
        prompt = [*before, {"role": "user", "content": turn["user"]}]
        replies = turn["replies"]
        rewrite = turn.get("rewrite")
        choice = turn.get("choice")
        final = [
            rewrite["content"] if rewrite and rewrite["reply"] == i else r["content"] for i, r in enumerate(replies)
        ]
        if choice and choice["preferred"] in (0, 1):
            other = 1 - choice["preferred"]
            if replies[other].get("error") is None and strong_enough(
                AS_EXPORT_STRENGTH.get(choice.get("strength", "")), options
            ):
                yield _row(prompt, final[choice["preferred"]], replies[other]["content"], task, annotation, options)
        elif choice and choice["preferred"] == "tie" and options.include_ties:
            yield _row(prompt, replies[0]["content"], replies[1]["content"], task, annotation, options, tie=True)
        if rewrite and replies[rewrite["reply"]].get("error") is None and strong_enough("strong", options):
            yield _row(prompt, rewrite["content"], replies[rewrite["reply"]]["content"], task, annotation, options)
        before = [*prompt, {"role": "assistant", "content": _carried(turn)}]


def _row(prompt, chosen: str, rejected: str, task, annotation, options: ExportOptions, *, tie: bool = False) -> dict:
    row = {"prompt": prompt, "chosen": _assistant(chosen), "rejected": _assistant(rejected)}
    if options.include_ties:
        row["tie"] = tie
    row.update(ids(task, annotation, options))
    return row
