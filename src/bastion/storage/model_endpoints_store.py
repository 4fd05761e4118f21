"""A workspace's model endpoints (``schema.model_endpoints``); every function takes ``workspace_id``
or the workspaces the caller may see, so a foreign id finds nothing (services/model_endpoints.py)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

import orjson
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from . import schema
from .database import Tx
from ..domain.errors import Conflict

M = schema.model_endpoints


class EndpointRow(NamedTuple):
    """One endpoint (``api_key`` sealed; ``allowed_hosts`` parsed)."""

    workspace_id: str
    id: str
    name: str
    base_url: str
    default_model: str
    allowed_hosts: list[str]
    api_key: bytes | None
    created_by: str | None
    created_at: int
    updated_at: int


_COLUMNS = [getattr(M.c, name) for name in EndpointRow._fields]


def _row(row: Any) -> EndpointRow:
    values = list(row)
    values[5] = orjson.loads(values[5])
    return EndpointRow._make(values)


def insert_endpoint(tx: Tx, row: EndpointRow) -> None:
    values = row._asdict()
    values["allowed_hosts"] = orjson.dumps(row.allowed_hosts).decode()
    try:
        tx.execute(insert(M).values(**values))
    except IntegrityError as exc:
        raise Conflict(f"this workspace already has a model endpoint named {row.name!r}") from exc


def find_endpoint(tx: Tx, endpoint_id: str, *, workspace_ids: Collection[str] | None) -> EndpointRow | None:
    """The endpoint with this id, looked for only in ``workspace_ids`` (None: every workspace, the operator)."""
    query = select(*_COLUMNS).where(M.c.id == endpoint_id)
    if workspace_ids is not None:
        query = query.where(M.c.workspace_id.in_(list(workspace_ids)))
    row = tx.execute(query).first()
    return None if row is None else _row(row)


def list_endpoints(tx: Tx, workspace_id: str) -> list[EndpointRow]:
    rows = tx.execute(select(*_COLUMNS).where(M.c.workspace_id == workspace_id).order_by(M.c.name)).all()
    return [_row(r) for r in rows]


def update_endpoint(tx: Tx, workspace_id: str, endpoint_id: str, **values: Any) -> None:
    if "allowed_hosts" in values:
        values["allowed_hosts"] = orjson.dumps(values["allowed_hosts"]).decode()
    try:
        tx.execute(update(M).where(M.c.workspace_id == workspace_id, M.c.id == endpoint_id).values(**values))
    except IntegrityError as exc:
        raise Conflict(f"this workspace already has a model endpoint named {values.get('name')!r}") from exc


def delete_endpoint(tx: Tx, workspace_id: str, endpoint_id: str) -> bool:
    done = tx.execute(delete(M).where(M.c.workspace_id == workspace_id, M.c.id == endpoint_id))
    return bool(done.rowcount)
