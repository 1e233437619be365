"""S3-compatible object storage (``[mirror] storage-backend = s3``), through boto3.

``[mirror] directory = /bucket/prefix`` names the bucket and the key prefix; a mirror path
``web/simple/foo/index.html`` is the object ``prefix/web/simple/foo/index.html``.

- Every write uploads a complete object (``PutObject``, or a multipart upload that appears
  only once complete): readers see the old object or the new one, never part of one.
  Callers already publish files before pages and the root index last.
- Every object carries its sha256 and upload time in its metadata (``x-amz-meta-sha256``,
  ``x-amz-meta-uploaded``), so "is this file current?" and ``verify --hash`` cost one
  ``HEAD``, never a download. An object without them (written by another tool) is read and
  hashed.
- Links and symlinks of the filesystem layout are server-side copies (``CopyObject``).
- There are no directories: ``list_dir`` and ``file_sizes`` list keys (``ListObjectsV2``,
  a thousand keys a request); removing empty directories is a no-op.
- A journal (``append_line``) is emulated (``s3journal``): segments of lines, each append
  rewriting the last segment (``todo.progress``, ``todo.progress.1``, ...).
- The lock is a lease object (``s3lock``).
- The client keeps ``max_pool_connections`` at least the run's workers, and retries in
  botocore's ``adaptive`` mode (client-side rate limiting on throttling) unless
  ``config_param_retries`` says otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import posixpath
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from ..config.records import S3Config
from ..errors import BandersnatchError, StorageError, UnsafePath
from ..layout import LOCK
from .s3client import MISSING, content_type, make_client, split_location
from .s3journal import Journals
from .s3lock import Lease, error_code

log = logging.getLogger(__name__)

_SPOOL = 8 << 20
"""Bytes of an upload kept in memory before it spills to a temp file."""
_HEADS = 4096
_HEAD_TTL = 5.0
_MAX_KEY = 1024


@dataclass(frozen=True)
class _Head:
    size: int
    sha256: str | None
    etag: str
    modified: str
    journal: bool
    at: float


class _Upload:
    """An object being written: spooled (in memory, then a temp file) and hashed as it
    comes, uploaded whole on ``commit``."""

    def __init__(self, storage: S3Storage, path: str) -> None:
        storage.key(path)  # a bad path is refused before anything is downloaded
        self._storage, self._path = storage, path
        self._spool: IO[bytes] | None = tempfile.SpooledTemporaryFile(_SPOOL)  # noqa: SIM115
        self._digest = hashlib.sha256()

    def write(self, data: bytes | memoryview) -> None:
        assert self._spool is not None
        self._digest.update(data)
        self._spool.write(data)

    def commit(self, durable: bool = False) -> None:
        assert self._spool is not None
        try:
            self._spool.seek(0)
            self._storage.upload(self._path, self._spool, self._digest.hexdigest())
        finally:
            self.abort()

    def abort(self) -> None:
        if self._spool is not None:
            spool, self._spool = self._spool, None
            spool.close()


class S3Storage:
    """Storage in one bucket, below one key prefix."""

    def __init__(self, directory: Path, config: S3Config, connections: int = 10) -> None:
        self.bucket, self.prefix = split_location(directory)
        self.location = f"s3://{self.bucket}/{self.prefix}"
        self.config = config
        self.client, self._transfer = make_client(config, connections)
        self._heads: dict[str, _Head] = {}
        self._journals = Journals(self)
        self._lease: Lease | None = None

    # -- keys and errors ----------------------------------------------------------------
    def key(self, path: str) -> str:
        norm = posixpath.normpath(path)
        if (
            path.startswith("/")
            or norm.startswith("..")
            or norm == "."
            or norm != path.rstrip("/")
            or "\x00" in path
        ):
            raise UnsafePath(path, "path leaves the mirror directory or is not normalized")
        key = self.prefix + norm
        if len(key.encode("utf-8", "surrogateescape")) > _MAX_KEY:
            raise UnsafePath(path, f"an object key is at most {_MAX_KEY} bytes")
        return key

    def _dir_prefix(self, path: str) -> str:
        return self.prefix if path.strip("/") in ("", ".") else self.key(path) + "/"

    def _error(self, path: str, exc: Exception) -> StorageError:
        code = error_code(exc)
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            why = f"{code}: check [s3] credentials and the bucket's policy"
        elif code in ("NoSuchBucket",):
            why = f"bucket {self.bucket} does not exist; create it first"
        else:
            why = str(exc) or type(exc).__name__
        return StorageError(self.location + path, why)

    @contextlib.contextmanager
    def _calls(self, path: str) -> Iterator[None]:
        """Any failure of the store (after botocore's retries) is a StorageError."""
        try:
            yield
        except BandersnatchError:
            raise
        except Exception as exc:
            raise self._error(path, exc) from exc

    # -- metadata -----------------------------------------------------------------------
    def _head(self, path: str, *, fresh: bool = False) -> _Head | None:
        """HEAD of ``path``, remembered a few seconds (a size check and a digest check of
        one file cost one request); None when there is no such object."""
        cached = self._heads.get(path)
        if not fresh and cached is not None and time.monotonic() - cached.at < _HEAD_TTL:
            return cached
        key = self.key(path)
        with self._calls(path):
            try:
                got = self.client.head_object(Bucket=self.bucket, Key=key)
            except Exception as exc:
                if error_code(exc) in MISSING:
                    self._heads.pop(path, None)
                    return None
                raise
        meta = got.get("Metadata", {})
        head = _Head(
            size=int(got["ContentLength"]),
            sha256=meta.get("sha256"),
            etag=str(got.get("ETag", "")),
            modified=str(got.get("LastModified", "")),
            journal="journal" in meta,
            at=time.monotonic(),
        )
        if len(self._heads) >= _HEADS:
            self._heads.clear()
        self._heads[path] = head
        return head

    def size(self, path: str) -> int | None:
        head = self._head(path)
        return None if head is None else head.size

    def sha256(self, path: str) -> str | None:
        head = self._head(path)
        if head is None:
            return None
        if head.sha256:
            return head.sha256
        digest = hashlib.sha256()  # not written by us: read it once
        with self._calls(path):
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(path))["Body"]
            for chunk in iter(lambda: body.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def exists(self, path: str) -> bool:
        return self._head(path) is not None

    def fingerprint(self, path: str) -> str | None:
        head = self._head(path, fresh=True)
        return None if head is None else f"{head.etag}:{head.modified}"

    # -- writes ---------------------------------------------------------------------------
    def _meta(self, sha256: str, **extra: str) -> dict[str, str]:
        uploaded = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return {"sha256": sha256, "uploaded": uploaded, **extra}

    def _before_write(self, path: str) -> str:
        if self._lease is not None:
            self._lease.check()
        self._heads.pop(path, None)
        return self.key(path)

    def upload(self, path: str, body: IO[bytes], sha256: str) -> None:
        """A page or state file already holding these bytes is not uploaded again (files
        below ``web/packages`` are only written once found missing or wrong)."""
        if not path.startswith("web/packages/"):
            head = self._head(path, fresh=True)
            if head is not None and head.sha256 == sha256:
                return
        key = self._before_write(path)
        extra = {"Metadata": self._meta(sha256), "ContentType": content_type(path)}
        with self._calls(path):
            self.client.upload_fileobj(
                body, self.bucket, key, ExtraArgs=extra, Config=self._transfer
            )

    def forget(self, path: str) -> None:
        """Drop what is remembered of ``path`` (it was written or deleted)."""
        self._heads.pop(path, None)

    def put(self, path: str, data: bytes, **meta: str) -> None:
        """Upload ``data`` as ``path`` with its digest (and ``meta``) in the metadata."""
        key = self._before_write(path)
        with self._calls(path):
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                Metadata=self._meta(hashlib.sha256(data).hexdigest(), **meta),
                ContentType=content_type(path),
            )

    def write_bytes(self, path: str, data: bytes, *, durable: bool = False) -> None:
        """Skipped when the object already holds these bytes (by its stored digest): a page
        rendered again unchanged costs a HEAD, not an upload. (Every PUT is durable.)"""
        head = self._head(path, fresh=True)
        if head is not None and head.sha256 == hashlib.sha256(data).hexdigest():
            return
        self.put(path, data)

    def open_atomic(self, path: str) -> _Upload:
        return _Upload(self, path)

    def link(self, path: str, existing: str) -> None:
        """A server-side copy (at most 5 GB), skipped when both hold the same bytes."""
        have, origin = self._head(path, fresh=True), self._head(existing)
        if have and origin and origin.sha256 and have.sha256 == origin.sha256:
            return
        key = self._before_write(path)
        source = {"Bucket": self.bucket, "Key": self.key(existing)}
        with self._calls(path):
            try:
                self.client.copy_object(
                    Bucket=self.bucket, Key=key, CopySource=source, MetadataDirective="COPY"
                )
            except Exception as exc:
                if error_code(exc) in MISSING:
                    raise StorageError(self.location + existing, "no such file") from None
                raise

    def symlink(self, path: str, target: str) -> None:
        """Object stores have no links: a copy (``target`` is mirror-relative)."""
        self.link(path, target)

    def delete(self, path: str) -> bool:
        head = self._head(path, fresh=True)
        if head is None:
            return False
        key = self._before_write(path)
        with self._calls(path):
            if head.journal:
                self._journals.delete(path)
            else:
                self.client.delete_object(Bucket=self.bucket, Key=key)
        return True

    def remove_empty_dirs(self, path: str, stop: str) -> None:
        """No directories on object storage: nothing to remove."""

    def discard_partial(self, path: str) -> None:
        """No partial objects: an upload appears whole or not at all."""

    def discard_partials(self, path: str) -> None:
        """As ``discard_partial``. (Abandoned multipart uploads are invisible; a bucket
        lifecycle rule ``AbortIncompleteMultipartUpload`` removes their parts.)"""

    # -- the journal (s3journal) ---------------------------------------------------------
    def append_line(self, path: str, line: str) -> None:
        self._journals.append(path, line)

    # -- reads ------------------------------------------------------------------------------
    def fetch(self, path: str) -> tuple[bytes, bool] | None:
        """The object's bytes and whether it is a journal segment; None if missing."""
        with self._calls(path):
            try:
                got = self.client.get_object(Bucket=self.bucket, Key=self.key(path))
            except Exception as exc:
                if error_code(exc) in MISSING:
                    return None
                raise
            return bytes(got["Body"].read()), "journal" in got.get("Metadata", {})

    def _get(self, path: str) -> bytes | None:
        """The object's bytes; for a journal, all its segments in order."""
        found = self.fetch(path)
        if found is None or not found[1]:
            return None if found is None else found[0]
        parts = [found[0]]
        for segment in self._journals.segments(path)[1:]:
            more = self.fetch(segment)
            parts.append(b"" if more is None else more[0])
        return b"".join(parts)

    def read_bytes(self, path: str) -> bytes | None:
        return self._get(path)

    def open_read(self, path: str) -> BinaryIO:
        spool = tempfile.SpooledTemporaryFile(_SPOOL)  # noqa: SIM115 - returned open
        with self._calls(path):
            try:
                self.client.download_fileobj(
                    self.bucket, self.key(path), spool, Config=self._transfer
                )
            except Exception as exc:
                spool.close()
                if error_code(exc) in MISSING:
                    raise StorageError(self.location + path, "no such file") from None
                raise
        spool.seek(0)
        return spool  # type: ignore[return-value]

    def list_keys(self, prefix: str, path: str, delimiter: str = "") -> Iterator[tuple[str, int]]:
        """(key, size) of every object whose key starts with ``prefix``; with a
        ``delimiter``, each common prefix once as (prefix, -1)."""
        paginator = self.client.get_paginator("list_objects_v2")
        args = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            args["Delimiter"] = delimiter
        with self._calls(path):
            for page in paginator.paginate(**args):
                for common in page.get("CommonPrefixes", ()):
                    yield str(common["Prefix"]), -1
                for item in page.get("Contents", ()):
                    yield str(item["Key"]), int(item["Size"])

    def list_dir(self, path: str) -> list[str]:
        prefix = self._dir_prefix(path)
        names = {key[len(prefix) :].rstrip("/") for key, _ in self.list_keys(prefix, path, "/")}
        return sorted(n for n in names if n)

    def walk_files(self, path: str) -> Iterator[str]:
        cut = len(self.prefix)
        for key, _size in self.list_keys(self._dir_prefix(path), path):
            yield key[cut:]

    def file_sizes(self, path: str, workers: int = 1) -> dict[str, int]:
        """One listing, a thousand keys a request: no object is read."""
        cut = len(self.prefix)
        return {key[cut:]: size for key, size in self.list_keys(self._dir_prefix(path), path)}

    # -- the lock -----------------------------------------------------------------------
    def _lease_for(self, key: str) -> Lease:
        return Lease(
            self.client,
            self.bucket,
            self.prefix + key,
            self.config.lock_lease,
            unconditional_ok=self.config.allow_unconditional_lock,
        )

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with self._calls(""):
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except Exception as exc:
                if error_code(exc) in (*MISSING, "NoSuchBucket"):
                    raise StorageError(
                        f"s3://{self.bucket}", "no such bucket; create it first"
                    ) from None
                raise
        lease = self._lease_for(LOCK)
        with self._calls(LOCK):
            lease.acquire()
        self._lease = lease
        try:
            yield
        finally:
            self._lease = None
            lease.release()

    @contextlib.contextmanager
    def peek_lock(self) -> Iterator[None]:
        """Read the lock object, write nothing: a live lease raises MirrorLocked."""
        with self._calls(LOCK):
            self._lease_for(LOCK).refuse_if_held()
        yield
