"""Where things live in the mirror, and the checks that keep upstream data inside it.

Pure functions over strings. Every path derived from upstream data (file URLs, filenames,
project names) goes through here before anything touches storage.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from .errors import UnsafePath
from .models import ProjectName

_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_MAX_SEGMENT = 255
MAX_PATH = 1024
"""The longest path below ``web/packages/`` a file may have (well inside PATH_MAX)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_segment(segment: str, what: str) -> None:
    """Refuse a path segment that is empty, a dot name, or carries separators/controls."""
    if segment in ("", ".", ".."):
        raise UnsafePath(segment, f"{what} is empty or a dot segment")
    if "/" in segment or "\\" in segment:
        raise UnsafePath(segment, f"{what} contains a path separator")
    if _CONTROL.search(segment):
        raise UnsafePath(segment.encode("unicode_escape").decode(), f"{what} has a control char")
    if len(segment.encode("utf-8", "surrogatepass")) > _MAX_SEGMENT:
        raise UnsafePath(segment[:40] + "...", f"{what} is longer than {_MAX_SEGMENT} bytes")


def check_filename(filename: str) -> None:
    """A distribution filename must be one plain, visible path segment."""
    check_segment(filename, "filename")
    if filename.startswith("."):
        raise UnsafePath(filename, "filename starts with a dot")


def packages_path(url: str, filename: str) -> str:
    """Map an upstream file URL to its path relative to ``web/packages/``.

    PyPI's files live at ``.../packages/<aa>/<bb>/<rest>/<filename>``; the directories after
    the last ``/packages/`` segment are kept, percent-decoded and checked one by one, and
    the file is stored under its filename there. A URL whose last segment is not the
    filename (a content-addressed store, legal in PEP 691) is stored the same way.
    """
    check_filename(filename)
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed "[" in the host
        raise UnsafePath(url, "file URL does not parse") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UnsafePath(url, "file URL is not an absolute http(s) URL")
    segments = parts.path.split("/")
    dirs = segments[:-1]
    if "packages" not in dirs:
        raise UnsafePath(url, "file URL has no /packages/ segment")
    start = len(dirs) - dirs[::-1].index("packages")  # the last one: proxies may nest it
    rel = [unquote(s) for s in segments[start:]]
    if not rel or not rel[-1]:
        raise UnsafePath(url, "file URL has nothing below /packages/")
    for seg in rel:
        check_segment(seg, "URL path segment")
    path = "/".join([*rel[:-1], filename])
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH:
        raise UnsafePath(url, f"file URL path is longer than {MAX_PATH} bytes")
    return path


def is_project_name(name: str) -> bool:
    """Is ``name`` a normalized project name? A directory entry in ``web/simple`` is a
    project exactly when it is: the root pages (``index.html``, ``index.v1_json``...) and
    temp files never are, while a project may be called ``index`` or ``indexer``."""
    return _NAME_RE.match(name) is not None


def check_project_name(name: ProjectName) -> None:
    """A normalized project name must be a safe single directory name."""
    if not _NAME_RE.match(name):
        raise UnsafePath(name, "not a valid normalized project name")


def simple_dir(name: ProjectName, hash_index: bool) -> str:
    """The directory (relative to the mirror root) holding a project's simple pages."""
    check_project_name(name)
    if hash_index:
        return f"web/simple/{name[0]}/{name}"
    return f"web/simple/{name}"


def package_file(path: str) -> str:
    """A stored file's location relative to the mirror root."""
    return f"web/packages/{path}"


def json_paths(name: ProjectName) -> tuple[str, str]:
    """``web/json/<name>`` and its alias ``web/pypi/<name>/json`` (``json = true``)."""
    check_project_name(name)
    return f"web/json/{name}", f"web/pypi/{name}/json"
