"""An operator's pypa/bandersnatch 8.x config and command lines work here unchanged: every key
and option is accepted, with the same meaning or with one warning saying why it has none."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from bandersnatch.cli import build_parser
from bandersnatch.config import load
from pypa_keys import COMMAND_OPTIONS, EXAMPLE_MIRROR, MIRROR_DEFAULTS, OTHER_SPELLINGS

from fakepypi import FakePyPI
from harness import Mirror


def _config(tmp_path: Path, fake: FakePyPI, keys: dict[str, str]) -> Mirror:
    """A config with ``keys`` as written, only ``directory`` and ``master`` changed (and plain
    http allowed: the fake upstream is on 127.0.0.1)."""
    values = {**keys, "directory": str(tmp_path / "mirror"), "master": fake.url}
    values["allow-non-https"] = "true"
    body = "[mirror]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "bandersnatch.conf"
    config.write_text(body)
    return Mirror(tmp_path / "mirror", config)


@pytest.mark.parametrize(
    "keys", [EXAMPLE_MIRROR, MIRROR_DEFAULTS], ids=["example.conf", "defaults.conf"]
)
def test_a_pypa_config_runs_mirror_with_exit_0(
    tmp_path: Path, fake_pypi: FakePyPI, keys: dict[str, str]
) -> None:
    mirror = _config(tmp_path, fake_pypi, keys)
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    assert "[mirror] cleanup_todo has no effect" in result.stderr
    assert "delete_missing_packages = false: projects removed upstream" in result.stderr
    assert (mirror.web / "simple" / "foo-bar-baz" / "index.v1_json").is_file()
    # delete_missing_packages = false keeps what upstream removed, as pypa/bandersnatch does
    fake_pypi.universe.remove_project("Foo.Bar_baz")
    assert mirror.run("mirror").returncode == 0
    assert (mirror.web / "simple" / "foo-bar-baz" / "index.v1_json").is_file()


def test_every_key_and_spelling_is_known(tmp_path: Path) -> None:
    keys = {**MIRROR_DEFAULTS, **EXAMPLE_MIRROR}
    keys.pop("keep-index-versions")
    for spelling in (keys, {"directory": "/srv/pypi", **OTHER_SPELLINGS}):
        config = tmp_path / "c.conf"
        config.write_text("[mirror]\n" + "".join(f"{k} = {v}\n" for k, v in spelling.items()))
        load(config)  # raises ConfigError for an unknown key


def test_delete_missing_packages_true_mirrors_removals(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = _config(tmp_path, fake_pypi, {"delete_missing_packages": "true"})
    assert mirror.run("mirror").returncode == 0
    fake_pypi.universe.remove_project("Foo.Bar_baz")
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    assert not (mirror.web / "simple" / "foo-bar-baz").exists()


def test_manage_permissions_sets_modes_whatever_the_umask(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = _config(tmp_path, fake_pypi, {})
    result = mirror.run("mirror", umask=0o077)
    assert result.returncode == 0, result.stderr
    page = mirror.web / "simple" / "foo-bar-baz" / "index.v1_json"
    wheel = next(mirror.web.glob("packages/*/*/*/*.whl"))
    assert page.stat().st_mode & 0o777 == 0o644
    assert wheel.stat().st_mode & 0o777 == 0o644
    assert wheel.parent.stat().st_mode & 0o777 == 0o755
    assert (mirror.directory / "status").stat().st_mode & 0o777 == 0o600
    off = _config(tmp_path / "off", fake_pypi, {"storage-filesystem-manage-permissions": "false"})
    assert off.run("mirror", umask=0o077).returncode == 0
    assert (off.web / "simple" / "foo-bar-baz" / "index.v1_json").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("command", "option"), [(c, o) for c, options in COMMAND_OPTIONS.items() for o in options]
)
def test_every_pypa_command_option_parses(command: str, option: str) -> None:
    names = ["NAME"] if command in ("delete", "sync") else []
    args = build_parser().parse_args([command, *shlex.split(option), *names])
    assert args.command == command


def test_inert_options_say_so(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = _config(tmp_path, fake_pypi, {})
    result = mirror.run("mirror", "--cleanup-todo")
    assert result.returncode == 0, result.stderr
    assert "--cleanup-todo has no effect" in result.stderr
    result = mirror.run("delete", "--workers", "3", "--skip-json-fetch", "--dry-run", "dep-leaf")
    assert result.returncode == 0, result.stderr
    assert "--workers has no effect" in result.stderr
    assert "--skip-json-fetch has no effect" in result.stderr
