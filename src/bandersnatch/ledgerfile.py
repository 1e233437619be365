"""The ledger file and the root index pages on disk, written together.

The ledger (``projects``) lists every mirrored project, one line ``name<TAB>serial<TAB>
display name`` each, sorted by name; the root pages list the same projects in the same
order. This module owns that line format, writes the files of one publish as temp files
committed in order (root pages, then the ledger, one fsync each), renders them whole a chunk
of projects at a time (C-level ``map`` and one ``join`` per chunk rather than a Python loop
per project: 700k projects in about a second and little memory), and keeps the stamp
(``projects.stamp``): the fingerprint (size, modification time, inode) of each file known to
be sorted and in step with the others, which is what lets ``ledger`` splice changes into
them instead of rendering them whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from operator import itemgetter, methodcaller
from typing import cast

from .errors import StateError
from .layout import LEDGER, LEDGER_STAMP, ROOT_HTML_PAGES, ROOT_JSON_PAGE
from .models import IndexEntry, ProjectName, SimpleFormat, normalize_many
from .simple.root import (
    ROOT_HTML_HEAD,
    ROOT_HTML_TAIL,
    ROOT_JSON_TAIL,
    root_html_records,
    root_json_head,
    root_json_records,
)
from .splicing import Lines
from .storage import Storage

_CHUNK = 50_000
"""Ledger lines joined at a time: a bound on transient memory."""
_CHUNK_BYTES = 1 << 22
"""Bytes of the ledger parsed (and rendered into root pages) at a time, for the same reason."""
RECORDS = Lines(lambda line: line[: line.index(b"\t")])
"""The ledger's lines as records for ``splicing``, keyed by name."""
LINE = "{}\t{}\t{}".format
"""A ledger line (without its newline) from a name, a serial and a display name."""
_MALFORMED_HINT = "delete it; the next run rebuilds it from the simple pages"


def serial_of(line: str) -> int:
    return int(line.split("\t", 2)[1])


def entry(line: str) -> IndexEntry:
    name, serial, display = line.split("\t", 2)
    return IndexEntry(ProjectName(name), display, int(serial))


def records(
    changes: list[tuple[ProjectName, str | None]],
) -> list[tuple[bytes, bytes | None]]:
    return [(n.encode(), None if line is None else f"{line}\n".encode()) for n, line in changes]


def columns(raw: bytes) -> Iterator[tuple[list[ProjectName], list[str], list[str]]]:
    """The ledger's names, serials and display names, a chunk of lines at a time."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        detail = f"not UTF-8 text (byte {exc.start}: {raw[exc.start : exc.start + 8]!r})"
        raise StateError(LEDGER, detail, _MALFORMED_HINT) from None
    start, number = 0, 1
    while start < len(text):
        end = text.find("\n", start + _CHUNK_BYTES) + 1 or len(text)
        lines = text[start:end].split("\n")
        if lines[-1] == "":
            lines.pop()
        parts = list(map(methodcaller("split", "\t"), lines))
        if set(map(len, parts)) != {3} or not all(map(str.isdigit, map(itemgetter(1), parts))):
            bad = next(i for i, p in enumerate(parts) if len(p) != 3 or not p[1].isdigit())
            detail = f"line {number + bad} is malformed: {lines[bad][:80]!r}"
            raise StateError(LEDGER, detail, _MALFORMED_HINT)
        names: list[ProjectName] = list(map(itemgetter(0), parts))
        yield names, list(map(itemgetter(1), parts)), list(map(itemgetter(2), parts))
        start, number = end, number + len(lines)


class Output:
    """What a publish writes: temp files, each appearing at once on ``commit``. The two
    HTML root pages are one file with two names (written once: 38 MB at PyPI's size)."""

    def __init__(self, storage: Storage, simple_format: SimpleFormat | None) -> None:
        self.html = simple_format is not None and simple_format.html
        self.json = simple_format is not None and simple_format.json
        paths: list[tuple[str, ...]] = [ROOT_HTML_PAGES] if self.html else []
        paths += [(ROOT_JSON_PAGE,)] if self.json else []
        self._storage = storage
        self.pages = {p: storage.open_atomic(p[0]) for p in paths}
        self._ledger = storage.open_atomic(LEDGER)
        self._ledger_bytes: list[bytes] = []

    def page(self, paths: tuple[str, ...], data: bytes | memoryview) -> None:
        self.pages[paths].write(data)

    def ledger(self, data: bytes) -> None:
        self._ledger.write(data)
        self._ledger_bytes.append(data)

    def commit(self) -> tuple[list[str], bytes]:
        """Root pages first, then the ledger, all durably; the pages and the ledger written."""
        written: list[str] = []
        for paths, file in self.pages.items():
            file.commit(durable=True)
            for other in paths[1:]:
                self._storage.link(other, paths[0])
            written += paths
        self._ledger.commit(durable=True)
        return written, b"".join(self._ledger_bytes)

    def abort(self) -> None:
        for f in [*self.pages.values(), self._ledger]:
            f.abort()


def render(ordered: list[str], out: Output, serial: int) -> bool:
    """Write the ledger and root pages whole, in one pass over chunks of ledger lines;
    whether every display name normalizes to its project's name."""
    html, json = (ROOT_HTML_PAGES, (ROOT_JSON_PAGE,))
    if out.html:
        out.page(html, ROOT_HTML_HEAD.encode())
    if out.json:
        out.page(json, root_json_head(serial).encode())
    consistent = True
    for start in range(0, len(ordered), _CHUNK):
        text = "\n".join(ordered[start : start + _CHUNK]) + "\n"
        out.ledger(text.encode())
        names, serials, displays = _split(text, min(_CHUNK, len(ordered) - start))
        if out.html:
            out.page(html, root_html_records(names, displays).encode())
        if out.json:
            records = root_json_records(displays, serials)
            out.page(json, (f",{records}" if start else records).encode())
            consistent = consistent and normalize_many(displays) == names
    if out.html:
        out.page(html, ROOT_HTML_TAIL.encode())
    if out.json:
        out.page(json, ROOT_JSON_TAIL.encode())
    return consistent


def _split(text: str, count: int) -> tuple[list[ProjectName], list[str], list[str]]:
    """Names, serials and display names of ``count`` ledger lines (each ending in a newline)."""
    words = text.replace("\n", "\t").split("\t")
    if len(words) != 3 * count + 1:  # a display name with a tab in it
        parts = [line.split("\t", 2) for line in text.split("\n")[:-1]]
        words = [word for part in parts for word in part] + [""]
    return cast(list[ProjectName], words[0:-1:3]), words[1::3], words[2::3]


def vouched(storage: Storage) -> frozenset[str]:
    """The files the stamp vouches for that have not changed since it was written."""
    raw = storage.read_bytes(LEDGER_STAMP)
    vouched = []
    for line in (raw or b"").decode("utf-8", "replace").splitlines():
        path, _, fingerprint = line.partition(" ")
        if path and fingerprint and storage.fingerprint(path) == fingerprint:
            vouched.append(path)
    return frozenset(vouched)


def write_stamp(storage: Storage, paths: Iterable[str]) -> None:
    stamp = "".join(f"{path} {storage.fingerprint(path)}\n" for path in paths)
    storage.write_bytes(LEDGER_STAMP, stamp.encode(), durable=True)
