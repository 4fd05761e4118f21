"""All page routes, gathered."""

from fastapi import APIRouter

from . import approvals, auth, home, own_annotations, projects, quality, questions, walls

router = APIRouter(include_in_schema=False)
for _module in (auth, home, projects, own_annotations, questions, walls, quality, approvals):
    router.include_router(_module.router)
