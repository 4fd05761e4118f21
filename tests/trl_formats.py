"""TRL's conversational dataset formats, checked on exported rows (tests of the chat type's exports).

TRL itself is not a test dependency: ``trl.data_utils`` imports ``transformers`` (and TRL pulls in
torch through accelerate), too heavy for CI. The rows are checked against the formats TRL
documents ("Dataset formats and types": conversational language modeling and preference with an
explicit prompt), more strictly than TRL's own ``is_conversational`` (which looks at the first
message of one column only); where TRL is importable, its check runs too.
"""

from __future__ import annotations


def check_trl_conversational(sft: dict, dpo: list[dict]) -> None:
    """TRL's conversational dataset types (docs: "Dataset formats and types"): language modeling
    ``{"messages": [{role, content}…]}``, preference with an explicit prompt ``{"prompt": [...],
    "chosen": [assistant turn], "rejected": [assistant turn]}``. With trl installed its own
    ``is_conversational`` decides too."""

    def messages(value):
        return (
            isinstance(value, list)
            and value
            and all(
                isinstance(m, dict) and set(m) == {"role", "content"} and isinstance(m["content"], str) for m in value
            )
        )

    assert messages(sft["messages"]) and sft["messages"][-1]["role"] == "assistant"
    for row in dpo:
        assert messages(row["prompt"]) and row["prompt"][-1]["role"] == "user"
        for key in ("chosen", "rejected"):
            assert messages(row[key]) and [m["role"] for m in row[key]] == ["assistant"]
    try:
        from trl.data_utils import is_conversational
    except ImportError:
        return
    assert is_conversational(sft) and all(is_conversational(row) for row in dpo)
