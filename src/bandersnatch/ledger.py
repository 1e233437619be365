"""The ledger (``projects``) and the root index pages rendered from it, kept in step.

The ledger lists every mirrored project, one line ``name<TAB>serial<TAB>display name`` each,
sorted by name; the root pages list the same projects in the same order. A run changes a
handful of PyPI's 700k projects, so nothing is parsed or rendered whole unless it must be:
changes are held aside, then spliced into the stored bytes of the ledger and of each root
page with one binary search per change (``splicing``).

That is sound only while those files are sorted and in step with each other, which the stamp
(``projects.stamp``) vouches for: it is removed before any of them is rewritten and written
last, with the fingerprint (size, modification time, inode) of each file it vouches for.
Anything else (a mirror from an older version, ``sync --skip-simple-root``, a crash between
writes, a file edited by hand) is rendered whole from the ledger, read whole. The JSON root
page is searched by display name, so it is vouched for only while every display name
normalizes to its project's name.

Whole renders go a chunk of projects at a time, with C-level ``map`` and ``join`` rather
than a Python loop per project, so that 700k projects take about a second and little memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from operator import itemgetter, methodcaller
from typing import cast

from .errors import StateError
from .models import IndexEntry, ProjectName, SimpleFormat, normalize, normalize_many
from .pagemodel import page_serial, page_title
from .pages import (
    ROOT_HTML_HEAD,
    ROOT_HTML_TAIL,
    ROOT_JSON_TAIL,
    root_html_records,
    root_json_head,
    root_json_records,
    root_page_shape,
    splice_root_html,
    splice_root_json,
)
from .splicing import Lines, find, splice
from .state import LEDGER, LEDGER_STAMP, ROOT_HTML_PAGES, ROOT_JSON_PAGE, ProgressColumns
from .storage import Storage

SPLICE_LIMIT = 5000
"""Beyond this many changes a whole render is cheaper than a binary search per change."""
_CHUNK = 50_000
"""Ledger lines joined at a time: a bound on transient memory."""
_CHUNK_BYTES = 1 << 22
"""Bytes of the ledger parsed (and rendered into root pages) at a time, for the same reason."""
_RECORDS = Lines(lambda line: line[: line.index(b"\t")])
_MALFORMED_HINT = "delete it; the next run rebuilds it from the simple pages"


class Ledger:
    """Every mirrored project: its serial and display name, with the changes of this run."""

    def __init__(self, raw: bytes = b"", in_step: frozenset[str] = frozenset()) -> None:
        self._raw = raw
        """The ledger as stored."""
        self._in_step = in_step
        """The files the stamp vouches for (``LEDGER`` among them: ``_raw`` is sorted)."""
        self._changes: dict[ProjectName, str | None] = {}
        """Ledger lines (without newline) to write, None to remove."""
        self._lines: dict[ProjectName, str] | None = None
        """The whole ledger with every change, once something needed it parsed."""

    @classmethod
    def load(cls, storage: Storage) -> Ledger | None:
        raw = storage.read_bytes(LEDGER)
        return None if raw is None else cls(raw, _vouched(storage))

    @classmethod
    def of(cls, entries: Iterable[IndexEntry]) -> Ledger:
        ledger = cls()
        ledger._lines = {}
        for e in entries:
            ledger.set(e.name, e.serial, e.display_name)
        return ledger

    # -- reading ---------------------------------------------------------------------------
    def get(self, name: ProjectName) -> IndexEntry | None:
        line = self._line(name)
        if line is None:
            return None
        _name, serial, display = line.split("\t", 2)
        return IndexEntry(name, display, int(serial))

    def __contains__(self, name: ProjectName) -> bool:
        return self._line(name) is not None

    def _line(self, name: ProjectName) -> str | None:
        if self._lines is not None:
            return self._lines.get(name)
        if name in self._changes:
            return self._changes[name]
        if LEDGER in self._in_step:
            hit = find(self._raw, 0, len(self._raw), _RECORDS, name.encode())
            return None if hit is None else self._raw[hit[0] : hit[1] - 1].decode()
        return self._parsed().get(name)

    def serials(self) -> dict[ProjectName, int]:
        """Every project's serial (this reads the whole ledger)."""
        if self._lines is not None:
            return {n: int(line.split("\t", 2)[1]) for n, line in self._lines.items()}
        serials: dict[ProjectName, int] = {}
        for names, column, _displays in _columns(self._raw):
            serials.update(zip(names, map(int, column), strict=True))
        for name, line in self._changes.items():
            if line is None:
                serials.pop(name, None)
            else:
                serials[name] = int(line.split("\t", 2)[1])
        return serials

    def names(self) -> list[ProjectName]:
        return list(self._lines if self._lines is not None else self.serials())

    def entries(self) -> dict[ProjectName, IndexEntry]:
        entries = {}
        for name, line in self._parsed().items():
            _name, serial, display = line.split("\t", 2)
            entries[name] = IndexEntry(name, display, int(serial))
        return entries

    def __bool__(self) -> bool:
        if self._lines is not None:
            return bool(self._lines)
        if any(line is not None for line in self._changes.values()):
            return True
        return bool(self._raw) and (not self._changes or bool(self.serials()))

    def _parsed(self) -> dict[ProjectName, str]:
        if self._lines is None:
            lines: dict[ProjectName, str] = {}
            for names, serials, displays in _columns(self._raw):
                lines.update(
                    zip(names, map("{}\t{}\t{}".format, names, serials, displays), strict=True)
                )
            for name, line in self._changes.items():
                if line is None:
                    lines.pop(name, None)
                else:
                    lines[name] = line
            self._lines, self._changes = lines, {}
        return self._lines

    # -- changing --------------------------------------------------------------------------
    def set(self, name: ProjectName, serial: int, display_name: str) -> None:
        self._put(name, f"{name}\t{serial}\t{display_name}")

    def _put(self, name: ProjectName, line: str) -> None:
        if self._lines is not None:
            self._lines[name] = line
        else:
            self._changes[name] = line

    def remove(self, name: ProjectName) -> bool:
        """Drop a project; True if the ledger had it."""
        present = name in self
        if self._lines is not None:
            self._lines.pop(name, None)
        else:
            self._changes[name] = None
        return present

    def take_progress(self, chunks: Iterable[ProgressColumns]) -> None:
        """What the journal records (the last line about a project wins)."""
        for c in chunks:
            lines = map("{}\t{}\t{}".format, c.names, c.serials, c.display_names)
            if "removed" in c.outcomes:
                for name, line, outcome in zip(c.names, lines, c.outcomes, strict=True):
                    if outcome == "removed":
                        self.remove(name)
                    else:
                        self._put(name, line)
            elif self._lines is not None:
                self._lines.update(zip(c.names, lines, strict=True))
            else:
                self._changes.update(zip(c.names, lines, strict=True))

    # -- writing ---------------------------------------------------------------------------
    def publish(
        self, storage: Storage, simple_format: SimpleFormat | None, serial: int
    ) -> list[str]:
        """Write the root pages of ``simple_format`` (None: none), with ``serial`` as the
        JSON page's serial, then the ledger, then the stamp. Returns the pages written."""
        storage.delete(LEDGER_STAMP)
        out = _Output(storage, simple_format)
        try:
            consistent = self._splice(storage, out, serial)
            if consistent is None:
                consistent = _render(self._ordered(), out, serial)
            written, ledger = out.commit()
        except BaseException:
            out.abort()
            raise
        vouched = [LEDGER, *(p for p in written if consistent or p != ROOT_JSON_PAGE)]
        stamp = "".join(f"{path} {storage.fingerprint(path)}\n" for path in vouched)
        storage.write_bytes(LEDGER_STAMP, stamp.encode(), durable=True)
        self._raw, self._in_step, self._changes, self._lines = ledger, frozenset(vouched), {}, None
        return written

    def _splice(self, storage: Storage, out: _Output, serial: int) -> bool | None:
        """Splice the changes into the stored ledger, and into each root page the stamp
        vouches for (rendering them whole from the new ledger otherwise); None (nothing
        written) when the ledger itself cannot be spliced."""
        if self._lines is not None or LEDGER not in self._in_step:
            return None
        if len(self._changes) > SPLICE_LIMIT:
            return None
        changes = sorted(self._changes.items())
        ledger = b"".join(splice(self._raw, 0, len(self._raw), _RECORDS, _ledger_records(changes)))
        entries = [(n, None if line is None else _entry(line)) for n, line in changes]
        old = {paths: self._vouched_page(storage, paths) for paths in out.pages}
        if out.json and not all(e is None or normalize(e.display_name) == n for n, e in entries):
            old[(ROOT_JSON_PAGE,)] = None
        if None in old.values():
            return _render(ledger.decode().split("\n")[:-1], out, serial)
        out.ledger(ledger)
        for paths, page in old.items():
            assert page is not None
            if paths == ROOT_HTML_PAGES:
                spliced = splice_root_html(page, entries)
            else:
                spliced = splice_root_json(page, entries, serial)
            assert spliced is not None  # the shape was checked
            for piece in spliced:
                out.page(paths, piece)
        return True

    def _vouched_page(self, storage: Storage, paths: tuple[str, ...]) -> bytes | None:
        if not set(paths) <= self._in_step:
            return None
        page = storage.read_bytes(paths[0])
        return page if page is not None and root_page_shape(page) else None

    def _ordered(self) -> list[str]:
        """Every ledger line in name order."""
        lines: Mapping[ProjectName, str | None]
        if self._lines is None and not self._raw and None not in self._changes.values():
            lines = self._changes  # nothing to merge: no copy of a 700k-entry map
        else:
            lines = self._parsed()
        return cast(list[str], list(map(lines.__getitem__, sorted(lines))))


class _Output:
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
                self._storage.hardlink(other, paths[0])
            written += paths
        self._ledger.commit(durable=True)
        return written, b"".join(self._ledger_bytes)

    def abort(self) -> None:
        for f in [*self.pages.values(), self._ledger]:
            f.abort()


def _render(ordered: list[str], out: _Output, serial: int) -> bool:
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


def from_pages(storage: Storage, hash_index: bool) -> Ledger:
    """Rebuild the ledger by reading each project's page: a one-off for a mirror that has
    no ledger yet (one written by pypa/bandersnatch, or one whose ledger was deleted)."""
    top = [n for n in storage.list_dir("web/simple") if not n.startswith((".", "index"))]
    dirs = (
        [f"web/simple/{d}/{n}" for d in top for n in storage.list_dir(f"web/simple/{d}")]
        if hash_index
        else [f"web/simple/{n}" for n in top]
    )
    entries = (_entry_from_pages(storage, project_dir) for project_dir in dirs)
    return Ledger.of(e for e in entries if e is not None)


def _entry_from_pages(storage: Storage, project_dir: str) -> IndexEntry | None:
    """Serial from the JSON page (or the HTML page's SERIAL comment); display name from the
    HTML title, since PEP 691 JSON carries only the normalized name."""
    name = normalize(project_dir.rsplit("/", 1)[1])
    json_page = storage.read_bytes(f"{project_dir}/index.v1_json")
    html_page = storage.read_bytes(f"{project_dir}/index.html") or storage.read_bytes(
        f"{project_dir}/index.v1_html"
    )
    if json_page is None and html_page is None:
        return None
    return IndexEntry(name, page_title(html_page) or name, page_serial(json_page, html_page))


def _entry(line: str) -> IndexEntry:
    name, serial, display = line.split("\t", 2)
    return IndexEntry(ProjectName(name), display, int(serial))


def _ledger_records(
    changes: list[tuple[ProjectName, str | None]],
) -> list[tuple[bytes, bytes | None]]:
    return [(n.encode(), None if line is None else f"{line}\n".encode()) for n, line in changes]


def _columns(raw: bytes) -> Iterator[tuple[list[ProjectName], list[str], list[str]]]:
    """The ledger's names, serials and display names, a chunk of lines at a time."""
    text = raw.decode("utf-8")
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


def _vouched(storage: Storage) -> frozenset[str]:
    """The files the stamp vouches for that have not changed since it was written."""
    raw = storage.read_bytes(LEDGER_STAMP)
    vouched = []
    for line in (raw or b"").decode("utf-8", "replace").splitlines():
        path, _, fingerprint = line.partition(" ")
        if path and fingerprint and storage.fingerprint(path) == fingerprint:
            vouched.append(path)
    return frozenset(vouched)
