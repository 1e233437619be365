"""Local filesystem storage: atomic temp-file-then-rename writes, all inside one directory.

The mirror directory is the tool's own:

- Every path is checked lexically to stay inside the root before any system call.
- Every directory is checked once per run, top down, before anything is read, written or
  deleted in it: a symlink (or a file) where a directory belongs is refused, so nothing
  planted in the mirror can send a write, a read or a delete outside it. Only the layout's
  own top directories (``web`` and ``web/<packages|simple|json|pypi>``) may be symlinks an
  operator made, to put them on another disk.
- Temp files are created with ``O_EXCL | O_NOFOLLOW``; whatever already sits at a temp name
  (a killed run's leftover, a planted link) is removed first, never written through.
- Files are 0644, directories 0755 and state files (outside ``web/``) 0600, whatever the
  umask, unless ``manage_permissions`` is off.

A refusal that comes from the data (an upstream name that collides with another, one too
long for the filesystem) is an ``UnsafePath``: it fails that record. The machine's own
faults (disk full, read-only filesystem, permissions) are ``StorageError``: they stop the run.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import posixpath
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import filelock

from ..errors import MirrorLocked, StorageError, UnsafePath
from ..layout import LOCK, RELOCATABLE, WEB
from .scan import scan_tree

TEMP_SUFFIX = ".part"
_CHUNK = 1 << 20
_NAME_MAX = 255
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | _NOFOLLOW
_READ = os.O_RDONLY | os.O_CLOEXEC | _NOFOLLOW
_WEB = WEB + "/"
_FROM_DATA = frozenset(
    (errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.EEXIST, errno.EINVAL)
)
"""Errors a path built from upstream data can cause by itself (too long, or colliding
with another path): the record is refused, the run goes on."""


def temp_name(path: str) -> str:
    """``dir/.name.part`` for ``dir/name``; a name too long for that gets a digest instead."""
    head, tail = posixpath.split(path)
    name = f".{tail}{TEMP_SUFFIX}"
    if len(name.encode("utf-8", "surrogateescape")) > _NAME_MAX:
        name = f".{hashlib.sha256(tail.encode('utf-8', 'surrogateescape')).hexdigest()}"
        name += TEMP_SUFFIX
    return posixpath.join(head, name)


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def _explain(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on device; free some space and run again"
    if exc.errno == errno.EDQUOT:
        return "disk quota exceeded; raise the quota or free some space and run again"
    if exc.errno == errno.EFBIG:
        return "file too large for this system's file-size limit (ulimit -f); raise it"
    if exc.errno == errno.EROFS:
        return "read-only file system; mount it read-write or choose another directory"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied; check the owner of the mirror directory"
    return exc.strerror or str(exc)


def os_error(path: str, exc: OSError) -> StorageError:
    """The storage fault an OSError on ``path`` is, explained (no space, read-only...)."""
    return StorageError(path, _explain(exc))


def _error(path: str, exc: OSError) -> StorageError | UnsafePath:
    """The error an OSError on ``path`` becomes: a refusal of the record when upstream
    data can cause it (below ``web/``, two levels down), else a storage fault."""
    if exc.errno in _FROM_DATA and path.count("/") >= 3 and path.startswith(_WEB):
        return UnsafePath(path, f"the filesystem refuses it: {exc.strerror or exc}")
    return StorageError(path, _explain(exc))


class _AtomicFile:
    """A temp file written with plain ``os`` calls: a Python file object would add an
    ``fstat``, an ``ioctl`` and a buffer copy to every file, and each system call costs a
    hand-over of the GIL in a thread pool."""

    __slots__ = ("_fd", "_path", "_target", "_temp")

    def __init__(self, fs: FilesystemStorage, path: str) -> None:
        self._path = path
        self._target = fs.abspath(path)
        self._temp = fs.abspath(temp_name(path))
        self._fd = fs.create(self._temp, path)

    def write(self, data: bytes | memoryview) -> None:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            self.abort()
            raise _error(self._path, exc) from exc

    def commit(self, durable: bool = False) -> None:
        try:
            if durable:
                os.fsync(self._fd)
            fd, self._fd = self._fd, -1
            os.close(fd)
            os.replace(self._temp, self._target)
        except OSError as exc:
            self.abort()
            raise _error(self._path, exc) from exc

    def abort(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(self._temp)


class FilesystemStorage:
    """Storage rooted at one local directory."""

    def __init__(self, root: Path, *, manage_permissions: bool = True) -> None:
        self.root = root
        self._root = str(root)
        self._dirs: set[str] = set()
        """Directories this run has checked (or made): real directories inside the root."""
        umask = os.umask(0)
        os.umask(umask)
        self._fix_modes = manage_permissions and bool(umask & 0o755)

    # -- paths and directories --------------------------------------------------------------
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
        return self._root if norm == "." else f"{self._root}/{norm}"

    def _relative(self, absolute: str) -> str:
        return absolute[len(self._root) + 1 :]

    def _check_dir(self, directory: str, *, make: bool) -> bool:
        """Is ``directory`` (absolute) a real directory inside the root, its parents too?
        Made (with its parents) when ``make``; False when it is missing and not made."""
        if directory in self._dirs:
            return True
        if directory == self._root:
            if make:
                os.makedirs(directory, exist_ok=True)
            found = os.path.isdir(directory)
        elif not self._check_dir(os.path.dirname(directory), make=make):
            return False
        else:
            found = (make and self._made(directory)) or self._is_real_dir(directory)
        if found:
            self._dirs.add(directory)
        return found

    def _made(self, directory: str) -> bool:
        """Make one directory; False when something is there already."""
        try:
            os.mkdir(directory, 0o755)
        except FileExistsError:
            return False
        if self._fix_modes:
            os.chmod(directory, 0o755)  # noqa: S103 - a web server reads the mirror
        return True

    def _is_real_dir(self, directory: str) -> bool:
        """True for a directory (or a relocated layout directory), False when missing; a
        refusal for anything else in its place."""
        try:
            info = os.lstat(directory)
        except FileNotFoundError:
            return False
        rel = self._relative(directory)
        if stat.S_ISLNK(info.st_mode) and rel in RELOCATABLE:
            info = os.stat(directory)
        if stat.S_ISDIR(info.st_mode):
            return True
        what = "a symlink" if stat.S_ISLNK(info.st_mode) else "not a directory"
        reason = f"{what} where the mirror keeps a directory; nothing is done through it"
        if rel.count("/") >= 2:
            raise UnsafePath(rel, reason)
        raise StorageError(rel, reason + "; move it away and run again")

    def _parent(self, path: str, *, make: bool = False) -> str | None:
        """The absolute path of ``path`` once its directory is checked (None: missing)."""
        absolute = self.abspath(path)
        try:
            if not self._check_dir(os.path.dirname(absolute), make=make):
                return None
        except OSError as exc:
            raise _error(path, exc) from exc
        return absolute

    def create(self, temp: str, path: str) -> int:
        """Open a new temp file (absolute ``temp``) for ``path``, its directory made."""
        self._parent(path, make=True)
        mode = 0o644 if path.startswith(_WEB) else 0o600
        try:
            fd = os.open(temp, _CREATE, mode)
        except FileExistsError:  # a killed run's leftover, or something planted: replace it
            os.unlink(temp)
            fd = os.open(temp, _CREATE, mode)
        except FileNotFoundError:  # a directory it had checked was removed behind its back
            self._dirs.clear()
            self._parent(path, make=True)
            fd = os.open(temp, _CREATE, mode)
        if self._fix_modes:
            os.fchmod(fd, mode)
        return fd

    # -- writes ---------------------------------------------------------------------------
    def open_atomic(self, path: str) -> _AtomicFile:
        try:
            return _AtomicFile(self, path)
        except OSError as exc:
            raise _error(path, exc) from exc

    def write_bytes(self, path: str, data: bytes, *, durable: bool = False) -> None:
        fh = self.open_atomic(path)
        fh.write(data)
        fh.commit(durable=durable)

    def append_line(self, path: str, line: str) -> None:
        target = self._parent(path, make=True)
        assert target is not None
        data = (line.rstrip("\n") + "\n").encode("utf-8")
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | _NOFOLLOW
        try:
            fd = os.open(target, flags, 0o644 if path.startswith(_WEB) else 0o600)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _error(path, exc) from exc

    def link(self, path: str, existing: str) -> None:
        source = self._parent(existing)
        name = self._parent(path, make=True)
        assert source is not None and name is not None
        temp = self.abspath(temp_name(path))
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            os.link(source, temp, follow_symlinks=False)
            os.replace(temp, name)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP):
                raise _error(path, exc) from exc
            data = self.read_bytes(existing)  # a filesystem without hard links: copy
            if data is None:
                raise StorageError(existing, "no such file") from exc
            self.write_bytes(path, data)

    def symlink(self, path: str, target: str) -> None:
        link = self._parent(path, make=True)
        assert link is not None
        relative = os.path.relpath(self.abspath(target), os.path.dirname(link))
        temp = self.abspath(temp_name(path))
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            os.symlink(relative, temp)
            os.replace(temp, link)
        except OSError as exc:
            raise _error(path, exc) from exc

    def delete(self, path: str) -> bool:
        target = self._parent(path)
        if target is None:
            return False
        try:
            os.unlink(target)
        except FileNotFoundError:
            return False
        except IsADirectoryError:
            raise UnsafePath(path, "a directory where the mirror keeps a file") from None
        except OSError as exc:
            raise _error(path, exc) from exc
        return True

    def remove_empty_dirs(self, path: str, stop: str) -> None:
        current = self.abspath(path)
        limit = self.abspath(stop)
        while current.startswith(limit + "/"):
            try:
                os.rmdir(current)
            except OSError:
                return
            self._dirs.discard(current)
            current = os.path.dirname(current)

    def discard_partial(self, path: str) -> None:
        target = self._parent(temp_name(path))
        if target is not None:
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                os.unlink(target)

    def discard_partials(self, path: str) -> None:
        for name in self.list_dir(path):
            if is_temp_name(name):
                self.delete(f"{path}/{name}")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """``<root>/.lock``, held with ``flock`` (released by the kernel if the run dies)."""
        path = f"{self._root}/{LOCK}"
        held = filelock.FileLock(path, timeout=0)
        try:  # read-only, not ours, not a directory: a StorageError naming the path
            self.root.mkdir(parents=True, exist_ok=True)
            held.acquire()
        except filelock.Timeout:
            raise MirrorLocked(path) from None
        except OSError as exc:
            raise os_error(path, exc) from None
        try:
            yield
        finally:
            held.release()

    @contextlib.contextmanager
    def peek_lock(self) -> Iterator[None]:
        """A shared ``flock`` on an existing ``<root>/.lock`` opened read-only (nothing is
        created): a run holding the lock makes this raise MirrorLocked, and a run started
        meanwhile finds the mirror locked."""
        path = f"{self._root}/{LOCK}"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            yield  # no run has ever locked this mirror
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise MirrorLocked(path) from None
            yield
        finally:
            os.close(fd)

    # -- reads ----------------------------------------------------------------------------
    def _open(self, path: str, *, follow: bool = True) -> int | None:
        """A read-only descriptor of the regular file at ``path``, or None if it is not
        there. A symlink is followed once when it points inside the mirror (the tool makes
        such links: ``keep_index_versions``, ``web/pypi/<name>/json``); any other symlink
        or a directory in its place counts as not there."""
        target = self._parent(path)
        if target is None:
            return None
        try:
            fd = os.open(target, _READ)
        except (FileNotFoundError, IsADirectoryError):
            return None
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise _error(path, exc) from exc
            link = os.readlink(target)
            inside = posixpath.normpath(posixpath.join(posixpath.dirname(path), link))
            if not follow or link.startswith("/") or inside.startswith(".."):
                return None
            return self._open(inside, follow=False)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        return fd

    def open_read(self, path: str) -> BinaryIO:
        fd = self._open(path)
        if fd is None:
            raise StorageError(path, "no such file")
        return open(fd, "rb")

    def read_bytes(self, path: str) -> bytes | None:
        fd = self._open(path)
        if fd is None:
            return None
        try:
            with open(fd, "rb", buffering=0) as fh:
                return fh.readall()
        except OSError as exc:
            raise _error(path, exc) from exc

    def size(self, path: str) -> int | None:
        target = self._parent(path)
        if target is None:
            return None
        try:
            info = os.lstat(target)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return info.st_size if stat.S_ISREG(info.st_mode) else None

    def sha256(self, path: str) -> str | None:
        fd = self._open(path)
        if fd is None:
            return None
        digest = hashlib.sha256()
        try:
            with open(fd, "rb", buffering=0) as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
        except OSError as exc:
            raise _error(path, exc) from exc
        return digest.hexdigest()

    def exists(self, path: str) -> bool:
        target = self._parent(path)
        return target is not None and os.path.lexists(target)

    def list_dir(self, path: str) -> list[str]:
        directory = self.abspath(path)
        try:
            if not self._check_dir(directory, make=False):
                return []
            return sorted(os.listdir(directory))
        except (FileNotFoundError, NotADirectoryError, UnsafePath):
            return []

    def walk_files(self, path: str) -> Iterator[str]:
        base = self.abspath(path)
        if not self._check_dir(base, make=False):
            return
        for dirpath, _dirs, files in os.walk(base):
            rel_dir = self._relative(dirpath)
            for name in files:
                yield f"{rel_dir}/{name}"

    def file_sizes(self, path: str, workers: int = 1) -> dict[str, int]:
        return scan_tree(self.abspath(path), path.rstrip("/"), workers)

    def fingerprint(self, path: str) -> str | None:
        target = self._parent(path)
        if target is None:
            return None
        try:
            st = os.stat(target)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
