"""The real CLI: config handling, exit codes, the lock, the allowlist fast path, logs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import filelock

from fakepypi import FakePyPI
from harness import CLI, make_mirror


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, check=False)


def test_version_and_module_entry_point() -> None:
    result = _cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("bandersnatch ")
    console = Path(sys.executable).with_name("bandersnatch")
    assert subprocess.run([console, "--version"], capture_output=True, check=False).returncode == 0


def test_missing_config_is_written_and_the_user_told_to_review_it(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "bandersnatch.conf"
    result = _cli("-c", str(config), "mirror")
    assert result.returncode == 2
    assert "Review it" in result.stderr and str(config) in result.stderr
    assert "[mirror]" in config.read_text()
    assert "Traceback" not in result.stderr


def test_unknown_key_is_one_clear_line_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "b.conf"
    config.write_text(f"[mirror]\ndirectory = {tmp_path}/m\nworkerz = 3\n")
    result = _cli("-c", str(config), "mirror")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "[mirror] workerz" in lines[0] and "'3'" in lines[0] and "workers" in lines[0]
    assert not (tmp_path / "m").exists()


def test_bad_value_names_section_key_and_value(tmp_path: Path) -> None:
    config = tmp_path / "b.conf"
    config.write_text(f"[mirror]\ndirectory = {tmp_path}/m\nworkers = 50\n")
    result = _cli("-c", str(config), "mirror")
    assert result.returncode == 2
    assert "[mirror] workers = '50'" in result.stderr


def test_usage_error_exits_2() -> None:
    assert _cli("frobnicate").returncode == 2


def test_locked_mirror_exits_3_and_changes_nothing(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = make_mirror(tmp_path, fake_pypi)
    mirror.directory.mkdir()
    with filelock.FileLock(str(mirror.directory / ".lock"), timeout=0):
        result = mirror.run("mirror")
    assert result.returncode == 3
    assert "locked" in result.stderr
    assert fake_pypi.requests.filter(path="/pypi") == []
    assert not (mirror.directory / "web").exists()


def test_allowlisted_mirror_asks_about_listed_projects_only(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    extra = "[plugins]\nenabled = allowlist_project\n[allowlist]\npackages =\n    foo.bar-BAZ\n"
    mirror = make_mirror(tmp_path, fake_pypi, extra=extra)
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    calls = fake_pypi.requests.xmlrpc_calls()
    assert calls == ["changelog_last_serial"]
    json_paths = {r.path for r in fake_pypi.requests if r.path.startswith("/pypi")}
    assert json_paths == {"/pypi", "/pypi/foo-bar-baz/json"}
    assert not any(r.path.startswith("/simple") for r in fake_pypi.requests)
    state = fake_pypi.universe.project("foo-bar-baz")
    assert state is not None
    wanted = {f.url_path for fs in state.releases.values() for f in fs}
    fetched = {r.path for r in fake_pypi.requests if r.path.startswith("/packages/")}
    assert {p for p in fetched if not p.endswith(".metadata")} == wanted
    assert sorted(p.name for p in (mirror.web / "simple").iterdir() if p.is_dir()) == [
        "foo-bar-baz"
    ]


def test_a_no_op_run_asks_upstream_once_and_writes_only_last_modified(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = make_mirror(tmp_path, fake_pypi)
    assert mirror.run("mirror").returncode == 0
    before = {p: p.stat().st_mtime_ns for p in mirror.directory.rglob("*") if p.is_file()}
    fake_pypi.reset_log()
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    assert [r.xmlrpc_method for r in fake_pypi.requests] == ["changelog_since_serial"]
    after = {p: p.stat().st_mtime_ns for p in mirror.directory.rglob("*") if p.is_file()}
    changed = {
        p.relative_to(mirror.directory).as_posix() for p in after if after[p] != before.get(p)
    }
    assert changed == {"web/last-modified", "web/status.json"}  # and the run report


def test_logs_a_line_per_project_and_a_summary(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = make_mirror(tmp_path, fake_pypi)
    result = mirror.run("mirror")
    projects = [p for p in fake_pypi.universe.projects() if p.releases]
    for state in projects:
        assert f"INFO: {state.normalized}: synced serial {state.serial}" in result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    assert f"summary: {len(projects)} projects synced" in summary
    assert "0 projects failed" in summary and "seconds" in summary


ALLOW_TWO = """
[plugins]
enabled = allowlist_project
[allowlist]
packages =
    Foo.Bar_baz
    dep-leaf
"""


def test_allowlist_without_xmlrpc_polls_only_the_listed_projects(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    fake_pypi.fail("/pypi", status=405, times=1000)  # an upstream that serves no XML-RPC
    mirror = make_mirror(tmp_path, fake_pypi, extra=ALLOW_TWO)
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    assert "checking each allowlisted project instead" in result.stderr
    asked = {r.path for r in fake_pypi.requests if r.path != "/pypi"}
    assert {p for p in asked if not p.startswith("/packages/")} == {
        "/pypi/foo-bar-baz/json",
        "/pypi/dep-leaf/json",
    }
    before = {p: p.stat().st_mtime_ns for p in mirror.directory.rglob("*") if p.is_file()}
    fake_pypi.reset_log()
    assert mirror.run("mirror").returncode == 0
    assert sorted(r.path for r in fake_pypi.requests if r.path != "/pypi") == [
        "/pypi/dep-leaf/json",
        "/pypi/foo-bar-baz/json",
    ]
    after = {p: p.stat().st_mtime_ns for p in mirror.directory.rglob("*") if p.is_file()}
    changed = {p.name for p in after if after[p] != before.get(p)}
    assert changed == {"last-modified", "status.json"}  # and the run report


def test_allowlist_with_simple_feed_never_fetches_the_root_index(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = make_mirror(tmp_path, fake_pypi, {"change-feed": "simple"}, extra=ALLOW_TWO)
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    pages = {r.path for r in fake_pypi.requests if r.path.startswith("/simple")}
    assert pages == {"/simple/foo-bar-baz/", "/simple/dep-leaf/"}
    assert not any(r.path == "/pypi" for r in fake_pypi.requests)
