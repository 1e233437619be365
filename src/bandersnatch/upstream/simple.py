"""The PEP 691 JSON simple API as an upstream: project pages as metadata, and the root
index (``/simple/`` with per-project ``_last-serial``) as a change feed.

This is what lets a bandersnatch mirror, or any index without XML-RPC, be the upstream.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from ..errors import BadUpstreamData, UnsafePath, UpstreamError
from ..models import Project, ProjectName, ReleaseFile, normalize, normalize_many
from ..paths import packages_path
from .session import RetryPolicy, check_status, classify

log = logging.getLogger(__name__)

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


def _hex64(value: Any) -> str | None:
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value
    return None


def version_from_filename(filename: str) -> str:
    """Best-effort version of a distribution file (the simple API has no per-file version)."""
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
        return ""


def _simple_file(page_url: str, entry: Any) -> ReleaseFile:
    if not isinstance(entry, dict):
        raise BadUpstreamData(page_url, "file entry is not an object")
    filename, url = entry.get("filename"), entry.get("url")
    hashes = entry.get("hashes") if isinstance(entry.get("hashes"), dict) else {}
    sha256 = _hex64(hashes.get("sha256") if hashes else None)
    size = entry.get("size")
    if not isinstance(filename, str) or not isinstance(url, str):
        raise BadUpstreamData(page_url, "file entry lacks filename or url")
    if sha256 is None or not isinstance(size, int) or size < 0:
        raise BadUpstreamData(page_url, f"{filename}: no sha256 hash or size (API 1.1 needed)")
    absolute = urljoin(page_url, url)
    core = entry.get("core-metadata", entry.get("dist-info-metadata"))
    yanked = entry.get("yanked", False)
    requires = entry.get("requires-python")
    upload = entry.get("upload-time")
    return ReleaseFile(
        filename=filename,
        url=absolute,
        path=packages_path(absolute, filename),
        version=version_from_filename(filename),
        size=size,
        sha256=sha256,
        digests={"sha256": sha256},
        requires_python=requires if isinstance(requires, str) and requires else None,
        yanked=bool(yanked),
        yanked_reason=yanked if isinstance(yanked, str) and yanked else None,
        upload_time=upload if isinstance(upload, str) and upload else None,
        core_metadata_sha256=_hex64(core.get("sha256")) if isinstance(core, dict) else None,
    )


def parse_simple_project(page_url: str, doc: Any, serial: int | None) -> Project:
    """A PEP 691 project page -> Project. Unsafe files are refused, not fatal."""
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
        raise BadUpstreamData(page_url, "simple page has no 'name'")
    name = normalize(doc["name"])
    files: list[ReleaseFile] = []
    refused: list[tuple[str, str]] = []
    seen: set[str] = set()
    entries = doc.get("files")
    for entry in entries if isinstance(entries, list) else []:
        try:
            release_file = _simple_file(page_url, entry)
        except (UnsafePath, UpstreamError) as exc:
            filename = entry.get("filename") if isinstance(entry, dict) else None
            refused.append((repr(filename), str(exc)))
            continue
        if release_file.path not in seen:
            seen.add(release_file.path)
            files.append(release_file)
    versions = doc.get("versions")
    if not isinstance(versions, list):
        versions = sorted({f.version for f in files if f.version})
    return Project(
        name=name,
        display_name=doc["name"],
        serial=serial or 0,
        versions=tuple(str(v) for v in versions),
        files=tuple(files),
        refused=tuple(refused),
    )


@dataclass(frozen=True)
class Snapshot:
    """The JSON root index as a change feed: three columns in the same order."""

    serial: int
    names: list[ProjectName]
    displays: list[str]
    serials: list[int]
    validator: str | None
    """What to send next time to ask whether the index changed (``If-None-Match``,
    ``If-Modified-Since``), as opaque text for the mirror's state; None if upstream sent
    no ``ETag`` or ``Last-Modified``."""
    unchanged: bool = False
    """Upstream answered 304 Not Modified to the validator it was given: no columns."""


class SimpleFeed:
    """The change feed read from the JSON root index's per-project ``_last-serial``."""

    def __init__(
        self, session: requests.Session, master: str, timeout: float, policy: RetryPolicy
    ) -> None:
        self.url = f"{master}/simple/"
        self._session = session
        self._timeout = timeout
        self._policy = policy

    def snapshot(self, validator: str | None = None) -> Snapshot:
        """One request for every project's serial; a conditional one when ``validator``
        (from an earlier snapshot of this URL) is given: then a 304 costs no parsing."""
        conditions = _conditions(validator, self.url)
        response = self._policy.run("simple root index", lambda: self._get(conditions))
        if response.status_code == 304 and conditions:
            return Snapshot(0, [], [], [], validator, unchanged=True)
        doc = _json_object(self.url, response.content)
        meta = doc.get("meta") if isinstance(doc.get("meta"), dict) else {}
        projects = doc.get("projects")
        if not isinstance(projects, list):
            raise BadUpstreamData(self.url, "root index has no 'projects' list")
        entries = [
            (e["name"], _int(e.get("_last-serial")) or 0)
            for e in projects
            if isinstance(e, dict) and isinstance(e.get("name"), str)
        ]
        displays = [display for display, _serial in entries]
        serials = [serial for _display, serial in entries]
        top = _int(meta.get("_last-serial") if meta else None)
        if top is None:
            top = max(serials, default=0)
        names = normalize_many(displays)
        return Snapshot(top, names, displays, serials, _validator(response, self.url))

    def _get(self, conditions: dict[str, str]) -> requests.Response:
        try:
            response = self._session.get(
                self.url, headers={"Accept": SIMPLE_JSON, **conditions}, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise classify(self.url, exc) from exc
        check_status(response)
        return response


def _json_object(url: str, body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise BadUpstreamData(url, f"root index is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise BadUpstreamData(url, "root index is not a JSON object")
    return doc


def _validator(response: requests.Response, url: str) -> str | None:
    etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
    if not etag and not modified:
        return None
    return json.dumps({"url": url, "etag": etag, "last-modified": modified}, sort_keys=True)


def _conditions(validator: str | None, url: str) -> dict[str, str]:
    """The request headers that make a GET of ``url`` conditional on ``validator``."""
    try:
        saved = json.loads(validator) if validator else None
    except ValueError:
        saved = None
    if not isinstance(saved, dict) or saved.get("url") != url:
        return {}
    headers = {}
    if isinstance(saved.get("etag"), str):
        headers["If-None-Match"] = saved["etag"]
    if isinstance(saved.get("last-modified"), str):
        headers["If-Modified-Since"] = saved["last-modified"]
    return headers


def _int(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
