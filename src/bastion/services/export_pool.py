"""An export's worker processes: they build and encode its pages while the exporting process reads.

A large export (``services/exports.py`` ``Export.chunks``) reads each page of rows and
opens its sealed columns in the exporting process, then hands the opened page to a
small pool of worker processes, which decode the JSON, build the records and rows
(``services/export_rows.py``) and encode them with the format's page encoder
(``exporting/base.py`` ``PageEncoding``). The parts come back in the order the pages
were read — a bounded window of pages is in flight, so memory stays that of a few
pages — and the exporting process joins them into the file's bytes.

What crosses the pipe: opened pages (plaintext, in memory, never written to disk, as
``bastion import`` hands texts to its helper process: docs/security.md) one way, the
encoded parts the other. The data keys never do: the pages are opened where the
keyring is, and each page is opened in a read transaction that re-checks access and
the key (a client-held key revoked mid-export stops it).

The pool is the export's own: started when the export has read enough to be worth it,
ended with it — finished, failed, or closed because the client went away — and its
processes are terminated, not left to finish pages nobody will read. A worker also ends
itself when the exporting process dies without ending it (killed outright). Processes are
started with ``spawn`` (a server has threads; ``fork`` would copy their locks).
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from typing import Any

from .export_rows import OpenedPage, RowPlan, Tally, build_records, make_rows, tally_for

log = logging.getLogger("bastion.exports")

# What a worker was given for the whole export (set by the pool's initializer).
_job: tuple[RowPlan, Any, Any, Any] | None = None


def default_workers() -> int:
    """The export workers when the setting is left unset: one a core, at most four."""
    return min(os.cpu_count() or 1, 4)


def encode_page(page: OpenedPage, plan: RowPlan, encode, encoding, fixed) -> tuple[Any, Tally]:
    """One page: its encoded part (None: no rows) and what it counted (``Export._parts`` does the
    same in the exporting process, where it also fixes what the first rows decide)."""
    tally = tally_for(plan)
    rows = list(make_rows(build_records(page, plan), plan, tally))
    return (encode(rows, encoding, fixed) if rows else None), tally


def _start(plan: RowPlan, encode, encoding, fixed) -> None:
    global _job
    _job = (plan, encode, replace(encoding, config=plan.config), fixed)  # the config as parsed here
    parent = multiprocessing.parent_process()
    if parent is not None:  # an exporting process killed outright cannot end its workers: they end themselves
        threading.Thread(target=_end_with, args=(parent.sentinel,), name="export-parent", daemon=True).start()


def _end_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(0)


def _ready() -> bool:
    return True


def _work(page: OpenedPage) -> tuple[Any, Tally]:
    assert _job is not None  # set by the pool's initializer
    return encode_page(page, *_job)


class PagePool:
    """``workers`` processes encoding the pages of one export (see the module docstring)."""

    def __init__(self, workers: int, plan: RowPlan, encode, encoding, fixed) -> None:
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(plan, encode, encoding, fixed),
        )
        self._started = self._pool.submit(_ready)  # start the processes now; done once one is ready

    def ready(self) -> bool:
        """Whether a worker has started (until then the export makes its pages itself)."""
        return self._started.done()

    def submit(self, page: OpenedPage) -> Future:
        assert self._pool is not None
        return self._pool.submit(_work, page)

    def pids(self) -> list[int]:
        """The worker processes' ids (they start with the pool)."""
        processes = getattr(self._pool, "_processes", None) or {}
        return [p.pid for p in list(processes.values()) if p.pid is not None]

    def close(self, *, finished: bool = False) -> None:
        """End the workers. ``finished`` (every page came back): they are asked to stop and waited for;
        otherwise at once — pages not started are dropped, pages under way are not waited for."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if finished:
            pool.shutdown(wait=True)
            return
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():  # terminate was ignored: nothing of an export may outlive it
                process.kill()
                process.join(timeout=5)
        try:
            pool.shutdown(wait=True)
        except Exception:  # noqa: BLE001 — the pool's own threads unwinding after its workers were ended
            log.debug("export pool shutdown after terminating its workers", exc_info=True)
