"""Metadata filters: size_project_metadata, versions_count_project_metadata,
regex_project_metadata, regex_release_file_metadata, version_range_release_file_metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from bandersnatch.config.values import byte_size as parse_size
from bandersnatch.errors import ConfigError
from bandersnatch.models import Project, ReleaseFile
from filterkit import build, kept, project, release_file, simple

KIB = 1024


def _sized(name: str, *sizes: int) -> Project:
    files: dict[str, list[ReleaseFile]] = {
        f"{i}.0": [release_file(f"{name}-{i}.0.tar.gz", f"{i}.0", size=s)]
        for i, s in enumerate(sizes)
    }
    return project(name, files)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1024", 1024),
        ("1K", KIB),
        ("1kb", KIB),
        ("1 KiB", KIB),
        ("500M", 500 * KIB**2),
        ("1G", KIB**3),
        ("2.5GB", int(2.5 * KIB**3)),
        ("1T", KIB**4),
        ("10 bytes", 10),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_size_project_metadata(tmp_path: Path) -> None:
    section = "[size_project_metadata]\nmax_package_size = 2K\n"
    body = "[plugins]\nenabled = size_project_metadata\n" + section
    rules = build(tmp_path, body)
    assert rules.apply(_sized("small", 1024, 1024)) is not None
    assert rules.apply(_sized("big", 1024, 1025)) is None


def test_size_limit_spares_allowlisted_projects(tmp_path: Path) -> None:
    body = """
[plugins]
enabled = size_project_metadata
[allowlist]
packages = numpy
[size_project_metadata]
max_package_size = 1K
"""
    rules = build(tmp_path, body)
    assert rules.apply(_sized("numpy", 10 * KIB)) is not None
    assert rules.apply(_sized("scipy", 10 * KIB)) is None
    assert rules.apply(_sized("tiny", 10)) is not None


def test_size_limit_with_allowlist_project_is_a_logical_and(tmp_path: Path) -> None:
    body = """
[plugins]
enabled =
    size_project_metadata
    allowlist_project
[allowlist]
packages =
    numpy
    flask
[size_project_metadata]
max_package_size = 1K
"""
    rules = build(tmp_path, body)
    assert rules.known_names() == {"numpy", "flask"}
    assert rules.apply(_sized("numpy", 10 * KIB)) is not None
    assert rules.apply(_sized("other", 10)) is None


def _with_versions(name: str, count: int) -> Project:
    return project(name, {f"{i}.0": simple(f"{i}.0", name) for i in range(count)})


def test_versions_count_bounds_are_inclusive(tmp_path: Path) -> None:
    body = """
[plugins]
enabled = versions_count_project_metadata
[versions_count_project_metadata]
min_versions = 3
max_versions = 5
"""
    rules = build(tmp_path, body)
    results = [rules.apply(_with_versions("foo", n)) is not None for n in range(2, 7)]
    assert results == [False, True, True, True, False]


def test_versions_count_counts_releases_without_files_and_spares_allowlist(tmp_path: Path) -> None:
    body = """
[plugins]
enabled = versions_count_project_metadata
[allowlist]
packages = foo
[versions_count_project_metadata]
min_versions = 3
"""
    rules = build(tmp_path, body)
    assert rules.apply(project("bar", {"1.0": [], "2.0": [], "3.0": []})) is not None
    assert rules.apply(project("bar", {"1.0": [], "2.0": []})) is None
    assert rules.apply(project("foo", {"1.0": []})) is not None
    assert rules.apply(_with_versions("bar", 100)) is not None


def test_versions_count_min_above_max_is_a_config_error(tmp_path: Path) -> None:
    body = """
[plugins]
enabled = versions_count_project_metadata
[versions_count_project_metadata]
min_versions = 10
max_versions = 5
"""
    with pytest.raises(ConfigError, match="greater than max_versions") as caught:
        build(tmp_path, body)
    assert caught.value.section == "versions_count_project_metadata"


PY2 = "Programming Language :: Python :: 2.7"
PY3 = "Programming Language :: Python :: 3"


def _classified(*classifiers: str, license_: str | None = None) -> Project:
    info = {"name": "foo", "classifiers": classifiers, "license": license_}
    return project("foo", {"1.0": simple("1.0")}, info)


def _passes(tmp_path: Path, section: str, *projects: Project) -> list[bool]:
    body = f"[plugins]\nenabled = regex_project_metadata\n[regex_project_metadata]\n{section}"
    rules = build(tmp_path, body)
    return [rules.apply(p) is not None for p in projects]


def test_regex_project_metadata_pypa_example(tmp_path: Path) -> None:
    section = "not-null:info.classifiers =\n    .*Programming Language :: Python :: 2.*\n"
    results = _passes(tmp_path, section, _classified(PY2, PY3), _classified(PY3), _classified())
    assert results == [True, False, False]


def test_regex_project_metadata_default_is_any_and_match_null(tmp_path: Path) -> None:
    section = "info.classifiers =\n    .*Python :: 2\n    .*Python :: 3\n"
    results = _passes(tmp_path, section, _classified(PY2), _classified("Other"), _classified())
    assert results == [True, False, True]


def test_regex_project_metadata_all_and_none(tmp_path: Path) -> None:
    every = "all:info.classifiers =\n    .*Python :: 2\n    .*Python :: 3\n"
    assert _passes(tmp_path, every, _classified(PY2, PY3), _classified(PY3)) == [True, False]
    none = "none:info.classifiers =\n    .*Python :: 2\n"
    assert _passes(tmp_path, none, _classified(PY2, PY3), _classified(PY3)) == [False, True]
    # a null matches by default, so "none" drops it; with not-null it matches nothing
    assert _passes(tmp_path, none, _classified()) == [False]
    none_nn = "none:not-null:info.classifiers =\n    .*Python :: 2\n"
    assert _passes(tmp_path, none_nn, _classified()) == [True]


def test_regex_project_metadata_scalar_fields_and_every_key(tmp_path: Path) -> None:
    section = "info.license =\n    MIT\n    BSD\nall:info.classifiers = .*Python :: 3\n"
    results = _passes(
        tmp_path,
        section,
        _classified(PY3, license_="MIT License"),
        _classified(PY3, license_="GPL"),
        _classified(PY2, license_="BSD"),
    )
    assert results == [True, False, False]


def test_regex_project_metadata_reads_last_serial(tmp_path: Path) -> None:
    old = project("foo", {"1.0": simple("1.0")}, serial=99)
    new = project("foo", {"1.0": simple("1.0")}, serial=123456)
    assert _passes(tmp_path, "last_serial = \\d{6,}\n", old, new) == [False, True]


@pytest.mark.parametrize(
    ("key", "reason"),
    [("bogus:info.license", "unknown tag"), ("releases.1.0", "unknown metadata")],
)
def test_regex_project_metadata_bad_keys(tmp_path: Path, key: str, reason: str) -> None:
    body = f"[plugins]\nenabled = regex_project_metadata\n[regex_project_metadata]\n{key} = x\n"
    with pytest.raises(ConfigError, match=reason) as caught:
        build(tmp_path, body)
    assert (caught.value.section, caught.value.key) == ("regex_project_metadata", key)


def _files(tmp_path: Path, plugin: str, section: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    body = f"[plugins]\nenabled = {plugin}\n[{plugin}]\n{section}"
    foo = project(
        "foo",
        {
            "1.0": [
                release_file("foo-1.0.tar.gz", "1.0", requires_python=">=2.7"),
                release_file("foo-1.0-py3-none-any.whl", "1.0", requires_python=">=3.6"),
                release_file("foo-1.0.exe", "1.0"),
            ],
            "2.0": [release_file("foo-2.0-py3-none-any.whl", "2.0", requires_python=">=3.13")],
            "3.0": [release_file("foo-3.0.tar.gz", "3.0", requires_python=">=3.6,!=3.12.*")],
            "4.0": [release_file("foo-4.0.tar.gz", "4.0", requires_python="not a specifier")],
        },
    )
    return kept(build(tmp_path, body).apply(foo))


def test_regex_release_file_metadata_pypa_example(tmp_path: Path) -> None:
    section = "any:release_file.packagetype =\n    sdist\n    bdist_wheel\n"
    assert _files(tmp_path, "regex_release_file_metadata", section) == (
        ("1.0", "2.0", "3.0", "4.0"),
        (
            "foo-1.0.tar.gz",
            "foo-1.0-py3-none-any.whl",
            "foo-2.0-py3-none-any.whl",
            "foo-3.0.tar.gz",
            "foo-4.0.tar.gz",
        ),
    )


def test_regex_release_file_metadata_on_release_and_filename(tmp_path: Path) -> None:
    section = "release = ^[13]\\.\nnone:release_file.filename = .*\\.exe$\n"
    assert _files(tmp_path, "regex_release_file_metadata", section) == (
        ("1.0", "3.0"),
        ("foo-1.0.tar.gz", "foo-1.0-py3-none-any.whl", "foo-3.0.tar.gz"),
    )


def test_version_range_release_file_metadata(tmp_path: Path) -> None:
    # keep files that install on 3.12; no or unreadable requires_python counts as null
    section = "release_file.requires_python =\n    3.12\n"
    assert _files(tmp_path, "version_range_release_file_metadata", section) == (
        ("1.0", "4.0"),
        ("foo-1.0.tar.gz", "foo-1.0-py3-none-any.whl", "foo-1.0.exe", "foo-4.0.tar.gz"),
    )


def test_version_range_any_of_several_versions_and_not_null(tmp_path: Path) -> None:
    section = "not-null:release_file.requires_python =\n    2.7\n    3.13\n"
    assert _files(tmp_path, "version_range_release_file_metadata", section) == (
        ("1.0", "2.0", "3.0"),
        (
            "foo-1.0.tar.gz",
            "foo-1.0-py3-none-any.whl",
            "foo-2.0-py3-none-any.whl",
            "foo-3.0.tar.gz",
        ),
    )


def test_version_range_values_must_be_versions(tmp_path: Path) -> None:
    body = """
[plugins]
enabled = version_range_release_file_metadata
[version_range_release_file_metadata]
release_file.requires_python = >=3.6
"""
    with pytest.raises(ConfigError, match="not a version") as caught:
        build(tmp_path, body)
    assert caught.value.value == ">=3.6"


def test_release_file_fields_are_checked(tmp_path: Path) -> None:
    body = """
[plugins]
enabled = regex_release_file_metadata
[regex_release_file_metadata]
release_file.color = red
"""
    with pytest.raises(ConfigError, match="packagetype"):
        build(tmp_path, body)


def test_one_size_grammar_decides_5ib(tmp_path: Path) -> None:
    """``5ib`` is not a size, wherever a size is read: the config refuses it at load."""
    with pytest.raises(ValueError, match="not a size"):
        parse_size("5ib")
    section = "[plugins]\nenabled = size_project_metadata\n"
    with pytest.raises(ConfigError, match="not a size") as caught:
        build(tmp_path, section + "[size_project_metadata]\nmax_package_size = 5ib\n")
    assert (caught.value.section, caught.value.key) == ("size_project_metadata", "max_package_size")
