"""The XML-RPC change feed (``POST <master>/pypi``), over the shared requests session."""

from __future__ import annotations

import logging
import xmlrpc.client
from collections.abc import Iterator
from typing import Any

import requests

from ..errors import BadUpstreamData, FeedUnavailable, RateLimited, UpstreamError
from ..models import ProjectName, normalize
from .session import RetryableError, RetryPolicy, check_status, classify

log = logging.getLogger(__name__)

PAGE_SIZE = 50_000
"""PyPI returns at most this many rows per ``changelog_since_serial`` call."""
RATE_LIMIT_FAULT = -32500


class RequestsTransport(xmlrpc.client.Transport):
    """An xmlrpc Transport that sends through a requests session (timeouts, proxy, UA)."""

    def __init__(self, session: requests.Session, url: str, timeout: float) -> None:
        super().__init__()
        self._session = session
        self._url = url
        self._timeout = timeout

    def request(
        self,
        host: Any,
        handler: str,
        request_body: Any,
        verbose: bool = False,
    ) -> tuple[Any, ...]:
        try:
            response = self._session.post(
                self._url,
                data=request_body,
                headers={"Content-Type": "text/xml"},
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise classify(self._url, exc) from exc
        if response.status_code in (404, 405, 410, 501):
            raise FeedUnavailable(self._url, f"HTTP {response.status_code}: no XML-RPC here")
        check_status(response)
        parser, unmarshaller = self.getparser()
        parser.feed(response.content)
        parser.close()
        result: tuple[Any, ...] = unmarshaller.close()
        return result


class ChangelogClient:
    """PyPI's XML-RPC change feed, with retries and rate-limit backoff."""

    def __init__(
        self, session: requests.Session, master: str, timeout: float, policy: RetryPolicy
    ) -> None:
        self.url = f"{master}/pypi"
        transport = RequestsTransport(session, self.url, timeout)
        self._proxy = xmlrpc.client.ServerProxy(self.url, transport=transport, allow_none=True)
        # One feed call stands between the run and all its work: be more patient with it.
        self._policy = RetryPolicy(retries=max(policy.retries, 5), backoff=policy.backoff)

    def _call(self, method: str, *args: Any) -> Any:
        def once() -> Any:
            try:
                return getattr(self._proxy, method)(*args)
            except xmlrpc.client.Fault as fault:
                if fault.faultCode == RATE_LIMIT_FAULT or "Too Many" in fault.faultString:
                    raise _RateLimitedFault(self.url, f"{method}: {fault.faultString}") from None
                raise UpstreamError(self.url, f"{method}: XML-RPC fault {fault}") from None
            except xmlrpc.client.ResponseError as exc:
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

    def all_projects(self) -> dict[ProjectName, tuple[str, int]]:
        """``list_packages_with_serial``: normalized name -> (display name, serial)."""
        value = self._call("list_packages_with_serial")
        if not isinstance(value, dict):
            raise BadUpstreamData(self.url, "list_packages_with_serial did not return a map")
        result: dict[ProjectName, tuple[str, int]] = {}
        for display, serial in value.items():
            if isinstance(display, str) and isinstance(serial, int):
                result[normalize(display)] = (display, serial)
        return result

    def changes_since(self, serial: int) -> Iterator[tuple[ProjectName, str, int]]:
        """(name, action, serial) for every change after ``serial``, paging as needed."""
        current = serial
        while True:
            rows = self._call("changelog_since_serial", current)
            if not isinstance(rows, list):
                raise BadUpstreamData(self.url, "changelog_since_serial did not return a list")
            for row in rows:
                name, action, row_serial = _parse_row(self.url, row)
                current = max(current, row_serial)
                yield name, action, row_serial
            if len(rows) < PAGE_SIZE:
                return


class _RateLimitedFault(RetryableError):
    pass


def _parse_row(url: str, row: Any) -> tuple[ProjectName, str, int]:
    if not isinstance(row, list | tuple) or len(row) < 5:
        raise BadUpstreamData(url, f"changelog row is malformed: {row!r}")
    name, _version, _ts, action, serial = row[:5]
    if not isinstance(name, str) or not isinstance(serial, int):
        raise BadUpstreamData(url, f"changelog row is malformed: {row!r}")
    return normalize(name), str(action), serial
