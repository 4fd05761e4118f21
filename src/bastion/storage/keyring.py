"""The keyring: wrapped data keys, kept apart from the data.

Each workspace has data keys (one per project, plus one for workspace-level
records); each is 256 random bits, stored only wrapped by the key provider's
key-encryption key, in a database of its own (by default ``keyring.db`` in the
data directory; ``BASTION_KEYRING_URL`` elsewhere). A backup or dump of the data
database therefore holds no usable key, and destroying a key row is
crypto-shredding: every ciphertext made with it becomes noise, including copies
in backups, free pages and WAL files of the data database.

The keyring also keeps the deployment's own secrets, wrapped the same way: the
key that signs audit checkpoints, and keys for keyed hashes (the sign-in limits
store only a keyed hash of what was typed into the e-mail field). In the clear it
keeps the deployment's id and, for each destroyed data key, its id and when it was
destroyed (never the key): a restore check (``services/restore_checks.py``) tells
data crypto-shredded on purpose from data whose key is missing.

``bastion keys backup`` (``services/keyring_backups.py``) copies the keyring online
and seals the copy; the master key is never in it.

A workspace may be bound to a key in its client's own key service
(``workspace_keks``; ``bind``/``unbind``): its data keys are then wrapped by that
key (``data_keys.provider`` is ``client:<provider>``) and the deployment's key
never sees them. The bindings are few: all are cached in the process and reloaded
when a key names a binding the cache lacks.

Unwrapped keys are cached per process (unwrapping on every request would cost a
keyring query). A cached key is re-checked: against the keyring every
``RECHECK_SECONDS`` (destroyed by another process?), and for a client-bound
workspace with the client's key service every ``client_check_seconds`` (one
unwrap: revoked, disabled or destroyed by the client?) — a key that fails is
dropped from the cache, so nothing of that workspace reads or writes until it
answers again. A deployment-key workspace pays one attribute test for this. The
keyring SQLite file runs with ``secure_delete`` so that a destroyed key is
overwritten, and its WAL is truncated after every destruction.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    BigInteger,
    Column,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import IntegrityError

from .clientkeys import CLIENT_KEY_PROVIDERS, KeyUnavailable, make_client_provider, parse_config
from .database import now_ms
from .datadir import private_sqlite_files
from .keyproviders import (
    FileKeyProvider,
    KeyProvider,
    KeyProviderError,
    PassphraseKeyProvider,
    create_master_key_file,
)
from .. import ids
from ..domain.errors import BastionError, InvalidConfig, InvalidInput, NotFound
from ..settings import Settings

keyring_metadata = MetaData()

data_keys = Table(
    "data_keys",
    keyring_metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), nullable=False, index=True),
    Column("project_id", String(40), nullable=True, index=True),
    Column("wrapped", LargeBinary, nullable=False),
    Column("kek_id", String(64), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

keyring_meta = Table(
    "keyring_meta",
    keyring_metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)


# A workspace whose data keys are wrapped by a key in the client's own key service
# (storage/clientkeys.py). The config is non-secret (it names where secrets are read from).
workspace_keks = Table(
    "workspace_keks",
    keyring_metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("provider", String(64), nullable=False),
    Column("config", Text, nullable=False),
    Column("kek_id", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# data_keys.provider of a key wrapped by a workspace's client key: "client:<provider name>".
CLIENT_PREFIX = "client:"

# keyring_meta rows holding deployment secrets (wrapped): "secret:<purpose>".
SECRET_PREFIX = "secret:"
# keyring_meta rows recording a destroyed data key: "destroyed:<key id>" -> when (epoch ms, ASCII).
# Only the id and the time stay: what lets a restore check tell a crypto-shredded key from a lost one.
DESTROYED_PREFIX = "destroyed:"
# The deployment's id (plain ASCII), made on first use: data and keyring backups both carry it.
DEPLOYMENT_ID = "deployment_id"


class KeyDestroyed(BastionError):
    code = "key_destroyed"


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    key_id: str
    workspace_id: str
    aead: AESGCM
    index_key: bytes
    client: str | None = None  # the client key provider's name when the workspace holds its own key


@dataclass(frozen=True, slots=True)
class ClientBinding:
    workspace_id: str
    provider_name: str
    config: dict[str, Any]
    kek_id: str
    created_at: int
    provider: KeyProvider


class Keyring:
    def __init__(self, url: str, provider: KeyProvider, *, client_check_seconds: float = 5.0) -> None:
        self.url = url
        self.provider = provider
        self.engine = _make_engine(url)
        keyring_metadata.create_all(self.engine)
        self._cache: dict[str, KeyMaterial] = {}
        self._checked: dict[str, float] = {}
        self._secrets: dict[str, bytes] = {}
        self._lock = threading.Lock()
        # Keys of workspaces bound to a client key are re-checked with the client's key service this often.
        self.client_check_seconds = client_check_seconds
        self._bindings: dict[str, ClientBinding] = {}
        self._load_bindings()

    # -- construction ---------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings, *, create: bool = False) -> Keyring:
        """Open the keyring the settings describe; ``create`` makes a master key file."""
        url = settings.resolved_keyring_url
        check = settings.client_key_check_seconds
        if settings.key_provider == "passphrase":
            engine = _make_engine(url)
            keyring_metadata.create_all(engine)
            salt = _meta_value(engine, "scrypt_salt", create=lambda: os.urandom(16))
            engine.dispose()
            return cls(url, PassphraseKeyProvider(settings.passphrase or "", salt), client_check_seconds=check)
        if settings.key_provider == "file":
            if settings.master_key:
                return cls(url, FileKeyProvider.from_hex(settings.master_key), client_check_seconds=check)
            path = Path(settings.resolved_master_key_file)
            if create:
                create_master_key_file(path)
            keyring = cls(url, FileKeyProvider.from_file(path), client_check_seconds=check)
            keyring._finish_interrupted_rotation(path)
            return keyring
        if settings.key_provider in CLIENT_KEY_PROVIDERS:
            # The same providers hold the deployment's own key (an HSM, a KMS of the operator's).
            try:
                provider = make_client_provider(
                    settings.key_provider, parse_config(settings.key_provider_config or "{}")
                )
            except InvalidConfig as exc:
                raise InvalidConfig(f"BASTION_KEY_PROVIDER_CONFIG: {exc.message}") from exc
            return cls(url, provider, client_check_seconds=check)
        from ..plugins import key_provider_factory

        factory = key_provider_factory(settings.key_provider)
        return cls(url, factory(settings), client_check_seconds=check)

    # -- keys -----------------------------------------------------------------

    def create_key(self, workspace_id: str, project_id: str | None = None) -> str:
        key_id = ids.new_id("key")
        with self.engine.begin() as conn:
            conn.execute(insert(data_keys).values(self.new_key_row(workspace_id, project_id, key_id)))
        return key_id

    def new_key_row(self, workspace_id: str, project_id: str | None, key_id: str) -> dict[str, Any]:
        """A new random data key's ``data_keys`` row, wrapped by the workspace's key (its client's, if bound)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(workspace_keks).where(workspace_keks.c.workspace_id == workspace_id)).first()
        binding = self._binding_of(row) if row is not None else None
        provider = binding.provider if binding is not None else self.provider
        return {
            "id": key_id,
            "workspace_id": workspace_id,
            "project_id": project_id,
            "wrapped": provider.wrap(os.urandom(32), key_id.encode()),
            "kek_id": provider.kek_id,
            "provider": CLIENT_PREFIX + binding.provider_name if binding is not None else self.provider.name,
            "created_at": now_ms(),
        }

    # Unwrapped keys are re-checked against the keyring this often, so a key destroyed
    # by another server process stops working here within that time. Keys of a workspace
    # bound to a client key are re-checked with the client's key service every
    # ``client_check_seconds`` (BASTION_CLIENT_KEY_CHECK_SECONDS).
    RECHECK_SECONDS = 30.0

    def material(self, workspace_id: str, key_id: str) -> KeyMaterial:
        found = self._cache.get(key_id)
        if found is not None:
            if found.workspace_id != workspace_id:
                raise KeyDestroyed("ciphertext was sealed for another workspace")
            limit = self.RECHECK_SECONDS if found.client is None else self.client_check_seconds
            if time.monotonic() - self._checked.get(key_id, 0.0) < limit:
                return found
        return self._load(workspace_id, key_id, found)

    def _load(self, workspace_id: str, key_id: str, cached: KeyMaterial | None) -> KeyMaterial:
        """Read the key's row and unwrap it (a re-check of a cached key unwraps only when it must)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(data_keys.c.workspace_id, data_keys.c.wrapped, data_keys.c.provider, data_keys.c.kek_id).where(
                    data_keys.c.id == key_id
                )
            ).first()
        if row is None:
            self._drop(key_id)
            if cached is not None:
                raise KeyDestroyed(f"data key {key_id} has been destroyed")
            raise KeyDestroyed(f"data key {key_id} does not exist (destroyed or never made)")
        if row.workspace_id != workspace_id:
            raise KeyDestroyed("ciphertext was sealed for another workspace")
        client = row.provider[len(CLIENT_PREFIX) :] if row.provider.startswith(CLIENT_PREFIX) else None
        if cached is not None and client is None and cached.client is None:
            self._checked[key_id] = time.monotonic()  # still there, on the deployment's key: nothing to unwrap
            return cached
        try:
            key = self._unwrapper(workspace_id, client).unwrap(row.wrapped, key_id.encode())
        except KeyUnavailable:
            self._drop(key_id)  # fail closed: nothing of this workspace reads or writes until it answers
            raise
        material = KeyMaterial(
            key_id=key_id,
            workspace_id=workspace_id,
            aead=AESGCM(key),
            index_key=hmac.new(key, b"bastion-index-key", hashlib.sha256).digest(),
            client=client,
        )
        with self._lock:
            self._cache[key_id] = material
            self._checked[key_id] = time.monotonic()
        return material

    def _drop(self, key_id: str) -> None:
        with self._lock:
            self._cache.pop(key_id, None)
            self._checked.pop(key_id, None)

    # -- client-held keys ------------------------------------------------------

    def _unwrapper(self, workspace_id: str, client: str | None) -> KeyProvider:
        if client is None:
            return self.provider
        binding = self._bindings.get(workspace_id)
        if binding is None or binding.provider_name != client:
            self._load_bindings()  # bound by another process since
            binding = self._bindings.get(workspace_id)
        if binding is None or binding.provider_name != client:
            raise KeyProviderError(
                f"workspace {workspace_id}: its keys are wrapped by a {client} key it is not bound to"
            )
        return binding.provider

    def _binding_of(self, row: Any) -> ClientBinding:
        cached = self._bindings.get(row.workspace_id)
        if cached is not None and cached.kek_id == row.kek_id and cached.provider_name == row.provider:
            return cached
        config = orjson.loads(row.config)
        provider: KeyProvider
        try:
            provider = make_client_provider(row.provider, config)
        except InvalidConfig as exc:  # this server cannot use it: that workspace fails closed, the others run
            provider = _UnusableProvider(row.provider, row.kek_id, exc.message)
        return ClientBinding(
            workspace_id=row.workspace_id,
            provider_name=row.provider,
            config=config,
            kek_id=row.kek_id,
            created_at=row.created_at,
            provider=provider,
        )

    def _load_bindings(self) -> None:
        with self.engine.connect() as conn:
            rows = conn.execute(select(workspace_keks)).all()
        bindings = {row.workspace_id: self._binding_of(row) for row in rows}
        with self._lock:
            self._bindings = bindings

    def binding(self, workspace_id: str) -> ClientBinding | None:
        """The workspace's client key binding (None: the deployment's key)."""
        return self._bindings.get(workspace_id)

    def bindings(self) -> dict[str, ClientBinding]:
        self._load_bindings()
        return dict(self._bindings)

    def bind(self, workspace_id: str, provider_name: str, config: dict[str, Any]) -> int:
        """Wrap the workspace's data keys by the client's key instead; returns the keys re-wrapped.

        The config is checked and the client's key proven (a wrap and an unwrap) before
        anything is touched; then every key of the workspace is unwrapped with its current
        key and wrapped with the client's, and the binding recorded, in one transaction.
        """
        provider = make_client_provider(provider_name, config)
        probe, context = os.urandom(32), b"bastion-bind-probe|" + workspace_id.encode()
        if provider.unwrap(provider.wrap(probe, context), context) != probe:
            raise KeyProviderError(f"the {provider_name} key does not give back what it wrapped")
        binding = ClientBinding(workspace_id, provider_name, config, provider.kek_id, now_ms(), provider)
        return self._rewrap_workspace(workspace_id, binding)

    def unbind(self, workspace_id: str) -> int:
        """Wrap the workspace's data keys by the deployment's key again; returns the keys re-wrapped."""
        return self._rewrap_workspace(workspace_id, None)

    def _rewrap_workspace(self, workspace_id: str, binding: ClientBinding | None) -> int:
        new = binding.provider if binding is not None else self.provider
        label = CLIENT_PREFIX + binding.provider_name if binding is not None else self.provider.name
        count = 0
        with self.engine.begin() as conn:
            current = conn.execute(select(workspace_keks).where(workspace_keks.c.workspace_id == workspace_id)).first()
            old = self._binding_of(current).provider if current is not None else self.provider
            rows = conn.execute(
                select(data_keys.c.id, data_keys.c.wrapped, data_keys.c.provider).where(
                    data_keys.c.workspace_id == workspace_id
                )
            ).all()
            for row in rows:
                unwrapper = old if row.provider.startswith(CLIENT_PREFIX) else self.provider
                key = unwrapper.unwrap(row.wrapped, row.id.encode())
                conn.execute(
                    update(data_keys)
                    .where(data_keys.c.id == row.id)
                    .values(wrapped=new.wrap(key, row.id.encode()), kek_id=new.kek_id, provider=label)
                )
                count += 1
            conn.execute(delete(workspace_keks).where(workspace_keks.c.workspace_id == workspace_id))
            if binding is not None:
                conn.execute(
                    insert(workspace_keks).values(
                        workspace_id=workspace_id,
                        provider=binding.provider_name,
                        config=orjson.dumps(binding.config, option=orjson.OPT_SORT_KEYS).decode(),
                        kek_id=binding.kek_id,
                        created_at=binding.created_at,
                    )
                )
        with self._lock:
            if binding is not None:
                self._bindings[workspace_id] = binding
            else:
                self._bindings.pop(workspace_id, None)
            for row in rows:
                self._cache.pop(row.id, None)
                self._checked.pop(row.id, None)
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return count

    def audit_signer(self, default_name: str) -> tuple[str, Ed25519PrivateKey]:
        """The deployment's Ed25519 key that signs audit checkpoints: (name, private key).

        Made on first use and kept wrapped by the key provider, like the data keys.
        The name is fixed when the key is made (it is part of the published key).
        """
        from ..audit import notes

        with self._lock:
            cached: tuple[str, Ed25519PrivateKey] | None = getattr(self, "_signer", None)
        if cached is not None:
            return cached
        with self.engine.begin() as conn:
            wrapped = conn.execute(select(keyring_meta.c.value).where(keyring_meta.c.name == "audit_signer")).scalar()
            if wrapped is None:
                text = notes.signer_key_string(default_name, notes.generate_signing_key())
                wrapped = self.provider.wrap(text.encode(), b"audit-signer")
                conn.execute(insert(keyring_meta).values(name="audit_signer", value=wrapped))
        signer = notes.parse_signer_key(self.provider.unwrap(wrapped, b"audit-signer").decode())
        with self._lock:
            self._signer = signer
        return signer

    def deployment_secret(self, purpose: str) -> bytes:
        """A 32-byte secret of the deployment for one purpose (keyed hashes), made on first use.

        Kept wrapped by the key provider in the keyring, like the data keys: never in
        the data database, re-wrapped by key rotation, and the same in every server
        process (two processes racing to make it have one winner: the name is the key).
        """
        with self._lock:
            cached = self._secrets.get(purpose)
        if cached is not None:
            return cached
        secret = self._unwrap_secret(purpose)
        with self._lock:
            self._secrets[purpose] = secret
        return secret

    def probe(self) -> None:
        """Unwrap a secret of the keyring through the key provider, uncached (readiness, doctor).

        Works the same for every provider, plugins' included: it raises what the provider
        raises when it cannot be reached or its key does not open the keyring.
        """
        self._unwrap_secret("readiness-probe")

    def _unwrap_secret(self, purpose: str) -> bytes:
        name, context = SECRET_PREFIX + purpose, (SECRET_PREFIX + purpose).encode()
        with self.engine.connect() as conn:
            wrapped = conn.execute(select(keyring_meta.c.value).where(keyring_meta.c.name == name)).scalar()
        if wrapped is None:
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        insert(keyring_meta).values(name=name, value=self.provider.wrap(os.urandom(32), context))
                    )
            except IntegrityError:
                pass  # another process made it first: theirs is the one
            with self.engine.connect() as conn:
                wrapped = conn.execute(select(keyring_meta.c.value).where(keyring_meta.c.name == name)).scalar_one()
        return self.provider.unwrap(wrapped, context)

    def deployment_id(self) -> str:
        """The deployment's id (``dep_…``), made on first use; every backup names it."""
        return deployment_id(self.engine)

    def inventory(self) -> dict[str, Any]:
        """What the keyring holds (no key material): see ``inventory``."""
        return inventory(self.engine)

    def keys_of(self, workspace_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(data_keys.c.id, data_keys.c.project_id, data_keys.c.created_at, data_keys.c.kek_id)
                .where(data_keys.c.workspace_id == workspace_id)
                .order_by(data_keys.c.id)
            ).all()
        return [dict(r._mapping) for r in rows]

    def destroy(self, workspace_id: str, project_id: str | None = None) -> int:
        """Destroy a workspace's keys (all of them, or one project's): crypto-shredding."""
        stmt = delete(data_keys).where(data_keys.c.workspace_id == workspace_id)
        if project_id is not None:
            stmt = stmt.where(data_keys.c.project_id == project_id)
        with self.engine.begin() as conn:
            gone = (
                conn.execute(
                    select(data_keys.c.id).where(stmt.whereclause)  # type: ignore[arg-type]
                )
                .scalars()
                .all()
            )
            conn.execute(stmt)
            if project_id is None:  # the whole workspace: its client key binding goes too
                conn.execute(delete(workspace_keks).where(workspace_keks.c.workspace_id == workspace_id))
            _record_destroyed(conn, gone)
        with self._lock:
            for key_id in gone:
                self._cache.pop(key_id, None)
            if project_id is None:
                self._bindings.pop(workspace_id, None)
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return len(gone)

    def destroy_key(self, workspace_id: str, key_id: str) -> bool:
        """Destroy one retired data key (after its data was re-encrypted under a newer one)."""
        with self.engine.begin() as conn:
            gone = conn.execute(
                delete(data_keys).where(data_keys.c.workspace_id == workspace_id, data_keys.c.id == key_id)
            ).rowcount
            if gone:
                _record_destroyed(conn, [key_id])
        with self._lock:
            self._cache.pop(key_id, None)
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return bool(gone)

    def rewrap(self, new_provider: KeyProvider) -> int:
        """Re-wrap every data key under a new key-encryption key (data untouched).

        Keys of workspaces bound to a client key are the client's: they are left as they are.
        """
        count = 0
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(data_keys.c.id, data_keys.c.wrapped).where(~data_keys.c.provider.startswith(CLIENT_PREFIX))
            ).all()
            for row in rows:
                key = self.provider.unwrap(row.wrapped, row.id.encode())
                conn.execute(
                    update(data_keys)
                    .where(data_keys.c.id == row.id)
                    .values(
                        wrapped=new_provider.wrap(key, row.id.encode()),
                        kek_id=new_provider.kek_id,
                        provider=new_provider.name,
                    )
                )
                count += 1
            for name, wrapped in conn.execute(
                select(keyring_meta.c.name, keyring_meta.c.value).where(keyring_meta.c.name.startswith(SECRET_PREFIX))
            ).all():
                conn.execute(
                    update(keyring_meta)
                    .where(keyring_meta.c.name == name)
                    .values(value=new_provider.wrap(self.provider.unwrap(wrapped, name.encode()), name.encode()))
                )
            signer = conn.execute(select(keyring_meta.c.value).where(keyring_meta.c.name == "audit_signer")).scalar()
            if signer is not None:
                conn.execute(
                    update(keyring_meta)
                    .where(keyring_meta.c.name == "audit_signer")
                    .values(value=new_provider.wrap(self.provider.unwrap(signer, b"audit-signer"), b"audit-signer"))
                )
        self.provider = new_provider
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return count

    def check(self) -> int:
        """Unwrap every deployment-wrapped key once; raises KeyProviderError if the KEK does not match."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(data_keys.c.id, data_keys.c.wrapped).where(~data_keys.c.provider.startswith(CLIENT_PREFIX))
            ).all()
        for row in rows:
            self.provider.unwrap(row.wrapped, row.id.encode())
        return len(rows)

    def _finish_interrupted_rotation(self, path: Path) -> None:
        """A rotation writes ``master.key.next`` before re-wrapping: finish or undo it."""
        pending = path.with_name(path.name + ".next")
        if not pending.exists():
            return
        try:
            self.check()
        except KeyProviderError:
            candidate = FileKeyProvider.from_file(pending)
            self.provider = candidate
            self.check()  # raises if neither key opens the keyring
            os.replace(pending, path)
            return
        pending.unlink()  # the keyring was never re-wrapped: the old key stays

    def forget_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def dispose(self) -> None:
        self.engine.dispose()


class _UnusableProvider:
    """A workspace's client key provider this server cannot build (a missing library): every use is refused."""

    def __init__(self, name: str, kek_id: str, problem: str) -> None:
        self.name = name
        self._kek_id = kek_id
        self.problem = problem

    @property
    def kek_id(self) -> str:
        return self._kek_id

    def wrap(self, key: bytes, context: bytes) -> bytes:
        raise KeyUnavailable(self.name, "unreachable", f"this server cannot use it ({self.problem})")

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        raise KeyUnavailable(self.name, "unreachable", f"this server cannot use it ({self.problem})")


def require_key(keyring: Keyring, workspace_id: str, key_id: str) -> KeyMaterial:
    try:
        return keyring.material(workspace_id, key_id)
    except KeyDestroyed as exc:
        raise NotFound("the data of this object has been destroyed") from exc


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            private_sqlite_files(Path(path))  # 0600, and so its -wal and -shm
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: DBAPIConnection, _record: object) -> None:
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA secure_delete=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def deployment_id(engine: Engine) -> str:
    """The keyring's deployment id (``dep_…``), made on first use (two racing processes: one wins)."""
    with engine.connect() as conn:
        value = conn.execute(select(keyring_meta.c.value).where(keyring_meta.c.name == DEPLOYMENT_ID)).scalar()
    if value is None:
        try:
            with engine.begin() as conn:
                conn.execute(insert(keyring_meta).values(name=DEPLOYMENT_ID, value=ids.new_id("dep").encode()))
        except IntegrityError:
            pass  # another process made it first: theirs is the one
        with engine.connect() as conn:
            value = conn.execute(select(keyring_meta.c.value).where(keyring_meta.c.name == DEPLOYMENT_ID)).scalar_one()
    return bytes(value).decode()


def inventory(engine: Engine) -> dict[str, Any]:
    """What a keyring holds, for backups and their checks (no key material): its deployment id
    (None if never made), ``keys`` (data-key id -> workspace) and ``destroyed`` (key id -> when, ms)."""
    with engine.connect() as conn:
        keys = {row.id: row.workspace_id for row in conn.execute(select(data_keys.c.id, data_keys.c.workspace_id))}
        meta = conn.execute(
            select(keyring_meta.c.name, keyring_meta.c.value).where(
                keyring_meta.c.name.startswith(DESTROYED_PREFIX) | (keyring_meta.c.name == DEPLOYMENT_ID)
            )
        ).all()
    destroyed = {n[len(DESTROYED_PREFIX) :]: int(bytes(v).decode()) for n, v in meta if n.startswith(DESTROYED_PREFIX)}
    deployment = next((bytes(v).decode() for n, v in meta if n == DEPLOYMENT_ID), None)
    return {"deployment_id": deployment, "keys": keys, "destroyed": destroyed}


def open_provider(settings: Settings) -> KeyProvider:
    """The deployment's key provider alone, opening no keyring (sealing and opening keyring backups).

    Not for the passphrase provider: its salt lives in the keyring, so a keyring backup
    sealed by it could not be opened once the keyring is lost.
    """
    if settings.key_provider == "passphrase":
        raise InvalidInput(
            "the passphrase key provider keeps its salt in the keyring itself: seal the keyring backup "
            "with a backup passphrase instead (--seal passphrase)"
        )
    if settings.key_provider == "file":
        if settings.master_key:
            return FileKeyProvider.from_hex(settings.master_key)
        return FileKeyProvider.from_file(Path(settings.resolved_master_key_file))
    from ..plugins import key_provider_factory

    provider: KeyProvider = key_provider_factory(settings.key_provider)(settings)
    return provider


def open_engine(url: str) -> Engine:
    """An engine on a keyring database (its tables made if missing), for backups and restore checks."""
    engine = _make_engine(url)
    keyring_metadata.create_all(engine)
    return engine


def _record_destroyed(conn: Any, key_ids: Sequence[str]) -> None:
    """Remember that these keys were destroyed, and when (in the transaction that destroys them)."""
    at = str(now_ms()).encode()
    for key_id in key_ids:
        conn.execute(delete(keyring_meta).where(keyring_meta.c.name == DESTROYED_PREFIX + key_id))
        conn.execute(insert(keyring_meta).values(name=DESTROYED_PREFIX + key_id, value=at))


def set_meta(engine: Engine, name: str, value: bytes) -> None:
    with engine.begin() as conn:
        conn.execute(delete(keyring_meta).where(keyring_meta.c.name == name))
        conn.execute(insert(keyring_meta).values(name=name, value=value))


def _meta_value(engine: Engine, name: str, *, create: Callable[[], bytes]) -> bytes:
    with engine.begin() as conn:
        value: bytes | None = conn.execute(select(keyring_meta.c.value).where(keyring_meta.c.name == name)).scalar()
        if value is None:
            value = create()
            conn.execute(insert(keyring_meta).values(name=name, value=value))
        return value


__all__ = [
    "ClientBinding",
    "KeyDestroyed",
    "KeyUnavailable",
    "KeyMaterial",
    "KeyProviderError",
    "Keyring",
    "require_key",
]
