"""The INI config, read once into a frozen, validated ``Config``.

Defaults live in one place: the field defaults of the dataclasses below. The shipped
``default.conf`` documents every key and a test proves it parses to these defaults.

``load`` is the only reader. It accepts every key spelling pypa/bandersnatch accepts, checks
every value, and turns each problem into a ``ConfigError`` that names the section, the key
and the value. Filter sections are checked for known keys and well-formed values here; what
the values mean is up to ``filters/``.
"""

from __future__ import annotations

import configparser
import difflib
import importlib.metadata
import importlib.resources
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement

from .errors import ConfigError
from .models import ProjectName, SimpleFormat, normalize

logger = logging.getLogger(__name__)

CompareMethod = Literal["hash", "stat"]
ChangeFeed = Literal["xmlrpc", "simple"]


@dataclass(frozen=True)
class MirrorConfig:
    directory: Path
    master: str = "https://pypi.org"
    json: bool = False
    release_files: bool = True
    core_metadata: bool = True
    timeout: float = 10.0
    global_timeout: float = 1800.0
    workers: int = 3
    verifiers: int = 3
    hash_index: bool = False
    simple_format: SimpleFormat = SimpleFormat.ALL
    stop_on_error: bool = False
    compare_method: CompareMethod = "hash"
    digest_name: str = "sha256"
    root_uri: str | None = None
    diff_file: Path | None = None
    diff_append_epoch: bool = False
    download_mirror: str | None = None
    download_mirror_no_fallback: bool = False
    allow_non_https: bool = False
    proxy: str | None = None
    log_config: Path | None = None
    storage_backend: str = "filesystem"
    cleanup: bool = False
    keep_index_versions: int = 0
    change_feed: ChangeFeed = "xmlrpc"
    cache_bust: bool = True
    max_deletions: int = 1000
    prune_filtered: bool = True
    retries: int = 3
    retry_backoff: float = 1.0


@dataclass(frozen=True)
class FilterConfig:
    """``[plugins]`` and the filter sections, validated but interpreted by ``filters/``."""

    enabled: tuple[str, ...] = ()
    allowlist_packages: tuple[str, ...] = ()
    """Raw allowlist lines (may carry PEP 508 specifiers)."""
    allowlist_names: frozenset[ProjectName] = frozenset()
    """Normalized project names from ``[allowlist] packages``."""
    sections: dict[str, dict[str, str]] = field(default_factory=dict)
    """Every filter section's raw key/values, for the filter plugins to interpret."""
    enabled_all: bool = False
    """``[plugins] enabled`` says ``all``: an allowlist with nothing listed is then inert
    (enabled by name, it allows nothing)."""

    @property
    def allowlist_enabled(self) -> bool:
        return "allowlist_project" in self.enabled


@dataclass(frozen=True)
class Config:
    mirror: MirrorConfig
    filters: FilterConfig
    path: Path | None = None


KNOWN_PLUGINS: tuple[str, ...] = (
    "allowlist_project",
    "allowlist_release",
    "blocklist_project",
    "blocklist_release",
    "project_requirements",
    "project_requirements_pinned",
    "regex_project",
    "regex_release",
    "prerelease_release",
    "latest_release",
    "exclude_platform",
    "size_project_metadata",
    "versions_count_project_metadata",
    "regex_project_metadata",
    "regex_release_file_metadata",
    "version_range_release_file_metadata",
)
"""The built-in filter plugins; ``all`` expands to these plus the installed third-party ones."""

PLUGIN_GROUP = "bandersnatch.filters"
"""The entry-point group third-party filter plugins register in (see ``filters.plugins``)."""


def installed_plugins() -> dict[str, importlib.metadata.EntryPoint]:
    """Third-party filter plugins by name (a built-in name cannot be taken over)."""
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for point in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        if point.name in KNOWN_PLUGINS:
            logger.warning("filter plugin %s from %s ignored: a built-in has that name",
                           point.name, point.value)  # fmt: skip
        elif point.name in found:
            logger.warning("filter plugin %s: %s ignored, using %s",
                           point.name, point.value, found[point.name].value)  # fmt: skip
        else:
            found[point.name] = point
    return found


_DEFAULT_CONF = "default.conf"
_NO_DEFAULT_SECTION = "bandersnatch: configparser default section (unused)"
_FILES_HOST = "https://files.pythonhosted.org"

# --- value parsers: raw string -> typed value, or ValueError(reason) -----------------------

_Parse = Callable[[str], Any]


def _boolean(raw: str) -> bool:
    states = configparser.ConfigParser.BOOLEAN_STATES
    text = raw.strip().lower()
    if text not in states:
        raise ValueError("not a boolean: use true/false, yes/no, on/off or 1/0")
    return states[text]


def _integer(low: int, high: int | None = None) -> _Parse:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError("not a whole number") from None
        _check_range(value, low, high)
        return value

    return parse


def _number(low: float, high: float | None = None, *, above: bool = False) -> _Parse:
    """A finite float >= low (> low when ``above``) and <= high."""

    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError("not a number") from None
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        if above and value <= low:
            raise ValueError(f"must be greater than {low:g}")
        _check_range(value, low, high)
        return value

    return parse


def _check_range(value: float, low: float, high: float | None) -> None:
    if high is not None and not low <= value <= high:
        raise ValueError(f"must be between {low:g} and {high:g}")
    if value < low:
        raise ValueError(f"must be {low:g} or more")


def _choice(options: Mapping[str, Any]) -> _Parse:
    """Case-insensitive pick from ``options`` (keys in lower case)."""

    def parse(raw: str) -> Any:
        text = raw.strip().lower()
        if text not in options:
            raise ValueError("must be one of " + ", ".join(options))
        return options[text]

    return parse


def _url(schemes: tuple[str, ...]) -> _Parse:
    """An absolute URL with one of ``schemes`` and a host; trailing slashes stripped."""

    def parse(raw: str) -> str:
        text = raw.strip()
        if any(ch.isspace() for ch in text):
            raise ValueError("a URL must not contain whitespace")
        parts = urlsplit(text)
        if parts.scheme.lower() not in schemes:
            raise ValueError("must start with " + " or ".join(f"{s}://" for s in schemes))
        try:
            host, _ = parts.hostname, parts.port
        except ValueError as exc:
            raise ValueError(f"not a valid URL: {exc}") from None
        if not host:
            raise ValueError("the URL has no host name")
        if parts.query or parts.fragment:
            raise ValueError("the URL must not have a query string or fragment")
        return text.rstrip("/")

    return parse


def _absolute_path(raw: str) -> Path:
    path = _path(raw)
    if not path.is_absolute():
        raise ValueError("must be an absolute path (starting with /)")
    return path


def _path(raw: str) -> Path:
    text = raw.strip()
    if "\0" in text:
        raise ValueError("a path must not contain NUL characters")
    return Path(text)


def _existing_file(raw: str) -> Path:
    path = _path(raw)
    if not path.is_file():
        raise ValueError("no such file (it is read at start-up)")
    return path


def _storage_backend(raw: str) -> str:
    if raw.strip().lower() != "filesystem":
        raise ValueError("only 'filesystem' is supported: other backends are not available yet")
    return "filesystem"


_HTTP = ("http", "https")
_PROXY = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")
_CHANGE_FEED = _choice({"xmlrpc": "xmlrpc", "simple": "simple"})
_KEEP_INDEX = _integer(0)

_MIRROR_KEYS: dict[str, tuple[str, _Parse]] = {
    "directory": ("directory", _absolute_path),
    "master": ("master", _url(_HTTP)),
    "json": ("json", _boolean),
    "release-files": ("release_files", _boolean),
    "core-metadata": ("core_metadata", _boolean),
    "timeout": ("timeout", _number(0.0, above=True)),
    "global-timeout": ("global_timeout", _number(0.0, above=True)),
    "workers": ("workers", _integer(1, 10)),
    "verifiers": ("verifiers", _integer(1, 10)),
    "hash-index": ("hash_index", _boolean),
    "simple-format": ("simple_format", _choice({f.value.lower(): f for f in SimpleFormat})),
    "stop-on-error": ("stop_on_error", _boolean),
    "compare-method": ("compare_method", _choice({"hash": "hash", "stat": "stat"})),
    "digest_name": ("digest_name", _choice({d: d for d in ("sha256", "md5", "blake2b_256")})),
    "root_uri": ("root_uri", _url(_HTTP)),
    "diff-file": ("diff_file", _path),
    "diff-append-epoch": ("diff_append_epoch", _boolean),
    "download-mirror": ("download_mirror", _url(_HTTP)),
    "download-mirror-no-fallback": ("download_mirror_no_fallback", _boolean),
    "allow-non-https": ("allow_non_https", _boolean),
    "proxy": ("proxy", _url(_PROXY)),
    "log-config": ("log_config", _existing_file),
    "storage-backend": ("storage_backend", _storage_backend),
    "cleanup": ("cleanup", _boolean),
    "keep_index_versions": ("keep_index_versions", _KEEP_INDEX),
    "keep-index-versions": ("keep_index_versions", _KEEP_INDEX),
    "change-feed": ("change_feed", _CHANGE_FEED),
    "api-method": ("change_feed", _CHANGE_FEED),
    "cache-bust": ("cache_bust", _boolean),
    "max-deletions": ("max_deletions", _integer(0)),
    "prune-filtered": ("prune_filtered", _boolean),
    "retries": ("retries", _integer(0, 20)),
    "retry-backoff": ("retry_backoff", _number(0.0)),
}
"""INI key (pypa/bandersnatch spelling, aliases included) -> (MirrorConfig field, parser)."""

_OPTIONAL = frozenset({"root_uri", "diff_file", "download_mirror", "proxy", "log_config"})
"""Fields whose empty value means None."""


def _regex_lines(raw: str) -> list[str]:
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    for line in lines:
        try:
            re.compile(line)
        except re.error as exc:
            raise ValueError(f"bad regular expression {line!r}: {exc}") from None
    return lines


_SIZE = re.compile(r"\d+(\.\d+)?\s*([kmgtpe]i?b?|b|bytes?)?", re.IGNORECASE)


def _size(raw: str) -> str:
    if not _SIZE.fullmatch(raw.strip()):
        raise ValueError("not a size: use bytes or a number with a unit, e.g. 500M or 2GiB")
    return raw.strip()


@dataclass(frozen=True)
class _Section:
    """A filter section: its keys (None: free-form, any key) and the plugins that read it."""

    keys: Mapping[str, _Parse | None] | None
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
        {"packages": _regex_lines, "releases": _regex_lines}, ("regex_project", "regex_release")
    ),
    "latest_release": _Section(
        {"keep": _integer(0), "sort_by": _choice({"version": "version", "time": "time"})},
        ("latest_release",),
    ),
    "size_project_metadata": _Section({"max_package_size": _size}, ("size_project_metadata",)),
    "versions_count_project_metadata": _Section(
        {"min_versions": _integer(0), "max_versions": _integer(0)},
        ("versions_count_project_metadata",),
    ),
    "regex_project_metadata": _Section(None, ("regex_project_metadata",)),
    "regex_release_file_metadata": _Section(None, ("regex_release_file_metadata",)),
    "version_range_release_file_metadata": _Section(None, ("version_range_release_file_metadata",)),
}
"""Filter section name -> its keys and plugins (``[plugins]`` and ``[mirror]`` are apart)."""

_REGEX_SECTIONS = ("regex_project_metadata", "regex_release_file_metadata")
"""Free-form sections whose every value is a list of regular expressions."""


# --- reading ----------------------------------------------------------------------------


class _IniParser(configparser.ConfigParser):
    """Strict, no interpolation, ``=`` only, case-kept keys: as pypa/bandersnatch reads.

    ``:`` is not a delimiter because metadata filter keys contain it (``not-null:info.x``).
    configparser's DEFAULT section is not special here: a ``[DEFAULT]`` is read and ignored.
    """

    def __init__(self) -> None:
        super().__init__(
            interpolation=None,
            strict=True,
            delimiters=("=",),
            default_section=_NO_DEFAULT_SECTION,
        )

    def optionxform(self, optionstr: str) -> str:
        return optionstr


def _read(path: Path) -> configparser.ConfigParser:
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(where, None, None, f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(where, None, None, f"not UTF-8 text: {exc}") from exc
    parser = _IniParser()
    try:
        parser.read_string(text, source=where)
    except configparser.DuplicateOptionError as exc:
        reason = f"key given twice in the section ({where} line {exc.lineno})"
        raise ConfigError(exc.section, exc.option, None, reason) from exc
    except configparser.DuplicateSectionError as exc:
        reason = f"section given twice ({where} line {exc.lineno})"
        raise ConfigError(exc.section, None, None, reason) from exc
    except configparser.MissingSectionHeaderError as exc:
        reason = f"line {exc.lineno} {exc.line.strip()!r} comes before any [section] header"
        raise ConfigError(where, None, None, reason) from exc
    except configparser.ParsingError as exc:
        lineno = exc.errors[0][0]
        line = text.splitlines()[lineno - 1].strip()
        reason = f"line {lineno} {line!r} is not 'key = value' nor an indented continuation"
        raise ConfigError(where, None, None, reason) from exc
    except configparser.Error as exc:
        raise ConfigError(where, None, None, f"cannot parse: {exc}") from exc
    return parser


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the nearest choice, ignoring case and ``-``/``_``."""
    by_form = {choice.lower().replace("_", "-"): choice for choice in choices}
    form = word.lower().replace("_", "-").replace("whitelist", "allowlist")
    form = form.replace("blacklist", "blocklist")  # the names before pypa/bandersnatch 5
    close = difflib.get_close_matches(form, list(by_form), n=1, cutoff=0.6)
    return f"; did you mean {by_form[close[0]]!r}?" if close else ""


def _unknown_key(section: str, key: str, raw: str, valid: Iterable[str]) -> ConfigError:
    valid = list(valid)
    hint = _did_you_mean(key, valid)
    if not hint:
        hint = "; valid keys: " + ", ".join(valid) if len(valid) <= 6 else "; see default.conf"
    return ConfigError(section, key, raw, "unknown key" + hint)


def _parse(section: str, key: str, raw: str, parse: _Parse) -> Any:
    try:
        return parse(raw)
    except ValueError as exc:
        hint = ""
        if ";" in raw or "#" in raw:
            hint = " (comments must be on their own line, not after a value)"
        raise ConfigError(section, key, raw, f"{exc}{hint}") from None


# --- [mirror] -----------------------------------------------------------------------------


_REFERENCE = re.compile(r"\{\{\s*([^_\s{}]+)\s*_\s*([^{}]*?)\s*\}\}")


def _expand_references(parser: configparser.ConfigParser, key: str, raw: str) -> str:
    """pypa/bandersnatch's ``{{section_option}}`` references in ``diff-file``."""

    def lookup(match: re.Match[str]) -> str:
        section, option = match.group(1), match.group(2)
        if not parser.has_option(section, option):
            reason = f"refers to [{section}] {option}, which is not set"
            raise ConfigError("mirror", key, raw, reason)
        return parser.get(section, option)

    return _REFERENCE.sub(lookup, raw)


def _mirror_value(parser: configparser.ConfigParser, key: str, raw: str) -> tuple[str, Any]:
    """One ``[mirror]`` key -> (MirrorConfig field, parsed value)."""
    if key not in _MIRROR_KEYS:
        raise _unknown_key("mirror", key, raw, _MIRROR_KEYS)
    name, parse = _MIRROR_KEYS[key]
    text = _expand_references(parser, key, raw) if key == "diff-file" else raw
    if text.strip():
        return name, _parse("mirror", key, text, parse)
    if name in _OPTIONAL:
        return name, None
    raise ConfigError("mirror", key, raw, "empty value; remove the line to get the default")


def _mirror_values(parser: configparser.ConfigParser) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse every ``[mirror]`` key: (field -> value, field -> the key that set it)."""
    values: dict[str, Any] = {}
    keys: dict[str, str] = {}
    for key, raw in parser.items("mirror"):
        name, value = _mirror_value(parser, key, raw)
        if name in values and values[name] != value:
            first = keys[name]
            reason = f"conflicts with {first} = {parser.get('mirror', first)!r}; keep only one"
            raise ConfigError("mirror", key, raw, reason)
        values[name] = value
        keys[name] = key
    return values, keys


def _check_https(values: Mapping[str, Any], keys: Mapping[str, str]) -> None:
    if values.get("allow_non_https"):
        return
    for name in ("master", "download_mirror"):
        url = values.get(name)
        if isinstance(url, str) and url.lower().startswith("http://"):
            reason = "plain http is refused; use https:// or set allow-non-https = true"
            raise ConfigError("mirror", keys[name], url, reason)


def _mirror(parser: configparser.ConfigParser, path: Path) -> MirrorConfig:
    if not parser.has_section("mirror"):
        raise ConfigError("mirror", None, None, f"{path} has no [mirror] section")
    values, keys = _mirror_values(parser)
    if "directory" not in values:
        raise ConfigError("mirror", "directory", None, "required: where the mirror lives")
    _check_https(values, keys)
    if values.get("release_files") is False and not values.get("root_uri"):
        logger.warning(
            "[mirror] release-files = false without root_uri: pages will link to %s",
            _FILES_HOST,
        )
        values["root_uri"] = _FILES_HOST
    if values.get("download_mirror_no_fallback") and not values.get("download_mirror"):
        logger.warning("[mirror] download-mirror-no-fallback ignored: no download-mirror set")
        values["download_mirror_no_fallback"] = False
    return MirrorConfig(**values)


# --- [plugins] and the filter sections ------------------------------------------------------


def _plugins(parser: configparser.ConfigParser) -> tuple[str, ...]:
    if not parser.has_section("plugins"):
        return ()
    for key, raw in parser.items("plugins"):
        if key != "enabled":
            raise _unknown_key("plugins", key, raw, ("enabled",))
    names = _plugin_words(parser)
    third_party: tuple[str, ...] = ()
    if set(names) - set(KNOWN_PLUGINS):  # "all" or a third-party name: look them up
        third_party = tuple(installed_plugins())
    for name in names:
        if name != "all" and name not in KNOWN_PLUGINS and name not in third_party:
            known = (*KNOWN_PLUGINS, *third_party)
            hint = _did_you_mean(name, known) or "; see default.conf for the names"
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


def _check_sections(parser: configparser.ConfigParser, enabled: tuple[str, ...]) -> None:
    """Every section is known: ``[mirror]``, ``[plugins]``, a filter's or an enabled
    third-party plugin's (named like the plugin)."""
    plugins = [name for name in enabled if name not in KNOWN_PLUGINS]
    known = ["mirror", "plugins", *_FILTER_SECTIONS, *plugins]
    for name in parser.sections():
        if name == "DEFAULT":
            logger.warning("config: [DEFAULT] is ignored; put each key in its own section")
        elif name in ("s3", "swift"):
            reason = "storage backend sections are unused: other backends are not available yet"
            raise ConfigError(name, None, None, reason)
        elif name not in known:
            hint = _did_you_mean(name, known) or "; known sections: " + ", ".join(known)
            raise ConfigError(name, None, None, "unknown section" + hint)


def _filter_section(parser: configparser.ConfigParser, name: str) -> dict[str, str]:
    """Check one filter section's keys and values; return its raw key/values."""
    spec = _FILTER_SECTIONS[name]
    raw_values = dict(parser.items(name))
    for key, raw in raw_values.items():
        if spec.keys is None:
            if name in _REGEX_SECTIONS:
                _parse(name, key, raw, _regex_lines)
            continue
        if key not in spec.keys:
            raise _unknown_key(name, key, raw, spec.keys)
        parse = spec.keys[key]
        if parse is not None and raw.strip():
            _parse(name, key, raw, parse)
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


_ALLOWLISTS = {
    "allowlist_project": "packages",
    "allowlist_release": "packages",
    "project_requirements": "requirements",
    "project_requirements_pinned": "requirements",
}
"""The plugins that make an allowlist of projects, and the ``[allowlist]`` key each reads."""


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


def _filters(parser: configparser.ConfigParser, enabled: tuple[str, ...]) -> FilterConfig:
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


# --- public API ---------------------------------------------------------------------------


def load(path: Path) -> Config:
    """Read and validate the config at ``path``; every problem is a ``ConfigError``."""
    path = Path(path)
    parser = _read(path)
    enabled = _plugins(parser)
    _check_sections(parser, enabled)
    mirror = _mirror(parser, path)
    return Config(mirror=mirror, filters=_filters(parser, enabled), path=path)


def default_config_text() -> str:
    """The shipped ``default.conf``: every key, its default and what it does."""
    resource = importlib.resources.files("bandersnatch").joinpath(_DEFAULT_CONF)
    return resource.read_text(encoding="utf-8")


def write_default(path: Path) -> bool:
    """Write the shipped ``default.conf`` to ``path`` (creating parent directories).

    Never overwrites an existing file. Returns False (and logs why) when it could not write.
    """
    path = Path(path)
    try:
        text = default_config_text()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        logger.error("could not write a default config to %s: %s", path, exc)
        return False
    return True
