"""Sessions read the environment once; retries back off and give up."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import requests

from bandersnatch.upstream.session import (
    RetryableError,
    RetryPolicy,
    SessionFactory,
    open_stream,
)


def test_config_proxy_wins_and_env_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp.pem")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    from_env = SessionFactory(5, None, "https://pypi.org").new()
    assert from_env.proxies["https"] == "http://env-proxy:3128"
    assert from_env.verify == "/etc/ssl/corp.pem"
    assert from_env.trust_env is False
    configured = SessionFactory(5, "http://cfg:8080", "https://pypi.org").new()
    assert configured.proxies == {"http": "http://cfg:8080", "https": "http://cfg:8080"}


def test_no_proxy_for_the_master_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://env-proxy:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    assert SessionFactory(5, None, "http://127.0.0.1:8000").new().proxies == {}


def test_one_session_per_thread() -> None:
    factory = SessionFactory(5)
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(factory.get())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(s) for s in seen}) == 3
    assert factory.get() is factory.get()
    factory.close()


def test_retry_policy_retries_then_gives_up() -> None:
    calls = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) < 3:
            raise RetryableError("u", "HTTP 503")
        return 7

    assert RetryPolicy(retries=2, backoff=0.001).run("x", flaky) == 7
    calls.clear()
    with pytest.raises(RetryableError):
        RetryPolicy(retries=1, backoff=0.001).run("x", flaky)
    assert len(calls) == 2


def test_retry_after_is_honoured_but_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("bandersnatch.upstream.session.time.sleep", slept.append)
    calls = []

    def limited() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RetryableError("u", "HTTP 429", retry_after=7)
        if len(calls) == 2:
            raise RetryableError("u", "HTTP 503", retry_after=3600)
        return "ok"

    assert RetryPolicy(retries=3, backoff=0.001, max_wait=60).run("x", limited) == "ok"
    assert slept[0] == 7
    assert slept[1] == 60


class _Origin(ThreadingHTTPServer):
    """Serves /file (BODY), /big (4 MiB) and /moved (a redirect to /file); records each
    request line and the client port it came from."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _OriginHandler)
        self.seen: list[tuple[str, int]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


BODY = b"x" * 100_000


class _OriginHandler(BaseHTTPRequestHandler):
    server: _Origin
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append((self.requestline, self.client_address[1]))
        path = urlsplit(self.path).path
        if path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/file")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = {"/file": BODY, "/big": b"y" * (4 << 20)}.get(path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        with contextlib.suppress(ConnectionError):
            self.wfile.write(body or b"")


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


def test_streams_reuse_one_connection_and_send_origin_form(origin: _Origin) -> None:
    session = SessionFactory(5).new()
    assert _read(session, origin.url + "/file") == BODY
    assert _read(session, origin.url + "/file?x=1") == BODY
    assert [line for line, _ in origin.seen] == ["GET /file HTTP/1.1", "GET /file?x=1 HTTP/1.1"]
    assert len({port for _, port in origin.seen}) == 1


def test_a_redirect_is_followed(origin: _Origin) -> None:
    session = SessionFactory(5).new()
    assert _read(session, origin.url + "/moved") == BODY
    assert [line.split()[1] for line, _ in origin.seen][-1] == "/file"


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
