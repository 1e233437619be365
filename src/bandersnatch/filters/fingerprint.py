"""The filter fingerprint: one line that changes when anything that decides what the mirror
keeps changes (the enabled plugins, their sections as written, and the content of the
requirements files they read). A mirror run compares it with the one it stored last."""

from __future__ import annotations

from ..config import FilterConfig
from ..planning import fingerprint
from . import requirement_lines

FINGERPRINT_SCHEME = "v1"
"""Bump when filter_fingerprint changes how it digests the same config."""


def filter_fingerprint(config: FilterConfig) -> str:
    parts = [",".join(config.enabled), str(config.enabled_all)]
    for section in sorted(config.written):
        parts += [section, *(f"{k}={v}" for k, v in sorted(config.written[section].items()))]
    parts += requirement_lines(config)
    return fingerprint(parts)


def fingerprint_line(config: FilterConfig) -> str:
    """What the mirror stores: the scheme's version, then the fingerprint."""
    return f"{FINGERPRINT_SCHEME} {filter_fingerprint(config)}"


def filters_changed(previous: str | None, current: str) -> bool:
    """Did the filters change since ``previous`` (the stored line) was written?

    The line starts with the scheme's version: a new version of this tool that fingerprints
    differently records the new value without re-checking 700k projects for a change that
    never happened."""
    old = (previous or "").strip()
    return old.split(" ", 1)[0] == FINGERPRINT_SCHEME and old != current
