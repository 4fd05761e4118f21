"""A workspace's credentials page: its members' NDAs, clearances and certificates that count there
(its own and the deployment-wide ones), their state; record one for a member, revoke one.

The access module decides, as for the API (services/credentials.py): ``people.read`` to see the
page (owners, managers, workforce managers), ``people.manage`` to record and revoke (the same
roles); deployment-wide credentials are platform admins' (``bastion credential add --all``), and
nobody records or revokes their own. Never task content: names, issuers, dates.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from ._forms import redirect_after_post, refused_status
from .common import render
from ..auth import page_session, require_form_csrf
from ...access import Action
from ...domain.credentials import COMMON_KINDS
from ...domain.errors import Conflict, InvalidInput, NotFound
from ...services import credentials, workspaces

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]
DONE = {"add": "Credential recorded.", "revoke": "Credential revoked."}
FIELDS = ("email", "kind", "name", "issuer", "issued", "expires", "document")


def _date(value: str, field: str) -> int | None:
    """A ``YYYY-MM-DD`` date (UTC midnight) as epoch milliseconds; empty: none."""
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field}: a date like 2027-01-31") from None
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


def _page(request, ctx, csrf, workspace_id, *, error=None, status=200, done=None, values=None):
    ws = workspaces.get_workspace(ctx, workspace_id)
    rows = credentials.list_credentials(ctx, workspace_id)  # 403 for roles that may not see them
    allowed = workspaces.allowed_actions(ctx, workspace_id)
    return render(
        request,
        "credentials.html",
        status_code=status,
        ws=ws,
        rows=rows,
        manage=Action.PEOPLE_MANAGE in allowed or ctx.actor.is_admin,
        kinds=COMMON_KINDS,
        error=error,
        done=DONE.get(done or ""),
        values=values or {"kind": "nda"},
        csrf_token=csrf,
    )


@router.get("/workspaces/{workspace_id}/credentials")
def credentials_page(
    request: Request, workspace_id: str, session: Session, done: str | None = Query(None, max_length=10)
):
    ctx, csrf = session
    return _page(request, ctx, csrf, workspace_id, done=done)


@router.post("/workspaces/{workspace_id}/credentials")
async def credentials_change(request: Request, workspace_id: str, session: Session):
    ctx, csrf = session
    form = await request.form()
    require_form_csrf(csrf, str(form.get("csrf_token", "")))
    action = str(form.get("action", ""))
    values: dict[str, Any] = {name: str(form.get(name, "")).strip()[:600] for name in FIELDS}

    def work():
        workspaces.get_workspace(ctx, workspace_id)  # 404 here for a workspace you are not in
        try:
            if action == "add":
                if not values["email"] or "@" not in values["email"]:
                    raise InvalidInput("email: the e-mail address of a member's account")
                credentials.add_credential(
                    ctx,
                    values["email"],
                    kind=values["kind"].lower(),
                    name=values["name"],
                    issuer=values["issuer"],
                    workspace_id=workspace_id,
                    issued_at=_date(values["issued"], "issued"),
                    expires_at=_date(values["expires"], "expires"),
                    document=values["document"] or None,
                )
            elif action == "revoke":
                credentials.revoke_credential(ctx, str(form.get("credential", ""))[:60])
            else:
                raise InvalidInput(f"action: {action!r} is not an action of this page")
        except (InvalidInput, Conflict, NotFound) as exc:
            if isinstance(exc, NotFound) and not (action == "add" and exc.message == "person not found"):
                raise  # a workspace or credential that is not yours: the 404 page
            if isinstance(exc, NotFound):
                exc = InvalidInput(f"email: {values['email']} is not a member of this workspace")
            status = refused_status(request)
            return _page(request, ctx, csrf, workspace_id, error=exc.message, status=status, values=values)
        return redirect_after_post(request, f"/workspaces/{workspace_id}/credentials?done={action}")

    return await run_in_threadpool(work)
