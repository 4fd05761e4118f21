"""All page routes, gathered."""

from fastapi import APIRouter

from . import approvals, auth, browse, home, projects, quality, walls

router = APIRouter(include_in_schema=False)
for _module in (auth, home, projects, browse, walls, quality, approvals):
    router.include_router(_module.router)
