"""``bandersnatch mirror``: bring the mirror up to date with upstream. Wiring only.

One run: take the lock; load state (status, saved todo, progress journal, ledger); ask the
change feed what changed; plan (pure); save the todo; sync through the thread pool,
journalling each finished project; then publish the root index, advance status, keep what
failed in the todo for the next run, and report.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from .. import steps
from ..config import Config
from ..errors import Interrupted
from ..filters.fingerprint import filters_changed, fingerprint_line
from ..journal import Progress, Todo
from ..layout import FEED_VALIDATOR, FILTERS, LAST_MODIFIED, LEDGER, ROOT_STALE
from ..ledger import Ledger, replay_journal
from ..models import FeedKind, Outcome, ProjectName, ProjectResult, SyncPlan, SyncReport
from ..planning import make_plan
from ..report import RunRecord
from ..runtime import Runtime
from ..site.prune import DeletionGuard
from ..state import mirror_lock
from ..syncer import Syncer
from ..tally import DiffFile, Tally
from ..upstream.feeds import AllowlistFeed, FeedResult

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 5000
"""Journal lines after which the ledger and the todo take in what the journal says."""


def run(
    config: Config,
    *,
    force_check: bool = False,
    allow_deletions: bool = False,
    stop: threading.Event,
    record: RunRecord | None = None,
) -> SyncReport:
    runtime = Runtime.build(config, record)  # a bad filter config stops the run here
    limit = None if allow_deletions else config.mirror.max_deletions
    with mirror_lock(runtime.storage):
        try:
            return _MirrorRun(runtime, stop, DeletionGuard(limit)).execute(force_check)
        finally:
            runtime.sessions.close()


@dataclass
class _MirrorRun:
    rt: Runtime
    stop: threading.Event
    guard: DeletionGuard
    started: float = field(default_factory=time.monotonic)
    tally: Tally = field(default_factory=Tally)
    diff: DiffFile | None = None
    journal: bool = False
    """A journal of projects finished by an interrupted run is in effect."""
    journalled: int = 0
    """Lines in the journal (since the last checkpoint)."""
    finished: dict[ProjectName, int] = field(default_factory=dict)
    """What the journal says is done, until the run is planned."""
    index_dirty: bool = False
    _ledger: Ledger | None = None
    _checkpoints: tuple[Syncer, SyncPlan] | None = None

    @property
    def ledger(self) -> Ledger:
        """Every mirrored project, loaded only when a run needs it: a run with nothing new
        never reads it, so its cost does not grow with the mirror."""
        if self._ledger is None:
            self._ledger = self._load_ledger()
        return self._ledger

    def execute(self, force_check: bool) -> SyncReport:
        state, m = self.rt.state, self.rt.config.mirror
        steps.prepare(self.rt)
        status = state.read_status()
        saved = state.read_todo()
        self.journal = state.has_progress()
        if self.journal and saved is None:  # left by a crash once the ledger took it in
            state.discard_progress()
            self.journal = False
        if self.journal:
            self._ledger = self._load_ledger()  # reads the journal: what is done, and how
        self.index_dirty |= self.journal or state.read_text(ROOT_STALE) is not None
        feed = self._feed(status, saved, force_check)
        self.rt.record.upstream_serial = None if feed.poll else feed.target
        self._check_stop()
        changes, refilter = self._with_filter_changes(feed.changes)
        plan = make_plan(
            feed.target,
            changes,
            saved.chunks() if saved else (),
            self.finished,
            None if self.rt.filters.keeps_every_name else self.rt.filters.keep_name,
        )
        del saved, changes  # at PyPI's size each holds 700k projects
        feed.changes.clear()  # planned: the plan holds what is left to do
        self.finished = {}
        self._check_stop()
        excluded = self._excluded()
        syncer = self.rt.syncer(self.stop, self.guard)
        syncer.display_names = feed.display_names
        if feed.poll and not refilter:
            syncer.known_serials = self.ledger.serials()
        if plan.projects or excluded:
            log.info("syncing %d projects up to serial %d", len(plan.projects), plan.target_serial)
            if not self.rt.storage.exists(LEDGER):  # so that no run reads the pages back
                self.ledger.publish(self.rt.storage, None, 0)
            state.write_todo(plan.target_serial, plan.projects)
        if m.diff_file is not None:
            self.diff = DiffFile.open(
                self.rt.storage, m.directory, m.diff_file, m.diff_append_epoch
            )
        try:
            return self._sync(status, feed, plan, syncer, excluded)
        finally:
            if self.diff is not None:
                self.diff.discard()  # a no-op once committed

    def _sync(
        self,
        status: int | None,
        feed: FeedResult,
        plan: SyncPlan,
        syncer: Syncer,
        excluded: list[ProjectName],
    ) -> SyncReport:
        for result in syncer.prune(excluded):
            self._on_done(result)
        self._checkpoints = (syncer, plan)
        left = syncer.run(plan.projects, self._on_done) if plan.projects else []
        self._checkpoints = None
        if self.stop.is_set() and not (self.rt.config.mirror.stop_on_error and self.tally.failed):
            raise Interrupted("a stop signal")
        target = plan.target_serial
        if feed.poll:  # no feed serial: the newest serial of any project now mirrored
            target = max([target, *self.ledger.serials().values()])
        failed = self.tally.failed_serials()
        failed.update((name, plan.projects[name]) for name in left)
        self._close(status, target, failed, feed.validator)
        return self.tally.report(self.rt.state, left, self.started)

    def _checkpoint(self, syncer: Syncer, plan: SyncPlan) -> None:
        """Let the ledger and the todo take in what the journal says, then start the
        journal afresh: a resumed run reads at most CHECKPOINT_EVERY lines back, and the
        changes this run holds in memory stay as few. (The root index waits for the end
        of the run, as it always has.)"""
        todo = {name: plan.projects[name] for name in syncer.unfinished()}
        todo |= self.tally.failed_serials()
        self.ledger.publish(self.rt.storage, None, 0)
        self.rt.state.write_todo(plan.target_serial, todo)
        self.rt.state.discard_progress()
        self.journalled = 0

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise Interrupted("a stop signal")

    def _load_ledger(self) -> Ledger:
        """The ledger, plus what an interrupted run finished but never recorded (read once
        for both: what is done, for planning, and how the ledger should list it)."""
        ledger, rebuilt = steps.load_ledger(self.rt, journal=True)
        self.index_dirty |= rebuilt and bool(ledger)
        if self.journal:
            lines = replay_journal(ledger, self.rt.state.read_progress(), self.finished)
            self.journalled += lines
        return ledger

    def _excluded(self) -> list[ProjectName]:
        """Mirrored projects the name filters exclude (prune-filtered)."""
        if not self.rt.config.mirror.prune_filtered or not self.rt.config.filters.enabled:
            return []
        accept = self.rt.filters.keep_name
        return [name for name in self.ledger.names() if not accept(name)]

    def _feed(self, status: int | None, saved: Todo | None, force_check: bool) -> FeedResult:
        """What to sync according to the change feed."""
        base = status if status is not None else (saved.target_serial if saved else None)
        names = self.rt.filters.known_names()
        if names is not None:  # never the whole root index: poll the listed projects instead
            xmlrpc = self.rt.config.mirror.change_feed is FeedKind.XMLRPC
            allowlist = AllowlistFeed(self.rt.feed(fallback=False), names, xmlrpc)
            return allowlist.changes(self.ledger.names(), base, force_check)
        feed = self.rt.feed()
        if base is None or force_check:
            return feed.listing(self._mirrored)
        return feed.since(base, self._mirrored, self.rt.state.read_text(FEED_VALIDATOR))

    def _mirrored(self) -> dict[ProjectName, int]:
        """For feeds that need the mirror's serials: read only when called."""
        return self.ledger.serials()

    def _with_filter_changes(
        self, changes: dict[ProjectName, int]
    ) -> tuple[dict[ProjectName, int], bool]:
        """After a filter change every mirrored project is re-rendered (and pruned)."""
        state = self.rt.state
        current = fingerprint_line(self.rt.config.filters)
        previous = state.read_text(FILTERS)
        changed = filters_changed(previous, current) and bool(self.ledger)
        if changed:
            names = self.ledger.names()
            log.info("the filter config changed: re-checking all %d projects", len(names))
            changes = dict.fromkeys(names, 0) | changes
        if (previous or "").strip() != current:
            state.write_text(FILTERS, current + "\n")
        return changes, changed

    def _on_done(self, result: ProjectResult) -> None:
        self.tally.add(result)
        if self.diff is not None:
            self.diff.add(result.written)
        if result.removed:
            if self.ledger.remove(result.name):
                self.index_dirty = True
                self.tally.removed += 1
            outcome = Outcome.REMOVED
        elif result.published:
            self.ledger.set(result.name, result.serial, result.display_name)
            self.index_dirty = True
            outcome = Outcome.PARTIAL if result.failure else Outcome.OK
        else:
            return
        progress = Progress(result.name, result.serial, result.display_name, outcome)
        self.rt.state.append_progress(progress)
        self.journalled += 1
        if self.journalled >= CHECKPOINT_EVERY and self._checkpoints is not None:
            syncer, plan = self._checkpoints
            if syncer.pending() >= CHECKPOINT_EVERY:  # else the end of the run is near
                self._checkpoint(syncer, plan)

    def _close(
        self, status: int | None, target: int, failed: dict[ProjectName, int], validator: str | None
    ) -> None:
        """Publish the root index, advance status, keep failed projects for the next run.

        The journal goes last: until then, a crash leaves it to say what is done."""
        state = self.rt.state
        written = [LAST_MODIFIED]
        if self.index_dirty:
            written += steps.publish_root(self.rt, self.ledger, target)
        if target != status:
            state.write_status(target)
        if validator != state.read_text(FEED_VALIDATOR):
            if validator is None:
                state.delete(FEED_VALIDATOR)
            else:
                state.write_text(FEED_VALIDATOR, validator)
        if failed:
            state.write_todo(target, failed)
            state.discard_progress()
        else:
            state.clear_todo()
        state.write_last_modified()
        if self.diff is not None:
            self.diff.add(written[1:] + written[:1])
            self.diff.commit()
