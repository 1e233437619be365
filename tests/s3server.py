"""A real S3 API server on 127.0.0.1 (moto in server mode, in a thread of the test process),
reached through boto3 over HTTP like any S3-compatible store, and helpers to read a bucket
back and count the writes a run made."""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

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
