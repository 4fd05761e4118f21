"""Key services for the client-held key tests, all on 127.0.0.1.

* ``FakeVault`` and ``FakeCloudKms``: small HTTP servers speaking the part of Vault
  Transit's and Cloud KMS's REST APIs the providers use (request shapes as the
  public API references give them), with real AES-GCM behind them, and switches to
  answer as the real services do when a token is revoked, a key disabled or
  destroyed. They record every request, so a test can check what was sent.
* ``SoftHsm``: a SoftHSM2 configuration and token directory of the test session's
  own, with two tokens (the operator's and the client's). SoftHSM reads its tokens
  when the PKCS#11 module is first loaded in a process, so there is one per session.
  Outside CI the tests needing it skip when softhsm2 or python-pkcs11 is missing;
  under CI=true they fail.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from environment import IN_CI


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: dict


class _FakeServer:
    """A threaded HTTP server on 127.0.0.1 answering POSTs with ``self.answer(path, headers, body)``."""

    def __init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_unparsed": raw.decode("latin-1")}
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.seen.append(Seen("POST", self.path, headers, body))
                status, answer = fake.answer(self.path, headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.seen: list[Seen] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, path: str, headers: dict[str, str], body: dict) -> tuple[int, dict]:
        raise NotImplementedError


class FakeVault(_FakeServer):
    """Vault Transit: ``POST /v1/<mount>/encrypt/<key>`` and ``/decrypt/<key>``, ``X-Vault-Token``."""

    def __init__(self, token: str, mount: str = "transit") -> None:
        self.token = token
        self.mount = mount
        self.keys: dict[str, AESGCM] = {}
        self.sealed = False
        super().__init__()

    def create_key(self, name: str) -> None:
        self.keys[name] = AESGCM(AESGCM.generate_key(256))

    def answer(self, path: str, headers: dict[str, str], body: dict) -> tuple[int, dict]:
        if self.sealed:
            return 503, {"errors": ["Vault is sealed"]}
        if headers.get("x-vault-token") != self.token:
            return 403, {"errors": ["1 error occurred:\n\t* permission denied\n\n"]}
        prefix = f"/v1/{self.mount}/"
        if not path.startswith(prefix):
            return 404, {"errors": [f"no handler for route {path!r}"]}
        operation, _, name = path[len(prefix) :].partition("/")
        if operation == "encrypt":
            if name not in self.keys:  # Transit makes the key on first encrypt (upsert)
                self.create_key(name)
            nonce = os.urandom(12)
            sealed = self.keys[name].encrypt(nonce, base64.b64decode(body["plaintext"]), None)
            return 200, {"data": {"ciphertext": "vault:v1:" + base64.b64encode(nonce + sealed).decode()}}
        if operation == "decrypt":
            if name not in self.keys:
                return 400, {"errors": ["encryption key not found"]}
            blob = base64.b64decode(body["ciphertext"].removeprefix("vault:v1:"))
            try:
                plain = self.keys[name].decrypt(blob[:12], blob[12:], None)
            except InvalidTag:
                return 400, {"errors": ["cipher: message authentication failed"]}
            return 200, {"data": {"plaintext": base64.b64encode(plain).decode()}}
        return 405, {"errors": ["unsupported operation"]}


KEY_NAME = "projects/client/locations/europe-west3/keyRings/bastion/cryptoKeys/{name}"


class FakeCloudKms(_FakeServer):
    """Cloud KMS: ``POST /v1/{name}:encrypt`` and ``:decrypt``, base64 fields, ``Authorization: Bearer``."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.keys: dict[str, AESGCM] = {}
        self.state: dict[str, str] = {}
        super().__init__()

    def create_key(self, name: str) -> str:
        full = KEY_NAME.format(name=name)
        self.keys[full] = AESGCM(AESGCM.generate_key(256))
        self.state[full] = "ENABLED"
        return full

    @staticmethod
    def _error(code: int, status: str, message: str) -> tuple[int, dict]:
        return code, {"error": {"code": code, "message": message, "status": status}}

    def answer(self, path: str, headers: dict[str, str], body: dict) -> tuple[int, dict]:
        if headers.get("authorization") != f"Bearer {self.token}":
            return self._error(403, "PERMISSION_DENIED", "Permission 'cloudkms.cryptoKeyVersions.useToDecrypt' denied")
        name, _, operation = path.removeprefix("/v1/").rpartition(":")
        if name not in self.keys:
            return self._error(404, "NOT_FOUND", f"{name} not found.")
        if self.state[name] != "ENABLED":
            return self._error(
                400,
                "FAILED_PRECONDITION",
                f"{name}/cryptoKeyVersions/1 is not enabled, current state is: {self.state[name]}.",
            )
        aad = base64.b64decode(body.get("additionalAuthenticatedData", ""))
        if operation == "encrypt":
            nonce = os.urandom(12)
            sealed = self.keys[name].encrypt(nonce, base64.b64decode(body["plaintext"]), aad)
            return 200, {"name": f"{name}/cryptoKeyVersions/1", "ciphertext": base64.b64encode(nonce + sealed).decode()}
        if operation == "decrypt":
            blob = base64.b64decode(body["ciphertext"])
            try:
                plain = self.keys[name].decrypt(blob[:12], blob[12:], aad)
            except InvalidTag:
                return self._error(400, "INVALID_ARGUMENT", "Decryption failed: the ciphertext is invalid.")
            return 200, {"plaintext": base64.b64encode(plain).decode()}
        return self._error(404, "NOT_FOUND", f"unknown method {operation}")


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (connection refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# -- SoftHSM2 ---------------------------------------------------------------------------------------

MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
OPERATOR_PIN, CLIENT_PIN, SO_PIN = "operator-1234", "client-5678", "so-0000"


@dataclass
class SoftHsm:
    module: str
    conf: Path
    labels: list[str] = field(default_factory=list)

    def _token(self, label: str):
        import pkcs11

        return pkcs11.lib(self.module).get_token(token_label=label)

    def make_key(self, token: str, pin: str, label: str) -> None:
        """A fresh AES-256 key on the token, not extractable (as a client's HSM would hold it)."""
        import pkcs11
        from pkcs11 import Attribute

        with self._token(token).open(user_pin=pin, rw=True) as session:
            session.generate_key(
                pkcs11.KeyType.AES,
                256,
                label=label,
                store=True,
                template={Attribute.EXTRACTABLE: False, Attribute.SENSITIVE: True},
            )

    def destroy_key(self, token: str, pin: str, label: str) -> None:
        """The client deletes its key object from the token (crypto-shredding, without the operator)."""
        import pkcs11

        with self._token(token).open(user_pin=pin, rw=True) as session:
            session.get_key(label=label, key_type=pkcs11.KeyType.AES).destroy()


def softhsm_problem() -> str | None:
    if shutil.which("softhsm2-util") is None:
        return "softhsm2 is not installed (apt-get install softhsm2)"
    if not any(Path(p).is_file() for p in MODULE_CANDIDATES):
        return "the SoftHSM2 PKCS#11 module (libsofthsm2.so) is not found"
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        return "python-pkcs11 is not installed (pip install '.[test]')"
    return None


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory) -> SoftHsm:
    problem = softhsm_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"CI must run the SoftHSM2 tests: {problem}")
        pytest.skip(problem)
    module = next(p for p in MODULE_CANDIDATES if Path(p).is_file())
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)  # read by the module when it first loads in this process
    for label, pin in (("operator", OPERATOR_PIN), ("client", CLIENT_PIN)):
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", SO_PIN],
            check=True,
            capture_output=True,
            env={**os.environ, "SOFTHSM2_CONF": str(conf)},
        )
    return SoftHsm(module=module, conf=conf)
