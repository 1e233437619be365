"""PEP 691 content negotiation: which of a page's representations a request gets.

Pure functions over header strings. Each of the three content types gets the quality of the
most specific media range that matches it (``type/subtype`` over ``type/*`` over ``*/*``;
``application/vnd.pypi.simple.latest+json`` and ``+html`` name the v1 types). The highest
quality wins; a quality of 0 means "not acceptable". Ties go to the more specific match, then:

- among types the client named: JSON, then v1 HTML, then ``text/html`` (PEP 691 recommends the
  most featureful format and ``text/html`` as the last resort);
- among wildcard matches (``*/*``, no ``Accept`` header at all): ``text/html``, then v1 HTML,
  then JSON, so a client that states no preference gets the page every client understands.

The same rules are written as nginx maps in ``contrib/nginx/bandersnatch.conf``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..simple.formats import HTML_CONTENT_TYPE, JSON_CONTENT_TYPE, V1_HTML_CONTENT_TYPE

CONTENT_TYPES = (JSON_CONTENT_TYPE, V1_HTML_CONTENT_TYPE, HTML_CONTENT_TYPE)
ALIASES = {
    "application/vnd.pypi.simple.latest+json": JSON_CONTENT_TYPE,
    "application/vnd.pypi.simple.latest+html": V1_HTML_CONTENT_TYPE,
}
"""PEP 691's ``latest`` meta version; the answer names the real (v1) type."""

_NAMED_ORDER = (HTML_CONTENT_TYPE, V1_HTML_CONTENT_TYPE, JSON_CONTENT_TYPE)  # last wins ties
_WILDCARD_ORDER = (JSON_CONTENT_TYPE, V1_HTML_CONTENT_TYPE, HTML_CONTENT_TYPE)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_QVALUE = re.compile(r"0(?:\.\d{0,3})?|1(?:\.0{0,3})?")


@dataclass(frozen=True)
class MediaRange:
    """One entry of an ``Accept`` header: ``type/subtype`` (either may be ``*``) and its q."""

    type: str
    subtype: str
    q: float

    def specificity(self, content_type: str) -> int | None:
        """2 for an exact match, 1 for ``type/*``, 0 for ``*/*``; None if it does not match."""
        if self.type == "*":
            return 0
        major = content_type.partition("/")[0]
        if self.type != major:
            return None
        if self.subtype == "*":
            return 1
        name = ALIASES.get(f"{self.type}/{self.subtype}", f"{self.type}/{self.subtype}")
        return 2 if name == content_type else None


ANY = (MediaRange("*", "*", 1.0),)


def _media_range(item: str) -> MediaRange | None:
    """Parse one comma-separated entry; None for a malformed one (it is ignored)."""
    media, *params = (part.strip() for part in item.split(";"))
    major, slash, minor = media.lower().partition("/")
    if not slash or not _TOKEN.fullmatch(major) or not _TOKEN.fullmatch(minor):
        return None
    if major == "*" and minor != "*":
        return None
    q = 1.0
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            if not _QVALUE.fullmatch(value.strip()):
                return None
            q = float(value)
            break  # parameters after q are accept-extensions, not media type parameters
    return MediaRange(major, minor, q)


def parse_accept(header: str | None) -> tuple[MediaRange, ...]:
    """The media ranges of an ``Accept`` header. No header (or an empty one) is ``*/*``."""
    if header is None or not header.strip():
        return ANY
    return tuple(r for r in map(_media_range, header.split(",")) if r is not None)


def _key(content_type: str, ranges: Iterable[MediaRange]) -> tuple[float, int, int]:
    """(q, specificity, tie-break rank) of ``content_type``; q is 0 when nothing matches."""
    best: tuple[int, float] | None = None
    for media in ranges:
        spec = media.specificity(content_type)
        if spec is not None and (best is None or (spec, media.q) > best):
            best = (spec, media.q)
    if best is None:
        return (0.0, 0, 0)
    spec, q = best
    order = _NAMED_ORDER if spec == 2 else _WILDCARD_ORDER
    return (q, spec, order.index(content_type))


def ranked(accept: str | None) -> list[str]:
    """The acceptable content types for this ``Accept`` header, best first."""
    ranges = parse_accept(accept)
    keys = {ctype: _key(ctype, ranges) for ctype in CONTENT_TYPES}
    return sorted((c for c in CONTENT_TYPES if keys[c][0] > 0), key=keys.__getitem__, reverse=True)


def forced(format_param: str | None) -> str | None:
    """The content type a ``?format=`` query parameter names, if it names one of ours."""
    if format_param is None:
        return None
    name = format_param.strip().lower().replace(" ", "+")  # a "+" decoded as a space
    name = ALIASES.get(name, name)
    return name if name in CONTENT_TYPES else None


def preferences(accept: str | None, format_param: str | None = None) -> list[str]:
    """What to try serving, in order: the ``?format=`` type (PEP 691: it takes precedence;
    a type the server lacks falls back to the header), then the ``Accept`` ranking."""
    order = ranked(accept)
    wanted = forced(format_param)
    if wanted is not None:
        order = [wanted, *(c for c in order if c != wanted)]
    return order


def negotiate(
    accept: str | None, available: Iterable[str] = CONTENT_TYPES, format_param: str | None = None
) -> str | None:
    """The content type to answer with among ``available``, or None (406 Not Acceptable)."""
    have = set(available)
    return next((c for c in preferences(accept, format_param) if c in have), None)
