"""Client-held keys: key-encryption keys that live in a client's own key service.

A workspace bound to a client key (``Keyring.bind``) has its data keys wrapped by
that key instead of the deployment's. Each provider here has the interface of
``keyproviders.KeyProvider`` (``name``, ``kek_id``, ``wrap(key, context)``,
``unwrap(wrapped, context)``) and is built from a *non-secret* JSON config;
secrets (a PIN, a token) are never part of it — the config names an environment
variable or a file to read them from, at each use.

How the context (the data key's id) is bound to each wrap:

* ``pkcs11`` — AES-GCM on the token (``CKM_AES_GCM``): the context is the
  associated data; a random 96-bit IV is stored beside the ciphertext.
* ``aws-kms`` — Encrypt/Decrypt with an ``EncryptionContext``.
* ``gcp-kms`` — ``additionalAuthenticatedData`` of Cloud KMS encrypt/decrypt.
* ``vault-transit`` — the context is wrapped with the key (``len‖context‖key``)
  and compared on unwrap: Transit's ``context`` needs derived keys, and its
  ``associated_data`` depends on the Vault version and key type (an older server
  ignores it), so the binding does not rely on either.

Every failure is a ``KeyUnavailable`` (HTTP 503) with a ``reason``:
``unreachable`` (the service did not answer: transient), ``refused`` (it
answered no: revoked access, a disabled key, a wrong PIN) or ``destroyed`` (the
key is gone or scheduled for deletion: the workspace is unreadable for good).

The trap: a provider must never fall back to anything. A key service that does
not answer means the workspace cannot be read or written — that is the point.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from .keyproviders import KeyProvider
from ..domain.errors import InvalidConfig, Unavailable

WRAP_VERSION = b"\x01"
TIMEOUT_SECONDS = 5.0
REASONS = ("unreachable", "refused", "destroyed")


class KeyUnavailable(Unavailable):
    """The client's key service did not unwrap (or wrap) a data key."""

    code = "key_unavailable"

    def __init__(self, provider: str, reason: str, detail: str) -> None:
        assert reason in REASONS
        if reason == "unreachable":
            message = (
                f"the client's key service ({provider}) is unreachable: {detail}. This workspace's data cannot "
                "be read or written until it answers again; nothing was written. Try again later."
            )
        elif reason == "refused":
            message = (
                f"the client's key service ({provider}) refused the key: {detail}. The client has revoked or "
                "disabled it: this workspace's data cannot be read or written until the client restores "
                "access; nothing was written."
            )
        else:
            message = (
                f"the client's key ({provider}) has been destroyed: {detail}. This workspace's data is "
                "unreadable for good (crypto-shredded); nothing was written."
            )
        super().__init__(message, details={"provider": provider, "reason": reason})
        self.provider = provider
        self.reason = reason


# -- config ------------------------------------------------------------------

_SECRET_WORDS = ("pin", "token", "secret", "password", "passphrase", "credential", "access_key")


class _Config:
    """Reads one provider's config, naming the field in every error."""

    def __init__(self, provider: str, config: Any, fields: dict[str, bool]) -> None:
        self.provider = provider
        if not isinstance(config, dict):
            raise InvalidConfig(f"config: the {provider} key provider's config must be a JSON object")
        for name, value in config.items():
            if name not in fields:
                if any(word in name.lower() for word in _SECRET_WORDS) and not name.endswith(("_env", "_file")):
                    raise InvalidConfig(
                        f"config.{name}: secrets are never stored; name an environment variable "
                        f"({name}_env) or a file ({name}_file) to read it from"
                    )
                known = ", ".join(sorted(fields))
                raise InvalidConfig(f"config.{name}: unknown field for the {provider} key provider (known: {known})")
            if not isinstance(value, str) or not value.strip():
                raise InvalidConfig(f"config.{name}: must be a non-empty string")
        for name, required in fields.items():
            if required and name not in config:
                raise InvalidConfig(f"config.{name}: required by the {provider} key provider")
        self.values: dict[str, str] = {k: v.strip() for k, v in config.items()}

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, default)

    def req(self, name: str) -> str:
        return self.values[name]

    def secret_source(self, stem: str) -> tuple[str, str]:
        """Exactly one of ``<stem>_env`` / ``<stem>_file``: ("env", NAME) or ("file", PATH)."""
        env, file = self.values.get(f"{stem}_env"), self.values.get(f"{stem}_file")
        if (env is None) == (file is None):
            raise InvalidConfig(f"config.{stem}_env: give exactly one of {stem}_env or {stem}_file")
        return ("env", env) if env is not None else ("file", file)  # type: ignore[return-value]

    def kek_id(self) -> str:
        digest = hashlib.sha256(orjson.dumps(self.values, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
        return f"{self.provider}:{digest}"


def _read_secret(provider: str, source: tuple[str, str], what: str) -> str:
    kind, where = source
    if kind == "env":
        value = os.environ.get(where)
        if not value:
            raise KeyUnavailable(provider, "refused", f"the {what} environment variable {where} is not set")
        return value
    try:
        value = Path(where).read_text().strip()
    except OSError as exc:
        raise KeyUnavailable(provider, "refused", f"the {what} file {where} cannot be read ({exc.strerror})") from exc
    if not value:
        raise KeyUnavailable(provider, "refused", f"the {what} file {where} is empty")
    return value


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(provider: str, value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (TypeError, ValueError) as exc:
        raise KeyUnavailable(provider, "refused", f"the answer's {what} is not base64") from exc


def _aad(context: bytes) -> bytes:
    return b"bastion-dk\x00" + context


def _body(wrapped: bytes, provider: str) -> bytes:
    if wrapped[:1] != WRAP_VERSION:
        raise KeyUnavailable(provider, "refused", "the wrapped data key has an unknown format")
    return wrapped[1:]


# -- PKCS#11 ------------------------------------------------------------------

_LIBS: dict[str, Any] = {}
_LIBS_LOCK = threading.Lock()


class Pkcs11KeyProvider:
    """An AES key on a PKCS#11 token (an HSM, SoftHSM2): wraps with AES-GCM on the token."""

    name = "pkcs11"
    FIELDS = {"module": True, "token_label": True, "key_label": True, "pin_env": False, "pin_file": False}

    def __init__(self, config: Any) -> None:
        cfg = _Config(self.name, config, self.FIELDS)
        self.module = cfg.req("module")
        self.token_label = cfg.req("token_label")
        self.key_label = cfg.req("key_label")
        self._pin = cfg.secret_source("pin")
        self._kek_id = cfg.kek_id()
        try:
            import pkcs11  # noqa: F401
        except ImportError as exc:
            raise InvalidConfig(
                "provider: the pkcs11 key provider needs python-pkcs11 (pip install 'bastion[pkcs11]')"
            ) from exc

    @property
    def kek_id(self) -> str:
        return self._kek_id

    def _lib(self) -> Any:
        import pkcs11

        with _LIBS_LOCK:
            lib = _LIBS.get(self.module)
            if lib is None:
                if not Path(self.module).is_file():
                    raise KeyUnavailable(self.name, "unreachable", f"the PKCS#11 module {self.module} is missing")
                try:
                    lib = pkcs11.lib(self.module)
                except Exception as exc:  # the module failed to load or initialise
                    raise KeyUnavailable(
                        self.name, "unreachable", f"the PKCS#11 module {self.module} does not load ({exc})"
                    ) from exc
                _LIBS[self.module] = lib
            return lib

    def _run(self, operation: Callable[[Any], bytes]) -> bytes:
        import pkcs11
        from pkcs11 import exceptions as x

        pin = _read_secret(self.name, self._pin, "PIN")
        try:
            token = self._lib().get_token(token_label=self.token_label)
            with token.open(user_pin=pin) as session:
                key = session.get_key(
                    label=self.key_label, key_type=pkcs11.KeyType.AES, object_class=pkcs11.ObjectClass.SECRET_KEY
                )
                return operation(key)
        except x.NoSuchKey as exc:
            raise KeyUnavailable(
                self.name, "destroyed", f"no AES key labelled {self.key_label!r} on token {self.token_label!r}"
            ) from exc
        except (x.PinIncorrect, x.PinLocked, x.PinExpired, x.PinInvalid, x.PinLenRange, x.UserNotLoggedIn) as exc:
            raise KeyUnavailable(
                self.name, "refused", f"token {self.token_label!r} refused the PIN ({type(exc).__name__})"
            ) from exc
        except (x.NoSuchToken, x.TokenNotPresent, x.TokenNotRecognised, x.DeviceRemoved, x.DeviceError) as exc:
            raise KeyUnavailable(
                self.name, "unreachable", f"token {self.token_label!r} is not present ({type(exc).__name__})"
            ) from exc
        except x.PKCS11Error as exc:
            raise KeyUnavailable(
                self.name,
                "refused",
                f"the key {self.key_label!r} on token {self.token_label!r} did not unwrap this data key "
                f"({type(exc).__name__}: a different key under that label, or a tampered keyring)",
            ) from exc

    def wrap(self, key: bytes, context: bytes) -> bytes:
        from pkcs11 import Mechanism
        from pkcs11.mechanisms import GCMParams

        iv = os.urandom(12)
        sealed = self._run(
            lambda k: k.encrypt(key, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, _aad(context)))
        )
        return WRAP_VERSION + iv + sealed

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        from pkcs11 import Mechanism
        from pkcs11.mechanisms import GCMParams

        body = _body(wrapped, self.name)
        iv, sealed = body[:12], body[12:]
        return self._run(
            lambda k: k.decrypt(sealed, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, _aad(context)))
        )


# -- AWS KMS ------------------------------------------------------------------


class AwsKmsKeyProvider:
    """A symmetric AWS KMS key: Encrypt/Decrypt with the context as EncryptionContext.

    Credentials come from the standard AWS chain of the server (environment, profile,
    instance role); ``profile`` may name one. Before decrypting, the key's state is
    read (DescribeKey): a disabled key is refused, one pending deletion is destroyed,
    whatever the Decrypt answer would have said about it.
    """

    name = "aws-kms"
    FIELDS = {"key_id": True, "region": False, "endpoint_url": False, "profile": False}

    def __init__(self, config: Any) -> None:
        cfg = _Config(self.name, config, self.FIELDS)
        self.key_id = cfg.req("key_id")
        self.region = cfg.get("region")
        self.endpoint_url = cfg.get("endpoint_url")
        self.profile = cfg.get("profile")
        if self.endpoint_url is not None and not self.endpoint_url.startswith(("https://", "http://")):
            raise InvalidConfig("config.endpoint_url: must be an http(s) URL")
        self._kek_id = cfg.kek_id()
        self._client: Any = None
        try:
            import boto3  # noqa: F401
        except ImportError as exc:
            raise InvalidConfig("provider: the aws-kms key provider needs boto3 (pip install 'bastion[aws]')") from exc

    @property
    def kek_id(self) -> str:
        return self._kek_id

    def _kms(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session(profile_name=self.profile) if self.profile else boto3.session.Session()
            self._client = session.client(
                "kms",
                region_name=self.region,
                endpoint_url=self.endpoint_url,
                config=Config(
                    connect_timeout=TIMEOUT_SECONDS, read_timeout=TIMEOUT_SECONDS, retries={"max_attempts": 2}
                ),
            )
        return self._client

    def _context(self, context: bytes) -> dict[str, str]:
        try:
            return {"bastion:data-key": context.decode("ascii")}
        except UnicodeDecodeError:
            return {"bastion:data-key-hex": context.hex()}

    def _call(self, operation: Callable[[Any], Any]) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return operation(self._kms())
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            text = exc.response.get("Error", {}).get("Message", "") or code
            if code == "NotFoundException":
                raise KeyUnavailable(self.name, "destroyed", f"key {self.key_id} does not exist ({text})") from exc
            if code == "KMSInvalidStateException" and "deletion" in text.lower():
                raise KeyUnavailable(self.name, "destroyed", f"key {self.key_id} is pending deletion") from exc
            if code in ("KMSInternalException", "DependencyTimeoutException", "ThrottlingException") or (
                exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
            ):
                raise KeyUnavailable(self.name, "unreachable", f"{code}: {text}") from exc
            raise KeyUnavailable(self.name, "refused", f"{code}: {text}") from exc
        except NoCredentialsError as exc:
            raise KeyUnavailable(self.name, "refused", "no AWS credentials on this server") from exc
        except BotoCoreError as exc:
            raise KeyUnavailable(self.name, "unreachable", f"{type(exc).__name__}: {exc}") from exc

    def wrap(self, key: bytes, context: bytes) -> bytes:
        answer = self._call(
            lambda kms: kms.encrypt(KeyId=self.key_id, Plaintext=key, EncryptionContext=self._context(context))
        )
        return WRAP_VERSION + bytes(answer["CiphertextBlob"])

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        body = _body(wrapped, self.name)
        state = self._call(lambda kms: kms.describe_key(KeyId=self.key_id))["KeyMetadata"].get("KeyState")
        if state in ("PendingDeletion", "PendingReplicaDeletion"):
            raise KeyUnavailable(self.name, "destroyed", f"key {self.key_id} is scheduled for deletion")
        if state != "Enabled":
            raise KeyUnavailable(self.name, "refused", f"key {self.key_id} is {state}")
        answer = self._call(
            lambda kms: kms.decrypt(KeyId=self.key_id, CiphertextBlob=body, EncryptionContext=self._context(context))
        )
        return bytes(answer["Plaintext"])


# -- HTTP key services (Cloud KMS, Vault Transit) ------------------------------


class _HttpKeyService:
    name = "http"

    def __init__(self) -> None:
        self._http: Any = None

    def _post(self, url: str, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        if self._http is None:
            self._http = httpx.Client(timeout=TIMEOUT_SECONDS, trust_env=False)
        try:
            response = self._http.post(url, headers=headers, content=orjson.dumps(body))
        except httpx.HTTPError as exc:
            raise KeyUnavailable(self.name, "unreachable", f"{type(exc).__name__}: {exc}") from exc
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if response.status_code >= 400:
            self._failed(response.status_code, answer)
        return answer

    def _failed(self, status: int, answer: dict[str, Any]) -> None:
        raise NotImplementedError


class GcpKmsKeyProvider(_HttpKeyService):
    """A Cloud KMS symmetric key, over its REST API (``…/cryptoKeys/K:encrypt`` and ``:decrypt``).

    The bearer token (an OAuth access token) is read at each call from ``token_env``
    or ``token_file`` — whatever refreshes it (a metadata-server sidecar, gcloud)
    keeps it current there.
    """

    name = "gcp-kms"
    FIELDS = {"key": True, "endpoint": False, "token_env": False, "token_file": False}

    def __init__(self, config: Any) -> None:
        super().__init__()
        cfg = _Config(self.name, config, self.FIELDS)
        self.key = cfg.req("key").strip("/")
        parts = self.key.split("/")
        if len(parts) != 8 or parts[0::2] != ["projects", "locations", "keyRings", "cryptoKeys"]:
            raise InvalidConfig("config.key: must be projects/P/locations/L/keyRings/R/cryptoKeys/K")
        self.endpoint = (cfg.get("endpoint") or "https://cloudkms.googleapis.com").rstrip("/")
        if not self.endpoint.startswith(("https://", "http://")):
            raise InvalidConfig("config.endpoint: must be an http(s) URL")
        self._token = cfg.secret_source("token")
        self._kek_id = cfg.kek_id()

    @property
    def kek_id(self) -> str:
        return self._kek_id

    def _headers(self) -> dict[str, str]:
        token = _read_secret(self.name, self._token, "access token")
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def _failed(self, status: int, answer: dict[str, Any]) -> None:
        found = answer.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        text = str(error.get("message") or f"HTTP {status}")
        kind = str(error.get("status") or "")
        if status in (401, 403):
            raise KeyUnavailable(self.name, "refused", f"HTTP {status} {kind}: {text}")
        if status == 404:
            raise KeyUnavailable(self.name, "destroyed", f"HTTP 404 {kind}: {text}")
        if status == 400 and kind == "FAILED_PRECONDITION":
            reason = "destroyed" if "DESTROY" in text.upper() else "refused"
            raise KeyUnavailable(self.name, reason, f"HTTP 400 {kind}: {text}")
        if status == 429 or status >= 500:
            raise KeyUnavailable(self.name, "unreachable", f"HTTP {status} {kind}: {text}")
        raise KeyUnavailable(self.name, "refused", f"HTTP {status} {kind}: {text}")

    def wrap(self, key: bytes, context: bytes) -> bytes:
        answer = self._post(
            f"{self.endpoint}/v1/{self.key}:encrypt",
            self._headers(),
            {"plaintext": _b64(key), "additionalAuthenticatedData": _b64(_aad(context))},
        )
        return WRAP_VERSION + _unb64(self.name, answer.get("ciphertext"), "ciphertext")

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        body = _body(wrapped, self.name)
        answer = self._post(
            f"{self.endpoint}/v1/{self.key}:decrypt",
            self._headers(),
            {"ciphertext": _b64(body), "additionalAuthenticatedData": _b64(_aad(context))},
        )
        return _unb64(self.name, answer.get("plaintext"), "plaintext")


class VaultTransitKeyProvider(_HttpKeyService):
    """A HashiCorp Vault (or OpenBao) Transit key: ``/v1/<mount>/encrypt/<key>`` and ``/decrypt/<key>``.

    The context is bound by wrapping ``len(context)‖context‖key`` and comparing it
    on unwrap (see the module docstring).
    """

    name = "vault-transit"
    FIELDS = {"address": True, "key": True, "mount": False, "namespace": False, "token_env": False, "token_file": False}

    def __init__(self, config: Any) -> None:
        super().__init__()
        cfg = _Config(self.name, config, self.FIELDS)
        self.address = cfg.req("address").rstrip("/")
        if not self.address.startswith(("https://", "http://")):
            raise InvalidConfig("config.address: must be an http(s) URL")
        self.key = cfg.req("key")
        self.mount = (cfg.get("mount") or "transit").strip("/")
        if "/" in self.key or not self.mount:
            raise InvalidConfig("config.key: a Transit key name, without '/'")
        self.namespace = cfg.get("namespace")
        self._token = cfg.secret_source("token")
        self._kek_id = cfg.kek_id()

    @property
    def kek_id(self) -> str:
        return self._kek_id

    def _headers(self) -> dict[str, str]:
        headers = {"X-Vault-Token": _read_secret(self.name, self._token, "Vault token")}
        if self.namespace:
            headers["X-Vault-Namespace"] = self.namespace
        return headers

    def _failed(self, status: int, answer: dict[str, Any]) -> None:
        errors = answer.get("errors")
        text = "; ".join(str(e) for e in errors) if isinstance(errors, list) and errors else f"HTTP {status}"
        if status in (401, 403):
            raise KeyUnavailable(self.name, "refused", f"HTTP {status}: {text}")
        if status == 404 or (status == 400 and "not found" in text.lower()):
            raise KeyUnavailable(self.name, "destroyed", f"HTTP {status}: {text}")
        if status == 429 or status >= 500:  # 503: sealed or standby
            raise KeyUnavailable(self.name, "unreachable", f"HTTP {status}: {text}")
        raise KeyUnavailable(self.name, "refused", f"HTTP {status}: {text}")

    def wrap(self, key: bytes, context: bytes) -> bytes:
        framed = len(context).to_bytes(2, "big") + context + key
        answer = self._post(
            f"{self.address}/v1/{self.mount}/encrypt/{self.key}", self._headers(), {"plaintext": _b64(framed)}
        )
        ciphertext = (answer.get("data") or {}).get("ciphertext")
        if not isinstance(ciphertext, str) or not ciphertext.startswith("vault:"):
            raise KeyUnavailable(self.name, "refused", "the answer holds no Transit ciphertext")
        return WRAP_VERSION + ciphertext.encode()

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        body = _body(wrapped, self.name)
        answer = self._post(
            f"{self.address}/v1/{self.mount}/decrypt/{self.key}", self._headers(), {"ciphertext": body.decode()}
        )
        framed = _unb64(self.name, (answer.get("data") or {}).get("plaintext"), "plaintext")
        size = int.from_bytes(framed[:2], "big")
        if not hmac.compare_digest(framed[2 : 2 + size], context) or len(framed) != 2 + size + 32:
            raise KeyUnavailable(
                self.name, "refused", "the unwrapped key belongs to another data key (tampered keyring)"
            )
        return framed[2 + size :]


CLIENT_KEY_PROVIDERS: dict[str, Callable[[Any], KeyProvider]] = {
    "pkcs11": Pkcs11KeyProvider,
    "aws-kms": AwsKmsKeyProvider,
    "gcp-kms": GcpKmsKeyProvider,
    "vault-transit": VaultTransitKeyProvider,
}


def make_client_provider(name: str, config: Any) -> KeyProvider:
    """A client key provider from its name and non-secret config (``InvalidConfig`` names the bad field)."""
    factory = CLIENT_KEY_PROVIDERS.get(name)
    if factory is None:
        raise InvalidConfig(
            f"provider: no client key provider named {name!r} (known: {', '.join(CLIENT_KEY_PROVIDERS)})"
        )
    return factory(config)


def parse_config(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidConfig(f"config: not valid JSON ({exc})") from exc
