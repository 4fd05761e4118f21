"""``bastion.client``: Bastion's REST API from Python, sync (``Client``) and async (``AsyncClient``).

It speaks only the public HTTP API, so it needs httpx, pydantic and orjson and none of the
server's modules (a test checks that importing it loads no FastAPI, SQLAlchemy, Starlette or
``bastion.web``/``services``/``storage``); pandas, datasets and pyarrow are loaded only when a
DataFrame, a Dataset or a Parquet export is asked for. docs/sdk.md walks through it.

Modules, inside out: ``errors`` (the exception tree), ``models`` (typed answers), ``_calls``
(each call as data, the retry policy), ``_imports`` (import bodies, streamed), ``_exports``
(export answers read back as rows), ``_sync`` and ``_async`` (the two clients).
"""

from __future__ import annotations

from ._async import AsyncClient
from ._calls import Retry
from ._sync import Client
from .errors import (
    ApprovalRequired,
    BadRequest,
    BastionError,
    Conflict,
    GuidelinesUnacknowledged,
    InvalidInput,
    MissingDependency,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServerError,
    TransportError,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
)
from .models import (
    Annotation,
    Delivery,
    Event,
    ExportInfo,
    HeldTask,
    ImportReport,
    Job,
    JobProgress,
    LabelStudioProject,
    Lease,
    Me,
    Member,
    OwnAnnotation,
    Progress,
    Project,
    ProjectCounts,
    RejectedLine,
    Review,
    ReviewTask,
    StoredFile,
    SubmittedAndNext,
    TakenBack,
    Task,
    TaskAssigned,
    TaskPage,
    TasksDeleted,
    TasksUpdated,
    TaskUnassigned,
    TaskUpdated,
    User,
    Webhook,
    Workspace,
)

__all__ = [
    "Annotation",
    "ApprovalRequired",
    "AsyncClient",
    "BadRequest",
    "BastionError",
    "Client",
    "Conflict",
    "Delivery",
    "Event",
    "ExportInfo",
    "GuidelinesUnacknowledged",
    "HeldTask",
    "ImportReport",
    "InvalidInput",
    "Job",
    "JobProgress",
    "LabelStudioProject",
    "Lease",
    "Me",
    "Member",
    "OwnAnnotation",
    "MissingDependency",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "Progress",
    "Project",
    "ProjectCounts",
    "RateLimited",
    "RejectedLine",
    "Retry",
    "Review",
    "ReviewTask",
    "ServerError",
    "StoredFile",
    "SubmittedAndNext",
    "TakenBack",
    "Task",
    "TaskAssigned",
    "TaskPage",
    "TaskUnassigned",
    "TaskUpdated",
    "TasksDeleted",
    "TasksUpdated",
    "TransportError",
    "Unauthenticated",
    "Unavailable",
    "UnsupportedMediaType",
    "User",
    "Webhook",
    "Workspace",
]
