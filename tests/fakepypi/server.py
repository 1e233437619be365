"""A fake PyPI over HTTP on 127.0.0.1 (standard library only, plus `packaging` for names).

Endpoints (all answers derive from a `Universe`):
- `POST /pypi`: XML-RPC `changelog_last_serial`, `changelog_since_serial`,
  `list_packages_with_serial` (other methods answer a fault, like PyPI's disabled ones).
- `GET /pypi/<name>/json`, `GET /pypi/<name>/<version>/json`: the JSON API.
- `GET /simple/`, `GET /simple/<name>/`: PEP 503 HTML / PEP 691 JSON by `Accept` q-values
  (or `?format=`); `/simple/<name>` redirects to the slash form, non-normalized names to the
  normalized one. The root carries an `ETag` (a digest of the body) and answers a matching
  `If-None-Match` with 304 Not Modified, as PyPI's CDN does (`root_etag = False`: neither).
- `GET|HEAD /packages/...` (and `<file>.metadata`): file bytes, single `Range` supported.

Fault switches (`stale`, `fail`, `drop`, `truncate`, `slow`, `http_429`, `wrong_digest`,
`missing_file`, `hostile_files`, `rate_limit_xmlrpc`, `xmlrpc_fault`, `stale_index`) change
what the server answers; path patterns match the raw request path (without query) exactly,
or as a prefix when the pattern ends with `/` or `*`.

Hostile switches play an upstream that attacks the mirror: `redirect` (to another host),
`overlong` (more bytes than Content-Length says), `trickle` (one byte every N seconds),
`inject_invalid_names` (names that are no project names in every feed), `deep_json`
(documents nested deep enough to exhaust a recursive parser), `oversized` (documents padded
past a size), `xmlrpc_entity_bomb` (an answer with a DOCTYPE of nested entities), and
`hostile_paths` (more files whose names or URLs try to leave the mirror). With
`credentials=(user, password)` the index answers 401 unless a request carries them.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import socket
import sys
import threading
import time
import traceback
import xmlrpc.client
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xmlrpc.server import SimpleXMLRPCDispatcher

from packaging.utils import canonicalize_name

from . import pages
from .model import ProjectState, StoredFile, Universe, make_small_universe

INVALID_NAMES = ("-", "foo bar", "n" * 300, "\u0130", "..", "a/b")
"""Names that are not project names (`inject_invalid_names`): a lone separator, a space, 300
characters, a non-ASCII letter (U+0130, whose lower case is two code points), a dot segment
and a path."""
_DEEP_MARK = "__fakepypi_deep__"

MAX_PAGE_SIZE = 50000
RATE_LIMIT_CODE = -32500
RATE_LIMIT_MESSAGE = (
    "HTTPTooManyRequests: Too Many Requests. The action could not be performed because "
    "there were too many requests by the client. Limit may reset in 1 seconds."
)


@dataclass
class RequestRecord:
    """One request as the fake saw it. `status` is None when the connection was dropped."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    xmlrpc_method: str | None = None
    xmlrpc_params: tuple[Any, ...] | None = None
    status: int | None = None
    fault: str | None = None
    time: float = field(default_factory=time.monotonic)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class RequestLog:
    """Thread-safe log of requests; iterating yields a snapshot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[RequestRecord] = []

    def _append(self, record: RequestRecord) -> None:
        with self._lock:
            self._items.append(record)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._items)

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self.snapshot())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def filter(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        path_prefix: str | None = None,
        xmlrpc_method: str | None = None,
    ) -> list[RequestRecord]:
        """Records matching every given criterion."""
        return [
            r
            for r in self.snapshot()
            if (method is None or r.method == method)
            and (path is None or r.path == path)
            and (path_prefix is None or r.path.startswith(path_prefix))
            and (xmlrpc_method is None or r.xmlrpc_method == xmlrpc_method)
        ]

    def xmlrpc_calls(self) -> list[str]:
        return [r.xmlrpc_method for r in self.snapshot() if r.xmlrpc_method]


def _matches(pattern: str, path: str) -> bool:
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    if pattern.endswith("/"):
        return path.startswith(pattern)
    return path == pattern


@dataclass
class _Rule:
    kind: str  # "fail" | "http_429" | "drop" | "truncate" | "slow" | "redirect" | "overlong"
    # | "trickle"
    pattern: str
    remaining: int | None
    status: int = 500
    seconds: float = 0.0
    retry_after: int = 1
    location: str = ""
    extra: bytes = b""


@dataclass
class _Bomb:
    method: str | None
    remaining: int | None
    levels: int


@dataclass
class _Stale:
    remaining: int
    drop_header: bool


@dataclass
class _XmlFault:
    code: int
    message: str
    remaining: int
    method: str | None


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def _text(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> _Response:
    return _Response(
        status,
        (message + "\n").encode(),
        [("Content-Type", "text/plain; charset=utf-8"), *(headers or [])],
    )


def _json(
    doc: Any, status: int = 200, serial: int | None = None, content_type: str = "application/json"
) -> _Response:
    headers = [("Content-Type", content_type)]
    if serial is not None:
        headers.append(("X-PyPI-Last-Serial", str(serial)))
    return _Response(status, json.dumps(doc, sort_keys=True).encode(), headers)


_NOT_FOUND_JSON = {"message": "Not Found"}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default backlog of 5 stalls bursts of parallel connections
    fake: FakePyPI

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._conn_lock = threading.Lock()
        self._conns: set[socket.socket] = set()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client that went away (e.g. one that dropped an `overlong` connection)
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakepypi/1.0"
    sys_version = ""
    timeout = 30
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        try:
            self.server.fake._handle(self)
        except OSError:
            self.close_connection = True

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()


def _parse_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """(start, end) inclusive; None = ignore the header; False = unsatisfiable."""
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not m or (not m[1] and not m[2]):
        return None
    if not m[1]:
        n = int(m[2])
        if n == 0 or size == 0:
            return False
        return max(0, size - n), size - 1
    start = int(m[1])
    end = int(m[2]) if m[2] else size - 1
    if start >= size:
        return False
    if end < start:
        return None
    return start, min(end, size - 1)


class FakePyPI:
    """A running fake PyPI: `with FakePyPI(universe) as pypi: ... pypi.url ...`.

    Attributes: `universe` (mutate it at any time), `requests` (RequestLog), `page_size`
    (rows per `changelog_since_serial` call), `stale_bypass_with_query` (see `stale`),
    `root_etag` (see `GET /simple/`), `errors` (tracebacks of internal errors; should stay
    empty).
    """

    def __init__(
        self,
        universe: Universe | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        page_size: int = MAX_PAGE_SIZE,
        stale_bypass_with_query: bool = True,
        files_host: str | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.credentials = credentials
        self.universe = universe if universe is not None else make_small_universe()
        self.host = host
        self.port = port
        self.page_size = page_size
        self.stale_bypass_with_query = stale_bypass_with_query
        self.files_host = files_host
        self.root_etag = True
        self.requests = RequestLog()
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._stale: dict[str, _Stale] = {}
        self._stale_index: tuple[int, int | None] | None = None
        self._xml_faults: list[_XmlFault] = []
        self._wrong: set[tuple[str, str]] = set()
        self._wrong_meta: set[tuple[str, str]] = set()
        self._provenance: dict[tuple[str, str], tuple[str | None, bytes | None]] = {}
        self._missing: set[tuple[str, str]] = set()
        self._missing_meta: set[tuple[str, str]] = set()
        self._invalid_names: tuple[str, ...] = ()
        self._deep: dict[str, int] = {}
        self._oversized: dict[str, int] = {}
        self._bombs: list[_Bomb] = []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._dispatcher = SimpleXMLRPCDispatcher(allow_none=True, encoding="utf-8")
        self._dispatcher.register_function(self._changelog_last_serial, "changelog_last_serial")
        self._dispatcher.register_function(self._changelog_since_serial, "changelog_since_serial")
        self._dispatcher.register_function(
            self._list_packages_with_serial, "list_packages_with_serial"
        )

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> FakePyPI:
        """Bind (random free port by default) and serve in a background thread."""
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.fake = self
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fakepypi-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakePyPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:PORT` (use it as bandersnatch's `master`)."""
        if self._httpd is None:
            raise RuntimeError("FakePyPI is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def files_url(self) -> str:
        """Base URL of advertised file links (`files_host` lets it differ from `url`)."""
        return f"http://{self.files_host}:{self.port}" if self.files_host else self.url

    @property
    def xmlrpc_url(self) -> str:
        return self.url + "/pypi"

    def json_url(self, name: str) -> str:
        return f"{self.url}/pypi/{canonicalize_name(name)}/json"

    def simple_url(self, name: str | None = None) -> str:
        return f"{self.url}/simple/" + (f"{canonicalize_name(name)}/" if name else "")

    def file_url(self, name: str, filename: str) -> str:
        return self.files_url + self.universe.file(name, filename).url_path

    def reset_log(self) -> None:
        """Forget all logged requests."""
        self.requests.clear()

    def reset_faults(self) -> None:
        """Switch every fault off."""
        with self._lock:
            self._rules.clear()
            self._stale.clear()
            self._stale_index = None
            self._xml_faults.clear()
            self._wrong.clear()
            self._wrong_meta.clear()
            self._provenance.clear()
            self._missing.clear()
            self._missing_meta.clear()
            self._invalid_names = ()
            self._deep.clear()
            self._oversized.clear()
            self._bombs.clear()

    # -- fault switches ----------------------------------------------------------------
    def _add_rule(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def stale(self, name: str, times: int = 1, *, drop_header: bool = False) -> None:
        """Act like a stale CDN for the next `times` JSON API / simple page responses of `name`.

        A stale answer is the project's previous snapshot (the document before its latest
        change, with that snapshot's serial in `X-PyPI-Last-Serial` and in the body; 404 when
        there was none). With `drop_header=True` the answer is current but has no
        `X-PyPI-Last-Serial` header. Every request counts, also ones with a query string; when
        `stale_bypass_with_query` is True (default) a JSON API request with a non-empty query
        string reaches "origin" and gets the fresh document (simple pages ignore the query,
        as PyPI's CDN strips it there).
        """
        with self._lock:
            self._stale[canonicalize_name(name)] = _Stale(times, drop_header)

    def stale_index(self, times: int = 1, serial: int | None = None) -> None:
        """Serve `/simple/` as it was at `serial` (default: last serial - 1) `times` times."""
        with self._lock:
            self._stale_index = (times, serial)

    def fail(self, path_or_prefix: str, status: int = 500, times: int | None = 1) -> None:
        """Answer `status` (plain-text body) to the next `times` matching requests."""
        self._add_rule(_Rule("fail", path_or_prefix, times, status=status))

    def http_429(self, path_or_prefix: str, times: int | None = 1, retry_after: int = 1) -> None:
        """Answer HTTP 429 with `Retry-After` to the next `times` matching requests."""
        self._add_rule(
            _Rule("http_429", path_or_prefix, times, status=429, retry_after=retry_after)
        )

    def drop(self, path_or_prefix: str, times: int | None = 1) -> None:
        """Close the connection without any response for the next `times` matching requests.

        Note: xmlrpc.client retries once by itself on a reused connection that is dropped.
        """
        self._add_rule(_Rule("drop", path_or_prefix, times))

    def truncate(self, path_or_prefix: str, times: int | None = 1) -> None:
        """Send the right status and Content-Length but only half the body, then close."""
        self._add_rule(_Rule("truncate", path_or_prefix, times))

    def slow(self, path_or_prefix: str, seconds: float, times: int | None = None) -> None:
        """Wait `seconds` before answering matching requests (`times` None = always)."""
        self._add_rule(_Rule("slow", path_or_prefix, times, seconds=seconds))

    def wrong_digest(self, name: str, filename: str, *, metadata: bool = False) -> None:
        """Advertise a wrong sha256 for a file (JSON API and both simple formats) while serving
        the real bytes. `metadata=True` falsifies the PEP 658 `.metadata` sha256 instead."""
        with self._lock:
            (self._wrong_meta if metadata else self._wrong).add((canonicalize_name(name), filename))

    def bad_provenance(
        self, name: str, filename: str, *, url: str | None = None, body: bytes | None = None
    ) -> None:
        """For a file with a PEP 740 provenance: advertise ``url`` (e.g. on another host)
        instead of its ``/integrity/`` URL, and/or serve ``body`` there (oversized, not
        JSON...) instead of the real document."""
        with self._lock:
            self._provenance[(canonicalize_name(name), filename)] = (url, body)

    def missing_file(self, name: str, filename: str, *, metadata: bool = False) -> None:
        """Keep advertising a file but answer 404 for its URL (or only for its `.metadata`)."""
        with self._lock:
            (self._missing_meta if metadata else self._missing).add(
                (canonicalize_name(name), filename)
            )

    def hostile_files(
        self, name: str, version: str = "6.6.6", *, absolute_filename: str | None = None
    ) -> list[StoredFile]:
        """Add a release to `name` whose files try to escape the mirror by filename or URL.

        Filenames `../../evil.whl`, `evil/evil-<v>.tar.gz`, one with a NUL byte, one with an
        ESC control sequence, an absolute path (default: a unique path under the temp dir);
        URLs `/packages/../../../etc/evil_dotdot-<v>.tar.gz` and
        `/packages/%2e%2e%2f.../etc/evil_pct-<v>.tar.gz`. All are served with matching bytes
        and digests, so only path checks can reject them. Returns the added files.
        """
        return self.universe.add_hostile_files(name, version, absolute_filename=absolute_filename)

    def hostile_paths(self, name: str, version: str = "6.6.7") -> list[StoredFile]:
        """Add a release to `name` with more escape attempts than `hostile_files`: backslashes,
        encoded dot segments, an empty segment, a NUL in the URL, `.htaccess`, a 300-character
        filename, a URL path over 1024 bytes, a URL without `/packages/`
        (`Universe.add_hostile_paths`). Returns the added files."""
        return self.universe.add_hostile_paths(name, version)

    def redirect(
        self, path_or_prefix: str, location: str, status: int = 302, times: int | None = None
    ) -> None:
        """Answer matching requests with a redirect (`status`) to `location` (an absolute URL,
        e.g. on another host, or a path on this one); `times` None = always."""
        self._add_rule(_Rule("redirect", path_or_prefix, times, status=status, location=location))

    def overlong(
        self,
        path_or_prefix: str,
        extra: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nevil!",
        times: int | None = None,
    ) -> None:
        """Send the right status, Content-Length and body, then `extra` bytes more on the same
        kept-alive connection (by default a whole smuggled response, waiting to be taken as
        the answer to the next request sent on that connection)."""
        self._add_rule(_Rule("overlong", path_or_prefix, times, extra=extra))

    def trickle(self, path_or_prefix: str, interval: float, times: int | None = None) -> None:
        """Send the status and headers at once, then the body one byte every `interval`
        seconds (until the client goes away or the server stops); `times` None = always."""
        self._add_rule(_Rule("trickle", path_or_prefix, times, seconds=interval))

    def inject_invalid_names(self, names: tuple[str, ...] = INVALID_NAMES) -> None:
        """List `names` (default `INVALID_NAMES`, none of them a project name) beside the real
        projects in every feed: `list_packages_with_serial` (at the last serial), the rows
        of every non-empty `changelog_since_serial` page (after its first row, with that
        row's serial and timestamp, action `new release`) and the `/simple/` root index in
        both formats (at the last serial)."""
        with self._lock:
            self._invalid_names = tuple(names)

    def deep_json(self, name: str, depth: int = 100_000) -> None:
        """Serve the JSON API documents and the PEP 691 page of `name` with a value nested
        `depth` arrays deep (`info.deep` in the JSON API, top-level `deep` in the page);
        the rest of the document is the real one. 100,000 levels exhaust any recursive
        parser; a few hundred parse, and exhaust recursive code that walks the result."""
        with self._lock:
            self._deep[canonicalize_name(name)] = depth

    def oversized(self, name: str, size: int) -> None:
        """Pad the JSON API documents and the PEP 691 page of `name` (`info.padding` /
        top-level `padding`) so each is larger than `size` bytes."""
        with self._lock:
            self._oversized[canonicalize_name(name)] = size

    def xmlrpc_entity_bomb(
        self, method: str | None = None, times: int | None = None, levels: int = 9
    ) -> None:
        """Answer the next `times` XML-RPC calls (of `method`, or any; None = always) with a
        well-formed methodResponse whose DOCTYPE nests entities `levels` deep, ten of the
        previous in each (`&lol<levels>;` expands to 3 * 10**levels characters: 9 is the
        classic billion laughs, which expat refuses by itself; 5, 300 kB, is below what it
        refuses, so only a client that refuses every DTD is safe from it). The
        expansion sits where the method's answer carries a name: a changelog row's name
        (with the last serial), a `list_packages_with_serial` key, else a string."""
        with self._lock:
            self._bombs.append(_Bomb(method, times, levels))

    def xmlrpc_fault(
        self, code: int, message: str, times: int = 1, method: str | None = None
    ) -> None:
        """Answer the next `times` XML-RPC calls (of `method`, or any) with a fault."""
        with self._lock:
            self._xml_faults.append(_XmlFault(code, message, times, method))

    def rate_limit_xmlrpc(self, times: int = 1, method: str | None = None) -> None:
        """Answer the next `times` XML-RPC calls with PyPI's rate-limit fault (-32500,
        "Too Many Requests"), in an HTTP 200 response."""
        self.xmlrpc_fault(RATE_LIMIT_CODE, RATE_LIMIT_MESSAGE, times, method)

    # -- fault bookkeeping -------------------------------------------------------------
    def _take_rules(self, path: str) -> tuple[float, _Rule | None]:
        delay = 0.0
        chosen: _Rule | None = None
        with self._lock:
            for rule in list(self._rules):
                if not _matches(rule.pattern, path):
                    continue
                if rule.kind == "slow":
                    delay += rule.seconds
                elif chosen is None:
                    chosen = rule
                else:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
        return delay, chosen

    def _take_stale(self, normalized: str, bypass: bool) -> _Stale | None:
        with self._lock:
            entry = self._stale.get(normalized)
            if entry is None:
                return None
            entry.remaining -= 1
            if entry.remaining <= 0:
                del self._stale[normalized]
            return None if bypass else entry

    def _take_bomb(self, method: str | None) -> _Bomb | None:
        with self._lock:
            for bomb in self._bombs:
                if bomb.method is None or bomb.method == method:
                    if bomb.remaining is not None:
                        bomb.remaining -= 1
                        if bomb.remaining <= 0:
                            self._bombs.remove(bomb)
                    return bomb
        return None

    def _take_xml_fault(self, method: str | None) -> _XmlFault | None:
        with self._lock:
            for fault in self._xml_faults:
                if fault.method is None or fault.method == method:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._xml_faults.remove(fault)
                    return fault
        return None

    def _advertiser(self) -> pages.Advertiser:
        def sha256(f: StoredFile) -> str:
            if (canonicalize_name(f.project), f.filename) in self._wrong:
                return hashlib.sha256(b"wrong" + f.content).hexdigest()
            return f.sha256

        def metadata_sha256(f: StoredFile) -> str | None:
            digest = f.artifact.metadata_sha256
            if digest and (canonicalize_name(f.project), f.filename) in self._wrong_meta:
                return hashlib.sha256(b"wrong" + digest.encode()).hexdigest()
            return digest

        def provenance(f: StoredFile) -> str | None:
            with self._lock:
                url = self._provenance.get((canonicalize_name(f.project), f.filename), (None,))[0]
            return url

        return pages.Advertiser(self.url, self.files_url, sha256, metadata_sha256, provenance)

    # -- XML-RPC -----------------------------------------------------------------------
    def _changelog_last_serial(self) -> int:
        return self.universe.last_serial

    def _changelog_since_serial(self, serial: Any) -> list[list[Any]]:
        rows = [e.row() for e in self.universe.changelog_since(int(serial), self.page_size)]
        with self._lock:
            names = self._invalid_names
        if rows and names:
            first = rows[0]
            rows[1:1] = [[n, None, first[2], "new release", first[4]] for n in names]
        return rows

    def _list_packages_with_serial(self) -> dict[str, int]:
        listed = self.universe.packages_with_serial()
        with self._lock:
            names = self._invalid_names
        return listed | dict.fromkeys(names, self.universe.last_serial)

    def _entity_bomb(self, method: str | None, levels: int) -> bytes:
        entities = ['<!ENTITY lol0 "lol">'] + [
            f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels + 1)
        ]
        bomb, last = f"&lol{levels};", self.universe.last_serial
        if method == "changelog_since_serial":
            row = [f"<string>{bomb}</string>", "<nil/>", "<int>0</int>", "<string>create</string>"]
            row.append(f"<int>{last}</int>")
            cells = "".join(f"<value>{cell}</value>" for cell in row)
            value = (
                f"<array><data><value><array><data>{cells}</data></array></value></data></array>"
            )
        elif method == "list_packages_with_serial":
            member = f"<member><name>{bomb}</name><value><int>{last}</int></value></member>"
            value = f"<struct>{member}</struct>"
        else:
            value = f"<string>{bomb}</string>"
        return (
            '<?xml version="1.0"?>\n<!DOCTYPE methodResponse [\n'
            + "\n".join(entities)
            + "\n]>\n<methodResponse><params><param><value>"
            + value
            + "</value></param></params></methodResponse>\n"
        ).encode()

    def _xmlrpc(self, body: bytes, record: RequestRecord) -> _Response:
        method = None
        try:
            params, method = xmlrpc.client.loads(body, use_builtin_types=True)
            record.xmlrpc_method, record.xmlrpc_params = method, params
        except Exception:  # malformed: the dispatcher answers a fault
            pass
        bomb = self._take_bomb(method)
        if bomb is not None:
            record.fault = "entity_bomb"
            data = self._entity_bomb(method, bomb.levels)
            return _Response(200, data, [("Content-Type", "text/xml; charset=utf-8")])
        fault = self._take_xml_fault(method)
        if fault is not None:
            record.fault = "xmlrpc_fault"
            data = xmlrpc.client.dumps(
                xmlrpc.client.Fault(fault.code, fault.message), methodresponse=True, allow_none=True
            ).encode()
        else:
            out: str | bytes = self._dispatcher._marshaled_dispatch(body)
            data = out.encode() if isinstance(out, str) else out
        return _Response(200, data, [("Content-Type", "text/xml; charset=utf-8")])

    # -- documents ---------------------------------------------------------------------
    def _project_state(
        self, name: str, query: str, json_api: bool, record: RequestRecord
    ) -> tuple[ProjectState | None, bool]:
        """(state to render, whether to omit the serial header)."""
        bypass = json_api and bool(query) and self.stale_bypass_with_query
        stale = self._take_stale(canonicalize_name(name), bypass)
        if stale is None:
            return self.universe.project(name), False
        record.fault = "stale"
        if stale.drop_header:
            return self.universe.project(name), True
        return self.universe.previous(name), False

    def _json_api(
        self, name: str, version: str | None, query: str, record: RequestRecord
    ) -> _Response:
        state, no_header = self._project_state(name, query, True, record)
        if state is None or not state.has_json:
            return _json(_NOT_FOUND_JSON, 404)
        if version is not None and version not in state.releases:
            return _json(_NOT_FOUND_JSON, 404)
        adv = self._advertiser()
        doc = (
            pages.json_api_project(state, adv)
            if version is None
            else pages.json_api_release(state, version, adv)
        )
        resp = _json(doc, serial=None if no_header else state.serial)
        resp.body = self._hostile_document(state.normalized, resp.body, doc, doc["info"])
        resp.headers.append(("Cache-Control", "max-age=900, public"))
        return resp

    def _hostile_document(
        self, normalized: str, body: bytes, doc: dict[str, Any], where: dict[str, Any]
    ) -> bytes:
        """`body` (the JSON of `doc`), or the `deep_json` / `oversized` variant of it, with
        the extra value added to `where` (a dict inside `doc`)."""
        with self._lock:
            depth = self._deep.get(normalized)
            size = self._oversized.get(normalized)
        if depth is None and size is None:
            return body
        if size is not None:
            where["padding"] = "x" * size
        if depth is not None:
            where["deep"] = _DEEP_MARK
        data = json.dumps(doc, sort_keys=True).encode()
        if depth is not None:
            nested = b"[" * depth + b"]" * depth
            data = data.replace(json.dumps(_DEEP_MARK).encode(), nested)
        return data

    def _simple_type(self, headers: dict[str, str], query: str) -> str | None:
        fmt = parse_qs(query).get("format")  # an unescaped "+" arrives as a space
        return pages.negotiate(fmt[0].replace(" ", "+") if fmt else headers.get("accept"))

    @staticmethod
    def _simple_response(content_type: str, serial: int | None, doc: Any, text: str) -> _Response:
        if content_type == pages.JSON_TYPE:
            resp = _json(doc, serial=serial, content_type=pages.JSON_TYPE)
        else:
            ctype = "text/html; charset=utf-8" if content_type == pages.TEXT_HTML else content_type
            resp = _Response(200, text.encode(), [("Content-Type", ctype)])
            if serial is not None:
                resp.headers.append(("X-PyPI-Last-Serial", str(serial)))
        resp.headers.append(("Vary", "Accept"))
        resp.headers.append(("Cache-Control", "max-age=600, public"))
        return resp

    def _simple_root(self, headers: dict[str, str], query: str, record: RequestRecord) -> _Response:
        ctype = self._simple_type(headers, query)
        if ctype is None:
            return _text(406, "Not Acceptable")
        stale = None
        with self._lock:
            if self._stale_index is not None:
                times, serial = self._stale_index
                stale = serial if serial is not None else self.universe.last_serial - 1
                self._stale_index = (times - 1, serial) if times > 1 else None
        if stale is None:
            last = self.universe.last_serial
            entries = [(s.name, s.normalized, s.serial) for s in self.universe.projects()]
            with self._lock:
                entries += [(n, n, last) for n in self._invalid_names]
        else:
            record.fault = "stale"
            last = stale
            entries = [
                (display, norm, serial)
                for norm, (display, serial) in sorted(self.universe.index_as_of(stale).items())
            ]
        if ctype == pages.JSON_TYPE:
            resp = self._simple_response(ctype, last, pages.simple_root_json(entries, last), "")
        else:
            resp = self._simple_response(ctype, last, None, pages.simple_root_html(entries, last))
        if not self.root_etag:
            return resp
        etag = f'"{hashlib.sha256(resp.body).hexdigest()[:24]}"'
        resp.headers.append(("ETag", etag))
        if headers.get("if-none-match") == etag:
            return _Response(304, b"", [h for h in resp.headers if h[0] != "Content-Type"])
        return resp

    def _simple_project(
        self, name: str, headers: dict[str, str], query: str, record: RequestRecord
    ) -> _Response:
        ctype = self._simple_type(headers, query)
        if ctype is None:
            return _text(406, "Not Acceptable")
        state, no_header = self._project_state(name, query, False, record)
        if state is None:
            return _text(404, "Not Found")
        serial = None if no_header else state.serial
        adv = self._advertiser()
        if ctype == pages.JSON_TYPE:
            doc = pages.simple_project_json(state, adv)
            resp = self._simple_response(ctype, serial, doc, "")
            resp.body = self._hostile_document(state.normalized, resp.body, doc, doc)
            return resp
        return self._simple_response(ctype, serial, None, pages.simple_project_html(state, adv))

    def _file(self, method: str, path: str, headers: dict[str, str]) -> _Response:
        hit = self.universe.lookup_path(path)
        if hit is None:
            return _text(404, "Not Found")
        stored, is_meta = hit
        key = (canonicalize_name(stored.project), stored.filename)
        with self._lock:
            missing = key in (self._missing_meta if is_meta else self._missing)
        if missing:
            return _text(404, "Not Found")
        data = stored.metadata if is_meta else stored.content
        if data is None:
            return _text(404, "Not Found")
        base = [
            ("Content-Type", "application/octet-stream"),
            ("Accept-Ranges", "bytes"),
            ("ETag", f'"{hashlib.sha256(data).hexdigest()[:32]}"'),
            ("Cache-Control", "max-age=365000000, immutable, public"),
        ]
        rng = headers.get("range")
        parsed = _parse_range(rng, len(data)) if rng and method in ("GET", "HEAD") else None
        if parsed is False:
            return _Response(416, b"", [*base, ("Content-Range", f"bytes */{len(data)}")])
        if isinstance(parsed, tuple):
            start, end = parsed
            return _Response(
                206,
                data[start : end + 1],
                [*base, ("Content-Range", f"bytes {start}-{end}/{len(data)}")],
            )
        return _Response(200, data, base)

    def _route(  # noqa: PLR0911
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        record: RequestRecord,
    ) -> _Response:
        if path in ("/pypi", "/pypi/"):
            if method != "POST":
                return _text(405, "Method Not Allowed", [("Allow", "POST")])
            return self._xmlrpc(body, record)
        if method not in ("GET", "HEAD"):
            return _text(405, "Method Not Allowed", [("Allow", "GET, HEAD")])
        suffix = f"?{query}" if query else ""
        if path == "/simple":
            return self._redirect("/simple/" + suffix)
        if path == "/simple/":
            return self._simple_root(headers, query, record)
        m = re.fullmatch(r"/simple/([^/]+)(/?)", path)
        if m:
            name = unquote(m[1])
            normalized = canonicalize_name(name)
            if not m[2] or name != normalized:
                return self._redirect(f"/simple/{quote(normalized)}/" + suffix)
            return self._simple_project(name, headers, query, record)
        m = re.fullmatch(r"/pypi/([^/]+)/json/?", path)
        if m:
            return self._json_api(unquote(m[1]), None, query, record)
        m = re.fullmatch(r"/pypi/([^/]+)/([^/]+)/json/?", path)
        if m:
            return self._json_api(unquote(m[1]), unquote(m[2]), query, record)
        if path.startswith("/integrity/"):
            stored = self.universe.lookup_provenance(path)
            if stored is None or stored.provenance is None:
                return _text(404, "Not Found")
            with self._lock:
                key = (canonicalize_name(stored.project), stored.filename)
                body = self._provenance.get(key, (None, None))[1]
            body = stored.provenance if body is None else body
            return _Response(200, body, [("Content-Type", "application/json")])
        return self._file(method, path, headers)

    def _redirect(self, location: str) -> _Response:
        return _text(301, "Moved Permanently", [("Location", self.url + location)])

    # -- request handling --------------------------------------------------------------
    def _handle(self, h: _Handler) -> None:
        method = h.command
        split = urlsplit(h.path)
        path, query = split.path, split.query
        headers = {k.lower(): v for k, v in h.headers.items()}
        length = int(headers.get("content-length") or 0)
        body = h.rfile.read(length) if length > 0 else b""
        record = RequestRecord(method, path, query, headers)
        self.requests._append(record)
        if self.credentials is not None and not self._authorized(path, headers):
            record.fault = "unauthorized"
            challenge = [("WWW-Authenticate", 'Basic realm="fakepypi"')]
            self._send(h, record, _text(401, "Unauthorized", challenge))
            return

        delay, rule = self._take_rules(path)
        if delay:
            record.fault = "slow"
            time.sleep(delay)
        if rule is not None:
            record.fault = rule.kind
            if rule.kind == "drop":
                h.close_connection = True
                return
            if rule.kind == "fail":
                self._send(h, record, _text(rule.status, f"fakepypi: injected {rule.status}"))
                return
            if rule.kind == "http_429":
                self._send(
                    h,
                    record,
                    _text(429, "Too Many Requests", [("Retry-After", str(rule.retry_after))]),
                )
                return
            if rule.kind == "redirect":
                location = [("Location", rule.location)]
                self._send(h, record, _text(rule.status, "fakepypi: injected redirect", location))
                return
        try:
            resp = self._route(method, path, query, headers, body, record)
        except Exception:  # report instead of killing the thread
            self.errors.append(traceback.format_exc())
            resp = _text(500, "fakepypi internal error")
        self._send(h, record, resp, rule)

    def _authorized(self, path: str, headers: dict[str, str]) -> bool:
        """Files are served to anyone (like a CDN); the index only with the credentials."""
        if self.credentials is None or not path.startswith(("/pypi", "/simple")):
            return True
        token = base64.b64encode(":".join(self.credentials).encode()).decode()
        return headers.get("authorization") == f"Basic {token}"

    def _send(
        self, h: _Handler, record: RequestRecord, resp: _Response, rule: _Rule | None = None
    ) -> None:
        kind = rule.kind if rule is not None else None
        record.status = resp.status
        h.send_response(resp.status)
        for key, value in resp.headers:
            h.send_header(key, value)
        h.send_header("Content-Length", str(len(resp.body)))
        if kind == "truncate":
            h.send_header("Connection", "close")
        h.end_headers()
        if h.command != "HEAD":
            if kind == "truncate":
                h.wfile.write(resp.body[: len(resp.body) // 2])
            elif kind == "trickle":
                assert rule is not None
                h.wfile.flush()
                for i in range(len(resp.body)):
                    if self._httpd is None:  # stopped: give up the connection
                        h.close_connection = True
                        return
                    time.sleep(rule.seconds)
                    h.wfile.write(resp.body[i : i + 1])
                    h.wfile.flush()
            elif kind == "overlong":
                assert rule is not None
                h.wfile.write(resp.body + rule.extra)
            else:
                h.wfile.write(resp.body)
        h.wfile.flush()
        if kind == "truncate":
            h.close_connection = True


def serve(universe: Universe | None = None, **kwargs: Any) -> FakePyPI:
    """Start a FakePyPI around `universe` (caller must `stop()` it)."""
    return FakePyPI(universe, **kwargs).start()


__all__ = ["INVALID_NAMES", "FakePyPI", "RequestLog", "RequestRecord", "serve"]
