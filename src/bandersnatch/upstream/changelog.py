"""The XML-RPC change feed (``POST <master>/pypi``), over the shared requests session."""

from __future__ import annotations

import logging
import xmlrpc.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from xml.parsers.expat import ExpatError

import requests

from ..errors import BadUpstreamData, FeedUnavailable, RateLimited, UpstreamError
from ..models import ProjectName, normalize_many
from .rpcfast import read_changelog, read_serials
from .session import RetryableError, RetryPolicy, check_status, classify

log = logging.getLogger(__name__)

PAGE_SIZE = 50_000
"""PyPI returns at most this many rows per ``changelog_since_serial`` call."""
RATE_LIMIT_FAULT = -32500


class ChangelogClient:
    """PyPI's XML-RPC change feed, with retries and rate-limit backoff.

    Calls are encoded and decoded with ``xmlrpc.client`` and sent through the shared
    requests session (timeouts, proxy, TLS settings, User-Agent); the two big answers are
    read by ``rpcfast`` first."""

    def __init__(
        self, session: requests.Session, master: str, timeout: float, policy: RetryPolicy
    ) -> None:
        self.url = f"{master}/pypi"
        self._session = session
        self._timeout = timeout
        # One feed call stands between the run and all its work: be more patient with it.
        self._policy = RetryPolicy(retries=max(policy.retries, 5), backoff=policy.backoff)

    def _post(self, body: bytes) -> bytes:
        try:
            response = self._session.post(
                self.url, data=body, headers={"Content-Type": "text/xml"}, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise classify(self.url, exc) from exc
        if response.status_code in (404, 405, 410, 501):
            raise FeedUnavailable(self.url, f"HTTP {response.status_code}: no XML-RPC here")
        check_status(response)
        return response.content

    def _call(self, method: str, *args: Any, fast: Callable[[bytes], Any] | None = None) -> Any:
        request = xmlrpc.client.dumps(args, method, allow_none=True).encode("utf-8")

        def once() -> Any:
            answer = self._post(request)
            value = fast(answer) if fast is not None else None
            if value is not None:
                return value
            try:
                return xmlrpc.client.loads(answer)[0][0]
            except xmlrpc.client.Fault as fault:
                if fault.faultCode == RATE_LIMIT_FAULT or "Too Many" in fault.faultString:
                    raise _RateLimitedFault(self.url, f"{method}: {fault.faultString}") from None
                raise UpstreamError(self.url, f"{method}: XML-RPC fault {fault}") from None
            except (xmlrpc.client.ResponseError, ExpatError, IndexError) as exc:
                raise BadUpstreamData(self.url, f"{method}: bad XML-RPC answer: {exc}") from exc

        try:
            return self._policy.run(f"XML-RPC {method}", once)
        except _RateLimitedFault as exc:
            raise RateLimited(self.url, f"still rate limited after retries: {exc.reason}") from None

    def last_serial(self) -> int:
        value = self._call("changelog_last_serial")
        if not isinstance(value, int):
            raise BadUpstreamData(self.url, f"changelog_last_serial returned {value!r}")
        return value

    def all_projects(self) -> Listing:
        """``list_packages_with_serial``: every project upstream has."""
        value = self._call("list_packages_with_serial", fast=read_serials)
        if isinstance(value, tuple):
            displays, serials = value
        elif isinstance(value, dict):
            pairs = [(d, s) for d, s in value.items() if isinstance(d, str) and isinstance(s, int)]
            displays, serials = [d for d, _s in pairs], [s for _d, s in pairs]
        else:
            raise BadUpstreamData(self.url, "list_packages_with_serial did not return a map")
        return Listing(normalize_many(displays), displays, serials)

    def changes_since(self, serial: int) -> Iterator[tuple[list[ProjectName], list[int]]]:
        """(names, serials) of every change after ``serial``, a page at a time."""
        current = serial
        while True:
            value = self._call("changelog_since_serial", current, fast=read_changelog)
            if isinstance(value, tuple):
                displays, serials = value
            elif isinstance(value, list):
                rows = [_parse_row(self.url, row) for row in value]
                displays, serials = [n for n, _s in rows], [s for _n, s in rows]
            else:
                raise BadUpstreamData(self.url, "changelog_since_serial did not return a list")
            yield normalize_many(displays), serials
            current = max(current, *serials) if serials else current
            if len(serials) < PAGE_SIZE:
                return


@dataclass(frozen=True)
class Listing:
    """Every project upstream lists: three columns in the same order."""

    names: list[ProjectName]
    displays: list[str]
    serials: list[int]


class _RateLimitedFault(RetryableError):
    pass


def _parse_row(url: str, row: Any) -> tuple[str, int]:
    """(display name, serial) of a changelog row."""
    if not isinstance(row, list | tuple) or len(row) < 5:
        raise BadUpstreamData(url, f"changelog row is malformed: {row!r}")
    name, _version, _ts, _action, serial = row[:5]
    if not isinstance(name, str) or not isinstance(serial, int):
        raise BadUpstreamData(url, f"changelog row is malformed: {row!r}")
    return name, serial
