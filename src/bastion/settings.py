"""Deployment settings, read from flags, the environment (``BASTION_*``) and defaults.

Every setting is documented in docs/configuration.md (a test checks that). The
data directory holds the SQLite database (when no database URL is given), the
keyring and the master key file by default, and uploaded files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BASTION_", extra="ignore")

    data_dir: Path = Field(
        default=Path("./bastion-data"),
        description="Directory for the SQLite database, keyring, master key and uploaded files.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database (postgresql://… to scale out); "
        "default: SQLite file bastion.db in the data directory.",
    )
    keyring_url: str | None = Field(
        default=None,
        description="Database URL of the keyring holding wrapped data keys, kept apart from "
        "the data; default: SQLite file keyring.db in the data directory.",
    )
    master_key_file: Path | None = Field(
        default=None,
        description="Path of the master key file (key-encryption key); default: master.key in "
        "the data directory. Ignored when master_key is set.",
    )
    master_key: str | None = Field(
        default=None,
        description="The master key itself (64 hex digits), for deployments that inject it.",
    )
    key_provider: str = Field(
        default="file",
        description="Key provider wrapping data keys: 'file' (master key file), 'passphrase' "
        "(key derived from BASTION_PASSPHRASE), or a plugin's name.",
    )
    passphrase: str | None = Field(default=None, description="Passphrase for the 'passphrase' key provider.")
    key_provider_config: str | None = Field(
        default=None,
        description="JSON config of a key provider that takes one ('pkcs11', 'aws-kms', 'gcp-kms', "
        "'vault-transit'): non-secret fields only; secrets are named by environment variable or file.",
    )
    pkcs11_modules: str = Field(
        default="",
        description="PKCS#11 libraries (paths, separated by ':') a platform admin may name when binding a "
        "workspace to a client's HSM key; the local operator's CLI may name any.",
    )
    client_key_check_seconds: float = Field(
        default=5.0,
        ge=0,
        description="Unwrapped keys of a workspace bound to a client-held key are re-checked with the "
        "client's key service this often; a revoked or destroyed key stops reads and writes within it.",
    )
    max_body_bytes: int = Field(
        default=256 * 1024 * 1024,
        description="Largest request body accepted; larger ones answer 413.",
    )
    session_seconds: int = Field(default=12 * 3600, description="Lifetime of a browser session after its last use.")
    cookie_secure: bool | None = Field(
        default=None,
        description="Send the session cookie only over HTTPS; default: on when the request arrived over HTTPS.",
    )
    public_url: str | None = Field(
        default=None, description="External URL of this deployment, used in audit checkpoints."
    )
    log_level: str = Field(default="info", description="Server log level.")
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Server log lines: 'text' for people, 'json' for one JSON object a line (docs/operations.md).",
    )
    access_log: bool = Field(
        default=True,
        description="Log one line per request (method, route template, status, duration, request id; "
        "never the path's ids, the query or any content).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token /metrics requires; unset: /metrics answers only clients on this machine "
        "(loopback, not through a proxy).",
    )
    rate_limit_token: str = Field(
        default="",
        description="Requests to /api/ per API token, e.g. '600/minute' or '20/second;600/minute' (empty: no limit).",
    )
    rate_limit_address: str = Field(
        default="",
        description="Requests to /api/ per client address, e.g. '1200/minute' (empty: no limit).",
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where rate-limit counts live: 'memory://' (each process its own) or 'redis://host:6379' "
        "(shared by every server process).",
    )
    trusted_proxies: str = Field(
        default="",
        description="Addresses or networks (comma-separated, e.g. '127.0.0.1,10.0.0.0/8') of reverse proxies "
        "whose X-Forwarded-For names the client; empty: the header is ignored.",
    )
    sqlite_cache_mb: int = Field(
        default=32,
        ge=2,
        le=65536,
        description="SQLite page cache per connection, in MiB (bulk imports from the CLI use at least 256).",
    )
    export_workers: int | None = Field(
        default=None,
        ge=0,
        le=64,
        description="Worker processes that build and encode the pages of a large export (past 10,000 tasks) "
        "while the exporting process reads; 0 or 1: none, all of it in the exporting process; "
        "default: one a core, at most 4.",
    )
    checkpoint_seconds: int = Field(
        default=60,
        ge=0,
        description="How often the server signs audit checkpoints for logs that grew (0: never by timer).",
    )
    audit_fold_ms: int = Field(
        default=1000,
        ge=0,
        le=3_600_000,
        description=(
            "PostgreSQL: how often the server folds queued audit entries and feed events into their logs "
            "(readers fold first anyway; 0: only they do)."
        ),
    )
    max_image_side_px: int = Field(
        default=20_000,
        ge=1,
        le=0x7FFFFFFF,
        description="Widest and tallest image accepted, in pixels (read from the header before anything is stored).",
    )
    max_image_pixels: int = Field(
        default=100_000_000,
        ge=1,
        description="Most pixels (width × height) an image may have; also bounds what a PNG inflates to.",
    )
    wall_removal_wait_days: float = Field(
        default=7,
        ge=0,
        le=3650,
        description="Days between an approved withdrawal of a conflict-of-interest wall and the wall falling "
        "(0: at once); the other side may keep it meanwhile by declaring it, or consent to lift it now.",
    )
    approval_window_hours: float = Field(
        default=24,
        gt=0,
        le=720,
        description="Hours a two-person approval request may wait for its decision, and an approval for its use.",
    )

    # -- the jobs runner (services/job_runner.py, docs/jobs.md)
    job_workers: int = Field(
        default=1,
        ge=0,
        le=64,
        description="Job runner threads in each `bastion serve` process (0: this process runs no jobs; "
        "`bastion worker` runs them instead).",
    )
    job_lease_seconds: float = Field(
        default=60,
        gt=0,
        le=86400,
        description="How long a runner's claim on a job lasts without a heartbeat; a job whose runner died "
        "is taken up by another runner after this.",
    )
    job_poll_seconds: float = Field(
        default=1.0, gt=0, le=3600, description="How often an idle job runner looks for due jobs."
    )
    job_retry_seconds: float = Field(
        default=10,
        ge=0,
        le=86400,
        description="Back-off before a failed job's first retry; it doubles with each attempt (with jitter, "
        "at most an hour).",
    )
    webhook_attempts: int = Field(
        default=8,
        ge=1,
        le=50,
        description="Tries of a webhook delivery (back-off as for jobs, from `job_retry_seconds`) before it goes "
        "to the dead-letter list (docs/webhooks.md).",
    )

    # -- credentials (services/credentials.py, docs/workforce.md)
    credential_reminder_days: str = Field(
        default="30,7",
        pattern=r"^\s*([0-9]{1,4}\s*(,\s*[0-9]{1,4}\s*)*)?$",
        description="Days before a credential expires when a `credential.expiring` event announces it, "
        "comma-separated (each once per credential; empty: only the expiry itself, `credential.expired`).",
    )
    credential_sweep_seconds: float = Field(
        default=300,
        gt=0,
        le=86400,
        description="How often a job runner looks for credentials to announce (expiring soon, expired) and "
        "ends the leases an expired one no longer covers.",
    )

    group_roles: str | None = Field(
        default=None,
        description="Workspace roles granted by identity-provider groups (single sign-on claims, SCIM groups), as "
        'JSON: {"group": {"ws_…": "role"}}; a workspace named here is managed by groups (domain/group_roles.py).',
    )

    oidc_providers: str | None = Field(
        default=None,
        description="Single sign-on providers (OpenID Connect), as a JSON list of "
        '{"name", "label", "issuer", "client_id", "client_secret_env", "scopes", "groups_claim", "accounts", "trust_email"} '
        "(domain/oidc.py; docs/operations.md).",
    )
    password_sign_in: bool = Field(
        default=True,
        description="Whether people may sign in to the web pages with a password (off: single sign-on only; "
        "API tokens keep working).",
    )

    # -- the blob store (storage/blobs.py): where sealed files are kept
    blob_store: str = Field(
        default="disk",
        description="Where sealed files are kept: 'disk' (the data directory), 's3' (an S3-compatible bucket), "
        "or a plugin's store.",
    )
    s3_bucket: str | None = Field(default=None, description="Bucket of the 's3' blob store.")
    s3_prefix: str = Field(default="", description="Key prefix inside the bucket (a folder such as 'bastion/').")
    s3_endpoint_url: str | None = Field(
        default=None, description="Endpoint of an S3-compatible server (MinIO, Ceph); default: AWS S3."
    )
    s3_region: str | None = Field(default=None, description="Region of the bucket; default: boto3's (AWS_REGION).")
    s3_access_key_id: str | None = Field(
        default=None, description="Access key; default: boto3's credential chain (AWS_* variables, instance role)."
    )
    s3_secret_access_key: SecretStr | None = Field(default=None, description="Secret key of s3_access_key_id.")
    s3_path_style: bool = Field(
        default=False, description="Address the bucket in the path (MinIO, Ceph) rather than the host name."
    )
    s3_part_size_mb: int = Field(
        default=8,
        ge=5,
        le=5120,
        description="Files larger than this go up as a multipart upload of parts this size (MiB).",
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'bastion.db').resolve()}"

    @property
    def resolved_keyring_url(self) -> str:
        if self.keyring_url:
            return normalise_database_url(self.keyring_url)
        return f"sqlite:///{(self.data_dir / 'keyring.db').resolve()}"

    @property
    def resolved_master_key_file(self) -> Path:
        return self.master_key_file or (self.data_dir / "master.key")

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"


def normalise_database_url(url: str) -> str:
    """Map ``postgresql://`` and ``postgres://`` to the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
