"""Publishing to storage: project pages, JSON API copies and the root index.

Every write is atomic through the storage interface; callers publish in the order files,
``.metadata``, project pages, root index, so a page never links a file that is not stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from ..layout import (
    HTML_LEAF,
    HTML_LEAVES,
    JSON_LEAF,
    LEAVES,
    PACKAGES,
    PYPI_DIR,
    SIMPLE,
    V1_HTML_LEAF,
    VERSIONS,
    json_paths,
    metadata_of,
    provenance_of,
    simple_dir,
)
from ..ledger import Ledger
from ..models import Expected, ProjectName, SimpleFormat, SimplePage
from ..simple.render import PageOptions, render_project_html, render_project_json
from ..storage import Storage
from .readback import listed_files

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Publisher:
    storage: Storage
    simple_format: SimpleFormat
    hash_index: bool
    options: PageOptions
    cleanup_legacy: bool = False
    keep_index_versions: int = 0

    def project_pages(self, page: SimplePage) -> list[str]:
        """Write a project's simple pages; returns the paths written."""
        base = simple_dir(page.name, self.hash_index)
        written = []
        if self.simple_format.html:
            html = render_project_html(page, self.options).encode("utf-8")
            self.storage.write_bytes(f"{base}/{V1_HTML_LEAF}", html)
            if self.keep_index_versions > 0:
                written += self._versioned_index(base, page.serial, html)
            else:  # the same page under both names, written once
                self.storage.link(f"{base}/{HTML_LEAF}", f"{base}/{V1_HTML_LEAF}")
                written.append(f"{base}/{HTML_LEAF}")
            written.append(f"{base}/{V1_HTML_LEAF}")
        else:
            for leaf in HTML_LEAVES:
                self.storage.delete(f"{base}/{leaf}")
        if self.simple_format.json:
            body = render_project_json(page, self.options).encode("utf-8")
            self.storage.write_bytes(f"{base}/{JSON_LEAF}", body)
            written.append(f"{base}/{JSON_LEAF}")
        else:
            self.storage.delete(f"{base}/{JSON_LEAF}")
        if self.cleanup_legacy and page.display_name.lower() != page.name:
            self._remove_legacy_dir(page.display_name)
        return written

    def _versioned_index(self, base: str, serial: int, html: bytes) -> list[str]:
        """``keep_index_versions``: ``index.html`` links the newest of the last N copies in
        ``versions/index_<serial>_<UTC time>.html``."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        version = f"{base}/{VERSIONS}/index_{serial}_{stamp}.html"
        self.storage.write_bytes(version, html)
        self.storage.symlink(f"{base}/{HTML_LEAF}", version)
        kept = sorted(
            (n for n in self.storage.list_dir(f"{base}/{VERSIONS}") if n.startswith("index_")),
            key=lambda n: (int(n.split("_")[1]) if n.split("_")[1].isdigit() else 0, n),
        )
        for old in kept[: -self.keep_index_versions]:
            self.storage.delete(f"{base}/{VERSIONS}/{old}")
        return [version, f"{base}/{HTML_LEAF}"]

    def json_document(self, name: ProjectName, document: bytes) -> list[str]:
        """``web/json/<name>`` and the ``web/pypi/<name>/json`` link to it."""
        path, alias = json_paths(name)
        self.storage.write_bytes(path, document)
        self.storage.symlink(alias, path)
        return [path, alias]

    @property
    def own_root_uri(self) -> str | None:
        """The absolute prefix this mirror's pages link its own files with, if any."""
        return None if self.options.link_upstream else self.options.root_uri

    def listing(self, name: ProjectName) -> tuple[Expected, ...] | None:
        """The local files the project's current page lists (None: no page)."""
        return listed_files(self.storage, name, self.hash_index, self.own_root_uri)

    def delete_files(self, paths: Iterable[str]) -> int:
        """Delete stored files (``web/packages/...``) with their ``.metadata``; returns the
        number of files removed. Emptied directories go too."""
        removed = 0
        for path in paths:
            removed += self.storage.delete(path)
            self.storage.delete(metadata_of(path))
            self.storage.delete(provenance_of(path))
            self.storage.remove_empty_dirs(path.rsplit("/", 1)[0], PACKAGES)
        return removed

    def remove_project(self, name: ProjectName) -> int:
        """Remove everything of a project: its pages and JSON copies first (so no page
        ever links a missing file), then the files its page listed and their ``.metadata``.
        Returns the number of files removed."""
        listed = self.listing(name) or ()
        base = simple_dir(name, self.hash_index)
        for leaf in LEAVES:
            self.storage.delete(f"{base}/{leaf}")
            self.storage.discard_partial(f"{base}/{leaf}")
        for old in self.storage.list_dir(f"{base}/{VERSIONS}"):
            self.storage.delete(f"{base}/{VERSIONS}/{old}")
        self.storage.remove_empty_dirs(f"{base}/{VERSIONS}", SIMPLE)
        self.storage.remove_empty_dirs(base, SIMPLE)
        path, alias = json_paths(name)
        self.storage.delete(path)
        self.storage.delete(alias)
        self.storage.remove_empty_dirs(alias.rsplit("/", 1)[0], PYPI_DIR)
        return self.delete_files(f.path for f in listed)

    def root_index(self, ledger: Ledger, serial: int) -> list[str]:
        """Publish the root index and the ledger it is rendered from, kept in step;
        returns the pages written."""
        return ledger.publish(self.storage, self.simple_format, serial)

    def _remove_legacy_dir(self, display_name: str) -> None:
        """``cleanup = true``: drop a pre-normalization ``web/simple/<Display.Name>/``.

        Only called when the names differ beyond case, so a case-insensitive filesystem
        never sees this delete the project's own directory."""
        if "/" in display_name or display_name.startswith("."):
            return
        legacy = f"{SIMPLE}/{display_name}"
        for leaf in self.storage.list_dir(legacy):
            self.storage.delete(f"{legacy}/{leaf}")
        self.storage.remove_empty_dirs(legacy, SIMPLE)
        log.debug("removed legacy directory %s", legacy)
