"""Pure rendering of a project's simple pages (PEP 503/592/629/658/691/700/714/740/792).

HTML and JSON are both derived from one ``SimplePage`` record. Nothing here touches disk
or network. The root index: ``root``; reading pages back: ``parse``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from packaging.version import InvalidVersion, Version

from ..layout import PAGE_LINK_PREFIX, provenance_of
from ..models import API_PROVENANCE, PageFile, SimplePage


@dataclass(frozen=True)
class PageOptions:
    root_uri: str | None = None
    """When set, file links are absolute: ``<root_uri>/packages/<path>``."""
    digest_name: str = "sha256"
    link_upstream: bool = False
    """``release-files = false``: link the upstream URL instead of a local copy."""


def _version_key(version: str) -> tuple[int, Version | str]:
    try:
        return (0, Version(version))
    except InvalidVersion:
        return (1, version)


def sort_versions(versions: Iterable[str]) -> list[str]:
    """Versions in PEP 440 order; unparseable ones last, in string order."""
    return sorted(set(versions), key=_version_key)


def file_url(pf: PageFile, opts: PageOptions) -> str:
    """The link to a file as seen from ``/simple/<name>/`` (whatever hash-index does)."""
    if opts.link_upstream and not opts.root_uri:
        return pf.file.url
    quoted = quote(pf.file.path, safe="/")
    if opts.root_uri:
        return f"{opts.root_uri}/packages/{quoted}"
    return f"{PAGE_LINK_PREFIX}{quoted}"


def provenance_link(pf: PageFile, opts: PageOptions) -> str | None:
    """PEP 740: the link to a file's provenance (the mirror's copy, beside the file, or
    upstream's with ``release-files = false``); None when the page offers none."""
    if not pf.provenance_stored:
        return None
    if opts.link_upstream:  # nothing is stored; upstream's is the only copy
        return pf.file.provenance_url
    return provenance_of(file_url(pf, opts))


def api_version(page: SimplePage) -> str:
    """``meta.api-version`` / ``pypi:repository-version``: see ``SimplePage.api_version``."""
    major, minor = page.api_version
    return f"{major}.{minor}"


def _digest(pf: PageFile, opts: PageOptions) -> tuple[str, str]:
    value = pf.file.digests.get(opts.digest_name)
    if opts.digest_name == "sha256" or not value:
        return "sha256", pf.file.sha256
    return opts.digest_name, value


def _sorted_files(page: SimplePage) -> list[PageFile]:
    return sorted(page.files, key=lambda pf: pf.file.filename)


def _html_anchor(pf: PageFile, opts: PageOptions) -> str:
    algo, value = _digest(pf, opts)
    href = escape(f"{file_url(pf, opts)}#{algo}={value}")
    attrs = [f'href="{href}"']
    f = pf.file
    if f.requires_python:
        attrs.append(f'data-requires-python="{escape(f.requires_python)}"')
    if f.yanked:
        attrs.append(f'data-yanked="{escape(f.yanked_reason or "")}"')
    if pf.metadata_stored and f.core_metadata_sha256:
        meta = escape(f"sha256={f.core_metadata_sha256}")
        attrs.append(f'data-core-metadata="{meta}"')
        attrs.append(f'data-dist-info-metadata="{meta}"')
    provenance = provenance_link(pf, opts)
    if provenance is not None:
        attrs.append(f'data-provenance="{escape(provenance)}"')
    return f"    <a {' '.join(attrs)}>{escape(f.filename)}</a><br/>"


def render_project_html(page: SimplePage, opts: PageOptions) -> str:
    title = escape(page.display_name)
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        f'    <meta name="pypi:repository-version" content="{api_version(page)}">',
    ]
    if page.status is not None:  # PEP 792
        lines.append(f'    <meta name="pypi:project-status" content="{escape(page.status)}">')
        if page.status_reason:
            reason = escape(page.status_reason)
            lines.append(f'    <meta name="pypi:project-status-reason" content="{reason}">')
    lines += [
        f"    <title>Links for {title}</title>",
        "  </head>",
        "  <body>",
        f"    <h1>Links for {title}</h1>",
    ]
    lines.extend(_html_anchor(pf, opts) for pf in _sorted_files(page))
    lines += ["  </body>", "</html>", f"<!--SERIAL {page.serial}-->"]
    return "\n".join(lines) + "\n"


def _json_file(pf: PageFile, opts: PageOptions, provenance: bool) -> dict[str, object]:
    f = pf.file
    algo, value = _digest(pf, opts)
    hashes = {"sha256": f.sha256}
    hashes[algo] = value
    yanked: bool | str = (f.yanked_reason or True) if f.yanked else False
    stored = pf.metadata_stored and f.core_metadata_sha256
    core: object = {"sha256": f.core_metadata_sha256} if stored else False
    entry: dict[str, object] = {
        "filename": f.filename,
        "url": file_url(pf, opts),
        "hashes": hashes,
        "requires-python": f.requires_python,
        "yanked": yanked,
        "size": f.size,
        "upload-time": f.upload_time,
        "core-metadata": core,
    }
    if provenance:
        entry["provenance"] = provenance_link(pf, opts)
    return entry


def render_project_json(page: SimplePage, opts: PageOptions) -> str:
    # the key is there on pages whose source knows provenance, or where one is stored
    provenance = page.known >= API_PROVENANCE or any(pf.provenance_stored for pf in page.files)
    doc: dict[str, object] = {
        "meta": {"api-version": api_version(page), "_last-serial": page.serial},
        "name": page.name,
        "files": [_json_file(pf, opts, provenance) for pf in _sorted_files(page)],
        "versions": sort_versions(page.versions),
    }
    if page.status is not None:  # PEP 792
        status = {"status": str(page.status)}
        if page.status_reason:
            status["reason"] = page.status_reason
        doc["project-status"] = status
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"
