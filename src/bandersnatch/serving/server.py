"""The HTTP server behind ``bandersnatch serve``: ``web/`` read-only, one thread per
connection (stdlib ``ThreadingHTTPServer``), HTTP/1.1 with keep-alive.

Pages are negotiated (``negotiation``) among the representations that exist on disk and
always carry ``Vary: Accept``; files are streamed with ``sendfile`` and answer ``HEAD``,
single ``Range`` requests and conditional requests (``ETag``, ``Last-Modified``). Every
answer is handed to an access-log sink as an ``Access`` record.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .. import __version__
from ..layout import HTML_LEAVES
from ..simple.formats import PAGE_LEAVES
from . import files, negotiation, routes

log = logging.getLogger(__name__)


def _leaves(content_type: str) -> tuple[str, ...]:
    """The files that can answer for a content type: the two HTML names hold the same
    page, so either serves both HTML types (a mirror may lack one of them)."""
    leaf = PAGE_LEAVES[content_type]
    if leaf not in HTML_LEAVES:
        return (leaf,)
    return (leaf, *(other for other in HTML_LEAVES if other != leaf))


_LEAVES = {ctype: _leaves(ctype) for ctype in PAGE_LEAVES}
_TAGS = {ctype: f"-{i}" for i, ctype in enumerate(negotiation.CONTENT_TYPES)}


def _escape(text: str) -> str:
    """A log field with quotes, backslashes and non-printable characters as ``\\xHH``."""
    return "".join(c if " " <= c < "\x7f" and c not in '"\\' else f"\\x{ord(c):02x}" for c in text)


@dataclass(frozen=True)
class Access:
    """One answered request, as the access log records it."""

    client: str
    time: float
    request: str
    status: int
    size: int
    referer: str | None = None
    user_agent: str | None = None
    content_type: str | None = None

    def line(self) -> str:
        """Common Log Format, then referer and user agent (the Combined Log Format), then
        the Content-Type sent (``contrib/nginx/bandersnatch.conf`` logs the same)."""
        when = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(self.time))
        size = str(self.size) if self.size else "-"
        extra = (self.referer, self.user_agent, self.content_type)
        quoted = " ".join(f'"{_escape(v or "-")}"' for v in extra)
        return f'{self.client} - - [{when}] "{_escape(self.request)}" {self.status} {size} {quoted}'


AccessLog = Callable[[Access], None]


class MirrorHTTPServer(ThreadingHTTPServer):
    """Serves ``web`` (a mirror's ``web/`` directory) on ``address``."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        web: str,
        *,
        hash_index: bool,
        access_log: AccessLog,
        handler: type[RequestHandler] | None = None,
    ) -> None:
        handler = handler or RequestHandler
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.web = os.path.abspath(web)
        self.hash_index = hash_index
        self.access_log = access_log
        super().__init__(address, handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-answer is normal; anything else is logged."""
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            log.error("serving %s failed: %r", client_address, error, exc_info=True)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), int(self.server_address[1])
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@dataclass
class Answer:
    """What to send: status, headers, and an open file (the part ``span`` of it) or a body."""

    status: int
    headers: dict[str, str]
    file: files.Opened | None = None
    span: tuple[int, int] | None = None
    body: bytes = b""


class RequestHandler(BaseHTTPRequestHandler):
    """Answers one connection's requests; ``answer`` decides, ``send`` sends."""

    server: MirrorHTTPServer
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle kept-alive connection frees its thread after a minute

    def version_string(self) -> str:
        return f"bandersnatch/{__version__}"

    def do_GET(self) -> None:
        self.send(self.answer())

    def do_HEAD(self) -> None:
        self.send(self.answer())

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Only reached for errors the base class answers itself (a malformed request line,
        an unknown method); our own answers are logged once their body is sent."""
        self._log(int(code) if str(code).isdigit() else 0, 0, None)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s: %s", self.address_string(), format % args)

    def _log(self, status: int, size: int, content_type: str | None) -> None:
        headers = getattr(self, "headers", None)
        access = Access(
            self.client_address[0],
            time.time(),
            getattr(self, "requestline", ""),
            status,
            size,
            headers.get("Referer") if headers else None,
            headers.get("User-Agent") if headers else None,
            content_type,
        )
        self.server.access_log(access)

    def answer(self) -> Answer:
        """What to answer this request with."""
        where = routes.route(self.path, self.server.hash_index)
        if isinstance(where, routes.Redirect):
            return Answer(301, {"Location": where.location}, body=b"moved\n")
        if isinstance(where, routes.Pages):
            return self.page(where)
        if isinstance(where, routes.File):
            opened = files.open_inside(self.server.web, where.path)
            if opened is not None:
                return self.file(opened, {"Content-Type": where.content_type})
        return Answer(404, {}, body=b"not found\n")

    def page(self, pages: routes.Pages) -> Answer:
        """The negotiated page of a page directory (404 if none, 406 if none fits)."""
        for ctype in self.preferences(pages.format):
            for leaf in _LEAVES[ctype]:
                rel = f"{pages.directory}/{leaf}"
                opened = files.open_inside(self.server.web, rel, _TAGS[ctype])
                if opened is not None:
                    return self.file(opened, {"Content-Type": ctype, "Vary": "Accept"})
        if not any(self._exists(f"{pages.directory}/{leaf}") for leaf in PAGE_LEAVES.values()):
            return Answer(404, {}, body=b"not found\n")
        return Answer(406, {"Vary": "Accept"}, body=b"none of the accepted types is here\n")

    def preferences(self, format_param: str | None) -> list[str]:
        """The page types to try, best first (``negotiation.preferences``)."""
        return negotiation.preferences(self.headers.get("Accept"), format_param)

    def _exists(self, rel: str) -> bool:
        opened = files.open_inside(self.server.web, rel)
        if opened is not None:
            os.close(opened.fd)
        return opened is not None

    def file(self, opened: files.Opened, headers: dict[str, str]) -> Answer:
        """An open file as a whole, a range, 304 or 416."""
        headers.update(
            {"ETag": opened.etag, "Last-Modified": opened.last_modified, "Accept-Ranges": "bytes"}
        )
        h = self.headers
        if files.not_modified(opened, h.get("If-None-Match"), h.get("If-Modified-Since")):
            os.close(opened.fd)
            headers.pop("Content-Type")
            return Answer(304, headers)
        span = files.byte_range(h.get("Range"), h.get("If-Range"), opened)
        if span == files.UNSATISFIABLE:
            os.close(opened.fd)
            return Answer(416, {"Content-Range": f"bytes */{opened.size}"}, body=b"")
        if isinstance(span, tuple):
            headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{opened.size}"
            return Answer(206, headers, opened, span)
        return Answer(200, headers, opened, (0, opened.size - 1))

    def send(self, answer: Answer) -> None:
        """Send, close the file, log."""
        if answer.file is None and answer.status != 304:
            answer.headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        try:
            sent = self._send(answer)
        finally:
            if answer.file is not None:
                os.close(answer.file.fd)
        self._log(answer.status, sent, answer.headers.get("Content-Type"))

    def _send(self, answer: Answer) -> int:
        """Send the answer; returns the number of body bytes sent."""
        headers = dict(answer.headers)
        length = len(answer.body)
        if answer.span is not None:
            length = answer.span[1] - answer.span[0] + 1
        if answer.status != 304:
            headers["Content-Length"] = str(length)
        self.send_response_only(answer.status)
        self.send_header("Server", self.version_string())
        self.send_header("Date", self.date_time_string())
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command == "HEAD" or answer.status == 304 or length == 0:
            return 0
        if answer.file is None:
            self.wfile.write(answer.body)
            return length
        offset = answer.span[0] if answer.span else 0
        with os.fdopen(os.dup(answer.file.fd), "rb") as stream:
            sent: int = self.connection.sendfile(stream, offset, length)
        return sent
