"""The chat-completions client: one call to a workspace's model endpoint, through the egress guard, audited.

Concept. ``complete(ctx, endpoint_id, messages, model=…, stream=…, params=…)`` checks the
messages, decides access (``model.use`` in the endpoint's workspace; another workspace's
endpoint is not found), sends ``POST {base_url}/chat/completions`` through
``services/egress.py`` and answers a ``Completion`` — or, with ``stream=True``, a
``CompletionStream`` that yields ``Delta`` pieces as the endpoint's events arrive.

Every call is recorded in the workspace's audit log as ``model.called`` (target: the
endpoint id) with the model, ``messages_sha256`` (a SHA-256 of the request's messages, never
their text), the prompt and completion token counts the endpoint reported, the latency in
milliseconds and the outcome: ``ok``, ``refused`` (the egress guard; with its rule),
``http_error`` (with the status), ``timeout``, ``malformed`` (an answer that cannot be read),
``failed`` (no connection, too large an answer) or ``aborted`` (a stream its reader closed).
A failed call raises a domain error (``EgressRefused``, ``RemoteError``, ``RemoteTimeout``)
after it is recorded; nothing becomes a 500.

Walls apply (``Unit.see_content``): a person walled off from the endpoint's workspace cannot
call its models, and the refusal is recorded (``wall.denied``), like any read of its content.

The trap: a stream is recorded when it ends — read to the end, closed, or collected — so a
reader must close a stream it stops reading (``with complete(…, stream=True) as s:``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import orjson

from . import egress
from .context import Context
from .model_endpoints import CallTarget, load_for_call
from ..access import Action
from ..domain.completions import (
    Completion,
    Delta,
    Usage,
    check_messages,
    check_model,
    check_params,
    messages_digest,
    parse_completion,
    parse_event_line,
    request_body,
)
from ..domain.egress import EgressRefused
from ..domain.errors import BastionError, RemoteError, RemoteTimeout

PROBE_MESSAGES = [{"role": "user", "content": "Reply with the single word: ok"}]


def _outcome(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, EgressRefused):
        return {"outcome": "refused", "rule": exc.rule}
    if isinstance(exc, RemoteTimeout):
        return {"outcome": "timeout"}
    if isinstance(exc, _HTTPError):
        return {"outcome": "http_error", "status": exc.status}
    if isinstance(exc, _Malformed):
        return {"outcome": "malformed"}
    return {"outcome": "failed", "error": exc.code if isinstance(exc, BastionError) else type(exc).__name__}


class _HTTPError(RemoteError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message, details={"status": status})
        self.status = status


class _Malformed(RemoteError):
    pass


def _record(
    ctx: Context,
    target: CallTarget,
    *,
    model: str,
    digest: str,
    started: float,
    usage: Usage | None,
    outcome: dict[str, Any],
    purpose: str,
) -> None:
    with ctx.write() as w:
        w.audit(
            target.workspace_id,
            "model.called",
            target.endpoint_id,
            model=model,
            messages_sha256=digest,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            latency_ms=round((time.monotonic() - started) * 1000),
            purpose=purpose,
            **outcome,
        )


def _http_error(answer: egress.Answer) -> _HTTPError:
    """A non-2xx answer: its status, and the endpoint's own error message when it sent one (briefly)."""
    said = ""
    try:
        body = b"".join(_first_bytes(answer, 4096))
        error = orjson.loads(body).get("error")
        message = error.get("message") if isinstance(error, dict) else error
        if isinstance(message, str) and message:
            said = f": {message[:200]}"
    except (orjson.JSONDecodeError, AttributeError, BastionError):
        pass
    return _HTTPError(f"the model endpoint {answer.where} answered HTTP {answer.status}{said}", answer.status)


def _first_bytes(answer: egress.Answer, limit: int) -> Iterator[bytes]:
    seen = 0
    for chunk in answer.iter_bytes():
        yield chunk[: limit - seen]
        seen += len(chunk)
        if seen >= limit:
            return


def _open(target: CallTarget, body: dict[str, Any], limits: egress.Limits, stack: ExitStack) -> egress.Answer:
    headers = {"Accept": "text/event-stream" if body["stream"] else "application/json"}
    if target.api_key:
        headers["Authorization"] = f"Bearer {target.api_key}"
    answer = stack.enter_context(
        egress.open_request(
            "POST", target.url + "/chat/completions", target.allowed_hosts, headers=headers, json=body, limits=limits
        )
    )
    if not 200 <= answer.status < 300:
        raise _http_error(answer)
    return answer


def complete(
    ctx: Context,
    endpoint_id: str,
    messages: Any,
    *,
    model: Any = None,
    stream: bool = False,
    params: Any = None,
    limits: egress.Limits | None = None,
    purpose: str = "complete",
) -> Completion | CompletionStream:
    """Send ``messages`` to the endpoint (``model``: its default when None); see the module docstring."""
    checked = check_messages(messages)
    extra = check_params(params)
    chosen_model = None if model is None else check_model(model)
    with ctx.read() as r:
        target = load_for_call(r, endpoint_id, Action.MODEL_MANAGE if purpose == "probe" else Action.MODEL_USE)
        if purpose != "probe":  # the prompt and the reply are the workspace's data: walls decide (a probe sends none)
            r.see_content(target.workspace_id)
    chosen = chosen_model or target.default_model
    body = request_body(chosen, checked, extra, stream=stream)
    digest = messages_digest(checked)
    started = time.monotonic()
    limits = limits or egress.Limits()
    record = dict(model=chosen, digest=digest, started=started, purpose=purpose)
    stack = ExitStack()
    try:
        answer = _open(target, body, limits, stack)
        if stream:
            return CompletionStream(ctx, target, answer, stack, record)
        raw = answer.read()
        try:
            completion = parse_completion(raw, chosen)
        except RemoteError as exc:
            raise _Malformed(exc.message) from exc
    except BaseException as exc:
        stack.close()
        _record(ctx, target, usage=None, outcome=_outcome(exc), **record)  # type: ignore[arg-type]
        raise
    stack.close()
    _record(ctx, target, usage=completion.usage, outcome={"outcome": "ok"}, **record)  # type: ignore[arg-type]
    return completion


class CompletionStream:
    """The pieces of a streamed answer, in order; recorded in the audit log when it ends or is closed.

    After the stream ends, ``text``, ``finish_reason``, ``model`` and ``usage`` hold the whole answer.
    """

    def __init__(
        self, ctx: Context, target: CallTarget, answer: egress.Answer, stack: ExitStack, record: dict[str, Any]
    ) -> None:
        self._ctx = ctx
        self._target = target
        self._answer = answer
        self._stack = stack
        self._record = record
        self._done = False
        self._started = False
        self.text = ""
        self.finish_reason: str | None = None
        self.model: str = record["model"]
        self.usage = Usage()

    def __enter__(self) -> CompletionStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Delta]:
        if self._started:
            raise RuntimeError("a completion stream is read once")
        self._started = True
        return self._pieces()

    def _pieces(self) -> Iterator[Delta]:
        parts: list[str] = []
        try:
            finished = False
            for line in self._answer.iter_lines():
                try:
                    event = parse_event_line(line)
                except RemoteError as exc:
                    raise _Malformed(exc.message) from exc
                if event is True:
                    finished = True
                    break
                if event is None or event is False:
                    continue
                if event.model:
                    self.model = event.model
                if event.usage is not None:
                    self.usage = event.usage
                if event.finish_reason:
                    self.finish_reason = event.finish_reason
                parts.append(event.text)
                self.text = "".join(parts)
                yield event
            if not finished:
                raise _Malformed(f"the model endpoint {self._answer.where} ended its event stream without [DONE]")
        except GeneratorExit:
            self._finish({"outcome": "aborted"})
            raise
        except BaseException as exc:
            self._finish(_outcome(exc))
            raise
        self._finish({"outcome": "ok"})

    def _finish(self, outcome: dict[str, Any]) -> None:
        if self._done:
            return
        self._done = True
        self._stack.close()
        usage = self.usage if self.usage != Usage() else None
        _record(self._ctx, self._target, usage=usage, outcome=outcome, **self._record)

    def close(self) -> None:
        """Stop reading (the connection closes) and record the call, if it was not recorded yet."""
        self._finish({"outcome": "aborted"})


def probe_endpoint(ctx: Context, endpoint_id: str, *, limits: egress.Limits | None = None) -> dict[str, Any]:
    """Send a tiny fixed prompt (no workspace data) and report the model, latency and token counts (owners)."""
    started = time.monotonic()
    reply = complete(ctx, endpoint_id, PROBE_MESSAGES, params={"max_tokens": 5}, limits=limits, purpose="probe")
    assert isinstance(reply, Completion)
    return {
        "endpoint_id": endpoint_id,
        "model": reply.model,
        "latency_ms": round((time.monotonic() - started) * 1000),
        "prompt_tokens": reply.usage.prompt_tokens,
        "completion_tokens": reply.usage.completion_tokens,
        "finish_reason": reply.finish_reason,
        "reply": reply.text[:200],
    }
