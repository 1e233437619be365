"""Storage backends behind one interface (``base.Storage``): the local filesystem (the
default) and S3-compatible object storage (``s3``, the ``bandersnatch[s3]`` extra)."""

from __future__ import annotations

from pathlib import Path

from ..config.records import S3Config
from ..errors import ConfigError
from .base import UNREADABLE, AtomicFile, Storage
from .filesystem import FilesystemStorage

__all__ = ["UNREADABLE", "AtomicFile", "FilesystemStorage", "Storage", "open_storage"]


def open_storage(
    backend: str,
    root: Path,
    manage_permissions: bool = True,
    *,
    s3: S3Config | None = None,
    connections: int = 10,
) -> Storage:
    """The storage for ``[mirror] storage-backend``; ``connections`` is how many threads
    may use it at once (an object store's client keeps that many connections)."""
    if backend == "filesystem":
        return FilesystemStorage(root, manage_permissions=manage_permissions)
    if backend == "s3":
        from .s3 import S3Storage  # noqa: PLC0415 - only a mirror on S3 needs it

        return S3Storage(root, s3 or S3Config(), connections)
    raise ConfigError("mirror", "storage-backend", backend, "unknown storage backend")
