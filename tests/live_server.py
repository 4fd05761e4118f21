"""Bastion served by uvicorn in a thread of the test process, on 127.0.0.1 (a free port)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from benchmarks.servers import free_port  # noqa: F401 (one per pytest-xdist worker; the tests import it from here)


@contextmanager
def running(server: uvicorn.Server) -> Iterator[str]:
    """Run a configured server in a thread until the block ends; yields its base URL."""
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def serving(rt, port: int | None = None) -> Iterator[str]:
    """The runtime's app on 127.0.0.1:``port`` (a free one by default); yields its base URL."""
    from bastion.web.app import create_app

    config = uvicorn.Config(create_app(rt), host="127.0.0.1", port=port or free_port(), log_level="warning")
    with running(uvicorn.Server(config)) as url:
        yield url
