"""A workspace's members page: who they are (name and e-mail) and their roles; add by e-mail,
change a role, remove.

The access module decides, as for the API (``member.read`` to see the page: owners, managers,
auditors; ``member.manage`` to change it: owners and managers — only owners make or unmake
owners, and a workspace keeps at least one). Adding is by the e-mail of an existing account:
accounts are a platform admin's to make (``bastion user create``), so an e-mail with none is
refused with a message saying so, and nothing is created (docs/security.md, "Members").
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from ._forms import redirect_after_post, refused_status
from .common import render
from ..auth import page_session, require_form_csrf
from ...access import Action
from ...domain.errors import BastionError, InvalidInput
from ...domain.workspaces import Role
from ...services import workspaces

router = APIRouter(include_in_schema=False)
Session = Annotated[tuple, Depends(page_session)]
DONE = {"add": "Member added.", "role": "Role changed.", "remove": "Member removed."}


def _page(request, ctx, csrf, workspace_id, *, error=None, status=200, done=None, email="", role="annotator"):
    ws = workspaces.get_workspace(ctx, workspace_id)
    members = workspaces.list_members(ctx, workspace_id)  # 403 for roles that may not see them
    allowed = workspaces.allowed_actions(ctx, workspace_id)
    may_make_owners = ws.role is Role.OWNER or ctx.actor.is_admin
    return render(
        request,
        "members.html",
        status_code=status,
        ws=ws,
        members=sorted(members, key=lambda m: (list(Role).index(m.role), m.email)),
        allowed=allowed,
        Action=Action,
        roles=[r.value for r in Role if r is not Role.OWNER or may_make_owners],
        error=error,
        done=DONE.get(done or ""),
        email=email,
        role=role,
        csrf_token=csrf,
    )


@router.get("/workspaces/{workspace_id}/members")
def members_page(request: Request, workspace_id: str, session: Session, done: str | None = Query(None, max_length=10)):
    ctx, csrf = session
    return _page(request, ctx, csrf, workspace_id, done=done)


@router.post("/workspaces/{workspace_id}/members")
async def members_change(request: Request, workspace_id: str, session: Session):
    ctx, csrf = session
    form = await request.form()
    require_form_csrf(csrf, str(form.get("csrf_token", "")))
    action = str(form.get("action", ""))
    email = str(form.get("email", "")).strip()[:320]
    role = str(form.get("role", ""))[:20]

    def work():
        workspaces.get_workspace(ctx, workspace_id)  # 404 here for a workspace you are not in
        try:
            if action == "add":
                if not email or "@" not in email:
                    raise InvalidInput("email: the e-mail address of the person's account")
                approval = str(form.get("approval", "")).strip() or None
                workspaces.add_member(ctx, workspace_id, email, role, approval=approval)
            elif action == "role":
                workspaces.add_member(ctx, workspace_id, str(form.get("user", ""))[:60], role)
            elif action == "remove":
                workspaces.remove_member(ctx, workspace_id, str(form.get("user", ""))[:60])
            else:
                raise InvalidInput(f"action: {action!r} is not an action of this page")
        except BastionError as exc:
            if exc.code == "forbidden":
                raise
            status = refused_status(request)
            return _page(request, ctx, csrf, workspace_id, error=exc.message, status=status, email=email, role=role)
        return redirect_after_post(request, f"/workspaces/{workspace_id}/members?done={action}")

    return await run_in_threadpool(work)
