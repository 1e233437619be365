"""HTTP sessions and the retry policy shared by every upstream request.

Each worker thread gets its own ``requests.Session`` (``SessionFactory.get``), so the number
of open connections is bounded by the number of workers.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar, cast
from urllib.parse import urlsplit

import requests
import urllib3

from .. import __version__
from ..errors import UpstreamError

log = logging.getLogger(__name__)

USER_AGENT = f"bandersnatch/{__version__} (+https://github.com/pypa/bandersnatch)"

T = TypeVar("T")


class RetryableError(UpstreamError):
    """A failure worth another try: connection trouble, timeout, 5xx, 429."""

    def __init__(self, url: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(url, reason)
        self.retry_after = retry_after
        """Seconds upstream asked us to wait (``Retry-After``), if it said."""


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3
    backoff: float = 1.0
    max_wait: float = 60.0

    def delay(self, attempt: int) -> float:
        """Jittered exponential backoff for the given (1-based) retry."""
        base: float = min(self.max_wait, self.backoff * (2 ** (attempt - 1)))
        return base * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto

    def run(self, what: str, call: Callable[[], T]) -> T:
        """Call ``call``, retrying RetryableError with backoff; re-raise the last one."""
        attempt = 0
        while True:
            try:
                return call()
            except RetryableError as exc:
                attempt += 1
                if attempt > self.retries:
                    raise
                wait = self.delay(attempt)
                if exc.retry_after is not None:  # upstream said how long: honour it, capped
                    wait = max(wait, min(exc.retry_after, self.max_wait))
                log.debug("%s: %s; retry %d in %.2fs", what, exc.reason, attempt, wait)
                time.sleep(wait)


def classify(url: str, exc: requests.RequestException) -> UpstreamError:
    """Translate a requests exception into our tree (retryable or not)."""
    if isinstance(exc, requests.Timeout | requests.ConnectionError):
        return RetryableError(url, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return RetryableError(url, f"connection broken mid-body: {exc}")
    return UpstreamError(url, f"{type(exc).__name__}: {exc}")


def check_status(response: requests.Response | Body) -> None:
    """Raise RetryableError for 5xx/429 and UpstreamError for other non-2xx answers."""
    status = response.status_code
    if status < 400:
        return
    url = response.url
    if status >= 500 or status == 429:
        raise RetryableError(url, f"HTTP {status}", _retry_after(response))
    raise UpstreamError(url, f"HTTP {status}")


def _retry_after(response: requests.Response | Body) -> float | None:
    """A ``Retry-After`` given in seconds (the HTTP-date form is treated as absent)."""
    value = (response.headers.get("Retry-After") or "").strip()
    return float(value) if value.isdigit() else None


class Body:
    """A response whose body is read in chunks: a file download.

    Made by ``open_stream``, over urllib3 directly or over a ``requests`` response."""

    def __init__(
        self,
        url: str,
        status: int,
        headers: Mapping[str, str],
        chunks: Callable[[int], Iterator[bytes]],
        close: Callable[[], None],
    ) -> None:
        self.url = url
        self.status_code = status
        self.headers = headers
        self.chunks = chunks
        """``chunks(size)`` yields the (decoded) body."""
        self.close = close
        """Give the connection back (or drop it, when the body was not read to the end)."""

    def read(self, limit: int) -> bytes:
        """The whole (decoded) body; an error if it is longer than ``limit`` bytes."""
        parts, received = [], 0
        for chunk in self.chunks(256 * 1024):
            received += len(chunk)
            if received > limit:
                raise UpstreamError(self.url, f"response is larger than {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    def __enter__(self) -> Body:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_REDIRECTS = frozenset((301, 302, 303, 307, 308))


def open_stream(
    session: requests.Session,
    url: str,
    timeout: float,
    headers: Mapping[str, str] | None = None,
) -> Body:
    """GET ``url`` (with ``headers`` on top of the session's) to stream its body, through
    the session's own urllib3 connection pool.

    A download needs none of what ``requests`` adds to a request (cookies, hooks, auth,
    redirect bookkeeping, a Response object), and at PyPI's file counts that work cost
    about a third of the CPU of a small download. A URL that needs it (through a proxy,
    with credentials, a custom transport) and any redirect go through ``session.get``."""
    adapter = session.get_adapter(url)
    parts = urlsplit(url)
    if (
        isinstance(adapter, requests.adapters.HTTPAdapter)
        and "@" not in parts.netloc
        and not requests.utils.select_proxy(url, session.proxies)
    ):
        pool = _pool(session, adapter, url)
        try:
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            raw = pool.urlopen(
                "GET",
                requests.utils.requote_uri(target),  # as requests sends it: origin-form
                headers={**{k: str(v) for k, v in session.headers.items()}, **(headers or {})},
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=False,
                retries=False,
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _classify_urllib3(url, exc) from exc
        if raw.status not in _REDIRECTS:
            return _urllib3_body(url, raw)
        raw.drain_conn()
        raw.release_conn()
    try:
        response = session.get(url, stream=True, timeout=timeout, headers=headers)
    except requests.RequestException as exc:
        raise classify(url, exc) from exc

    def chunks(size: int) -> Iterator[bytes]:
        try:
            yield from response.iter_content(size)
        except requests.RequestException as exc:
            raise classify(url, exc) from exc

    return Body(response.url or url, response.status_code, response.headers, chunks, response.close)


class MirrorSession(requests.Session):
    """A session that remembers, per origin, the urllib3 pool ``open_stream`` uses."""

    def __init__(self) -> None:
        super().__init__()
        self.pools: dict[str, urllib3.HTTPConnectionPool] = {}


def _pool(
    session: requests.Session, adapter: requests.adapters.HTTPAdapter, url: str
) -> urllib3.HTTPConnectionPool:
    """The adapter's pool for ``url``'s origin, set up exactly as ``requests`` sets it up
    (TLS verification, CA bundle, client certificate), once per origin and session."""
    parts = urlsplit(url)
    pools = session.pools if isinstance(session, MirrorSession) else {}
    origin = f"{parts.scheme}://{parts.netloc}"
    pool = pools.get(origin)
    if pool is None or pool.pool is None:  # never made, or closed by the pool manager
        prepared = requests.Request("GET", url).prepare()
        made = adapter.get_connection_with_tls_context(prepared, session.verify, cert=session.cert)
        pool = cast(urllib3.HTTPConnectionPool, made)
        adapter.cert_verify(pool, url, session.verify, session.cert)  # type: ignore[no-untyped-call]
        pools[origin] = pool
    return pool


def _urllib3_body(url: str, raw: urllib3.BaseHTTPResponse) -> Body:
    finished = False

    def chunks(size: int) -> Iterator[bytes]:
        nonlocal finished
        try:
            yield from raw.stream(size, decode_content=True)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _classify_urllib3(url, exc) from exc
        finished = True

    def close() -> None:
        if not finished:  # the rest of the body is still on the wire: drop the connection
            raw.close()
        raw.release_conn()

    return Body(url, raw.status, raw.headers, chunks, close)


def _classify_urllib3(url: str, exc: Exception) -> UpstreamError:
    """Translate a urllib3 error the way ``classify`` translates requests' own."""
    if isinstance(exc, urllib3.exceptions.SSLError):
        return UpstreamError(url, f"SSLError: {exc}")
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
        return RetryableError(url, f"{type(exc).__name__}: {exc}")
    return UpstreamError(url, f"{type(exc).__name__}: {exc}")


class SessionFactory:
    """Makes one configured ``requests.Session`` per thread.

    The environment (``HTTPS_PROXY``/``NO_PROXY``, ``REQUESTS_CA_BUNDLE``) is read once,
    here, instead of on every request as requests does by default: at PyPI scale that
    per-request work (and its ``~/.netrc`` lookup) costs more CPU than the downloads."""

    def __init__(self, timeout: float, proxy: str | None = None, master: str = "") -> None:
        self.timeout = timeout
        if proxy:
            self._proxies = {"http": proxy, "https": proxy}
        else:
            self._proxies = dict(requests.utils.get_environ_proxies(master or "https://pypi.org"))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        self._verify: bool | str = bundle or True
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def new(self) -> requests.Session:
        session = MirrorSession()
        session.trust_env = False
        session.headers["User-Agent"] = USER_AGENT
        session.proxies = dict(self._proxies)
        session.verify = self._verify
        with self._lock:
            self._sessions.append(session)
        return session

    def get(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self.new()
            self._local.session = session
        return session

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
