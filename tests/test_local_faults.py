"""Bad local input, through the real CLI: a corrupt, truncated or empty state file, a file
where the mirror keeps a directory, a read-only mirror directory. Each gets one line naming
the path and the documented behaviour (docs/troubleshooting.md), never a traceback; exit 4
only for what the operator has to fix, and then the documented fix makes the next run
complete."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bandersnatch.models import normalize

from fakepypi import FakePyPI, FileSpec
from harness import Mirror, make_mirror


@dataclass(frozen=True)
class Case:
    """Break ``path`` (relative to the mirror directory) with ``damage``, run ``command``:
    exit ``rc`` and a line matching ``says``. ``fix`` (the documented remedy) is applied
    before the next run, which must complete."""

    path: str
    damage: Callable[[Path], None]
    rc: int
    says: str
    command: tuple[str, ...] = ("mirror",)
    fix: Callable[[Path], None] | None = None


def _write(data: bytes) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        path.write_bytes(data)

    return damage


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 1])


def _replace_with_file(path: Path) -> None:
    path.rename(path.with_name(path.name + ".moved"))
    path.write_bytes(b"not a directory\n")


def _delete(path: Path) -> None:
    path.unlink()


def _move_back(path: Path) -> None:
    path.unlink()
    path.with_name(path.name + ".moved").rename(path)


def _with_todo(damage: Callable[[Path], None]) -> Callable[[Path], None]:
    """An interrupted run's todo (naming every project) beside the damaged journal."""

    def both(path: Path) -> None:
        todo = path.with_name("todo")
        todo.write_text("999\ndep-leaf 1\nfoo-bar-baz 1\n")
        damage(path)

    return both


GARBAGE = b"\xff\xfe\x00garbage\tline\n\x80\n"
STATUS_HINT = r"state file status: .*fix it, or delete it and run 'bandersnatch mirror --force"
LEDGER_HINT = r"state file projects: .*delete it; the next run rebuilds it from the simple pages"
GENERATION = r"state file generation: not a number: .*; if this tool wrote this mirror, write 5"
CASES = {
    "status-garbage": Case("status", _write(GARBAGE), 4, STATUS_HINT, fix=_delete),
    "status-empty": Case("status", _write(b""), 4, STATUS_HINT, fix=_delete),
    "status-truncated": Case("status", _write(b"12"), 0, ""),  # a smaller serial: re-checks
    "generation-garbage": Case("generation", _write(GARBAGE), 4, GENERATION, fix=_delete),
    "generation-empty": Case("generation", _write(b""), 4, GENERATION, fix=_delete),
    "todo-garbage": Case(
        "todo", _write(GARBAGE), 0, r"todo file is corrupt .*moved it to todo\.corrupt-\d+"
    ),
    "todo-empty": Case("todo", _write(b""), 0, r"todo file is corrupt"),
    "todo-truncated": Case("todo", _write(b"999\ndep-leaf 1\nfoo-b"), 0, ""),
    "journal-garbage": Case("todo.progress", _with_todo(_write(GARBAGE)), 0, ""),
    "journal-empty": Case("todo.progress", _with_todo(_write(b"")), 0, ""),
    "ledger-garbage": Case("projects", _write(GARBAGE), 4, LEDGER_HINT, fix=_delete),
    "ledger-truncated": Case("projects", _truncate, 4, LEDGER_HINT, fix=_delete),
    "ledger-empty": Case("projects", _write(b""), 0, r"projects is empty .*rebuilt from the pages"),
    "ledger-garbage-verify": Case(
        "projects", _write(GARBAGE), 4, LEDGER_HINT, ("verify",), fix=_delete
    ),
    "generation-garbage-verify": Case(
        "generation", _write(GARBAGE), 4, GENERATION, ("verify",), fix=_delete
    ),
    "checkpoint-garbage": Case(
        "verify.checkpoint", _write(GARBAGE), 0, r"verify\.checkpoint is from a verify", ("verify",)
    ),
    "checkpoint-empty": Case("verify.checkpoint", _write(b""), 0, "", ("verify",)),
    "web-simple-is-a-file": Case(
        "web/simple",
        _replace_with_file,
        4,
        r"web/simple: not a directory where the mirror keeps a directory; .*move it away",
        fix=_move_back,
    ),
    "web-packages-is-a-file": Case(
        "web/packages",
        _replace_with_file,
        4,
        r"web/packages: not a directory where the mirror keeps a directory; .*move it away",
        fix=_move_back,
    ),
}


def _synced(tmp_path: Path, fake: FakePyPI) -> Mirror:
    mirror = make_mirror(tmp_path, fake)
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr[-3000:]
    return mirror


def _new_release(fake: FakePyPI) -> None:
    """Something to do, so the run reads (and rewrites) every state file."""
    fake.universe.add_release("dep-leaf", "9.0", [FileSpec("sdist")])


def _clean(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr[-3000:]


@pytest.mark.parametrize("key", CASES)
def test_bad_local_input_gets_one_line_and_a_safe_outcome(
    key: str, tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    case = CASES[key]
    mirror = _synced(tmp_path, fake_pypi)
    _new_release(fake_pypi)
    target = mirror.directory / case.path
    case.damage(target)
    result = mirror.run(*case.command)
    _clean(result.stderr)
    assert result.returncode == case.rc, result.stderr[-3000:]
    if case.says:
        assert re.search(case.says, result.stderr), result.stderr[-3000:]
    if case.rc == 4:
        (line,) = [x for x in result.stderr.splitlines() if x.startswith("bandersnatch: error:")]
        assert case.path in line
        assert case.fix is not None
        case.fix(target)
        result = mirror.run(*case.command)
        _clean(result.stderr)
        assert result.returncode == 0, result.stderr[-3000:]
    if case.command == ("mirror",):  # the mirror is whole again, the new release in it
        assert "9.0" in mirror.page_json("dep-leaf")["versions"]  # type: ignore[operator]
        root = json.loads((mirror.web / "simple" / "index.v1_json").read_text())
        listed = {normalize(p["name"]) for p in root["projects"]}
        expected = {p.normalized for p in fake_pypi.universe.projects() if p.releases}
        assert expected <= listed, expected - listed
        again = mirror.run("verify")
        assert again.returncode == 0, again.stderr[-3000:]
        assert "0 missing, 0 corrupt" in again.stderr


def test_a_file_where_a_package_directory_belongs_fails_only_that_file(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    """``web/packages/<xx>`` is a file: the files that belong below it are refused with a
    warning naming the path and left off their project's page (the run goes on: below
    ``web/packages/`` a path comes from upstream data); once it is moved away,
    ``mirror --force-check`` fetches them."""
    mirror = make_mirror(tmp_path, fake_pypi)
    state = fake_pypi.universe.project("dep-leaf")
    assert state is not None
    first = state.files()[0].url_path.lstrip("/").split("/")  # packages/xx/yy/hash/name
    blocker = mirror.web / first[0] / first[1]
    blocker.parent.mkdir(parents=True)
    blocker.write_bytes(b"planted\n")
    result = mirror.run("mirror")
    _clean(result.stderr)
    assert result.returncode == 0, result.stderr[-3000:]
    said = rf"WARNING: dep-leaf: refused file {re.escape(state.files()[0].filename)}: "
    said += rf"web/packages/{first[1]}: not a directory where the mirror keeps a directory"
    assert re.search(said, result.stderr), result.stderr[-3000:]
    assert mirror.page_json("foo-bar-baz")["files"]  # the others are mirrored
    listed = mirror.page_json("dep-leaf")["files"]
    assert state.files()[0].filename not in str(listed)
    blocker.unlink()
    result = mirror.run("mirror", "--force-check")
    assert result.returncode == 0, result.stderr[-3000:]
    assert state.files()[0].filename in str(mirror.page_json("dep-leaf")["files"])


@contextmanager
def _read_only(directory: Path) -> Iterator[str]:
    """``directory`` read-only: a read-only tmpfs mounted over it (root, where mounting is
    allowed), else mode 0555 (which only binds a non-root user). Yields the reason the
    tool is expected to give."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield "permission denied"
        finally:
            directory.chmod(0o755)
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(directory)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"root without permission to mount a read-only tmpfs: {mounted.stderr!r}")
    try:
        yield "read-only file system"
    finally:
        subprocess.run(["umount", str(directory)], check=True)


def test_a_read_only_mirror_directory_stops_with_one_line(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = make_mirror(tmp_path, fake_pypi)
    mirror.directory.mkdir()
    with _read_only(mirror.directory) as reason:
        result = mirror.run("mirror")
    _clean(result.stderr)
    assert result.returncode == 4, result.stderr[-3000:]
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("bandersnatch: error:")]
    assert str(mirror.directory) in line or ".lock" in line or "generation" in line, line
    assert reason in line, line
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_disk_that_fills_part_way_stops_the_run_and_the_next_one_completes(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    """A real full disk: the mirror directory is a 64 KiB tmpfs (root, where mounting is
    allowed; without it, tests/test_incremental.py covers the same path with a file-size
    limit). The run stops with one line (exit 4), leaves no temp file, and once the disk is
    grown the next run completes."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; see test_incremental's EFBIG test")
    mirror = make_mirror(tmp_path, fake_pypi)
    mirror.directory.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mirror.directory)]
    mounted = subprocess.run(mount, capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"root without permission to mount a tmpfs: {mounted.stderr!r}")
    try:
        result = mirror.run("mirror")
        _clean(result.stderr)
        assert result.returncode == 4, result.stderr[-3000:]
        (line,) = [x for x in result.stderr.splitlines() if x.startswith("bandersnatch: error:")]
        assert "no space left on device; free some space and run again" in line, line
        assert mirror.temp_files() == []
        remount = ["mount", "-o", "remount,size=16m", str(mirror.directory)]
        subprocess.run(remount, check=True)
        result = mirror.run("mirror")
        assert result.returncode == 0, result.stderr[-3000:]
        verified = mirror.run("verify")
        assert verified.returncode == 0, verified.stderr[-3000:]
        assert "0 missing, 0 corrupt" in verified.stderr
    finally:
        subprocess.run(["umount", str(mirror.directory)], check=True)
