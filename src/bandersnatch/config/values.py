"""Value parsers, and the ``ConfigError`` a bad value or an unknown name becomes.

A parser takes the raw INI string and returns the typed value or raises ``ValueError`` with
the reason; ``parse_value`` turns that into a ``ConfigError`` naming section, key and value.
``unknown_key`` and ``did_you_mean`` word the error for a name that is not known.
"""

from __future__ import annotations

import configparser
import difflib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError
from ..rules.matching import compile_lines

Parse = Callable[[str], Any]
"""Raw string -> typed value, or ``ValueError(reason)``."""


def boolean(raw: str) -> bool:
    states = configparser.ConfigParser.BOOLEAN_STATES
    text = raw.strip().lower()
    if text not in states:
        raise ValueError("not a boolean: use true/false, yes/no, on/off or 1/0")
    return states[text]


def integer(low: int, high: int | None = None) -> Parse:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError("not a whole number") from None
        _check_range(value, low, high)
        return value

    return parse


def number(low: float, high: float | None = None, *, above: bool = False) -> Parse:
    """A finite float >= low (> low when ``above``) and <= high."""

    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError("not a number") from None
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        if above and value <= low:
            raise ValueError(f"must be greater than {low:g}")
        _check_range(value, low, high)
        return value

    return parse


def _check_range(value: float, low: float, high: float | None) -> None:
    if high is not None and not low <= value <= high:
        raise ValueError(f"must be between {low:g} and {high:g}")
    if value < low:
        raise ValueError(f"must be {low:g} or more")


def choice(options: Mapping[str, Any]) -> Parse:
    """Case-insensitive pick from ``options`` (keys in lower case)."""

    def parse(raw: str) -> Any:
        text = raw.strip().lower()
        if text not in options:
            raise ValueError("must be one of " + ", ".join(options))
        return options[text]

    return parse


def absolute_url(schemes: tuple[str, ...]) -> Parse:
    """An absolute URL with one of ``schemes`` and a host; trailing slashes stripped."""

    def parse(raw: str) -> str:
        text = raw.strip()
        if any(ch.isspace() for ch in text):
            raise ValueError("a URL must not contain whitespace")
        parts = urlsplit(text)
        if parts.scheme.lower() not in schemes:
            raise ValueError("must start with " + " or ".join(f"{s}://" for s in schemes))
        try:
            host, _ = parts.hostname, parts.port
        except ValueError as exc:
            raise ValueError(f"not a valid URL: {exc}") from None
        if not host:
            raise ValueError("the URL has no host name")
        if parts.query or parts.fragment:
            raise ValueError("the URL must not have a query string or fragment")
        return text.rstrip("/")

    return parse


def absolute_path(raw: str) -> Path:
    path = any_path(raw)
    if not path.is_absolute():
        raise ValueError("must be an absolute path (starting with /)")
    return path


def any_path(raw: str) -> Path:
    text = raw.strip()
    if "\0" in text:
        raise ValueError("a path must not contain NUL characters")
    return Path(text)


def existing_file(raw: str) -> Path:
    path = any_path(raw)
    try:
        found = path.is_file()
    except OSError as exc:  # a name too long, a directory that cannot be searched
        raise ValueError(f"cannot be read: {exc.strerror or exc}") from None
    if not found:
        raise ValueError("no such file (it is read at start-up)")
    return path


def storage_backend(raw: str) -> str:
    text = raw.strip().lower()
    if text not in ("filesystem", "s3"):
        raise ValueError("use 'filesystem' or 's3' (other backends are not available yet)")
    return text


HostPort = tuple[str, "int | None"]
"""A host and an explicit port, or None for the scheme's default port."""


def host_port(entry: str) -> HostPort:
    """``host``, ``host:port`` or ``[v6]:port`` -> (lowercase host, port or None)."""
    text = entry.strip().lower()
    host, sep, port = text.rpartition(":")
    if not sep or text.endswith("]"):
        host, port = text, ""
    elif not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{entry!r} is not a host or host:port")
    host = host.removeprefix("[").removesuffix("]")
    if not host or any(c in host for c in "/@?#[] \t"):
        raise ValueError(f"{entry!r} is not a host or host:port")
    return host, int(port) if port else None


def host_list(raw: str) -> tuple[HostPort, ...]:
    """Hosts separated by whitespace or commas."""
    return tuple(host_port(entry) for entry in re.split(r"[\s,]+", raw.strip()) if entry)


def regex_lines(raw: str) -> tuple[re.Pattern[str], ...]:
    """One regular expression a line, compiled (the only place filter patterns are)."""
    return compile_lines(raw)


_UNITS = {"": 0, "b": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:([kmgtpe])(?:i?b)?|(b|bytes?))?", re.IGNORECASE)


def byte_size(raw: str) -> int:
    """``1024``, ``500K``, ``64 MiB``, ``2.5GB``, ``10 bytes`` -> bytes. The one grammar of a
    size in the config: every unit is a power of 1024."""
    match = _SIZE.fullmatch(raw.strip())
    if not match:
        raise ValueError("not a size: use bytes or a number with a unit, e.g. 500M or 2GiB")
    number, unit = match.group(1), match.group(2) or ""
    value = float(number) * 1024 ** _UNITS[unit.lower()]
    if not math.isfinite(value):  # 400 digits: int() of an infinite float overflows
        raise ValueError("too large a size")
    return int(value)


# --- from a bad value or an unknown name to a ConfigError ----------------------------------


def parse_value(section: str, key: str, raw: str, parse: Parse) -> Any:
    try:
        return parse(raw)
    except ValueError as exc:
        hint = ""
        if ";" in raw or "#" in raw:
            hint = " (comments must be on their own line, not after a value)"
        raise ConfigError(section, key, raw, f"{exc}{hint}") from None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the nearest choice, ignoring case and ``-``/``_``."""
    by_form = {name.lower().replace("_", "-"): name for name in choices}
    form = word.lower().replace("_", "-").replace("whitelist", "allowlist")
    form = form.replace("blacklist", "blocklist")  # the names before pypa/bandersnatch 5
    close = difflib.get_close_matches(form, list(by_form), n=1, cutoff=0.6)
    return f"; did you mean {by_form[close[0]]!r}?" if close else ""


def unknown_key(section: str, key: str, raw: str, valid: Iterable[str]) -> ConfigError:
    valid = list(valid)
    hint = did_you_mean(key, valid)
    if not hint:
        hint = "; valid keys: " + ", ".join(valid) if len(valid) <= 6 else "; see default.conf"
    return ConfigError(section, key, raw, "unknown key" + hint)
