"""``bandersnatch serve``: serve the mirror's ``web/`` directory over HTTP. Wiring only.

Read-only: it takes no lock and never writes below the mirror directory, so it runs beside
``mirror`` runs. It stops on SIGINT or SIGTERM (``ServerStopped``).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, TextIO

from ..config import Config
from ..errors import ServeError, ServerStopped, UsageError
from ..layout import WEB
from ..serving.server import Access, AccessLog, MirrorHTTPServer

log = logging.getLogger(__name__)


@contextmanager
def access_log(path: Path | None) -> Iterator[AccessLog]:
    """A sink writing one line per request to ``path`` (appended) or to stderr."""
    lock = threading.Lock()
    stream: TextIO
    try:
        stream = sys.stderr if path is None else path.open("a", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--access-log {path}", exc.strerror or str(exc)) from exc

    def write(access: Access) -> None:
        with lock:
            stream.write(access.line() + "\n")
            stream.flush()

    try:
        yield write
    finally:
        if stream is not sys.stderr:
            stream.close()


def run(
    config: Config, bind: str, port: int, log_path: Path | None, stop: threading.Event
) -> NoReturn:
    """Serve until ``stop`` is set, then raise ``ServerStopped``."""
    if config.mirror.storage_backend != "filesystem":
        raise UsageError(
            f"storage-backend = {config.mirror.storage_backend}",
            "serve reads a mirror on the local filesystem; serve a mirror in object storage "
            "with the store's static website hosting or a CDN in front of the bucket "
            "(docs/storage.md, 'Serving from object storage')",
        )
    web = config.mirror.directory / WEB
    if not web.is_dir():
        raise UsageError(str(web), "no such directory: run bandersnatch mirror first")
    with access_log(log_path) as sink:
        try:
            server = MirrorHTTPServer(
                (bind, port), str(web), hash_index=config.mirror.hash_index, access_log=sink
            )
        except OSError as exc:
            raise ServeError(f"{bind}:{port}", exc.strerror or str(exc)) from exc
        thread = threading.Thread(target=server.serve_forever, name="serve", daemon=True)
        thread.start()
        log.info("serving %s at %s/simple/", web, server.url)
        try:
            stop.wait()
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
    raise ServerStopped()
