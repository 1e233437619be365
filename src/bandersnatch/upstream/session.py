"""HTTP sessions and the retry policy shared by every upstream request.

Each worker thread gets its own ``requests.Session`` (``SessionFactory.get``), so the number
of open connections is bounded by the number of workers.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import requests

from .. import __version__
from ..errors import RetryableError
from .http import MirrorSession
from .policy import HostPolicy

log = logging.getLogger(__name__)

USER_AGENT = f"bandersnatch/{__version__} (+https://github.com/pypa/bandersnatch)"

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3
    backoff: float = 1.0
    max_wait: float = 60.0

    def delay(self, attempt: int) -> float:
        """Jittered exponential backoff for the given (1-based) retry."""
        base: float = min(self.max_wait, self.backoff * (2 ** (attempt - 1)))
        return base * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto

    def run(self, what: str, call: Callable[[], T]) -> T:
        """Call ``call``, retrying RetryableError with backoff; re-raise the last one."""
        attempt = 0
        while True:
            try:
                return call()
            except RetryableError as exc:
                attempt += 1
                if attempt > self.retries:
                    raise
                wait = self.delay(attempt)
                if exc.retry_after is not None:  # upstream said how long: honour it, capped
                    wait = max(wait, min(exc.retry_after, self.max_wait))
                log.debug("%s: %s; retry %d in %.2fs", what, exc.reason, attempt, wait)
                time.sleep(wait)


class SessionFactory:
    """Makes one configured ``requests.Session`` per thread.

    The environment (``HTTPS_PROXY``/``NO_PROXY``, ``REQUESTS_CA_BUNDLE``) is read once,
    here, instead of on every request as requests does by default: at PyPI scale that
    per-request work (and its ``~/.netrc`` lookup) costs more CPU than the downloads."""

    def __init__(
        self,
        timeout: float,
        proxy: str | None = None,
        master: str = "",
        policy: HostPolicy | None = None,
    ) -> None:
        self.timeout = timeout
        self.policy = policy
        if proxy:
            self._proxies = {"http": proxy, "https": proxy}
        else:
            self._proxies = dict(requests.utils.get_environ_proxies(master or "https://pypi.org"))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        self._verify: bool | str = bundle or True
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def new(self) -> requests.Session:
        session = MirrorSession(self.policy)
        session.trust_env = False
        session.headers["User-Agent"] = USER_AGENT
        session.proxies = dict(self._proxies)
        session.verify = self._verify
        with self._lock:
            self._sessions.append(session)
        return session

    def get(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self.new()
            self._local.session = session
        return session

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
