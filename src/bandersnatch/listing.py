"""What the mirror currently publishes for a project, read back from its own pages.

The pages are the mirror's record of which files belong to a project (each with its sha256),
whether or not ``json = true``: the JSON page when present, else an HTML page. Used to find
files a project no longer lists and to delete a project; ``verify`` reads pages through the
same parsers (``simple.parse``).
"""

from __future__ import annotations

from .layout import HTML_LEAVES, JSON_LEAF, simple_dir
from .models import Expected, ProjectName
from .simple.parse import expected_from_html_page, expected_from_json_page
from .storage import Storage


def listed_files(
    storage: Storage, name: ProjectName, hash_index: bool, root_uri: str | None = None
) -> tuple[Expected, ...] | None:
    """The local files the project's current page lists, or None when it has no page.

    ``root_uri``: the mirror's own absolute link prefix, if its pages use one."""
    base = simple_dir(name, hash_index)
    raw = storage.read_bytes(f"{base}/{JSON_LEAF}")
    if raw is not None:
        parsed = expected_from_json_page(raw, root_uri)
        if parsed is not None:
            return parsed
    for leaf in HTML_LEAVES:
        html = storage.read_bytes(f"{base}/{leaf}")
        if html is not None:
            return expected_from_html_page(html, root_uri)
    return None
