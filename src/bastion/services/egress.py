"""The egress guard: the one way Bastion sends a request out of its machine.

Concept. ``open_request`` (a streamed answer) and ``send`` (a whole answer) take a URL and
the allow-list of the workspace's endpoint and perform exactly one HTTP request:

* the policy of ``domain/egress.py`` decides the URL and the host (deny by default);
* the host name is resolved **once** (``resolve_host``); every address it resolves to is
  checked, and the connection goes to the checked addresses in order (the next only when no
  connection could be made) — the URL handed to httpx names the checked IP address, so nothing resolves the name again (DNS rebinding: a second answer
  pointing elsewhere is never asked for). TLS still checks the certificate against the
  name (the ``sni_hostname`` request extension: httpcore sends it as SNI and verifies the
  certificate for it) and the ``Host`` header carries the name;
* redirects are never followed (a 3xx is ``EgressRefused`` naming the Location's host);
* no proxy from the environment is used (``trust_env=False``: an ``HTTPS_PROXY`` would
  make the proxy, not the checked address, the one that connects);
* connect, read and total timeouts (``Limits``), and a cap on the answer's size.

Failures become domain errors: ``EgressRefused`` (403), ``RemoteTimeout`` (504) and
``RemoteError`` (502) for a connection that failed or an answer over the cap. The caller
(model endpoints today, webhooks later) judges the status and the body.

The trap: never pass the caller's URL to httpx, and never build a client that pools
connections across calls: a pooled connection was checked for another request.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from ..domain.egress import (
    AllowEntry,
    EgressRefused,
    IPAddress,
    Target,
    parse_allow_list,
    parse_target,
    refuse_redirect,
    require_allowed_host,
    require_public_address,
)
from ..domain.errors import RemoteError, RemoteTimeout


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The addresses the operating system's resolver gives for ``host`` (TCP), in its order, once each."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise EgressRefused("no_address", f"{host} does not resolve ({exc})", host=host) from exc
    found: list[IPAddress] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
            if address not in found:
                found.append(address)
    return found


# The resolver the guard asks (tests replace it); called once per request, with the name only.
resolve_host: Callable[[str, int], list[IPAddress]] = system_resolver
# How https answers are verified: the system's trusted certificates (tests trust their own CA).
tls_verify: ssl.SSLContext | bool = True


@dataclass(frozen=True, slots=True)
class Limits:
    """How long and how much: seconds to connect, between bytes, for the whole exchange; the answer's size."""

    connect_seconds: float = 10.0
    read_seconds: float = 60.0
    total_seconds: float = 300.0
    max_bytes: int = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Pinned:
    """A decided request: the target, and the checked addresses with the URL httpx is given for each."""

    target: Target
    addresses: tuple[IPAddress, ...]
    urls: tuple[httpx.URL, ...]

    @property
    def address(self) -> IPAddress:
        return self.addresses[0]

    @property
    def url(self) -> httpx.URL:
        return self.urls[0]


def pin(url: str, allowed: list[str] | list[AllowEntry]) -> Pinned:
    """Decide ``url`` against the allow-list and pin it to the checked addresses (resolving the name once)."""
    parsed = [e if isinstance(e, AllowEntry) else parse_allow_list([e])[0] for e in allowed]
    target = parse_target(url)
    require_allowed_host(target, parsed)
    if target.address is not None:
        addresses: list[IPAddress] = [target.address]
    else:
        addresses = list(resolve_host(target.host, target.port))
        if not addresses:
            raise EgressRefused("no_address", f"{target.host} resolves to no address", host=target.host)
    for address in addresses:  # every one: a refused address among them refuses the host
        require_public_address(address, parsed, host=target.host)
    try:
        base = httpx.URL(url)
        urls = tuple(base.copy_with(host=str(a), port=target.port) for a in addresses)
    except (httpx.InvalidURL, ValueError) as exc:
        raise EgressRefused("malformed", f"{url!r} cannot be read: {exc}") from exc
    return Pinned(target, tuple(addresses), urls)


class Answer:
    """An answer being read: status, headers, and the body in chunks, capped in size and time."""

    def __init__(self, response: httpx.Response, limits: Limits, deadline: float, where: str) -> None:
        self._response = response
        self._limits = limits
        self._deadline = deadline
        self.where = where
        self.status = response.status_code
        self.headers = response.headers
        self.received = 0

    def iter_bytes(self) -> Iterator[bytes]:
        try:
            for chunk in self._response.iter_bytes():
                self.received += len(chunk)
                if self.received > self._limits.max_bytes:
                    raise RemoteError(
                        f"{self.where} answered more than {self._limits.max_bytes} bytes; the answer was cut off",
                        details={"max_bytes": self._limits.max_bytes},
                    )
                if time.monotonic() > self._deadline:
                    raise _total_timeout(self.where, self._limits)
                yield chunk
        except httpx.TimeoutException as exc:
            raise RemoteTimeout(
                f"{self.where} stopped answering for {self._limits.read_seconds:g} s", details={"phase": "read"}
            ) from exc
        except httpx.HTTPError as exc:
            raise RemoteError(f"{self.where}: the answer broke off ({type(exc).__name__})") from exc

    def iter_lines(self) -> Iterator[str]:
        """The body's lines (``\\n`` or ``\\r\\n``), decoded as UTF-8 (bad bytes replaced)."""
        pending = b""
        for chunk in self.iter_bytes():
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.rstrip(b"\r").decode("utf-8", "replace")
        if pending:
            yield pending.rstrip(b"\r").decode("utf-8", "replace")

    def read(self) -> bytes:
        return b"".join(self.iter_bytes())


def _total_timeout(where: str, limits: Limits) -> RemoteTimeout:
    return RemoteTimeout(f"{where} took longer than {limits.total_seconds:g} s in all", details={"phase": "total"})


@contextmanager
def open_request(
    method: str,
    url: str,
    allowed: list[str] | list[AllowEntry],
    *,
    headers: dict[str, str] | None = None,
    json: Any = None,
    content: bytes | None = None,
    limits: Limits = Limits(),
) -> Iterator[Answer]:
    """Perform one request through the guard; the answer is read inside the block (``Answer``)."""
    pinned = pin(url, allowed)
    target = pinned.target
    where = target.authority
    sent_headers = {**(headers or {}), "Host": target.authority}
    extensions: dict[str, Any] = {}
    if target.scheme == "https" and target.address is None:
        extensions["sni_hostname"] = target.host  # TLS checks the certificate against the name
    timeout = httpx.Timeout(
        connect=limits.connect_seconds, read=limits.read_seconds, write=limits.read_seconds, pool=1.0
    )
    deadline = time.monotonic() + limits.total_seconds
    client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False, verify=tls_verify)
    try:
        response = _connect(client, pinned, method, sent_headers, json, content, extensions, limits, deadline)
        try:
            if 300 <= response.status_code < 400:
                raise refuse_redirect(response.status_code, response.headers.get("location"), url)
            yield Answer(response, limits, deadline, where)
        finally:
            response.close()
    finally:
        client.close()


def _connect(
    client: httpx.Client,
    pinned: Pinned,
    method: str,
    headers: dict[str, str],
    json: Any,
    content: bytes | None,
    extensions: dict[str, Any],
    limits: Limits,
    deadline: float,
) -> httpx.Response:
    """Send to the checked addresses in the resolver's order: the next one only when a connection could
    not be made (nothing was sent), as long as time is left."""
    where = pinned.target.authority
    failures: list[str] = []
    for address, url in zip(pinned.addresses, pinned.urls):
        request = client.build_request(method, url, headers=headers, json=json, content=content, extensions=extensions)
        try:
            return client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            failures.append(f"{address}: {exc or type(exc).__name__}")
            if time.monotonic() < deadline and address != pinned.addresses[-1]:
                continue
            if isinstance(exc, httpx.ConnectTimeout) and len(failures) == 1:
                raise RemoteTimeout(
                    f"{where} did not accept a connection in {limits.connect_seconds:g} s",
                    details={"phase": "connect"},
                ) from exc
            raise RemoteError(f"could not reach {where} at {'; '.join(failures)}") from exc
        except httpx.TimeoutException as exc:
            raise RemoteTimeout(
                f"{where} did not answer in {limits.read_seconds:g} s", details={"phase": "read"}
            ) from exc
        except httpx.HTTPError as exc:
            raise RemoteError(f"{where} at {address}: {exc or type(exc).__name__}") from exc
    raise RemoteError(f"could not reach {where}")  # no address: pin() refuses that first


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes


def send(
    method: str,
    url: str,
    allowed: list[str] | list[AllowEntry],
    *,
    headers: dict[str, str] | None = None,
    json: Any = None,
    content: bytes | None = None,
    limits: Limits = Limits(),
) -> Reply:
    """One request through the guard, its whole answer read (within ``limits``)."""
    with open_request(method, url, allowed, headers=headers, json=json, content=content, limits=limits) as answer:
        return Reply(answer.status, answer.headers, answer.read())
