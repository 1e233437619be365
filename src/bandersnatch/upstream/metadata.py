"""Per-project metadata from the JSON API (``/pypi/<name>/json``), serial-checked.

``parse_project`` turns the upstream document into a ``Project``; a file whose name or URL
would escape the mirror is refused here and recorded in ``Project.refused``.
"""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import requests

from ..errors import (
    BadUpstreamData,
    NotFound,
    RetryableError,
    StaleResponse,
)
from ..layout import check_project_name
from ..models import Project, ProjectName, project_name
from . import fields
from .entries import JSON_API, FileList
from .http import MirrorSession, check_status, json_document, open_stream
from .session import RetryPolicy
from .simple import SIMPLE_JSON, parse_simple_project

log = logging.getLogger(__name__)


class _Stale(RetryableError):
    def __init__(self, url: str, expected: int, got: int | None) -> None:
        super().__init__(url, "stale")
        self.expected = expected
        self.got = got


class MetadataSource(enum.Enum):
    """Where a project's metadata is read from."""

    JSON_API = "json"
    """PyPI's ``/pypi/<name>/json``."""
    SIMPLE_PAGE = "simple"
    """The project's PEP 691 page, which any index serves (another bandersnatch mirror
    included)."""


class MetadataClient:
    """Fetches one project's metadata from ``source``."""

    def __init__(
        self,
        master: str,
        timeout: float,
        policy: RetryPolicy,
        cache_bust: bool = True,
        source: MetadataSource = MetadataSource.JSON_API,
        deadline: float = 1800.0,
        max_document: int = 256 * 1024 * 1024,
    ) -> None:
        self.max_document = max_document
        self.master = master
        self.timeout = timeout
        self.deadline = deadline
        self.policy = policy
        self.cache_bust = cache_bust
        self.source = source

    def url_for(self, name: ProjectName) -> str:
        if self.source is MetadataSource.SIMPLE_PAGE:
            return f"{self.master}/simple/{name}/"
        return f"{self.master}/pypi/{name}/json"

    def fetch(self, session: requests.Session, name: ProjectName, expected: int) -> Project:
        """The project at serial >= ``expected``.

        Stale answers are retried with backoff; as a last resort (``cache_bust``) one request
        carries a unique query string, which PyPI's CDN passes to origin. A 404 is only
        believed once origin confirms it the same way: NotFound then means upstream really
        has no releases of the project.
        """
        check_project_name(name)
        url = self.url_for(name)
        try:
            return self.policy.run(
                f"{name} metadata", lambda: self._get(session, name, url, expected)
            )
        except _Stale as stale:
            if not self.cache_bust:
                raise StaleResponse(url, stale.expected, stale.got) from None
            log.info("%s: still stale after retries, asking origin", name)
        except NotFound:
            if not self.cache_bust:
                raise
            log.debug("%s: 404, confirming with origin", name)
        busted = f"{url}?cache-bust={uuid.uuid4().hex}"
        try:
            return self._get(session, name, busted, expected)
        except _Stale as stale:
            raise StaleResponse(url, stale.expected, stale.got) from None

    def _get(
        self, session: requests.Session, name: ProjectName, url: str, expected: int
    ) -> Project:
        simple = self.source is MetadataSource.SIMPLE_PAGE
        headers = {"Accept": SIMPLE_JSON} if simple else None
        with open_stream(session, url, self.timeout, headers, deadline=self.deadline) as response:
            if response.status_code == 404:
                raise NotFound(url)
            check_status(response)
            body = response.read(self.max_document)
        doc = json_document(url, body)
        serial = _serial(response.headers.get("X-PyPI-Last-Serial"), doc, simple)
        if expected and (serial is None or serial < expected):
            raise _Stale(url, expected, serial)
        if simple:
            project = parse_simple_project(response.url, doc, serial, name)
        else:
            project = parse_project(url, doc, body, serial, name)
        return _within_hosts(session, project)


def _within_hosts(session: requests.Session, project: Project) -> Project:
    """The project without the files whose URLs the session's host policy refuses (they
    join ``refused``: the page will not list them, and nothing asks their host)."""
    hosts = session.policy if isinstance(session, MirrorSession) else None
    if hosts is None:
        return project
    kept, refused = [], list(project.refused)
    changed, known = False, project.api_version
    for release_file in project.files:
        why = hosts.refusal(release_file.url)
        if why is not None:
            refused.append((release_file.filename, f"file URL refused: {why}"))
            changed = True
            continue
        provenance = release_file.provenance_url
        why = None if provenance is None else hosts.refusal(provenance)
        if why is not None:  # the file is fine; only its provenance is not mirrored
            log.warning(
                "%s: %s: provenance URL refused, not mirrored: %s",
                project.name, release_file.filename, why,
            )  # fmt: skip
            kept.append(replace(release_file, provenance_url=None))
            changed, known = True, min(known, (1, 2))  # the page cannot say "none" (1.3)
            continue
        kept.append(release_file)
    if not changed:
        return project
    return replace(project, files=tuple(kept), refused=tuple(refused), api_version=known)


def _serial(header: str | None, doc: Any, simple: bool) -> int | None:
    """The serial of a response: its X-PyPI-Last-Serial header, else the body's own."""
    found = fields.serial(header)
    if found is not None:
        return found
    if not isinstance(doc, dict):
        return None
    if simple:
        meta = doc.get("meta")
        value = meta.get("_last-serial") if isinstance(meta, dict) else None
    else:
        value = doc.get("last_serial")
    return fields.serial(value)


def parse_project(
    url: str, doc: Any, body: bytes, serial: int | None, asked: ProjectName
) -> Project:
    """The JSON API document of the project ``asked`` -> Project. ``url``: where the
    document came from (its links resolve against it; errors name it). Unsafe files are
    refused, not fatal; a document of another project is refused whole."""
    if not isinstance(doc, dict) or not isinstance(doc.get("info"), dict):
        raise BadUpstreamData(url, "JSON API document has no 'info'")
    display = doc["info"].get("name")
    releases = doc.get("releases")
    if not isinstance(display, str) or not isinstance(releases, dict):
        raise BadUpstreamData(url, "JSON API document lacks info.name or releases")
    if serial is None:
        serial = fields.serial(doc.get("last_serial")) or 0
    name = project_name(display)
    if name is None:
        raise BadUpstreamData(url, f"info.name is not a project name: {display!r:.80}")
    if name != asked:
        raise BadUpstreamData(url, f"asked for {asked!r} but got the project {display!r}")
    try:
        info = _frozen_info(doc["info"])
    except RecursionError:  # parsed, but too deep to walk
        raise BadUpstreamData(url, "JSON API document: 'info' is nested too deeply") from None
    listed = FileList(url, JSON_API)
    versions = [v for v in releases if fields.text(v) is not None]
    for version, entries in releases.items():
        for entry in entries if isinstance(entries, list) else []:
            if fields.text(version) is None:
                listed.refuse(f"a file of release {version!r:.80}", "not a usable version")
            else:
                listed.add(entry, str(version))
    return Project(
        name=name,
        display_name=display,
        serial=serial,
        versions=tuple(versions),
        files=tuple(listed.files),
        json_document=body,
        refused=tuple(listed.refused),
        info=info,
    )


def _frozen_info(info: dict[str, Any]) -> MappingProxyType[str, object]:
    """The ``info`` object as read-only mappings and tuples (``Project`` is frozen)."""

    def freeze(value: object) -> object:
        if isinstance(value, dict):
            return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
        if isinstance(value, list):
            return tuple(freeze(v) for v in value)
        return value

    return MappingProxyType({str(k): freeze(v) for k, v in info.items()})
