"""File downloads: streamed into a temp file beside the target while hashed with sha256,
moved into place only when size and digest match what upstream advertised."""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass

import requests

from ..errors import (
    BadUpstreamData,
    DigestMismatch,
    NotFound,
    RetryableError,
    SizeMismatch,
    UpstreamError,
)
from ..storage import Storage
from .http import check_status, json_document, open_stream
from .session import RetryPolicy

log = logging.getLogger(__name__)

CHUNK = 1 << 20
"""Bytes per socket read into a worker's reusable buffer (hashlib releases the GIL on
large blocks; fewer, larger reads cost less per byte)."""
_buffers = threading.local()

MAX_PROVENANCE = 1024 * 1024
"""The largest PEP 740 provenance the mirror stores. PyPI's are a few kilobytes (one
Sigstore bundle per attestation); no digest vouches for them, so a body over this is
refused rather than written."""


@dataclass(frozen=True)
class Downloader:
    timeout: float
    global_timeout: float
    policy: RetryPolicy
    download_mirror: str | None = None
    mirror_only: bool = False
    max_unsized: int = 256 * 1024 * 1024
    """A body whose size upstream did not advertise (a ``.metadata`` file) may not exceed
    this: a hostile upstream cannot stream forever into the mirror's disk."""

    def sources(self, url: str, rel_path: str) -> list[str]:
        """Where to fetch a file from, in order (``download-mirror`` first, if set)."""
        if not self.download_mirror:
            return [url]
        mirrored = f"{self.download_mirror}/packages/{rel_path}"
        return [mirrored] if self.mirror_only else [mirrored, url]

    def fetch(
        self,
        session: requests.Session,
        storage: Storage,
        urls: list[str],
        target: str,
        size: int | None,
        sha256: str,
        *,
        keep: int = 0,
    ) -> Fetched:
        """Store the verified body at ``target``. A body of at most ``keep`` bytes is also
        handed back, so the caller can read it without reading the file again."""
        last: UpstreamError | None = None
        for url in urls:

            def once(url: str = url) -> Fetched:
                return self._once(session, storage, url, target, size, sha256, keep)

            try:
                return self.policy.run(f"download {url}", once)
            except UpstreamError as exc:
                last = exc
                if len(urls) > 1:
                    log.warning("%s: %s", exc.url, exc.reason)
        assert last is not None
        raise last

    def _once(
        self,
        session: requests.Session,
        storage: Storage,
        url: str,
        target: str,
        size: int | None,
        sha256: str,
        keep: int,
    ) -> Fetched:
        limit = self.max_unsized if size is None else size
        with open_stream(session, url, self.timeout, deadline=self.global_timeout) as response:
            if response.status_code == 404:
                raise NotFound(url)
            check_status(response)
            digest = hashlib.sha256()
            received = 0
            kept: list[bytes] | None = [] if size is not None and size <= keep else None
            buffer = getattr(_buffers, "buffer", None)
            if buffer is None:
                buffer = _buffers.buffer = bytearray(CHUNK)
            out = storage.open_atomic(target)
            try:
                for chunk in response.views(buffer):
                    received += len(chunk)
                    if received > limit:
                        raise SizeMismatch(url, limit, received)
                    digest.update(chunk)
                    out.write(chunk)
                    if kept is not None:
                        kept.append(bytes(chunk))
                if size is not None and received != size:
                    raise RetryableError(url, f"body ended after {received} of {size} bytes")
                actual = digest.hexdigest()
                if actual != sha256:
                    raise DigestMismatch(url, sha256, actual)
            except BaseException:
                out.abort()
                raise
            out.commit()
        return Fetched(received, b"".join(kept) if kept is not None else None)

    def fetch_provenance(
        self, session: requests.Session, storage: Storage, url: str, target: str
    ) -> int:
        """Store the PEP 740 provenance at ``url`` in ``target``; returns its size.

        Upstream gives no digest for it, so what is checked is what can be: at most
        ``MAX_PROVENANCE`` bytes, a JSON object. The bytes stored are upstream's, written
        atomically; anything else is an ``UpstreamError`` and ``target`` is left as it was."""

        def once() -> bytes:
            with open_stream(session, url, self.timeout, deadline=self.global_timeout) as resp:
                if resp.status_code == 404:
                    raise NotFound(url)
                check_status(resp)
                return resp.read(MAX_PROVENANCE)

        body = self.policy.run(f"provenance {url}", once)
        if not isinstance(json_document(url, body), dict):
            raise BadUpstreamData(url, "provenance is not a JSON object")
        storage.write_bytes(target, body)
        return len(body)


@dataclass(frozen=True)
class Fetched:
    """A stored download: its size, and its bytes when the caller asked to keep them."""

    size: int
    body: bytes | None = None
