"""Project pages this tool wrote, read back into records (pure; no I/O).

``verify`` reads every project's JSON page, so this is its hot path: links of the form the
renderer writes (``../../packages/<path>``) take a fast, still fully checked route; any other
link is resolved like a browser would and checked segment by segment.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from .errors import UnsafePath
from .layout import PACKAGES, PAGE_LINK_PREFIX, check_segment
from .models import Expected, PageFile, ProjectName, ReleaseFile, SimplePage

_SERIAL = re.compile(rb"<!--SERIAL (\d+)-->")
_JSON_SERIAL = re.compile(rb'"_last-serial"\s*:\s*(\d+)')
_ANCHOR = re.compile(r'<a [^>]*href="([^"]+)"[^>]*>', re.IGNORECASE)
_CORE = re.compile(r'data-(?:core|dist-info)-metadata="sha256=([0-9a-f]{64})"')
_TITLE = re.compile(rb"<title>Links for (.*?)</title>")


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


def expected_from_json_page(raw: bytes, root_uri: str | None = None) -> tuple[Expected, ...] | None:
    """The stored files a PEP 691 page lists; None when the page does not parse."""
    try:
        files = json.loads(raw)["files"]
        expected: dict[str, Expected] = {}
        for entry in files:
            rel = rel_path(entry["url"], root_uri)
            if rel is None:
                continue
            sha256 = entry.get("hashes", {}).get("sha256")
            core = entry.get("core-metadata")
            size = entry.get("size")
            expected[f"{PACKAGES}/{rel}"] = Expected(
                f"{PACKAGES}/{rel}",
                size if isinstance(size, int) else None,
                sha256 if isinstance(sha256, str) else None,
                core.get("sha256") if isinstance(core, dict) else None,
            )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return tuple(expected.values())


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
        expected[f"{PACKAGES}/{rel}"] = Expected(
            f"{PACKAGES}/{rel}",
            None,
            digest if algo == "sha256" and digest else None,
            core.group(1) if core else None,
        )
    return tuple(expected.values())


def page_from_json(
    name: ProjectName, display_name: str, raw: bytes, root_uri: str | None = None
) -> SimplePage | None:
    """Read back a PEP 691 page this tool wrote, to re-render its other formats.

    None when the page is not readable or lacks what the pages need (a size per file)."""
    try:
        doc = json.loads(raw)
        serial = int(doc["meta"]["_last-serial"])
        files = [_page_file(f, root_uri) for f in doc["files"]]
        versions = tuple(str(v) for v in doc.get("versions", ()))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if any(f is None for f in files):
        return None
    return SimplePage(name, display_name, serial, versions, tuple(f for f in files if f))


def _page_file(entry: dict[str, Any], root_uri: str | None) -> PageFile | None:
    url, size, hashes = entry["url"], entry.get("size"), entry["hashes"]
    rel = rel_path(url, root_uri)
    if not isinstance(size, int) or rel is None or not isinstance(hashes.get("sha256"), str):
        return None
    yanked = entry.get("yanked", False)
    core = entry.get("core-metadata")
    core_sha = core.get("sha256") if isinstance(core, dict) else None
    release = ReleaseFile(
        filename=str(entry["filename"]),
        url=str(url),
        path=rel,
        version="",
        size=size,
        sha256=hashes["sha256"],
        digests={str(k): str(v) for k, v in hashes.items()},
        requires_python=entry.get("requires-python"),
        yanked=yanked is not False and yanked is not None,
        yanked_reason=yanked if isinstance(yanked, str) and yanked else None,
        upload_time=entry.get("upload-time"),
        core_metadata_sha256=core_sha,
    )
    return PageFile(release, core_sha is not None)


def page_serial(json_page: bytes | None, html_page: bytes | None) -> int:
    """The serial a project's pages carry (JSON ``meta._last-serial``, else the HTML
    ``<!--SERIAL n-->`` comment pypa/bandersnatch also writes); 0 when neither says."""
    found = _JSON_SERIAL.search(json_page or b"") or _SERIAL.search(html_page or b"")
    return int(found.group(1)) if found else 0


def page_title(html_page: bytes | None) -> str | None:
    """The display name in an HTML page's title."""
    found = _TITLE.search(html_page or b"")
    return html.unescape(found.group(1).decode("utf-8", "replace")) if found else None
