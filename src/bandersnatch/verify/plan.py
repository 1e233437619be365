"""Pure planning for ``verify``: what a project should have on disk and what is wrong with it.

Nothing here touches disk or network. Inputs are records (a project's stored metadata or
the files its pages list), the inventory of stored file sizes and page bytes; outputs are
findings, the digests still to compute, and the page to render.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..layout import metadata_of, package_file, provenance_of
from ..models import Expected, FindingKind, PageFile, Project, ProjectName, SimplePage

MISSING, CORRUPT = FindingKind.MISSING, FindingKind.CORRUPT
META_MISSING, META_CORRUPT = FindingKind.META_MISSING, FindingKind.META_CORRUPT
PROV_MISSING = FindingKind.PROV_MISSING
PAGE, ROOT, JSON_DOC, NO_SOURCE = (
    FindingKind.PAGE,
    FindingKind.ROOT,
    FindingKind.JSON_DOC,
    FindingKind.NO_SOURCE,
)
PYPI, PYPI_FILES = "https://pypi.org", "https://files.pythonhosted.org"


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    path: str
    size: int | None = None
    """Bytes a repair downloads (when known)."""
    detail: str = ""


@dataclass(frozen=True)
class HashCheck:
    """A stored file whose digest must be computed; ``kind`` is the finding if it differs."""

    path: str
    sha256: str
    kind: FindingKind
    size: int | None


@dataclass(frozen=True)
class ProjectOutcome:
    """What verifying one project found and did; workers hand these to the main thread."""

    name: ProjectName
    findings: tuple[Finding, ...] = ()
    failed: tuple[tuple[Finding, str], ...] = ()
    """Findings a repair was attempted for and failed, with the reason."""
    referenced: frozenset[str] = frozenset()
    checked: int = 0
    downloaded: int = 0
    known: bool = True
    """False when neither pages nor metadata say which files the project has."""
    listed_as: tuple[str, int] | None = None
    """(display name, serial) its pages carry once verified: its root-index entry."""


def expected_from_project(project: Project, *, core_metadata: bool) -> tuple[Expected, ...]:
    return tuple(
        Expected(
            package_file(f.path),
            f.size,
            f.sha256,
            f.core_metadata_sha256 if core_metadata else None,
            provenance=f.provenance_url is not None,
            release=f,
        )
        for f in project.files
    )


def referenced(expected: Iterable[Expected]) -> frozenset[str]:
    paths = set()
    for e in expected:
        paths.add(e.path)
        if e.metadata_sha256:
            paths.add(metadata_of(e.path))
        if e.provenance:
            paths.add(provenance_of(e.path))
    return frozenset(paths)


def stat_check(
    expected: Iterable[Expected], sizes: Mapping[str, int], hash_files: bool
) -> tuple[list[Finding], list[HashCheck]]:
    """Findings from sizes alone, and the digests to compute (``hash_files``)."""
    findings: list[Finding] = []
    checks: list[HashCheck] = []
    for e in expected:
        size = sizes.get(e.path)
        if size is None:
            findings.append(Finding(MISSING, e.path, e.size))
        elif size < 0 or (e.size is not None and size != e.size):
            findings.append(Finding(CORRUPT, e.path, e.size, f"{size} bytes, expected {e.size}"))
        elif hash_files and e.sha256:
            checks.append(HashCheck(e.path, e.sha256, CORRUPT, e.size))
        if e.provenance and sizes.get(provenance_of(e.path), 0) <= 0:
            findings.append(Finding(PROV_MISSING, provenance_of(e.path)))
        if not e.metadata_sha256:
            continue
        meta = metadata_of(e.path)
        meta_size = sizes.get(meta)
        if meta_size is None:
            findings.append(Finding(META_MISSING, meta))
        elif meta_size <= 0:
            findings.append(Finding(META_CORRUPT, meta, None, "empty or unreadable"))
        elif hash_files:
            checks.append(HashCheck(meta, e.metadata_sha256, META_CORRUPT, None))
    return findings, checks


def page_for(
    project: Project, expected: Iterable[Expected], broken: set[str], release_files: bool
) -> SimplePage:
    """The page the syncer would publish: every expected file that is (or will be) intact,
    with its ``.metadata`` when that is intact too."""
    if not release_files:
        return SimplePage.of(project, None)
    files = tuple(
        PageFile(
            e.release,
            e.metadata_sha256 is not None and metadata_of(e.path) not in broken,
            e.provenance and provenance_of(e.path) not in broken,
        )
        for e in expected
        if e.release is not None and e.path not in broken
    )
    return SimplePage.of(project, files)


def upstream_base(master: str) -> str:
    """Where upstream's files live: PyPI serves them from files.pythonhosted.org, any other
    index (another bandersnatch mirror, say) under its own ``/packages/``."""
    return PYPI_FILES if master.rstrip("/") == PYPI else master.rstrip("/")
