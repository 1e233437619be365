"""Verifying one project: find its truth, check its files, repair them, then its pages.

The truth is the project's stored metadata (``web/json/<name>``, or upstream's with
``--json-update``) when there is one no older than its page; otherwise its own pages, which
list every file with its digest. Runs in worker threads, one project per task; digests and
downloads go to a shared file pool, so even one large project is hashed in parallel.
Repairs follow the publishing order: files, then ``.metadata``, then the project's pages.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from ..errors import BadUpstreamData, NotFound, UpstreamError
from ..filters import ProjectFilter
from ..layout import HTML_LEAVES, JSON_LEAF, json_paths, package_file, simple_dir
from ..models import Expected, IndexEntry, Project, ProjectName, SimplePage
from ..simple.parse import page_from_json
from ..simple.render import render_project_html, render_project_json
from ..site.publish import Publisher
from ..site.readback import ProjectPages, stored_project
from ..storage import Storage
from ..upstream.download import Downloader
from ..upstream.metadata import MetadataClient
from ..upstream.session import SessionFactory
from .files import FileChecker, log_finding
from .plan import (
    JSON_DOC,
    NO_SOURCE,
    PAGE,
    Finding,
    ProjectOutcome,
    expected_from_project,
    page_for,
    referenced,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifyOptions:
    hash_files: bool
    repair: bool
    json_update: bool = False
    release_files: bool = True
    core_metadata: bool = True
    json_enabled: bool = False
    prune_filtered: bool = True
    files_base: str = "https://files.pythonhosted.org"


@dataclass(frozen=True)
class _Truth:
    expected: tuple[Expected, ...]
    project: Project | None
    findings: tuple[Finding, ...] = ()
    kept: frozenset[str] = frozenset()
    """Files the filters exclude but ``prune-filtered = false`` keeps on disk."""
    json_page_ok: bool = True


class ProjectVerifier:
    def __init__(
        self,
        storage: Storage,
        publisher: Publisher,
        downloader: Downloader,
        metadata: MetadataClient,
        sessions: SessionFactory,
        sizes: Mapping[str, int],
        json_names: frozenset[str],
        options: VerifyOptions,
        project_filter: ProjectFilter,
        file_pool: ThreadPoolExecutor,
    ) -> None:
        self.storage = storage
        self.publisher = publisher
        self.metadata = metadata
        self.sessions = sessions
        self.json_names = json_names
        """Names in ``web/json`` (listed once per run, not stat'ed per project)."""
        self.options = options
        self.project_filter = project_filter
        self.files = FileChecker(
            storage,
            downloader,
            sessions,
            sizes,
            file_pool,
            options.hash_files,
            options.repair,
            options.files_base,
            self._provenance_urls,
        )

    def _provenance_urls(self, name: str) -> dict[str, str]:
        """Upstream's provenance URLs for a project's files (one metadata request), for a
        missing ``.provenance`` its pages list: the pages only link the mirror's copy."""
        project = self._fetch(ProjectName(name), None)
        if project is None:
            return {}
        return {package_file(f.path): f.provenance_url for f in project.files if f.provenance_url}

    def verify(self, name: ProjectName, entry: IndexEntry | None, check: bool) -> ProjectOutcome:
        """Check (and unless dry-running, repair) one project. With ``check`` false only
        the files it references are worked out (a project an earlier run finished)."""
        base = simple_dir(name, self.publisher.hash_index)
        own, linked = self.publisher.own_root_uri, self.publisher.keep_index_versions > 0
        pages = ProjectPages.listed(self.storage, base, own, linked)
        truth = self._truth(name, entry, pages)
        if truth is None:
            finding = Finding(NO_SOURCE, base, None, "no page and no stored metadata")
            log_finding(name, finding)
            return ProjectOutcome(name, (finding,), ((finding, finding.detail),), known=False)
        refs = referenced(truth.expected) | truth.kept
        if not check:
            return ProjectOutcome(name, referenced=refs)
        findings, failed, downloaded = self.files.check(name, truth.expected)
        broken = {f.path for f, _ in failed} if self.options.repair else set()
        if truth.project is not None:
            page_findings, page_failed = self._republish(name, truth, pages, broken)
            listed_as = (truth.project.display_name, truth.project.serial)
        else:
            json_ok = truth.json_page_ok
            page_findings, page_failed = self._rebuild(name, entry, pages, json_ok)
            display = entry.display_name if entry else pages.title() or name
            listed_as = (display, pages.serial())
        return ProjectOutcome(
            name,
            (*truth.findings, *findings, *page_findings),
            (*((f, f.detail) for f in truth.findings), *failed, *page_failed),
            refs,
            len(truth.expected),
            downloaded,
            listed_as=listed_as,
        )

    # -- the truth -------------------------------------------------------------------------
    def _truth(
        self, name: ProjectName, entry: IndexEntry | None, pages: ProjectPages
    ) -> _Truth | None:
        project, findings = self._metadata(name, entry, pages)
        kept = self.project_filter(project) if project is not None else None
        if kept is not None and entry is not None:
            kept = replace(kept, display_name=entry.display_name)  # as the mirror titled it
        if project is not None and kept is not None:
            expected = expected_from_project(kept, core_metadata=self.options.core_metadata)
            hidden: frozenset[str] = frozenset()
            if not self.options.prune_filtered:
                hidden = frozenset(package_file(f.path) for f in project.files)
            files = expected if self.options.release_files else ()
            return _Truth(files, kept, findings, hidden)
        if not pages.present & {*HTML_LEAVES, JSON_LEAF}:
            return None
        if not self.options.release_files:
            return _Truth((), None, findings)  # the pages link upstream: nothing stored
        listed = pages.files()
        if listed is None:
            return None  # only an unreadable JSON page: its files are unknown
        json_ok = pages.json_files is not None or pages.get(JSON_LEAF) is None
        return _Truth(listed, None, findings, json_page_ok=json_ok)

    def _metadata(
        self, name: ProjectName, entry: IndexEntry | None, pages: ProjectPages
    ) -> tuple[Project | None, tuple[Finding, ...]]:
        if self.options.json_update:
            project = self._fetch(name, entry)
            if project is not None:
                return project, ()
        path = json_paths(name)[0]
        raw = self.storage.read_bytes(path) if name in self.json_names else None
        if raw is None:
            return None, ()
        try:
            project = stored_project(name, raw, self.metadata.master)
        except (ValueError, BadUpstreamData) as exc:
            finding = Finding(JSON_DOC, path, None, f"unreadable ({exc}); --json-update fetches it")
            log_finding(name, finding)
            return None, (finding,)
        if project.serial < pages.serial():
            log.debug("%s: %s is older than the page; checking against the page", name, path)
            return None, ()
        return project, ()

    def _fetch(self, name: ProjectName, entry: IndexEntry | None) -> Project | None:
        try:
            project = self.metadata.fetch(self.sessions.get(), name, entry.serial if entry else 0)
        except NotFound:
            log.warning("%s: upstream has no releases now; verifying the local copy", name)
            return None
        except UpstreamError as exc:
            log.warning("%s: could not refresh metadata (%s); using the stored copy", name, exc)
            return None
        document = project.json_document
        path = json_paths(name)[0]
        stored = self.storage.read_bytes(path)
        if self.options.repair and self.options.json_enabled and document and stored != document:
            self.publisher.json_document(name, document)
        return project

    # -- pages -----------------------------------------------------------------------------
    def _rendered(self, page: SimplePage) -> dict[str, bytes]:
        fmt, opts = self.publisher.simple_format, self.publisher.options
        out: dict[str, bytes] = {}
        if fmt.html:
            html = render_project_html(page, opts).encode("utf-8")
            out.update(dict.fromkeys(HTML_LEAVES, html))
        if fmt.json:
            out[JSON_LEAF] = render_project_json(page, opts).encode("utf-8")
        return out

    def _republish(
        self, name: ProjectName, truth: _Truth, pages: ProjectPages, broken: set[str]
    ) -> tuple[list[Finding], list[tuple[Finding, str]]]:
        """Compare the pages with what the metadata renders to; rewrite them if they differ."""
        assert truth.project is not None
        page = page_for(truth.project, truth.expected, broken, self.options.release_files)
        rendered = self._rendered(page)
        differ = [leaf for leaf, body in rendered.items() if pages.get(leaf) != body]
        if not differ:
            return [], []
        base = simple_dir(name, self.publisher.hash_index)
        detail = f"differs from the metadata: {', '.join(differ)}"
        finding = Finding(PAGE, f"{base}/{differ[0]}", None, detail)
        log_finding(name, finding)
        if not self.options.repair:
            return [finding], [(finding, "dry run")]
        self.publisher.project_pages(page)
        return [finding], []

    def _rebuild(
        self, name: ProjectName, entry: IndexEntry | None, pages: ProjectPages, json_ok: bool
    ) -> tuple[list[Finding], list[tuple[Finding, str]]]:
        """No metadata: rebuild a missing (or unreadable JSON) page from the others."""
        fmt = self.publisher.simple_format
        wanted = (*(HTML_LEAVES if fmt.html else ()), *((JSON_LEAF,) if fmt.json else ()))
        broken = [leaf for leaf in wanted if leaf not in pages.present]
        if fmt.json and JSON_LEAF in pages.present and not json_ok:
            broken.append(JSON_LEAF)
        if not broken:
            return [], []
        display = entry.display_name if entry else pages.title() or name
        raw_json = pages.get(JSON_LEAF) if json_ok else None
        model = page_from_json(name, display, raw_json, pages.root_uri) if raw_json else None
        rendered = self._rendered(model) if model else {}
        twin = pages.html()
        base = simple_dir(name, self.publisher.hash_index)
        findings, failed = [], []
        for leaf in broken:
            body = rendered.get(leaf) or (twin if leaf in HTML_LEAVES else None)
            finding = Finding(PAGE, f"{base}/{leaf}", None, "missing or unreadable")
            log_finding(name, finding)
            findings.append(finding)
            if body is None:
                failed.append((finding, "nothing to rebuild it from; --json-update fetches it"))
            elif self.options.repair:
                self.storage.write_bytes(f"{base}/{leaf}", body)
            else:
                failed.append((finding, "dry run"))
        return findings, failed
