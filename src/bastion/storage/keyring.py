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
store only a keyed hash of what was typed into the e-mail field).

Unwrapped keys are cached per process (unwrapping on every request would cost a
keyring query). The keyring SQLite file runs with ``secure_delete`` so that a
destroyed key is overwritten, and its WAL is truncated after every destruction.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    BigInteger,
    Column,
    LargeBinary,
    MetaData,
    String,
    Table,
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
from ..domain.errors import BastionError, NotFound
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


# keyring_meta rows holding deployment secrets (wrapped): "secret:<purpose>".
SECRET_PREFIX = "secret:"


class KeyDestroyed(BastionError):
    code = "key_destroyed"


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    key_id: str
    workspace_id: str
    aead: AESGCM
    index_key: bytes


class Keyring:
    def __init__(self, url: str, provider: KeyProvider) -> None:
        self.url = url
        self.provider = provider
        self.engine = _make_engine(url)
        keyring_metadata.create_all(self.engine)
        self._cache: dict[str, KeyMaterial] = {}
        self._checked: dict[str, float] = {}
        self._secrets: dict[str, bytes] = {}
        self._lock = threading.Lock()

    # -- construction ---------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings, *, create: bool = False) -> Keyring:
        """Open the keyring the settings describe; ``create`` makes a master key file."""
        url = settings.resolved_keyring_url
        if settings.key_provider == "passphrase":
            engine = _make_engine(url)
            keyring_metadata.create_all(engine)
            salt = _meta_value(engine, "scrypt_salt", create=lambda: os.urandom(16))
            engine.dispose()
            return cls(url, PassphraseKeyProvider(settings.passphrase or "", salt))
        if settings.key_provider == "file":
            if settings.master_key:
                return cls(url, FileKeyProvider.from_hex(settings.master_key))
            path = Path(settings.resolved_master_key_file)
            if create:
                create_master_key_file(path)
            keyring = cls(url, FileKeyProvider.from_file(path))
            keyring._finish_interrupted_rotation(path)
            return keyring
        from ..plugins import key_provider_factory

        factory = key_provider_factory(settings.key_provider)
        return cls(url, factory(settings))

    # -- keys -----------------------------------------------------------------

    def create_key(self, workspace_id: str, project_id: str | None = None) -> str:
        key_id = ids.new_id("key")
        key = os.urandom(32)
        wrapped = self.provider.wrap(key, key_id.encode())
        with self.engine.begin() as conn:
            conn.execute(
                insert(data_keys).values(
                    id=key_id,
                    workspace_id=workspace_id,
                    project_id=project_id,
                    wrapped=wrapped,
                    kek_id=self.provider.kek_id,
                    provider=self.provider.name,
                    created_at=now_ms(),
                )
            )
        return key_id

    # Unwrapped keys are re-checked against the keyring this often, so a key destroyed
    # by another server process stops working here within that time.
    RECHECK_SECONDS = 30.0

    def material(self, workspace_id: str, key_id: str) -> KeyMaterial:
        found = self._cache.get(key_id)
        if found is not None:
            if found.workspace_id != workspace_id:
                raise KeyDestroyed("ciphertext was sealed for another workspace")
            if time.monotonic() - self._checked.get(key_id, 0.0) < self.RECHECK_SECONDS:
                return found
            with self.engine.connect() as conn:
                alive = conn.execute(select(data_keys.c.id).where(data_keys.c.id == key_id)).first()
            if alive is None:
                with self._lock:
                    self._cache.pop(key_id, None)
                raise KeyDestroyed(f"data key {key_id} has been destroyed")
            self._checked[key_id] = time.monotonic()
            return found
        with self.engine.connect() as conn:
            row = conn.execute(
                select(data_keys.c.workspace_id, data_keys.c.wrapped).where(data_keys.c.id == key_id)
            ).first()
        if row is None:
            raise KeyDestroyed(f"data key {key_id} does not exist (destroyed or never made)")
        if row.workspace_id != workspace_id:
            raise KeyDestroyed("ciphertext was sealed for another workspace")
        key = self.provider.unwrap(row.wrapped, key_id.encode())
        material = KeyMaterial(
            key_id=key_id,
            workspace_id=workspace_id,
            aead=AESGCM(key),
            index_key=hmac.new(key, b"bastion-index-key", hashlib.sha256).digest(),
        )
        with self._lock:
            self._cache[key_id] = material
            self._checked[key_id] = time.monotonic()
        return material

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
        with self._lock:
            for key_id in gone:
                self._cache.pop(key_id, None)
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
        with self._lock:
            self._cache.pop(key_id, None)
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return bool(gone)

    def rewrap(self, new_provider: KeyProvider) -> int:
        """Re-wrap every data key under a new key-encryption key (data untouched)."""
        count = 0
        with self.engine.begin() as conn:
            rows = conn.execute(select(data_keys.c.id, data_keys.c.wrapped)).all()
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
        """Unwrap every key once; raises KeyProviderError if the KEK does not match."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(data_keys.c.id, data_keys.c.wrapped)).all()
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
    "KeyDestroyed",
    "KeyMaterial",
    "KeyProviderError",
    "Keyring",
    "require_key",
]
