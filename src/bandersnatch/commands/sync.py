"""``bandersnatch sync NAME...``: fetch named projects now. Wiring only.

Runs under the mirror lock like ``mirror`` but leaves ``status``, ``todo`` and the progress
journal alone, so a later ``mirror`` run carries on exactly as it would have.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from .. import steps
from ..config import Config
from ..errors import Interrupted
from ..layout import ROOT_STALE
from ..models import ProjectFailure, ProjectResult, SyncReport, normalize
from ..report import RunRecord
from ..runtime import Runtime
from ..site.prune import DeletionGuard
from ..state import mirror_lock

log = logging.getLogger(__name__)


def run(
    config: Config,
    names: Iterable[str],
    *,
    skip_simple_root: bool,
    stop: threading.Event,
    record: RunRecord | None = None,
) -> SyncReport:
    started = time.monotonic()
    runtime = Runtime.build(config, record)  # a bad filter config stops the run here
    accept = runtime.filters.keep_name
    wanted = {normalize(n) for n in names}
    for name in sorted(n for n in wanted if not accept(n)):
        log.warning("%s: excluded by the configured filters; not synced", name)
    todo = dict.fromkeys(sorted(n for n in wanted if accept(n)), 0)
    results: list[ProjectResult] = []
    with mirror_lock(runtime.storage):
        state = runtime.state
        steps.prepare(runtime)
        ledger, _rebuilt = steps.load_ledger(runtime, journal=False)
        syncer = runtime.syncer(stop, DeletionGuard(config.mirror.max_deletions))
        try:
            syncer.run(todo, results.append)
        finally:
            runtime.sessions.close()
        for result in results:
            if result.removed:
                ledger.remove(result.name)
            elif result.published:
                ledger.set(result.name, result.serial, result.display_name)
        if skip_simple_root:
            state.write_text(ROOT_STALE, "sync --skip-simple-root\n")
            ledger.publish(runtime.storage, None, 0)
        else:
            steps.publish_root(runtime, ledger, state.read_status() or 0)
        if stop.is_set():
            raise Interrupted("a stop signal")
    failures = tuple(ProjectFailure(r.name, r.failure) for r in results if r.failure)
    return SyncReport(
        projects_synced=sum(1 for r in results if r.published and not r.failure),
        projects_removed=sum(1 for r in results if r.removed),
        files_downloaded=sum(r.files_downloaded for r in results),
        bytes_downloaded=sum(r.bytes_downloaded for r in results),
        failures=failures,
        seconds=time.monotonic() - started,
    )
