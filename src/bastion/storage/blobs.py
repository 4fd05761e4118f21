"""Blob stores: where the sealed bytes of uploaded files are kept — the local disk or an S3-compatible bucket.

Concept. A blob is one file's ciphertext, named by its workspace and its id
(``ws_…/fil_…``). Services seal before they call ``put`` and open after ``get``
(``services/files.py``): a store only ever holds ciphertext, so whoever reads the
disk or the bucket learns sizes and ids, never content. Two stores ship, chosen
by ``BASTION_BLOB_STORE`` and registered through the ``bastion_blob_stores``
hook exactly as a third-party store would be:

* ``disk`` — ``<data_dir>/files/<workspace>/<file id>``, 0600 in 0700 folders,
  written to a temporary name, fsynced and renamed: a crash never leaves half a
  file under a real name.
* ``s3`` — ``<prefix><workspace>/<file id>`` in a bucket (AWS S3, MinIO, Ceph,
  anything speaking the S3 API; boto3, ``pip install 'bastion[s3]'``). A blob
  larger than one part goes up as a multipart upload, part by part as the
  chunks arrive.

What callers need, and nothing more: ``put`` (bytes or an iterable of chunks),
``get``, ``exists``, ``delete``, ``delete_workspace`` (crypto-shredding removes
what is left of a workspace), ``iter_blobs`` and ``workspace_ids`` (backups
walk the store through them), and ``close``.

Errors. A store that cannot be reached, or refuses (no bucket, no credentials,
a full disk), raises ``Unavailable`` (503 to an uploader, a message and exit
code 1 in the CLI) saying what failed, never the endpoint or the credentials; a
blob that is not there raises ``NotFound``. Ids are checked for their shape
before they become a path or a key, so no id walks out of the store.

The trap: a multipart upload that fails half-way leaves its parts on the server,
billed and invisible to ``list_objects``, unless it is aborted. ``put`` aborts
on any failure — of the server or of the chunks' source. When the server is
down the abort fails too, so the store remembers the upload and aborts it at
its next ``put`` or ``delete_workspace`` (which also aborts every upload under
the workspace). Deleting a workspace's objects is remembered and retried the
same way: the workspace is deleted already (its keys destroyed), so
``delete_workspace`` never fails its caller. A bucket lifecycle rule
(``AbortIncompleteMultipartUpload``, docs/configuration.md) covers a process
that stopped before it could.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from .. import ids
from ..domain.errors import InvalidConfig, NotFound, Unavailable
from ..plugins import blob_store_factory, hookimpl
from ..settings import Settings

log = logging.getLogger("bastion.blobs")

Chunks = bytes | bytearray | memoryview | Iterable[bytes]


class BlobStore(Protocol):
    """Where sealed blobs are kept; every method names the workspace."""

    name: str

    def put(self, workspace_id: str, blob_id: str, data: Chunks) -> None:
        """Store the blob (replacing one of that id): whole or not at all; Unavailable when it cannot."""
        ...

    def get(self, workspace_id: str, blob_id: str) -> bytes:
        """The blob; NotFound when it is not there."""
        ...

    def exists(self, workspace_id: str, blob_id: str) -> bool: ...

    def delete(self, workspace_id: str, blob_id: str) -> None:
        """Remove the blob; nothing happens when it is not there."""
        ...

    def delete_workspace(self, workspace_id: str) -> None:
        """Remove every blob of a deleted workspace; what it cannot remove now, it logs (never raises)."""
        ...

    def iter_blobs(self, workspace_id: str) -> Iterator[str]:
        """The ids of the workspace's blobs."""
        ...

    def workspace_ids(self) -> Iterator[str]:
        """The workspaces that hold blobs."""
        ...

    def close(self) -> None: ...


def _chunks(data: Chunks) -> Iterable[bytes | bytearray | memoryview]:
    return (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data


HEX = frozenset("0123456789abcdef")


def _ours(value: str, prefix: str) -> bool:
    """An id of ours: the prefix, "_" and hex digits — no separator, no dot, so never a path or another key."""
    return ids.has_prefix(value, prefix) and HEX.issuperset(value[len(prefix) + 1 :])


def is_blob_name(workspace_id: str, blob_id: str) -> bool:
    """Whether the pair names a blob a store may hold (a workspace id and a file id of ours)."""
    return _ours(workspace_id, "ws") and _ours(blob_id, "fil")


def _check_ids(workspace_id: str, blob_id: str) -> None:
    if not is_blob_name(workspace_id, blob_id):
        raise NotFound("file not found")


def _check_workspace(workspace_id: str) -> None:
    if not _ours(workspace_id, "ws"):
        raise NotFound("workspace not found")


# -- the local disk -----------------------------------------------------------------------


@contextmanager
def _writing() -> Iterator[None]:
    try:
        yield
    except OSError as exc:  # a full or read-only disk, a folder that is not ours
        raise Unavailable(f"the file store could not write the file ({exc.strerror or exc})") from exc


class DiskBlobs:
    """Sealed blobs on the local disk: ``<root>/<workspace>/<file id>``, written atomically, owner only."""

    name = "disk"

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def from_settings(cls, settings: Settings) -> DiskBlobs:
        return cls(settings.files_dir)

    def _path(self, workspace_id: str, blob_id: str) -> Path:
        _check_ids(workspace_id, blob_id)
        return self.root / workspace_id / blob_id

    def put(self, workspace_id: str, blob_id: str, data: Chunks) -> None:
        path = self._path(workspace_id, blob_id)
        tmp = path.with_name(f".{blob_id}.{os.getpid()}.{threading.get_ident()}.partial")
        try:
            with _writing():
                self.root.mkdir(mode=0o700, parents=True, exist_ok=True)  # only for this user, like the keyring
                path.parent.mkdir(mode=0o700, exist_ok=True)
                # owner only; opened inside _writing() to map its errors, closed by `with fh` below
                fh = open(tmp, "wb", opener=lambda name, flags: os.open(name, flags, 0o600))  # noqa: SIM115
            with fh:
                for chunk in _chunks(data):  # the source's own errors pass as they are
                    with _writing():
                        fh.write(chunk)
                with _writing():
                    fh.flush()
                    os.fsync(fh.fileno())
            with _writing():
                os.replace(tmp, path)
                dir_fd = os.open(path.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        except BaseException:
            tmp.unlink(missing_ok=True)  # no half file under any name
            raise

    def get(self, workspace_id: str, blob_id: str) -> bytes:
        try:
            return self._path(workspace_id, blob_id).read_bytes()
        except FileNotFoundError:
            raise NotFound("the file's content is missing from the blob store") from None

    def exists(self, workspace_id: str, blob_id: str) -> bool:
        return self._path(workspace_id, blob_id).exists()

    def delete(self, workspace_id: str, blob_id: str) -> None:
        self._path(workspace_id, blob_id).unlink(missing_ok=True)

    def delete_workspace(self, workspace_id: str) -> None:
        """Remove a deleted workspace's folder (its files' names and sizes would outlive it)."""
        _check_workspace(workspace_id)
        folder = self.root / workspace_id
        try:
            shutil.rmtree(folder)
        except FileNotFoundError:
            pass  # it never stored a file
        except OSError as exc:  # the workspace is gone already; say what is left behind
            log.warning("could not remove %s: %s", folder, exc)

    def iter_blobs(self, workspace_id: str) -> Iterator[str]:
        _check_workspace(workspace_id)
        try:
            names = sorted(os.listdir(self.root / workspace_id))
        except FileNotFoundError:
            return
        yield from (name for name in names if _ours(name, "fil"))  # not the ``.….partial`` files

    def workspace_ids(self) -> Iterator[str]:
        try:
            names = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return
        yield from (name for name in names if _ours(name, "ws") and (self.root / name).is_dir())

    def close(self) -> None:
        pass


# -- S3-compatible object storage ---------------------------------------------------------

MIB = 1024 * 1024


class S3Blobs:
    """Sealed blobs in an S3-compatible bucket: ``<prefix><workspace>/<file id>``.

    ``client`` is a boto3 S3 client (thread-safe; one per store). Blobs larger
    than ``part_size`` bytes go up as multipart uploads of ``part_size`` parts.
    """

    name = "s3"

    def __init__(self, client: Any, bucket: str, *, prefix: str = "", part_size: int = 8 * MIB) -> None:
        from botocore.exceptions import BotoCoreError, ClientError  # optional dependency, installed with boto3

        if part_size < 5 * MIB:
            raise InvalidConfig("s3_part_size_mb: S3 parts are at least 5 MiB")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.part_size = part_size
        self._client_error = ClientError
        self._transport_error = BotoCoreError
        # Left by calls made while the server was down, done at the next call (``_tidy``):
        self._unaborted: list[tuple[str, str]] = []  # (key, upload id) of uploads whose abort failed
        self._undeleted: set[str] = set()  # deleted workspaces whose objects are still there
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Blobs:
        if not settings.s3_bucket:
            raise InvalidConfig("s3_bucket: the s3 blob store needs a bucket (BASTION_S3_BUCKET)")
        try:  # optional dependency: only deployments that choose s3 need it
            import boto3
            from botocore.config import Config
        except ImportError:
            raise InvalidConfig("blob_store: the s3 blob store needs boto3: pip install 'bastion[s3]'") from None
        secret = settings.s3_secret_access_key
        session = boto3.session.Session(
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret is not None else None,
            region_name=settings.s3_region,
        )  # unset credentials and region: boto3's own chain (AWS_* variables, ~/.aws, an instance role)
        config = Config(
            s3={"addressing_style": "path" if settings.s3_path_style else "auto"},
            retries={"mode": "standard"},  # how many tries: AWS_MAX_ATTEMPTS (default 3)
            connect_timeout=10,
            read_timeout=60,
            # Checksums only where S3 requires them: MinIO and Ceph releases differ on the newer trailing
            # ones, and what is stored is AES-GCM ciphertext, whose tag checks every read.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        client = session.client("s3", endpoint_url=settings.s3_endpoint_url or None, config=config)
        return cls(client, settings.s3_bucket, prefix=settings.s3_prefix, part_size=settings.s3_part_size_mb * MIB)

    # -- keys and errors

    def _key(self, workspace_id: str, blob_id: str) -> str:
        _check_ids(workspace_id, blob_id)
        return f"{self.prefix}{workspace_id}/{blob_id}"

    def _workspace_prefix(self, workspace_id: str) -> str:
        _check_workspace(workspace_id)
        return f"{self.prefix}{workspace_id}/"

    def _code(self, exc: Exception) -> str:
        return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, self._client_error) else ""

    @contextmanager
    def _calls(self, doing: str) -> Iterator[None]:
        """The client's failures as Unavailable, saying what failed and never where (no endpoint, no keys)."""
        try:
            yield
        except self._client_error as exc:
            log.warning("S3: could not %s in bucket %s: %s", doing, self.bucket, exc)
            raise Unavailable(f"the file store refused to {doing} ({self._code(exc) or 'error'})") from exc
        except self._transport_error as exc:
            log.warning("S3: could not %s in bucket %s: %s", doing, self.bucket, exc)
            raise Unavailable(
                f"the file store could not be reached to {doing} ({type(exc).__name__}); try again later"
            ) from exc

    # -- the interface

    def put(self, workspace_id: str, blob_id: str, data: Chunks) -> None:
        key = self._key(workspace_id, blob_id)
        self._tidy()
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            with self._calls("store the file"):
                for chunk in _chunks(data):
                    buffer += chunk
                    while len(buffer) > self.part_size:  # more than one part: this one goes now
                        if upload_id is None:
                            upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
                        parts.append(self._part(key, upload_id, len(parts) + 1, bytes(buffer[: self.part_size])))
                        del buffer[: self.part_size]
                if upload_id is None:
                    self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(buffer))
                    return
                parts.append(self._part(key, upload_id, len(parts) + 1, bytes(buffer)))
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
        except BaseException:
            if upload_id is not None:
                self._abort(key, upload_id)
            raise

    def _part(self, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        answer = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body)
        return {"ETag": answer["ETag"], "PartNumber": number}

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except self._client_error as exc:
            if self._code(exc) != "NoSuchUpload":  # already gone: nothing to abort
                self._remember(key, upload_id, exc)
        except self._transport_error as exc:
            self._remember(key, upload_id, exc)

    def _remember(self, key: str, upload_id: str, exc: Exception) -> None:
        log.warning("S3: could not abort the upload of %s (%s); trying again at the next call", key, exc)
        with self._lock:
            self._unaborted.append((key, upload_id))

    def _tidy(self) -> None:
        """What earlier calls left while the server was down: uploads to abort, deleted workspaces' objects."""
        with self._lock:
            if not (self._unaborted or self._undeleted):
                return
            unaborted, self._unaborted = self._unaborted, []
            undeleted, self._undeleted = self._undeleted, set()
        for key, upload_id in unaborted:
            self._abort(key, upload_id)
        for workspace_id in sorted(undeleted):
            try:
                self._delete_prefix(self._workspace_prefix(workspace_id))
            except Unavailable:
                with self._lock:
                    self._undeleted.add(workspace_id)

    def get(self, workspace_id: str, blob_id: str) -> bytes:
        key = self._key(workspace_id, blob_id)
        with self._calls("read the file"):
            try:
                body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                return body
            except self._client_error as exc:
                if self._code(exc) in ("NoSuchKey", "404"):
                    raise NotFound("the file's content is missing from the blob store") from None
                raise

    def exists(self, workspace_id: str, blob_id: str) -> bool:
        key = self._key(workspace_id, blob_id)
        with self._calls("look for the file"):
            try:
                self.client.head_object(Bucket=self.bucket, Key=key)
                return True
            except self._client_error as exc:
                if self._code(exc) in ("NoSuchKey", "404", "NotFound"):
                    return False
                raise

    def delete(self, workspace_id: str, blob_id: str) -> None:
        key = self._key(workspace_id, blob_id)
        with self._calls("delete the file"):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_workspace(self, workspace_id: str) -> None:
        """Every object and unfinished upload under the workspace's prefix; never fails the caller.

        The workspace is gone already (keys destroyed, rows deleted): when the
        server is down, what is left is logged and deleted at the store's next call.
        """
        prefix = self._workspace_prefix(workspace_id)
        self._tidy()
        try:
            self._delete_prefix(prefix)
        except Unavailable as exc:
            log.warning(
                "S3: the files of the deleted workspace %s are left for now (%s); deleting them at the next call",
                workspace_id,
                exc,
            )
            with self._lock:
                self._undeleted.add(workspace_id)

    def _delete_prefix(self, prefix: str) -> None:
        with self._calls("delete the workspace's files"):
            uploads = self.client.get_paginator("list_multipart_uploads")
            for page in uploads.paginate(Bucket=self.bucket, Prefix=prefix):
                for upload in page.get("Uploads", ()):
                    self._abort(upload["Key"], upload["UploadId"])
            keys = [prefix + name for name in self._list(prefix)]
            for start in range(0, len(keys), 1000):  # DeleteObjects takes 1,000 keys a call
                answer = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": key} for key in keys[start : start + 1000]], "Quiet": True},
                )
                if answer.get("Errors"):
                    first = answer["Errors"][0]
                    log.warning(
                        "S3: %d objects under %s not deleted, first %s: %s",
                        len(answer["Errors"]),
                        prefix,
                        first.get("Key"),
                        first.get("Message"),
                    )
                    raise Unavailable(
                        f"the file store refused to delete {len(answer['Errors'])} of the "
                        f"workspace's files ({first.get('Code', 'error')})"
                    )

    def _list(self, prefix: str) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                yield item["Key"][len(prefix) :]

    def iter_blobs(self, workspace_id: str) -> Iterator[str]:
        prefix = self._workspace_prefix(workspace_id)
        with self._calls("list the workspace's files"):
            yield from (name for name in self._list(prefix) if _ours(name, "fil"))

    def workspace_ids(self) -> Iterator[str]:
        with self._calls("list the workspaces' files"):
            pages = self.client.get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix, Delimiter="/"):
                for common in page.get("CommonPrefixes", ()):
                    name = common["Prefix"][len(self.prefix) :].rstrip("/")
                    if _ours(name, "ws"):
                        yield name

    def close(self) -> None:
        self.client.close()


# -- choosing one -------------------------------------------------------------------------


@hookimpl
def bastion_blob_stores() -> dict[str, Callable[[Settings], BlobStore]]:
    return {"disk": DiskBlobs.from_settings, "s3": S3Blobs.from_settings}


def open_blob_store(settings: Settings) -> BlobStore:
    """The store ``settings.blob_store`` names: built in (disk, s3) or a plugin's."""
    store: BlobStore = blob_store_factory(settings.blob_store)(settings)
    return store
