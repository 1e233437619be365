"""Requirements files for project_requirements / project_requirements_pinned: globs,
comments, includes, pip options and odd encodings."""

from __future__ import annotations

import codecs
import logging
from pathlib import Path

import pytest

from bandersnatch import filters
from bandersnatch.config.records import Allowlist
from bandersnatch.errors import ConfigError
from bandersnatch.filters.requirements import decode, requirement_files, requirements_pins
from bandersnatch.rules.pins import Pin
from filterkit import build, kept, load, project, simple


def _names(allowlist: Allowlist) -> list[str]:
    return [pin.name for pin in requirements_pins(allowlist)]


def _section(tmp_path: Path, *files: str) -> Allowlist:
    """``[allowlist]`` naming ``files`` (one a line), relative to ``tmp_path``."""
    lines = "".join(f"\n    {line}" for line in files)
    body = f"[allowlist]\nrequirements_path = {tmp_path}\nrequirements ={lines}\n"
    return load(tmp_path, body).allowlist


def test_pip_style_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "requirements.txt").write_text(
        "# pinned by pip-compile\n"
        "--index-url https://example.invalid/simple\n"
        "-e git+https://example.invalid/repo.git#egg=editable\n"
        "-c constraints.txt\n"
        "Flask==2.0.1 \\\n"
        "    --hash=sha256:0123456789abcdef\n"
        "requests[socks]>=2.25 ; python_version >= '3.7'  # inline comment\n"
        "  Django_Rest.framework  \n"
        "\n"
        "./local/path\n"
        "https://example.invalid/some.whl\n"
        "pkg @ https://example.invalid/pkg-1.0.tar.gz#sha256=abcd\n"
    )
    with caplog.at_level(logging.WARNING):
        pins = requirements_pins(_section(tmp_path, "requirements.txt"))
    assert [(p.name, str(p.specifier)) for p in pins] == [
        ("flask", "==2.0.1"),
        ("requests", ">=2.25"),
        ("django-rest-framework", ""),
        ("pkg", ""),
    ]
    assert "./local/path" in caplog.text and "some.whl" in caplog.text


def test_includes_are_followed_once(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "dev.txt").write_text("-r sub/base.txt\npytest\n--requirement=dev.txt\n")
    (tmp_path / "sub" / "base.txt").write_text("attrs\n-rmore.txt\n")
    (tmp_path / "sub" / "more.txt").write_text("six\n-r ../dev.txt\n")
    assert _names(_section(tmp_path, "dev.txt")) == ["attrs", "six", "pytest"]


def test_globs_expand_sorted_and_comments_are_skipped(tmp_path: Path) -> None:
    for name, body in (("requirements-b.txt", "bbb\n"), ("requirements-a.txt", "aaa\n")):
        (tmp_path / name).write_text(body)
    (tmp_path / "other.txt").write_text("ccc\n")
    section = _section(tmp_path, "# a comment", "requirements-*.txt", "other.txt  # more")
    assert requirement_files(section) == [
        tmp_path / "requirements-a.txt",
        tmp_path / "requirements-b.txt",
        tmp_path / "other.txt",
    ]
    assert _names(section) == ["aaa", "bbb", "ccc"]


def test_absolute_names_ignore_requirements_path(tmp_path: Path) -> None:
    (tmp_path / "abs.txt").write_text("zzz\n")
    section = Allowlist(
        requirements_path=Path("/nonexistent"), requirements=(str(tmp_path / "abs.txt"),)
    )
    assert _names(section) == ["zzz"]
    section = Allowlist(
        requirements_path=Path("/nonexistent"), requirements=(str(tmp_path / "ab*.txt"),)
    )
    assert _names(section) == ["zzz"]


def test_missing_file_and_empty_glob_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file") as caught:
        requirements_pins(_section(tmp_path, "missing.txt"))
    assert (caught.value.section, caught.value.key) == ("allowlist", "requirements")
    with pytest.raises(ConfigError, match="matches"):
        requirements_pins(_section(tmp_path, "reqs-*.txt"))
    (tmp_path / "a.txt").write_text("-r gone.txt\n")
    with pytest.raises(ConfigError, match=r"gone\.txt"):
        requirements_pins(_section(tmp_path, "a.txt"))


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF8 + "héllo==1.0\nwörld\n".encode(),
        "héllo==1.0\nwörld\n".encode("utf-16"),  # with a BOM
        codecs.BOM_UTF16_BE + "héllo==1.0\nwörld\n".encode("utf-16-be"),
        "héllo==1.0\nwörld\n".encode("utf-32"),
        "héllo==1.0\nwörld\n".encode("utf-16-le"),  # no BOM: PowerShell's `>` redirect
        "héllo==1.0\nwörld\n".encode(),
        "héllo==1.0\nwörld\n".encode("latin-1"),  # not UTF-8: latin-1 fallback
        "# -*- coding: cp1252 -*-\nhéllo==1.0\nwörld\n".encode("cp1252"),
    ],
    ids=["utf8-bom", "utf16", "utf16be-bom", "utf32", "utf16le-nobom", "utf8", "latin1", "pep263"],
)
def test_encodings(data: bytes) -> None:
    lines = [line for line in decode(data).splitlines() if not line.startswith("#")]
    assert lines == ["héllo==1.0", "wörld"]


def test_encoded_file_feeds_the_allowlist(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_bytes("Foo==1.0\r\nbar\r\n".encode("utf-16"))
    assert _names(_section(tmp_path, "r.txt")) == ["foo", "bar"]


def test_pin_matches_prereleases_and_never_invalid_versions() -> None:
    assert Pin.parse("foo<2").matches("1.5rc1")
    assert not Pin.parse("foo<2").matches("2.0rc1")  # PEP 440: <2 excludes 2's prereleases
    assert not Pin.parse("foo==1.0").matches("not-a-version")
    assert Pin.parse("foo").matches("not-a-version")


def test_project_requirements_pinned_keeps_exactly_the_pins(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("foo==1.0\nfoo==2.0b1\nbar\n")
    body = f"""
[plugins]
enabled =
    project_requirements
    project_requirements_pinned
    prerelease_release
    latest_release
[allowlist]
requirements_path = {tmp_path}
requirements = requirements.txt
[latest_release]
keep = 1
"""
    rules = build(tmp_path, body)
    assert rules.known_names() == {"foo", "bar"}
    foo = project("foo", {v: simple(v) for v in ("1.0", "2.0b1", "3.0")})
    # pinned: the operator named the versions, no other release filter applies
    assert kept(rules.apply(foo))[0] == ("1.0", "2.0b1")
    bar = project("bar", {v: simple(v, "bar") for v in ("1.0", "2.0rc1", "1.5")})
    # not pinned: every release filter applies (no prerelease, the newest one)
    assert kept(rules.apply(bar))[0] == ("1.5",)


def test_requirement_lines_reflect_the_files(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("Flask == 2.0.1\nrequests\n")
    body = f"""
[plugins]
enabled = project_requirements
[allowlist]
requirements_path = {tmp_path}
requirements = r.txt
"""
    assert filters.requirement_lines(load(tmp_path, body)) == ("flask==2.0.1", "requests")
    assert filters.requirement_lines(load(tmp_path, "[plugins]\nenabled = all\n")) == ()
