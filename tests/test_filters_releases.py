"""Release filters: allowlist_release, blocklist_release, prerelease_release, regex_release,
latest_release (keep, sort_by, the current version), and how they combine."""

from __future__ import annotations

from pathlib import Path

from bandersnatch.models import Project, ReleaseFile
from filterkit import build, kept, project, release_file, simple

VERSIONS = ("0.9", "1.0", "1.5", "1.6.1", "1.8", "1.9", "2.0rc1", "2.0")


def _foo(*versions: str, info_version: str | None = None) -> Project:
    info: dict[str, object] = {"name": "foo"}
    if info_version:
        info["version"] = info_version
    return project("foo", {v: simple(v) for v in versions or VERSIONS}, info)


def _versions(
    tmp_path: Path, body: str, *versions: str, current: str | None = None
) -> tuple[str, ...]:
    result = build(tmp_path, body).apply(_foo(*versions, info_version=current))
    return kept(result)[0]


def test_allowlist_release_keeps_matching_releases_and_their_files_only(tmp_path: Path) -> None:
    body = """
[plugins]
enabled =
    allowlist_project
    allowlist_release
[allowlist]
packages =
    foo==1.0
    bar
"""
    rules = build(tmp_path, body)
    versions, files = kept(rules.apply(_foo()))
    assert versions == ("1.0",)
    assert files == ("foo-1.0.tar.gz", "foo-1.0-py3-none-any.whl")
    bar = project("bar", {"1.0": simple("1.0", "bar"), "2.0a1": simple("2.0a1", "bar")})
    assert kept(rules.apply(bar))[0] == ("1.0", "2.0a1")  # listed without a specifier: all


def test_allowlist_release_specifiers_include_prereleases(tmp_path: Path) -> None:
    body = "[plugins]\nenabled = allowlist_release\n[allowlist]\npackages = foo>=1.8,<2.1\n"
    assert _versions(tmp_path, body) == ("1.8", "1.9", "2.0rc1", "2.0")


def test_allowlist_release_lines_for_one_project_are_a_union(tmp_path: Path) -> None:
    lines = "[allowlist]\npackages =\n    foo==0.9\n    foo~=1.8\n"
    body = "[plugins]\nenabled = allowlist_release\n" + lines
    assert _versions(tmp_path, body) == ("0.9", "1.8", "1.9")


def test_blocklist_release_pypa_example(tmp_path: Path) -> None:
    body = """
[plugins]
enabled =
    blocklist_project
    blocklist_release
[blocklist]
packages =
    example1
    foo>=1.4.2,<1.9,!=1.5.*,!=1.6.*
"""
    assert _versions(tmp_path, body) == ("0.9", "1.0", "1.5", "1.6.1", "1.9", "2.0rc1", "2.0")


def test_blocklist_release_prerelease_edges(tmp_path: Path) -> None:
    body = "[plugins]\nenabled = blocklist_release\n[blocklist]\npackages = foo<2\n"
    # <2 blocks 1.x and its prereleases, but not 2.0's own prereleases (PEP 440)
    assert _versions(tmp_path, body, "1.0", "1.9b1", "2.0rc1", "2.0") == ("2.0rc1", "2.0")


def test_blocklist_release_without_specifier_blocks_every_release(tmp_path: Path) -> None:
    body = "[plugins]\nenabled = blocklist_release\n[blocklist]\npackages = FOO\n"
    assert _versions(tmp_path, body) == ()


def test_blocklist_wins_over_allowlist(tmp_path: Path) -> None:
    body = """
[plugins]
enabled =
    allowlist_release
    blocklist_release
[allowlist]
packages = foo>=1.8
[blocklist]
packages = foo==1.9
"""
    assert _versions(tmp_path, body) == ("1.8", "2.0rc1", "2.0")


def test_prerelease_release_everywhere(tmp_path: Path) -> None:
    body = "[plugins]\nenabled = prerelease_release\n"
    versions = ("1.0", "1.1a1", "1.1alpha2", "1.1b3", "1.1rc1", "1.1c1", "1.1.dev4", "1.1.post1")
    expected = ("1.0", "1.1.post1")
    assert _versions(tmp_path, body, *versions) == expected


def test_prerelease_release_for_listed_projects_only(tmp_path: Path) -> None:
    body = "[plugins]\nenabled = prerelease_release\n[filter_prerelease]\npackages =\n    FOO\n"
    rules = build(tmp_path, body)
    assert kept(rules.apply(_foo()))[0] == ("0.9", "1.0", "1.5", "1.6.1", "1.8", "1.9", "2.0")
    bar = project("bar", {"1.0rc1": simple("1.0rc1", "bar")})
    assert kept(rules.apply(bar))[0] == ("1.0rc1",)


def test_prerelease_legacy_versions_use_pypa_patterns(tmp_path: Path) -> None:
    body = "[plugins]\nenabled = prerelease_release\n"
    assert _versions(tmp_path, body, "1.0-custom-rc1", "1.0-custom") == ("1.0-custom",)


def test_regex_release(tmp_path: Path) -> None:
    body = (
        "[plugins]\nenabled = regex_release\n[filter_regex]\nreleases =\n    .+rc\\d$\n    ^0\\.\n"
    )
    assert _versions(tmp_path, body) == ("1.0", "1.5", "1.6.1", "1.8", "1.9", "2.0")


def test_latest_release_keeps_the_newest_by_version(tmp_path: Path) -> None:
    body = "[plugins]\nenabled = latest_release\n[latest_release]\nkeep = 2\n"
    # prereleases are kept (pypa: "Prereleases are also kept")
    assert _versions(tmp_path, body, current="2.0") == ("2.0rc1", "2.0")
    assert _versions(tmp_path, body, "1.0", "10.0", "9.0") == ("10.0", "9.0")


def test_latest_release_always_keeps_the_current_version(tmp_path: Path) -> None:
    body = "[plugins]\nenabled = latest_release\n[latest_release]\nkeep = 2\n"
    # info.version (what `pip install foo` picks) replaces the last of the newest two
    assert _versions(tmp_path, body, current="1.8") == ("1.8", "2.0")


def test_latest_release_keep_zero_or_more_than_releases_keeps_all(tmp_path: Path) -> None:
    for keep in ("0", "8", "20"):
        body = f"[plugins]\nenabled = latest_release\n[latest_release]\nkeep = {keep}\n"
        assert _versions(tmp_path, body) == VERSIONS


def test_latest_release_ranks_after_other_release_filters(tmp_path: Path) -> None:
    body = """
[plugins]
enabled =
    prerelease_release
    latest_release
[latest_release]
keep = 3
"""
    assert _versions(tmp_path, body, current="2.0") == ("1.8", "1.9", "2.0")


def test_latest_release_does_not_resurrect_a_filtered_current_version(tmp_path: Path) -> None:
    body = """
[plugins]
enabled =
    blocklist_release
    latest_release
[blocklist]
packages = foo==1.0
[latest_release]
keep = 1
"""
    assert _versions(tmp_path, body, "1.0", "2.0", current="1.0") == ("2.0",)


def test_latest_release_sort_by_time(tmp_path: Path) -> None:
    body = "[plugins]\nenabled = latest_release\n[latest_release]\nkeep = 2\nsort_by = time\n"

    def at(version: str, when: str) -> list[ReleaseFile]:
        return [release_file(f"foo-{version}.tar.gz", version, upload_time=when)]

    foo = project(
        "foo",
        {
            "3.0": at("3.0", "2021-01-01T00:00:00.000000Z"),
            "1.0.1": at("1.0.1", "2023-05-01T00:00:00Z"),  # a backported fix, uploaded last
            "2.0": at("2.0", "2022-01-01T00:00:00"),
            "1.0": at("1.0", "2020-01-01T00:00:00Z"),
        },
    )
    assert kept(build(tmp_path, body).apply(foo))[0] == ("1.0.1", "2.0")


def test_releases_without_files_are_dropped_once_filtering(tmp_path: Path) -> None:
    body = "[plugins]\nenabled = latest_release\n[latest_release]\nkeep = 1\n"
    foo = project("foo", {"1.0": simple("1.0"), "2.0": []})
    assert kept(build(tmp_path, body).apply(foo)) == (
        ("1.0",),
        ("foo-1.0.tar.gz", "foo-1.0-py3-none-any.whl"),
    )


def test_invalid_versions_rank_lowest_and_fail_specifiers(tmp_path: Path) -> None:
    latest = "[plugins]\nenabled = latest_release\n[latest_release]\nkeep = 1\n"
    assert _versions(tmp_path, latest, "banana", "0.1") == ("0.1",)
    allow = "[plugins]\nenabled = allowlist_release\n[allowlist]\npackages = foo>=0\n"
    assert _versions(tmp_path, allow, "banana", "0.1") == ("0.1",)
    block = "[plugins]\nenabled = blocklist_release\n[blocklist]\npackages = foo>=0\n"
    assert _versions(tmp_path, block, "banana", "0.1") == ("banana",)


def test_filtered_project_keeps_upstream_order_and_other_fields(tmp_path: Path) -> None:
    body = "[plugins]\nenabled = regex_release\n[filter_regex]\nreleases = ^1\\.5$\n"
    foo = _foo("2.0", "1.5", "1.0")
    result = build(tmp_path, body).apply(foo)
    assert result is not None
    assert result.versions == ("2.0", "1.0")
    assert (result.name, result.serial, result.info) == ("foo", 1, foo.info)
