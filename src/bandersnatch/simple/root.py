"""The root index (``web/simple/index.*``): rendered whole from the ledger's columns, or
with a few changes spliced into the bytes of a page already rendered (pure; the ledger
writes the files: ``ledgerfile``, ``ledger``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

from ..models import IndexEntry, ProjectName, normalize
from ..splicing import Lines, splice
from .formats import API_VERSION

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
