"""Pay pages: a workspace's statements (and a form to make them), one statement with its lines,
approve and lock buttons, and its CSV (docs/workforce.md#pay).

One service call per action (services/pay.py decides who may see and do what: people.read lists,
the person paid sees their own statement, people.manage makes, approves and locks). Statements show
annotation ids, projects, times and amounts — never task content.
"""

from __future__ import annotations

import calendar
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from .common import render
from ..auth import page_session, require_form_csrf
from ...domain.errors import BastionError, InvalidInput
from ...services import pay, workspaces

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]
STATUS = {"forbidden": 403, "not_found": 404, "conflict": 409, "statement_locked": 409}


def money(minor, currency) -> str:
    """``12345, "EUR"`` -> ``123.45 EUR`` (two decimals; the amounts stay integers until shown)."""
    if minor is None:
        return ""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(int(minor)), 100)
    return f"{sign}{whole}.{cents:02d} {currency or ''}".strip()


def _day(value: str, field: str) -> int:
    """A form's ``YYYY-MM-DD`` as epoch ms at 00:00 UTC."""
    try:
        parsed = time.strptime(value.strip(), "%Y-%m-%d")
    except ValueError:
        raise InvalidInput(f"{field}: a date as YYYY-MM-DD") from None
    return calendar.timegm(parsed) * 1000


def _list_page(request, ctx, csrf, workspace_id, *, error=None, status=200):
    ws = workspaces.get_workspace(ctx, workspace_id)
    statements = pay.list_statements(ctx, workspace_id)
    members = workspaces.list_members(ctx, workspace_id)
    return render(
        request,
        "pay.html",
        status_code=status,
        ws=ws,
        csrf_token=csrf,
        error=error,
        statements=statements,
        members=members,
        settings=pay.get_settings(ctx, workspace_id),
        rates=pay.list_rates(ctx, workspace_id),
        money=money,
    )


@router.get("/workspaces/{workspace_id}/pay")
def pay_page(request: Request, workspace_id: str, session: Session):
    ctx, csrf = session
    return _list_page(request, ctx, csrf, workspace_id)


@router.post("/workspaces/{workspace_id}/pay")
async def pay_create(request: Request, workspace_id: str, session: Session):
    """Make draft statements over a period: for one person, or (``person`` empty) everyone who annotated in it."""
    ctx, csrf = session
    form = await request.form()
    require_form_csrf(csrf, str(form.get("csrf_token", "")))

    def work():
        try:
            start = _day(str(form.get("period_start", "")), "period_start")
            end = _day(str(form.get("period_end", "")), "period_end")
            person = str(form.get("person", "")).strip()
            if person:
                made = pay.create_statement(ctx, workspace_id, person, start, end)
                return RedirectResponse(f"/pay-statements/{made['id']}", status_code=303)
            pay.create_statements(ctx, workspace_id, start, end)
        except BastionError as exc:
            return _list_page(request, ctx, csrf, workspace_id, error=exc.message, status=STATUS.get(exc.code, 422))
        return RedirectResponse(f"/workspaces/{workspace_id}/pay", status_code=303)

    return await run_in_threadpool(work)


def _statement_page(request, ctx, csrf, statement_id, *, error=None, status=200):
    statement = pay.get_statement(ctx, statement_id)
    ws = workspaces.get_workspace(ctx, statement["workspace_id"])
    return render(
        request,
        "pay_statement.html",
        status_code=status,
        ws=ws,
        s=statement,
        csrf_token=csrf,
        error=error,
        money=money,
    )


@router.get("/pay-statements/{statement_id}")
def statement_page(request: Request, statement_id: str, session: Session):
    ctx, csrf = session
    return _statement_page(request, ctx, csrf, statement_id)


@router.post("/pay-statements/{statement_id}")
async def statement_change(request: Request, statement_id: str, session: Session):
    """Approve, lock or delete (a draft) the statement (``action`` from the form)."""
    ctx, csrf = session
    form = await request.form()
    require_form_csrf(csrf, str(form.get("csrf_token", "")))
    action = str(form.get("action", ""))

    def work():
        try:
            if action == "approve":
                pay.approve_statement(ctx, statement_id)
            elif action == "lock":
                pay.lock_statement(ctx, statement_id)
            elif action == "delete":
                workspace_id = pay.get_statement(ctx, statement_id)["workspace_id"]
                pay.delete_statement(ctx, statement_id)
                return RedirectResponse(f"/workspaces/{workspace_id}/pay", status_code=303)
            else:
                raise InvalidInput(f"action: approve, lock or delete, not {action!r}")
        except BastionError as exc:
            if exc.code == "not_found":
                raise
            return _statement_page(
                request, ctx, csrf, statement_id, error=exc.message, status=STATUS.get(exc.code, 422)
            )
        return RedirectResponse(f"/pay-statements/{statement_id}", status_code=303)

    return await run_in_threadpool(work)


@router.get("/pay-statements/{statement_id}/csv")
def statement_csv(statement_id: str, session: Session):
    ctx, _ = session
    name, text = pay.statement_csv(ctx, statement_id)
    return Response(
        text.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"},
    )
