"""Checks for single values in upstream documents: digests, sizes, serials and text.

Both project-document parsers (the JSON API and PEP 691 pages) take their values through
these, so a value is valid or refused the same way whichever document it came from.
"""

from __future__ import annotations

import re

_HEX = re.compile(r"[0-9a-fA-F]+", re.ASCII)
DIGEST_LENGTHS = {"sha256": 64, "md5": 32, "blake2b_256": 64}
"""Hex length of each digest a page may carry (``[mirror] digest_name``)."""


def hex_digest(value: object, length: int) -> str | None:
    """A lowercase hex string of exactly ``length`` digits, or None."""
    if isinstance(value, str) and len(value) == length and _HEX.fullmatch(value):
        return value.lower()
    return None


def digests(values: object) -> dict[str, str]:
    """The known digests of a mapping, each checked; anything else is dropped."""
    if not isinstance(values, dict):
        return {}
    found = {}
    for name, length in DIGEST_LENGTHS.items():
        value = hex_digest(values.get(name), length)
        if value is not None:
            found[name] = value
    return found


def size(value: object) -> int | None:
    """A byte count: a non-negative int (not a bool), or None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


MAX_SERIAL = 2**31 - 1
"""The largest serial: XML-RPC's int, in which the mirror sends its serial back
(``changelog_since_serial``). PyPI's serials are near 3 * 10**7."""


def serial(value: object) -> int | None:
    """A serial: an int (not a bool) or a string of ASCII digits, 0 to ``MAX_SERIAL``; else
    None. Whatever passes here may be written to ``status``, the todo and the ledger, so it
    must read back as a number and be sendable to XML-RPC again."""
    if isinstance(value, str):
        digits = value.strip()
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 10):
            return None
        value = int(digits)
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return value if 0 <= value <= MAX_SERIAL else None


def text(value: object) -> str | None:
    """A non-empty string that can be written out as UTF-8, or None (a JSON document may
    carry lone surrogates through ``\\ud800`` escapes; no page can hold them)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def is_text(value: object) -> bool:
    """True for absent/empty values and for strings ``text`` accepts."""
    return value is None or value == "" or text(value) is not None


def api_version(value: object) -> tuple[int, int] | None:
    """A simple API version (``"1.4"``) as (major, minor), or None."""
    if not isinstance(value, str):
        return None
    major, dot, minor = value.strip().partition(".")
    if not (dot and major.isascii() and major.isdigit() and minor.isascii() and minor.isdigit()):
        return None
    if len(major) > 3 or len(minor) > 3:
        return None
    return int(major), int(minor)
