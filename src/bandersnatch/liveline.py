"""Progress while a run goes: on a terminal, one live line on stderr, redrawn by a timer
thread a few times a second from the run's counters (``report.RunRecord``); without a
terminal (cron, systemd), a plain log line now and then and never a control character.

The syncer only increments counters; all formatting and writing happens on the timer
thread. Log records pass through ``LineStream``, which wipes the live line before a record
is written, so the two never mix; the next tick draws the line again below it.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .report import RunRecord

log = logging.getLogger(__name__)

REDRAW_EVERY = 0.25
"""Seconds between two draws of the live line (a terminal)."""
LOG_EVERY = 60.0
"""Seconds between two progress log lines (no terminal)."""
_WIPE = "\r\x1b[K"


def size(n: float) -> str:
    """``1.5 MB``: bytes in 1000-based units, as a person reads a rate."""
    if n < 1000:
        return f"{n:.0f} B"
    for unit in ("kB", "MB", "GB"):
        n /= 1000
        if n < 1000:
            return f"{n:.1f} {unit}"
    return f"{n / 1000:.1f} TB"


def duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def describe(record: RunRecord) -> str:
    """``mirror: 120/700 projects, 340 files, 12.3 MB, 1.2 MB/s, ETA 4m10s``."""
    elapsed = max(record.elapsed(), 1e-3)
    done, planned = record.done, record.planned
    text = f"{record.command}: {done}/{planned} projects, {record.files} files, "
    text += f"{size(record.bytes)}, {size(record.bytes / elapsed)}/s"
    if 0 < done < planned:
        text += f", ETA {duration((planned - done) * elapsed / done)}"
    return text


class LineStream:
    """stderr as the log handler sees it: a write first wipes the live line, if shown."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()
        self.shown = False

    def write(self, text: str) -> int:
        with self.lock:
            if self.shown:
                self.stream.write(_WIPE)
                self.shown = False
            return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def draw(self, text: str) -> None:
        width = shutil.get_terminal_size((80, 24)).columns - 1
        with self.lock:
            self.stream.write("\r" + text[:width] + "\x1b[K")
            self.stream.flush()
            self.shown = True

    def wipe(self) -> None:
        with self.lock:
            if self.shown:
                self.stream.write(_WIPE)
                self.stream.flush()
                self.shown = False


class Progress:
    """Shows a run's progress: a live line when ``line`` is given (a terminal), else a log
    line every ``LOG_EVERY`` seconds."""

    def __init__(self, line: LineStream | None) -> None:
        self.line = line

    @contextmanager
    def showing(self, record: RunRecord) -> Iterator[None]:
        done = threading.Event()
        every = REDRAW_EVERY if self.line is not None else LOG_EVERY
        thread = threading.Thread(
            target=self._tick, args=(record, done, every), name="progress", daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
            if self.line is not None:
                self.line.wipe()

    def _tick(self, record: RunRecord, done: threading.Event, every: float) -> None:
        while not done.wait(every):
            if not record.planned:
                continue  # still asking what changed: nothing to count yet
            if self.line is not None:
                self.line.draw(describe(record))
            else:
                log.info("progress: %s", describe(record))
