"""Serve a mirror's ``web/`` directory the way SPEC 3.2 asks of a real server (tests only).

PEP 691 negotiation with q-values on ``/simple/`` and ``/simple/<name>/`` (``Vary: Accept``,
406 when nothing is acceptable), ``/simple/<name>`` redirects to ``/simple/<name>/``, files
with ``HEAD`` and single-range ``Range`` support, 404 for anything else or outside ``web/``.
Every request is logged in ``server.log``.

    with MirrorServer(mirror.web) as server:
        pip install --index-url {server.url}/simple/ ...
"""

from __future__ import annotations

import re
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name

JSON = "application/vnd.pypi.simple.v1+json"
V1_HTML = "application/vnd.pypi.simple.v1+html"
HTML = "text/html"
# Tie-break order for equal q-values: plain HTML first (what `*/*` or no Accept should get).
PAGES = {HTML: "index.html", V1_HTML: "index.v1_html", JSON: "index.v1_json"}
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@dataclass(frozen=True)
class Served:
    """One request: what was asked and what was answered (file = the file sent, if any)."""

    method: str
    path: str
    status: int
    accept: str | None = None
    range: str | None = None
    content_type: str | None = None
    file: Path | None = None


def negotiate(accept: str | None) -> str | None:
    """The content type to serve for an Accept header (most specific range wins), or None."""
    ranges: list[tuple[str, float]] = []
    for item in (accept or "*/*").split(","):
        media, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranges.append((media.lower().replace(".latest+", ".v1+"), q))
    best, best_q = None, 0.0
    for ctype in PAGES:
        major = ctype.split("/")[0] + "/*"
        matches = [(m == ctype, m == major, q) for m, q in ranges if m in (ctype, major, "*/*")]
        q = max(matches)[2] if matches else 0.0
        if q > best_q:
            best, best_q = ctype, q
    return best


class MirrorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, web: Path, *, hash_index: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.web, self.hash_index = web.resolve(), hash_index
        self.log: list[Served] = []
        self.errors: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> MirrorServer:
        kwargs = {"poll_interval": 0.05}
        threading.Thread(target=self.serve_forever, kwargs=kwargs, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients may hang up
            self.errors.append(repr(sys.exc_info()[1]))


Response = tuple[int, dict[str, str], Path | None, tuple[int, int] | None]


class _Handler(BaseHTTPRequestHandler):
    server: MirrorServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._send(*self._route())

    def do_HEAD(self) -> None:
        self._send(*self._route())

    def _send(
        self, status: int, headers: dict[str, str], file: Path | None, span: tuple[int, int] | None
    ) -> None:
        data = b"" if file is None else file.read_bytes()
        if span is not None:
            data = data[span[0] : span[1] + 1]
        record = Served(
            self.command,
            self.path,
            status,
            self.headers.get("Accept"),
            self.headers.get("Range"),
            headers.get("Content-Type"),
            file,
        )
        self.server.log.append(record)
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(data))}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(data)

    def _route(self) -> Response:
        raw = urlsplit(self.path).path
        parts = [p for p in unquote(raw).split("/") if p]
        web = self.server.web
        if any(p in (".", "..") or "\0" in p or "\\" in p for p in parts):
            return 404, {}, None, None
        if parts[:1] == ["simple"] and len(parts) <= 2:
            return self._page(raw, parts[1] if len(parts) == 2 else None)
        path = web.joinpath(*parts).resolve()
        if not path.is_relative_to(web) or not path.is_file():
            return 404, {}, None, None
        size = path.stat().st_size
        ctype = {v: k for k, v in PAGES.items()}.get(path.name, "application/octet-stream")
        headers = {"Content-Type": ctype, "Accept-Ranges": "bytes"}
        match = _RANGE.fullmatch((self.headers.get("Range") or "").replace(" ", ""))
        first, last = match.group(1, 2) if match else ("", "")
        if (not first and not last) or (first and last and int(last) < int(first)):
            return 200, headers, path, None  # no (valid single) range: the whole file
        start = int(first) if first else max(0, size - int(last))
        end = min(int(last), size - 1) if first and last else size - 1
        if start >= size or (not first and int(last) == 0):
            return 416, {"Content-Range": f"bytes */{size}"}, None, None
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return 206, headers, path, (start, end)

    def _page(self, raw: str, name: str | None) -> Response:
        if name is not None and name != canonicalize_name(name):
            return 301, {"Location": f"/simple/{canonicalize_name(name)}/"}, None, None
        where = self.server.web / "simple"
        if name is not None:
            where = where / name[0] / name if self.server.hash_index else where / name
        if not (where / "index.html").is_file():
            return 404, {}, None, None
        if not raw.endswith("/"):
            return 301, {"Location": raw + "/"}, None, None
        ctype = negotiate(self.headers.get("Accept"))
        if ctype is None:
            return 406, {"Vary": "Accept"}, None, None
        page = where / PAGES[ctype]
        if not page.is_file():
            return 404, {}, None, None
        return 200, {"Content-Type": ctype, "Vary": "Accept"}, page, None
