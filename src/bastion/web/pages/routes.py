"""All page routes, gathered."""

from fastapi import APIRouter

from . import auth, home, projects, walls

router = APIRouter(include_in_schema=False)
for _module in (auth, home, projects, walls):
    router.include_router(_module.router)
