"""The steps several commands share, each written once; the commands are wiring around them.

- ``prepare``: before a run that writes (``mirror``, ``sync``): clear the temp files a killed
  run left, and refuse (or stamp) the mirror's layout generation;
- ``check_existing``: before a run on a mirror that may not exist yet (``verify``,
  ``delete``): refuse a mirror of another generation, create nothing;
- ``load_ledger``: the ledger, or one rebuilt from the project pages when there is none;
- ``root_serial`` and ``publish_root``: the root index (with the ledger it is rendered from,
  kept in step), after which the root is no longer stale.
"""

from __future__ import annotations

from collections.abc import Iterable

from .layout import GENERATION_FILE, ROOT_STALE
from .ledger import Ledger
from .runtime import Runtime
from .site.readback import ledger_from_pages


def prepare(rt: Runtime) -> None:
    rt.state.cleanup_temp()
    rt.state.check_generation()


def check_existing(rt: Runtime) -> None:
    if rt.storage.exists(GENERATION_FILE):
        rt.state.check_generation()


def load_ledger(rt: Runtime, *, journal: bool) -> tuple[Ledger, bool]:
    """(the ledger, whether it was rebuilt from the pages: then the root index should be
    published again from it).

    ``journal``: the caller replays the progress journal into it. An empty ledger is then
    taken as it is (a first run writes one before syncing, and its journal says what it
    finished); without a journal an empty ledger says nothing, and the pages are read."""
    ledger = Ledger.load(rt.storage)
    if ledger is not None and (journal or ledger):
        return ledger, False
    return ledger_from_pages(rt.storage, rt.config.mirror.hash_index), True


def root_serial(rt: Runtime, serials: Iterable[int]) -> int:
    """The serial the root index carries: the mirror's status, else the newest project's."""
    return rt.state.read_status() or max(serials, default=0)


def publish_root(rt: Runtime, ledger: Ledger, serial: int) -> list[str]:
    """Publish the root index and the ledger, then clear the mark that the root is stale;
    returns the pages written."""
    written = rt.publisher.root_index(ledger, serial)
    rt.state.delete(ROOT_STALE)
    return written
