"""All page routes, gathered."""

from fastapi import APIRouter

from . import (
    approvals,
    auth,
    browse,
    chat,
    exports,
    guidelines,
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
    guidelines,
    walls,
    quality,
    approvals,
    jobs,
    task,
):
    router.include_router(_module.router)
