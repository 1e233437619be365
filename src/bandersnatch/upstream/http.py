"""The one place an upstream request is sent and its body read.

Every request (file, ``.metadata``, project document, XML-RPC call, root index) goes through
``open_stream``: the URL and every redirect target are checked against the ``HostPolicy``,
redirects are followed here (never by ``requests``), and the body is read one socket read
at a time under a deadline, so an upstream that trickles a byte every few seconds is cut
off at ``global-timeout``, not held forever.

Most requests skip ``requests``' per-request machinery (cookies, hooks, auth, a Response
object): at PyPI's file counts that work cost about a third of the CPU of a small
download. They go straight to the session's own urllib3 pool, set up exactly as
``requests`` sets it up. A URL that needs ``requests`` (through a proxy, with credentials in
it, a custom transport) is sent by ``session.request``, still with our redirect handling.
"""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar, cast
from urllib.parse import urljoin

import requests
import urllib3

from ..errors import BadUpstreamData, RetryableError, UpstreamError
from .policy import HostPolicy

_T = TypeVar("_T")
REDIRECTS = frozenset((301, 302, 303, 307, 308))
MAX_REDIRECTS = 5


class MirrorSession(requests.Session):
    """A session that carries the host policy and remembers, per origin, how to reach it
    (the policy's answer, and the urllib3 pool or None for "through requests")."""

    def __init__(self, policy: HostPolicy | None = None) -> None:
        super().__init__()
        self.policy = policy
        self.routes: dict[str, _Route] = {}


class _Route:
    """How requests to one origin (``scheme://netloc``) go, decided once per session."""

    __slots__ = ("headers", "pool", "refusal")

    def __init__(self, session: requests.Session, origin: str, url: str) -> None:
        policy = session.policy if isinstance(session, MirrorSession) else None
        self.refusal = policy.refusal(url) if policy is not None else None
        self.pool: urllib3.HTTPConnectionPool | None = None
        self.headers = {k: str(v) for k, v in session.headers.items()}
        adapter = session.get_adapter(url)
        direct = (
            isinstance(adapter, requests.adapters.HTTPAdapter)
            and "@" not in origin
            and not requests.utils.select_proxy(url, session.proxies)
        )
        if direct and self.refusal is None:
            assert isinstance(adapter, requests.adapters.HTTPAdapter)
            prepared = requests.Request("GET", url).prepare()
            made = adapter.get_connection_with_tls_context(
                prepared, session.verify, cert=session.cert
            )
            self.pool = cast(urllib3.HTTPConnectionPool, made)
            adapter.cert_verify(self.pool, url, session.verify, session.cert)  # type: ignore[no-untyped-call]


_PLAIN = re.compile(r"[A-Za-z0-9._~:/?\[\]@!$&'()*+,;=%-]*")
"""A request target that needs no requoting."""


def _split(url: str) -> tuple[str, str]:
    """(``scheme://netloc``, request target) of an absolute URL, fragment dropped."""
    url = url.partition("#")[0]
    start = url.find("://")
    end = len(url)
    if start > 0:
        for mark in "/?":
            found = url.find(mark, start + 3)
            if 0 <= found < end:
                end = found
    target = url[end:]
    return url[:end], target if target.startswith("/") else "/" + target


def _route(session: requests.Session, origin: str, url: str) -> _Route:
    routes = session.routes if isinstance(session, MirrorSession) else {}
    route = routes.get(origin)
    if route is None or (route.pool is not None and route.pool.pool is None):
        route = routes[origin] = _Route(session, origin, url)  # new, or its pool was closed
    return route


class Body:
    """An answer whose body is read in chunks, each read bounded by the deadline."""

    def __init__(
        self, url: str, raw: urllib3.BaseHTTPResponse, timeout: float, deadline: float
    ) -> None:
        self.url = url
        self.status_code = raw.status
        self.headers: Mapping[str, str] = raw.headers
        self._raw = raw
        self._timeout = timeout
        self._deadline = deadline
        self._finished = False

    def chunks(self, size: int) -> Iterator[bytes]:
        """The decoded body, one socket read (at most ``size`` bytes) at a time."""
        while data := self._bounded(self._raw.read1, size, decode_content=True):
            yield data
        self._finished = True

    def views(self, buffer: bytearray) -> Iterator[memoryview]:
        """The body like ``chunks``, read into ``buffer``: each view is valid until the
        next one is asked for.

        A plain body (a ``Content-Length``, no transfer or content coding: every file PyPI
        serves) is read by http.client's own socket reader straight into the buffer, one
        socket read at a time as in ``chunks``: no bytes object and no urllib3 bookkeeping
        per read, which cut the CPU of a 5 MiB download by about a fifth."""
        plain = getattr(self._raw, "_fp", None)
        if (
            not isinstance(plain, http.client.HTTPResponse)
            or plain.chunked
            or plain.length is None
            or plain.fp is None
            or self.headers.get("Content-Encoding", "identity").lower() != "identity"
        ):
            for chunk in self.chunks(len(buffer)):
                yield memoryview(chunk)
            return
        view, reader, received = memoryview(buffer), plain.fp, 0
        while plain.length:
            count = self._bounded(reader.readinto1, view[: plain.length])
            if not count:  # the peer closed early (urllib3's own error, reworded)
                more = f"{plain.length} more expected"
                raise RetryableError(self.url, f"IncompleteRead({received} bytes read, {more})")
            plain.length -= count
            received += count
            yield view[:count]
        plain.close()  # as http.client does when it reads the last byte itself
        self._finished = True

    def _bounded(self, read: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """One socket read, under the request's timeout and what is left of its deadline."""
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise RetryableError(self.url, "took longer than global-timeout")
        sock = getattr(self._raw.connection, "sock", None)
        if sock is not None:
            sock.settimeout(min(self._timeout, left))
        try:
            return read(*args, **kwargs)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if time.monotonic() >= self._deadline:
                raise RetryableError(self.url, "took longer than global-timeout") from exc
            raise classify_urllib3(self.url, exc) from exc

    def read(self, limit: int) -> bytes:
        """The whole decoded body; an error when it is longer than ``limit`` bytes."""
        parts, received = [], 0
        for chunk in self.chunks(256 * 1024):
            received += len(chunk)
            if received > limit:
                raise UpstreamError(self.url, f"response is larger than {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    def close(self) -> None:
        """Give the connection back; drop it when the body was not read to the end."""
        if not self._finished:
            self._raw.close()
        self._raw.release_conn()

    def __enter__(self) -> Body:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_stream(
    session: requests.Session,
    url: str,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    *,
    deadline: float = 1800.0,
    method: str = "GET",
    data: bytes | None = None,
) -> Body:
    """Send ``method url`` (``headers`` on top of the session's) and return the answer to
    stream, after following redirects that the session's policy allows. ``deadline`` is
    the number of seconds the whole exchange may take, body included."""
    until = time.monotonic() + deadline
    for _hop in range(MAX_REDIRECTS + 1):
        origin, target = _split(url)
        route = _route(session, origin, url)
        if route.refusal:
            raise UpstreamError(url, f"refused: {route.refusal}")
        raw = _send(session, route, url, target, timeout, headers, until, method, data)
        if raw.status not in REDIRECTS:
            return Body(url, raw, timeout, until)
        location = raw.headers.get("Location")
        raw.drain_conn()
        raw.release_conn()
        if not location:
            raise UpstreamError(url, f"HTTP {raw.status} redirect without a Location")
        target = urljoin(url, location)
        if url.startswith("https:") and not target.startswith("https:"):
            raise UpstreamError(url, f"refused: redirect from https to {target}")
        if method != "GET" and raw.status not in (307, 308):
            raise UpstreamError(url, f"refused: HTTP {raw.status} redirect of a {method}")
        url = target
    raise UpstreamError(url, f"more than {MAX_REDIRECTS} redirects")


def _send(
    session: requests.Session,
    route: _Route,
    url: str,
    target: str,
    timeout: float,
    headers: Mapping[str, str] | None,
    until: float,
    method: str,
    data: bytes | None,
) -> urllib3.BaseHTTPResponse:
    left = until - time.monotonic()
    if left <= 0:
        raise RetryableError(url, "took longer than global-timeout")
    bounded = min(timeout, left)
    if route.pool is None:
        return _send_with_requests(session, url, bounded, headers, method, data)
    if not _PLAIN.fullmatch(target):
        target = requests.utils.requote_uri(target)  # as requests would send it
    try:
        return route.pool.urlopen(
            method,
            target,
            body=data,
            headers={**route.headers, **headers} if headers else route.headers,
            redirect=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            retries=False,
            timeout=urllib3.Timeout(connect=bounded, read=bounded),
        )
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise classify_urllib3(url, exc) from exc


def _send_with_requests(
    session: requests.Session,
    url: str,
    timeout: float,
    headers: Mapping[str, str] | None,
    method: str,
    data: bytes | None,
) -> urllib3.BaseHTTPResponse:
    try:
        response = session.request(
            method,
            url,
            data=data,
            headers=headers,
            stream=True,
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise classify(url, exc) from exc
    return cast(urllib3.BaseHTTPResponse, response.raw)


def classify(url: str, exc: requests.RequestException) -> UpstreamError:
    """Translate a requests exception into our tree (retryable or not)."""
    if isinstance(exc, requests.Timeout | requests.ConnectionError):
        return RetryableError(url, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return RetryableError(url, f"connection broken mid-body: {exc}")
    return UpstreamError(url, f"{type(exc).__name__}: {exc}")


def classify_urllib3(url: str, exc: Exception) -> UpstreamError:
    """Translate a urllib3 or socket error the way ``classify`` translates requests' own."""
    if isinstance(exc, urllib3.exceptions.SSLError):
        return UpstreamError(url, f"SSLError: {exc}")
    if isinstance(exc, urllib3.exceptions.LocationParseError):
        return UpstreamError(url, f"invalid URL: {exc}")
    return RetryableError(url, f"{type(exc).__name__}: {exc}")


def check_status(response: Body) -> None:
    """Raise RetryableError for 5xx/429 and UpstreamError for other non-2xx answers."""
    status = response.status_code
    if status < 400:
        return
    if status >= 500 or status == 429:
        raise RetryableError(response.url, f"HTTP {status}", _retry_after(response))
    raise UpstreamError(response.url, f"HTTP {status}")


def _retry_after(response: Body) -> float | None:
    """A ``Retry-After`` given in seconds (the HTTP-date form is treated as absent)."""
    value = (response.headers.get("Retry-After") or "").strip()
    return float(value) if value.isdigit() else None


def json_document(url: str, data: bytes) -> object:
    """A JSON body, parsed; any way it fails to parse (bad syntax, bad UTF-8, nesting deep
    enough to exhaust the parser's stack) is one ``BadUpstreamData``."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise BadUpstreamData(url, f"not a usable JSON document: {type(exc).__name__}") from None
