"""The PEP 691 names of the simple formats: the content types, the API version this
mirror's pages claim, and which page file holds each content type."""

from __future__ import annotations

from ..layout import HTML_LEAF, JSON_LEAF, V1_HTML_LEAF

API_VERSION = "1.1"
"""PEP 700: every file carries ``size`` and ``upload-time``, every page ``versions``."""

JSON_CONTENT_TYPE = "application/vnd.pypi.simple.v1+json"
V1_HTML_CONTENT_TYPE = "application/vnd.pypi.simple.v1+html"
HTML_CONTENT_TYPE = "text/html"
"""PEP 691's three content types; ``text/html`` is the legacy alias of the v1 HTML page."""

PAGE_LEAVES = {HTML_CONTENT_TYPE: HTML_LEAF, V1_HTML_CONTENT_TYPE: V1_HTML_LEAF,
               JSON_CONTENT_TYPE: JSON_LEAF}  # fmt: skip
"""The leaf that holds each content type's page."""
