"""Third-party filters from the ``bandersnatch.filters`` entry-point group."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bandersnatch.errors import ConfigError
from bandersnatch.models import ProjectName
from filterkit import build, kept, load, project, simple

EXAMPLE = """
from collections.abc import Mapping

from bandersnatch.filters import Plugin


def make(section: Mapping[str, str]) -> Plugin:
    words = section.get("words", "").split()
    if "max_size" in section and not section["max_size"].isdigit():
        raise ValueError(f"max_size = {section['max_size']!r} is not a number of bytes")
    limit = int(section.get("max_size", "0"))
    return Plugin(
        keep_name=lambda name: not any(word in name for word in words),
        keep_release=lambda project, version: not version.endswith(".post1"),
        keep_file=lambda project, file: not limit or file.size <= limit,
    )


def broken(section):
    return "not a plugin"
"""


def install(site: Path, monkeypatch: pytest.MonkeyPatch, entries: str) -> str:
    """A fake installed distribution providing ``entries`` from a fresh module; its name."""
    module = f"bsfilter_{uuid.uuid4().hex[:8]}"
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(EXAMPLE)
    dist = site / f"{module}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    points = entries.replace("MODULE", module)
    (dist / "entry_points.txt").write_text(f"[bandersnatch.filters]\n{points}\n")
    monkeypatch.syspath_prepend(str(site))
    return module


def test_a_plugin_filters_names_releases_and_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(tmp_path / "site", monkeypatch, "no_evil = MODULE:make")
    body = "[plugins]\nenabled =\n    no_evil\n[no_evil]\nwords = evil\nmax_size = 100\n"
    rules = build(tmp_path, body)
    assert not rules.keep_name(ProjectName("very-evil"))
    assert rules.keep_name(ProjectName("good"))
    foo = project("foo", {"1.0": simple("1.0"), "1.0.post1": simple("1.0.post1")})
    assert kept(rules.apply(foo))[0] == ("1.0",)


def test_all_includes_installed_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(tmp_path / "site", monkeypatch, "no_evil = MODULE:make")
    enabled = load(tmp_path, "[plugins]\nenabled = all\n").enabled
    assert enabled[-1] == "no_evil"
    assert "allowlist_project" in enabled


def test_plugin_value_error_names_its_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(tmp_path / "site", monkeypatch, "no_evil = MODULE:make")
    body = "[plugins]\nenabled = no_evil\n[no_evil]\nmax_size = lots\n"
    with pytest.raises(ConfigError, match="not a number") as caught:
        build(tmp_path, body)
    assert caught.value.section == "no_evil"


def test_plugin_that_is_not_a_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(tmp_path / "site", monkeypatch, "weird = MODULE:broken\ngone = MODULE:missing")
    with pytest.raises(ConfigError, match=r"not a filters\.Plugin"):
        build(tmp_path, "[plugins]\nenabled = weird\n")
    with pytest.raises(ConfigError, match="cannot load") as caught:
        build(tmp_path, "[plugins]\nenabled = gone\n")
    assert (caught.value.section, caught.value.value) == ("plugins", "gone")


def test_unknown_plugins_and_their_sections_are_still_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown filter plugin"):
        load(tmp_path, "[plugins]\nenabled = no_such_filter\n")
    with pytest.raises(ConfigError, match="unknown section"):
        load(tmp_path, "[no_such_filter]\nwords = x\n")


def test_a_plugin_cannot_replace_a_builtin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    install(tmp_path / "site", monkeypatch, "regex_project = MODULE:broken")
    rules = build(tmp_path, "[plugins]\nenabled = all\n")
    assert rules.keep_name(ProjectName("anything"))
    assert "a built-in has that name" in caplog.text
