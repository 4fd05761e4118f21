"""A workspace's model endpoints: OpenAI-compatible chat-completions servers its features may call.

Concept. An endpoint belongs to one workspace: a name, a base URL (``POST {base_url}/chat/completions``),
a default model, the egress allow-list its calls go through (exact ``host[:port]`` entries and
addresses, ``domain/egress.py``: per endpoint, so each endpoint says exactly where its calls may
go) and an optional API key, sealed with the workspace's own data key under the endpoint's id.

Who: owners add, change, test and remove endpoints (``model.manage``: the allow-list decides where
the workspace's data may be sent); owners, managers and auditors list them (``model.read``); every
role that works on the data may *use* them through the features that call them (``model.use``,
``services/completions.py``). Every change is audited in the workspace's log; every call too.

The trap: the API key is opened only by ``load_for_call``, right before a call, and goes only into
the request's ``Authorization`` header; no answer of this module, no audit event and no log line
carries it. An id of another workspace's endpoint is not found (404), like an id never made.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .context import Context, Unit
from ..access import Action
from ..domain.completions import check_model
from ..domain.egress import EgressRefused, parse_allow_list, parse_target, require_allowed_host
from ..domain.errors import InvalidInput, NotFound
from ..domain.text import find_nul
from ..ids import new_id
from ..storage import model_endpoints_store as store
from ..storage.model_endpoints_store import EndpointRow
from ..storage.workspace_secret import workspace_key

TABLE = "model_endpoints"
MAX_API_KEY = 4096
UNSET: Any = object()


class CallTarget(NamedTuple):
    """What a call needs: where, with which model and allow-list, and the opened API key (never kept)."""

    workspace_id: str
    endpoint_id: str
    url: str
    default_model: str
    allowed_hosts: list[str]
    api_key: str | None


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} must be non-empty text")
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"{field} is at most {limit} characters")
    if any(ord(c) < 32 for c in value) or find_nul(value) is not None:
        raise InvalidInput(f"{field} holds control characters")
    return value


def _base_url(value: Any, allowed: list[str]) -> str:
    url = _text(value, "base_url", 2000).rstrip("/")
    try:
        target = parse_target(url)
        require_allowed_host(target, parse_allow_list(allowed))
    except EgressRefused as exc:
        raise InvalidInput(f"base_url: {exc.message}", details=exc.details) from exc
    if "?" in url or "#" in url:
        raise InvalidInput("base_url: give the API's base (e.g. https://host/v1), without a query or fragment")
    return url


def _allowed(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput("allowed_hosts must be a list of host[:port] entries")
    return [str(e) for e in parse_allow_list(value)]


def _api_key(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_API_KEY or any(ord(c) < 33 for c in value):
        raise InvalidInput(f"api_key must be 1 to {MAX_API_KEY} printable characters without spaces")
    return value


def _out(row: EndpointRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "workspace_id": row.workspace_id,
        "name": row.name,
        "base_url": row.base_url,
        "default_model": row.default_model,
        "allowed_hosts": row.allowed_hosts,
        "has_api_key": row.api_key is not None,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _seal(u: Unit, workspace_id: str, endpoint_id: str, api_key: str | None) -> bytes | None:
    if api_key is None:
        return None
    sealer = u.sealer(workspace_id, workspace_key(u.rt.keyring, workspace_id))
    return sealer.seal(TABLE, endpoint_id, "api_key", api_key.encode())


def _find(u: Unit, endpoint_id: Any, action: Action) -> EndpointRow:
    """The endpoint, looked for only in the caller's workspaces; then the role check (404 before 403)."""
    if not isinstance(endpoint_id, str) or not endpoint_id:
        raise NotFound("model endpoint not found")
    scope = None if u.actor.is_system else u.access.workspace_ids()
    row = store.find_endpoint(u.tx, endpoint_id, workspace_ids=scope)
    if row is None:
        raise NotFound("model endpoint not found")
    u.access.require(action, row.workspace_id, what="model endpoint")
    return row


def create_endpoint(
    ctx: Context,
    workspace_id: str,
    *,
    name: Any,
    base_url: Any,
    default_model: Any,
    allowed_hosts: Any,
    api_key: Any = None,
) -> dict[str, Any]:
    """Add a model endpoint to the workspace (owners). The base URL's host must be on its allow-list."""
    with ctx.write() as w:
        w.access.require(Action.MODEL_MANAGE, workspace_id)
        allowed = _allowed(allowed_hosts)
        row = EndpointRow(
            workspace_id=workspace_id,
            id=new_id("mep"),
            name=_text(name, "name", 100),
            base_url=_base_url(base_url, allowed),
            default_model=check_model(default_model),
            allowed_hosts=allowed,
            api_key=None,
            created_by=None if ctx.actor.is_system else ctx.actor.user_id,
            created_at=w.now,
            updated_at=w.now,
        )
        if any(other.name == row.name for other in store.list_endpoints(w.tx, workspace_id)):
            raise InvalidInput(f"this workspace already has a model endpoint named {row.name!r}")
        row = row._replace(api_key=_seal(w, workspace_id, row.id, _api_key(api_key)))
        store.insert_endpoint(w.tx, row)
        w.audit(
            workspace_id,
            "model_endpoint.created",
            row.id,
            # Where data may go is the auditor's business (base URL, allowed hosts); names are the client's
            # words and stay out of the log, as workspace and project names do.
            base_url=row.base_url,
            allowed_hosts=row.allowed_hosts,
            default_model=row.default_model,
            has_api_key=row.api_key is not None,
        )
        return _out(row)


def list_endpoints(ctx: Context, workspace_id: str) -> list[dict[str, Any]]:
    with ctx.read() as r:
        r.access.require(Action.MODEL_READ, workspace_id)
        return [_out(row) for row in store.list_endpoints(r.tx, workspace_id)]


def get_endpoint(ctx: Context, endpoint_id: str) -> dict[str, Any]:
    with ctx.read() as r:
        return _out(_find(r, endpoint_id, Action.MODEL_READ))


def update_endpoint(
    ctx: Context,
    endpoint_id: str,
    *,
    name: Any = UNSET,
    base_url: Any = UNSET,
    default_model: Any = UNSET,
    allowed_hosts: Any = UNSET,
    api_key: Any = UNSET,
) -> dict[str, Any]:
    """Change an endpoint (owners); ``api_key=None`` removes the key. The base URL must stay allowed."""
    with ctx.write() as w:
        row = _find(w, endpoint_id, Action.MODEL_MANAGE)
        ws = row.workspace_id
        changes: dict[str, Any] = {}
        allowed = row.allowed_hosts if allowed_hosts is UNSET else _allowed(allowed_hosts)
        if allowed_hosts is not UNSET:
            changes["allowed_hosts"] = allowed
        new_url = _base_url(row.base_url if base_url is UNSET else base_url, allowed)
        if new_url != row.base_url:
            changes["base_url"] = new_url
        if name is not UNSET:
            changes["name"] = _text(name, "name", 100)
            if any(o.name == changes["name"] and o.id != row.id for o in store.list_endpoints(w.tx, ws)):
                raise InvalidInput(f"this workspace already has a model endpoint named {changes['name']!r}")
        if default_model is not UNSET:
            changes["default_model"] = check_model(default_model)
        if api_key is not UNSET:
            changes["api_key"] = _seal(w, ws, row.id, _api_key(api_key))
        if changes:
            changes["updated_at"] = w.now
            store.update_endpoint(w.tx, ws, row.id, **changes)
            audited = {k: v for k, v in changes.items() if k not in ("api_key", "updated_at", "name")}
            if "name" in changes:
                audited["renamed"] = True
            if "api_key" in changes:
                audited["api_key"] = "set" if changes["api_key"] is not None else "removed"
            w.audit(ws, "model_endpoint.updated", row.id, **audited)
        return _out(row._replace(**changes))


def delete_endpoint(ctx: Context, endpoint_id: str) -> None:
    """Remove an endpoint (owners); its sealed API key goes with its row."""
    with ctx.write() as w:
        row = _find(w, endpoint_id, Action.MODEL_MANAGE)
        store.delete_endpoint(w.tx, row.workspace_id, row.id)
        w.audit(row.workspace_id, "model_endpoint.deleted", row.id, base_url=row.base_url)


def require_usable(u: Unit, endpoint_id: str) -> None:
    """The caller may call this endpoint's models (``model.use`` in its workspace); NotFound otherwise. For a
    feature calling several endpoints at once, so that none is called when one would be refused."""
    _find(u, endpoint_id, Action.MODEL_USE)


def load_for_call(u: Unit, endpoint_id: str, action: Action) -> CallTarget:
    """The endpoint ready for one call (``services/completions.py``): access decided, API key opened."""
    row = _find(u, endpoint_id, action)
    key = None
    if row.api_key is not None:
        sealer = u.sealer(row.workspace_id, workspace_key(u.rt.keyring, row.workspace_id))
        key = sealer.open(TABLE, row.id, "api_key", row.api_key).decode()
    return CallTarget(row.workspace_id, row.id, row.base_url, row.default_model, row.allowed_hosts, key)
