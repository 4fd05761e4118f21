"""All page routes, gathered."""

from fastapi import APIRouter

from . import answers, approvals, auth, home, projects, quality, walls

router = APIRouter(include_in_schema=False)
for _module in (auth, home, projects, answers, walls, quality, approvals):
    router.include_router(_module.router)
