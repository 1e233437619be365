"""Simple pages as an installer reads them from any server (pure; no I/O).

``check-server`` uses this to tell whether a body parses as the format its Content-Type
claims, and to find the files (and advertised ``.metadata``) a client would fetch next.
Lenient like the clients are; this tool's own pages are read back by ``simple.parse``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urljoin


class PageError(ValueError):
    """A body that does not parse as the page format it claims to be."""


@dataclass(frozen=True)
class FileLink:
    url: str
    """Absolute, resolved against the page's URL, without the fragment."""
    filename: str
    sha256: str | None = None
    metadata_sha256: str | None = None
    """The PEP 658/714 ``.metadata`` digest the page advertises (``""``: advertised, no
    digest); None when not advertised."""
    size: int | None = None
    upload_time: str | None = None
    provenance: str | None = None
    """The PEP 740 provenance URL the page gives (absolute), if any."""


@dataclass(frozen=True)
class PageView:
    kind: str
    """``"json"`` or ``"html"``."""
    projects: tuple[str, ...] = ()
    """The root index's project names."""
    files: tuple[FileLink, ...] = ()
    status: tuple[str, str | None] | None = None
    """PEP 792 (status, reason) when the page gives a status."""


def _digest(value: object) -> str | None:
    if isinstance(value, dict):
        sha = value.get("sha256")
        return sha if isinstance(sha, str) else ""
    if value is True:
        return ""
    return None


def _json_file(entry: Any, base: str) -> FileLink:
    if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str):
        raise PageError("a file entry without a filename")
    if not isinstance(entry.get("url"), str) or not isinstance(entry.get("hashes"), dict):
        raise PageError(f"{entry['filename']}: no url or hashes")
    core = entry.get("core-metadata", entry.get("dist-info-metadata"))
    size = entry.get("size")
    upload = entry.get("upload-time")
    provenance = entry.get("provenance")
    return FileLink(
        urldefrag(urljoin(base, entry["url"]))[0],
        entry["filename"],
        entry["hashes"].get("sha256"),
        _digest(core),
        size if isinstance(size, int) else None,
        upload if isinstance(upload, str) else None,
        urljoin(base, provenance) if isinstance(provenance, str) else None,
    )


def _json_status(doc: dict[str, Any]) -> tuple[str, str | None] | None:
    found = doc.get("project-status")
    if not isinstance(found, dict) or not isinstance(found.get("status"), str):
        return None
    reason = found.get("reason")
    return found["status"], reason if isinstance(reason, str) else None


def read_json(body: bytes, url: str, *, root: bool) -> PageView:
    """A PEP 691 JSON page (the root index when ``root``)."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PageError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("meta"), dict):
        raise PageError("no meta object")
    if not isinstance(doc["meta"].get("api-version"), str):
        raise PageError("no meta.api-version")
    if root:
        projects = doc.get("projects")
        if not isinstance(projects, list):
            raise PageError("no projects list")
        names = [p.get("name") for p in projects if isinstance(p, dict)]
        return PageView("json", projects=tuple(n for n in names if isinstance(n, str)))
    if not isinstance(doc.get("name"), str) or not isinstance(doc.get("files"), list):
        raise PageError("no name or files")
    files = tuple(_json_file(e, url) for e in doc["files"])
    return PageView("json", files=files, status=_json_status(doc))


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None
        self._text: list[str] = []
        self.meta: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open, self._text = dict(attrs), []
        elif tag == "meta":
            found = dict(attrs)
            name, content = found.get("name"), found.get("content")
            if name and content is not None:
                self.meta.setdefault(name, content)

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.anchors.append((self._open, "".join(self._text).strip()))
            self._open = None


def _html_file(attrs: dict[str, str | None], text: str, base: str) -> FileLink:
    href = attrs.get("href") or ""
    absolute, fragment = urldefrag(urljoin(base, href))
    algo, _, value = fragment.partition("=")
    core = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
    meta = None if core is None else core.partition("sha256=")[2]
    provenance = attrs.get("data-provenance")
    return FileLink(absolute, text or absolute.rsplit("/", 1)[-1],
                    value if algo == "sha256" else None, meta,
                    provenance=urljoin(base, provenance) if provenance else None)  # fmt: skip


def read_html(body: bytes, url: str, *, root: bool) -> PageView:
    """A PEP 503 HTML page (the root index when ``root``)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PageError(f"not UTF-8: {exc}") from exc
    if text.lstrip().startswith(("{", "[")):
        raise PageError("the body is JSON")
    if "<" not in text:
        raise PageError("no HTML markup")
    parser = _Anchors()
    parser.feed(text)
    parser.close()
    if root:
        return PageView("html", projects=tuple(t for _, t in parser.anchors if t))
    files = tuple(_html_file(a, t, url) for a, t in parser.anchors)
    status = parser.meta.get("pypi:project-status")
    reason = parser.meta.get("pypi:project-status-reason")
    return PageView("html", files=files, status=None if status is None else (status, reason))


def read_page(kind: str, body: bytes, url: str, *, root: bool) -> PageView:
    return (read_json if kind == "json" else read_html)(body, url, root=root)
