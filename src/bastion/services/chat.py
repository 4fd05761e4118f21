"""The chat task type, live: a person holding a chat task talks with its model(s), turn by turn.

Concept. The transcript in progress is a *draft*: one row per (task, person) in
``chat_drafts``, sealed with the project's key, so a reload or another server process
continues it. :func:`open_turn` adds (or, with ``at``, replaces from that turn on) a user
turn, calls every configured model through ``completions.complete(…, stream=True)`` — the
egress guard, ``model.use``, walls and the audit log apply there — and returns a
:class:`TurnStream` whose events (newline-delimited JSON) carry each reply's pieces as they
arrive, both models at once, then the saved turn. :func:`load_chat` gives the draft back;
:func:`save_judgements` keeps the expert's choices, ratings and rewrites in it;
:func:`restart` discards it. The final submit is an ordinary annotation (the labelling
form): the task type's validator checks it.

Who: only the person holding the task's live lease — a task they do not hold, someone
else's, one of another workspace (not found) is refused before any model is called.

Decisions: editing an earlier user turn discards the turns after it (they are not kept:
the annotation records the conversation the expert finished, and every model call is in
the audit log already). Both models receive the same history: each earlier turn's carried
reply (the rewrite, else the preferred reply, else the first). The replies in the draft
come from the models only — a post changes the expert's judgements, never a reply's text.

On submit (``services/annotations.py``), :func:`settle_result` holds a chat to its draft: the
messages and replies posted must be the draft's. The draft is kept after the submit, so an undo
continues the chat; it goes with the task or the person (foreign keys) or the project's key.

The trap: a turn's stream saves the draft when both replies have ended; a reader who goes
away before then saves nothing, and the calls are recorded as aborted. The draft carries a
version: a turn that started from another version (a second window) is refused at save.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import orjson

from . import completions, model_endpoints
from .context import Context, Unit
from .projects import config_of
from .tasks import find_task_row, task_dict
from ..access import Action
from ..domain.egress import EgressRefused
from ..domain.errors import BastionError, Conflict, InvalidAnswer, InvalidInput, NotFound, PermissionDenied, RemoteError
from ..storage import chat_store
from ..tasktypes.chat import ChatConfig, check_judgement, history, seed_of

TABLE = "chat_drafts"
MAX_USER = 100_000
_DONE = object()


def _draft_id(task_id: str, user_id: str) -> str:
    return f"{task_id}/{user_id}"


class _Held:
    """A chat task as its lease holder sees it: its workspace, project key, config, seed and draft."""

    def __init__(self, u: Unit, task_id: Any) -> None:
        if not isinstance(task_id, str) or not task_id:
            raise NotFound("task not found")
        found = find_task_row(u, task_id)
        self.workspace_id = found.workspace_id
        self.task_id = found.id
        self.project_id = found.project_id
        self.key_id = found.key_id
        self.user_id = u.actor.user_id
        u.access.require(Action.TASK_WORK, self.workspace_id, what="task")
        u.see_content(self.workspace_id)
        if found.task_type != "chat":
            raise InvalidInput(f"task {task_id} is not a chat task")
        if not chat_store.holds_lease(u.tx, found.id, workspace_id=self.workspace_id, user_id=self.user_id, now=u.now):
            raise PermissionDenied("you do not hold this task: start labelling to take it first")
        self.config: ChatConfig = config_of(u, found)
        data = task_dict(u, found, found.key_id, full=False)["data"]
        self.seed, self.opening = seed_of(self.config, data)
        sealed = chat_store.find_draft(u.tx, found.id, workspace_id=self.workspace_id, user_id=self.user_id)
        draft = None
        if sealed is not None:
            draft = u.sealer(self.workspace_id, self.key_id).open_json(
                TABLE, _draft_id(found.id, self.user_id), "body", sealed
            )
        self.draft: dict[str, Any] = draft or {"version": 0, "turns": []}

    def save(self, u: Unit, draft: dict[str, Any]) -> None:
        sealed = u.sealer(self.workspace_id, self.key_id).seal_json(
            TABLE, _draft_id(self.task_id, self.user_id), "body", draft
        )
        chat_store.save_draft(
            u.tx,
            self.task_id,
            sealed,
            workspace_id=self.workspace_id,
            project_id=self.project_id,
            user_id=self.user_id,
            draft_id=_draft_id(self.task_id, self.user_id),
            now=u.now,
        )

    def view(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "version": self.draft["version"],
            "turns": self.draft["turns"],
            "max_turns": self.config.max_turns,
            "opening": self.opening,
        }


def load_chat(ctx: Context, task_id: str) -> dict[str, Any]:
    """The caller's chat in progress on a task they hold: ``{"task_id", "version", "turns", "max_turns", "opening"}``."""
    with ctx.read() as r:
        return _Held(r, task_id).view()


def _apply(config: ChatConfig, turns: list[dict], judgements: Any, upto: int) -> list[dict]:
    """The draft's turns with the posted judgements of turns ``< upto`` checked and applied (replies untouched)."""
    if judgements is None:
        return turns
    if not isinstance(judgements, list):
        raise InvalidAnswer("judgements: one object (or null) per turn")
    out = []
    for i, turn in enumerate(turns):
        raw = judgements[i] if i < len(judgements) and i < upto else None
        if raw is None:
            out.append(turn)
            continue
        if not isinstance(raw, dict):
            raise InvalidAnswer(f"judgements[{i}]: must be an object")
        extra = sorted(set(raw) - {"choice", "ratings", "rewrite"})
        if extra:
            raise InvalidAnswer(f"judgements[{i}].{extra[0]}: unknown key")
        base = {"user": turn["user"], "replies": turn["replies"]}
        out.append(check_judgement(config, base, raw, f"judgements[{i}]"))
    return out


def save_judgements(ctx: Context, task_id: str, judgements: Any, *, version: Any) -> dict[str, Any]:
    """Keep the expert's choices, ratings and rewrites (one object or null per turn) in the draft."""
    with ctx.write() as w:
        held = _Held(w, task_id)
        _same_version(held, version)
        turns = _apply(held.config, held.draft["turns"], judgements, len(held.draft["turns"]))
        held.draft = {"version": held.draft["version"] + 1, "turns": turns}
        held.save(w, held.draft)
        return held.view()


def restart(ctx: Context, task_id: str) -> dict[str, Any]:
    """Discard the caller's chat on the task and start again from its seed."""
    with ctx.write() as w:
        held = _Held(w, task_id)
        held.draft = {"version": held.draft["version"] + 1, "turns": []}
        held.save(w, held.draft)
        w.audit(held.workspace_id, "chat.restarted", held.task_id)
        return held.view()


def _same_version(held: _Held, version: Any) -> None:
    if version is not None and version != held.draft["version"]:
        raise Conflict("this chat changed in another window: reload the page to continue it")


def settle_result(w: Unit, found: Any, result: Any) -> Any:
    """A chat result as submitted (``services/annotations.py``, before validation): where the person has a
    draft of the task, its turns' messages and replies must be the draft's — the models' words, which no
    post changes; only the judgements come from the post. Without a draft (an API client's transcript)
    the result stands as posted, checked by the validator like any type's."""
    me = w.actor.user_id
    sealed = chat_store.find_draft(w.tx, found.id, workspace_id=found.workspace_id, user_id=me)
    if sealed is None or not isinstance(result, dict) or not isinstance(result.get("turns"), list):
        return result
    draft = w.sealer(found.workspace_id, found.key_id).open_json(TABLE, _draft_id(found.id, me), "body", sealed)
    kept, posted = draft["turns"], result["turns"]
    if len(posted) != len(kept):
        raise InvalidAnswer(f"result.turns: {len(posted)} turns, but this chat has {len(kept)}: reload the page")
    for i, (mine, theirs) in enumerate(zip(posted, kept, strict=True)):
        if not isinstance(mine, dict):
            raise InvalidAnswer(f"result.turns[{i}]: must be an object")
        for key in ("user", "replies"):
            if mine.get(key) != theirs[key]:
                raise InvalidAnswer(f"result.turns[{i}].{key}: not this chat's (reload the page to continue it)")
    return result


def _user_text(content: Any) -> str:
    if not isinstance(content, str) or not content.strip():
        raise InvalidInput("content: write the message to send")
    content = content.replace("\r\n", "\n").strip()
    if len(content) > MAX_USER:
        raise InvalidInput(f"content: at most {MAX_USER} characters")
    return content


class TurnStream:
    """The events of one turn, as newline-delimited JSON lines (see ``open_turn``)."""

    def __init__(self, ctx: Context, held: _Held, turns: list[dict], streams: list[Any], failed: dict[int, str]):
        self._ctx = ctx
        self._held = held
        self._turns = turns  # the turns before this one, then this one (user only)
        self._streams = streams  # per reply: a CompletionStream, or None when it failed to open
        self._failed = failed

    def close(self) -> None:
        for stream in self._streams:
            if stream is not None:
                stream.close()

    def events(self) -> Iterator[bytes]:
        """The turn's events: ``start``, ``delta`` pieces (``reply``, ``text``), each ``reply`` when it ends,
        then ``turn`` (the saved turn and the draft's version) — or ``error`` when it could not be saved."""
        index = len(self._turns) - 1
        config = self._held.config
        n = len(self._streams)
        yield _line({"event": "start", "turn": index, "replies": n})
        pieces: queue.Queue = queue.Queue()
        stop = threading.Event()
        threads = []
        for slot, stream in enumerate(self._streams):
            if stream is None:
                pieces.put((slot, _DONE, self._failed[slot]))
                continue
            thread = threading.Thread(target=_pump, args=(slot, stream, pieces, stop), daemon=True)
            thread.start()
            threads.append(thread)
        ended: dict[int, str | None] = {}
        try:
            while len(ended) < n:
                slot, kind, payload = pieces.get()
                if kind is _DONE:
                    ended[slot] = payload
                    continue
                yield _line({"event": "delta", "reply": slot, "text": payload})
            replies = []
            for slot, stream in enumerate(self._streams):
                model = config.models[slot]
                reply: dict[str, Any] = {
                    "content": stream.text if stream is not None else "",
                    "model": (stream.model if stream is not None else None) or model.model or "default",
                    "endpoint": model.endpoint,
                }
                if stream is not None:
                    if stream.finish_reason:
                        reply["finish_reason"] = stream.finish_reason
                    if stream.usage.prompt_tokens is not None or stream.usage.completion_tokens is not None:
                        reply["usage"] = {
                            "prompt_tokens": stream.usage.prompt_tokens,
                            "completion_tokens": stream.usage.completion_tokens,
                        }
                if ended[slot] is not None or not reply["content"].strip():
                    reply["error"] = ended[slot] or "the model sent an empty reply"
                replies.append(reply)
                yield _line({"event": "reply", "reply": slot, "data": reply})
            turn = {"user": self._turns[-1]["user"], "replies": replies}
            try:
                turn = check_judgement(config, turn, {}, f"turns[{index}]")
            except InvalidAnswer:  # every reply failed: kept to show, regenerated before it can be submitted
                turn["carried"] = 0
            turns = [*self._turns[:-1], turn]
            try:
                version = self._save(turns)
            except BastionError as exc:
                yield _line({"event": "error", "code": exc.code, "message": exc.message})
                return
            yield _line({"event": "turn", "turn": index, "data": turns[-1], "version": version})
        finally:
            stop.set()
            for thread in threads:
                thread.join(5)
            self.close()

    def _save(self, turns: list[dict]) -> int:
        with self._ctx.write() as w:
            held = _Held(w, self._held.task_id)  # the lease is checked again: it may have ended meanwhile
            if held.draft["version"] != self._held.draft["version"]:
                raise Conflict("this chat changed in another window: reload the page to continue it")
            version = held.draft["version"] + 1
            held.save(w, {"version": version, "turns": turns})
            return version


def _pump(slot: int, stream: Any, pieces: queue.Queue, stop: threading.Event) -> None:
    error: str | None = None
    try:
        for delta in stream:
            if stop.is_set():
                error = "stopped"
                break
            if delta.text:
                pieces.put((slot, "delta", delta.text))
    except BastionError as exc:
        error = exc.message
    except Exception as exc:  # noqa: BLE001 — a reader's failure is this reply's error, never the page's
        error = f"the reply failed ({type(exc).__name__})"
    finally:
        stream.close()
        pieces.put((slot, _DONE, error))


def _line(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event) + b"\n"


def open_turn(
    ctx: Context, task_id: str, content: Any, *, at: Any = None, judgements: Any = None, version: Any = None
) -> TurnStream:
    """Send a user turn (``at``: replace the turn at that index and drop those after it) to every model.

    ``judgements`` (one object or null per earlier turn) are applied first, since they decide the
    history the models see (a rewrite is carried on). Refusals — not the holder, bad input, a model
    the person may not use, a wall — are raised here, before any event; a model that fails to answer
    makes that reply's ``error``.
    """
    text = _user_text(content)
    with ctx.read() as r:
        held = _Held(r, task_id)
        for model in held.config.models:  # every model usable, or none is called
            model_endpoints.require_usable(r, model.endpoint)
    _same_version(held, version)
    turns = held.draft["turns"]
    if at is None:
        index = len(turns)
    elif isinstance(at, bool) or not isinstance(at, int) or not 0 <= at <= len(turns):
        raise InvalidInput(f"at: a turn index from 0 to {len(turns)}")
    else:
        index = at
    if index >= held.config.max_turns:
        raise InvalidInput(f"this chat has reached its {held.config.max_turns} turns: submit it")
    turns = _apply(held.config, turns, judgements, index)[:index] + [{"user": text}]
    messages = history(held.config, held.seed, turns, index)
    streams: list[Any] = []
    failed: dict[int, str] = {}
    try:
        for slot, model in enumerate(held.config.models):
            try:
                streams.append(
                    completions.complete(
                        ctx,
                        model.endpoint,
                        messages,
                        model=model.model,
                        stream=True,
                        params=held.config.params or None,
                        purpose="chat",
                    )
                )
            except (RemoteError, EgressRefused) as exc:  # the endpoint failed: this reply's error
                streams.append(None)
                failed[slot] = exc.message
    except BaseException:
        for stream in streams:
            if stream is not None:
                stream.close()
        raise
    return TurnStream(ctx, held, turns, streams, failed)


__all__ = ["TurnStream", "load_chat", "open_turn", "restart", "save_judgements", "settle_result"]
