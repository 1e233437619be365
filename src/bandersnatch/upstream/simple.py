"""The PEP 691 JSON simple API as an upstream: project pages as metadata, and the root
index (``/simple/`` with per-project ``_last-serial``) as a change feed.

This is what lets a bandersnatch mirror, or any index without XML-RPC, be the upstream.
"""

from __future__ import annotations

import json
import logging
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
from ..models import Project, ProjectName, ReleaseFile, normalize
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


class SimpleFeed:
    """The change feed read from the JSON root index's per-project ``_last-serial``."""

    def __init__(
        self, session: requests.Session, master: str, timeout: float, policy: RetryPolicy
    ) -> None:
        self.url = f"{master}/simple/"
        self._session = session
        self._timeout = timeout
        self._policy = policy

    def snapshot(self) -> tuple[int, dict[ProjectName, tuple[str, int]]]:
        """(index serial, {project: (display name, serial)}) from one request."""
        doc = self._policy.run("simple root index", self._get)
        meta = doc.get("meta") if isinstance(doc.get("meta"), dict) else {}
        projects = doc.get("projects")
        if not isinstance(projects, list):
            raise BadUpstreamData(self.url, "root index has no 'projects' list")
        listed: dict[ProjectName, tuple[str, int]] = {}
        for entry in projects:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                continue
            serial = _int(entry.get("_last-serial"))
            listed[normalize(entry["name"])] = (entry["name"], serial or 0)
        top = _int(meta.get("_last-serial") if meta else None)
        if top is None:
            top = max((s for _d, s in listed.values()), default=0)
        return top, listed

    def _get(self) -> dict[str, Any]:
        try:
            response = self._session.get(
                self.url, headers={"Accept": SIMPLE_JSON}, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise classify(self.url, exc) from exc
        check_status(response)
        try:
            doc = json.loads(response.content)
        except ValueError as exc:
            raise BadUpstreamData(self.url, f"root index is not JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise BadUpstreamData(self.url, "root index is not a JSON object")
        return doc


def _int(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
