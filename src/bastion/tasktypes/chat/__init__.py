"""Chat: an expert converses with one or two models, live, and judges every turn.

Config::

    {"type": "chat",
     "models": [{"endpoint": "mep_…", "model": "lab-7b", "label": "Lab"},
                {"endpoint": "mep_…", "label": "Vendor"}],
     "system_prompt": "You are a careful assistant.", "max_turns": 8,
     "actions": ["choose", "rate", "rewrite"], "criteria": ["correct", "helpful"],
     "rating": {"min": 1, "max": 7}, "params": {"temperature": 0.7, "max_tokens": 512},
     "prompt_field": null, "instructions": "…"}

``models`` names one or two model endpoints of the project's own workspace (``model``: the
endpoint's default when left out; ``label``: how the widget names the reply). The schema
checks shape only; that each endpoint exists in the project's workspace is checked where
configs meet their workspace (``services/projects.py``, via ``model_endpoints``). A task's
data may seed the conversation (``prompt_field``, as the other chat-style types read it: a
string, or a list of ``{role, content}`` turns): the seed's turns come first, and a trailing
user turn is the opening message the expert sends (or edits) first.

Result (what the widget submits: the server's own transcript plus the expert's judgements)::

    {"models": [{"endpoint": "mep_…", "model": "lab-7b", "label": "Lab"}, …],
     "system": "You are a careful assistant.",
     "seed": [{"role": "user", "content": "…"}, {"role": "assistant", "content": "…"}],
     "turns": [{"user": "…",
                "replies": [{"content": "…", "model": "lab-7b", "endpoint": "mep_…",
                             "finish_reason": "stop", "usage": {"prompt_tokens": 9, "completion_tokens": 7}},
                            …],
                "choice": {"preferred": 0, "strength": "clearly", "criteria": ["correct"]},
                "ratings": [6, 3],
                "rewrite": {"reply": 0, "content": "…"},
                "carried": 0}]}

A reply that failed carries ``"error"`` (and empty content). ``choice.preferred`` is a reply
index or ``"tie"`` (no strength then); ``carried`` — derived here, never trusted — is the reply
whose text continued into the next turn: the rewritten one, else the preferred one, else the
first. The assistant message carried on is the rewrite when there is one (``final_text``);
the original stays in ``replies``. The trap: the transcript's replies come from the server's
sealed draft (services/chat.py), which the expert's posts never change; this validator checks
that a result is well-formed against the config (every turn, every reference), as for any
client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import exports, quality
from .. import _conversation as conv
from ..base import TaskType, shorten
from ...domain.completions import PARAMS
from ...domain.errors import InvalidAnswer

Action = Literal["choose", "rate", "rewrite"]
ACTIONS: tuple[Action, ...] = ("choose", "rate", "rewrite")
STRENGTHS = ("slightly", "clearly", "much")
MAX_TEXT = 100_000
HARD_MAX_TURNS = 50


class ChatModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: str = Field(pattern=r"^mep_[0-9a-f]{1,36}$")
    model: str | None = Field(default=None, min_length=1, max_length=200)
    label: str | None = Field(default=None, min_length=1, max_length=60)


class RatingScale(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: int = Field(default=1, ge=0, le=100)
    max: int = Field(default=7, ge=1, le=100)

    @model_validator(mode="after")
    def _order(self) -> RatingScale:
        if self.max <= self.min:
            raise ValueError(f"max: {self.max} must be more than min ({self.min})")
        if self.max - self.min > 20:
            raise ValueError("max: a scale of at most 21 points")
        return self


class ChatConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["chat"]
    models: list[ChatModel] = Field(min_length=1, max_length=2)
    system_prompt: str = Field(default="", max_length=20_000)
    max_turns: int = Field(default=10, ge=1, le=HARD_MAX_TURNS)
    actions: list[Action] = Field(default_factory=list)  # none given: every action that fits the models
    criteria: list[str] = Field(default_factory=list, max_length=20)
    rating: RatingScale = Field(default_factory=RatingScale)
    params: dict[str, Any] = Field(default_factory=dict)
    prompt_field: str | None = Field(default=None, min_length=1, max_length=100)
    instructions: str = Field(default="", max_length=100_000)

    @field_validator("criteria")
    @classmethod
    def _criteria(cls, value: list[str]) -> list[str]:
        for i, item in enumerate(value):
            if not item.strip() or len(item) > 100:
                raise ValueError(f"criteria[{i}]: 1 to 100 characters")
        if len(set(value)) != len(value):
            raise ValueError("criteria: an item is repeated")
        return value

    @field_validator("actions")
    @classmethod
    def _actions(cls, value: list[Action]) -> list[Action]:
        if len(set(value)) != len(value):
            raise ValueError("actions: an action is repeated")
        return [a for a in ACTIONS if a in value]

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            kinds = PARAMS.get(key)
            if kinds is None:
                raise ValueError(f"params.{key}: not a parameter passed on (one of: {', '.join(PARAMS)})")
            if isinstance(item, bool) and bool not in kinds or not isinstance(item, kinds):
                raise ValueError(f"params.{key}: must be {' or '.join(k.__name__ for k in kinds)}")
            if key == "stream":
                raise ValueError("params.stream: the chat always streams")
        return value

    @model_validator(mode="after")
    def _fit(self) -> ChatConfig:
        if not self.actions:
            self.actions = [a for a in ACTIONS if a != "choose" or len(self.models) > 1]
        if "choose" in self.actions and len(self.models) < 2:
            raise ValueError("actions: 'choose' needs two models to choose between")
        if self.criteria and "choose" not in self.actions:
            raise ValueError("criteria: criteria name why one reply is better; add 'choose' to actions")
        return self

    def labels(self) -> list[str]:
        return [m.label or ("AB"[i] if len(self.models) > 1 else "Model") for i, m in enumerate(self.models)]


TEMPLATE: dict[str, Any] = {
    "type": "chat",
    "models": [{"endpoint": "mep_0", "label": "A"}, {"endpoint": "mep_1", "label": "B"}],
    "system_prompt": "",
    "max_turns": 8,
    "actions": ["choose", "rate", "rewrite"],
    "criteria": ["correct", "helpful", "safe"],
    "rating": {"min": 1, "max": 7},
    "params": {"temperature": 0.7, "max_tokens": 800},
    "instructions": "Talk with the models as a demanding expert would. After each turn, pick the better reply.",
}


def seed_of(config: ChatConfig, data: dict) -> tuple[list[dict[str, str]], str]:
    """The task's seed: the turns before the first exchange, and the opening user message ("" if none)."""
    key = conv.find_prompt_field(data, config.prompt_field)
    if data.get(key) is None:
        return [], ""
    turns = conv.turns(data, config.prompt_field)
    if turns and turns[-1]["role"] == "user":
        return turns[:-1], turns[-1]["content"]
    return turns, ""


def final_text(turn: dict) -> str:
    """The assistant message a turn carries into the conversation: the rewrite, else the carried reply."""
    rewrite = turn.get("rewrite")
    if rewrite:
        return rewrite["content"]
    return turn["replies"][turn["carried"]]["content"]


def carried_reply(turn: dict) -> int:
    rewrite, choice = turn.get("rewrite"), turn.get("choice")
    if rewrite:
        return int(rewrite["reply"])
    if choice and choice.get("preferred") in (0, 1):
        return int(choice["preferred"])
    return 0


def history(config: ChatConfig, seed: list[dict], turns: list[dict], upto: int) -> list[dict[str, str]]:
    """The messages before turn ``upto``'s replies: system prompt, seed, the earlier turns (carried text) and its user turn."""
    out: list[dict[str, str]] = []
    if config.system_prompt:
        out.append({"role": "system", "content": config.system_prompt})
    out.extend({"role": t["role"], "content": t["content"]} for t in seed)
    for turn in turns[:upto]:
        out.append({"role": "user", "content": turn["user"]})
        out.append({"role": "assistant", "content": final_text(turn)})
    out.append({"role": "user", "content": turns[upto]["user"]})
    return out


def _text(value: Any, where: str, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidAnswer(f"{where}: must be text")
    value = value.replace("\r\n", "\n")
    if not empty and not value.strip():
        raise InvalidAnswer(f"{where}: empty")
    if len(value) > MAX_TEXT:
        raise InvalidAnswer(f"{where}: longer than {MAX_TEXT} characters")
    return value


def _count(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidAnswer(f"{where}: a count of tokens")
    return value


def _keys(value: Any, allowed: set[str], where: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidAnswer(f"{where}: must be an object")
    extra = sorted(set(value) - allowed)
    if extra:
        raise InvalidAnswer(f"{where}.{extra[0]}: unknown key")
    return value


def check_reply(config: ChatConfig, reply: Any, slot: int, where: str) -> dict[str, Any]:
    reply = _keys(reply, {"content", "model", "endpoint", "finish_reason", "usage", "error"}, where)
    out: dict[str, Any] = {"content": _text(reply.get("content", ""), f"{where}.content", empty=True)}
    endpoint = reply.get("endpoint")
    if endpoint != config.models[slot].endpoint:
        raise InvalidAnswer(f"{where}.endpoint: must be {config.models[slot].endpoint!r}, this reply's model endpoint")
    out["endpoint"] = endpoint
    model = reply.get("model")
    if not isinstance(model, str) or not model or len(model) > 200:
        raise InvalidAnswer(f"{where}.model: the model that replied")
    out["model"] = model
    reason = reply.get("finish_reason")
    if reason is not None:
        if not isinstance(reason, str) or len(reason) > 40:
            raise InvalidAnswer(f"{where}.finish_reason: must be text")
        out["finish_reason"] = reason
    usage = reply.get("usage")
    if usage is not None:
        usage = _keys(usage, {"prompt_tokens", "completion_tokens"}, f"{where}.usage")
        out["usage"] = {
            "prompt_tokens": _count(usage.get("prompt_tokens"), f"{where}.usage.prompt_tokens"),
            "completion_tokens": _count(usage.get("completion_tokens"), f"{where}.usage.completion_tokens"),
        }
    error = reply.get("error")
    if error is not None:
        out["error"] = _text(error, f"{where}.error")[:500]
    elif not out["content"].strip():
        raise InvalidAnswer(f"{where}.content: empty (a reply that failed carries its error)")
    return out


def check_judgement(config: ChatConfig, turn: dict, raw: dict, where: str) -> dict[str, Any]:
    """``turn`` (user and replies checked) with the expert's choice, ratings and rewrite checked and added."""
    n = len(turn["replies"])
    choice = raw.get("choice")
    if choice is not None:
        if "choose" not in config.actions:
            raise InvalidAnswer(f"{where}.choice: this project does not ask to choose")
        choice = _keys(choice, {"preferred", "strength", "criteria"}, f"{where}.choice")
        preferred = choice.get("preferred")
        if preferred != "tie" and (isinstance(preferred, bool) or preferred not in range(n)):
            raise InvalidAnswer(f"{where}.choice.preferred: a reply index (0 to {n - 1}) or 'tie'")
        out: dict[str, Any] = {"preferred": preferred}
        if preferred == "tie":
            if choice.get("strength") is not None:
                raise InvalidAnswer(f"{where}.choice.strength: a tie has no strength")
        else:
            if turn["replies"][preferred].get("error") is not None:
                raise InvalidAnswer(f"{where}.choice.preferred: reply {preferred} failed and cannot be preferred")
            strength = choice.get("strength")
            if strength not in STRENGTHS:
                raise InvalidAnswer(f"{where}.choice.strength: one of {', '.join(STRENGTHS)}")
            out["strength"] = strength
        criteria = choice.get("criteria", [])
        if not isinstance(criteria, list) or not all(isinstance(c, str) for c in criteria):
            raise InvalidAnswer(f"{where}.choice.criteria: a list of the project's criteria")
        for c in criteria:
            if c not in config.criteria:
                raise InvalidAnswer(f"{where}.choice.criteria: {c[:60]!r} is not one of this project's criteria")
        out["criteria"] = [c for c in config.criteria if c in criteria]
        turn["choice"] = out
    ratings = raw.get("ratings")
    if ratings is not None:
        if "rate" not in config.actions:
            raise InvalidAnswer(f"{where}.ratings: this project does not ask to rate")
        if not isinstance(ratings, list) or len(ratings) != n:
            raise InvalidAnswer(f"{where}.ratings: one rating (or null) per reply, {n} in all")
        low, high = config.rating.min, config.rating.max
        for i, r in enumerate(ratings):
            if r is not None and (isinstance(r, bool) or not isinstance(r, int) or not low <= r <= high):
                raise InvalidAnswer(f"{where}.ratings[{i}]: a whole number from {low} to {high}, or null")
        if any(r is not None for r in ratings):
            turn["ratings"] = list(ratings)
    rewrite = raw.get("rewrite")
    if rewrite is not None:
        if "rewrite" not in config.actions:
            raise InvalidAnswer(f"{where}.rewrite: this project does not ask for rewrites")
        rewrite = _keys(rewrite, {"reply", "content"}, f"{where}.rewrite")
        index = rewrite.get("reply")
        if isinstance(index, bool) or index not in range(n):
            raise InvalidAnswer(f"{where}.rewrite.reply: a reply index (0 to {n - 1})")
        content = _text(rewrite.get("content"), f"{where}.rewrite.content").strip()
        if content != turn["replies"][index]["content"].strip():  # an unchanged "rewrite" is no rewrite
            turn["rewrite"] = {"reply": index, "content": content}
    turn["carried"] = carried_reply(turn)
    if turn["replies"][turn["carried"]].get("error") is not None and "rewrite" not in turn:
        ok = [i for i, r in enumerate(turn["replies"]) if r.get("error") is None]
        if not ok:
            raise InvalidAnswer(f"{where}.replies: every reply failed; regenerate the turn or rewrite a reply")
        turn["carried"] = ok[0]
    return turn


def check_transcript(config: ChatConfig, data: dict, result: Any) -> dict[str, Any]:
    result = _keys(result, {"models", "system", "seed", "turns"}, "result")
    models = [
        {"endpoint": m.endpoint, "model": m.model, "label": label}
        for m, label in zip(config.models, config.labels(), strict=True)
    ]
    seed, _opening = seed_of(config, data)
    turns = result.get("turns")
    if not isinstance(turns, list) or not turns:
        raise InvalidAnswer("result.turns: at least one turn")
    if len(turns) > config.max_turns:
        raise InvalidAnswer(f"result.turns: {len(turns)} turns; this project allows {config.max_turns}")
    out_turns = []
    for i, raw in enumerate(turns):
        where = f"result.turns[{i}]"
        raw = _keys(raw, {"user", "replies", "choice", "ratings", "rewrite", "carried"}, where)
        replies = raw.get("replies")
        if not isinstance(replies, list) or len(replies) != len(config.models):
            raise InvalidAnswer(f"{where}.replies: one reply per model, {len(config.models)} in all")
        turn = {
            "user": _text(raw.get("user"), f"{where}.user"),
            "replies": [check_reply(config, r, slot, f"{where}.replies[{slot}]") for slot, r in enumerate(replies)],
        }
        out_turns.append(check_judgement(config, turn, raw, where))
    out: dict[str, Any] = {"models": models}
    if config.system_prompt:
        out["system"] = config.system_prompt
    if seed:
        out["seed"] = seed
    out["turns"] = out_turns
    return out


class Chat(TaskType):
    name = "chat"
    title = "Chat"
    description = "Converse with one or two models, live; choose, rate or rewrite their replies turn by turn."
    template = TEMPLATE
    config_model = ChatConfig
    package_dir = Path(__file__).parent
    row_kinds = {"sft": exports.sft_rows, "dpo": exports.dpo_rows}
    agreement_measures = ("turn_choice_agreement",)

    def model_endpoints(self, config: ChatConfig) -> list[tuple[str, str]]:
        """``(config path, endpoint id)`` of every model endpoint the config names (checked against the
        project's workspace by services/projects.py)."""
        return [(f"models[{i}].endpoint", m.endpoint) for i, m in enumerate(config.models)]

    def check_data(self, config: ChatConfig, data: dict) -> str | None:
        key = conv.find_prompt_field(data, config.prompt_field)
        if data.get(key) is None:
            return None  # no seed: the expert opens the conversation
        return conv.check_prompt(data, config.prompt_field)

    def validate_result(self, config: ChatConfig, data: dict, result: Any) -> dict:
        return check_transcript(config, data, result)

    def summarise(self, config: ChatConfig, result: Any) -> str:
        if not isinstance(result, dict) or not isinstance(result.get("turns"), list) or not result["turns"]:
            return super().summarise(config, result)
        turns = result["turns"]
        labels = config.labels()
        picks = [
            labels[t["choice"]["preferred"]] if t["choice"]["preferred"] in (0, 1) else "="
            for t in turns
            if isinstance(t, dict) and isinstance(t.get("choice"), dict)
        ]
        head = f"{len(turns)} turn{'s' if len(turns) != 1 else ''}"
        if picks:
            head += " · " + " ".join(picks)
        return shorten(f"{head} · {turns[0].get('user', '')}")

    def result_facts(self, config: ChatConfig, data: dict, result: Any) -> dict[str, str]:
        """Per turn: the choice and the ratings (the texts differ from one expert to the next)."""
        if not isinstance(result, dict) or not isinstance(result.get("turns"), list):
            return super().result_facts(config, data, result)
        labels = config.labels()
        facts: dict[str, str] = {f"turns={len(result['turns'])}": f"{len(result['turns'])} turns"}
        for i, turn in enumerate(result["turns"]):
            choice = turn.get("choice")
            if choice:
                picked = choice["preferred"]
                name = labels[picked] if picked in (0, 1) else "tie"
                facts[f"t{i}.choice={picked}"] = f"turn {i + 1}: {name}"
            for j, rating in enumerate(turn.get("ratings") or []):
                if rating is not None:
                    facts[f"t{i}.rating{j}={rating}"] = f"turn {i + 1}: {labels[j]} rated {rating}"
        return facts

    def agreement(self, config: ChatConfig, ratings) -> dict:
        return quality.agreement(ratings)

    def task_agreement(self, config: ChatConfig, results) -> float | None:
        return quality.task_agreement(results)

    def result_labels(self, config: ChatConfig, result: dict) -> list:
        return []

    def sample_data(self, config: ChatConfig) -> dict:
        return conv.sample_prompt(config.prompt_field)

    def widget_context(
        self, config: ChatConfig, data: dict, *, task_id: str = "", user_id: str = "", predictions: list | None = None
    ) -> dict:
        """The seed and the opening message; a result shown (read, corrected) with its turns. The live
        transcript is the server's draft, which the widget loads (services/chat.py)."""
        import orjson

        seed, opening = seed_of(config, data)
        shown = (predictions or [None])[0] if predictions else None
        turns = shown.get("turns") if isinstance(shown, dict) and isinstance(shown.get("turns"), list) else []
        return {
            "seed": seed,
            "opening": opening,
            "labels": config.labels(),
            "labels_json": orjson.dumps(config.labels()).decode(),
            "criteria_json": orjson.dumps(config.criteria).decode(),
            "turns": turns,
            "result_json": orjson.dumps(shown).decode() if turns else "",
            "strengths": STRENGTHS,
            "scale": list(range(config.rating.min, config.rating.max + 1)),
        }
