"""File downloads: streamed into a temp file beside the target while hashed with sha256,
moved into place only when size and digest match what upstream advertised."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

import requests

from ..errors import DigestMismatch, NotFound, SizeMismatch, UpstreamError
from ..storage import Storage
from .session import RetryableError, RetryPolicy, check_status, classify

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
MAX_UNSIZED = 64 * 1024 * 1024
"""A body whose size upstream did not advertise (a ``.metadata`` file) may not exceed this:
a hostile upstream cannot stream forever into the mirror's disk."""


@dataclass(frozen=True)
class Downloader:
    timeout: float
    global_timeout: float
    policy: RetryPolicy
    download_mirror: str | None = None
    mirror_only: bool = False

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
    ) -> int:
        """Store the verified body at ``target``; return the bytes downloaded."""
        last: UpstreamError | None = None
        for url in urls:

            def once(url: str = url) -> int:
                return self._once(session, storage, url, target, size, sha256)

            try:
                return self.policy.run(f"download {url}", once)
            except UpstreamError as exc:
                last = exc
                if len(urls) > 1:
                    log.warning("%s: %s", url, exc.reason)
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
    ) -> int:
        started = time.monotonic()
        try:
            response = session.get(url, stream=True, timeout=self.timeout)
        except requests.RequestException as exc:
            raise classify(url, exc) from exc
        with response:
            if response.status_code == 404:
                raise NotFound(url)
            check_status(response)
            digest = hashlib.sha256()
            received = 0
            out = storage.open_atomic(target)
            try:
                for chunk in response.iter_content(CHUNK):
                    digest.update(chunk)
                    received += len(chunk)
                    if received > (MAX_UNSIZED if size is None else size):
                        raise SizeMismatch(url, MAX_UNSIZED if size is None else size, received)
                    out.write(chunk)
                    if time.monotonic() - started > self.global_timeout:
                        raise RetryableError(url, f"took over {self.global_timeout:.0f}s")
                if size is not None and received != size:
                    raise RetryableError(url, f"body ended after {received} of {size} bytes")
                actual = digest.hexdigest()
                if actual != sha256:
                    raise DigestMismatch(url, sha256, actual)
            except requests.RequestException as exc:
                out.abort()
                raise classify(url, exc) from exc
            except BaseException:
                out.abort()
                raise
            out.commit()
            return received
