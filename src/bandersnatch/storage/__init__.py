"""Storage backends behind one interface (``base.Storage``)."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .base import AtomicFile, Storage
from .filesystem import FilesystemStorage

__all__ = ["AtomicFile", "FilesystemStorage", "Storage", "open_storage"]


def open_storage(backend: str, root: Path, manage_permissions: bool = True) -> Storage:
    """The storage for ``[mirror] storage-backend``."""
    if backend == "filesystem":
        return FilesystemStorage(root, manage_permissions=manage_permissions)
    raise ConfigError("mirror", "storage-backend", backend, "unknown storage backend")
