"""The INI config, read once into a frozen, validated ``Config``.

``load`` is the only reader. It accepts every key spelling pypa/bandersnatch accepts, checks
every value, and turns each problem into a ``ConfigError`` that names the section, the key
and the value. This module owns reading the INI file and the shipped ``default.conf``
(package data of ``bandersnatch``); the rest is split by what it owns:

- ``records``: the frozen ``Config``/``MirrorConfig``/``FilterConfig`` and the plugin names
- ``values``: the value parsers and the ``ConfigError`` a bad value becomes
- ``mirror``: the ``[mirror]`` key table and its checks
- ``filters``: ``[plugins]``, the filter sections table and which sections may exist
- ``storage``: the ``[s3]`` section, for a mirror on object storage
"""

from __future__ import annotations

import configparser
import importlib.resources
import logging
from pathlib import Path

from ..errors import ConfigError
from .filters import check_sections, read_filters, read_plugins
from .mirror import read_mirror
from .records import (
    KNOWN_PLUGINS,
    PLUGIN_GROUP,
    Config,
    FilterConfig,
    MirrorConfig,
    S3Config,
    installed_plugins,
)
from .storage import read_s3

__all__ = [
    "KNOWN_PLUGINS",
    "PLUGIN_GROUP",
    "Config",
    "FilterConfig",
    "MirrorConfig",
    "S3Config",
    "default_config_text",
    "installed_plugins",
    "load",
    "write_default",
]

logger = logging.getLogger(__name__)

_DEFAULT_CONF = "default.conf"
_NO_DEFAULT_SECTION = "bandersnatch: configparser default section (unused)"


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


def load(path: Path) -> Config:
    """Read and validate the config at ``path``; every problem is a ``ConfigError``."""
    path = Path(path)
    parser = _read(path)
    enabled = read_plugins(parser)
    check_sections(parser, enabled)
    mirror = read_mirror(parser, path)
    s3 = read_s3(parser, mirror.storage_backend)
    return Config(mirror=mirror, filters=read_filters(parser, enabled), path=path, s3=s3)


def default_config_text() -> str:
    """The shipped ``default.conf``: every key, its default and what it does."""
    # default.conf is package data of ``bandersnatch``, not of this ``bandersnatch.config``.
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
