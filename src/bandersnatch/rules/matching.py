"""Metadata rules: ``tag:tag:dotted.path = patterns`` keys, as pypa/bandersnatch writes them.

Shared by ``regex_project_metadata``, ``regex_release_file_metadata`` (regular expressions,
matched from the start of each value) and ``version_range_release_file_metadata`` (versions
that must fall in the specifier found at the path).

Tags: ``any`` (default: some pattern matches some value), ``all`` (every pattern matches some
value), ``none`` (no pattern matches any value), ``match-null`` (default: a missing or null
value counts as a match) and ``not-null`` (it does not). A list value is its items; other
values are matched as text (``true``/``false`` for booleans).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ..errors import ConfigError

Mode = Literal["any", "all", "none"]
_MODES: tuple[Mode, ...] = ("any", "all", "none")
_NULLS = {"match-null": True, "not-null": False}


@dataclass(frozen=True)
class Key:
    """A parsed config key: where to look and how to judge what is there."""

    path: tuple[str, ...]
    mode: Mode = "any"
    nulls_match: bool = True


def parse_key(
    section: str, key: str, roots: Mapping[str, frozenset[str] | None], modes: bool = True
) -> Key:
    """``not-null:all:info.classifiers`` -> Key; ``roots``: allowed first path parts and,
    for each, the allowed second parts (None: any)."""
    *tags, dotted = key.split(":")
    path = tuple(dotted.strip().split("."))
    mode: Mode = "any"
    nulls_match = True
    for tag in (t.strip() for t in tags):
        if tag in _NULLS:
            nulls_match = _NULLS[tag]
        elif modes and tag in _MODES:
            mode = _MODES[_MODES.index(tag)]
        else:
            valid = [*(_MODES if modes else ()), *_NULLS]
            reason = f"unknown tag {tag!r}; valid tags: {', '.join(valid)}"
            raise ConfigError(section, key, None, reason)
    _check_path(section, key, path, roots)
    return Key(path, mode, nulls_match)


def _check_path(
    section: str, key: str, path: tuple[str, ...], roots: Mapping[str, frozenset[str] | None]
) -> None:
    if path[0] not in roots:
        reason = f"unknown metadata {path[0]!r}; this section can read {', '.join(roots)}"
        raise ConfigError(section, key, None, reason)
    fields = roots[path[0]]
    if fields is not None and (len(path) < 2 or path[1] not in fields):
        reason = f"{path[0]} has the fields {', '.join(sorted(fields))}"
        raise ConfigError(section, key, None, reason)


def values_at(doc: Mapping[str, object], path: Sequence[str]) -> list[str]:
    """The text values at a dotted path (empty: missing or null)."""
    node: object = doc
    for part in path:
        if not isinstance(node, Mapping) or node.get(part) is None:
            return []
        node = node[part]
    items = node if isinstance(node, (list, tuple)) else (node,)
    return [_text(item) for item in items if item is not None]


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class RegexRule:
    key: Key
    patterns: tuple[re.Pattern[str], ...]

    def passes(self, doc: Mapping[str, object]) -> bool:
        values = values_at(doc, self.key.path)
        if not values:
            hit = self.key.nulls_match
            return not hit if self.key.mode == "none" else hit
        if self.key.mode == "all":
            return all(any(p.match(v) for v in values) for p in self.patterns)
        hit = any(p.match(v) for p in self.patterns for v in values)
        return not hit if self.key.mode == "none" else hit


@dataclass(frozen=True)
class VersionRule:
    key: Key
    versions: tuple[Version, ...]

    def passes(self, doc: Mapping[str, object]) -> bool:
        """Some configured version falls in the specifier at the path (e.g. requires_python).

        A specifier that does not parse counts as missing (pip ignores it too).
        """
        values = values_at(doc, self.key.path)
        try:
            specifier = SpecifierSet(values[0]) if values and values[0].strip() else None
        except InvalidSpecifier:
            specifier = None
        if specifier is None:
            return self.key.nulls_match
        return any(specifier.contains(v, prereleases=True) for v in self.versions)


def compile_lines(raw: str) -> tuple[re.Pattern[str], ...]:
    """One regular expression a line (blank lines skipped), compiled; ``ValueError`` names
    the first that does not compile."""
    patterns = []
    for line in (line.strip() for line in raw.splitlines()):
        if not line:
            continue
        try:
            patterns.append(re.compile(line))
        except (re.error, OverflowError, RecursionError) as exc:  # a{99999999999}, ((((...
            raise ValueError(f"bad regular expression {line!r:.80}: {exc}") from None
    return tuple(patterns)


def regex_rules(
    section: str,
    values: Mapping[str, tuple[re.Pattern[str], ...]],
    roots: Mapping[str, frozenset[str] | None],
) -> tuple[RegexRule, ...]:
    """Each key with its (compiled) patterns as a rule; a key without patterns says nothing."""
    return tuple(
        RegexRule(parse_key(section, key, roots), patterns)
        for key, patterns in values.items()
        if patterns
    )


def version_rules(
    section: str, raw: Mapping[str, str], roots: Mapping[str, frozenset[str] | None]
) -> tuple[VersionRule, ...]:
    rules: list[VersionRule] = []
    for key, value in raw.items():
        versions: list[Version] = []
        for line in (line.strip() for line in value.splitlines()):
            if not line:
                continue
            try:
                versions.append(Version(line))
            except InvalidVersion:
                raise ConfigError(section, key, line, "not a version, e.g. 3.12") from None
        if not versions:
            continue
        rules.append(VersionRule(parse_key(section, key, roots, modes=False), tuple(versions)))
    return tuple(rules)


PROJECT_ROOTS: Mapping[str, frozenset[str] | None] = {"info": None, "last_serial": None}
"""What ``regex_project_metadata`` keys can read."""

FILE_FIELDS = frozenset(
    {
        "filename",
        "url",
        "packagetype",
        "python_version",
        "size",
        "digests",
        "md5_digest",
        "requires_python",
        "yanked",
        "yanked_reason",
        "upload_time",
        "upload_time_iso_8601",
    }
)
"""The ``release_file`` fields a key can read (JSON API names)."""
FILE_ROOTS: Mapping[str, frozenset[str] | None] = {
    "info": None,
    "release": None,
    "release_file": FILE_FIELDS,
}
"""What ``regex_release_file_metadata`` and ``version_range_release_file_metadata`` keys
can read."""
