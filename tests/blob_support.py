"""An S3-compatible server for the tests, on 127.0.0.1 only, that a test can take down and bring back.

moto's server mode (``ThreadedMotoServer``) speaks the S3 API over HTTP from a
thread of the test process. In front of it sits ``Relay``, a TCP relay on
another loopback port: the blob store is pointed at the relay, so ``down()``
makes the server unreachable to Bastion (listener closed, open connections
cut) while the test still reads the bucket directly, and ``up()`` brings it
back on the same port.

boto3 and moto come with the test extra (``pip install '.[test]'``). Without
them the S3 tests skip with the reason — except under ``CI=true``, where they
fail. ``loopback_only`` records every socket connection the test makes and
fails it if one went anywhere but the loopback address.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import uuid

import pytest

from environment import IN_CI

ACCESS = {
    "s3_access_key_id": "testing",
    "s3_secret_access_key": "testing",
    "s3_region": "us-east-1",
    "s3_path_style": True,
}


def require_moto() -> None:
    try:
        import boto3  # noqa: F401
        from moto.server import ThreadedMotoServer  # noqa: F401
    except ImportError as exc:
        if IN_CI:
            pytest.fail(f"CI must run the S3 blob store tests: {exc} (pip install '.[test]')")
        pytest.skip(f"the S3 blob store tests need boto3 and moto[server] ({exc}): pip install '.[test]'")


class Relay:
    """Relays TCP connections from 127.0.0.1:<port> to ``target``, until ``down()``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._start(self._accept, listener)

    def down(self) -> None:
        """Refuse new connections and cut the open ones, as a server that went away."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            listener.close()
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            _close(sock)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = [t for t in self._threads if t.is_alive()]

    def _start(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # went down meanwhile
                    _close(client)
                    _close(upstream)
                    return
                self._open.update((client, upstream))
            self._start(self._pump, client, upstream)
            self._start(self._pump, upstream, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._open.discard(source)
            self._open.discard(sink)
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class S3:
    """The test's bucket, reached directly (``client``) and through the relay (``settings``)."""

    def __init__(self, client, relay: Relay, bucket: str) -> None:
        self.client = client
        self.relay = relay
        self.bucket = bucket

    def settings(self, **extra) -> dict:
        return {"blob_store": "s3", "s3_bucket": self.bucket, "s3_endpoint_url": self.relay.url, **ACCESS, **extra}

    def objects(self) -> dict[str, bytes]:
        """Every object in the bucket, by key."""
        listed = self.client.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return {
            item["Key"]: self.client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read() for item in listed
        }

    def unfinished_uploads(self) -> list[str]:
        return [u["Key"] for u in self.client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])]


@pytest.fixture(scope="session")
def s3_server():
    require_moto()
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request in a failing test's output
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield server.get_host_and_port()
    server.stop()
    server._server.server_close()  # stop() leaves the listening socket open


@pytest.fixture
def s3(s3_server, monkeypatch, loopback_only):
    """A fresh bucket on the test server, and a relay to it that is up."""
    import boto3

    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask a metadata address for credentials
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # a server that is down fails fast
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    host, port = s3_server
    client = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("s3", endpoint_url=f"http://{host}:{port}")
    bucket = f"bastion-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    relay = Relay((host, port))
    relay.up()
    yield S3(client, relay, bucket)
    relay.down()
    client.close()


_CONNECTS: list[list[object]] = []


def _audit(event: str, args: tuple) -> None:
    if event == "socket.connect" and _CONNECTS:
        _CONNECTS[-1].append(args[1])


sys.addaudithook(_audit)  # records only while a test holds ``loopback_only``


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        return str(address[0]) in ("127.0.0.1", "::1", "localhost") or str(address[0]).startswith("127.")
    return isinstance(address, (str, bytes))  # a Unix socket: this machine


@pytest.fixture
def loopback_only():
    _CONNECTS.append([])
    try:
        yield
    finally:
        seen = _CONNECTS.pop()
    assert [a for a in seen if not _is_loopback(a)] == [], "a connection left the loopback address"
