"""Project pages this tool wrote, read back into records (pure; no I/O). The one reader of
the mirror's own pages: ``site.readback`` hands it the bytes.

``verify`` reads every project's JSON page, so this is its hot path: links of the form the
renderer writes (``../../packages/<path>``) take a fast, still fully checked route; any other
link is resolved like a browser would and checked segment by segment.

A JSON page is read once (``read_json_page``) into the stored files it lists; the files a
page lists (``expected_from_json_page``) and the page as a record to render again
(``page_from_json``) are both taken from that one reading.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from ..errors import UnsafePath
from ..layout import PACKAGES, PAGE_LINK_PREFIX, check_segment, package_rel
from ..models import (
    API_BASE,
    Expected,
    PageFile,
    ProjectName,
    ProjectStatus,
    ReleaseFile,
    SimplePage,
)

_SERIAL = re.compile(rb"<!--SERIAL (\d+)-->")
_JSON_SERIAL = re.compile(rb'"_last-serial"\s*:\s*(\d+)')
_ANCHOR = re.compile(r'<a [^>]*href="([^"]+)"[^>]*>', re.IGNORECASE)
_CORE = re.compile(r'data-(?:core|dist-info)-metadata="sha256=([0-9a-f]{64})"')
_PROVENANCE = re.compile(r'data-provenance="[^"]+"')
_TITLE = re.compile(rb"<title>Links for (.*?)</title>")
_UNREADABLE = (ValueError, KeyError, TypeError, AttributeError)
"""What reading a document of the wrong shape raises."""


def rel_path(url: str, root_uri: str | None = None) -> str | None:
    """The path below ``packages/`` a page link points at; None for a link elsewhere (an
    upstream link on a ``release-files = false`` mirror) or one that would leave the mirror.

    Relative links are this mirror's; absolute ones only when below ``root_uri``."""
    if url.startswith(PAGE_LINK_PREFIX):
        rel = url[len(PAGE_LINK_PREFIX) :]
        if "%" in rel:
            rel = unquote(rel)
        if rel.isprintable() and not (
            "//" in rel or "/." in rel or "\\" in rel or rel.startswith(".") or rel.endswith("/")
        ):
            return rel
    absolute = urljoin("http://mirror.invalid/simple/x/", url)
    own = absolute.startswith("http://mirror.invalid/") or bool(
        root_uri and absolute.startswith(f"{root_uri}/packages/")
    )
    if not own:
        return None
    path = unquote(urlsplit(absolute).path)
    _, found, rel = path.rpartition("/packages/")
    if not found:
        return None
    try:
        for segment in rel.split("/"):
            check_segment(segment, "listed path segment")
    except UnsafePath:
        return None
    return rel


@dataclass(frozen=True)
class JsonPage:
    """A PEP 691 project page as read back: what it says of each file it lists."""

    serial: int | None
    """``meta._last-serial``; None when the page does not say."""
    versions: tuple[str, ...] | None
    listed: tuple[Expected | None, ...]
    """Per file entry: the stored file it lists; None for a link that is not to a file of
    this mirror."""
    entries: tuple[Any, ...]
    """The file entries, for ``page_from_json`` (the other formats need every field)."""
    known: tuple[int, int] = API_BASE
    """``meta.api-version`` (what the page's source could tell)."""
    status: ProjectStatus | None = None
    status_reason: str | None = None


def read_json_page(raw: bytes, root_uri: str | None = None) -> JsonPage | None:
    """The one reading of a PEP 691 page; None when it does not parse as one."""
    try:
        doc = json.loads(raw)
        entries = tuple(doc["files"])
        listed = tuple(_listed(entry, root_uri) for entry in entries)
    except _UNREADABLE:
        return None
    try:
        serial: int | None = int(doc["meta"]["_last-serial"])
    except (*_UNREADABLE, OverflowError):
        serial = None
    try:
        versions: tuple[str, ...] | None = tuple(str(v) for v in doc.get("versions", ()))
    except _UNREADABLE:
        versions = None
    known, status, reason = _api_and_status(doc)
    return JsonPage(serial, versions, listed, entries, known, status, reason)


def _api_and_status(doc: Any) -> tuple[tuple[int, int], ProjectStatus | None, str | None]:
    """The page's API version and PEP 792 status, as this tool wrote them."""
    try:
        major, minor = str(doc["meta"]["api-version"]).split(".")
        known = (int(major), int(minor))
    except (*_UNREADABLE, OverflowError):
        known = API_BASE
    found = doc.get("project-status")
    try:
        status = ProjectStatus(found["status"]) if isinstance(found, dict) else None
    except (*_UNREADABLE, OverflowError):
        status = None
    reason = found.get("reason") if status is not None and isinstance(found, dict) else None
    return known, status, reason if isinstance(reason, str) else None


def _listed(entry: Any, root_uri: str | None) -> Expected | None:
    rel = rel_path(entry["url"], root_uri)
    if rel is None:
        return None
    path = f"{PACKAGES}/{rel}"
    sha256 = entry.get("hashes", {}).get("sha256")
    core = entry.get("core-metadata")
    size = entry.get("size")
    return Expected(
        path,
        size if isinstance(size, int) else None,
        sha256 if isinstance(sha256, str) else None,
        core.get("sha256") if isinstance(core, dict) else None,
        provenance=isinstance(entry.get("provenance"), str),
    )


def _page_file(entry: Any, listed: Expected | None) -> PageFile | None:
    """The entry as a file to list on a page again; None when it lacks what a page needs
    (a file of this mirror, with a size and a sha256)."""
    if listed is None:
        return None
    try:
        size, hashes = entry.get("size"), entry["hashes"]
        if not isinstance(size, int) or not isinstance(hashes.get("sha256"), str):
            return None
        yanked = entry.get("yanked", False)
        release = ReleaseFile(
            filename=str(entry["filename"]),
            url=str(entry["url"]),
            path=package_rel(listed.path),
            version="",
            size=size,
            sha256=hashes["sha256"],
            digests={str(k): str(v) for k, v in hashes.items()},
            requires_python=entry.get("requires-python"),
            yanked=yanked is not False and yanked is not None,
            yanked_reason=yanked if isinstance(yanked, str) and yanked else None,
            upload_time=entry.get("upload-time"),
            core_metadata_sha256=listed.metadata_sha256,
            provenance_url=entry.get("provenance") if listed.provenance else None,
        )
    except _UNREADABLE:
        return None
    return PageFile(release, listed.metadata_sha256 is not None, listed.provenance)


def expected_from_json_page(raw: bytes, root_uri: str | None = None) -> tuple[Expected, ...] | None:
    """The stored files a PEP 691 page lists; None when the page does not parse."""
    page = read_json_page(raw, root_uri)
    if page is None:
        return None
    return tuple({e.path: e for e in page.listed if e is not None}.values())


def expected_from_html_page(raw: bytes, root_uri: str | None = None) -> tuple[Expected, ...]:
    """The stored files a PEP 503 page lists (no sizes: HTML pages do not carry them)."""
    expected: dict[str, Expected] = {}
    for anchor in _ANCHOR.finditer(raw.decode("utf-8", "replace")):
        url, _, fragment = html.unescape(anchor.group(1)).partition("#")
        rel = rel_path(url, root_uri)
        if rel is None:
            continue
        algo, _, digest = fragment.partition("=")
        core = _CORE.search(anchor.group(0))
        path = f"{PACKAGES}/{rel}"
        expected[path] = Expected(
            path,
            None,
            digest if algo == "sha256" and digest else None,
            core.group(1) if core else None,
            provenance=_PROVENANCE.search(anchor.group(0)) is not None,
        )
    return tuple(expected.values())


def page_from_json(
    name: ProjectName, display_name: str, raw: bytes, root_uri: str | None = None
) -> SimplePage | None:
    """Read back a PEP 691 page this tool wrote, to re-render its other formats.

    None when the page is not readable or lacks what the pages need (a size per file)."""
    page = read_json_page(raw, root_uri)
    if page is None or page.serial is None or page.versions is None:
        return None
    files = list(map(_page_file, page.entries, page.listed))
    if None in files:
        return None
    return SimplePage(
        name,
        display_name,
        page.serial,
        page.versions,
        tuple(filter(None, files)),
        known=page.known,
        status=page.status,
        status_reason=page.status_reason,
    )


def page_serial(json_page: bytes | None, html_page: bytes | None) -> int:
    """The serial a project's pages carry (JSON ``meta._last-serial``, else the HTML
    ``<!--SERIAL n-->`` comment pypa/bandersnatch also writes); 0 when neither says."""
    found = _JSON_SERIAL.search(json_page or b"") or _SERIAL.search(html_page or b"")
    return int(found.group(1)) if found else 0


def page_title(html_page: bytes | None) -> str | None:
    """The display name in an HTML page's title."""
    found = _TITLE.search(html_page or b"")
    return html.unescape(found.group(1).decode("utf-8", "replace")) if found else None
