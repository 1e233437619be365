"""Where things live in the mirror: every path, directory, leaf name, prefix and suffix it
uses, and the checks that keep upstream data inside it.

Pure names and functions over strings; every other module imports its paths from here.
Every path derived from upstream data (file URLs, filenames, project names) goes through
here before anything touches storage. Paths are POSIX strings relative to the mirror
directory::

    .lock  generation  status  todo  todo.progress  projects  projects.stamp  failures
    filters  feed-validator  root-index-stale  verify.checkpoint
    web/last-modified
    web/simple/index.html  index.v1_html  index.v1_json                 the root index
    web/simple/[<first letter>/]<name>/index.html  index.v1_html  index.v1_json
                                        versions/index_<serial>_<time>.html
    web/packages/<aa>/<bb>/<rest>/<filename>  (+ <filename>.metadata)
    web/json/<name>  web/pypi/<name>/json
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from .errors import UnsafePath
from .models import ProjectName

# -- the web tree ------------------------------------------------------------------------
WEB = "web"
"""What a web server serves."""
PACKAGES = "web/packages"
SIMPLE = "web/simple"
JSON_DIR = "web/json"
PYPI_DIR = "web/pypi"
RELOCATABLE = frozenset((WEB, PACKAGES, SIMPLE, JSON_DIR, PYPI_DIR))
"""Layout directories an operator may replace with a symlink (to use another disk)."""
LAST_MODIFIED = "web/last-modified"
"""UTC time of the last completed run."""

HTML_LEAF, V1_HTML_LEAF, JSON_LEAF = "index.html", "index.v1_html", "index.v1_json"
"""The file names a page directory (``web/simple/`` or a project's) holds its pages under:
the same HTML page twice (legacy name and v1 name) and the JSON page."""
HTML_LEAVES = (HTML_LEAF, V1_HTML_LEAF)
LEAVES = (HTML_LEAF, V1_HTML_LEAF, JSON_LEAF)
VERSIONS = "versions"
"""A project's directory of kept HTML pages (``keep_index_versions``)."""
ROOT_HTML_PAGES = (f"{SIMPLE}/{HTML_LEAF}", f"{SIMPLE}/{V1_HTML_LEAF}")
ROOT_JSON_PAGE = f"{SIMPLE}/{JSON_LEAF}"
ROOT_PAGES = (*ROOT_HTML_PAGES, ROOT_JSON_PAGE)

METADATA_SUFFIX = ".metadata"
"""PEP 658: a file's core metadata lives at its path (and URL) plus this suffix."""
PROVENANCE_SUFFIX = ".provenance"
"""PEP 740: a file's provenance is stored at its path plus this suffix (upstream serves it
elsewhere; the mirror's pages link this copy)."""
PAGE_LINK_PREFIX = "../../packages/"
"""How a project page (served at ``/simple/<name>/``) links a stored file."""

# -- state files, beside web/ ------------------------------------------------------------
LOCK = ".lock"
"""Held for the whole run."""
GENERATION_FILE = "generation"
"""The layout version (``GENERATION``)."""
GENERATION = 5
STATUS = "status"
"""The last serial the whole mirror reached."""
TODO = "todo"
"""Target serial, then ``name serial`` lines (only while a run is incomplete)."""
PROGRESS = "todo.progress"
"""Append-only journal of projects finished since the ledger was last written."""
LEDGER = "projects"
"""``name<TAB>serial<TAB>display name`` for every project."""
LEDGER_STAMP = "projects.stamp"
"""Which of the ledger and the root pages are in step (``ledgerfile``)."""
FEED_VALIDATOR = "feed-validator"
"""What the change feed last said about itself (the simple index's ETag), for a
conditional request next run."""
FAILURES = "failures"
"""JSON: project -> {"since": epoch, "runs": n, "reason": text} for projects still failing."""
FILTERS = "filters"
"""A fingerprint of the filter config the mirror was last synced with."""
ROOT_STALE = "root-index-stale"
"""Present when ``sync --skip-simple-root`` changed the ledger but not the root index."""
CHECKPOINT = "verify.checkpoint"
"""The projects an interrupted ``verify`` had finished."""
STATE_FILES = (
    STATUS,
    TODO,
    LEDGER,
    LEDGER_STAMP,
    GENERATION_FILE,
    FAILURES,
    FILTERS,
    FEED_VALIDATOR,
    LAST_MODIFIED,
)
"""The files written whole (atomically) outside the page directories."""

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
        return f"{SIMPLE}/{name[0]}/{name}"
    return f"{SIMPLE}/{name}"


def package_file(path: str) -> str:
    """A stored file's location relative to the mirror root, from its path below
    ``web/packages/`` (``ReleaseFile.path``)."""
    return f"{PACKAGES}/{path}"


def package_rel(path: str) -> str:
    """The path below ``web/packages/`` of a stored file (the inverse of ``package_file``)."""
    return path.removeprefix(f"{PACKAGES}/")


def metadata_of(path: str) -> str:
    """The PEP 658 ``.metadata`` file of a file: its path or URL with the suffix."""
    return path + METADATA_SUFFIX


def provenance_of(path: str) -> str:
    """Where a file's PEP 740 provenance is stored (and linked): its path plus the suffix."""
    return path + PROVENANCE_SUFFIX


def json_paths(name: ProjectName) -> tuple[str, str]:
    """``web/json/<name>`` and its alias ``web/pypi/<name>/json`` (``json = true``)."""
    check_project_name(name)
    return f"{JSON_DIR}/{name}", f"{PYPI_DIR}/{name}/json"
