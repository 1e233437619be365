"""What the mirror currently publishes for a project, read back from its own pages.

The pages are the mirror's record of which files belong to a project (each with its sha256),
whether or not ``json = true``: the JSON page when present, else the HTML page. Used to
find files a project no longer lists, to delete a project, and by ``verify``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html import unescape
from urllib.parse import unquote, urljoin, urlsplit

from .errors import UnsafePath
from .models import ProjectName
from .paths import check_segment, simple_dir
from .storage import Storage

_ANCHOR = re.compile(r'<a [^>]*href="([^"]+)"[^>]*>', re.IGNORECASE)
_META = re.compile(r'data-core-metadata="sha256=([0-9a-f]{64})"')


@dataclass(frozen=True)
class ListedFile:
    """A file a project page links: its mirror-relative path and advertised digests."""

    path: str
    sha256: str | None
    metadata_sha256: str | None
    size: int | None = None


_RELATIVE = "../../packages/"


def _local_path(name: ProjectName, url: str, root_uri: str | None) -> str | None:
    """``web/packages/...`` for a link into this mirror (relative, or below ``root_uri``);
    None for a link elsewhere (``release-files = false`` links upstream)."""
    if url.startswith(_RELATIVE):  # what this tool writes: no URL parsing needed
        rel = unquote(url[len(_RELATIVE) :])
    else:
        absolute = urljoin(f"http://mirror.invalid/simple/{name}/", url)
        parts = urlsplit(absolute)
        if parts.netloc == "mirror.invalid":
            path = unquote(parts.path)
        elif root_uri and absolute.startswith(f"{root_uri}/packages/"):
            path = unquote(urlsplit(absolute).path)
        else:
            return None
        if "/packages/" not in path:
            return None
        rel = path[path.rindex("/packages/") + len("/packages/") :]
    try:
        for segment in rel.split("/"):
            check_segment(segment, "listed path segment")
    except UnsafePath:
        return None
    return f"web/packages/{rel}"


def _from_json(name: ProjectName, raw: bytes, root_uri: str | None) -> list[ListedFile] | None:
    try:
        doc = json.loads(raw)
        files = doc["files"]
    except (ValueError, KeyError, TypeError):
        return None
    listed = []
    for f in files if isinstance(files, list) else []:
        if not isinstance(f, dict) or not isinstance(f.get("url"), str):
            continue
        path = _local_path(name, f["url"], root_uri)
        if path is None:
            continue
        raw_hashes = f.get("hashes")
        hashes: dict[str, str] = raw_hashes if isinstance(raw_hashes, dict) else {}
        core = f.get("core-metadata")
        meta = core.get("sha256") if isinstance(core, dict) else None
        size = f.get("size") if isinstance(f.get("size"), int) else None
        listed.append(ListedFile(path, hashes.get("sha256"), meta, size))
    return listed


def _from_html(name: ProjectName, raw: bytes, root_uri: str | None) -> list[ListedFile]:
    listed = []
    for match in _ANCHOR.finditer(raw.decode("utf-8", "replace")):
        href = unescape(match.group(1))
        url, _, fragment = href.partition("#")
        path = _local_path(name, url, root_uri)
        if path is None:
            continue
        algo, _, value = fragment.partition("=")
        meta = _META.search(match.group(0))
        listed.append(
            ListedFile(path, value if algo == "sha256" else None, meta.group(1) if meta else None)
        )
    return listed


def listed_files(
    storage: Storage, name: ProjectName, hash_index: bool, root_uri: str | None = None
) -> list[ListedFile] | None:
    """The files the project's current page lists, or None when it has no page.

    ``root_uri``: the mirror's own absolute link prefix, if pages use one."""
    base = simple_dir(name, hash_index)
    raw = storage.read_bytes(f"{base}/index.v1_json")
    if raw is not None:
        parsed = _from_json(name, raw, root_uri)
        if parsed is not None:
            return parsed
    for leaf in ("index.html", "index.v1_html"):
        html = storage.read_bytes(f"{base}/{leaf}")
        if html is not None:
            return _from_html(name, html, root_uri)
    return None
