"""/api/v1 people: who am I, my API tokens, users (platform admins)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field
from starlette.responses import Response

from .common import COMMON_ERRORS, Ctx, created, error_docs
from .models import MeOut, Strict, TokenCreated, TokenIn, TokenOut, UserIn, UserOut, WorkspaceOut
from ...domain.users import ApiToken, User
from ...services import users as svc
from ...services import workspaces as ws_svc

router = APIRouter(tags=["people"], responses=COMMON_ERRORS)


def _user(u: User) -> UserOut:
    return UserOut(
        id=u.id, email=u.email, name=u.name, is_admin=u.is_admin, is_active=u.is_active, created_at=u.created_at
    )


def _token(t: ApiToken) -> TokenOut:
    return TokenOut(
        id=t.id,
        name=t.name,
        scope=t.scope,
        created_at=t.created_at,
        last_used_at=t.last_used_at,
        revoked_at=t.revoked_at,
    )


@router.get("/me", response_model=MeOut)
def me(ctx: Ctx):
    """The signed-in person and their workspaces."""
    user = svc.get_user(ctx, ctx.actor.user_id)
    workspaces = [
        WorkspaceOut(id=w.id, name=w.name, created_at=w.created_at, role=w.role.value if w.role else None)
        for w in ws_svc.list_workspaces(ctx)
    ]
    return MeOut(user=_user(user), workspaces=workspaces)


class PasswordIn(Strict):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=10, max_length=1024)


@router.post("/me/password", status_code=204, response_class=Response, responses=error_docs(429))
def change_password(body: PasswordIn, ctx: Ctx):
    """Change your password; every browser session of yours ends. Wrong current passwords are limited
    (5 per 15 minutes, then 429)."""
    svc.set_password(ctx, ctx.actor.user_id, body.new_password, old_password=body.current_password)
    return Response(status_code=204)


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(ctx: Ctx):
    """Your API tokens (secrets are never shown again)."""
    return [_token(t) for t in svc.list_tokens(ctx, ctx.actor.user_id)]


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(body: TokenIn, ctx: Ctx):
    """Create an API token for yourself; the secret is in this response only."""
    secret, token = svc.create_token(ctx, ctx.actor.user_id, name=body.name, scope=body.scope)
    return created(TokenCreated(token=secret, **_token(token).model_dump()).model_dump(), f"/tokens/{token.id}")


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response)
def revoke_token(token_id: str, ctx: Ctx):
    svc.revoke_token(ctx, token_id)
    return Response(status_code=204)


@router.get("/users", response_model=list[UserOut])
def list_users(ctx: Ctx):
    """Everyone (platform admins)."""
    return [_user(u) for u in svc.list_users(ctx)]


@router.post("/users", response_model=UserOut, status_code=201, responses=error_docs(409))
def create_user(body: UserIn, ctx: Ctx):
    """Create a person (platform admins)."""
    user = _user(svc.create_user(ctx, body.email, name=body.name, password=body.password, is_admin=body.is_admin))
    return created(user.model_dump(), f"/users/{user.id}")


@router.post("/users/{user_id}/deactivate", response_model=UserOut)
def deactivate_user(user_id: str, ctx: Ctx):
    """Deactivate a person (platform admins): their sessions end, their tokens are revoked, their leases
    return to the pool, and every request they make from now on is refused (401). Their history stays."""
    svc.deactivate_user(ctx, user_id, via="api")
    return _user(svc.get_user(ctx, user_id))


@router.post("/users/{user_id}/activate", response_model=UserOut)
def activate_user(user_id: str, ctx: Ctx):
    """Reactivate a person (platform admins); none of their old sessions or tokens come back."""
    svc.activate_user(ctx, user_id, via="api")
    return _user(svc.get_user(ctx, user_id))
