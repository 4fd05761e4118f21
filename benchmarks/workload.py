"""The workload the suite, the peer runs and the kill -9 harness share.

* ``write_tasks``: a JSON Lines file of generated text tasks (deterministic, with
  external ids ``t-0``, ``t-1``, …), the same file for Bastion and its peers.
* ``HttpConnection``: a lean HTTP/1.1 keep-alive client on asyncio streams. With
  64 clients on a 2-core machine the load generator shares the cores with the
  server: a full client library (httpx) spends more CPU per request than the
  server's hot path does, and would measure itself. This one writes the request
  bytes and parses status, headers and a Content-Length or chunked body; it
  reconnects when the server closes the connection.
* ``run_annotators``: N clients doing next + submit over real HTTP for a fixed
  time or until the queue is empty, each pair timed (p50/p99 come from these).
* ``download``: stream a response to a file, timing the first byte and the end.

The API shapes differ between systems, so the annotate loop takes a small
``Protocol`` object (``next_request``, ``task_id_of``, ``submit_request``,
``annotation_id_of``) — Bastion's is ``BastionProtocol``; the Label Studio peer
has its own.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import orjson

TOPICS = ("billing", "login", "refund", "crash", "feature", "shipping", "privacy", "latency")


def task_line(i: int) -> bytes:
    text = (
        f"Ticket {i}: the customer writes about {TOPICS[i % len(TOPICS)]} "
        f"and mentions order {i * 7919 % 100000} placed on day {i % 28 + 1}."
    )
    return orjson.dumps({"data": {"text": text}, "external_id": f"t-{i}"}) + b"\n"


def write_tasks(path: Path, n: int, *, start: int = 0) -> Path:
    """Write ``n`` text tasks as JSON Lines (about 150 bytes a line)."""
    with path.open("wb") as fh:
        block: list[bytes] = []
        for i in range(start, start + n):
            block.append(task_line(i))
            if len(block) >= 10_000:
                fh.write(b"".join(block))
                block.clear()
        fh.write(b"".join(block))
    return path


def pct(values: list[float], p: float) -> float | None:
    """The p-th percentile (nearest rank) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(p / 100 * len(ordered)))) - 1]


# -- a lean HTTP/1.1 client ---------------------------------------------------------


class HttpError(Exception):
    """The connection broke before a whole response arrived (e.g. the server was killed)."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return orjson.loads(self.body)


class HttpConnection:
    """One keep-alive connection to ``base_url``; one request at a time."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None, timeout: float = 120.0) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.fixed = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"
    ) -> Response:
        try:
            return await asyncio.wait_for(self._request(method, path, body, content_type), self.timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self.close()
            raise HttpError(f"{method} {path}: {exc!r}") from exc

    async def _request(self, method: str, path: str, body: bytes | None, content_type: str) -> Response:
        if self._writer is None:
            await self._connect()
        assert self._reader is not None and self._writer is not None
        head = f"{method} {self.prefix}{path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.fixed}"
        if body is not None:
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        elif method in ("POST", "PUT", "PATCH"):
            head += "Content-Length: 0\r\n"
        self._writer.write(head.encode("latin-1") + b"\r\n" + (body or b""))
        reader = self._reader
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if status in (204, 304) or 100 <= status < 200 or method == "HEAD":
            data = b""
        elif "content-length" in headers:
            data = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            data = b"".join(parts)
        else:
            data = await reader.read()
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Response(status, headers, data)


# -- annotators ---------------------------------------------------------------------


class BastionProtocol:
    """Bastion's next + submit calls."""

    def __init__(self, project_id: str, label: str = "bug") -> None:
        self.project_id = project_id
        self.body = orjson.dumps({"result": {"label": label}})

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def next_request(self) -> tuple[str, str, bytes | None]:
        return "POST", f"/api/v1/projects/{self.project_id}/next", None

    def is_empty(self, r: Response) -> bool:
        return r.status == 204

    def task_id_of(self, r: Response) -> str:
        return r.json()["id"]

    def submit_request(self, task_id: str) -> tuple[str, str, bytes | None]:
        return "POST", f"/api/v1/tasks/{task_id}/annotations", self.body

    def submitted(self, r: Response) -> bool:
        return r.status == 201

    def annotation_id_of(self, r: Response) -> str:
        return r.json()["id"]


@dataclass
class LoadResult:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # one per next + submit pair
    next_latencies: list[float] = field(default_factory=list)
    acknowledged: list[tuple[str, str, str]] = field(default_factory=list)  # (annotation id, task id, client)
    failures: list[str] = field(default_factory=list)
    broken: int = 0  # requests cut off by a broken connection (kill -9)
    emptied: int = 0  # clients that found the queue empty

    @property
    def submissions(self) -> int:
        return len(self.acknowledged)

    def figures(self) -> dict:
        lat = self.latencies
        return {
            "clients_seconds": round(self.seconds, 2),
            "submissions": self.submissions,
            "submissions_per_s": round(self.submissions / self.seconds, 1) if self.seconds else None,
            "pair_p50_ms": round(1000 * statistics.median(lat), 2) if lat else None,
            "pair_p99_ms": round(1000 * pct(lat, 99), 2) if lat else None,
            "pair_max_ms": round(1000 * max(lat), 1) if lat else None,
            "failures": len(self.failures) + self.broken,
            "failure_examples": self.failures[:5],
        }


async def _annotator(
    name: str, base_url: str, token: str, proto, result: LoadResult, stop_at: float | None, stop, max_pairs: int | None
) -> None:
    conn = HttpConnection(base_url, proto.auth(token))
    pairs = 0
    try:
        while not stop.is_set() and (stop_at is None or time.perf_counter() < stop_at):
            if max_pairs is not None and pairs >= max_pairs:
                return
            start = time.perf_counter()
            try:
                method, path, body = proto.next_request()
                r = await conn.request(method, path, body)
                if proto.is_empty(r):
                    result.emptied += 1
                    return
                if r.status != 200:
                    result.failures.append(f"next {r.status} {r.body[:200]!r}")
                    if r.status < 500:
                        return  # refused (auth, not found): asking again will not help
                    continue  # a server error: this client goes on, as a person would retry
                took_next = time.perf_counter() - start
                task_id = proto.task_id_of(r)
                method, path, body = proto.submit_request(task_id)
                r2 = await conn.request(method, path, body)
            except HttpError:
                result.broken += 1  # the connection broke mid-request (the server died): not acknowledged
                return
            elapsed = time.perf_counter() - start
            pairs += 1
            if proto.submitted(r2):
                result.latencies.append(elapsed)
                result.next_latencies.append(took_next)
                result.acknowledged.append((proto.annotation_id_of(r2), task_id, name))
            else:
                result.failures.append(f"submit {r2.status} {r2.body[:200]!r}")
    finally:
        conn.close()


async def annotate_async(
    base_urls: list[str],
    tokens: list[str],
    proto,
    *,
    seconds: float | None = None,
    max_pairs: int | None = None,
    stop=None,
) -> LoadResult:
    """Run one client per token (spread over ``base_urls``) until time, queue or ``stop`` ends them.

    ``stop``: anything with ``is_set()`` (a ``threading.Event`` when another thread decides).
    """
    result = LoadResult()
    stop = stop or asyncio.Event()
    start = time.perf_counter()
    stop_at = start + seconds if seconds else None
    await asyncio.gather(
        *(
            _annotator(f"c{i}", base_urls[i % len(base_urls)], token, proto, result, stop_at, stop, max_pairs)
            for i, token in enumerate(tokens)
        )
    )
    result.seconds = time.perf_counter() - start
    return result


def run_annotators(
    base_urls: list[str], tokens: list[str], proto, *, seconds: float | None = None, max_pairs: int | None = None
) -> LoadResult:
    return asyncio.run(annotate_async(base_urls, tokens, proto, seconds=seconds, max_pairs=max_pairs))


# -- streamed downloads -------------------------------------------------------------


@dataclass
class Download:
    status: int
    first_byte_s: float
    total_s: float
    bytes: int
    chunked: bool
    content_length: int | None
    path: Path


def download(url: str, headers: dict[str, str], path: Path, *, timeout: float = 1800) -> Download:
    """GET ``url`` into ``path``: time to the first body byte, time to the end, and how it was framed."""
    import httpx

    start = time.perf_counter()
    first = None
    size = 0
    with httpx.stream("GET", url, headers=headers, timeout=timeout) as r, path.open("wb") as fh:
        for chunk in r.iter_raw():  # as received (a chunk size would buffer up to it: not the first byte)
            if first is None and chunk:
                first = time.perf_counter() - start
            size += len(chunk)
            fh.write(chunk)
        status = r.status_code
        chunked = r.headers.get("transfer-encoding", "").lower() == "chunked"
        length = r.headers.get("content-length")
    total = time.perf_counter() - start
    return Download(
        status, first if first is not None else total, total, size, chunked, int(length) if length else None, path
    )
