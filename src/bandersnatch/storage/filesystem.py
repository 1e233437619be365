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
import shutil
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
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied; check the owner of the mirror directory"
    return exc.strerror or str(exc)


class _AtomicFile:
    def __init__(self, fs: FilesystemStorage, path: str) -> None:
        self._fs = fs
        self._path = path
        self._target = fs.resolve(path)
        self._temp = fs.resolve(temp_name(path))
        try:
            self._fh = open(self._temp, "wb")  # noqa: SIM115 - closed in commit/abort
        except FileNotFoundError:  # only a new directory costs a mkdir
            self._target.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self._temp, "wb")  # noqa: SIM115

    def write(self, data: bytes | memoryview) -> None:
        try:
            self._fh.write(data)
        except OSError as exc:
            self.abort()
            raise StorageError(self._path, _explain(exc)) from exc

    def commit(self, durable: bool = False) -> None:
        try:
            self._fh.flush()
            if durable:
                os.fsync(self._fh.fileno())
            self._fh.close()
            os.replace(self._temp, self._target)
        except OSError as exc:
            self.abort()
            raise StorageError(self._path, _explain(exc)) from exc

    def abort(self) -> None:
        if not self._fh.closed:
            # closing flushes the buffer, which fails again on a full disk: the data is
            # being thrown away anyway
            with contextlib.suppress(OSError):
                self._fh.close()
        self._temp.unlink(missing_ok=True)


class FilesystemStorage:
    """Storage rooted at one local directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def resolve(self, path: str) -> Path:
        norm = posixpath.normpath(path)
        if (
            path.startswith("/")
            or norm.startswith("..")
            or norm != path.rstrip("/")
            or "\x00" in path
        ):
            raise UnsafePath(path, "path leaves the mirror directory or is not normalized")
        return self.root / norm

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
            return open(self.resolve(path), "rb")
        except OSError as exc:
            raise StorageError(path, _explain(exc)) from exc

    def read_bytes(self, path: str) -> bytes | None:
        try:
            return self.resolve(path).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(path, _explain(exc)) from exc

    def size(self, path: str) -> int | None:
        try:
            return self.resolve(path).stat().st_size
        except FileNotFoundError:
            return None

    def sha256(self, path: str) -> str | None:
        digest = hashlib.sha256()
        try:
            with open(self.resolve(path), "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(path, _explain(exc)) from exc
        return digest.hexdigest()

    def append_line(self, path: str, line: str) -> None:
        target = self.resolve(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(line.rstrip("\n") + "\n")
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

    def hardlink(self, path: str, target: str) -> None:
        link, temp = self.resolve(path), self.resolve(temp_name(path))
        try:
            temp.unlink(missing_ok=True)
            try:
                os.link(self.resolve(target), temp)
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                    raise
                shutil.copyfile(self.resolve(target), temp)  # no hard links here: a copy
            os.replace(temp, link)
        except OSError as exc:
            raise StorageError(path, _explain(exc)) from exc

    def delete(self, path: str) -> bool:
        target = self.resolve(path)
        try:
            target.unlink()
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

    def fingerprint(self, path: str) -> str | None:
        try:
            st = self.resolve(path).stat()
        except FileNotFoundError:
            return None
        return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
