"""``exclude_platform``: drop binary files for platforms or Pythons nobody here uses.

``[blocklist] platforms`` takes pypa/bandersnatch's tokens: platform families (``windows``/
``win``, ``macos``/``macosx``, ``linux``, ``freebsd``; also ``ios``, ``android``), Python
versions (``py2``, ``py3``, ``py2.7``, ``py3.13``, any ``pyX.Y``) and exact platform tags
(``win_amd64``, ``manylinux2014_aarch64``, ``linux-x86_64``...).

Wheels are judged by their tags (``packaging.utils.parse_wheel_filename``), not by
substrings, so new tags need no code change: a wheel is dropped only when *every* tag it
carries is excluded. A tag is excluded when its platform is, or when every Python it runs on
is: ``cp311-cp311`` runs on 3.11 only; ``cp38-abi3`` and ``py38`` on 3.8 and later;
``py3``/``py2.py3`` on a whole major version; ``cp313-cp313t`` (free-threaded) on 3.13.
So ``py2`` never drops a ``py2.py3-none-any`` wheel, and ``py3.8`` never drops an abi3 wheel.

Other binaries (eggs, ``.exe``/``.msi`` installers, ``.dmg``, ``.rpm``, dumb builds) are
judged by package type and by the platform and ``pyX.Y`` parts of their filename after the
version. Sdists are never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from ..errors import ConfigError
from ..models import ReleaseFile

_FAMILY_TOKENS = {
    "windows": "windows",
    "win": "windows",
    "macos": "macos",
    "macosx": "macos",
    "linux": "linux",
    "freebsd": "freebsd",
    "ios": "ios",
    "android": "android",
}
_FAMILY_PREFIXES = (
    ("win", "windows"),
    ("macosx", "macos"),
    ("manylinux", "linux"),
    ("musllinux", "linux"),
    ("linux", "linux"),
    ("freebsd", "freebsd"),
    ("ios", "ios"),
    ("android", "android"),
)
_PACKAGETYPE_FAMILY = {
    "bdist_msi": "windows",
    "bdist_wininst": "windows",
    "bdist_dmg": "macos",
    "bdist_rpm": "linux",
}
_SUFFIX_FAMILY = {".exe": "windows", ".msi": "windows", ".dmg": "macos", ".rpm": "linux"}
_SDIST_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")
_LEGACY_MANYLINUX = {"manylinux1": "manylinux_2_5", "manylinux2010": "manylinux_2_12"}
_LEGACY_MANYLINUX["manylinux2014"] = "manylinux_2_17"
_PYTHON_TOKEN = re.compile(r"py(\d)(?:\.(\d+))?")
_INTERPRETER = re.compile(r"([a-z]+?)(\d)(\d*)")
_LAST_PY2_MINOR = 7
_FILE_PYTHON = re.compile(r"(?:^|[-_.])py(\d)\.(\d+)(?=$|[-_.])")
_PART_FAMILY = tuple(
    (family, re.compile(pattern))
    for family, pattern in (
        ("windows", r"win(32)?"),
        ("macos", r"macosx\d*"),
        ("linux", r"(many|musl)?linux\d*"),
        ("freebsd", r"freebsd\d*"),
    )
)
"""A dot/dash-separated part of a non-wheel filename's tail that names a platform."""


def platform_family(platform: str) -> str | None:
    """``win_amd64`` -> windows, ``musllinux_1_2_x86_64`` -> linux; ``any`` -> None."""
    for prefix, family in _FAMILY_PREFIXES:
        if platform.startswith(prefix):
            return family
    return None


def canonical_platform(text: str) -> str:
    """``linux-x86_64``/``.win32``/``manylinux2014_x86_64`` -> one spelling per platform."""
    norm = re.sub(r"[-.]", "_", text.strip().lower()).strip("_")
    for legacy, modern in _LEGACY_MANYLINUX.items():
        if norm.startswith(legacy + "_"):
            return modern + norm[len(legacy) :]
    return norm


@dataclass(frozen=True)
class PlatformRule:
    families: frozenset[str] = frozenset()
    platforms: frozenset[str] = frozenset()
    """Exact platforms, in ``canonical_platform`` spelling."""
    majors: frozenset[int] = frozenset()
    pythons: frozenset[tuple[int, int]] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.families or self.platforms or self.majors or self.pythons)

    def keep(self, release_file: ReleaseFile) -> bool:
        if _is_sdist(release_file):
            return True
        try:
            _, _, _, tags = parse_wheel_filename(release_file.filename)
        except InvalidWheelFilename:
            return not self._other_excluded(release_file)
        return not all(self._tag_excluded(tag) for tag in tags)

    # -- wheels -----------------------------------------------------------------------
    def _tag_excluded(self, tag: Tag) -> bool:
        return self._platform_excluded(tag.platform) or self._python_excluded(tag)

    def _platform_excluded(self, platform: str) -> bool:
        if platform_family(platform) in self.families:
            return True
        return canonical_platform(platform) in self.platforms

    def _python_excluded(self, tag: Tag) -> bool:
        match = _INTERPRETER.fullmatch(tag.interpreter)
        if match is None:
            return False  # an interpreter tag we cannot read: keep the wheel
        kind, major_text, minor_text = match.groups()
        major = int(major_text)
        if major in self.majors:
            return True
        if not minor_text:
            return False
        minor = int(minor_text)
        if kind == "py" or tag.abi == "abi3":  # this minor version and every later one
            if major != 2:
                return False
            return all((2, m) in self.pythons for m in range(minor, _LAST_PY2_MINOR + 1))
        return (major, minor) in self.pythons

    # -- eggs, installers, dumb builds ------------------------------------------------
    def _other_excluded(self, release_file: ReleaseFile) -> bool:
        tail = _tail(release_file)
        if self._other_family(release_file, tail) in self.families:
            return True
        segments = "_" + canonical_platform(tail) + "_"
        if any(f"_{platform}_" in segments for platform in self.platforms):
            return True
        python = _FILE_PYTHON.search(tail) or re.fullmatch(
            r"(\d)\.(\d+)", release_file.python_version
        )
        if python is None:
            return False
        major, minor = int(python.group(1)), int(python.group(2))
        return major in self.majors or (major, minor) in self.pythons

    @staticmethod
    def _other_family(release_file: ReleaseFile, tail: str) -> str | None:
        family = _PACKAGETYPE_FAMILY.get(release_file.packagetype)
        if family is None:
            lower = release_file.filename.lower()
            family = next((f for s, f in _SUFFIX_FAMILY.items() if lower.endswith(s)), None)
        if family is not None:
            return family
        for part in re.split(r"[-.]", tail.lower()):
            for family, pattern in _PART_FAMILY:
                if pattern.fullmatch(part):
                    return family
        return None


def _is_sdist(release_file: ReleaseFile) -> bool:
    if release_file.packagetype == "sdist":
        return True
    lower = release_file.filename.lower()
    return not release_file.packagetype and lower.endswith(_SDIST_SUFFIXES)


def _tail(release_file: ReleaseFile) -> str:
    """What follows the version in a filename: where builds put platform and Python."""
    name = release_file.filename
    for sep in ("-", "_"):
        at = name.find(sep + release_file.version)
        if at >= 0 and release_file.version:
            return name[at + 1 + len(release_file.version) :]
    return name.split("-", 1)[1] if "-" in name else name


def parse_platforms(raw: str) -> PlatformRule:
    """``[blocklist] platforms`` -> PlatformRule; an unknown token is a ``ConfigError``."""
    families: set[str] = set()
    platforms: set[str] = set()
    majors: set[int] = set()
    pythons: set[tuple[int, int]] = set()
    for token in _tokens(raw):
        python = _PYTHON_TOKEN.fullmatch(token)
        if token in _FAMILY_TOKENS:
            families.add(_FAMILY_TOKENS[token])
        elif python is not None and python.group(2) is None:
            majors.add(int(python.group(1)))
        elif python is not None:
            pythons.add((int(python.group(1)), int(python.group(2))))
        elif platform_family(canonical_platform(token)) is not None:
            platforms.add(canonical_platform(token))
        else:
            reason = (
                "not a platform: use windows, macos, linux, freebsd, pyX or pyX.Y, "
                "or a platform tag such as win_amd64 or manylinux2014_aarch64"
            )
            raise ConfigError("blocklist", "platforms", token, reason)
    return PlatformRule(
        frozenset(families), frozenset(platforms), frozenset(majors), frozenset(pythons)
    )


def _tokens(raw: str) -> Iterator[str]:
    for line in raw.splitlines():
        yield from (word.lower() for word in line.split("#", 1)[0].split())
