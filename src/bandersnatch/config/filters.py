"""``[plugins]`` and the filter sections: the sections table -> a checked ``FilterConfig``.

Filter sections are checked for known keys and well-formed values here; what the values mean
is up to ``bandersnatch.filters``. Also owns which section names a config may have at all.
"""

from __future__ import annotations

import configparser
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement

from ..errors import ConfigError
from ..models import ProjectName, normalize
from .records import KNOWN_PLUGINS, FilterConfig, installed_plugins
from .values import (
    Parse,
    choice,
    did_you_mean,
    integer,
    parse_value,
    regex_lines,
    size,
    unknown_key,
)

logger = logging.getLogger("bandersnatch.config")  # the name the single-module config logged as


@dataclass(frozen=True)
class _Section:
    """A filter section: its keys (None: free-form, any key) and the plugins that read it."""

    keys: Mapping[str, Parse | None] | None
    plugins: tuple[str, ...]


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
        {"keep": integer(0), "sort_by": choice({"version": "version", "time": "time"})},
        ("latest_release",),
    ),
    "size_project_metadata": _Section({"max_package_size": size}, ("size_project_metadata",)),
    "versions_count_project_metadata": _Section(
        {"min_versions": integer(0), "max_versions": integer(0)},
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


def _filter_section(parser: configparser.ConfigParser, name: str) -> dict[str, str]:
    """Check one filter section's keys and values; return its raw key/values."""
    spec = _FILTER_SECTIONS[name]
    raw_values = dict(parser.items(name))
    for key, raw in raw_values.items():
        if spec.keys is None:
            if name in _REGEX_SECTIONS:
                parse_value(name, key, raw, regex_lines)
            continue
        if key not in spec.keys:
            raise unknown_key(name, key, raw, spec.keys)
        parse = spec.keys[key]
        if parse is not None and raw.strip():
            parse_value(name, key, raw, parse)
    return raw_values


def _requirement_lines(
    section: str, key: str, raw: str
) -> tuple[tuple[str, ...], frozenset[ProjectName]]:
    """Non-empty lines without ``#`` comments, and their normalized project names."""
    lines: list[str] = []
    names: set[ProjectName] = set()
    for line in raw.splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            reason = "not a project name or requirement: " + str(exc).splitlines()[0]
            raise ConfigError(section, key, text, reason) from exc
        lines.append(text)
        names.add(normalize(requirement.name))
    return tuple(dict.fromkeys(lines)), frozenset(names)


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
    """The filter sections (and enabled third-party plugins' sections), checked."""
    plugins = {name for name in enabled if name not in KNOWN_PLUGINS}
    sections = {
        name: _filter_section(parser, name) if name in _FILTER_SECTIONS else dict(parser[name])
        for name in parser.sections()
        if name in _FILTER_SECTIONS or name in plugins
    }
    enabled_all = "all" in _plugin_words(parser)
    _warn_unused(sections, enabled, enabled_all)
    if "packages" in sections.get("blocklist", {}):
        _requirement_lines("blocklist", "packages", sections["blocklist"]["packages"])
    lines, names = _requirement_lines(
        "allowlist", "packages", sections.get("allowlist", {}).get("packages", "")
    )
    return FilterConfig(
        enabled=enabled,
        allowlist_packages=lines,
        allowlist_names=names,
        sections=sections,
        enabled_all=enabled_all,
    )
