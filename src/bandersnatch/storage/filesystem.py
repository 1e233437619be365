"""Local filesystem storage: atomic temp-file-then-rename writes inside one directory.

Every path is checked lexically to stay inside the mirror root before any system call.
Temporary files are named ``.<name>.part`` next to their target: the mirror lock means a
single writer per path, so a run killed mid-write leaves at most one such file per target,
which the next write of that target reuses.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import StorageError, UnsafePath

TEMP_SUFFIX = ".part"
_CHUNK = 1 << 20


def temp_name(path: str) -> str:
    head, tail = posixpath.split(path)
    return posixpath.join(head, f".{tail}{TEMP_SUFFIX}")


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def _explain(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on device; free some space and run again"
    if exc.errno == errno.EDQUOT:
        return "disk quota exceeded; raise the quota or free some space and run again"
    if exc.errno == errno.EFBIG:
        return "file too large for this system's file-size limit (ulimit -f); raise it"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied; check the owner of the mirror directory"
    return exc.strerror or str(exc)


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
"""Flags for a temp file: never through a symlink planted at its name."""


class _AtomicFile:
    """A temp file written with plain ``os`` calls: a Python file object would add an
    ``fstat``, an ``ioctl`` and a buffer copy to every file, and each system call costs a
    hand-over of the GIL in a thread pool."""

    __slots__ = ("_fd", "_path", "_target", "_temp")

    def __init__(self, fs: FilesystemStorage, path: str) -> None:
        self._path = path
        self._target = fs.abspath(path)
        head, tail = os.path.split(self._target)
        self._temp = f"{head}/.{tail}{TEMP_SUFFIX}"
        self._fd = fs.create(self._temp, head)

    def write(self, data: bytes | memoryview) -> None:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            self.abort()
            raise StorageError(self._path, _explain(exc)) from exc

    def commit(self, durable: bool = False) -> None:
        try:
            if durable:
                os.fsync(self._fd)
            fd, self._fd = self._fd, -1
            os.close(fd)
            os.replace(self._temp, self._target)
        except OSError as exc:
            self.abort()
            raise StorageError(self._path, _explain(exc)) from exc

    def abort(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._temp)


class FilesystemStorage:
    """Storage rooted at one local directory.

    A write opens its temp file straight away; only when the directory is missing does it
    make it, top down, remembering every directory it made or found, so each level of
    ``web/packages/<aa>/<bb>/`` costs one ``mkdir`` per run, not one per file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root = str(root)
        self._dirs: set[str] = set()

    def resolve(self, path: str) -> Path:
        return Path(self.abspath(path))

    def abspath(self, path: str) -> str:
        """The absolute path of a mirror-relative one, refused if it would leave the root."""
        norm = posixpath.normpath(path)
        if (
            path.startswith("/")
            or norm.startswith("..")
            or norm != path.rstrip("/")
            or "\x00" in path
        ):
            raise UnsafePath(path, "path leaves the mirror directory or is not normalized")
        return f"{self._root}/{norm}"

    def create(self, path: str, directory: str) -> int:
        """Open a new file for writing (its directory is made when missing)."""
        try:
            return os.open(path, _CREATE, 0o644)
        except FileNotFoundError:
            pass
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            os.unlink(path)  # a symlink planted at our temp name: never write through it
            return os.open(path, _CREATE, 0o644)
        self._dirs.discard(directory)
        try:
            self._make_dirs(directory)
        except FileNotFoundError:  # a directory this run made was removed behind its back
            self._dirs.clear()
            self._make_dirs(directory)
        return os.open(path, _CREATE, 0o644)

    def _make_dirs(self, directory: str) -> None:
        """``mkdir -p`` from the top down: each level costs one ``mkdir`` the first time
        this run needs it, and nothing after that."""
        if directory in self._dirs:
            return
        parent = os.path.dirname(directory)
        if parent != directory:
            self._make_dirs(parent)
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory)
        self._dirs.add(directory)

    def open_atomic(self, path: str) -> _AtomicFile:
        try:
            return _AtomicFile(self, path)
        except OSError as exc:
            raise StorageError(path, _explain(exc)) from exc

    def write_bytes(self, path: str, data: bytes, *, durable: bool = False) -> None:
        fh = self.open_atomic(path)
        fh.write(data)
        fh.commit(durable=durable)

    def open_read(self, path: str) -> BinaryIO:
        try:
            return open(self.abspath(path), "rb")
        except OSError as exc:
            raise StorageError(path, _explain(exc)) from exc

    def read_bytes(self, path: str) -> bytes | None:
        try:
            with open(self.abspath(path), "rb", buffering=0) as fh:
                return fh.readall()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(path, _explain(exc)) from exc

    def size(self, path: str) -> int | None:
        try:
            return os.stat(self.abspath(path)).st_size
        except FileNotFoundError:
            return None

    def sha256(self, path: str) -> str | None:
        digest = hashlib.sha256()
        try:
            with open(self.abspath(path), "rb", buffering=0) as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(path, _explain(exc)) from exc
        return digest.hexdigest()

    def append_line(self, path: str, line: str) -> None:
        target = self.abspath(path)
        data = (line.rstrip("\n") + "\n").encode("utf-8")
        try:
            self._make_dirs(os.path.dirname(target))
            fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StorageError(path, _explain(exc)) from exc

    def symlink(self, path: str, target: str) -> None:
        link = self.resolve(path)
        dest = self.resolve(target)
        relative = os.path.relpath(dest, link.parent)
        temp = self.resolve(temp_name(path))
        try:
            link.parent.mkdir(parents=True, exist_ok=True)
            temp.unlink(missing_ok=True)
            os.symlink(relative, temp)
            os.replace(temp, link)
        except OSError as exc:
            raise StorageError(path, _explain(exc)) from exc

    def delete(self, path: str) -> bool:
        try:
            os.unlink(self.abspath(path))
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(path, _explain(exc)) from exc
        return True

    def remove_empty_dirs(self, path: str, stop: str) -> None:
        current = self.resolve(path)
        limit = self.resolve(stop)
        while current != limit and limit in current.parents:
            try:
                current.rmdir()
            except OSError:
                return
            self._dirs.discard(str(current))
            current = current.parent

    def list_dir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(self.resolve(path)))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def walk_files(self, path: str) -> Iterator[str]:
        base = self.resolve(path)
        for dirpath, _dirs, files in os.walk(base):
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            for name in files:
                yield f"{rel_dir}/{name}"

    def discard_partial(self, path: str) -> None:
        self.resolve(temp_name(path)).unlink(missing_ok=True)

    def exists(self, path: str) -> bool:
        return self.resolve(path).exists()
