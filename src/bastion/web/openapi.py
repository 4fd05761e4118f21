"""The OpenAPI document as a contract: what a generated client reads besides the routes' models.

Concept. ``/api/v1/openapi.json`` is what clients are generated from
(openapi-python-client, openapi-generator), so it must say everything a caller
needs: readable operation ids, the bearer scheme on every authenticated
operation, the ``Location`` header of every 201, and the models that only
hand-written request bodies name (the import's ``TaskLine``).
The routes declare their models; this module adds what FastAPI cannot infer,
once, when the document is first made.

* Operation ids are ``<tag>_<verb…>``, made from the route's first tag and its
  function's name without the words of the tag (``import_tasks`` under
  ``tasks`` → ``tasks_import``); a route that reads badly that way names its own
  ``operation_id``. They are unique and never mention the path.
* ``bearerAuth`` (HTTP bearer, ``bastion token create``) is required by every
  operation whose route depends on ``auth.api_context``: FastAPI declares it from
  that dependency's ``Security`` parameter, so a route added tomorrow is covered
  the day it lands. The browser session also works on the API but is not
  declared: the pages are not in the document.

The trap: FastAPI caches the document in ``app.openapi_schema``; every addition
goes in before the first caller sees it (``install`` wraps ``app.openapi``), and
other wrappers (``api/projects.describe_export_formats``) see the result.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from .api.models import TaskLine

REFERENCED_MODELS = (TaskLine,)  # the import body (api/tasks.py) is read by the route itself


def operation_id(route: APIRoute) -> str:
    """``<tag>_<verb…>``: the first tag, then the function's name without the tag's words."""
    if not route.tags:
        return route.name
    tag = str(route.tags[0]).replace("-", "_")
    own = {tag, tag.removesuffix("s")}
    words = [w for w in route.name.split("_") if w not in own] or route.name.split("_")
    return "_".join([tag, *words])


def install(app: FastAPI) -> None:
    """Complete the app's document (Location headers, models of hand-written bodies) when it is first made."""
    make_document = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = make_document()  # FastAPI keeps it as app.openapi_schema
        _declare_locations(document)
        _declare_models(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _declare_locations(document: dict[str, Any]) -> None:
    for item in document["paths"].values():
        for operation in item.values():
            created = operation.get("responses", {}).get("201")
            if created is not None:
                created.setdefault("headers", {})["Location"] = {
                    "description": "The created resource's URL (under /api/v1).",
                    "schema": {"type": "string"},
                }


def _declare_models(document: dict[str, Any]) -> None:
    """Models that only hand-written bodies refer to (``#/components/schemas/<name>``)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in REFERENCED_MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
