"""The XML-RPC change feed (``POST <master>/pypi``), over the shared requests session."""

from __future__ import annotations

import logging
import xmlrpc.client
from collections.abc import Iterator
from typing import Any
from xml.parsers.expat import ExpatError

import requests

from ..errors import BadUpstreamData, FeedUnavailable, RateLimited, RetryableError, UpstreamError
from ..models import ProjectName, project_name
from . import fields
from .http import check_status, open_stream
from .session import RetryPolicy

log = logging.getLogger(__name__)

PAGE_SIZE = 50_000
"""PyPI returns at most this many rows per ``changelog_since_serial`` call."""
RATE_LIMIT_FAULT = -32500


class RequestsTransport(xmlrpc.client.Transport):
    """An xmlrpc Transport that sends through the shared session (timeouts, proxy, UA,
    host policy) and reads the answer under the request deadline and a size cap.

    An answer that declares a DTD or entities is refused before it is parsed: XML-RPC
    never needs them, and entity expansion is how an answer becomes a memory bomb."""

    def __init__(
        self,
        session: requests.Session,
        url: str,
        timeout: float,
        deadline: float = 1800.0,
        max_answer: int = 256 * 1024 * 1024,
    ) -> None:
        super().__init__()
        self._max = max_answer
        self._session = session
        self._url = url
        self._timeout = timeout
        self._deadline = deadline

    def request(
        self,
        host: Any,
        handler: str,
        request_body: Any,
        verbose: bool = False,
    ) -> tuple[Any, ...]:
        headers = {"Content-Type": "text/xml"}
        with open_stream(
            self._session,
            self._url,
            self._timeout,
            headers,
            deadline=self._deadline,
            method="POST",
            data=request_body,
        ) as response:
            if response.status_code in (404, 405, 410, 501):
                raise FeedUnavailable(self._url, f"HTTP {response.status_code}: no XML-RPC here")
            check_status(response)
            body = response.read(self._max)
        if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
            raise BadUpstreamData(self._url, "XML-RPC answer declares a DTD or entities")
        parser, unmarshaller = self.getparser()
        try:
            parser.feed(body)
            parser.close()
            result: tuple[Any, ...] = unmarshaller.close()
        except (ExpatError, ValueError, TypeError, IndexError) as exc:
            raise BadUpstreamData(self._url, f"XML-RPC answer does not parse: {exc}") from None
        return result


class ChangelogClient:
    """PyPI's XML-RPC change feed, with retries and rate-limit backoff."""

    def __init__(
        self,
        session: requests.Session,
        master: str,
        timeout: float,
        policy: RetryPolicy,
        deadline: float = 1800.0,
        max_answer: int = 256 * 1024 * 1024,
    ) -> None:
        self.url = f"{master}/pypi"
        transport = RequestsTransport(session, self.url, timeout, deadline, max_answer)
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
        serial = fields.serial(value)
        if serial is None:
            raise BadUpstreamData(self.url, f"changelog_last_serial returned {value!r:.80}")
        return serial

    def all_projects(self) -> dict[ProjectName, tuple[str, int]]:
        """``list_packages_with_serial``: normalized name -> (display name, serial)."""
        value = self._call("list_packages_with_serial")
        if not isinstance(value, dict):
            raise BadUpstreamData(self.url, "list_packages_with_serial did not return a map")
        result: dict[ProjectName, tuple[str, int]] = {}
        for display, raw in value.items():
            name, serial = project_name(display), fields.serial(raw)
            if name is None or serial is None:
                log.warning("list_packages_with_serial: skipped %r: not a project name", display)
                continue
            result[name] = (display, serial)
        return result

    def changes_since(self, serial: int) -> Iterator[tuple[ProjectName, str, int]]:
        """(name, action, serial) for every change after ``serial``, paging as needed."""
        current = serial
        while True:
            rows = self._call("changelog_since_serial", current)
            if not isinstance(rows, list):
                raise BadUpstreamData(self.url, "changelog_since_serial did not return a list")
            start = current
            for row in rows:
                parsed = _parse_row(row)
                if parsed is None:
                    log.warning("changelog: skipped a malformed row: %.200r", row)
                    continue
                name, action, row_serial = parsed
                current = max(current, row_serial)
                if name is None:
                    log.warning("changelog: skipped %.200r: not a project name", row[0])
                    continue
                yield name, action, row_serial
            if len(rows) < PAGE_SIZE:
                return
            if current <= start:
                raise BadUpstreamData(
                    self.url, f"a full changelog page did not advance past serial {start}"
                )


class _RateLimitedFault(RetryableError):
    pass


def _parse_row(row: Any) -> tuple[ProjectName | None, str, int] | None:
    """(name or None when it is not a project name, action, serial); None when the row
    itself is malformed."""
    if not isinstance(row, list | tuple) or len(row) < 5:
        return None
    name, _version, _ts, action, raw = row[:5]
    serial = fields.serial(raw)
    if serial is None:
        return None
    return project_name(name), str(action), serial
