"""Checking one project's stored files and repairing them: digests computed in a thread
pool, missing or corrupt files downloaded again (digest-checked, atomic) from the upstream
URL the stored metadata gives, or else from ``<files host>/packages/<path>``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import quote

from ..core_metadata import metadata_from_wheel
from ..errors import StorageError, UpstreamError
from ..layout import METADATA_SUFFIX, PROVENANCE_SUFFIX, metadata_of, package_rel
from ..models import Expected
from ..storage import Storage
from ..upstream.download import Downloader
from ..upstream.session import SessionFactory
from .plan import CORRUPT, MISSING, PROV_MISSING, Finding, HashCheck, stat_check

log = logging.getLogger(__name__)


def _owner(path: str) -> str:
    """The stored file a finding's path belongs to (itself, or the file of a sidecar)."""
    return path.removesuffix(METADATA_SUFFIX).removesuffix(PROVENANCE_SUFFIX)


Failed = list[tuple[Finding, str]]


def log_finding(name: str, finding: Finding) -> None:
    notes = [finding.detail] if finding.detail else []
    if finding.size is not None:
        notes.append(f"{finding.size} bytes to download")
    suffix = f" ({'; '.join(notes)})" if notes else ""
    log.warning("%s: %s %s%s", name, finding.kind, finding.path, suffix)


@dataclass(frozen=True)
class FileChecker:
    storage: Storage
    downloader: Downloader
    sessions: SessionFactory
    sizes: Mapping[str, int]
    """The run's inventory of ``web/packages``: path -> size."""
    pool: ThreadPoolExecutor
    hash_files: bool
    repair: bool
    files_base: str
    provenance_urls: Callable[[str], Mapping[str, str]] = lambda _name: {}
    """A project's upstream provenance URLs by stored path (``web/packages/...``): asked
    only when a provenance is missing and the stored metadata does not give its URL."""

    def check(self, name: str, expected: tuple[Expected, ...]) -> tuple[list[Finding], Failed, int]:
        """(findings, failed repairs with reasons, bytes downloaded)."""
        findings, checks = stat_check(expected, self.sizes, self.hash_files)
        if checks:
            bad = self.pool.map(self._digest_differs, checks)
            for check, differs in zip(checks, bad, strict=True):
                if differs:
                    findings.append(Finding(check.kind, check.path, check.size, "digest differs"))
        for finding in findings:
            log_finding(name, finding)
        if not findings:
            return [], [], 0
        if not self.repair:
            return findings, [(f, "dry run") for f in findings], 0
        by_path = {e.path: e for e in expected}
        jobs = [(f, by_path[_owner(f.path)]) for f in findings]
        urls: Mapping[str, str] = {}
        if any(f.kind is PROV_MISSING and not (e.release and e.release.provenance_url)
               for f, e in jobs):  # fmt: skip
            urls = self.provenance_urls(name)
        results = list(self.pool.map(lambda job: self._repair(name, job[0], job[1], urls), jobs))
        failed = [(f, why) for (f, _), (why, _) in zip(jobs, results, strict=True) if why]
        return findings, failed, sum(n for _, n in results)

    def _digest_differs(self, check: HashCheck) -> bool:
        return self.storage.sha256(check.path) != check.sha256

    def _repair(
        self, name: str, finding: Finding, e: Expected, provenance: Mapping[str, str]
    ) -> tuple[str | None, int]:
        """(failure reason or None, bytes downloaded): fetch the file again, digest-checked."""
        if finding.kind is PROV_MISSING:
            return self._repair_provenance(name, finding.path, e, provenance)
        rel = package_rel(e.path)
        url = e.release.url if e.release else f"{self.files_base}/packages/{quote(rel)}"
        urls = self.downloader.sources(url, rel)
        if finding.kind in (MISSING, CORRUPT):
            target, size, sha256 = e.path, e.size, e.sha256
        else:
            target, size, sha256 = metadata_of(e.path), None, e.metadata_sha256
            urls = [metadata_of(u) for u in urls]
        if sha256 is None:
            reason = "no sha256 is known to check a download against"
            log.error("%s: cannot repair %s: %s", name, target, reason)
            return reason, 0
        if target != e.path and self._metadata_from_wheel(e.path, target, sha256):
            log.info("%s: repaired %s from its wheel", name, target)
            return None, 0
        session = self.sessions.get()
        try:
            fetched = self.downloader.fetch(session, self.storage, urls, target, size, sha256).size
        except UpstreamError as exc:
            log.error("%s: cannot repair %s: %s", name, target, exc)
            return str(exc), 0
        log.info("%s: repaired %s (%d bytes downloaded)", name, target, fetched)
        return None, fetched

    def _repair_provenance(
        self, name: str, target: str, e: Expected, urls: Mapping[str, str]
    ) -> tuple[str | None, int]:
        url = (e.release.provenance_url if e.release else None) or urls.get(e.path)
        if url is None:
            reason = "upstream's metadata gives no provenance URL for the file now"
            log.error("%s: cannot repair %s: %s", name, target, reason)
            return reason, 0
        try:
            fetched = self.downloader.fetch_provenance(
                self.sessions.get(), self.storage, url, target
            )
        except UpstreamError as exc:
            log.error("%s: cannot repair %s: %s", name, target, exc)
            return str(exc), 0
        log.info("%s: repaired %s (%d bytes downloaded)", name, target, fetched)
        return None, fetched

    def _metadata_from_wheel(self, wheel: str, target: str, sha256: str) -> bool:
        """Write ``target`` from the stored wheel's METADATA when it has the digest."""
        if not wheel.endswith(".whl"):
            return False
        try:
            with self.storage.open_read(wheel) as fh:
                data = metadata_from_wheel(fh, sha256)
        except StorageError:  # the wheel itself is missing: download the .metadata
            return False
        if data is None:
            return False
        self.storage.write_bytes(target, data)
        return True
