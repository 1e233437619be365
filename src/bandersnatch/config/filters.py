"""``[plugins]`` and the filter sections: the sections table -> a typed ``FilterConfig``.

The one parser of the filter settings: every key of a section a enabled plugin reads is
parsed here, once, into the typed records of ``records`` (requirement lines into pins,
patterns compiled, sizes and counts into numbers, platform tokens and metadata rules into
``rules``); ``filters`` applies them and parses nothing. The keys of a section no enabled
plugin reads are only checked. Also owns which section names a config may have at all.
"""

from __future__ import annotations

import configparser
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..rules.matching import (
    FILE_ROOTS,
    PROJECT_ROOTS,
    RegexRule,
    VersionRule,
    regex_rules,
    version_rules,
)
from ..rules.pins import PinLines, config_pins
from ..rules.platforms import PlatformRule, parse_platforms
from .records import (
    KNOWN_PLUGINS,
    Allowlist,
    Blocklist,
    FilterConfig,
    LatestRelease,
    RegexFilter,
    VersionsCount,
    frozen_sections,
    installed_plugins,
)
from .values import (
    Parse,
    byte_size,
    choice,
    did_you_mean,
    integer,
    parse_value,
    regex_lines,
    unknown_key,
)

logger = logging.getLogger("bandersnatch.config")  # the name the single-module config logged as


@dataclass(frozen=True)
class _Section:
    """A filter section: its keys (None: free-form, any key) and the plugins that read it."""

    keys: Mapping[str, Parse | None] | None
    plugins: tuple[str, ...]


_KEEP = integer(0)
_COUNT = integer(0)
_SORT_BY = choice({"version": "version", "time": "time"})

_FILTER_SECTIONS: dict[str, _Section] = {
    "allowlist": _Section(
        {"packages": None, "requirements_path": None, "requirements": None},
        (
            "allowlist_project",
            "allowlist_release",
            "project_requirements",
            "project_requirements_pinned",
            "size_project_metadata",
        ),
    ),
    "blocklist": _Section(
        {"packages": None, "platforms": None},
        ("blocklist_project", "blocklist_release", "exclude_platform"),
    ),
    "filter_prerelease": _Section({"packages": None}, ("prerelease_release",)),
    "filter_regex": _Section(
        {"packages": regex_lines, "releases": regex_lines}, ("regex_project", "regex_release")
    ),
    "latest_release": _Section(
        {"keep": _KEEP, "sort_by": _SORT_BY},
        ("latest_release",),
    ),
    "size_project_metadata": _Section({"max_package_size": byte_size}, ("size_project_metadata",)),
    "versions_count_project_metadata": _Section(
        {"min_versions": _COUNT, "max_versions": _COUNT},
        ("versions_count_project_metadata",),
    ),
    "regex_project_metadata": _Section(None, ("regex_project_metadata",)),
    "regex_release_file_metadata": _Section(None, ("regex_release_file_metadata",)),
    "version_range_release_file_metadata": _Section(None, ("version_range_release_file_metadata",)),
}
"""Filter section name -> its keys and plugins (``[plugins]`` and ``[mirror]`` are apart)."""

_REGEX_SECTIONS = ("regex_project_metadata", "regex_release_file_metadata")
"""Free-form sections whose every value is a list of regular expressions."""

_ALLOWLISTS = {
    "allowlist_project": "packages",
    "allowlist_release": "packages",
    "project_requirements": "requirements",
    "project_requirements_pinned": "requirements",
}
"""The plugins that make an allowlist of projects, and the ``[allowlist]`` key each reads."""


def read_plugins(parser: configparser.ConfigParser) -> tuple[str, ...]:
    """``[plugins] enabled``: known names, ``all`` expanded, duplicates dropped."""
    if not parser.has_section("plugins"):
        return ()
    for key, raw in parser.items("plugins"):
        if key != "enabled":
            raise unknown_key("plugins", key, raw, ("enabled",))
    names = _plugin_words(parser)
    third_party: tuple[str, ...] = ()
    if set(names) - set(KNOWN_PLUGINS):  # "all" or a third-party name: look them up
        third_party = tuple(installed_plugins())
    for name in names:
        if name != "all" and name not in KNOWN_PLUGINS and name not in third_party:
            known = (*KNOWN_PLUGINS, *third_party)
            hint = did_you_mean(name, known) or "; see default.conf for the names"
            raise ConfigError("plugins", "enabled", name, "unknown filter plugin" + hint)
    if "all" in names:
        return (*KNOWN_PLUGINS, *sorted(third_party))
    return tuple(dict.fromkeys(names))


def _plugin_words(parser: configparser.ConfigParser) -> list[str]:
    return [
        word
        for line in parser.get("plugins", "enabled", fallback="").splitlines()
        for word in line.split("#", 1)[0].split()
    ]


def check_sections(parser: configparser.ConfigParser, enabled: tuple[str, ...]) -> None:
    """Every section is known: ``[mirror]``, ``[plugins]``, a filter's or an enabled
    third-party plugin's (named like the plugin)."""
    plugins = [name for name in enabled if name not in KNOWN_PLUGINS]
    known = ["mirror", "plugins", "s3", *_FILTER_SECTIONS, *plugins]
    for name in parser.sections():
        if name == "DEFAULT":
            logger.warning("config: [DEFAULT] is ignored; put each key in its own section")
        elif name == "swift":
            reason = "the swift storage backend is not available yet; use filesystem or s3"
            raise ConfigError(name, None, None, reason)
        elif name not in known:
            hint = did_you_mean(name, known) or "; known sections: " + ", ".join(known)
            raise ConfigError(name, None, None, "unknown section" + hint)


@dataclass(frozen=True)
class _Read:
    """A filter section as written, and each of its keys that has a parser, parsed."""

    raw: dict[str, str]
    parsed: dict[str, Any]

    def get(self, key: str, default: Any) -> Any:
        return self.parsed.get(key, default)


def _filter_section(parser: configparser.ConfigParser, name: str) -> _Read:
    """Check one filter section's keys and parse its values (each once)."""
    spec = _FILTER_SECTIONS[name]
    raw_values = dict(parser.items(name))
    parsed: dict[str, Any] = {}
    for key, raw in raw_values.items():
        if spec.keys is None:
            if name in _REGEX_SECTIONS:
                parsed[key] = parse_value(name, key, raw, regex_lines)
            continue
        if key not in spec.keys:
            raise unknown_key(name, key, raw, spec.keys)
        parse = spec.keys[key]
        if parse is not None and raw.strip():
            parsed[key] = parse_value(name, key, raw, parse)
    return _Read(raw_values, parsed)


def _warn_unused(
    sections: Mapping[str, Mapping[str, str]], enabled: tuple[str, ...], enabled_all: bool
) -> None:
    for name in sections:
        if name in _FILTER_SECTIONS and not set(_FILTER_SECTIONS[name].plugins) & set(enabled):
            plugins = ", ".join(_FILTER_SECTIONS[name].plugins)
            logger.warning("config: [%s] has no effect: enable %s in [plugins]", name, plugins)
    allowlist = sections.get("allowlist", {})
    active = [plugin for plugin in enabled if plugin in _ALLOWLISTS]
    if (
        active
        and not enabled_all
        and not any(allowlist.get(_ALLOWLISTS[p], "").strip() for p in active)
    ):
        logger.warning(
            "config: %s enabled but [allowlist] lists nothing: nothing will be mirrored",
            ", ".join(active),
        )


def read_filters(parser: configparser.ConfigParser, enabled: tuple[str, ...]) -> FilterConfig:
    """The filter sections (and enabled third-party plugins' sections), parsed."""
    plugins = {name for name in enabled if name not in KNOWN_PLUGINS}
    read = {
        name: _filter_section(parser, name)
        for name in parser.sections()
        if name in _FILTER_SECTIONS
    }
    sections = {
        name: read[name].raw if name in read else dict(parser[name])
        for name in parser.sections()
        if name in read or name in plugins
    }
    enabled_all = "all" in _plugin_words(parser)
    _warn_unused(sections, enabled, enabled_all)
    on = set(enabled)
    none = _Read({}, {})

    def section(name: str) -> _Read:
        return read.get(name, none)

    def raw(name: str, key: str) -> str:
        return section(name).raw.get(key, "")

    allowlist = _allowlist(section("allowlist").raw)
    blocklist = Blocklist(
        config_pins("blocklist", "packages", raw("blocklist", "packages")),
        parse_platforms(raw("blocklist", "platforms"))
        if "exclude_platform" in on
        else PlatformRule(),
    )
    prerelease = PinLines()
    if "prerelease_release" in on:
        prerelease = config_pins(
            "filter_prerelease", "packages", raw("filter_prerelease", "packages")
        )
    regex = section("filter_regex")
    latest = section("latest_release")
    return FilterConfig(
        enabled=enabled,
        enabled_all=enabled_all,
        allowlist=allowlist,
        blocklist=blocklist,
        prerelease=prerelease,
        regex=RegexFilter(regex.get("packages", ()), regex.get("releases", ())),
        latest=LatestRelease(latest.get("keep", 0), latest.get("sort_by", "version")),
        max_package_size=section("size_project_metadata").get("max_package_size", 0),
        versions_count=_versions_count(
            section("versions_count_project_metadata"), "versions_count_project_metadata" in on
        ),
        project_metadata=_metadata_rules(on, section, "regex_project_metadata", PROJECT_ROOTS),
        file_metadata=(
            *_metadata_rules(on, section, "regex_release_file_metadata", FILE_ROOTS),
            *_version_rules(on, section, "version_range_release_file_metadata"),
        ),
        written=frozen_sections(sections),
    )


def _allowlist(section: Mapping[str, str]) -> Allowlist:
    lines = section.get("requirements", "").splitlines()
    requirements = (line.split("#", 1)[0].strip() for line in lines)
    return Allowlist(
        packages=config_pins("allowlist", "packages", section.get("packages", "")),
        requirements_path=Path(section.get("requirements_path", "").strip() or "."),
        requirements=tuple(text for text in requirements if text),
    )


def _versions_count(section: _Read, enabled: bool) -> VersionsCount:
    low, high = section.get("min_versions", 0), section.get("max_versions", 0)
    if enabled and high and low > high:
        reason = f"min_versions = {low} is greater than max_versions = {high}"
        raise ConfigError("versions_count_project_metadata", "min_versions", str(low), reason)
    return VersionsCount(low, high)


def _metadata_rules(
    on: set[str],
    section: Callable[[str], _Read],
    name: str,
    roots: Mapping[str, frozenset[str] | None],
) -> tuple[RegexRule, ...]:
    return regex_rules(name, section(name).parsed, roots) if name in on else ()


def _version_rules(
    on: set[str], section: Callable[[str], _Read], name: str
) -> tuple[VersionRule, ...]:
    return version_rules(name, section(name).raw, FILE_ROOTS) if name in on else ()
