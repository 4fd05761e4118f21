"""All page routes, gathered."""

from fastapi import APIRouter

from . import (
    approvals,
    auth,
    browse,
    chat,
    dashboard,
    exports,
    home,
    jobs,
    members,
    own_annotations,
    project_setup,
    projects,
    quality,
    questions,
    task,
    walls,
)

router = APIRouter(include_in_schema=False)
for _module in (
    auth,
    home,
    projects,
    browse,
    chat,
    project_setup,
    members,
    exports,
    own_annotations,
    questions,
    walls,
    quality,
    dashboard,
    approvals,
    jobs,
    task,
):
    router.include_router(_module.router)
