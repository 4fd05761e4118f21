"""All page routes, gathered."""

from fastapi import APIRouter

from . import auth, home, projects, quality, walls

router = APIRouter(include_in_schema=False)
for _module in (auth, home, projects, walls, quality):
    router.include_router(_module.router)
