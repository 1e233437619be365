"""What pip, uv, poetry and pdm send to an index and which answers they can use.

The ``Accept`` headers are the ones these clients send (captured from pip 26.3, uv 0.13,
poetry 2.5 and pdm 2.29, whose index client is unearth), the strings SPEC 3.2 quotes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..simple.formats import HTML_CONTENT_TYPE, JSON_CONTENT_TYPE, V1_HTML_CONTENT_TYPE

PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
UV_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)
POETRY_ACCEPT = "application/vnd.pypi.simple.v1+json, */*;q=0.1"
PDM_ACCEPT = PIP_ACCEPT
"""unearth (pdm's finder) sends pip's header."""

PAGE_TYPES = frozenset((JSON_CONTENT_TYPE, V1_HTML_CONTENT_TYPE, HTML_CONTENT_TYPE))


@dataclass(frozen=True)
class Client:
    name: str
    accept: str
    any_type_is_html: bool = False
    """poetry reads every answer that is not PEP 691 JSON as HTML; pip, uv and pdm refuse
    a Content-Type other than the three PEP 691 page types."""
    cooldown: str = ""
    """How this client picks releases uploaded before a date (needs JSON ``upload-time``)."""

    def reads_as(self, content_type: str) -> str | None:
        """``"json"`` or ``"html"``: how this client parses an answer with this (bare,
        lowercased) Content-Type; None when it refuses the answer."""
        if content_type == JSON_CONTENT_TYPE:
            return "json"
        if content_type in PAGE_TYPES or self.any_type_is_html:
            return "html"
        return None


CLIENTS = (
    Client("pip", PIP_ACCEPT, cooldown="--uploaded-prior-to"),
    Client("uv", UV_ACCEPT, cooldown="--exclude-newer"),
    Client("poetry", POETRY_ACCEPT, any_type_is_html=True, cooldown="solver.min-release-age"),
    Client("pdm", PDM_ACCEPT, cooldown="--exclude-newer"),
)
