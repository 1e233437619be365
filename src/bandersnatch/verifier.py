"""Verifying one project: find its truth, check its files, repair them, then its pages.

The truth is the project's stored metadata (``web/json/<name>``, or upstream's with
``--json-update``) when there is one no older than its page; otherwise its own pages, which
list every file with its digest. Runs in worker threads, one project per task; digests and
downloads go to a shared file pool, so even one large project is hashed in parallel.
Repairs follow the publishing order: files, then ``.metadata``, then the project's pages.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from urllib.parse import quote

from .errors import BadUpstreamData, NotFound, UpstreamError
from .listing import listed_files
from .models import IndexEntry, Project, ProjectName, SimplePage
from .pages import render_project_html, render_project_json
from .paths import json_paths, package_file, simple_dir
from .publish import Publisher
from .storage import Storage
from .upstream.download import Downloader
from .upstream.metadata import MetadataClient, parse_project
from .upstream.session import SessionFactory
from .verification import (
    CORRUPT,
    JSON_DOC,
    MISSING,
    NO_SOURCE,
    PAGE,
    Expected,
    Finding,
    HashCheck,
    ProjectOutcome,
    expected_from_listing,
    expected_from_project,
    page_for,
    page_from_json,
    referenced,
    stat_check,
)

log = logging.getLogger(__name__)

ProjectFilter = Callable[[Project], "Project | None"]
HTML_LEAVES, JSON_LEAF = ("index.html", "index.v1_html"), "index.v1_json"
_SERIAL = re.compile(rb"<!--SERIAL (\d+)-->")
_TITLE = re.compile(rb"<title>Links for (.*?)</title>")


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


class ProjectVerifier:
    def __init__(
        self,
        storage: Storage,
        publisher: Publisher,
        downloader: Downloader,
        metadata: MetadataClient,
        sessions: SessionFactory,
        sizes: Mapping[str, int],
        options: VerifyOptions,
        project_filter: ProjectFilter,
        file_pool: ThreadPoolExecutor,
    ) -> None:
        self.storage = storage
        self.publisher = publisher
        self.downloader = downloader
        self.metadata = metadata
        self.sessions = sessions
        self.sizes = sizes
        self.options = options
        self.project_filter = project_filter
        self.file_pool = file_pool

    def verify(self, name: ProjectName, entry: IndexEntry | None, check: bool) -> ProjectOutcome:
        """Check (and unless dry-running, repair) one project. With ``check`` false only
        the files it references are worked out (a project an earlier run finished)."""
        base = simple_dir(name, self.publisher.hash_index)
        pages = {
            leaf: self.storage.read_bytes(f"{base}/{leaf}") for leaf in (*HTML_LEAVES, JSON_LEAF)
        }
        truth = self._truth(name, entry, pages)
        if truth is None:
            finding = Finding(NO_SOURCE, base, None, "no page and no stored metadata")
            self._log(name, finding)
            return ProjectOutcome(name, (finding,), ((finding, finding.detail),), known=False)
        refs = referenced(truth.expected) | truth.kept
        if not check:
            return ProjectOutcome(name, referenced=refs)
        findings, failed, downloaded = self._files(name, truth.expected)
        broken = {f.path for f, _ in failed} if self.options.repair else set()
        if truth.project is not None:
            page_findings, page_failed = self._republish(name, truth, pages, broken)
            listed_as = (truth.project.display_name, truth.project.serial)
        else:
            page_findings, page_failed = self._rebuild(name, entry, pages)
            display = entry.display_name if entry else _title(pages) or name
            listed_as = (display, _page_serial(pages))
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
        self, name: ProjectName, entry: IndexEntry | None, pages: Mapping[str, bytes | None]
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
        listing = listed_files(self.storage, name, self.publisher.hash_index)
        if listing is None:
            return None
        return _Truth(expected_from_listing(listing), None, findings)

    def _metadata(
        self, name: ProjectName, entry: IndexEntry | None, pages: Mapping[str, bytes | None]
    ) -> tuple[Project | None, tuple[Finding, ...]]:
        if self.options.json_update:
            project = self._fetch(name, entry)
            if project is not None:
                return project, ()
        path = json_paths(name)[0]
        raw = self.storage.read_bytes(path)
        if raw is None:
            return None, ()
        try:
            project = parse_project(self._nominal_url(name), json.loads(raw), raw, None)
        except (ValueError, BadUpstreamData) as exc:
            finding = Finding(JSON_DOC, path, None, f"unreadable ({exc}); --json-update fetches it")
            self._log(name, finding)
            return None, (finding,)
        if project.serial < _page_serial(pages):
            log.debug("%s: %s is older than the page; checking against the page", name, path)
            return None, ()
        return project, ()

    def _nominal_url(self, name: ProjectName) -> str:
        """The JSON API URL a stored document came from (for messages and name checks)."""
        return f"{self.metadata.master}/pypi/{name}/json"

    def _fetch(self, name: ProjectName, entry: IndexEntry | None) -> Project | None:
        try:
            project = self.metadata.fetch(self.sessions.get(), name, entry.serial if entry else 0)
        except NotFound:
            log.warning("%s: upstream has no releases; the next mirror run removes it", name)
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

    # -- files -----------------------------------------------------------------------------
    def _files(
        self, name: ProjectName, expected: tuple[Expected, ...]
    ) -> tuple[list[Finding], list[tuple[Finding, str]], int]:
        """(findings, failed repairs with reasons, bytes downloaded)."""
        findings, checks = stat_check(expected, self.sizes, self.options.hash_files)
        if checks:
            bad = self.file_pool.map(self._digest_differs, checks)
            for check, differs in zip(checks, bad, strict=True):
                if differs:
                    findings.append(Finding(check.kind, check.path, check.size, "digest differs"))
        for finding in findings:
            self._log(name, finding)
        if not findings:
            return [], [], 0
        if not self.options.repair:
            return findings, [(f, "dry run") for f in findings], 0
        by_path = {e.path: e for e in expected}
        jobs = [(f, by_path[f.path.removesuffix(".metadata")]) for f in findings]
        results = list(self.file_pool.map(lambda job: self._repair(name, *job), jobs))
        failed = [(f, why) for (f, _), (why, _) in zip(jobs, results, strict=True) if why]
        return findings, failed, sum(n for _, n in results)

    def _digest_differs(self, check: HashCheck) -> bool:
        return self.storage.sha256(check.path) != check.sha256

    def _repair(self, name: ProjectName, finding: Finding, e: Expected) -> tuple[str | None, int]:
        """(failure reason or None, bytes downloaded): fetch the file again, digest-checked."""
        rel = e.path.removeprefix("web/packages/")
        url = e.release.url if e.release else f"{self.options.files_base}/packages/{quote(rel)}"
        urls = self.downloader.sources(url, rel)
        if finding.kind in (MISSING, CORRUPT):
            target, size, sha256 = e.path, e.size, e.sha256
        else:
            target, size, sha256 = e.metadata_path, None, e.metadata_sha256
            urls = [u + ".metadata" for u in urls]
        if sha256 is None:
            reason = "no sha256 is known to check a download against"
            log.error("%s: cannot repair %s: %s", name, target, reason)
            return reason, 0
        try:
            fetched = self.downloader.fetch(
                self.sessions.get(), self.storage, urls, target, size, sha256
            )
        except UpstreamError as exc:
            log.error("%s: cannot repair %s: %s", name, target, exc)
            return str(exc), 0
        log.info("%s: repaired %s (%d bytes downloaded)", name, target, fetched)
        return None, fetched

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
        self, name: ProjectName, truth: _Truth, pages: Mapping[str, bytes | None], broken: set[str]
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
        self._log(name, finding)
        if not self.options.repair:
            return [finding], [(finding, "dry run")]
        self.publisher.project_pages(page)
        return [finding], []

    def _rebuild(
        self, name: ProjectName, entry: IndexEntry | None, pages: Mapping[str, bytes | None]
    ) -> tuple[list[Finding], list[tuple[Finding, str]]]:
        """No metadata: rebuild a missing page format from the others."""
        base = simple_dir(name, self.publisher.hash_index)
        display = entry.display_name if entry else _title(pages) or name
        raw_json = pages.get(JSON_LEAF)
        model = page_from_json(name, display, raw_json) if raw_json else None
        rendered = self._rendered(model) if model else {}
        twin = pages.get(HTML_LEAVES[0]) or pages.get(HTML_LEAVES[1])
        fmt = self.publisher.simple_format
        wanted = (*(HTML_LEAVES if fmt.html else ()), *((JSON_LEAF,) if fmt.json else ()))
        findings, failed = [], []
        for leaf in wanted:
            if pages.get(leaf) is not None and (leaf != JSON_LEAF or model is not None):
                continue
            body = rendered.get(leaf) or (twin if leaf in HTML_LEAVES else None)
            finding = Finding(PAGE, f"{base}/{leaf}", None, "missing or unreadable")
            self._log(name, finding)
            findings.append(finding)
            if body is None:
                failed.append(
                    (finding, "nothing to rebuild it from; --json-update fetches metadata")
                )
            elif self.options.repair:
                self.storage.write_bytes(f"{base}/{leaf}", body)
            else:
                failed.append((finding, "dry run"))
        return findings, failed

    def _log(self, name: ProjectName, finding: Finding) -> None:
        notes = [finding.detail] if finding.detail else []
        if finding.size is not None:
            notes.append(f"{finding.size} bytes to download")
        suffix = f" ({'; '.join(notes)})" if notes else ""
        log.warning("%s: %s %s%s", name, finding.kind, finding.path, suffix)


def _page_serial(pages: Mapping[str, bytes | None]) -> int:
    raw = pages.get(JSON_LEAF)
    if raw:
        try:
            return int(json.loads(raw)["meta"]["_last-serial"])
        except (ValueError, KeyError, TypeError):
            pass
    for leaf in HTML_LEAVES:
        found = _SERIAL.search(pages.get(leaf) or b"")
        if found:
            return int(found.group(1))
    return 0


def _title(pages: Mapping[str, bytes | None]) -> str | None:
    for leaf in HTML_LEAVES:
        found = _TITLE.search(pages.get(leaf) or b"")
        if found:
            return html.unescape(found.group(1).decode("utf-8", "replace"))
    return None
