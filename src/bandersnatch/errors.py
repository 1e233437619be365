"""The exception tree. Every error the tool raises on purpose is a BandersnatchError.

Each exception carries its facts as attributes and builds its message from them, so the
CLI can print one clear line and tests can assert on the facts. This module imports
nothing from the package. Exit codes are decided in exactly one place: ``cli``. A URL an
error carries is redacted (no credentials) as the error is made.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``: credentials in a master or
    proxy URL never reach a log line, an error message or a state file."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


class BandersnatchError(Exception):
    """Base of every error this tool raises deliberately."""


# --- configuration and usage -------------------------------------------------------------


class ConfigError(BandersnatchError):
    """A config file that cannot be used: unknown key, bad value, missing key."""

    def __init__(self, section: str, key: str | None, value: str | None, reason: str) -> None:
        self.section = section
        self.key = key
        self.value = None if value is None else redact(value)
        self.reason = reason
        where = f"[{section}]" if key is None else f"[{section}] {key}"
        shown = "" if self.value is None else f" = {self.value!r}"
        super().__init__(f"config error: {where}{shown}: {reason}")


class ConfigFileMissing(BandersnatchError):
    """No config file existed; a default one was written for the operator to review."""

    def __init__(self, path: str, written: bool) -> None:
        self.path = path
        self.written = written
        if written:
            msg = (
                f"no config file at {path}; a default one was written there. "
                "Review it (at least [mirror] directory and [plugins]) and run again."
            )
        else:
            msg = f"no config file at {path} and it could not be created"
        super().__init__(msg)


class UsageError(BandersnatchError):
    """A command given something it cannot use (a requirements file that cannot be read)."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"{what}: {reason}")


# --- local state ---------------------------------------------------------------------------


class MirrorLocked(BandersnatchError):
    """Another bandersnatch process holds the mirror's lock."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"mirror is locked: another bandersnatch run holds {path}; "
            "try again when it has finished"
        )


class StateError(BandersnatchError):
    """A state file (status, todo, generation) is unreadable or corrupt."""

    def __init__(self, path: str, reason: str, hint: str = "") -> None:
        self.path = path
        self.reason = reason
        self.hint = hint
        tail = f"; {hint}" if hint else ""
        super().__init__(f"state file {path}: {reason}{tail}")


class StorageError(BandersnatchError):
    """The mirror's storage refused an operation (disk full, permissions, bad path)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"storage error at {path}: {reason}")


class UnsafePath(BandersnatchError):
    """A path built from upstream data that the mirror refuses: it would leave the mirror,
    is malformed, collides with another, or the filesystem will not hold it. It fails that
    record (a file, a project), never the run."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"refused unsafe path {path!r:.200}: {reason}")


# --- upstream ------------------------------------------------------------------------------


class UpstreamError(BandersnatchError):
    """The upstream index failed to give a usable answer."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = redact(url)
        self.reason = reason
        super().__init__(f"{self.url}: {reason}")


class RetryableError(UpstreamError):
    """A failure worth another try: connection trouble, timeout, 5xx, 429."""

    def __init__(self, url: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(url, reason)
        self.retry_after = retry_after
        """Seconds upstream asked us to wait (``Retry-After``), if it said."""


class NotFound(UpstreamError):
    """Upstream answered 404."""

    def __init__(self, url: str) -> None:
        super().__init__(url, "not found (HTTP 404)")


class StaleResponse(UpstreamError):
    """Upstream (its CDN) served an older copy than the change feed promised."""

    def __init__(self, url: str, expected: int, got: int | None) -> None:
        self.expected = expected
        self.got = got
        seen = "no X-PyPI-Last-Serial header" if got is None else f"serial {got}"
        super().__init__(url, f"stale response: expected serial >= {expected}, got {seen}")


class DigestMismatch(UpstreamError):
    """A downloaded body does not hash to the digest upstream advertised."""

    def __init__(self, url: str, expected: str, actual: str) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(url, f"sha256 mismatch: expected {expected}, got {actual}")


class SizeMismatch(UpstreamError):
    """A downloaded body is not the size upstream advertised."""

    def __init__(self, url: str, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(url, f"size mismatch: expected {expected} bytes, got {actual}")


class FeedUnavailable(UpstreamError):
    """The upstream does not serve this change feed at all (e.g. no XML-RPC: HTTP 404/405)."""


class RateLimited(UpstreamError):
    """Upstream kept refusing with 'Too Many Requests' beyond the allowed wait."""


class BadUpstreamData(UpstreamError):
    """Upstream sent a document that does not parse or lacks required fields."""


# --- the run -------------------------------------------------------------------------------


class Interrupted(BandersnatchError):
    """The run was stopped by SIGINT or SIGTERM; progress was saved."""

    def __init__(self, signal_name: str) -> None:
        self.signal_name = signal_name
        super().__init__(f"stopped by {signal_name}; progress saved, run again to resume")


class ServerStopped(Interrupted):
    """``serve`` was stopped by SIGINT or SIGTERM, its normal way to end."""

    def __init__(self) -> None:
        self.signal_name = "a stop signal"
        BandersnatchError.__init__(self, "server stopped by a stop signal")


class ServeError(BandersnatchError):
    """``serve`` could not listen (the address is in use, not this machine's, or invalid)."""

    def __init__(self, address: str, reason: str) -> None:
        self.address = address
        self.reason = reason
        super().__init__(f"cannot serve on {address}: {reason}")
