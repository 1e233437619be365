"""``bandersnatch mirror --dry-run`` through the real CLI against the fake PyPI: the plan it
prints, and a mirror directory left byte for byte as it was."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import filelock

from fakepypi import FakePyPI, FileSpec
from harness import Mirror, make_mirror


def tree(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every path under ``root``: (mode, content for files)."""
    found: dict[str, tuple[int, bytes | None]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            info = path.lstat()
            content = path.read_bytes() if stat.S_ISREG(info.st_mode) else None
            found[str(path.relative_to(root))] = (info.st_mode, content)
    return found


def dry_run(mirror: Mirror, *args: str) -> list[str]:
    result = mirror.run("mirror", "--dry-run", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = make_mirror(tmp_path, fake_pypi)
    assert mirror.run("mirror").returncode == 0
    universe = fake_pypi.universe
    universe.add_release("dep-leaf", "2.0", [FileSpec("wheel"), FileSpec("sdist")])
    new = [f for f in universe.project("dep-leaf").files() if f.version == "2.0"]  # type: ignore[union-attr]
    gone = [f for f in universe.project("yanky").files() if f.version == "1.0"]  # type: ignore[union-attr]
    universe.remove_release("yanky", "1.0")
    universe.remove_project("pyreq")
    before = tree(mirror.directory)
    fake_pypi.reset_log()

    lines = dry_run(mirror)

    assert tree(mirror.directory) == before  # byte-identical: no lock, state or report
    assert not any(r.path.startswith("/packages/") for r in fake_pypi.requests)
    fetch = {line for line in lines if ": would fetch " in line and not line.startswith("total")}
    assert fetch == {f"dep-leaf: would fetch web{f.url_path} ({f.size} bytes)" for f in new}
    assert {line for line in lines if " would delete " in line} == {
        f"yanky: would delete web{f.url_path}" for f in gone
    }
    assert "pyreq: would remove the project (upstream has no releases of it)" in lines
    total = sum(f.size for f in new)
    assert (
        lines[-1]
        == f"total: would fetch 2 files ({total} bytes), delete 1 files, remove 1 projects"
    )
    serial = int((mirror.directory / "status").read_text())
    assert lines[0].startswith(f"dry run: serial {serial} -> {universe.last_serial}, ")
    assert ", 3 projects to check, 3 would change;" in lines[0]

    # and the real run then does exactly that
    assert mirror.run("mirror").returncode == 0
    fetched = {r.path for r in fake_pypi.requests if r.path.startswith("/packages/")}
    assert {p for p in fetched if not p.endswith(".metadata")} == {f.url_path for f in new}
    assert not (mirror.web / "simple/pyreq").exists()
    nothing = "total: would fetch 0 files (0 bytes), delete 0 files, remove 0 projects"
    assert dry_run(mirror)[-1] == nothing
    checked = dry_run(mirror, "--force-check")  # every project asked, every file current
    assert checked[-1] == nothing and ", 5 projects to check, 0 would change;" in checked[0]


def test_dry_run_of_a_new_mirror_creates_nothing(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = make_mirror(tmp_path, fake_pypi)
    lines = dry_run(mirror)
    assert not mirror.directory.exists()
    sizes = {f"web{f.url_path}": f.size for p in fake_pypi.universe.projects() for f in p.files()}
    fetch = [line for line in lines if ": would fetch " in line and not line.startswith("total")]
    assert len(fetch) == len(sizes)
    assert all(any(f"would fetch {path} ({size} bytes)" in line for line in fetch)
               for path, size in sizes.items())  # fmt: skip


def test_dry_run_refuses_while_a_run_holds_the_lock(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = make_mirror(tmp_path, fake_pypi)
    assert mirror.run("mirror").returncode == 0
    with filelock.FileLock(str(mirror.directory / ".lock"), timeout=0):
        result = mirror.run("mirror", "--dry-run")
    assert result.returncode == 3 and ".lock" in result.stderr


ALLOW = """
[plugins]
enabled = allowlist_project
[allowlist]
packages =
    dep-leaf
"""


def test_dry_run_of_an_allowlisted_mirror_asks_only_for_the_listed(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = make_mirror(tmp_path, fake_pypi, extra=ALLOW)
    lines = dry_run(mirror)
    state = fake_pypi.universe.project("dep-leaf")
    assert state is not None
    assert {line for line in lines if line.startswith("dep-leaf: would fetch ")} == {
        f"dep-leaf: would fetch web{f.url_path} ({f.size} bytes)" for f in state.files()
    }
    assert not any(line.startswith(("yanky", "pyreq", "foo-bar-baz")) for line in lines)
    asked = {r.path for r in fake_pypi.requests if r.path.startswith("/pypi/")}
    assert asked == {"/pypi/dep-leaf/json"}
    assert not mirror.directory.exists()
