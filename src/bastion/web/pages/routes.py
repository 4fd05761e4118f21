"""All page routes, gathered."""

from fastapi import APIRouter

from . import (
    approvals,
    auth,
    browse,
    chat,
    credentials,
    dashboard,
    exports,
    guidelines,
    home,
    jobs,
    members,
    own_annotations,
    pay,
    project_setup,
    projects,
    quality,
    questions,
    task,
    walls,
    working_time,
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
    credentials,
    exports,
    own_annotations,
    questions,
    guidelines,
    walls,
    quality,
    dashboard,
    approvals,
    jobs,
    pay,
    task,
    working_time,
):
    router.include_router(_module.router)
