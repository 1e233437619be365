"""Declarative description of a fake package index and its mutable state.

`ProjectSpec` / `FileSpec` describe projects; a `Universe` holds the live state, a global serial
counter and the changelog, and records every change the way PyPI does (`create`,
`new release`, `add <pyver> file <filename>`, `remove ...`, `yank release`...). Every change
bumps the global serial and becomes the project's last serial. Project states are immutable
snapshots; the previous snapshot of each project is kept so a server can play a stale CDN.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import posixpath
import random
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Literal
from urllib.parse import quote, unquote

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from . import artifacts

FileKind = Literal["wheel", "sdist", "raw"]
DEFAULT_EPOCH = 1577836800  # 2020-01-01T00:00:00Z: changelog timestamps start here


@dataclass
class FileSpec:
    """One distribution file of a release.

    kind: "wheel" (real wheel + PEP 658 metadata), "sdist" (real .tar.gz) or "raw" (bytes).
    yanked: False, True (no reason) or the reason string.
    upload_time: ISO 8601; default derives from the changelog clock (deterministic).
    content: raw files only, the exact bytes to serve (default: deterministic noise).
    """

    kind: FileKind = "wheel"
    filename: str | None = None
    requires_python: str | None = None
    yanked: bool | str = False
    dependencies: list[str] = field(default_factory=list)
    python_tag: str = "py3"
    abi_tag: str = "none"
    platform_tag: str = "any"
    core_metadata: bool = True
    upload_time: str | None = None
    size_padding: int = 0
    content: bytes | None = None
    provenance: bool = False
    """PEP 740: the index holds a provenance document for the file (PyPI serves it at
    ``/integrity/<project>/<version>/<filename>/provenance``)."""


@dataclass
class ProjectSpec:
    """A project: display name, {version: [files]} (an empty list = release without files)."""

    name: str
    releases: dict[str, list[FileSpec]] = field(default_factory=dict)
    summary: str | None = None


def version_key(version: str) -> tuple[int, Any, str]:
    """Sort key: PEP 440 order; invalid versions sort first, by string."""
    try:
        return (1, Version(version), version)
    except InvalidVersion:
        return (0, Version("0"), version)


def canonical_path(path: str) -> str:
    """Percent-decoded, dot-segment-free form of a URL path (used to match requests)."""
    decoded = unquote(path)
    norm = posixpath.normpath(decoded)
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    return norm


class Artifact:
    """Lazily built file bytes (+ optional PEP 658 metadata) with cached digests."""

    def __init__(self, builder: Callable[[], tuple[bytes, bytes | None]]) -> None:
        self._builder = builder
        self._lock = threading.Lock()
        self._data: tuple[bytes, bytes | None] | None = None

    def _get(self) -> tuple[bytes, bytes | None]:
        if self._data is None:
            with self._lock:
                if self._data is None:
                    self._data = self._builder()
        return self._data

    @property
    def content(self) -> bytes:
        return self._get()[0]

    @property
    def metadata(self) -> bytes | None:
        return self._get()[1]

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @cached_property
    def md5(self) -> str:
        return hashlib.md5(self.content, usedforsecurity=False).hexdigest()

    @cached_property
    def blake2b_256(self) -> str:
        return hashlib.blake2b(self.content, digest_size=32).hexdigest()

    @cached_property
    def metadata_sha256(self) -> str | None:
        meta = self.metadata
        return None if meta is None else hashlib.sha256(meta).hexdigest()

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class StoredFile:
    """A file as the index knows it (immutable; yanking makes a new one sharing the bytes)."""

    project: str
    version: str
    filename: str
    kind: str
    packagetype: str
    python_version: str
    requires_python: str | None
    dependencies: tuple[str, ...]
    yanked: bool
    yanked_reason: str | None
    upload_time: datetime
    has_core_metadata: bool
    artifact: Artifact = field(compare=False, repr=False)
    url_path_override: str | None = None
    absolute_url: str | None = None
    """When set, the URL advertised for the file as it is (another host, port or scheme):
    this index does not serve it."""
    has_provenance: bool = False

    @property
    def provenance_path(self) -> str | None:
        """Where the index serves the file's PEP 740 provenance, if it has one."""
        if not self.has_provenance:
            return None
        project = canonicalize_name(self.project)
        return f"/integrity/{project}/{quote(self.version)}/{quote(self.filename)}/provenance"

    @property
    def provenance(self) -> bytes | None:
        """A deterministic PEP 740 provenance document (JSON) for the file."""
        if not self.has_provenance:
            return None
        doc = {
            "version": 1,
            "attestation_bundles": [
                {
                    "publisher": {"kind": "GitHub", "repository": f"example/{self.project}"},
                    "attestations": [{"subject": self.filename, "digest": self.sha256}],
                }
            ],
        }
        return json.dumps(doc, sort_keys=True).encode()

    @property
    def content(self) -> bytes:
        return self.artifact.content

    @property
    def metadata(self) -> bytes | None:
        return self.artifact.metadata if self.has_core_metadata else None

    @property
    def sha256(self) -> str:
        return self.artifact.sha256

    @property
    def size(self) -> int:
        return self.artifact.size

    @property
    def url_path(self) -> str:
        """`/packages/<aa>/<bb>/<rest>/<filename>`, content addressed by blake2b_256 like PyPI."""
        if self.url_path_override is not None:
            return self.url_path_override
        b2 = self.artifact.blake2b_256
        return f"/packages/{b2[:2]}/{b2[2:4]}/{b2[4:]}/{quote(self.filename, safe='')}"

    @property
    def metadata_url_path(self) -> str:
        return self.url_path + ".metadata"

    @property
    def upload_time_plain(self) -> str:
        return self.upload_time.strftime("%Y-%m-%dT%H:%M:%S")

    @property
    def upload_time_iso(self) -> str:
        return self.upload_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class ProjectState:
    """Immutable snapshot of a project at one serial."""

    name: str
    normalized: str
    serial: int
    summary: str
    releases: Mapping[str, tuple[StoredFile, ...]]
    yanked_releases: Mapping[str, str | None] = field(default_factory=dict)
    status: str = "active"
    status_reason: str | None = None

    @cached_property
    def _by_filename(self) -> dict[str, StoredFile]:
        return {f.filename: f for files in self.releases.values() for f in files}

    def files(self) -> list[StoredFile]:
        """All files, ordered like PyPI's simple page: by version, then filename."""
        out = [f for files in self.releases.values() for f in files]
        out.sort(key=lambda f: (version_key(f.version), f.filename))
        return out

    def file(self, filename: str) -> StoredFile | None:
        return self._by_filename.get(filename)

    def sorted_versions(self) -> list[str]:
        return sorted(self.releases, key=version_key)

    def release_yanked(self, version: str) -> bool:
        files = self.releases.get(version, ())
        return version in self.yanked_releases or (bool(files) and all(f.yanked for f in files))

    def latest_version(self) -> str | None:
        """Like PyPI: newest non-yanked final release, else newest release."""
        versions = self.sorted_versions()
        for version in reversed(versions):
            if self.release_yanked(version):
                continue
            key = version_key(version)
            if key[0] and not key[1].is_prerelease:
                return version
        return versions[-1] if versions else None

    @property
    def quarantined(self) -> bool:
        return self.status == "quarantined"

    @property
    def has_json(self) -> bool:
        """False where PyPI's JSON API answers 404 (no release, or quarantined)."""
        return bool(self.releases) and not self.quarantined


@dataclass(frozen=True)
class ChangelogEvent:
    name: str
    version: str | None
    timestamp: int
    action: str
    serial: int

    def row(self) -> list[Any]:
        """XML-RPC row: [name, version, timestamp, action, serial]."""
        return [self.name, self.version, self.timestamp, self.action, self.serial]


@dataclass
class _Project:
    current: ProjectState
    previous: ProjectState | None = None


_PACKAGETYPES = (
    (".whl", "bdist_wheel", "any"),
    (".tar.gz", "sdist", "source"),
    (".tgz", "sdist", "source"),
    (".zip", "sdist", "source"),
    (".tar.bz2", "sdist", "source"),
    (".tar.xz", "sdist", "source"),
    (".tar", "sdist", "source"),
    (".egg", "bdist_egg", "any"),
    (".exe", "bdist_wininst", "any"),
    (".msi", "bdist_msi", "any"),
    (".rpm", "bdist_rpm", "any"),
)


def _packagetype_for(filename: str) -> tuple[str, str]:
    """(packagetype, python_version) guessed from a filename's extension."""
    lower = filename.lower()
    for ext, packagetype, pyver in _PACKAGETYPES:
        if lower.endswith(ext):
            return packagetype, pyver
    return "bdist_dumb", "any"


class UnknownProject(KeyError):
    pass


class Universe:
    """All projects of the fake index, the global serial and the changelog.

    Thread-safe: the server reads while tests mutate. Every mutation appends changelog events;
    each event increments the serial and becomes the project's last serial.
    """

    def __init__(
        self,
        projects: Iterable[ProjectSpec] = (),
        *,
        start_serial: int = 0,
        epoch: int = DEFAULT_EPOCH,
        tick: int = 60,
    ) -> None:
        self._lock = threading.RLock()
        self._serial = start_serial
        self._start_serial = start_serial
        self._epoch = epoch
        self._tick = tick
        self._projects: dict[str, _Project] = {}
        self._events: list[ChangelogEvent] = []
        self._by_filename: dict[str, set[str]] = {}
        self._override_paths: dict[str, tuple[str, str]] = {}
        self._graveyard: dict[str, ProjectState] = {}
        for spec in projects:
            self.add_project(spec)

    # -- internals ---------------------------------------------------------------------
    def _timestamp(self, serial: int) -> int:
        return self._epoch + (serial - self._start_serial) * self._tick

    def _emit(self, name: str, version: str | None, action: str) -> ChangelogEvent:
        self._serial += 1
        event = ChangelogEvent(name, version, self._timestamp(self._serial), action, self._serial)
        self._events.append(event)
        return event

    def _get(self, name: str) -> _Project:
        proj = self._projects.get(canonicalize_name(name))
        if proj is None:
            raise UnknownProject(name)
        return proj

    def _commit(self, proj: _Project, event: ChangelogEvent, **changes: Any) -> ProjectState:
        new = dataclasses.replace(proj.current, serial=event.serial, **changes)
        proj.previous, proj.current = proj.current, new
        return new

    def _make_file(self, state: ProjectState, version: str, spec: FileSpec, ts: int) -> StoredFile:
        name, summary = state.name, state.summary
        kind = spec.kind
        if kind == "wheel":
            filename = spec.filename or artifacts.wheel_filename(
                name, version, spec.python_tag, spec.abi_tag, spec.platform_tag
            )
            packagetype, pyver = "bdist_wheel", spec.python_tag

            def build() -> tuple[bytes, bytes | None]:
                return artifacts.build_wheel(
                    name,
                    version,
                    summary=summary,
                    requires_python=spec.requires_python,
                    dependencies=spec.dependencies,
                    python_tag=spec.python_tag,
                    abi_tag=spec.abi_tag,
                    platform_tag=spec.platform_tag,
                    size_padding=spec.size_padding,
                )
        elif kind == "sdist":
            filename = spec.filename or artifacts.sdist_filename(name, version)
            packagetype, pyver = "sdist", "source"

            def build() -> tuple[bytes, bytes | None]:
                return artifacts.build_sdist(
                    name,
                    version,
                    summary=summary,
                    requires_python=spec.requires_python,
                    dependencies=spec.dependencies,
                    size_padding=spec.size_padding,
                ), None
        elif kind == "raw":
            filename = spec.filename or (
                f"{artifacts.dist_name(name)}-{artifacts.normalize_version(version)}.bin"
            )
            packagetype, pyver = _packagetype_for(filename)
            seed = f"{state.normalized}|{version}|{filename}"
            content = spec.content

            def build() -> tuple[bytes, bytes | None]:
                if content is not None:
                    return content, None
                return artifacts.build_raw(seed, spec.size_padding), None
        else:
            raise ValueError(f"unknown file kind {kind!r}")
        if spec.upload_time is not None:
            uploaded = datetime.fromisoformat(spec.upload_time.replace("Z", "+00:00"))
            if uploaded.tzinfo is None:
                uploaded = uploaded.replace(tzinfo=timezone.utc)
        else:
            uploaded = datetime.fromtimestamp(ts, timezone.utc)
        yanked = spec.yanked is not False and spec.yanked != ""
        reason = spec.yanked if isinstance(spec.yanked, str) and spec.yanked else None
        return StoredFile(
            project=name,
            version=version,
            filename=filename,
            kind=kind,
            packagetype=packagetype,
            python_version=pyver,
            requires_python=spec.requires_python,
            dependencies=tuple(spec.dependencies),
            yanked=yanked,
            yanked_reason=reason,
            upload_time=uploaded,
            has_core_metadata=kind == "wheel" and spec.core_metadata,
            has_provenance=spec.provenance,
            artifact=Artifact(build),
        )

    def _add_stored(self, proj: _Project, version: str, stored: StoredFile) -> StoredFile:
        state = proj.current
        if state.file(stored.filename) is not None:
            raise ValueError(f"{state.name}: filename {stored.filename!r} already exists")
        if version not in state.releases:
            self.add_release(state.name, version)
            state = proj.current
        event = self._emit(
            state.name, version, f"add {stored.python_version} file {stored.filename}"
        )
        releases = dict(state.releases)
        releases[version] = (*releases[version], stored)
        self._commit(proj, event, releases=releases)
        self._by_filename.setdefault(stored.filename, set()).add(state.normalized)
        return stored

    def _forget_file(self, normalized: str, stored: StoredFile) -> None:
        names = self._by_filename.get(stored.filename)
        if names is not None:
            names.discard(normalized)
            if not names:
                del self._by_filename[stored.filename]
        if stored.url_path_override is not None:
            self._override_paths.pop(canonical_path(stored.url_path_override), None)

    # -- mutations ---------------------------------------------------------------------
    def add_project(self, spec: ProjectSpec) -> ProjectState:
        """Create a project (`create`), then each release and file in order."""
        with self._lock:
            normalized = canonicalize_name(spec.name)
            if normalized in self._projects:
                raise ValueError(f"project {spec.name!r} already exists")
            event = self._emit(spec.name, None, "create")
            state = ProjectState(
                name=spec.name,
                normalized=normalized,
                serial=event.serial,
                summary=spec.summary or f"The {spec.name} project",
                releases={},
            )
            self._projects[normalized] = _Project(current=state)
            self._graveyard.pop(normalized, None)
            for version, files in spec.releases.items():
                self.add_release(spec.name, version, files)
            return self._projects[normalized].current

    def add_release(self, name: str, version: str, files: Iterable[FileSpec] = ()) -> None:
        """Add a release (`new release`) and then its files (`add <pyver> file <fn>`)."""
        with self._lock:
            proj = self._get(name)
            if version in proj.current.releases:
                raise ValueError(f"{name} {version} already exists")
            event = self._emit(proj.current.name, version, "new release")
            releases = dict(proj.current.releases)
            releases[version] = ()
            self._commit(proj, event, releases=releases)
            for spec in files:
                self.add_file(name, version, spec)

    def add_file(self, name: str, version: str, spec: FileSpec) -> StoredFile:
        """Add one file (creating the release first when it does not exist)."""
        with self._lock:
            proj = self._get(name)
            if version not in proj.current.releases:
                self.add_release(name, version)
            spec = dataclasses.replace(spec, dependencies=list(spec.dependencies))
            stored = self._make_file(proj.current, version, spec, self._timestamp(self._serial + 1))
            return self._add_stored(proj, version, stored)

    def add_custom_file(
        self,
        name: str,
        version: str,
        filename: str,
        content: bytes,
        *,
        url_path: str | None = None,
        url: str | None = None,
        requires_python: str | None = None,
    ) -> StoredFile:
        """Add a file with explicit bytes and, optionally, an arbitrary advertised URL path.

        `url`: an absolute URL to advertise instead, as it is (another host or port,
        `ftp://`, `file:///`...); this index does not serve the file then.
        """
        with self._lock:
            proj = self._get(name)
            packagetype, pyver = _packagetype_for(filename)
            stored = StoredFile(
                project=proj.current.name,
                version=version,
                filename=filename,
                kind="raw",
                packagetype=packagetype,
                python_version=pyver,
                requires_python=requires_python,
                dependencies=(),
                yanked=False,
                yanked_reason=None,
                upload_time=datetime.fromtimestamp(self._timestamp(self._serial + 1), timezone.utc),
                has_core_metadata=False,
                artifact=Artifact(lambda: (content, None)),
                url_path_override=url_path,
                absolute_url=url,
            )
            self._add_stored(proj, version, stored)
            if url_path is not None and url is None:
                self._override_paths[canonical_path(url_path)] = (proj.current.normalized, filename)
            return stored

    def add_hostile_files(
        self,
        name: str,
        version: str = "6.6.6",
        *,
        absolute_filename: str | None = None,
    ) -> list[StoredFile]:
        """Add files whose advertised filename or URL path tries to escape the mirror.

        Each is served (bytes match the advertised digests), so only path checks can reject
        them. The absolute filename defaults to a harmless, unique path under the temp dir
        (not /etc/passwd: tests run as root), so a test can assert it was never created.
        """
        with self._lock:
            normalized = self._get(name).current.normalized
            absolute = absolute_filename or posixpath.join(
                tempfile.gettempdir(), f"fakepypi-escape-{normalized}", "passwd"
            )
            entries: list[tuple[str, str | None]] = [
                ("../../evil.whl", None),
                (f"evil/evil-{version}.tar.gz", None),
                (f"evil\x00-{version}.tar.gz", None),
                (f"evil\x1b[2J-{version}.tar.gz", None),
                (
                    f"evil_dotdot-{version}.tar.gz",
                    f"/packages/../../../etc/evil_dotdot-{version}.tar.gz",
                ),
                (
                    f"evil_pct-{version}.tar.gz",
                    f"/packages/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc/evil_pct-{version}.tar.gz",
                ),
                (absolute, None),
            ]
            added = []
            for filename, url in entries:
                content = artifacts.build_raw(f"hostile|{normalized}|{filename}")
                b2 = hashlib.blake2b(content, digest_size=32).hexdigest()
                url_path = url or (
                    f"/packages/{b2[:2]}/{b2[2:4]}/{b2[4:]}/{quote(filename, safe='')}"
                )
                added.append(
                    self.add_custom_file(name, version, filename, content, url_path=url_path)
                )
            return added

    def add_hostile_paths(self, name: str, version: str = "6.6.7") -> list[StoredFile]:
        """More files whose filename or URL path tries to leave the mirror, beyond
        `add_hostile_files`: backslashes (in the filename and percent-encoded in the URL),
        percent-encoded dot segments, an empty segment, a NUL in the URL, a filename that
        starts with a dot (`.htaccess`), one of 300 characters, a URL path longer than
        1024 bytes and a URL with no `/packages/` segment. Served like the others (bytes
        match the advertised digests), so only path checks can reject them.
        """
        long_dirs = "/".join(["d" * 250] * 5)
        entries: list[tuple[str, str | None]] = [
            (f"..\\..\\evil_bs-{version}.tar.gz", None),
            (
                f"evil_bsurl-{version}.tar.gz",
                f"/packages/aa/bb/..%5c..%5cevil/evil_bsurl-{version}.tar.gz",
            ),
            (f"evil_dots-{version}.tar.gz", f"/packages/%2e%2e/%2E%2E/evil_dots-{version}.tar.gz"),
            (f"evil_empty-{version}.tar.gz", f"/packages/aa//evil_empty-{version}.tar.gz"),
            (f"evil_nul-{version}.tar.gz", f"/packages/aa/b%00b/evil_nul-{version}.tar.gz"),
            (f"evil_nopkg-{version}.tar.gz", f"/etc/evil_nopkg-{version}.tar.gz"),
            (f"evil_long-{version}.tar.gz", f"/packages/{long_dirs}/evil_long-{version}.tar.gz"),
            (".htaccess", None),
            ("e" * 290 + f"-{version}.tar.gz", None),
        ]
        with self._lock:
            normalized = self._get(name).current.normalized
            added = []
            for filename, url in entries:
                content = artifacts.build_raw(f"hostile|{normalized}|{filename}")
                b2 = hashlib.blake2b(content, digest_size=32).hexdigest()
                url_path = url or (
                    f"/packages/{b2[:2]}/{b2[2:4]}/{b2[4:]}/{quote(filename, safe='')}"
                )
                added.append(
                    self.add_custom_file(name, version, filename, content, url_path=url_path)
                )
            return added

    def remove_project(self, name: str) -> None:
        """Delete a project (`remove project`): gone from every listing, JSON/simple 404."""
        with self._lock:
            proj = self._get(name)
            self._emit(proj.current.name, None, "remove project")
            for stored in proj.current._by_filename.values():
                self._forget_file(proj.current.normalized, stored)
            self._graveyard[proj.current.normalized] = proj.current
            del self._projects[proj.current.normalized]

    def remove_release(self, name: str, version: str) -> None:
        """Delete a release and its files (`remove release`)."""
        with self._lock:
            proj = self._get(name)
            if version not in proj.current.releases:
                raise KeyError(version)
            event = self._emit(proj.current.name, version, "remove release")
            for stored in proj.current.releases[version]:
                self._forget_file(proj.current.normalized, stored)
            releases = {v: f for v, f in proj.current.releases.items() if v != version}
            yanks = {v: r for v, r in proj.current.yanked_releases.items() if v != version}
            self._commit(proj, event, releases=releases, yanked_releases=yanks)

    def remove_file(self, name: str, filename: str) -> None:
        """Delete one file (`remove file <filename>`); its URL then answers 404."""
        with self._lock:
            proj = self._get(name)
            stored = proj.current.file(filename)
            if stored is None:
                raise KeyError(filename)
            event = self._emit(proj.current.name, stored.version, f"remove file {filename}")
            releases = dict(proj.current.releases)
            releases[stored.version] = tuple(
                f for f in releases[stored.version] if f.filename != filename
            )
            self._forget_file(proj.current.normalized, stored)
            self._commit(proj, event, releases=releases)

    def _set_yank(self, name: str, version: str, yanked: bool, reason: str | None) -> None:
        with self._lock:
            proj = self._get(name)
            if version not in proj.current.releases:
                raise KeyError(version)
            action = "yank release" if yanked else "unyank release"
            event = self._emit(proj.current.name, version, action)
            releases = dict(proj.current.releases)
            releases[version] = tuple(
                dataclasses.replace(f, yanked=yanked, yanked_reason=reason if yanked else None)
                for f in releases[version]
            )
            yanks = dict(proj.current.yanked_releases)
            if yanked:
                yanks[version] = reason
            else:
                yanks.pop(version, None)
            self._commit(proj, event, releases=releases, yanked_releases=yanks)

    def yank(self, name: str, version: str, reason: str | None = None) -> None:
        """Yank every file of a release (`yank release`); reason None = yanked without reason."""
        self._set_yank(name, version, True, reason or None)

    def unyank(self, name: str, version: str) -> None:
        """Undo a yank (`unyank release`)."""
        self._set_yank(name, version, False, None)

    def quarantine(self, name: str, reason: str | None = None) -> None:
        """PEP 792 quarantine (`project quarantined`): JSON 404, simple page lists no files."""
        with self._lock:
            proj = self._get(name)
            event = self._emit(proj.current.name, None, "project quarantined")
            self._commit(proj, event, status="quarantined", status_reason=reason)

    def unquarantine(self, name: str) -> None:
        """Lift a quarantine (`project quarantine cleared`)."""
        with self._lock:
            proj = self._get(name)
            event = self._emit(proj.current.name, None, "project quarantine cleared")
            self._commit(proj, event, status="active", status_reason=None)

    def set_status(self, name: str, status: str, reason: str | None = None) -> None:
        """PEP 792 status (``active``, ``archived``, ``deprecated``...) changed the way PyPI
        changes it: no changelog event and no new serial, so a mirror following serials
        alone does not see it until the project changes for another reason."""
        with self._lock:
            proj = self._get(name)
            proj.current = dataclasses.replace(proj.current, status=status, status_reason=reason)

    def touch(
        self, name: str, action: str = "add Owner someone", version: str | None = None
    ) -> int:
        """Log an event that changes nothing but the project's serial (e.g. a role change)."""
        with self._lock:
            proj = self._get(name)
            event = self._emit(proj.current.name, version, action)
            self._commit(proj, event)
            return event.serial

    # -- queries -----------------------------------------------------------------------
    @property
    def last_serial(self) -> int:
        with self._lock:
            return self._serial

    @property
    def events(self) -> list[ChangelogEvent]:
        with self._lock:
            return list(self._events)

    def changelog_since(self, serial: int, limit: int | None = None) -> list[ChangelogEvent]:
        """Events with serial > `serial`, ascending, at most `limit` of them."""
        with self._lock:
            lo, hi = 0, len(self._events)
            while lo < hi:
                mid = (lo + hi) // 2
                if self._events[mid].serial <= serial:
                    lo = mid + 1
                else:
                    hi = mid
            end = len(self._events) if limit is None else min(len(self._events), lo + limit)
            return self._events[lo:end]

    def packages_with_serial(self) -> dict[str, int]:
        """{display name: last serial} for every existing project."""
        with self._lock:
            return {p.current.name: p.current.serial for p in self._projects.values()}

    def project(self, name: str) -> ProjectState | None:
        """Current snapshot (lookup by any spelling of the name), or None."""
        with self._lock:
            proj = self._projects.get(canonicalize_name(name))
            return None if proj is None else proj.current

    def previous(self, name: str) -> ProjectState | None:
        """Snapshot before the project's latest change (None right after `create`).

        For a removed project: its last snapshot before removal.
        """
        with self._lock:
            key = canonicalize_name(name)
            proj = self._projects.get(key)
            return self._graveyard.get(key) if proj is None else proj.previous

    def projects(self) -> list[ProjectState]:
        """Current snapshots of all projects, sorted by normalized name."""
        with self._lock:
            return sorted((p.current for p in self._projects.values()), key=lambda s: s.normalized)

    def file(self, name: str, filename: str) -> StoredFile:
        state = self.project(name)
        found = None if state is None else state.file(filename)
        if found is None:
            raise KeyError(f"{name}: {filename}")
        return found

    def index_as_of(self, serial: int) -> dict[str, tuple[str, int]]:
        """{normalized: (display name, last serial)} replayed from the changelog up to serial."""
        out: dict[str, tuple[str, int]] = {}
        for event in self.events:
            if event.serial > serial:
                break
            key = canonicalize_name(event.name)
            if event.action == "remove project":
                out.pop(key, None)
            else:
                out[key] = (event.name, event.serial)
        return out

    def lookup_provenance(self, path: str) -> StoredFile | None:
        """The file whose provenance lives at ``path`` (``/integrity/.../provenance``)."""
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if len(parts) != 5 or parts[0] != "integrity" or parts[4] != "provenance":
            return None
        with self._lock:
            proj = self._projects.get(canonicalize_name(parts[1]))
            stored = None if proj is None else proj.current.file(parts[3])
        if stored is None or stored.version != parts[2] or not stored.has_provenance:
            return None
        return stored

    def lookup_path(self, path: str) -> tuple[StoredFile, bool] | None:
        """Resolve a request path to (file, is_metadata) for files that currently exist."""
        canon = canonical_path(path)
        with self._lock:
            hit = self._override_paths.get(canon)
            if hit is not None:
                proj = self._projects.get(hit[0])
                stored = None if proj is None else proj.current.file(hit[1])
                return None if stored is None else (stored, False)
            last = unquote(path.rsplit("/", 1)[-1])
            candidates: list[tuple[str, bool]] = [(last, False)]
            if last.endswith(".metadata"):
                candidates.append((last[: -len(".metadata")], True))
            found: list[tuple[StoredFile, bool]] = []
            for filename, is_meta in candidates:
                for normalized in self._by_filename.get(filename, ()):
                    stored = self._projects[normalized].current.file(filename)
                    if stored is not None:
                        found.append((stored, is_meta))
        for stored, is_meta in found:
            target = stored.metadata_url_path if is_meta else stored.url_path
            if canonical_path(target) == canon:
                if is_meta and stored.metadata is None:
                    return None
                return stored, is_meta
        return None


# -- ready-made universes ---------------------------------------------------------------


def make_small_universe() -> Universe:
    """A handful of projects covering the common cases (fast; used by the default fixture).

    - "Foo.Bar_baz" 1.0 and 2.0 (wheel + sdist each), 2.0 depends on "dep-leaf"
    - "dep-leaf" 1.0 (wheel + sdist)
    - "yanky" 1.0 (yanked with reason "broken"), 1.1 (yanked, no reason), 1.2 (fine)
    - "pyreq" 1.0 with Requires-Python ">=3.8,<4"
    - "nometa" 1.0 wheel without PEP 658 metadata
    - "empty-project" with no release at all
    """
    w, s = FileSpec(kind="wheel"), FileSpec(kind="sdist")
    return Universe(
        [
            ProjectSpec("dep-leaf", {"1.0": [w, s]}, summary="A leaf dependency"),
            ProjectSpec(
                "Foo.Bar_baz",
                {
                    "1.0": [FileSpec("wheel"), FileSpec("sdist")],
                    "2.0": [
                        FileSpec("wheel", dependencies=["dep-leaf>=1.0"]),
                        FileSpec("sdist", dependencies=["dep-leaf>=1.0"]),
                    ],
                },
                summary="Foo bar baz",
            ),
            ProjectSpec(
                "yanky",
                {
                    "1.0": [FileSpec("wheel", yanked="broken")],
                    "1.1": [FileSpec("wheel", yanked=True)],
                    "1.2": [FileSpec("wheel")],
                },
            ),
            ProjectSpec(
                "pyreq",
                {
                    "1.0": [
                        FileSpec("wheel", requires_python=">=3.8,<4"),
                        FileSpec("sdist", requires_python=">=3.8,<4"),
                    ]
                },
            ),
            ProjectSpec("nometa", {"1.0": [FileSpec("wheel", core_metadata=False)]}),
            ProjectSpec("empty-project"),
        ]
    )


_SYLLABLES = (
    "ba",
    "ko",
    "ri",
    "zen",
    "tu",
    "mo",
    "la",
    "py",
    "qua",
    "vex",
    "dor",
    "fi",
    "shi",
    "net",
    "lo",
    "gra",
    "wim",
    "sa",
    "xo",
    "el",
)
_REQUIRES_PYTHON = (
    None,
    None,
    None,
    ">=3.8",
    ">=3.8,<4",
    "<3.0",
    ">2.7,!=3.0.*,!=3.1.*",
    ">=3.9",
    "~=3.10",
)
_PLATFORM_WHEELS = (
    ("cp311", "cp311", "manylinux_2_17_x86_64.manylinux2014_x86_64"),
    ("cp311", "cp311", "win_amd64"),
    ("cp311", "cp311", "macosx_11_0_arm64"),
    ("cp312", "abi3", "musllinux_1_1_aarch64"),
)


def _special_projects(big_files: int) -> list[ProjectSpec]:
    wheel, sdist = FileSpec("wheel"), FileSpec("sdist")
    big: dict[str, list[FileSpec]] = {}
    per_release = 1 + len(_PLATFORM_WHEELS)
    for i in range((big_files + per_release - 1) // per_release):
        files = [FileSpec("sdist")] + [
            FileSpec("wheel", python_tag=p, abi_tag=a, platform_tag=t)
            for p, a, t in _PLATFORM_WHEELS
        ]
        remaining = big_files - i * per_release
        big[f"{i // 10}.{i % 10}.0"] = files[:remaining]
    return [
        ProjectSpec("Foo.Bar", {"1.0": [wheel, sdist], "1.1": [wheel, sdist]}),
        ProjectSpec("baz__qux", {"0.1": [sdist]}),
        ProjectSpec("UPPER", {"3.0": [wheel]}),
        ProjectSpec("Mixed_Case.Name-x", {"1.0.post1": [wheel, sdist]}),
        ProjectSpec("empty-project"),
        ProjectSpec("release-without-files", {"1.0": [], "1.1": [wheel]}),
        ProjectSpec("dep-leaf", {"1.0": [wheel, sdist], "2.0": [wheel, sdist]}),
        ProjectSpec("dep-middle", {"1.0": [FileSpec("wheel", dependencies=["dep-leaf<3"])]}),
        ProjectSpec(
            "dep-top",
            {
                "1.0": [
                    FileSpec(
                        "wheel",
                        dependencies=["dep-middle>=1.0", "dep-leaf; python_version >= '3.8'"],
                    )
                ]
            },
        ),
        ProjectSpec(
            "yanked-with-reason",
            {"1.0": [FileSpec("wheel", yanked="security issue")], "1.1": [wheel]},
        ),
        ProjectSpec("yanked-no-reason", {"1.0": [FileSpec("wheel", yanked=True)]}),
        ProjectSpec(
            "python-requires",
            {
                "1.0": [FileSpec("wheel", requires_python=">=3.8,<4")],
                "0.9": [FileSpec("sdist", requires_python="<3.0")],
                "0.8": [FileSpec("sdist", requires_python=">2.7,!=3.0.*")],
            },
        ),
        ProjectSpec("no-core-metadata", {"1.0": [FileSpec("wheel", core_metadata=False)]}),
        ProjectSpec("prerelease-only", {"1.0a1": [wheel], "2.0rc1": [wheel]}),
        ProjectSpec(
            "raw-files",
            {
                "0.1": [
                    FileSpec("raw", filename="raw_files-0.1.zip"),
                    FileSpec("raw", filename="raw_files-0.1.egg"),
                ]
            },
        ),
        ProjectSpec("bigproject", big, summary=f"{big_files} files"),
    ]


def make_universe(
    n_projects: int = 300, seed: int = 0, *, big_project_files: int = 500
) -> Universe:
    """A realistic, deterministic universe of about `n_projects` projects.

    Always contains the special projects of `_special_projects` (odd names needing
    normalization, a zero-release project, a release without files, dependency chain
    dep-top -> dep-middle -> dep-leaf, yanked files with and without reason, Requires-Python
    with `<`/`>`, wheels without PEP 658 metadata, a prerelease-only project, raw files and
    "bigproject" with `big_project_files` files). The rest are random filler projects.
    Artifacts are built lazily, so this is fast.
    """
    rng = random.Random(seed)
    specs = _special_projects(big_project_files)
    taken = {canonicalize_name(s.name) for s in specs}
    filler_names: list[str] = []
    i = 0
    while len(specs) < n_projects:
        i += 1
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))
        style = rng.random()
        if style < 0.1:
            name = f"{word.capitalize()}.{rng.choice(_SYLLABLES)}{i}"
        elif style < 0.2:
            name = f"{word}_{i}"
        else:
            name = f"{word}-{i}"
        if canonicalize_name(name) in taken:
            continue
        taken.add(canonicalize_name(name))
        releases: dict[str, list[FileSpec]] = {}
        major = rng.randint(0, 3)
        for minor in range(rng.randint(1, 4)):
            version = f"{major}.{minor}.{rng.randint(0, 9)}"
            requires_python = rng.choice(_REQUIRES_PYTHON)
            deps = []
            if filler_names and rng.random() < 0.1:
                deps.append(f"{rng.choice(filler_names)}>=0")
            yanked: bool | str = False
            if rng.random() < 0.05:
                yanked = True if rng.random() < 0.5 else "broken build"
            files: list[FileSpec] = []
            if rng.random() < 0.85:
                files.append(
                    FileSpec(
                        "wheel",
                        requires_python=requires_python,
                        dependencies=deps,
                        yanked=yanked,
                        core_metadata=rng.random() < 0.9,
                    )
                )
            if rng.random() < 0.7 or not files:
                files.append(
                    FileSpec(
                        "sdist", requires_python=requires_python, dependencies=deps, yanked=yanked
                    )
                )
            if rng.random() < 0.05:
                p, a, t = rng.choice(_PLATFORM_WHEELS)
                files.append(
                    FileSpec(
                        "wheel",
                        python_tag=p,
                        abi_tag=a,
                        platform_tag=t,
                        requires_python=requires_python,
                        yanked=yanked,
                    )
                )
            releases[version] = files
        filler_names.append(name)
        specs.append(ProjectSpec(name, releases))
    return Universe(specs)
