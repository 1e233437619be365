"""Pure rendering of simple pages (PEP 503/592/629/658/691/700/714) and the root index.

HTML and JSON are both derived from one ``SimplePage`` record. Nothing here touches disk
or network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from packaging.version import InvalidVersion, Version

from .layout import HTML_LEAF, JSON_LEAF, PAGE_LINK_PREFIX, V1_HTML_LEAF
from .models import IndexEntry, PageFile, ProjectName, SimplePage, normalize
from .splicing import Lines, splice

API_VERSION = "1.1"
"""PEP 700: every file carries ``size`` and ``upload-time``, every page ``versions``."""

JSON_CONTENT_TYPE = "application/vnd.pypi.simple.v1+json"
V1_HTML_CONTENT_TYPE = "application/vnd.pypi.simple.v1+html"
HTML_CONTENT_TYPE = "text/html"
"""PEP 691's three content types; ``text/html`` is the legacy alias of the v1 HTML page."""

PAGE_LEAVES = {HTML_CONTENT_TYPE: HTML_LEAF, V1_HTML_CONTENT_TYPE: V1_HTML_LEAF,
               JSON_CONTENT_TYPE: JSON_LEAF}  # fmt: skip
"""The leaf that holds each content type's page."""


@dataclass(frozen=True)
class PageOptions:
    root_uri: str | None = None
    """When set, file links are absolute: ``<root_uri>/packages/<path>``."""
    digest_name: str = "sha256"
    link_upstream: bool = False
    """``release-files = false``: link the upstream URL instead of a local copy."""


def _version_key(version: str) -> tuple[int, Version | str]:
    try:
        return (0, Version(version))
    except InvalidVersion:
        return (1, version)


def sort_versions(versions: Iterable[str]) -> list[str]:
    """Versions in PEP 440 order; unparseable ones last, in string order."""
    return sorted(set(versions), key=_version_key)


def file_url(pf: PageFile, opts: PageOptions) -> str:
    """The link to a file as seen from ``/simple/<name>/`` (whatever hash-index does)."""
    if opts.link_upstream and not opts.root_uri:
        return pf.file.url
    quoted = quote(pf.file.path, safe="/")
    if opts.root_uri:
        return f"{opts.root_uri}/packages/{quoted}"
    return f"{PAGE_LINK_PREFIX}{quoted}"


def _digest(pf: PageFile, opts: PageOptions) -> tuple[str, str]:
    value = pf.file.digests.get(opts.digest_name)
    if opts.digest_name == "sha256" or not value:
        return "sha256", pf.file.sha256
    return opts.digest_name, value


def _sorted_files(page: SimplePage) -> list[PageFile]:
    return sorted(page.files, key=lambda pf: pf.file.filename)


def _html_anchor(pf: PageFile, opts: PageOptions) -> str:
    algo, value = _digest(pf, opts)
    href = escape(f"{file_url(pf, opts)}#{algo}={value}")
    attrs = [f'href="{href}"']
    f = pf.file
    if f.requires_python:
        attrs.append(f'data-requires-python="{escape(f.requires_python)}"')
    if f.yanked:
        attrs.append(f'data-yanked="{escape(f.yanked_reason or "")}"')
    if pf.metadata_stored and f.core_metadata_sha256:
        meta = escape(f"sha256={f.core_metadata_sha256}")
        attrs.append(f'data-core-metadata="{meta}"')
        attrs.append(f'data-dist-info-metadata="{meta}"')
    return f"    <a {' '.join(attrs)}>{escape(f.filename)}</a><br/>"


def render_project_html(page: SimplePage, opts: PageOptions) -> str:
    title = escape(page.display_name)
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">',
        f"    <title>Links for {title}</title>",
        "  </head>",
        "  <body>",
        f"    <h1>Links for {title}</h1>",
    ]
    lines.extend(_html_anchor(pf, opts) for pf in _sorted_files(page))
    lines += ["  </body>", "</html>", f"<!--SERIAL {page.serial}-->"]
    return "\n".join(lines) + "\n"


def _json_file(pf: PageFile, opts: PageOptions) -> dict[str, object]:
    f = pf.file
    algo, value = _digest(pf, opts)
    hashes = {"sha256": f.sha256}
    hashes[algo] = value
    yanked: bool | str = (f.yanked_reason or True) if f.yanked else False
    stored = pf.metadata_stored and f.core_metadata_sha256
    core: object = {"sha256": f.core_metadata_sha256} if stored else False
    entry: dict[str, object] = {
        "filename": f.filename,
        "url": file_url(pf, opts),
        "hashes": hashes,
        "requires-python": f.requires_python,
        "yanked": yanked,
        "size": f.size,
        "upload-time": f.upload_time,
        "core-metadata": core,
    }
    return entry


def render_project_json(page: SimplePage, opts: PageOptions) -> str:
    doc = {
        "meta": {"api-version": API_VERSION, "_last-serial": page.serial},
        "name": page.name,
        "files": [_json_file(pf, opts) for pf in _sorted_files(page)],
        "versions": sort_versions(page.versions),
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"


ROOT_HTML_HEAD = (
    "<!DOCTYPE html>\n<html>\n  <head>\n"
    f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
    "    <title>Simple Index</title>\n  </head>\n  <body>\n"
)
ROOT_HTML_TAIL = "  </body>\n</html>\n"
ROOT_JSON_TAIL = "]}\n"
_HTML_SPECIAL = re.compile(r"[&<>\"']")
_JSON_SPECIAL = re.compile(r'["\\\x00-\x1f]')


def root_json_head(serial: int) -> str:
    return f'{{"meta":{{"api-version":"{API_VERSION}","_last-serial":{serial}}},"projects":['


def _interleave(parts: list[str], *columns: Sequence[str]) -> str:
    """``parts[0] + columns[0][0] + parts[1] + columns[1][0] + ... + parts[0] + columns[0][1]
    + ...``: one ``join`` over a list filled by slice assignment, with no Python loop per
    project (at 700k projects that loop is most of the cost)."""
    count = len(columns[0])
    joined = [""] * (2 * len(parts) * count)
    step = 2 * len(parts)
    for i, part in enumerate(parts):
        joined[2 * i :: step] = [part] * count
        joined[2 * i + 1 :: step] = columns[i]
    return "".join(joined)


def root_html_records(names: Sequence[str], displays: Sequence[str]) -> str:
    """The root index's HTML line for each project, in the order given."""
    if not names:
        return ""
    if _HTML_SPECIAL.search("".join(displays)):
        displays = list(map(escape, displays))
    lines = _interleave(['</a><br/>\n    <a href="', '/">'], names, displays)
    return lines[len("</a><br/>\n") :] + "</a><br/>\n"


def root_json_records(displays: Sequence[str], serials: Sequence[int | str]) -> str:
    """The root index's JSON objects, comma-separated, in the order given."""
    if not displays:
        return ""
    parts = ['},{"name":"', '","_last-serial":']
    if _JSON_SPECIAL.search("".join(displays)):
        displays = [json.dumps(d, ensure_ascii=False) for d in displays]
        parts = ['},{"name":', ',"_last-serial":']
    records = _interleave(parts, displays, list(map(str, serials)))
    return records[len("},") :] + "}"


def _in_order(entries: Iterable[IndexEntry]) -> tuple[list[str], list[str], list[int]]:
    listed = sorted(entries, key=lambda e: e.name)
    return [e.name for e in listed], [e.display_name for e in listed], [e.serial for e in listed]


def render_root_html(entries: Iterable[IndexEntry]) -> str:
    names, displays, _serials = _in_order(entries)
    return ROOT_HTML_HEAD + root_html_records(names, displays) + ROOT_HTML_TAIL


def render_root_json(entries: Iterable[IndexEntry], serial: int) -> str:
    _names, displays, serials = _in_order(entries)
    return root_json_head(serial) + root_json_records(displays, serials) + ROOT_JSON_TAIL


# -- splicing a few changes into a root page that is already rendered -------------------
def _html_key(line: bytes) -> bytes:
    return line[len(b'    <a href="') : line.rindex(b'/">')]


ROOT_HTML_RECORDS = Lines(_html_key)


@dataclass(frozen=True)
class _JsonRecords:
    """``{"name":...,"_last-serial":N}`` objects separated by commas. No record contains
    ``,{"name":`` or ``,"_last-serial":`` (a quote inside a JSON string is escaped), so
    both find boundaries; the key is the normalized name."""

    separator: bytes = b","

    def start_at_or_after(self, buf: bytes, pos: int, lo: int, hi: int) -> int:
        if pos <= lo:
            return lo
        found = buf.find(b',{"name":', pos - 1, hi)
        return hi if found < 0 else found + 1

    def key_and_end(self, buf: bytes, start: int, hi: int) -> tuple[bytes, int]:
        name_end = buf.index(b',"_last-serial":', start, hi)
        display = json.loads(buf[start + len(b'{"name":') : name_end])
        end = buf.index(b"}", name_end, hi) + 1
        return normalize(display).encode(), end + 1 if end < hi else end


ROOT_JSON_RECORDS = _JsonRecords()
_JSON_HEAD = re.compile(
    rb'\{"meta":\{"api-version":"[^"]*","_last-serial":-?[0-9]+\},"projects":\['
)


def root_page_shape(page: bytes) -> bool:
    """Does ``page`` look like a root page (either format) rendered here?"""
    html = page.startswith(ROOT_HTML_HEAD.encode()) and page.endswith(ROOT_HTML_TAIL.encode())
    return html or (_JSON_HEAD.match(page) is not None and page.endswith(ROOT_JSON_TAIL.encode()))


def splice_root_html(
    old: bytes, changes: Sequence[tuple[ProjectName, IndexEntry | None]]
) -> list[bytes | memoryview] | None:
    """``old`` (a root HTML page rendered here) with ``changes`` applied, sorted by name, as
    pieces to concatenate; None if ``old`` does not have the shape this module renders."""
    head, tail = ROOT_HTML_HEAD.encode(), ROOT_HTML_TAIL.encode()
    if not old.startswith(head) or not old.endswith(tail):
        return None
    records = [
        (name.encode(), None if e is None else root_html_records([name], [e.display_name]).encode())
        for name, e in changes
    ]
    body = splice(old, len(head), len(old) - len(tail), ROOT_HTML_RECORDS, records)
    return [head, *body, tail]


def splice_root_json(
    old: bytes, changes: Sequence[tuple[ProjectName, IndexEntry | None]], serial: int
) -> list[bytes | memoryview] | None:
    """As ``splice_root_html``, for the JSON root page, with ``serial`` as its new serial."""
    head, tail = _JSON_HEAD.match(old), ROOT_JSON_TAIL.encode()
    if head is None or not old.endswith(tail):
        return None
    records = [
        (
            name.encode(),
            None if e is None else root_json_records([e.display_name], [e.serial]).encode(),
        )
        for name, e in changes
    ]
    body = splice(old, head.end(), len(old) - len(tail), ROOT_JSON_RECORDS, records)
    return [root_json_head(serial).encode(), *body, tail]
