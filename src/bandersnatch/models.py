"""Frozen records that flow between the layers, and the enumerations they carry.

Upstream documents are parsed into these at the edge (``upstream/``); planning, filters,
pages and the syncer only ever see these records, never raw dicts.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NewType, cast

from packaging.utils import canonicalize_name

ProjectName = NewType("ProjectName", str)
"""A project name normalized with ``packaging.utils.canonicalize_name``."""


MAX_NAME = 255
"""The longest project name (in bytes) a mirror accepts: one directory name."""
_VALID_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?", re.ASCII)


def normalize(name: str) -> ProjectName:
    """Normalize a display name once, at intake (PEP 503)."""
    return ProjectName(canonicalize_name(name))


def project_name(display: object) -> ProjectName | None:
    """The normalized name of a valid project name (PEP 508: ASCII letters and digits,
    ``.``, ``_`` and ``-`` inside, at most ``MAX_NAME`` characters), or None: data from
    upstream that is not a name is never made into a directory."""
    if not isinstance(display, str) or len(display) > MAX_NAME:
        return None
    if not _VALID_NAME.fullmatch(display):
        return None
    return normalize(display)


def normalize_many(names: Sequence[str]) -> list[ProjectName]:
    """``normalize`` of every name, in one pass over their concatenation: the same result,
    several times faster for the 700k names of a PyPI listing.

    Normalizing is lowercasing plus collapsing runs of ``-_.`` into one ``-``, which never
    crosses a line break, so the lines of the normalized concatenation are the normalized
    names. Names that are not plain ASCII or contain a line break go one by one."""
    joined = "\n".join(names)
    if not joined.isascii() or joined.count("\n") != len(names) - 1:
        return [normalize(name) for name in names]
    return cast(list[ProjectName], canonicalize_name(joined).split("\n")) if names else []


_NAME_CHARACTERS = re.compile(r"[A-Za-z0-9._\n-]*", re.ASCII)
_BAD_LINE = re.compile(r"(?:\A|\n)(?:[._\n-]|\Z)|[._-](?:\n|\Z)")
"""In lines of name characters: an empty line, or one that starts or ends with ``.``, ``_``
or ``-``. With ``_NAME_CHARACTERS`` this is ``_VALID_NAME`` on every line, checked without a
regular expression that repeats a group: ``sre`` keeps state for every repetition of a
group, which cost 68 MiB for the 200k names of a listing."""


def project_names(displays: Sequence[object]) -> list[ProjectName | None]:
    """``project_name`` of every display name of a listing, in order: one pass of two
    regular expressions and one normalization pass for a listing that is all valid (PyPI's
    700k), one by one otherwise."""
    if displays and all(isinstance(d, str) for d in displays):
        texts = cast(Sequence[str], displays)
        joined = "\n".join(texts)
        if (
            max(map(len, texts)) <= MAX_NAME
            and joined.count("\n") == len(texts) - 1  # no name with a line break in it
            and _NAME_CHARACTERS.fullmatch(joined)
            and not _BAD_LINE.search(joined)
        ):
            del joined
            return cast(list[ProjectName | None], normalize_many(texts))
    return [project_name(display) for display in displays]


class TextEnum(str, enum.Enum):
    """An enumeration whose members are their text: written to files and logs as it, and
    equal to it (a journal column read back compares equal to a member)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class SimpleFormat(enum.Enum):
    """Which simple-page formats the mirror publishes (``[mirror] simple-format``)."""

    ALL = "ALL"
    HTML = "HTML"
    JSON = "JSON"

    @property
    def html(self) -> bool:
        return self in (SimpleFormat.ALL, SimpleFormat.HTML)

    @property
    def json(self) -> bool:
        return self in (SimpleFormat.ALL, SimpleFormat.JSON)


class CompareMethod(TextEnum):
    """How the syncer tells a stored file is current (``[mirror] compare-method``)."""

    HASH = "hash"
    """Size and sha256."""
    STAT = "stat"
    """Size alone."""


class FeedKind(TextEnum):
    """Which upstream protocol tells what changed (``[mirror] change-feed``)."""

    XMLRPC = "xmlrpc"
    """PyPI's XML-RPC changelog (project metadata from the JSON API)."""
    SIMPLE = "simple"
    """The PEP 691 root index of any simple index (project metadata from its pages)."""


class Outcome(TextEnum):
    """How a project's sync ended, as the progress journal records it."""

    OK = "ok"
    PARTIAL = "partial"
    """Pages written, some files failed."""
    REMOVED = "removed"


class ProjectStatus(TextEnum):
    """A project's PEP 792 status marker, as upstream's simple page gives it.

    Only these four are defined; a value upstream gives that is none of them is not
    mirrored (the page then says nothing about status, see ``SimplePage.api_version``)."""

    ACTIVE = "active"
    ARCHIVED = "archived"
    QUARANTINED = "quarantined"
    """Upstream lists no files for it (PEP 792: an index must not offer them)."""
    DEPRECATED = "deprecated"


API_BASE = (1, 1)
"""What every page this mirror writes carries (PEP 700: ``versions``, ``size``,
``upload-time``)."""
API_PROVENANCE = (1, 3)
"""PEP 740: each file's ``provenance`` (a URL or null) is known."""
API_STATUS = (1, 4)
"""PEP 792: the project's status is known (absent means ``active``)."""


class FindingKind(TextEnum):
    """What ``verify`` found wrong."""

    MISSING = "missing"
    CORRUPT = "corrupt"
    META_MISSING = "metadata-missing"
    META_CORRUPT = "metadata-corrupt"
    PROV_MISSING = "provenance-missing"
    """The page lists a PEP 740 provenance for a file whose ``.provenance`` is not stored."""
    PAGE = "page"
    ROOT = "root-index"
    JSON_DOC = "json"
    """The stored JSON API document does not parse."""
    NO_SOURCE = "no-source"
    """Neither pages nor stored metadata say which files the project has."""


@dataclass(frozen=True)
class ReleaseFile:
    """One distribution file as upstream describes it.

    ``path`` is the file's location relative to ``web/packages/``, already checked to be
    safe (see ``layout.packages_path``).
    """

    filename: str
    url: str
    path: str
    version: str
    size: int
    sha256: str
    digests: Mapping[str, str] = field(default_factory=dict)
    packagetype: str = ""
    python_version: str = ""
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    upload_time: str | None = None
    core_metadata_sha256: str | None = None
    """Set when upstream offers a PEP 658 ``.metadata`` file; the sha256 of its bytes."""
    provenance_url: str | None = None
    """Set when upstream offers a PEP 740 provenance for the file: its absolute URL, already
    allowed by the host policy (a refused one is dropped, the file kept)."""


@dataclass(frozen=True)
class Project:
    """A project's upstream metadata at one serial."""

    name: ProjectName
    display_name: str
    serial: int
    versions: tuple[str, ...]
    files: tuple[ReleaseFile, ...]
    json_document: bytes | None = None
    """The upstream JSON API document, kept opaque for ``[mirror] json = true``."""
    refused: tuple[tuple[str, str], ...] = ()
    """(filename, reason) for files the upstream listed but that were refused as unsafe."""
    info: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    """The upstream ``info`` object, read-only (mappings and tuples all the way down).

    Metadata filters read it (``info.classifiers``, ``info.version``...)."""
    api_version: tuple[int, int] = API_BASE
    """What the metadata source can tell, capped at what this mirror renders: the upstream
    PEP 691 page's ``meta.api-version`` (at most ``API_STATUS``), or ``API_BASE`` for the
    JSON API, which carries neither provenance nor status."""
    status: ProjectStatus | None = None
    """PEP 792 status when upstream gave a known one (None: not given or unknown)."""
    status_reason: str | None = None


@dataclass(frozen=True)
class PageFile:
    """A file as a simple page lists it: only files that are actually stored."""

    file: ReleaseFile
    metadata_stored: bool
    provenance_stored: bool = False
    """The file's PEP 740 provenance is stored next to it (``<file>.provenance``)."""


@dataclass(frozen=True)
class SimplePage:
    """Everything a project's simple pages are rendered from."""

    name: ProjectName
    display_name: str
    serial: int
    versions: tuple[str, ...]
    files: tuple[PageFile, ...]
    known: tuple[int, int] = API_BASE
    """What the page's source could tell (``Project.api_version``)."""
    status: ProjectStatus | None = None
    status_reason: str | None = None

    @classmethod
    def of(
        cls, project: Project, files: tuple[PageFile, ...] | None, display_name: str | None = None
    ) -> SimplePage:
        """The page of ``project`` listing ``files``; None lists upstream's own files where
        upstream keeps them (``release-files = false``)."""
        if files is None:
            files = tuple(PageFile(f, False, f.provenance_url is not None) for f in project.files)
        return cls(
            project.name,
            display_name or project.display_name,
            project.serial,
            project.versions,
            files,
            known=project.api_version,
            status=project.status,
            status_reason=project.status_reason,
        )

    @property
    def api_version(self) -> tuple[int, int]:
        """The highest simple API version whose every field this page carries: 1.4 when
        its source gave the status (or its absence, which means ``active``), 1.3 when each
        file's provenance is on the page (a URL to the mirror's copy, or none upstream),
        else 1.1 (or 1.2, which requires nothing more). A file whose upstream provenance the
        mirror does not hold keeps the page at 1.2, below PEP 740: its ``null`` would claim
        there is none."""
        if self.known < API_PROVENANCE:  # 1.2 (PEP 708) requires nothing new
            return max(API_BASE, self.known)
        missing = any(pf.file.provenance_url and not pf.provenance_stored for pf in self.files)
        if missing:
            return (1, 2)
        if self.known < API_STATUS:
            return API_PROVENANCE
        return API_STATUS


@dataclass(frozen=True)
class Expected:
    """A file a project should have: ``web/packages/...`` with what is known about it."""

    path: str
    size: int | None
    sha256: str | None
    metadata_sha256: str | None
    provenance: bool = False
    """The page lists a provenance for the file (``<file>.provenance`` should exist)."""
    release: ReleaseFile | None = None
    """Set when the stored metadata describes the file (it then has the upstream URL)."""


@dataclass(frozen=True)
class IndexEntry:
    """One project in the root index."""

    name: ProjectName
    display_name: str
    serial: int


@dataclass(frozen=True)
class SyncPlan:
    """What a run will do: the serial it aims for and the projects to sync."""

    target_serial: int
    projects: Mapping[ProjectName, int]
    """Project -> the serial upstream promised for it (0 when unknown)."""


@dataclass(frozen=True)
class ProjectFailure:
    name: ProjectName
    reason: str
    since: float | None = None
    """When this project started failing (epoch seconds), if it failed in earlier runs too."""
    runs: int = 1
    """How many runs in a row it has failed, this one included."""


@dataclass(frozen=True)
class ProjectResult:
    """What syncing one project achieved; workers hand these back to the main thread."""

    name: ProjectName
    display_name: str
    serial: int
    files_downloaded: int = 0
    bytes_downloaded: int = 0
    failure: str | None = None
    removed: bool = False
    """True when upstream no longer has the project and it was removed (or never existed)."""
    written: tuple[str, ...] = ()
    """Mirror-relative paths this sync wrote (for ``diff-file``)."""
    published: bool = False
    """True when the project's pages were (re)written, even if some files failed."""


@dataclass(frozen=True)
class SyncReport:
    projects_synced: int
    projects_removed: int
    files_downloaded: int
    bytes_downloaded: int
    failures: tuple[ProjectFailure, ...]
    seconds: float
