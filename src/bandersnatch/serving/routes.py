"""What a request URL asks for: a negotiated page directory, a file below ``web/``, a
redirect, or nothing. Pure: strings in, a route out; nothing here touches the disk.

Every path segment is percent-decoded once and refused if it could name something other than
itself: ``.``/``..``, an encoded ``/`` (``%2f``), a backslash, a NUL or a control character,
or bytes that are not UTF-8. ``//`` inside a path is refused too. What passes names a path
below ``web/`` and nothing else; ``files.open_inside`` then refuses symlinks that lead out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from ..layout import WEB, simple_dir
from ..models import project_name

JSON_API = "application/json"
OCTET_STREAM = "application/octet-stream"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\/]")


@dataclass(frozen=True)
class Redirect:
    location: str
    """An absolute path (with the query string kept)."""


@dataclass(frozen=True)
class Pages:
    """A directory of simple pages, relative to ``web/``; the representation is negotiated."""

    directory: str
    format: str | None = None
    """The PEP 691 ``?format=`` query parameter, if given."""


@dataclass(frozen=True)
class File:
    path: str
    """Relative to ``web/``."""
    content_type: str


Route = Redirect | Pages | File | None


def _segments(path: str) -> list[str] | None:
    """The decoded segments of an absolute path (a trailing ``""`` for a trailing slash)."""
    if not path.startswith("/"):
        return None
    raw = path[1:].split("/")
    if "" in raw[:-1]:
        return None
    out = []
    for seg in raw:
        try:
            text = unquote(seg, errors="strict")
        except UnicodeDecodeError:
            return None
        if text in (".", "..") or _UNSAFE.search(text):
            return None
        out.append(text)
    return out


def content_type(path: str) -> str:
    """The Content-Type of a file below ``web/`` (relative path)."""
    first, _, rest = path.partition("/")
    if first == "packages":
        return JSON_API if rest.endswith(".provenance") else OCTET_STREAM
    if first == "json" or (first == "pypi" and rest.endswith("/json")):
        return JSON_API
    if path == "last-modified":
        return "text/plain"
    if not rest and path.endswith(".json"):  # the run report, web/status.json
        return JSON_API
    return OCTET_STREAM


def _query(query: str) -> str:
    return f"?{query}" if query else ""


def _simple(names: list[str], slash: bool, query: str, hash_index: bool) -> Route:
    """``/simple/`` and ``/simple/<name>/``: the root or a project's pages, or a redirect
    to the normalized name with a trailing slash."""
    fmt = dict(parse_qsl(query)).get("format")
    if len(names) == 1:
        return Pages("simple", fmt) if slash else Redirect("/simple/" + _query(query))
    normal = project_name(names[1]) if len(names) == 2 else None
    if normal is None:
        return None
    if normal != names[1] or not slash:
        return Redirect(f"/simple/{quote(normal)}/" + _query(query))
    return Pages(simple_dir(normal, hash_index).removeprefix(f"{WEB}/"), fmt)


def route(target: str, hash_index: bool) -> Route:
    """Where a request target (origin-form ``/path?query``, or an absolute URL) leads."""
    if not target.startswith("/"):
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https"):
            return None
        target = parts.path + _query(parts.query)
    path, _, query = target.partition("#")[0].partition("?")
    segs = _segments(path)
    if not segs or segs == [""]:
        return None
    slash = segs[-1] == ""
    names = segs[:-1] if slash else segs
    if names[0] == "simple":
        return _simple(names, slash, query, hash_index)
    if slash:
        return None  # directories are never listed
    rel = "/".join(names)
    return File(rel, content_type(rel))
