"""The XML-RPC change feed (``POST <master>/pypi``), through the one transport.

Calls are encoded and decoded with ``xmlrpc.client`` and sent by ``http.open_stream`` (host
policy, timeouts, the request deadline, a size cap on the answer); the two big answers are
read by ``rpcfast`` first. An answer that declares a DTD or entities is refused before it
is parsed: XML-RPC never needs them, and entity expansion is how an answer becomes a memory
bomb. Names that are not project names are skipped, one warning each; a serial that is not
one makes the answer unusable.
"""

from __future__ import annotations

import logging
import xmlrpc.client
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast
from xml.parsers.expat import ExpatError

import requests

from ..errors import BadUpstreamData, FeedUnavailable, RateLimited, RetryableError, UpstreamError
from ..models import ProjectName, project_names
from . import fields
from .http import check_status, open_stream
from .rpcfast import read_changelog, read_serials
from .session import RetryPolicy

log = logging.getLogger(__name__)

PAGE_SIZE = 50_000
"""PyPI returns at most this many rows per ``changelog_since_serial`` call."""
RATE_LIMIT_FAULT = -32500


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
        self.display_names: dict[ProjectName, str] = {}
        """The display name of each project ``changes_since`` has seen (the last one)."""
        self._session = session
        self._timeout = timeout
        self._deadline = deadline
        self._max = max_answer
        # One feed call stands between the run and all its work: be more patient with it.
        self._policy = RetryPolicy(retries=max(policy.retries, 5), backoff=policy.backoff)

    def _post(self, body: bytes) -> bytes:
        headers = {"Content-Type": "text/xml"}
        with open_stream(
            self._session,
            self.url,
            self._timeout,
            headers,
            deadline=self._deadline,
            method="POST",
            data=body,
        ) as response:
            if response.status_code in (404, 405, 410, 501):
                raise FeedUnavailable(self.url, f"HTTP {response.status_code}: no XML-RPC here")
            check_status(response)
            answer = response.read(self._max)
        if b"<!DOCTYPE" in answer or b"<!ENTITY" in answer:
            raise BadUpstreamData(self.url, "XML-RPC answer declares a DTD or entities")
        return answer

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
            except (
                xmlrpc.client.ResponseError, ExpatError, IndexError, ValueError, TypeError
            ) as exc:  # fmt: skip
                raise BadUpstreamData(self.url, f"{method}: bad XML-RPC answer: {exc}") from None

        try:
            return self._policy.run(f"XML-RPC {method}", once)
        except _RateLimitedFault as exc:
            raise RateLimited(self.url, f"still rate limited after retries: {exc.reason}") from None

    def last_serial(self) -> int:
        value = fields.serial(self._call("changelog_last_serial"))
        if value is None:
            raise BadUpstreamData(self.url, "changelog_last_serial did not return a serial")
        return value

    def all_projects(self) -> Listing:
        """``list_packages_with_serial``: every project upstream has."""
        value = self._call("list_packages_with_serial", fast=read_serials)
        if isinstance(value, tuple):
            displays, serials = value
        elif isinstance(value, dict):
            displays, serials = list(value), list(value.values())
        else:
            raise BadUpstreamData(self.url, "list_packages_with_serial did not return a map")
        return Listing(*_valid("list_packages_with_serial", displays, serials))

    def changes_since(self, serial: int) -> Iterator[tuple[list[ProjectName], list[int]]]:
        """(names, serials) of every change after ``serial``, a page at a time."""
        current = serial
        while True:
            value = self._call("changelog_since_serial", current, fast=read_changelog)
            if isinstance(value, tuple):
                displays, serials = value
            elif isinstance(value, list):
                rows = [_parse_row(row) for row in value]
                if None in rows:
                    raise BadUpstreamData(self.url, "changelog_since_serial: a malformed row")
                displays = [row[0] for row in rows if row is not None]
                serials = [row[1] for row in rows if row is not None]
            else:
                raise BadUpstreamData(self.url, "changelog_since_serial did not return a list")
            names, valid_displays, valid_serials = _valid("changelog", displays, serials)
            self.display_names.update(zip(names, valid_displays, strict=True))
            start = current
            current = max(current, *valid_serials) if valid_serials else current
            yield names, valid_serials
            if len(serials) < PAGE_SIZE:
                return
            if current <= start:
                raise BadUpstreamData(
                    self.url, f"a full changelog page did not advance past serial {start}"
                )


@dataclass(frozen=True)
class Listing:
    """Every project upstream lists: three columns in the same order."""

    names: list[ProjectName]
    displays: list[str]
    serials: list[int]


class _RateLimitedFault(RetryableError):
    pass


def _valid(
    where: str, displays: Sequence[object], serials: Sequence[object]
) -> tuple[list[ProjectName], list[str], list[int]]:
    """The columns without the entries whose name is no project name or whose serial is no
    serial: each is skipped with one warning, the rest of the answer stands."""
    checked: list[int | None]
    if all(type(s) is int for s in serials):  # the fast readers' answers
        ints = cast(Sequence[int], serials)
        fits = min(ints, default=0) >= 0 and max(ints, default=0) <= fields.MAX_SERIAL
        checked = list(ints) if fits else [fields.serial(s) for s in ints]
    else:
        checked = [fields.serial(s) for s in serials]
    names: list[ProjectName] = []
    kept_displays: list[str] = []
    kept_serials: list[int] = []
    for name, display, serial in zip(project_names(displays), displays, checked, strict=True):
        if name is None or serial is None:
            why = "not a project name" if name is None else "its serial is not a serial"
            log.warning("%s: skipped %.200r: %s", where, display, why)
            continue
        names.append(name)
        kept_displays.append(str(display))
        kept_serials.append(serial)
    return names, kept_displays, kept_serials


def _parse_row(row: Any) -> tuple[object, object] | None:
    """(display name, serial) of a changelog row; None when the row is malformed."""
    if not isinstance(row, list | tuple) or len(row) < 5:
        return None
    name, _version, _ts, _action, serial = row[:5]
    return name, serial
