"""Rendering of PyPI documents (JSON API, PEP 503/691 simple pages) from project snapshots."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .model import ProjectState, StoredFile

API_VERSION = "1.4"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_V1_TYPE = "application/vnd.pypi.simple.v1+html"
TEXT_HTML = "text/html"
_OFFERS = (TEXT_HTML, HTML_V1_TYPE, JSON_TYPE)
_ALIASES = {
    "application/vnd.pypi.simple.latest+json": JSON_TYPE,
    "application/vnd.pypi.simple.latest+html": HTML_V1_TYPE,
}


@dataclass
class Advertiser:
    """How files are advertised: URL bases and (possibly falsified) digests."""

    base_url: str
    files_base_url: str
    sha256: Callable[[StoredFile], str]
    metadata_sha256: Callable[[StoredFile], str | None]
    provenance_override: Callable[[StoredFile], str | None] = lambda _f: None
    """A URL to advertise instead of the provenance's own (a fault switch)."""

    def file_url(self, f: StoredFile) -> str:
        return f.absolute_url or self.files_base_url + f.url_path

    def provenance_url(self, f: StoredFile) -> str | None:
        """PEP 740: a fully qualified URL, on the index itself (as PyPI's ``/integrity/``)."""
        path = f.provenance_path
        if path is None:
            return None
        return self.provenance_override(f) or self.base_url + path

    def core_metadata(self, f: StoredFile) -> dict[str, str] | bool:
        digest = self.metadata_sha256(f) if f.has_core_metadata else None
        return {"sha256": digest} if digest else False


def negotiate(accept: str | None) -> str | None:
    """Pick the simple-API content type for an Accept header, honouring q-values.

    Returns one of text/html, the v1+html or the v1+json type, or None (nothing acceptable).
    A missing header means text/html. On equal quality text/html wins (like PyPI for */*).
    """
    if accept is None or not accept.strip():
        return TEXT_HTML
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        items = part.split(";")
        media = items[0].strip().lower()
        if not media:
            continue
        q = 1.0
        for param in items[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        ranges.append((_ALIASES.get(media, media), q))
    best, best_q = None, 0.0
    for offer in _OFFERS:
        major = offer.split("/")[0]
        specificity, quality = -1, 0.0
        for media, q in ranges:
            if media == offer:
                level = 2
            elif media == f"{major}/*":
                level = 1
            elif media == "*/*":
                level = 0
            else:
                continue
            if level > specificity:
                specificity, quality = level, q
        if quality > best_q:
            best, best_q = offer, quality
    return best


def _yank_info(f: StoredFile) -> tuple[bool | str, str | None]:
    if not f.yanked:
        return False, None
    return (f.yanked_reason or True), f.yanked_reason


def _json_api_file(f: StoredFile, adv: Advertiser) -> dict[str, Any]:
    md5 = f.artifact.md5
    meta = adv.core_metadata(f)
    return {
        "comment_text": "",
        "core-metadata": meta,
        "data-dist-info-metadata": meta,
        "digests": {"blake2b_256": f.artifact.blake2b_256, "md5": md5, "sha256": adv.sha256(f)},
        "downloads": -1,
        "filename": f.filename,
        "has_sig": False,
        "md5_digest": md5,
        "packagetype": f.packagetype,
        "python_version": f.python_version,
        "requires_python": f.requires_python,
        "size": f.size,
        "upload_time": f.upload_time_plain,
        "upload_time_iso_8601": f.upload_time_iso,
        "url": adv.file_url(f),
        "yanked": f.yanked,
        "yanked_reason": f.yanked_reason,
    }


def _info(state: ProjectState, version: str, adv: Advertiser) -> dict[str, Any]:
    files = state.releases.get(version, ())
    first = files[0] if files else None
    project_url = f"{adv.base_url}/project/{state.normalized}/"
    return {
        "author": "",
        "author_email": "",
        "bugtrack_url": None,
        "classifiers": [],
        "description": "",
        "description_content_type": None,
        "docs_url": None,
        "download_url": None,
        "downloads": {"last_day": -1, "last_month": -1, "last_week": -1},
        "home_page": None,
        "keywords": None,
        "license": None,
        "maintainer": None,
        "maintainer_email": None,
        "name": state.name,
        "package_url": project_url,
        "platform": None,
        "project_url": project_url,
        "project_urls": None,
        "release_url": f"{project_url}{version}/",
        "requires_dist": list(first.dependencies) if first and first.dependencies else None,
        "requires_python": first.requires_python if first else None,
        "summary": state.summary,
        "version": version,
        "yanked": state.release_yanked(version),
        "yanked_reason": state.yanked_releases.get(version)
        or (first.yanked_reason if first else None),
    }


def json_api_project(state: ProjectState, adv: Advertiser) -> dict[str, Any]:
    """`/pypi/<name>/json` document."""
    latest = state.latest_version() or ""
    releases = {
        version: [_json_api_file(f, adv) for f in sorted(files, key=lambda f: f.filename)]
        for version, files in ((v, state.releases[v]) for v in state.sorted_versions())
    }
    return {
        "info": _info(state, latest, adv),
        "last_serial": state.serial,
        "releases": releases,
        "urls": releases.get(latest, []),
        "vulnerabilities": [],
    }


def json_api_release(state: ProjectState, version: str, adv: Advertiser) -> dict[str, Any]:
    """`/pypi/<name>/<version>/json` document."""
    files = sorted(state.releases[version], key=lambda f: f.filename)
    return {
        "info": _info(state, version, adv),
        "last_serial": state.serial,
        "urls": [_json_api_file(f, adv) for f in files],
        "vulnerabilities": [],
    }


def _status(state: ProjectState) -> dict[str, str]:
    out = {"status": state.status}
    if state.status_reason:
        out["reason"] = state.status_reason
    return out


def simple_project_json(state: ProjectState, adv: Advertiser) -> dict[str, Any]:
    """PEP 691 project page (api-version 1.4, with PyPI's `_last-serial`)."""
    files = [] if state.quarantined else state.files()
    out_files = []
    for f in files:
        meta = adv.core_metadata(f)
        out_files.append(
            {
                "core-metadata": meta,
                "data-dist-info-metadata": meta,
                "filename": f.filename,
                "hashes": {"sha256": adv.sha256(f)},
                "provenance": adv.provenance_url(f),
                "requires-python": f.requires_python,
                "size": f.size,
                "upload-time": f.upload_time_iso,
                "url": adv.file_url(f),
                "yanked": _yank_info(f)[0],
            }
        )
    return {
        "files": out_files,
        "meta": {"_last-serial": state.serial, "api-version": API_VERSION},
        "name": state.normalized,
        "project-status": _status(state),
        "versions": [] if state.quarantined else state.sorted_versions(),
    }


def simple_project_html(state: ProjectState, adv: Advertiser) -> str:
    """PEP 503 project page with PEP 592/629/658/714/792 attributes, like PyPI renders it."""
    esc = html.escape
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">',
        f'    <meta name="pypi:project-status" content="{esc(state.status)}">',
    ]
    if state.status_reason:
        lines.append(
            f'    <meta name="pypi:project-status-reason" content="{esc(state.status_reason)}">'
        )
    lines += [
        f"    <title>Links for {esc(state.normalized)}</title>",
        "  </head>",
        "  <body>",
        f"    <h1>Links for {esc(state.normalized)}</h1>",
    ]
    for f in [] if state.quarantined else state.files():
        attrs = [f'href="{esc(adv.file_url(f))}#sha256={esc(adv.sha256(f))}"']
        if f.requires_python:
            attrs.append(f'data-requires-python="{esc(f.requires_python)}"')
        if f.yanked:
            attrs.append(f'data-yanked="{esc(f.yanked_reason or "")}"')
        meta = adv.core_metadata(f)
        if isinstance(meta, dict):
            attrs.append(f'data-dist-info-metadata="sha256={esc(meta["sha256"])}"')
            attrs.append(f'data-core-metadata="sha256={esc(meta["sha256"])}"')
        provenance = adv.provenance_url(f)
        if provenance is not None:
            attrs.append(f'data-provenance="{esc(provenance)}"')
        lines.append(f"    <a {' '.join(attrs)}>{esc(f.filename)}</a><br />")
    lines += ["  </body>", "</html>", f"<!--SERIAL {state.serial}-->", ""]
    return "\n".join(lines)


RootEntry = tuple[str, str, int]  # (display name, normalized name, last serial)


def simple_root_json(entries: Iterable[RootEntry], last_serial: int) -> dict[str, Any]:
    return {
        "meta": {"_last-serial": last_serial, "api-version": API_VERSION},
        "projects": [{"_last-serial": serial, "name": display} for display, _, serial in entries],
    }


def simple_root_html(entries: Iterable[RootEntry], last_serial: int) -> str:
    esc = html.escape
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">',
        "    <title>Simple index</title>",
        "  </head>",
        "  <body>",
    ]
    lines += [
        f'    <a href="/simple/{esc(norm)}/">{esc(display)}</a>' for display, norm, _ in entries
    ]
    lines += ["  </body>", "</html>", f"<!--SERIAL {last_serial}-->", ""]
    return "\n".join(lines)
