"""File entries of upstream project documents, the JSON API's and PEP 691 pages': one parser.

The two documents name a file's fields differently (``EntryFormat``); every value is checked
by ``fields`` and every file kept or refused by one policy (``FileList``):

- an entry that is not a safe, complete file is refused (recorded with its reason in
  ``Project.refused``, which the sync logs), never fatal to the project;
- a file listed twice (two entries with the same stored path) is kept once, as its first
  entry says, and the later entry is refused as "listed twice". Dropping it silently would
  hide an upstream document that contradicts itself, so it is recorded like any refusal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from ..errors import BadUpstreamData, UnsafePath, UpstreamError
from ..layout import packages_path
from ..models import ReleaseFile
from . import fields

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EntryFormat:
    """The keys one kind of document gives a file entry's fields."""

    digests: str
    requires_python: str
    upload_time: str
    core_metadata: tuple[str, str]
    """PEP 714's key, then the older one it replaced."""
    yanked_reason: str | None
    """The key of the reason; None: ``yanked`` itself is the reason when it is a string."""
    more_text: tuple[str, ...]
    """Other text fields the entry must not carry invalid Unicode in."""
    missing: str
    """What is said of an entry without a sha256 or a size."""
    api_fields: bool
    """The entry carries ``packagetype`` and ``python_version`` (the JSON API's)."""
    provenance: str | None = None
    """The key of the PEP 740 provenance URL; None: the document has none."""


JSON_API = EntryFormat(
    digests="digests",
    requires_python="requires_python",
    upload_time="upload_time_iso_8601",
    core_metadata=("core-metadata", "data-dist-info-metadata"),
    yanked_reason="yanked_reason",
    more_text=("packagetype", "python_version"),
    missing="no valid sha256 digest or size",
    api_fields=True,
)
SIMPLE_PAGE = EntryFormat(
    digests="hashes",
    requires_python="requires-python",
    upload_time="upload-time",
    core_metadata=("core-metadata", "dist-info-metadata"),
    yanked_reason=None,
    more_text=(),
    missing="no sha256 hash or size (API 1.1 needed)",
    api_fields=False,
    provenance="provenance",
)


def version_from_filename(filename: str) -> str:
    """Best-effort version of a distribution file (the simple API has no per-file version)."""
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
        return ""


def provenance_url(doc_url: str, filename: str, value: object) -> str | None:
    """PEP 740: a file entry's ``provenance`` (a URL, or null/absent: none) made absolute.

    A value that is no usable URL drops the provenance, never the file (the host policy
    is applied later, with the file URLs')."""
    url = fields.text(value)
    if url is None:
        if value is not None:
            log.warning("%s: %s: 'provenance' is not a URL; not mirrored", doc_url, filename)
        return None
    try:
        return urljoin(doc_url, url)
    except ValueError:
        log.warning("%s: %s: the provenance URL does not parse; not mirrored", doc_url, filename)
        return None


def parse_file(doc_url: str, entry: Any, form: EntryFormat, version: str | None) -> ReleaseFile:
    """One file entry of the document at ``doc_url`` (links resolve against it); its
    ``version`` when the document gives one, else taken from the filename. BadUpstreamData
    or UnsafePath refuse it."""
    if not isinstance(entry, dict):
        raise BadUpstreamData(doc_url, "file entry is not an object")
    filename, url = fields.text(entry.get("filename")), fields.text(entry.get("url"))
    checked = fields.digests(entry.get(form.digests))
    size = fields.size(entry.get("size"))
    if filename is None or url is None:
        raise BadUpstreamData(doc_url, "file entry lacks a usable filename or url")
    if "sha256" not in checked or size is None:
        raise BadUpstreamData(doc_url, f"{filename}: {form.missing}")
    yanked = entry.get("yanked", False)
    if form.yanked_reason is None:
        reason = yanked if isinstance(yanked, str) else None
    else:
        reason = entry.get(form.yanked_reason)
    text = (form.requires_python, form.upload_time, *form.more_text)
    if not all(fields.is_text(entry.get(key)) for key in text) or not fields.is_text(reason):
        raise BadUpstreamData(doc_url, f"{filename}: a text field is not valid Unicode")
    try:
        absolute = urljoin(doc_url, url)  # PyPI's are absolute; some proxies' are relative
    except ValueError:  # e.g. an unclosed "[" in the host
        raise BadUpstreamData(doc_url, f"{filename}: the url does not parse") from None
    new_key, old_key = form.core_metadata
    core = entry.get(new_key, entry.get(old_key))
    return ReleaseFile(
        filename=filename,
        url=absolute,
        path=packages_path(absolute, filename),
        version=version_from_filename(filename) if version is None else version,
        size=size,
        sha256=checked["sha256"],
        digests=checked,
        packagetype=(fields.text(entry.get("packagetype")) or "") if form.api_fields else "",
        python_version=(fields.text(entry.get("python_version")) or "") if form.api_fields else "",
        requires_python=fields.text(entry.get(form.requires_python)),
        yanked=bool(yanked),
        yanked_reason=fields.text(reason),
        upload_time=fields.text(entry.get(form.upload_time)),
        core_metadata_sha256=(
            fields.hex_digest(core.get("sha256"), 64) if isinstance(core, dict) else None
        ),
        provenance_url=(
            provenance_url(doc_url, filename, entry.get(form.provenance))
            if form.provenance
            else None
        ),
    )


class FileList:
    """The files of one document, kept or refused by the one policy (module docstring)."""

    def __init__(self, doc_url: str, form: EntryFormat) -> None:
        self.doc_url = doc_url
        self.form = form
        self.files: list[ReleaseFile] = []
        self.refused: list[tuple[str, str]] = []
        self._seen: set[str] = set()

    def add(self, entry: Any, version: str | None = None) -> None:
        try:
            release_file = parse_file(self.doc_url, entry, self.form, version)
        except (UnsafePath, UpstreamError) as exc:
            filename = entry.get("filename") if isinstance(entry, dict) else None
            self.refused.append((repr(filename), str(exc)))
            return
        if release_file.path in self._seen:
            self.refused.append((release_file.filename, "listed twice"))
            return
        self._seen.add(release_file.path)
        self.files.append(release_file)

    def refuse(self, what: str, why: str) -> None:
        self.refused.append((what, why))
