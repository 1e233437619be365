"""The mirror's own pages, read back: the one reader of what the mirror publishes.

The pages are the mirror's record of which files belong to a project (each with its sha256),
whether or not ``json = true``: the JSON page when it is readable, else an HTML page. Pruning,
deleting, rebuilding the ledger and ``verify`` all read pages through ``ProjectPages``; the
bytes are parsed by ``simple.parse``.

One policy for the two HTML pages (``index.html`` and ``index.v1_html``): the first one that
is there and not empty. One policy for the serial: the JSON page's, else the HTML page's.
"""

from __future__ import annotations

import json
import logging
from functools import cached_property

from ..layout import HTML_LEAF, HTML_LEAVES, JSON_LEAF, LEAVES, SIMPLE, is_project_name, simple_dir
from ..ledger import Ledger
from ..models import Expected, IndexEntry, Project, ProjectName
from ..simple.parse import (
    expected_from_html_page,
    expected_from_json_page,
    page_serial,
    page_title,
)
from ..storage import Storage
from ..upstream.metadata import parse_project

log = logging.getLogger(__name__)


class ProjectPages:
    """A project's page files (``web/simple/<name>/``), each read on first use (most
    callers need only one of them, or only to know which exist).

    ``root_uri``: the mirror's own absolute link prefix, if its pages use one. ``present``:
    the leaves known to exist (from one directory listing); None reads each to find out."""

    def __init__(
        self,
        storage: Storage,
        base: str,
        root_uri: str | None = None,
        present: frozenset[str] | None = None,
    ) -> None:
        self.storage = storage
        self.base = base
        self.root_uri = root_uri
        self._present = present
        self._read: dict[str, bytes | None] = {}

    @classmethod
    def of(
        cls, storage: Storage, name: ProjectName, hash_index: bool, root_uri: str | None = None
    ) -> ProjectPages:
        return cls(storage, simple_dir(name, hash_index), root_uri)

    @classmethod
    def listed(
        cls, storage: Storage, base: str, root_uri: str | None, linked: bool
    ) -> ProjectPages:
        """The pages a listing of ``base`` finds; ``linked`` (``keep_index_versions``):
        an ``index.html`` that links a lost copy counts as missing."""
        present = frozenset(storage.list_dir(base))
        if linked and HTML_LEAF in present and not storage.exists(f"{base}/{HTML_LEAF}"):
            present -= {HTML_LEAF}
        return cls(storage, base, root_uri, present)

    @property
    def present(self) -> frozenset[str]:
        """The page leaves that exist."""
        if self._present is None:
            self._present = frozenset(leaf for leaf in LEAVES if self.get(leaf) is not None)
        return self._present

    def get(self, leaf: str) -> bytes | None:
        if self._present is not None and leaf not in self._present:
            return None
        if leaf not in self._read:
            self._read[leaf] = self.storage.read_bytes(f"{self.base}/{leaf}")
        return self._read[leaf]

    def html(self) -> bytes | None:
        """The HTML page: ``index.html``, else ``index.v1_html``."""
        return self.get(HTML_LEAVES[0]) or self.get(HTML_LEAVES[1])

    def serial(self) -> int:
        """The serial the pages carry; 0 when none says."""
        return page_serial(self.get(JSON_LEAF), None) or page_serial(None, self.html())

    def title(self) -> str | None:
        """The display name in the HTML page's title (PEP 691 JSON has only the name)."""
        return page_title(self.html())

    @cached_property
    def json_files(self) -> tuple[Expected, ...] | None:
        """The files the JSON page lists; None when there is none or it is unreadable."""
        raw = self.get(JSON_LEAF)
        return expected_from_json_page(raw, self.root_uri) if raw else None

    def files(self) -> tuple[Expected, ...] | None:
        """The local files the project's pages list (the JSON page when readable, else
        the HTML page); None when neither is there to say."""
        if self.json_files is not None:
            return self.json_files
        html = self.html()
        return None if html is None else expected_from_html_page(html, self.root_uri)

    def every_file(self) -> set[str]:
        """``web/packages/...`` paths any of the pages lists (deleting leaves none)."""
        paths: set[str] = set()
        for leaf in LEAVES:
            raw = self.get(leaf)
            if raw is not None:
                listed = self.json_files if leaf == JSON_LEAF else None
                paths.update(e.path for e in listed or expected_from_html_page(raw, self.root_uri))
        return paths

    def entry(self, name: ProjectName) -> IndexEntry | None:
        """The project's ledger entry as its pages tell it; None when it has no page."""
        if self.get(JSON_LEAF) is None and self.html() is None:
            return None
        return IndexEntry(name, self.title() or name, self.serial())


STORED_ORIGIN = "https://stored.invalid"
"""The index a stored document is taken to come from when none is known (its relative
links resolve against it: only the path below ``/packages/`` of a file URL is kept)."""


def stored_project(name: ProjectName, raw: bytes, origin: str = STORED_ORIGIN) -> Project:
    """A stored JSON API document (``web/json/<name>``) -> Project, as fetched from
    ``origin``; ValueError or BadUpstreamData when it is unreadable."""
    return parse_project(f"{origin}/pypi/{name}/json", json.loads(raw), raw, None, name)


def listed_files(
    storage: Storage, name: ProjectName, hash_index: bool, root_uri: str | None = None
) -> tuple[Expected, ...] | None:
    """The local files the project's current page lists, or None when it has no page."""
    return ProjectPages.of(storage, name, hash_index, root_uri).files()


def project_dirs(storage: Storage, hash_index: bool) -> dict[ProjectName, str]:
    """Every project that has a page directory -> that directory (valid normalized names
    only: the root pages and temp files in ``web/simple`` never are)."""
    top = [n for n in storage.list_dir(SIMPLE) if is_project_name(n)]
    dirs = (
        [f"{SIMPLE}/{d}/{n}" for d in top for n in storage.list_dir(f"{SIMPLE}/{d}")]
        if hash_index
        else [f"{SIMPLE}/{n}" for n in top]
    )
    found: dict[ProjectName, str] = {}
    for directory in dirs:
        name = directory.rsplit("/", 1)[1]
        if is_project_name(name):
            found[ProjectName(name)] = directory
        else:
            log.debug("%s is not a normalized project name; skipped", directory)
    return found


def ledger_from_pages(storage: Storage, hash_index: bool) -> Ledger:
    """Rebuild the ledger by reading each project's page: a one-off for a mirror that has
    no ledger yet (one written by pypa/bandersnatch, or one whose ledger was deleted)."""
    dirs = project_dirs(storage, hash_index)
    entries = (ProjectPages(storage, d).entry(name) for name, d in dirs.items())
    return Ledger.of(e for e in entries if e is not None)
