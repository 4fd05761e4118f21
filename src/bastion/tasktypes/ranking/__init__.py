"""Ranking: order 2–9 responses to a prompt, best first; ties optional.

Config::

    {"type": "ranking", "responses_field": "responses", "allow_ties": false,
     "randomize": true, "instructions": "…"}

Result (indices are those of ``data.responses``)::

    {"ranks": [2, 1, 4, 3], "shown_order": [3, 0, 2, 1]}

``ranks[i]`` is the rank of response ``i``: 1 is the best; tied responses
share a rank, and ranks are dense (1, 2, 2, 3). ``shown_order`` lists the
response indices in the order the annotator first saw them (top to bottom),
drawn per (task, person) so position bias can be measured. The trap: the
widget posts one rank per *original* response (``rank_<index>``), whatever the
screen order, so moving cards around never changes which response a rank is for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from . import exports
from .. import _conversation as conv
from .. import _labelstudio as ls
from .._order import check_shown_order, excerpt, recorded_order, shown_order
from ..base import TaskType, shorten
from ...domain.errors import InvalidAnswer

MIN_RESPONSES, MAX_RESPONSES = 2, 9


class RankingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["ranking"]
    prompt_field: str | None = Field(default=None, min_length=1, max_length=100)
    responses_field: str = Field(default="responses", min_length=1, max_length=100)
    allow_ties: bool = False
    randomize: bool = True
    instructions: str = Field(default="", max_length=100_000)


def dense(ranks: list[int]) -> list[int]:
    """Ranks renumbered 1, 2, 3… keeping order and ties."""
    levels = {r: i + 1 for i, r in enumerate(sorted(set(ranks)))}
    return [levels[r] for r in ranks]


# The ready config of ``bastion project create --template ranking`` (and the example in docs/task-types.md).
TEMPLATE: dict[str, Any] = {
    "type": "ranking",
    "responses_field": "responses",
    "allow_ties": False,
    "randomize": True,
    "instructions": "Order the responses from best to worst: press their numbers, best first.",
}


class Ranking(TaskType):
    name = "ranking"
    title = "Ranking"
    description = "Order several responses to a prompt from best to worst."
    template = TEMPLATE
    config_model = RankingConfig
    package_dir = Path(__file__).parent
    row_kinds = {"dpo": exports.dpo_rows, "sft": exports.sft_rows}

    def check_data(self, config: RankingConfig, data: dict) -> str | None:
        return conv.check_prompt(data, config.prompt_field) or conv.check_string_list(
            data.get(config.responses_field), config.responses_field, low=MIN_RESPONSES, high=MAX_RESPONSES
        )

    def gold_score(self, config, data: dict, result: dict, gold: dict) -> float:
        from .._gold import ranks

        return ranks(result, gold)

    # -- quality
    agreement_measures = ("kendall_tau_b", "spearman_rho")
    aggregation_methods = ("bt",)

    def agreement(self, config: RankingConfig, ratings) -> dict:
        from . import quality  # NumPy: loaded when a figure is first asked for

        return quality.agreement(ratings)

    def answer_parts(self, config: RankingConfig, result: dict) -> frozenset:
        """Each response's rank (two rankings agree on the responses they rank alike)."""
        return frozenset(enumerate(result.get("ranks") or ()))

    def aggregate(self, config: RankingConfig, ratings, method: str, *, seed: str) -> dict:
        """Bradley–Terry per task (the only method; no random choice, so ``seed`` is not needed)."""
        from . import quality  # NumPy: loaded when a figure is first asked for

        return quality.bradley_terry_orders(ratings)

    def validate_result(self, config: RankingConfig, data: dict, result: Any) -> dict:
        if not isinstance(result, dict):
            raise InvalidAnswer("result: must be a JSON object")
        extra = set(result) - {"ranks", "shown_order"}
        if extra:
            raise InvalidAnswer(f"result.{sorted(extra)[0]}: unknown key (expected 'ranks')")
        responses = data.get(config.responses_field)
        n = len(responses) if isinstance(responses, list) else 0
        ranks = result.get("ranks")
        if not isinstance(ranks, list):
            raise InvalidAnswer(f"result.ranks: required, one rank per response ({n})")
        if len(ranks) != n:
            raise InvalidAnswer(f"result.ranks: {len(ranks)} ranks for {n} responses")
        for i, r in enumerate(ranks):
            if not isinstance(r, int) or isinstance(r, bool) or not 1 <= r <= n:
                raise InvalidAnswer(f"result.ranks[{i}]: must be a whole number from 1 to {n}")
        if not config.allow_ties and len(set(ranks)) != n:
            raise InvalidAnswer("result.ranks: two responses share a rank, and this project does not allow ties")
        out: dict[str, Any] = {"ranks": dense(ranks)}
        if result.get("shown_order") is not None:
            out["shown_order"] = check_shown_order(result["shown_order"], n)
        return out

    def summarise(self, config: RankingConfig, result: Any) -> str:
        """Best first, by the numbers the reader's cards carry: ``Best first: 2 > 1 = 3 > 4``."""
        ranks = result.get("ranks") if isinstance(result, dict) else None
        if not isinstance(ranks, list) or not ranks:
            return super().summarise(config, result)
        order = result.get("shown_order") if isinstance(result.get("shown_order"), list) else list(range(len(ranks)))
        number = {index: pos + 1 for pos, index in enumerate(order)}
        places: dict[Any, list[str]] = {}
        for index, rank in enumerate(ranks):
            places.setdefault(rank, []).append(str(number.get(index, index + 1)))
        ordered = sorted(places.items(), key=lambda item: (not isinstance(item[0], int), item[0]))
        return shorten("Best first: " + " > ".join(" = ".join(sorted(group)) for _, group in ordered))

    def result_from_form(self, config: RankingConfig, form: Any) -> dict:
        try:
            order = [int(v) for v in str(form.get("shown_order", "")).split(",")]
        except ValueError:
            raise InvalidAnswer("shown_order: not the order this page showed (reload the page)") from None
        ranks = []
        for i in range(len(order)):
            raw = str(form.get(f"rank_{i}", "")).strip()
            if not raw:
                raise InvalidAnswer("rank every response (drag them, or press their numbers, best first)")
            try:
                ranks.append(int(raw))
            except ValueError:
                raise InvalidAnswer(f"rank_{i}: not a rank") from None
        return {"ranks": ranks, "shown_order": order}

    def sample_data(self, config: RankingConfig) -> dict:
        return {**conv.sample_prompt(config.prompt_field), config.responses_field: list(conv.SAMPLE_RESPONSES)}

    def widget_context(
        self,
        config: RankingConfig,
        data: dict,
        *,
        task_id: str = "",
        user_id: str = "",
        predictions: list | None = None,
    ) -> dict:
        responses = data.get(config.responses_field) or []
        n = len(responses)
        order = shown_order(n, task_id, user_id) if config.randomize else list(range(n))
        pred = (predictions or [{}])[0] if predictions else {}
        return self._view(config, data, order, pred)

    def result_widget_context(
        self, config: RankingConfig, data: dict, result: Any, *, task_id: str = "", user_id: str = ""
    ) -> dict:
        """A result is shown in the order its author saw."""
        order = recorded_order(result, len(data.get(config.responses_field) or []))
        if order is None:
            return super().result_widget_context(config, data, result, task_id=task_id, user_id=user_id)
        return self._view(config, data, order, result if isinstance(result, dict) else {})

    def _view(self, config: RankingConfig, data: dict, order: list[int], pred: dict) -> dict:
        responses = data.get(config.responses_field) or []
        n = len(responses)
        pred_ranks = pred.get("ranks") if isinstance(pred.get("ranks"), list) and len(pred["ranks"]) == n else None
        return {
            "turns": conv.turns(data, config.prompt_field),
            "order_text": ",".join(map(str, order)),
            "n": n,
            "shown": [
                {"number": pos + 1, "index": i, "text": responses[i], "rank": pred_ranks[i] if pred_ranks else None}
                for pos, i in enumerate(order)
            ],
        }

    def result_facts(self, config: RankingConfig, data: dict, result: Any) -> dict[str, str]:
        """Each response's rank, the response named by its words (the order shown is not an answer)."""
        if not isinstance(result, dict) or not isinstance(result.get("ranks"), list):
            return super().result_facts(config, data, result)
        responses = data.get(config.responses_field) or []
        return {
            f"rank:{i}:{rank}": f"“{excerpt(responses[i]) if i < len(responses) else i}” ranked {rank}"
            for i, rank in enumerate(result["ranks"])
        }

    # -- Label Studio: <List name="RESPONSES" value="$RESPONSES"> and <Ranker toName="RESPONSES">;
    # Label Studio's items are {"id", "title", "body"} and its ranker lists their ids best
    # first (one order, no ties: tied responses go out in the order of the data)
    label_studio_tags = ("Ranker",)

    def data_from_label_studio(self, config: RankingConfig, data: dict) -> dict:
        items = data.get(config.responses_field)
        if isinstance(items, list) and all(isinstance(i, dict) for i in items):
            return {**data, config.responses_field: [_item_text(i) for i in items]}
        return data

    def data_to_label_studio(self, config: RankingConfig, data: dict) -> dict:
        responses = data.get(config.responses_field) or []
        return {
            **data,
            config.responses_field: [
                {"id": str(i), "title": f"Response {i + 1}", "body": r} for i, r in enumerate(responses)
            ],
        }

    def from_label_studio(self, config: RankingConfig, data: dict, ls_results: list[dict]) -> dict:
        found = ls.items(ls_results, "ranker")
        if len(found) != 1:
            raise InvalidAnswer(f"result[ranker]: {len(found)} rankings where one is needed")
        buckets = ls.value(found[0], "ranker", "result[ranker]")
        if not isinstance(buckets, dict) or len(buckets) != 1:
            raise InvalidAnswer("result[ranker].value.ranker: one list of ranked ids (buckets do not convert)")
        order = next(iter(buckets.values()))
        items = data.get(config.responses_field)
        ids = [str(i.get("id")) if isinstance(i, dict) else str(n) for n, i in enumerate(items or [])]
        if not isinstance(order, list) or sorted(map(str, order)) != sorted(ids):
            raise InvalidAnswer(f"result[ranker].value.ranker: {order!r} does not rank each of the items {ids}")
        ranks = [0] * len(ids)
        for rank, item_id in enumerate(order, start=1):
            ranks[ids.index(str(item_id))] = rank
        return {"ranks": ranks}

    def to_label_studio(self, config: RankingConfig, data: dict, result: dict) -> list[dict]:
        ranks = result["ranks"]
        order = sorted(range(len(ranks)), key=lambda i: (ranks[i], i))
        return [
            ls.item(
                "rank", config.responses_field, "ranker", {"ranker": {config.responses_field: [str(i) for i in order]}}
            )
        ]


def _item_text(item: dict) -> str:
    """A Label Studio list item's text: its body, else its title (what the <List> shows)."""
    for key in ("body", "title", "text", "html"):
        if isinstance(item.get(key), str) and item[key].strip():
            return item[key]
    return ""
