"""The ledger: every mirrored project, this run's changes, and publishing them together
with the root index pages (the files themselves: ``ledgerfile``).

A run changes a handful of PyPI's 700k projects, so nothing is parsed or rendered whole
unless it must be: changes are held aside, then spliced into the stored bytes of the ledger
and of each root page with one binary search per change (``splicing``).

That is sound only while those files are sorted and in step with each other, which the stamp
(``projects.stamp``) vouches for: it is removed before any of them is rewritten and written
last. Anything it does not vouch for (a mirror from an older version, ``sync
--skip-simple-root``, a crash between writes, a file edited by hand) is rendered whole from
the ledger, read whole. The JSON root page is searched by display name, so it is vouched for
only while every display name normalizes to its project's name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import cast

from .journal import ProgressColumns, add_finished
from .layout import (
    LEDGER,
    LEDGER_STAMP,
    ROOT_HTML_PAGES,
    ROOT_JSON_PAGE,
)
from .ledgerfile import (
    LINE,
    RECORDS,
    Output,
    columns,
    entry,
    records,
    render,
    serial_of,
    vouched,
    write_stamp,
)
from .models import IndexEntry, Outcome, ProjectName, SimpleFormat, normalize
from .simple.root import root_page_shape, splice_root_html, splice_root_json
from .splicing import find, splice
from .storage import Storage

_REMOVED = Outcome.REMOVED.value
SPLICE_LIMIT = 5000
"""Beyond this many changes a whole render is cheaper than a binary search per change."""

log = logging.getLogger(__name__)


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
        """The stored ledger; None when there is none, or when it is empty and the stamp
        does not vouch for that (emptied behind the tool's back: rendering the root index
        from it would drop every project), so callers rebuild it from the pages."""
        raw = storage.read_bytes(LEDGER)
        if raw is None:
            return None
        stamped = vouched(storage)
        if not raw and LEDGER not in stamped:
            why = "is empty and the stamp does not vouch for it: rebuilt from the pages"
            log.warning("%s %s", LEDGER, why)
            return None
        return cls(raw, stamped)

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
        return None if line is None else entry(line)

    def __contains__(self, name: ProjectName) -> bool:
        return self._line(name) is not None

    def _line(self, name: ProjectName) -> str | None:
        if self._lines is not None:
            return self._lines.get(name)
        if name in self._changes:
            return self._changes[name]
        if LEDGER in self._in_step:
            hit = find(self._raw, 0, len(self._raw), RECORDS, name.encode())
            return None if hit is None else self._raw[hit[0] : hit[1] - 1].decode()
        return self._parsed().get(name)

    def serials(self) -> dict[ProjectName, int]:
        """Every project's serial (this reads the whole ledger)."""
        if self._lines is not None:
            return {n: serial_of(line) for n, line in self._lines.items()}
        serials: dict[ProjectName, int] = {}
        for names, column, _displays in columns(self._raw):
            serials.update(zip(names, map(int, column), strict=True))
        for name, line in self._changes.items():
            if line is None:
                serials.pop(name, None)
            else:
                serials[name] = serial_of(line)
        return serials

    def names(self) -> list[ProjectName]:
        return list(self._lines if self._lines is not None else self.serials())

    def entries(self) -> dict[ProjectName, IndexEntry]:
        return {name: entry(line) for name, line in self._parsed().items()}

    def __bool__(self) -> bool:
        if self._lines is not None:
            return bool(self._lines)
        if any(line is not None for line in self._changes.values()):
            return True
        return bool(self._raw) and (not self._changes or bool(self.serials()))

    def _parsed(self) -> dict[ProjectName, str]:
        if self._lines is None:
            lines: dict[ProjectName, str] = {}
            for names, serials, displays in columns(self._raw):
                lines.update(zip(names, map(LINE, names, serials, displays), strict=True))
            for name, line in self._changes.items():
                if line is None:
                    lines.pop(name, None)
                else:
                    lines[name] = line
            self._lines, self._changes = lines, {}
        return self._lines

    # -- changing --------------------------------------------------------------------------
    def set(self, name: ProjectName, serial: int, display_name: str) -> None:
        self._put(name, LINE(name, serial, display_name))

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
            lines = map(LINE, c.names, c.serials, c.display_names)
            if _REMOVED in c.outcomes:
                for name, line, outcome in zip(c.names, lines, c.outcomes, strict=True):
                    if outcome == _REMOVED:
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
        out = Output(storage, simple_format)
        try:
            consistent = self._splice(storage, out, serial)
            if consistent is None:
                consistent = render(self._ordered(), out, serial)
            written, ledger = out.commit()
        except BaseException:
            out.abort()
            raise
        in_step = [LEDGER, *(p for p in written if consistent or p != ROOT_JSON_PAGE)]
        write_stamp(storage, in_step)
        self._raw, self._in_step, self._changes, self._lines = ledger, frozenset(in_step), {}, None
        return written

    def _splice(self, storage: Storage, out: Output, serial: int) -> bool | None:
        """Splice the changes into the stored ledger, and into each root page the stamp
        vouches for (rendering them whole from the new ledger otherwise); None (nothing
        written) when the ledger itself cannot be spliced."""
        if self._lines is not None or LEDGER not in self._in_step:
            return None
        if len(self._changes) > SPLICE_LIMIT:
            return None
        changes = sorted(self._changes.items())
        ledger = b"".join(splice(self._raw, 0, len(self._raw), RECORDS, records(changes)))
        entries = [(n, None if line is None else entry(line)) for n, line in changes]
        old = {paths: self._vouched_page(storage, paths) for paths in out.pages}
        if out.json and not all(e is None or normalize(e.display_name) == n for n, e in entries):
            old[(ROOT_JSON_PAGE,)] = None
        if None in old.values():
            return render(ledger.decode().split("\n")[:-1], out, serial)
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


def replay_journal(
    ledger: Ledger, chunks: Iterable[ProgressColumns], finished: dict[ProjectName, int]
) -> int:
    """Take in what an interrupted run's journal says it finished (read once for both: the
    ledger learns how to list each project, ``finished`` what is done, for planning);
    returns the journal's line count."""
    lines = 0
    for chunk in chunks:
        ledger.take_progress([chunk])
        add_finished(finished, chunk)
        lines += len(chunk.names)
    return lines
