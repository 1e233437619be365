"""What deleting a project must remove, and the names an operator asks to delete.

A project's files are the union of what its pages list and what its stored metadata
(``web/json/<name>``) lists, so a project whose page is damaged still leaves no file behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from .errors import BadUpstreamData
from .layout import LEAVES, json_paths, metadata_of, package_file, simple_dir
from .models import ProjectName
from .simple.parse import expected_from_html_page, expected_from_json_page
from .storage import Storage
from .upstream.metadata import parse_project


def stored_files(
    storage: Storage, name: ProjectName, hash_index: bool, root_uri: str | None = None
) -> list[str]:
    """``web/packages/...`` paths the project's pages or stored metadata list."""
    base = simple_dir(name, hash_index)
    paths: set[str] = set()
    for leaf in LEAVES:
        raw = storage.read_bytes(f"{base}/{leaf}")
        if raw is not None:
            listed = expected_from_json_page(raw, root_uri) if leaf.endswith("json") else None
            paths.update(e.path for e in listed or expected_from_html_page(raw, root_uri))
    raw = storage.read_bytes(json_paths(name)[0])
    if raw is not None:
        try:
            project = parse_project(
                f"https://stored.invalid/pypi/{name}/json", json.loads(raw), raw, None
            )
        except (ValueError, BadUpstreamData):
            project = None
        if project is not None:
            paths.update(package_file(f.path) for f in project.files)
    return sorted(paths)


def has_trace(storage: Storage, name: ProjectName, hash_index: bool) -> bool:
    """True when the project has a page or a stored JSON document."""
    base = simple_dir(name, hash_index)
    pages = (f"{base}/{leaf}" for leaf in LEAVES)
    return any(storage.exists(p) for p in (*pages, *json_paths(name)))


def stored_bytes(storage: Storage, paths: Iterable[str]) -> tuple[int, int]:
    """(files, bytes) stored for these paths, ``.metadata`` files included."""
    count = total = 0
    for path in paths:
        for candidate in (path, metadata_of(path)):
            size = storage.size(candidate)
            if size is not None:
                count += 1
                total += size
    return count, total
