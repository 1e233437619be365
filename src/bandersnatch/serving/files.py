"""Opening a file inside ``web/`` for serving, and the HTTP facts about it: validators
(``ETag``, ``Last-Modified``), conditional requests and byte ranges.

A path is resolved with every symlink followed and served only if it ends inside ``web/``
or inside one of the layout directories an operator may move to another disk with a symlink
(``storage.filesystem.RELOCATABLE``). So the tool's own relative links work
(``web/pypi/<name>/json -> ../../json/<name>``, ``index.html -> versions/...``), and a link
that leads anywhere else, or anything that is not a regular file, answers 404.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime

from ..layout import RELOCATABLE, WEB

_OPEN = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.IGNORECASE)


@dataclass(frozen=True)
class Opened:
    """An open regular file: close ``fd`` when done."""

    fd: int
    size: int
    mtime: float
    etag: str

    @property
    def last_modified(self) -> str:
        return formatdate(self.mtime, usegmt=True)


def _roots(web: str) -> list[str]:
    tops = sorted(top.removeprefix(WEB).lstrip("/") for top in RELOCATABLE)
    return [os.path.realpath(os.path.join(web, top)) for top in tops]


def _inside(path: str, roots: list[str]) -> bool:
    return any(path.startswith(root + os.sep) for root in roots)


def open_inside(web: str, rel: str, tag: str = "") -> Opened | None:
    """Open ``web/<rel>`` for reading if it is a regular file inside the mirror; else None.
    ``tag`` tells representations of one file apart in its ETag."""
    real = os.path.realpath(os.path.join(web, rel))
    if not _inside(real, _roots(web)):
        return None
    try:
        fd = os.open(real, _OPEN)
    except OSError:
        return None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return None
    etag = f'"{info.st_mtime_ns:x}-{info.st_size:x}{tag}"'
    return Opened(fd, info.st_size, info.st_mtime, etag)


def _etags(header: str) -> list[str]:
    return [t.strip().removeprefix("W/") for t in header.split(",") if t.strip()]


def not_modified(file: Opened, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """Should a GET or HEAD answer 304? ``If-None-Match`` (weak comparison) decides when
    present; otherwise ``If-Modified-Since`` (the file is no newer than the date given)."""
    if if_none_match is not None:
        tags = _etags(if_none_match)
        return "*" in tags or file.etag in tags
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    return int(file.mtime) <= since


UNSATISFIABLE = "unsatisfiable"


Span = tuple[int, int]


def byte_range(header: str | None, if_range: str | None, file: Opened) -> Span | str | None:
    """The single byte range ``(first, last)`` a ``Range`` header asks for, UNSATISFIABLE
    (416), or None: answer with the whole file (no header, a malformed one, several ranges,
    or an ``If-Range`` that no longer matches)."""
    if header is None:
        return None
    if if_range is not None and if_range.strip() not in (file.etag, file.last_modified):
        return None
    match = _RANGE.fullmatch(header.replace(" ", ""))
    return None if match is None else _span(match[1], match[2], file.size)


def _span(first: str, last: str, size: int) -> Span | str | None:
    if not first:  # a suffix: the last N bytes
        if not last:
            return None
        suffix = int(last)
        return (max(0, size - suffix), size - 1) if suffix and size else UNSATISFIABLE
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        return UNSATISFIABLE
    return start, min(int(last), size - 1) if last else size - 1
