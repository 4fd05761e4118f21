"""ASGI entry point for ``bastion serve`` workers: settings come from the environment."""

import gc

from .app import create_app
from ..settings import Settings


def app_factory():
    app = create_app(settings=Settings())
    # Everything loaded so far (modules, routes, models: ~140,000 objects) lives as long as the
    # worker: move it out of the collector's reach, so that a full collection triggered while
    # requests allocate walks only what requests made (measured: the 8-client p99 of
    # next+submit and the JSON export's time, docs/benchmarks.md).
    gc.freeze()
    return app
