"""The PEP 691 JSON simple API as an upstream: project pages as metadata, and the root
index (``/simple/`` with per-project ``_last-serial``) as a change feed.

This is what lets a bandersnatch mirror, or any index without XML-RPC, be the upstream.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from ..errors import BadUpstreamData, redact
from ..models import (
    API_BASE,
    API_PROVENANCE,
    API_STATUS,
    Project,
    ProjectName,
    ProjectStatus,
    project_name,
    project_names,
)
from ..simple.formats import JSON_CONTENT_TYPE
from . import fields
from .entries import SIMPLE_PAGE, FileList
from .http import check_status, json_document, open_stream
from .session import RetryPolicy

log = logging.getLogger(__name__)

SIMPLE_JSON = JSON_CONTENT_TYPE
"""What a request for a PEP 691 JSON page accepts."""


def project_status(page_url: str, value: object) -> tuple[ProjectStatus | None, str | None]:
    """PEP 792 ``project-status`` (``{"status": ..., "reason": ...}``) -> (status, reason).

    Absent means ``active``. A value that is not one of the four statuses PEP 792 defines
    is not mirrored (None, with a warning): the page then claims no status at all rather
    than pass on a marker no installer knows, or say ``active`` where upstream did not."""
    if value is None:
        return ProjectStatus.ACTIVE, None
    raw = value.get("status") if isinstance(value, dict) else None
    reason = value.get("reason") if isinstance(value, dict) else None
    try:
        status = ProjectStatus(raw) if isinstance(raw, str) else None
    except ValueError:
        status = None
    if status is None:
        log.warning("%s: unknown project-status %.80r; not mirrored", page_url, raw)
        return None, None
    return status, fields.text(reason)


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
    listed = FileList(page_url, SIMPLE_PAGE)
    entries = doc.get("files")
    for entry in entries if isinstance(entries, list) else []:
        listed.add(entry)
    files = listed.files
    versions = doc.get("versions")
    if not isinstance(versions, list):
        versions = sorted({f.version for f in files if f.version})
    meta = doc.get("meta")
    known = fields.api_version(meta.get("api-version") if isinstance(meta, dict) else None)
    known = min(known or API_BASE, API_STATUS)
    status, reason = None, None
    if known >= API_STATUS:
        status, reason = project_status(page_url, doc.get("project-status"))
        if status is None:
            known = API_PROVENANCE
    return Project(
        name=name,
        display_name=str(display),
        serial=serial or 0,
        versions=tuple(str(v) for v in versions),
        files=tuple(files),
        refused=tuple(listed.refused),
        api_version=known,
        status=status,
        status_reason=reason,
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

    def snapshot(self, validator: str | None = None) -> Snapshot:
        """One request for every project's serial; a conditional one when ``validator``
        (from an earlier snapshot of this URL) is given: then a 304 costs no parsing."""
        conditions = _conditions(validator, self.url)
        status, headers, body = self._policy.run("simple root index", lambda: self._get(conditions))
        if status == 304 and conditions:
            return Snapshot(0, [], [], [], validator, unchanged=True)
        doc = _json_object(self.url, body)
        meta = doc.get("meta") if isinstance(doc.get("meta"), dict) else {}
        projects = doc.get("projects")
        if not isinstance(projects, list):
            raise BadUpstreamData(self.url, "root index has no 'projects' list")
        raw = [e.get("name") if isinstance(e, dict) else None for e in projects]
        checked = [
            fields.serial(e.get("_last-serial")) if isinstance(e, dict) else None for e in projects
        ]
        displays, serials, names = [], [], []
        for name, display, serial in zip(project_names(raw), raw, checked, strict=True):
            if name is None:
                log.warning("root index: skipped %.200r: not a project name", display)
                continue
            names.append(name)
            displays.append(str(display))
            serials.append(serial or 0)  # no serial given: checked against upstream on sync
        top = fields.serial(meta.get("_last-serial") if meta else None)
        if top is None:
            top = max(serials, default=0)
        return Snapshot(top, names, displays, serials, _validator(headers, self.url))

    def _get(self, conditions: dict[str, str]) -> tuple[int, Mapping[str, str], bytes]:
        """(status, headers, body) of one GET of the root index."""
        headers = {"Accept": SIMPLE_JSON, **conditions}
        with open_stream(
            self._session, self.url, self._timeout, headers, deadline=self._deadline
        ) as response:
            check_status(response)
            body = b"" if response.status_code == 304 else response.read(self._max)
            return response.status_code, dict(response.headers), body


def _json_object(url: str, body: bytes) -> dict[str, Any]:
    doc = json_document(url, body)
    if not isinstance(doc, dict):
        raise BadUpstreamData(url, "root index is not a JSON object")
    return doc


def _validator(headers: Mapping[str, str], url: str) -> str | None:
    etag, modified = headers.get("ETag"), headers.get("Last-Modified")
    if not etag and not modified:
        return None
    saved = {"url": redact(url), "etag": etag, "last-modified": modified}  # no credentials
    return json.dumps(saved, sort_keys=True)


def _conditions(validator: str | None, url: str) -> dict[str, str]:
    """The request headers that make a GET of ``url`` conditional on ``validator``."""
    try:
        saved = json.loads(validator) if validator else None
    except ValueError:
        saved = None
    if not isinstance(saved, dict) or saved.get("url") != redact(url):
        return {}
    headers = {}
    if isinstance(saved.get("etag"), str):
        headers["If-None-Match"] = saved["etag"]
    if isinstance(saved.get("last-modified"), str):
        headers["If-Modified-Since"] = saved["last-modified"]
    return headers
