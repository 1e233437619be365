"""A real S3 API server on 127.0.0.1 (moto in server mode, in a thread of the test process),
reached through boto3 over HTTP like any S3-compatible store, and helpers to read a bucket
back and count the writes a run made."""

from __future__ import annotations

import http.client
import logging
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import boto3
from moto.server import ThreadedMotoServer

from harness import Mirror

KEY_ID, SECRET, REGION = "testing-key", "testing-secret", "us-east-1"
_WRITES = ("PUT", "POST", "DELETE")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RequestLog(logging.Handler):
    """Every request line the server logs ("PUT /bucket/key HTTP/1.1"), as (method, path)."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        logging.Handler.__init__(self, logging.INFO)

    def emit(self, record: logging.LogRecord) -> None:
        text = _ANSI.sub("", record.getMessage())
        if '"' not in text:
            return
        request = text.split('"')[1].split()
        if len(request) >= 2:
            with self._guard:
                self.lines.append((request[0], request[1]))

    def clear(self) -> None:
        with self._guard:
            self.lines.clear()

    def writes(self) -> list[tuple[str, str]]:
        with self._guard:
            return [(m, p) for m, p in self.lines if m in _WRITES]

    __hash__ = logging.Handler.__hash__


class S3Server:
    """moto's server on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=True)
        self.log = RequestLog()

    def __enter__(self) -> S3Server:
        logger = logging.getLogger("werkzeug")
        logger.setLevel(logging.INFO)
        logger.addHandler(self.log)
        self._server.start()
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            region_name=REGION,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()
        logging.getLogger("werkzeug").removeHandler(self.log)

    def bucket(self, name: str) -> str:
        self.client.create_bucket(Bucket=name)
        return name

    def section(self) -> str:
        """The ``[s3]`` section of a config that uses this server."""
        return (
            "\n[s3]\n"
            f"endpoint_url = {self.endpoint}\n"
            f"region_name = {REGION}\n"
            f"aws_access_key_id = {KEY_ID}\n"
            f"aws_secret_access_key = {SECRET}\n"
        )

    def keys(self, bucket: str, prefix: str = "") -> dict[str, Any]:
        """Every object below ``prefix``: relative key -> the listing's entry."""
        found: dict[str, Any] = {}
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", ()):
                found[item["Key"][len(prefix) :]] = item
        return found

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.client.head_object(Bucket=bucket, Key=key)
        except self.client.exceptions.ClientError:
            return False
        return True

    def read(self, bucket: str, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def contents(self, bucket: str, prefix: str = "") -> Iterator[tuple[str, bytes]]:
        for rel in sorted(self.keys(bucket, prefix)):
            yield rel, self.read(bucket, prefix + rel)


def s3_mirror(mirror: Mirror, server: S3Server, bucket: str, prefix: str = "mirror") -> Mirror:
    """Turn a filesystem mirror's config into one of a mirror in ``bucket``/``prefix``."""
    text = mirror.config.read_text()
    text = text.replace(f"directory = {mirror.directory}\n", f"directory = /{bucket}/{prefix}\n")
    text = text.replace("[mirror]\n", "[mirror]\nstorage-backend = s3\n", 1)
    mirror.config.write_text(text + server.section())
    return mirror


class _WebsiteHandler(BaseHTTPRequestHandler):
    """What a static website endpoint of an object store does with a request: the path is a
    key below the site's root; a path ending in ``/`` gets the index document; a path whose
    ``/``-form has one is redirected there; the object's bytes with its stored Content-Type,
    ``Range`` honoured; ``Accept`` ignored (no negotiation, no ``Vary``), names not
    normalized."""

    server: _Website

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, *, body: bool) -> None:
        site = self.server
        path = self.path.split("?", 1)[0]
        key = site.root + unquote(path).lstrip("/")
        if path.endswith("/"):
            key += site.index
        extra = {"Range": self.headers["Range"]} if self.headers.get("Range") else {}
        try:
            got = site.client.get_object(Bucket=site.bucket, Key=key, **extra)
        except site.client.exceptions.NoSuchKey:
            if not path.endswith("/") and site.exists(key + "/" + site.index):
                self.send_response(302)
                self.send_header("Location", path + "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_error(404)
            return
        data = got["Body"].read()
        self.send_response(206 if "ContentRange" in got else 200)
        self.send_header("Content-Type", got["ContentType"])
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", got["ETag"])
        self.send_header("Accept-Ranges", "bytes")
        if "ContentRange" in got:
            self.send_header("Content-Range", got["ContentRange"])
        self.end_headers()
        if body:
            self.wfile.write(data)


class _Website(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, client: Any, bucket: str, root: str, index: str) -> None:
        super().__init__(("127.0.0.1", 0), _WebsiteHandler)
        self.client, self.bucket, self.root, self.index = client, bucket, root, index

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception:
            return False
        return True


@contextmanager
def website(server: S3Server, bucket: str, root: str, index: str) -> Iterator[str]:
    """Serve ``bucket``/``root`` as a static website with index document ``index``; yields
    the site's base URL."""
    site = _Website(server.client, bucket, root, index)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}"
    finally:
        site.shutdown()
        site.server_close()
        thread.join()


class _ForgetfulHandler(BaseHTTPRequestHandler):
    """Forwards each request to the real server without its ``If-None-Match`` and
    ``If-Match`` headers: a store that ignores conditional writes."""

    server: _Forgetful
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        dropped = ("if-none-match", "if-match", "connection")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in dropped}
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.target, timeout=30)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status)
        skip = ("transfer-encoding", "connection", "content-length", "server", "date")
        for name, value in answer.getheaders():
            if name.lower() not in skip:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward  # noqa: N815


class _Forgetful(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, target: int) -> None:
        super().__init__(("127.0.0.1", 0), _ForgetfulHandler)
        self.target = target


@contextmanager
def without_conditional_writes(server: S3Server) -> Iterator[str]:
    """An endpoint URL for ``server`` as a store that ignores conditional writes."""
    proxy = _Forgetful(server.port)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{proxy.server_address[1]}"
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join()
