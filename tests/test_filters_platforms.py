"""exclude_platform: decisions from wheel tags, and from package type and filename for
eggs, installers and dumb builds; sdists are never dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from bandersnatch.errors import ConfigError
from bandersnatch.models import ReleaseFile
from bandersnatch.rules.platforms import canonical_platform, parse_platforms
from filterkit import build, kept, project, release_file

WHEELS = (
    "numpy-2.1.0-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "numpy-2.1.0-cp311-cp311-musllinux_1_2_aarch64.whl",
    "numpy-2.1.0-cp312-cp312-macosx_14_0_arm64.whl",
    "numpy-2.1.0-cp312-cp312-macosx_10_9_universal2.whl",
    "numpy-2.1.0-cp313-cp313-win_amd64.whl",
    "numpy-2.1.0-cp313-cp313t-win_arm64.whl",
    "numpy-2.1.0-cp313-cp313t-manylinux_2_28_aarch64.whl",
    "numpy-2.1.0-cp39-cp39-win32.whl",
    "numpy-2.1.0-pp310-pypy310_pp73-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "numpy-2.1.0-cp38-abi3-manylinux1_i686.whl",
    "numpy-2.1.0-cp27-cp27mu-manylinux1_x86_64.whl",
    "numpy-2.1.0-py2.py3-none-any.whl",
    "numpy-2.1.0-py3-none-any.whl",
    "numpy-2.1.0-py2-none-any.whl",
    "numpy-2.1.0-cp314-cp314-freebsd_14_0_amd64.whl",
    "numpy-2.1.0-cp313-cp313-ios_13_0_arm64_iphoneos.whl",
)


def _kept(platforms: str, filenames: tuple[str, ...] = WHEELS) -> list[str]:
    rule = parse_platforms(platforms)
    files = [release_file(name, "2.1.0") for name in filenames]
    return [f.filename for f in files if rule.keep(f)]


def _dropped(platforms: str, filenames: tuple[str, ...] = WHEELS) -> list[str]:
    keep = set(_kept(platforms, filenames))
    return [name for name in filenames if name not in keep]


def _short(names: list[str]) -> list[str]:
    return [name.removeprefix("numpy-2.1.0-").removesuffix(".whl") for name in names]


def test_windows() -> None:
    assert _short(_dropped("windows")) == [
        "cp313-cp313-win_amd64",
        "cp313-cp313t-win_arm64",
        "cp39-cp39-win32",
    ]


def test_macos() -> None:
    assert _short(_dropped("macos")) == [
        "cp312-cp312-macosx_14_0_arm64",
        "cp312-cp312-macosx_10_9_universal2",
    ]


def test_linux_covers_manylinux_of_every_generation_and_musllinux() -> None:
    assert _short(_dropped("linux")) == [
        "cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64",
        "cp311-cp311-musllinux_1_2_aarch64",
        "cp313-cp313t-manylinux_2_28_aarch64",
        "pp310-pypy310_pp73-manylinux_2_17_x86_64.manylinux2014_x86_64",
        "cp38-abi3-manylinux1_i686",
        "cp27-cp27mu-manylinux1_x86_64",
    ]


def test_several_families_at_once_keep_pure_wheels() -> None:
    assert _short(_kept("windows macos linux freebsd ios")) == [
        "py2.py3-none-any",
        "py3-none-any",
        "py2-none-any",
    ]


def test_python_minor_versions() -> None:
    assert _short(_dropped("py3.13")) == [
        "cp313-cp313-win_amd64",
        "cp313-cp313t-win_arm64",  # free-threaded 3.13 is 3.13
        "cp313-cp313t-manylinux_2_28_aarch64",
        "cp313-cp313-ios_13_0_arm64_iphoneos",
    ]
    assert _short(_dropped("py3.10")) == [
        "cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64",
        "pp310-pypy310_pp73-manylinux_2_17_x86_64.manylinux2014_x86_64",  # PyPy for 3.10
    ]


def test_abi3_wheels_serve_later_pythons_too() -> None:
    assert _dropped("py3.8") == []  # cp38-abi3 also runs on 3.9 and later
    assert "numpy-2.1.0-cp38-abi3-manylinux1_i686.whl" in _dropped("py3")


def test_py2_drops_python_2_only_wheels_not_universal_ones() -> None:
    assert _short(_dropped("py2")) == ["cp27-cp27mu-manylinux1_x86_64", "py2-none-any"]
    assert _short(_dropped("py2.7")) == ["cp27-cp27mu-manylinux1_x86_64"]


def test_generic_py_minor_tags_mean_that_version_and_later() -> None:
    wheels = ("a-1-py26-none-any.whl", "a-1-py27-none-any.whl", "a-1-py38-none-any.whl")
    assert _dropped("py2.7", wheels) == ["a-1-py27-none-any.whl"]
    assert _dropped("py2.6 py2.7", wheels) == ["a-1-py26-none-any.whl", "a-1-py27-none-any.whl"]
    assert _dropped("py3.8 py3.9", wheels) == []


def test_a_wheel_goes_only_when_every_tag_is_excluded() -> None:
    multi = ("a-1-py3-none-macosx_11_0_x86_64.linux_x86_64.whl", "a-1-cp311.cp312-abi3-win32.whl")
    assert _dropped("macos", multi) == []
    assert _dropped("macos linux", multi) == [multi[0]]
    assert _dropped("py3.11", multi) == []


def test_exact_platform_tags_with_pypa_spellings() -> None:
    assert _short(_dropped("win-amd64 .win32")) == [
        "cp313-cp313-win_amd64",
        "cp39-cp39-win32",
    ]
    # manylinux2014 is manylinux_2_17, manylinux1 is manylinux_2_5
    assert _short(_dropped("manylinux2014_x86_64")) == [
        "cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64",
        "pp310-pypy310_pp73-manylinux_2_17_x86_64.manylinux2014_x86_64",
    ]
    assert _short(_dropped("manylinux_2_5_i686")) == ["cp38-abi3-manylinux1_i686"]


def test_canonical_platform() -> None:
    assert canonical_platform("linux-x86_64") == "linux_x86_64"
    assert canonical_platform("-win32") == "win32"
    assert canonical_platform("manylinux2010_i686") == "manylinux_2_12_i686"


OTHERS = (
    ("foo-1.0.tar.gz", "sdist"),
    ("foo-win32-tools-1.0.zip", "sdist"),
    ("foo-1.0.win32-py2.7.exe", "bdist_wininst"),
    ("foo-1.0.win-amd64-py3.4.msi", "bdist_msi"),
    ("foo-1.0-py2.7-macosx10.6.dmg", "bdist_dmg"),
    ("foo-1.0-1.x86_64.rpm", "bdist_rpm"),
    ("foo-1.0-py2.7.egg", "bdist_egg"),
    ("foo-1.0-py3.6-linux-x86_64.egg", "bdist_egg"),
    ("foo-1.0-py2.7-win32.egg", "bdist_egg"),
    ("foo-1.0-py3.6-macosx-10.9-x86_64.egg", "bdist_egg"),
    ("foo-1.0.linux-x86_64.tar.gz", "bdist_dumb"),
    ("foo-1.0.freebsd-12.1-amd64.tar.gz", "bdist_dumb"),
)


def _other_dropped(platforms: str) -> list[str]:
    rule = parse_platforms(platforms)
    files = [release_file(name, "1.0", packagetype=kind) for name, kind in OTHERS]
    return [f.filename for f in files if not rule.keep(f)]


def test_other_file_types_by_family() -> None:
    assert _other_dropped("windows") == [
        "foo-1.0.win32-py2.7.exe",
        "foo-1.0.win-amd64-py3.4.msi",
        "foo-1.0-py2.7-win32.egg",
    ]
    assert _other_dropped("macos") == [
        "foo-1.0-py2.7-macosx10.6.dmg",
        "foo-1.0-py3.6-macosx-10.9-x86_64.egg",
    ]
    assert _other_dropped("linux") == [
        "foo-1.0-1.x86_64.rpm",
        "foo-1.0-py3.6-linux-x86_64.egg",
        "foo-1.0.linux-x86_64.tar.gz",
    ]
    assert _other_dropped("freebsd") == ["foo-1.0.freebsd-12.1-amd64.tar.gz"]


def test_other_file_types_by_python_and_exact_platform() -> None:
    assert _other_dropped("py2.7") == [
        "foo-1.0.win32-py2.7.exe",
        "foo-1.0-py2.7-macosx10.6.dmg",
        "foo-1.0-py2.7.egg",
        "foo-1.0-py2.7-win32.egg",
    ]
    assert _other_dropped("linux-x86_64") == [
        "foo-1.0-py3.6-linux-x86_64.egg",
        "foo-1.0.linux-x86_64.tar.gz",
    ]


def test_python_version_field_of_eggs_counts() -> None:
    egg = release_file("foo-1.0.egg", "1.0", packagetype="bdist_egg", python_version="2.6")
    assert not parse_platforms("py2.6").keep(egg)
    assert parse_platforms("py2.7").keep(egg)


def test_sdists_are_never_dropped() -> None:
    everything = "windows macos linux freebsd py2 py3 py2.7 py3.12 linux-x86_64 win32"
    sdists = [
        release_file("linux-tools-1.0.tar.gz", "1.0"),
        release_file("pywin32-ctypes-0.2.zip", "0.2"),
        release_file("foo-1.0-py2.7.tar.gz", "1.0", packagetype=""),
    ]
    assert all(parse_platforms(everything).keep(f) for f in sdists)


def test_invalid_wheel_names_fall_back_to_the_filename() -> None:
    odd: ReleaseFile = release_file("foo-1.0-win32.whl", "1.0")
    assert not parse_platforms("windows").keep(odd)
    assert parse_platforms("linux").keep(odd)


@pytest.mark.parametrize("token", ["widows", "cp311", "solaris_x86"])
def test_unknown_tokens_are_config_errors(token: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_platforms(f"windows\n{token}")
    assert (caught.value.section, caught.value.key, caught.value.value) == (
        "blocklist",
        "platforms",
        token,
    )


def test_exclude_platform_through_the_config(tmp_path: Path) -> None:
    body = """
[plugins]
enabled = exclude_platform
[blocklist]
platforms =
    windows  # nobody here runs it
    py2.7
"""
    foo = project(
        "foo",
        {
            "1.0": ["foo-1.0.tar.gz", "foo-1.0-cp27-cp27m-win32.whl", "foo-1.0-py2-none-any.whl"],
            "2.0": [
                "foo-2.0-cp312-cp312-win_amd64.whl",
                "foo-2.0-cp312-cp312-macosx_11_0_arm64.whl",
            ],
            "3.0": ["foo-3.0-cp312-cp312-win_amd64.whl"],
        },
    )
    assert kept(build(tmp_path, body).apply(foo)) == (
        ("1.0", "2.0"),
        ("foo-1.0.tar.gz", "foo-1.0-py2-none-any.whl", "foo-2.0-cp312-cp312-macosx_11_0_arm64.whl"),
    )


def test_enabled_without_platforms_filters_nothing(tmp_path: Path) -> None:
    foo = project("foo", {"1.0": ["foo-1.0-cp312-cp312-win_amd64.whl"]})
    assert build(tmp_path, "[plugins]\nenabled = exclude_platform\n").apply(foo) is foo
