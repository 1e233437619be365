"""The HTTP client ``check-server`` looks at a served mirror with (stdlib ``http.client``).

Requests carry exactly the headers given (no content decoding, no proxies); redirects are
followed by hand, up to five, and recorded; identical requests are sent once.
"""

from __future__ import annotations

import base64
import http.client
import ssl
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit

from .. import __version__

USER_AGENT = f"bandersnatch-check-server/{__version__}"
_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_HOPS = 5
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Response:
    url: str
    """The URL that answered (after redirects)."""
    status: int | None
    """None when no HTTP answer came (``error`` says why)."""
    headers: dict[str, str] = field(default_factory=dict)
    """Lowercased names; a repeated header's values joined with ``", "``."""
    body: bytes = b""
    redirects: tuple[tuple[int, str], ...] = ()
    error: str | None = None

    @property
    def content_type(self) -> str:
        """The bare, lowercased media type (``""`` when absent)."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def vary(self) -> set[str]:
        return {v.strip().lower() for v in self.headers.get("vary", "").split(",") if v.strip()}


class Fetcher:
    def __init__(self, timeout: float = 15.0, max_body: int = 256 << 20) -> None:
        self.timeout = timeout
        self.max_body = max_body
        self._seen: dict[tuple[str, str, tuple[tuple[str, str], ...]], Response] = {}

    def fetch(
        self, url: str, headers: dict[str, str] | None = None, method: str = "GET"
    ) -> Response:
        key = (method, url, tuple(sorted((headers or {}).items())))
        if key not in self._seen:
            self._seen[key] = self._follow(url, headers or {}, method)
        return self._seen[key]

    def _follow(self, url: str, headers: dict[str, str], method: str) -> Response:
        hops: list[tuple[int, str]] = []
        for _ in range(_MAX_HOPS + 1):
            answer = self._once(url, headers, method)
            location = answer.headers.get("location")
            if answer.status not in _REDIRECTS or not location:
                return Response(answer.url, answer.status, answer.headers, answer.body,
                                tuple(hops), answer.error)  # fmt: skip
            assert answer.status is not None
            url = urljoin(url, location)
            hops.append((answer.status, url))
        return Response(url, None, redirects=tuple(hops), error="too many redirects")

    def _once(self, url: str, headers: dict[str, str], method: str) -> Response:
        parts = urlsplit(url)
        send = {"User-Agent": USER_AGENT, **headers}
        if parts.username is not None:
            user = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            send["Authorization"] = "Basic " + base64.b64encode(user.encode()).decode()
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn: http.client.HTTPConnection
        host, port = parts.hostname or "", parts.port
        if parts.scheme == "https":
            context = ssl.create_default_context()
            conn = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        try:
            conn.request(method, target, headers=send)
            resp = conn.getresponse()
            found: dict[str, str] = {}
            for name, value in resp.getheaders():
                key = name.lower()
                found[key] = f"{found[key]}, {value}" if key in found else value
            body = b"" if method == "HEAD" else self._read(resp)
            return Response(url, resp.status, found, body)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return Response(url, None, error=str(exc) or type(exc).__name__)
        finally:
            conn.close()

    def _read(self, resp: http.client.HTTPResponse) -> bytes:
        chunks, total = [], 0
        while chunk := resp.read(_CHUNK):
            total += len(chunk)
            if total > self.max_body:
                raise ValueError(f"body larger than {self.max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
