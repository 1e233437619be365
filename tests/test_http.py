"""The one transport every upstream request takes (``upstream.http``): connection reuse,
redirects within the host policy, a deadline enforced while a body trickles in, decoded
sizes capped, and the host policy itself."""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import requests

from bandersnatch.errors import RetryableError, UpstreamError
from bandersnatch.upstream.http import open_stream
from bandersnatch.upstream.policy import HostPolicy
from bandersnatch.upstream.session import SessionFactory

BODY = b"x" * 100_000
BOMB = gzip.compress(b"\0" * (64 << 20))  # 64 MiB of zeros in about 64 KiB


class _Origin(ThreadingHTTPServer):
    """Serves /file, /big (4 MiB), /small.gz (/file, gzip), /bomb (gzip), /trickle (a byte
    every 0.2 s), /moved
    (-> /file) and /away (-> another port); records each request line and client port."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _OriginHandler)
        self.seen: list[tuple[str, int]] = []
        self.elsewhere = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _OriginHandler(BaseHTTPRequestHandler):
    server: _Origin
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _head(self, status: int, length: int, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()

    def do_GET(self) -> None:
        self.server.seen.append((self.requestline, self.client_address[1]))
        path = urlsplit(self.path).path
        with contextlib.suppress(ConnectionError):
            if path in ("/moved", "/away"):
                where = "/file" if path == "/moved" else self.server.elsewhere + "/file"
                self._head(302, 0, Location=where)
            elif path == "/trickle":
                self._head(200, 1000)
                for _ in range(1000):
                    self.wfile.write(b"t")
                    self.wfile.flush()
                    time.sleep(0.2)
            elif path == "/small.gz":
                packed = gzip.compress(BODY)
                self._head(200, len(packed), Content_Encoding="gzip")
                self.wfile.write(packed)
            elif path == "/bomb":
                self._head(200, len(BOMB), Content_Encoding="gzip")
                self.wfile.write(BOMB)
            else:
                body = {"/file": BODY, "/big": b"y" * (4 << 20)}.get(path, b"")
                self._head(200 if body else 404, len(body))
                self.wfile.write(body)


@pytest.fixture
def origin() -> Iterator[_Origin]:
    server = _Origin()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    yield server
    server.shutdown()
    server.server_close()


def _read(session: requests.Session, url: str) -> bytes:
    with open_stream(session, url, 5) as body:
        return b"".join(body.chunks(64 * 1024))


def _policy(*urls: str) -> HostPolicy:
    return HostPolicy.build(urls[0], urls[1:], file_hosts=(), allow_http=True)


def test_streams_reuse_one_connection_and_send_origin_form(origin: _Origin) -> None:
    session = SessionFactory(5).new()
    assert _read(session, origin.url + "/file") == BODY
    assert _read(session, origin.url + "/file?x=1") == BODY
    assert [line for line, _ in origin.seen] == ["GET /file HTTP/1.1", "GET /file?x=1 HTTP/1.1"]
    assert len({port for _, port in origin.seen}) == 1


def test_a_redirect_within_the_policy_is_followed(origin: _Origin) -> None:
    session = SessionFactory(5, policy=_policy(origin.url)).new()
    assert _read(session, origin.url + "/moved") == BODY
    assert [line.split()[1] for line, _ in origin.seen] == ["/moved", "/file"]


def test_a_redirect_to_a_host_outside_the_policy_is_refused(origin: _Origin) -> None:
    other = _Origin()
    threading.Thread(target=other.serve_forever, kwargs={"poll_interval": 0.05}).start()
    try:
        origin.elsewhere = other.url
        session = SessionFactory(5, policy=_policy(origin.url)).new()
        with pytest.raises(UpstreamError, match="is not the master"):
            _read(session, origin.url + "/away")
        assert other.seen == []  # nothing was asked of the other host
        allowed = SessionFactory(5, policy=_policy(origin.url, other.url)).new()
        assert _read(allowed, origin.url + "/away") == BODY
    finally:
        other.shutdown()
        other.server_close()


def test_a_url_outside_the_policy_is_never_requested(origin: _Origin) -> None:
    session = SessionFactory(5, policy=_policy("http://127.0.0.1:9")).new()
    with pytest.raises(UpstreamError, match="refused"):
        _read(session, origin.url + "/file")
    assert origin.seen == []


def test_a_trickling_body_is_cut_off_at_the_deadline(origin: _Origin) -> None:
    session = SessionFactory(5).new()
    started = time.monotonic()
    with (
        pytest.raises(RetryableError, match="global-timeout"),
        open_stream(session, origin.url + "/trickle", 5, deadline=1.0) as body,
    ):
        b"".join(body.chunks(64 * 1024))
    assert time.monotonic() - started < 3


def test_a_compressed_body_is_capped_by_its_decoded_size(origin: _Origin) -> None:
    session = SessionFactory(5).new()
    with (
        pytest.raises(UpstreamError, match="larger than 1048576 bytes"),
        open_stream(session, origin.url + "/bomb", 5) as body,
    ):
        body.read(1 << 20)


def test_an_abandoned_body_never_spoils_the_next_request(origin: _Origin) -> None:
    session = SessionFactory(5).new()
    with open_stream(session, origin.url + "/big", 5) as body:
        next(body.chunks(1024))
    assert _read(session, origin.url + "/file") == BODY
    assert len({port for _, port in origin.seen}) == 2  # the first connection was dropped


def test_through_a_proxy_requests_does_the_work(origin: _Origin) -> None:
    session = SessionFactory(5, proxy=origin.url).new()  # the origin plays the proxy
    assert _read(session, "http://files.invalid/file") == BODY
    assert origin.seen[-1][0] == "GET http://files.invalid/file HTTP/1.1"  # absolute-form


def test_http_errors_and_a_dead_host_are_classified(origin: _Origin) -> None:
    session = SessionFactory(5).new()
    with open_stream(session, origin.url + "/missing", 5) as body:
        assert body.status_code == 404
    with pytest.raises(RetryableError):
        open_stream(session, "http://127.0.0.1:9/file", 5)


# -- the policy on its own ------------------------------------------------------------------


def _resolver(table: dict[str, str]) -> object:
    return lambda host, port: [table[host]] if host in table else []


PUBLIC = {"pypi.org": "151.101.0.223", "files.pythonhosted.org": "151.101.1.63"}


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("https://files.pythonhosted.org/packages/a/b/c/f.whl", None),
        ("https://pypi.org/simple/x/", None),
        ("http://files.pythonhosted.org/packages/f.whl", "plain http"),
        ("https://files.pythonhosted.org:8443/packages/f.whl", "is not the master"),
        ("https://evil.example/packages/f.whl", "is not the master"),
        ("https://mirror.corp/packages/f.whl", "private or loopback"),
        ("ftp://files.pythonhosted.org/f.whl", "not an absolute http(s) URL"),
        ("https://[::1/", "not an absolute http(s) URL"),
    ],
)
def test_the_policy_of_a_public_master(url: str, refused: str | None) -> None:
    table = {**PUBLIC, "mirror.corp": "10.1.2.3"}
    policy = HostPolicy.build(
        "https://pypi.org",
        file_hosts=(("files.pythonhosted.org", None), ("mirror.corp", None)),
        resolver=_resolver(table),  # type: ignore[arg-type]
    )
    why = policy.refusal(url)
    assert (why is None) if refused is None else (why is not None and refused in why)


def test_a_local_master_may_use_local_addresses() -> None:
    policy = HostPolicy.build("http://127.0.0.1:8000", allow_http=True, file_hosts=())
    assert policy.allow_private
    assert policy.refusal("http://127.0.0.1:8000/packages/f") is None
    assert policy.refusal("http://127.0.0.1:8001/packages/f") is not None


def test_credentials_in_a_url_never_reach_an_error_message(origin: _Origin) -> None:
    session = SessionFactory(5).new()
    secret = "http://alice:s3cret@127.0.0.1:9/pypi"
    with pytest.raises(UpstreamError) as info:
        open_stream(session, secret, 5)
    assert "s3cret" not in str(info.value)
    assert "alice" not in str(info.value)
    assert info.value.url == "http://***@127.0.0.1:9/pypi"


def _views(session: requests.Session, url: str, size: int = 64 * 1024) -> bytes:
    with open_stream(session, url, 5) as body:
        return b"".join(bytes(view) for view in body.views(bytearray(size)))


def test_views_read_a_plain_body_into_the_buffer_and_keep_the_connection(
    origin: _Origin,
) -> None:
    session = SessionFactory(5).new()
    assert _views(session, origin.url + "/file", 4096) == BODY
    assert _views(session, origin.url + "/big") == b"y" * (4 << 20)
    assert _read(session, origin.url + "/file") == BODY  # the connection is still usable
    assert len({port for _, port in origin.seen}) == 1


def test_views_decode_a_compressed_body(origin: _Origin) -> None:
    assert _views(SessionFactory(5).new(), origin.url + "/small.gz") == BODY


def test_views_cut_a_trickling_body_off_at_the_deadline(origin: _Origin) -> None:
    session = SessionFactory(5).new()
    started = time.monotonic()
    with (
        pytest.raises(RetryableError, match="global-timeout"),
        open_stream(session, origin.url + "/trickle", 5, deadline=1.0) as body,
    ):
        for _ in body.views(bytearray(1 << 20)):
            pass
    assert time.monotonic() - started < 3
