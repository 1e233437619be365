"""The ``[mirror]`` section: its key table (every pypa/bandersnatch spelling) -> ``MirrorConfig``.

Besides parsing each key, this refuses plain http unless allowed, expands ``{{section_option}}``
references in ``diff-file`` and settles the keys that only mean something together.
"""

from __future__ import annotations

import configparser
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ConfigError
from ..models import CompareMethod, FeedKind, SimpleFormat
from .records import MirrorConfig
from .values import (
    Parse,
    absolute_path,
    absolute_url,
    any_path,
    boolean,
    byte_size,
    choice,
    existing_file,
    host_list,
    integer,
    number,
    parse_value,
    storage_backend,
    unknown_key,
)

logger = logging.getLogger("bandersnatch.config")  # the name the single-module config logged as

_FILES_HOST = "https://files.pythonhosted.org"
_HTTP = ("http", "https")
_PROXY = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")
_CHANGE_FEED = choice({kind.value: kind for kind in FeedKind})
_KEEP_INDEX = integer(0)

MIRROR_KEYS: dict[str, tuple[str, Parse]] = {
    "directory": ("directory", absolute_path),
    "master": ("master", absolute_url(_HTTP)),
    "json": ("json", boolean),
    "release-files": ("release_files", boolean),
    "core-metadata": ("core_metadata", boolean),
    "timeout": ("timeout", number(0.0, above=True)),
    "global-timeout": ("global_timeout", number(0.0, above=True)),
    "workers": ("workers", integer(1, 10)),
    "verifiers": ("verifiers", integer(1, 10)),
    "hash-index": ("hash_index", boolean),
    "simple-format": ("simple_format", choice({f.value.lower(): f for f in SimpleFormat})),
    "stop-on-error": ("stop_on_error", boolean),
    "compare-method": ("compare_method", choice({m.value: m for m in CompareMethod})),
    "digest_name": ("digest_name", choice({d: d for d in ("sha256", "md5", "blake2b_256")})),
    "root_uri": ("root_uri", absolute_url(_HTTP)),
    "diff-file": ("diff_file", any_path),
    "diff-append-epoch": ("diff_append_epoch", boolean),
    "download-mirror": ("download_mirror", absolute_url(_HTTP)),
    "download-mirror-no-fallback": ("download_mirror_no_fallback", boolean),
    "allow-non-https": ("allow_non_https", boolean),
    "proxy": ("proxy", absolute_url(_PROXY)),
    "log-config": ("log_config", existing_file),
    "storage-backend": ("storage_backend", storage_backend),
    "cleanup": ("cleanup", boolean),
    "keep_index_versions": ("keep_index_versions", _KEEP_INDEX),
    "keep-index-versions": ("keep_index_versions", _KEEP_INDEX),
    "change-feed": ("change_feed", _CHANGE_FEED),
    "api-method": ("change_feed", _CHANGE_FEED),
    "metadata-source": ("metadata_source", choice({v: v for v in ("json", "simple")})),
    "cache-bust": ("cache_bust", boolean),
    "max-deletions": ("max_deletions", integer(0)),
    "prune-filtered": ("prune_filtered", boolean),
    "retries": ("retries", integer(0, 20)),
    "retry-backoff": ("retry_backoff", number(0.0)),
    "file-hosts": ("file_hosts", host_list),
    "max-document-size": ("max_document_size", byte_size),
    "storage-filesystem-manage-permissions": ("manage_permissions", boolean),
    "delete_missing_packages": ("delete_missing_packages", boolean),
    "delete-missing-packages": ("delete_missing_packages", boolean),
    "cleanup_todo": ("cleanup_todo", boolean),
    "cleanup-todo": ("cleanup_todo", boolean),
    "status-file": ("status_file", any_path),
    "metrics-file": ("metrics_file", any_path),
}
"""INI key (pypa/bandersnatch spelling, aliases included) -> (MirrorConfig field, parser)."""

INERT = {
    "cleanup_todo": (
        "a project that no longer exists upstream always leaves the todo here (once upstream's "
        "origin confirms the 404); remove the line"
    ),
}
"""Fields pypa/bandersnatch knows that mean nothing here: accepted, with one warning why."""

_OPTIONAL = frozenset(
    {"root_uri", "diff_file", "download_mirror", "proxy", "log_config", "metadata_source"}
    | {"status_file", "metrics_file"}
)
"""Fields whose empty value means None."""

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
    if key not in MIRROR_KEYS:
        raise unknown_key("mirror", key, raw, MIRROR_KEYS)
    name, parse = MIRROR_KEYS[key]
    text = _expand_references(parser, key, raw) if key == "diff-file" else raw
    if text.strip():
        return name, parse_value("mirror", key, text, parse)
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


def read_mirror(parser: configparser.ConfigParser, path: Path) -> MirrorConfig:
    """The ``[mirror]`` section of the config read from ``path``, checked."""
    if not parser.has_section("mirror"):
        raise ConfigError("mirror", None, None, f"{path} has no [mirror] section")
    values, keys = _mirror_values(parser)
    if "directory" not in values:
        raise ConfigError("mirror", "directory", None, "required: where the mirror lives")
    _check_https(values, keys)
    for name, why in INERT.items():
        if name in values:
            logger.warning("[mirror] %s has no effect: %s", keys[name], why)
            del values[name]
    if values.get("delete_missing_packages") is False:
        logger.warning(
            "[mirror] %s = false: projects removed upstream (malware among them) stay in the "
            "mirror; remove the line to mirror removals within max-deletions",
            keys["delete_missing_packages"],
        )
    if values.get("release_files") is False and not values.get("root_uri"):
        logger.warning(
            "[mirror] release-files = false without root_uri: pages will link to %s",
            _FILES_HOST,
        )
        values["root_uri"] = _FILES_HOST
    if values.get("download_mirror_no_fallback") and not values.get("download_mirror"):
        logger.warning("[mirror] download-mirror-no-fallback ignored: no download-mirror set")
        values["download_mirror_no_fallback"] = False
    return _record(_Values(values))


_T = TypeVar("_T")


class _Values:
    """The parsed ``[mirror]`` values by field, taken out one typed field at a time, so
    ``_record`` builds ``MirrorConfig`` with every argument's type checked (by mypy, and
    here at run time against what the key table's parser returned)."""

    def __init__(self, parsed: Mapping[str, object]) -> None:
        self._parsed = parsed
        self._taken: set[str] = set()

    def get(self, name: str, kind: type[_T], default: _T) -> _T:
        value = self._parsed.get(name, default)
        return self._checked(name, kind, value)

    def optional(self, name: str, kind: type[_T], default: _T | None = None) -> _T | None:
        value = self._parsed.get(name, default)
        self._taken.add(name)
        return None if value is None else self._checked(name, kind, value)

    def _checked(self, name: str, kind: type[_T], value: object) -> _T:
        self._taken.add(name)
        if not isinstance(value, kind):
            raise TypeError(f"[mirror] {name}: parsed as {type(value).__name__}, not {kind}")
        return value

    def untaken(self) -> set[str]:
        return set(self._parsed) - self._taken


_DEFAULT = MirrorConfig(directory=Path("/"))
"""The field defaults (``directory`` has none: it is required)."""


def _record(v: _Values) -> MirrorConfig:
    d = _DEFAULT
    record = MirrorConfig(
        directory=v.get("directory", Path, d.directory),
        master=v.get("master", str, d.master),
        json=v.get("json", bool, d.json),
        release_files=v.get("release_files", bool, d.release_files),
        core_metadata=v.get("core_metadata", bool, d.core_metadata),
        timeout=v.get("timeout", float, d.timeout),
        global_timeout=v.get("global_timeout", float, d.global_timeout),
        workers=v.get("workers", int, d.workers),
        verifiers=v.get("verifiers", int, d.verifiers),
        hash_index=v.get("hash_index", bool, d.hash_index),
        simple_format=v.get("simple_format", SimpleFormat, d.simple_format),
        stop_on_error=v.get("stop_on_error", bool, d.stop_on_error),
        compare_method=v.get("compare_method", CompareMethod, d.compare_method),
        digest_name=v.get("digest_name", str, d.digest_name),
        root_uri=v.optional("root_uri", str, d.root_uri),
        diff_file=v.optional("diff_file", Path, d.diff_file),
        diff_append_epoch=v.get("diff_append_epoch", bool, d.diff_append_epoch),
        download_mirror=v.optional("download_mirror", str, d.download_mirror),
        download_mirror_no_fallback=v.get(
            "download_mirror_no_fallback", bool, d.download_mirror_no_fallback
        ),
        allow_non_https=v.get("allow_non_https", bool, d.allow_non_https),
        proxy=v.optional("proxy", str, d.proxy),
        log_config=v.optional("log_config", Path, d.log_config),
        storage_backend=v.get("storage_backend", str, d.storage_backend),
        cleanup=v.get("cleanup", bool, d.cleanup),
        keep_index_versions=v.get("keep_index_versions", int, d.keep_index_versions),
        change_feed=v.get("change_feed", FeedKind, d.change_feed),
        metadata_source=v.optional("metadata_source", str, d.metadata_source),
        cache_bust=v.get("cache_bust", bool, d.cache_bust),
        max_deletions=v.get("max_deletions", int, d.max_deletions),
        prune_filtered=v.get("prune_filtered", bool, d.prune_filtered),
        retries=v.get("retries", int, d.retries),
        retry_backoff=v.get("retry_backoff", float, d.retry_backoff),
        file_hosts=v.get("file_hosts", tuple, d.file_hosts),
        manage_permissions=v.get("manage_permissions", bool, d.manage_permissions),
        delete_missing_packages=v.get("delete_missing_packages", bool, d.delete_missing_packages),
        max_document_size=v.get("max_document_size", int, d.max_document_size),
        status_file=v.optional("status_file", Path, d.status_file),
        metrics_file=v.optional("metrics_file", Path, d.metrics_file),
    )
    untaken = v.untaken()
    if untaken:  # a key in MIRROR_KEYS whose field _record forgot: a bug, not bad input
        raise TypeError(f"[mirror] fields parsed but not recorded: {', '.join(sorted(untaken))}")
    return record
