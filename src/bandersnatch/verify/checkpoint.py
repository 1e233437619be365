"""The ``verify`` checkpoint: which projects a verify has finished, so a killed one resumes.

``<directory>/verify.checkpoint`` holds a header naming the verify mode, then one project a
line. Lines are appended in batches (at most ``interval`` seconds apart), so a kill loses at
most that much progress and a large mirror does not pay one open per project. A line cut
short by a kill is ignored. The file is deleted when a verify completes.
"""

from __future__ import annotations

import logging
import time

from ..layout import CHECKPOINT
from ..models import ProjectName
from ..storage import Storage

log = logging.getLogger(__name__)


class Checkpoint:
    def __init__(self, storage: Storage, header: str, interval: float = 1.0) -> None:
        self.storage = storage
        self.header = header
        self.interval = interval
        self._pending: list[str] = []
        self._flushed = time.monotonic()

    def resume(self) -> set[ProjectName]:
        """The projects an interrupted verify in the same mode finished; starts a new
        checkpoint otherwise."""
        raw = self.storage.read_bytes(CHECKPOINT)
        lines = raw.decode("utf-8", "replace").split("\n") if raw else []
        if lines and lines[0] == self.header:
            done = {ProjectName(line) for line in lines[1:-1] if line}  # last: cut short
            log.info(
                "resuming an interrupted verify: %d projects were already verified "
                "(delete %s to start over)",
                len(done),
                CHECKPOINT,
            )
            return done
        if lines:
            log.info("%s is from a verify with other options; starting over", CHECKPOINT)
        self.storage.write_bytes(CHECKPOINT, f"{self.header}\n".encode(), durable=True)
        return set()

    def add(self, name: ProjectName) -> None:
        self._pending.append(name)
        self.flush(force=False)

    def flush(self, force: bool = True) -> None:
        if not self._pending:
            return
        if force or time.monotonic() - self._flushed >= self.interval:
            self.storage.append_line(CHECKPOINT, "\n".join(self._pending))
            self._pending.clear()
            self._flushed = time.monotonic()

    def finish(self) -> None:
        self._pending.clear()
        self.storage.delete(CHECKPOINT)
