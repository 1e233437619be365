"""Builds the parts a command needs from a Config: storage, sessions, clients, syncer.

Shared by every command so that commands stay wiring only and never import each other.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from . import filters
from .config import Config
from .config.records import MirrorConfig
from .models import FeedKind
from .report import RunRecord
from .simple.render import PageOptions
from .site.prune import DeletionGuard
from .site.publish import Publisher
from .state import MirrorState
from .storage import Storage, open_storage
from .syncer import Syncer, SyncOptions
from .upstream.changelog import ChangelogClient
from .upstream.download import Downloader
from .upstream.feeds import ChangeFeed, FallbackFeed, SimpleIndexFeed, XmlRpcFeed
from .upstream.metadata import MetadataClient, MetadataSource
from .upstream.policy import HostPolicy
from .upstream.session import RetryPolicy, SessionFactory
from .upstream.simple import SimpleFeed

log = logging.getLogger(__name__)


def host_policy(m: MirrorConfig) -> HostPolicy:
    """Where this mirror's requests may go (``upstream.policy``)."""
    extra = [m.download_mirror] if m.download_mirror else []
    return HostPolicy.build(m.master, extra, m.file_hosts, allow_http=m.allow_non_https)


def mirror_storage(config: Config) -> Storage:
    """The mirror's storage, as every command opens it."""
    m = config.mirror
    return open_storage(
        m.storage_backend,
        m.directory,
        m.manage_permissions,
        s3=config.s3,
        connections=max(m.workers, m.verifiers) * 2 + 4,
    )


@dataclass
class Runtime:
    config: Config
    storage: Storage
    state: MirrorState
    sessions: SessionFactory
    policy: RetryPolicy
    publisher: Publisher
    filters: filters.FilterSet
    """Built once per run: reading requirements files and loading plugins is not free."""
    record: RunRecord = field(default_factory=lambda: RunRecord("run"))
    """The run's report, fed by the syncer as projects finish (``report.py``)."""

    @classmethod
    def build(cls, config: Config, record: RunRecord | None = None) -> Runtime:
        m = config.mirror
        storage = mirror_storage(config)
        root_uri = m.root_uri
        options = PageOptions(
            root_uri=root_uri, digest_name=m.digest_name, link_upstream=not m.release_files
        )
        publisher = Publisher(
            storage=storage,
            simple_format=m.simple_format,
            hash_index=m.hash_index,
            options=options,
            cleanup_legacy=m.cleanup,
            keep_index_versions=m.keep_index_versions,
        )
        return cls(
            config=config,
            storage=storage,
            state=MirrorState(storage),
            sessions=SessionFactory(m.timeout, m.proxy, m.master, host_policy(m)),
            policy=RetryPolicy(retries=m.retries, backoff=m.retry_backoff),
            publisher=publisher,
            filters=filters.build(config.filters),
            record=record or RunRecord("run"),
        )

    def feed(self, *, fallback: bool = True) -> ChangeFeed:
        """The configured change feed; the XML-RPC one falls back to the PEP 691 root index
        for a run where it fails (``fallback``), or lets the failure through."""
        m = self.config.mirror
        session = self.sessions.new()

        def simple() -> SimpleIndexFeed:
            return SimpleIndexFeed(
                SimpleFeed(
                    session,
                    m.master,
                    m.timeout,
                    self.policy,
                    m.global_timeout,
                    m.max_document_size,
                )
            )

        if m.change_feed is FeedKind.SIMPLE:
            return simple()
        changelog = ChangelogClient(
            session, m.master, m.timeout, self.policy, m.global_timeout, m.max_document_size
        )
        return FallbackFeed(XmlRpcFeed(changelog), simple) if fallback else XmlRpcFeed(changelog)

    @property
    def metadata_source(self) -> MetadataSource:
        """Where project metadata comes from (``[mirror] metadata-source``): the JSON API
        (``json``) or the PEP 691 page (``simple``), which alone carries PEP 740 provenance
        and PEP 792 status. ``simple`` is overruled, with a warning, where something needs
        the JSON API: ``json = true`` stores its document, and some filters read its
        fields. A simple change feed implies ``simple``."""
        m = self.config.mirror
        chosen = m.metadata_source or ("simple" if m.change_feed is FeedKind.SIMPLE else "json")
        if chosen == "simple" and m.change_feed is FeedKind.XMLRPC:
            needs = "json = true" if m.json else None
            if needs is None and self.filters.needs_json_api:
                needs = "a release, release-file or metadata filter that reads its fields"
            if needs is not None:
                log.warning(
                    "[mirror] metadata-source = simple: using the JSON API (%s); "
                    "provenance and project status are not mirrored",
                    needs,
                )
                return MetadataSource.JSON_API
        return MetadataSource(chosen)

    def metadata_client(self) -> MetadataClient:
        m = self.config.mirror
        return MetadataClient(
            m.master,
            m.timeout,
            self.policy,
            cache_bust=m.cache_bust,
            source=self.metadata_source,
            deadline=m.global_timeout,
            max_document=m.max_document_size,
        )

    def downloader(self) -> Downloader:
        m = self.config.mirror
        return Downloader(
            timeout=m.timeout,
            global_timeout=m.global_timeout,
            policy=self.policy,
            download_mirror=m.download_mirror,
            mirror_only=m.download_mirror_no_fallback,
            max_unsized=m.max_document_size,
        )

    def syncer(self, stop: threading.Event, guard: DeletionGuard | None = None) -> Syncer:
        m = self.config.mirror
        options = SyncOptions(
            workers=m.workers,
            release_files=m.release_files,
            core_metadata=m.core_metadata and m.release_files,
            compare_method=m.compare_method,
            json_enabled=m.json,
            stop_on_error=m.stop_on_error,
            prune_filtered=m.prune_filtered,
            delete_missing=m.delete_missing_packages,
        )
        return Syncer(
            self.sessions,
            self.storage,
            self.metadata_client(),
            self.downloader(),
            self.publisher,
            options,
            project_filter=self.filters.apply,
            stop=stop,
            guard=guard,
            record=self.record,
        )
