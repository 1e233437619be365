"""Per-project metadata from the JSON API (``/pypi/<name>/json``), serial-checked.

``parse_project`` turns the upstream document into a ``Project``; a file whose name or URL
would escape the mirror is refused here and recorded in ``Project.refused``.
"""

from __future__ import annotations

import json
import logging
import uuid
from types import MappingProxyType
from typing import Any
from urllib.parse import urljoin

import requests

from ..errors import BadUpstreamData, NotFound, StaleResponse, UnsafePath, UpstreamError
from ..models import Project, ProjectName, ReleaseFile, normalize
from ..paths import check_project_name, packages_path
from .session import RetryableError, RetryPolicy, check_status, open_stream
from .simple import SIMPLE_JSON, parse_simple_project

log = logging.getLogger(__name__)

MAX_DOCUMENT = 64 * 1024 * 1024
"""The largest project document read (PyPI's largest JSON API documents are a few MB)."""


class _Stale(RetryableError):
    def __init__(self, url: str, expected: int, got: int | None) -> None:
        super().__init__(url, "stale")
        self.expected = expected
        self.got = got


class MetadataClient:
    """Fetches one project's metadata, from the JSON API (``source = "json"``, PyPI's
    ``/pypi/<name>/json``) or from its PEP 691 simple page (``source = "simple"``, which any
    index serves, another bandersnatch mirror included)."""

    def __init__(
        self,
        master: str,
        timeout: float,
        policy: RetryPolicy,
        cache_bust: bool = True,
        source: str = "json",
    ) -> None:
        self.master = master
        self.timeout = timeout
        self.policy = policy
        self.cache_bust = cache_bust
        self.source = source

    def url_for(self, name: ProjectName) -> str:
        if self.source == "simple":
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
            return self.policy.run(f"{name} metadata", lambda: self._get(session, url, expected))
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
            return self._get(session, busted, expected)
        except _Stale as stale:
            raise StaleResponse(url, stale.expected, stale.got) from None

    def _get(self, session: requests.Session, url: str, expected: int) -> Project:
        headers = {"Accept": SIMPLE_JSON} if self.source == "simple" else None
        with open_stream(session, url, self.timeout, headers) as response:
            if response.status_code == 404:
                raise NotFound(url)
            check_status(response)
            body = response.read(MAX_DOCUMENT)
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise RetryableError(url, f"response is not JSON: {exc}") from exc
        serial = _serial(response.headers.get("X-PyPI-Last-Serial"), doc, self.source)
        if expected and (serial is None or serial < expected):
            raise _Stale(url, expected, serial)
        if self.source == "simple":
            return parse_simple_project(response.url, doc, serial)
        return parse_project(url, doc, body, serial)


def _serial(header: str | None, doc: Any, source: str) -> int | None:
    """The serial of a response: its X-PyPI-Last-Serial header, else the body's own."""
    if header and header.strip().isdigit():
        return int(header)
    if not isinstance(doc, dict):
        return None
    if source == "simple":
        meta = doc.get("meta")
        value = meta.get("_last-serial") if isinstance(meta, dict) else None
    else:
        value = doc.get("last_serial")
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    return None


def parse_project(url: str, doc: Any, body: bytes, serial: int | None) -> Project:
    """The JSON API document -> Project. Unsafe files are refused, not fatal."""
    if not isinstance(doc, dict) or not isinstance(doc.get("info"), dict):
        raise BadUpstreamData(url, "JSON API document has no 'info'")
    display = doc["info"].get("name")
    releases = doc.get("releases")
    if not isinstance(display, str) or not isinstance(releases, dict):
        raise BadUpstreamData(url, "JSON API document lacks info.name or releases")
    if serial is None:
        body_serial = doc.get("last_serial")
        serial = body_serial if isinstance(body_serial, int) else 0
    name = normalize(display)
    asked = url.rstrip("/").split("/")[-2]
    if name != asked:
        raise BadUpstreamData(url, f"asked for {asked!r} but got the project {display!r}")
    files: list[ReleaseFile] = []
    refused: list[tuple[str, str]] = []
    seen: set[str] = set()
    for version, entries in releases.items():
        for entry in entries if isinstance(entries, list) else []:
            try:
                release_file = parse_file(url, str(version), entry)
            except (UnsafePath, UpstreamError) as exc:
                filename = entry.get("filename") if isinstance(entry, dict) else None
                refused.append((repr(filename), str(exc)))
                continue
            if release_file.path in seen:
                refused.append((release_file.filename, "listed twice"))
                continue
            seen.add(release_file.path)
            files.append(release_file)
    return Project(
        name=name,
        display_name=display,
        serial=serial,
        versions=tuple(str(v) for v in releases),
        files=tuple(files),
        json_document=body,
        refused=tuple(refused),
        info=_frozen_info(doc["info"]),
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


def _hex(value: Any, length: int) -> str | None:
    if isinstance(value, str) and len(value) == length:
        try:
            int(value, 16)
        except ValueError:
            return None
        return value.lower()
    return None


def parse_file(url: str, version: str, entry: Any) -> ReleaseFile:
    if not isinstance(entry, dict):
        raise BadUpstreamData(url, "file entry is not an object")
    filename, file_url = entry.get("filename"), entry.get("url")
    raw_digests = entry.get("digests")
    digests: dict[str, Any] = raw_digests if isinstance(raw_digests, dict) else {}
    sha256 = _hex(digests.get("sha256"), 64)
    size = entry.get("size")
    if not isinstance(filename, str) or not isinstance(file_url, str):
        raise BadUpstreamData(url, "file entry lacks filename or url")
    if sha256 is None or not isinstance(size, int) or size < 0:
        raise BadUpstreamData(url, f"{filename}: no valid sha256 digest or size")
    file_url = urljoin(url, file_url)  # PyPI's are absolute; some proxies' are relative
    path = packages_path(file_url, filename)
    core = entry.get("core-metadata", entry.get("data-dist-info-metadata"))
    core_sha = _hex(core.get("sha256"), 64) if isinstance(core, dict) else None
    requires = entry.get("requires_python")
    reason = entry.get("yanked_reason")
    return ReleaseFile(
        filename=filename,
        url=file_url,
        path=path,
        version=version,
        size=size,
        sha256=sha256,
        digests={k: str(v) for k, v in digests.items() if isinstance(v, str)},
        packagetype=str(entry.get("packagetype") or ""),
        python_version=str(entry.get("python_version") or ""),
        requires_python=requires if isinstance(requires, str) and requires else None,
        yanked=bool(entry.get("yanked", False)),
        yanked_reason=reason if isinstance(reason, str) and reason else None,
        upload_time=_str_or_none(entry.get("upload_time_iso_8601")),
        core_metadata_sha256=core_sha,
    )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
