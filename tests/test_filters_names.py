"""Project filters by name: allowlist_project, blocklist_project, regex_project,
project_requirements; the name filter, known names and exclusion of fetched projects."""

from __future__ import annotations

from pathlib import Path

import pytest

from bandersnatch import filters
from bandersnatch.errors import ConfigError
from bandersnatch.models import ProjectName
from filterkit import build, kept, load, project, simple


def _names(*names: str) -> list[ProjectName]:
    return [ProjectName(n) for n in names]


def test_no_plugins_keeps_every_name_and_knows_no_set(tmp_path: Path) -> None:
    rules = build(tmp_path, "")
    assert all(rules.keep_name(n) for n in _names("foo", "bar"))
    assert rules.known_names() is None
    foo = project("foo", {"1.0": simple("1.0")})
    assert rules.apply(foo) is foo


def test_allowlist_names_are_normalized_on_both_sides(tmp_path: Path) -> None:
    body = """
[plugins]
enabled = allowlist_project
[allowlist]
packages =
    SampleProject
    trove----classifiers
    black==18.5  # a specifier still allows the project
    Foo.Bar_baz[extra]; python_version < "3"
"""
    rules = build(tmp_path, body)
    allowed = _names("sampleproject", "trove-classifiers", "black", "foo-bar-baz")
    assert [rules.keep_name(n) for n in allowed] == [True] * 4
    assert not rules.keep_name(ProjectName("other"))
    assert rules.known_names() == frozenset(allowed)
    assert filters.known_names(load(tmp_path, body)) == frozenset(allowed)


def test_blocklist_project_blocks_bare_names_only(tmp_path: Path) -> None:
    body = """
[plugins]
enabled = blocklist_project
[blocklist]
packages =
    example1
    Discord.PY
    example2>=1.4.2,<1.9,!=1.5.*,!=1.6.*
"""
    rules = build(tmp_path, body)
    assert not rules.keep_name(ProjectName("example1"))
    assert not rules.keep_name(ProjectName("discord-py"))
    assert rules.keep_name(ProjectName("example2"))  # only some releases: blocklist_release
    assert rules.known_names() is None


def test_blocklist_wins_over_allowlist_and_shrinks_known_names(tmp_path: Path) -> None:
    body = """
[plugins]
enabled =
    allowlist_project
    blocklist_project
    regex_project
[allowlist]
packages =
    foo
    bar
    evil-thing
[blocklist]
packages = bar
[filter_regex]
packages = .+-thing$
"""
    rules = build(tmp_path, body)
    assert rules.known_names() == {"foo"}
    assert [rules.keep_name(n) for n in _names("foo", "bar", "evil-thing", "baz")] == [
        True,
        False,
        False,
        False,
    ]


def test_regex_project_matches_from_the_start_of_the_name(tmp_path: Path) -> None:
    body = "[filter_regex]\npackages =\n    .+-evil$\n    ^tmp\n"
    rules = build(tmp_path, "[plugins]\nenabled = regex_project\n" + body)
    assert [rules.keep_name(n) for n in _names("very-evil", "evil", "tmpfoo", "footmp")] == [
        False,
        True,
        False,
        True,
    ]


def test_regex_project_also_tries_the_display_name(tmp_path: Path) -> None:
    body = "[plugins]\nenabled = regex_project\n[filter_regex]\npackages = ^Django"
    rules = build(tmp_path, body)
    assert rules.keep_name(ProjectName("django"))  # the normalized name does not match
    assert rules.apply(project("Django", {"1.0": simple("1.0", "django")})) is None
    assert rules.apply(project("django", {"1.0": simple("1.0", "django")})) is not None


def test_project_filter_excludes_a_fetched_project_the_names_exclude(tmp_path: Path) -> None:
    body = "[plugins]\nenabled = allowlist_project\n[allowlist]\npackages = foo\n"
    apply = filters.project_filter(load(tmp_path, body))
    assert apply(project("bar", {"1.0": simple("1.0", "bar")})) is None
    foo = project("foo", {"1.0": simple("1.0")})
    assert apply(foo) is foo  # no release or file filter: unchanged


def test_empty_allowlist_allows_nothing(tmp_path: Path) -> None:
    rules = build(tmp_path, "[plugins]\nenabled = allowlist_project\n")
    assert rules.known_names() == frozenset()
    assert not rules.keep_name(ProjectName("foo"))


def test_all_ignores_an_allowlist_with_nothing_listed(tmp_path: Path) -> None:
    body = "[plugins]\nenabled = all\n[blocklist]\npackages = bad\n"
    rules = build(tmp_path, body)
    assert rules.known_names() is None
    assert [rules.keep_name(n) for n in _names("foo", "bad")] == [True, False]
    foo = project("foo", {"1.0": simple("1.0"), "2.0rc1": simple("2.0rc1")})
    assert kept(rules.apply(foo))[0] == ("1.0",)  # all includes prerelease_release
    listed = build(tmp_path, "[plugins]\nenabled = all\n[allowlist]\npackages = foo\n")
    assert listed.known_names() == {"foo"}


def test_allowlist_release_alone_also_restricts_projects(tmp_path: Path) -> None:
    body = "[plugins]\nenabled = allowlist_release\n[allowlist]\npackages = foo==1.0\n"
    assert build(tmp_path, body).known_names() == {"foo"}


def test_requirements_and_allowlist_are_one_union(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("Flask==2.0\nrequests>=2\n")
    body = f"""
[plugins]
enabled =
    allowlist_project
    project_requirements
[allowlist]
packages = numpy
requirements_path = {tmp_path}
requirements = requirements.txt
"""
    assert build(tmp_path, body).known_names() == {"numpy", "flask", "requests"}


def test_size_filter_alone_does_not_turn_the_allowlist_into_an_allowlist(tmp_path: Path) -> None:
    body = """
[plugins]
enabled = size_project_metadata
[allowlist]
packages = numpy
[size_project_metadata]
max_package_size = 1G
"""
    rules = build(tmp_path, body)
    assert rules.known_names() is None
    assert rules.keep_name(ProjectName("anything"))


def test_bad_lines_are_config_errors_naming_section_key_and_value(tmp_path: Path) -> None:
    body = "[plugins]\nenabled = blocklist_project\n[blocklist]\npackages = foo >> 1\n"
    with pytest.raises(ConfigError) as caught:
        build(tmp_path, body)
    assert (caught.value.section, caught.value.key) == ("blocklist", "packages")
    assert caught.value.value == "foo >> 1"


def test_check_supported_accepts_every_builtin(tmp_path: Path) -> None:
    filters.check_supported(load(tmp_path, "[plugins]\nenabled = all\n"))
