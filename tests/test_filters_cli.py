"""An existing pypa/bandersnatch config with filters, run unchanged by the real CLI against
the fake PyPI: the mirror holds exactly the files and releases the filters keep."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from fakepypi import FakePyPI, FileSpec, ProjectSpec, Universe
from harness import Mirror, make_mirror

PLATFORM_WHEELS = (
    ("cp311", "cp311", "manylinux_2_17_x86_64.manylinux2014_x86_64"),
    ("cp311", "cp311", "win_amd64"),
    ("cp312", "cp312", "macosx_11_0_arm64"),
    ("cp312", "abi3", "musllinux_1_1_aarch64"),
    ("cp27", "cp27mu", "manylinux1_x86_64"),
)


def _binary_release() -> list[FileSpec]:
    wheels = [
        FileSpec("wheel", python_tag=p, abi_tag=a, platform_tag=t) for p, a, t in PLATFORM_WHEELS
    ]
    return [FileSpec("sdist"), *wheels]


def _universe() -> Universe:
    pure = [FileSpec("wheel", python_tag="py2.py3"), FileSpec("sdist")]
    return Universe(
        [
            ProjectSpec(
                "numpy", {v: _binary_release() for v in ("1.25.0", "1.26.0", "2.0.0rc1", "2.0.0")}
            ),
            ProjectSpec("requests", {v: list(pure) for v in ("1.0", "2.0.0", "2.1.0", "2.2.0")}),
            ProjectSpec(
                "Django",
                {
                    "4.2": [
                        FileSpec("sdist"),
                        FileSpec("raw", filename="Django-4.2-py3.9.egg"),
                        FileSpec("raw", filename="Django-4.2.win32.exe"),
                    ],
                    "5.0": [FileSpec("wheel")],
                    "5.1a1": [FileSpec("wheel")],
                },
            ),
            ProjectSpec(
                "Flask", {v: [FileSpec("wheel")] for v in ("1.0", "2.0.1", "2.1.0", "3.0.0b1")}
            ),
            ProjectSpec("click", {"8.0": [FileSpec("wheel")], "8.1": [FileSpec("wheel")]}),
            ProjectSpec("bigproj", {"1.0": [FileSpec("wheel", size_padding=64_000)]}),
            ProjectSpec("evil", {"6.6.6": [FileSpec("wheel")]}),
        ]
    )


def _pypa_config(requirements: Path) -> str:
    """The filter part of a bandersnatch 6 config, as an operator would have written it."""
    return f"""
json = false
hash-index = false
stop-on-error = false
global-timeout = 18000

[plugins]
enabled =
    allowlist_project
    allowlist_release
    blocklist_project
    blocklist_release
    project_requirements
    prerelease_release
    latest_release
    exclude_platform
    regex_release_file_metadata
    size_project_metadata

[allowlist]
packages =
    numpy
    requests>=2.0
    Django<5
requirements_path = {requirements}
requirements =
    requirements-*.txt

[blocklist]
packages =
    requests==2.1.0
platforms =
    windows
    macos
    py2.7

[latest_release]
keep = 2

[size_project_metadata]
max_package_size = 32K

[regex_release_file_metadata]
any:release_file.packagetype =
    sdist
    bdist_wheel
"""


def _write_requirements(directory: Path) -> None:
    directory.mkdir()
    web = "# web tier\n-r base.txt\nFlask==2.0.1  # the pin does not restrict: not _pinned\n"
    (directory / "requirements-web.txt").write_bytes(web.encode("utf-16"))
    (directory / "requirements-data.txt").write_text("bigproj\n")
    (directory / "base.txt").write_text("click>=8\n")


EXPECTED = {
    "numpy": (
        ("1.26.0", "2.0.0"),
        {
            f"numpy-{v}{tail}"
            for v in ("1.26.0", "2.0.0")
            for tail in (
                ".tar.gz",
                "-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                "-cp312-abi3-musllinux_1_1_aarch64.whl",
            )
        },
    ),
    "requests": (
        ("2.0.0", "2.2.0"),
        {
            f"requests-{v}{t}"
            for v in ("2.0.0", "2.2.0")
            for t in ("-py2.py3-none-any.whl", ".tar.gz")
        },
    ),
    "django": (("4.2",), {"django-4.2.tar.gz"}),
    "flask": (("2.0.1", "2.1.0"), {"flask-2.0.1-py3-none-any.whl", "flask-2.1.0-py3-none-any.whl"}),
    "click": (("8.0", "8.1"), {"click-8.0-py3-none-any.whl", "click-8.1-py3-none-any.whl"}),
}


def _mirrored(mirror: Mirror) -> dict[str, tuple[tuple[str, ...], set[str]]]:
    """{project: (versions, filenames)} as the JSON pages list them."""
    out: dict[str, tuple[tuple[str, ...], set[str]]] = {}
    for page in sorted((mirror.web / "simple").glob("*/index.v1_json")):
        doc = json.loads(page.read_text())
        out[page.parent.name] = (tuple(doc["versions"]), {f["filename"] for f in doc["files"]})
    return out


def _stored(mirror: Mirror) -> set[str]:
    return {
        p.name
        for p in (mirror.web / "packages").rglob("*")
        if p.is_file() and not p.name.endswith(".metadata")
    }


def test_pypa_config_with_filters_runs_unchanged(
    tmp_path: Path, make_fake_pypi: Callable[..., FakePyPI]
) -> None:
    fake = make_fake_pypi(_universe())
    _write_requirements(tmp_path / "requirements")
    mirror = make_mirror(tmp_path, fake, extra=_pypa_config(tmp_path / "requirements"))
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    assert _mirrored(mirror) == EXPECTED
    assert _stored(mirror) == set().union(*(files for _, files in EXPECTED.values()))
    root = json.loads((mirror.web / "simple" / "index.v1_json").read_text())
    assert sorted(p["name"] for p in root["projects"]) == [
        "Django",
        "Flask",
        "click",
        "numpy",
        "requests",
    ]
    asked = {r.path for r in fake.requests if r.path.startswith("/pypi/")}
    assert "/pypi/evil/json" not in asked  # never requested: not allowlisted
    assert "/pypi/bigproj/json" in asked  # fetched, then excluded by size


def test_tightening_and_loosening_filters_take_effect_next_run(
    tmp_path: Path, make_fake_pypi: Callable[..., FakePyPI]
) -> None:
    fake = make_fake_pypi(_universe())
    _write_requirements(tmp_path / "requirements")
    config = _pypa_config(tmp_path / "requirements")
    mirror = make_mirror(tmp_path, fake, extra=config)
    assert mirror.run("mirror").returncode == 0
    assert "click" in _mirrored(mirror)
    tightened = config.replace("    requests==2.1.0\n", "    requests==2.1.0\n    click\n")
    loosened = tightened.replace("    Django<5\n", "    Django<5\n    evil\n")
    mirror = make_mirror(tmp_path, fake, extra=loosened)
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    mirrored = _mirrored(mirror)
    assert "click" not in mirrored
    assert mirrored["evil"] == (("6.6.6",), {"evil-6.6.6-py3-none-any.whl"})
    assert not any(name.startswith("click-") for name in _stored(mirror))
