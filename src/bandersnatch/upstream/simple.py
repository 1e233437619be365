"""The PEP 691 JSON simple API as an upstream: project pages as metadata, and the root
index (``/simple/`` with per-project ``_last-serial``) as a change feed.

This is what lets a bandersnatch mirror, or any index without XML-RPC, be the upstream.
"""

from __future__ import annotations

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
from ..models import Project, ProjectName, ReleaseFile, project_name
from ..paths import packages_path
from . import fields
from .http import check_status, json_document, open_stream
from .session import RetryPolicy

log = logging.getLogger(__name__)

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


def version_from_filename(filename: str) -> str:
    """Best-effort version of a distribution file (the simple API has no per-file version)."""
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
        return ""


def _simple_file(page_url: str, entry: Any) -> ReleaseFile:
    """One file entry of a PEP 691 page; BadUpstreamData or UnsafePath refuse it."""
    if not isinstance(entry, dict):
        raise BadUpstreamData(page_url, "file entry is not an object")
    filename, url = fields.text(entry.get("filename")), fields.text(entry.get("url"))
    hashes = fields.digests(entry.get("hashes"))
    size = fields.size(entry.get("size"))
    if filename is None or url is None:
        raise BadUpstreamData(page_url, "file entry lacks a usable filename or url")
    if "sha256" not in hashes or size is None:
        raise BadUpstreamData(page_url, f"{filename}: no sha256 hash or size (API 1.1 needed)")
    yanked = entry.get("yanked", False)
    if not all(fields.is_text(entry.get(k)) for k in ("requires-python", "upload-time")) or (
        isinstance(yanked, str) and not fields.is_text(yanked)
    ):
        raise BadUpstreamData(page_url, f"{filename}: a text field is not valid Unicode")
    try:
        absolute = urljoin(page_url, url)
    except ValueError:  # e.g. an unclosed "[" in the host
        raise BadUpstreamData(page_url, f"{filename}: the url does not parse") from None
    core = entry.get("core-metadata", entry.get("dist-info-metadata"))
    return ReleaseFile(
        filename=filename,
        url=absolute,
        path=packages_path(absolute, filename),
        version=version_from_filename(filename),
        size=size,
        sha256=hashes["sha256"],
        digests=hashes,
        requires_python=fields.text(entry.get("requires-python")),
        yanked=bool(yanked),
        yanked_reason=fields.text(yanked) if isinstance(yanked, str) else None,
        upload_time=fields.text(entry.get("upload-time")),
        core_metadata_sha256=(
            fields.hex_digest(core.get("sha256"), 64) if isinstance(core, dict) else None
        ),
    )


def parse_simple_project(
    page_url: str, doc: Any, serial: int | None, asked: ProjectName
) -> Project:
    """A PEP 691 project page -> Project. Unsafe files are refused, not fatal; a page for
    another project than ``asked`` is refused whole."""
    display = doc.get("name") if isinstance(doc, dict) else None
    name = project_name(display)
    if name is None:
        raise BadUpstreamData(page_url, f"simple page has no valid 'name': {display!r:.80}")
    if name != asked:
        raise BadUpstreamData(page_url, f"asked for {asked!r} but got the page of {display!r}")
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
        display_name=str(display),
        serial=serial or 0,
        versions=tuple(str(v) for v in versions),
        files=tuple(files),
        refused=tuple(refused),
    )


class SimpleFeed:
    """The change feed read from the JSON root index's per-project ``_last-serial``."""

    def __init__(
        self,
        session: requests.Session,
        master: str,
        timeout: float,
        policy: RetryPolicy,
        deadline: float = 1800.0,
        max_document: int = 256 * 1024 * 1024,
    ) -> None:
        self.url = f"{master}/simple/"
        self._max = max_document
        self._session = session
        self._timeout = timeout
        self._policy = policy
        self._deadline = deadline

    def snapshot(self) -> tuple[int, dict[ProjectName, tuple[str, int]]]:
        """(index serial, {project: (display name, serial)}) from one request."""
        doc = self._policy.run("simple root index", self._get)
        meta = doc.get("meta") if isinstance(doc.get("meta"), dict) else {}
        projects = doc.get("projects")
        if not isinstance(projects, list):
            raise BadUpstreamData(self.url, "root index has no 'projects' list")
        listed: dict[ProjectName, tuple[str, int]] = {}
        for entry in projects:
            display = entry.get("name") if isinstance(entry, dict) else None
            name = project_name(display)
            if name is None:
                log.warning("root index: skipped %.200r: not a project name", display)
                continue
            serial = fields.serial(entry.get("_last-serial"))
            listed[name] = (str(display), serial or 0)
        top = fields.serial(meta.get("_last-serial") if meta else None)
        if top is None:
            top = max((s for _d, s in listed.values()), default=0)
        return top, listed

    def _get(self) -> dict[str, Any]:
        headers = {"Accept": SIMPLE_JSON}
        with open_stream(
            self._session, self.url, self._timeout, headers, deadline=self._deadline
        ) as response:
            check_status(response)
            doc = json_document(self.url, response.read(self._max))
        if not isinstance(doc, dict):
            raise BadUpstreamData(self.url, "root index is not a JSON object")
        return doc
