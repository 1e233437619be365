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
