"""Requirement lines: ``[allowlist]``/``[blocklist]``/``[filter_prerelease] packages`` and the
lines of requirements files, parsed by one parser (``Pin.parse``).

A ``Pin`` is one line reduced to what a mirror needs: the normalized project name and the
version specifier (empty: every release). Markers and extras are ignored: a mirror serves
every platform and every extra.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from ..errors import ConfigError
from ..models import ProjectName, normalize


@dataclass(frozen=True)
class Pin:
    """One requirement line: a project and the releases it names."""

    name: ProjectName
    specifier: SpecifierSet

    @classmethod
    def parse(cls, text: str) -> Pin:
        """``foo``, ``Foo.Bar>=1.0,<2``, ``foo[extra]==1; python_version<'3'`` -> Pin.

        Raises ``InvalidRequirement`` for anything else.
        """
        requirement = Requirement(text)
        return cls(normalize(requirement.name), requirement.specifier)

    @property
    def pinned(self) -> bool:
        return bool(self.specifier)

    def matches(self, version: str) -> bool:
        """Is ``version`` one of the releases this line names? Prereleases count.

        A line without a specifier names every release, even one whose version is not
        PEP 440; a line with one never names a version it cannot parse.
        """
        if not self.specifier:
            return True
        try:
            parsed = Version(version)
        except InvalidVersion:
            return False
        return self.specifier.contains(parsed, prereleases=True)


@dataclass(frozen=True)
class PinLines:
    """A config value of requirement lines: each line as written (comments dropped, each
    line once, in order) and its pin."""

    lines: tuple[str, ...] = ()
    pins: tuple[Pin, ...] = ()

    @property
    def names(self) -> frozenset[ProjectName]:
        return frozenset(pin.name for pin in self.pins)


def config_pins(section: str, key: str, raw: str) -> PinLines:
    """The lines of a config value (``#`` starts a comment anywhere, as pypa reads them);
    a line that is not a requirement is a ``ConfigError``."""
    pins: dict[str, Pin] = {}
    for line in raw.splitlines():
        text = line.split("#", 1)[0].strip()
        if not text or text in pins:
            continue
        try:
            pins[text] = Pin.parse(text)
        except InvalidRequirement as exc:
            reason = "not a project name or requirement: " + str(exc).splitlines()[0]
            raise ConfigError(section, key, text, reason) from exc
    return PinLines(tuple(pins), tuple(pins.values()))


def group(pins: tuple[Pin, ...]) -> dict[ProjectName, tuple[Pin, ...]]:
    """Pins by project name, in line order."""
    out: dict[ProjectName, tuple[Pin, ...]] = {}
    for pin in pins:
        out[pin.name] = (*out.get(pin.name, ()), pin)
    return out
