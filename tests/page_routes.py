"""The app's page routes (not in the OpenAPI document), for tests that enumerate every route.

FastAPI may keep an included router as one entry of ``app.routes`` that expands
lazily; both shapes are walked, so the list is the same on either version.
"""

from __future__ import annotations

from collections.abc import Iterator


def _walk(routes) -> Iterator[tuple[str, frozenset[str]]]:
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                yield context.path, frozenset(context.methods or ())
        elif getattr(route, "methods", None) and hasattr(route, "path"):
            yield route.path, frozenset(route.methods)


def page_gets(app) -> list[str]:
    """Every GET route outside /api/ (pages, health), once each, in order."""
    seen: list[str] = []
    for path, methods in _walk(app.routes):
        if "GET" in methods and not path.startswith(("/api/", "/static")) and path not in seen:
            seen.append(path)
    return seen
