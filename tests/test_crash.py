"""Crash safety: the real CLI killed with SIGKILL at random moments, and stopped by SIGTERM."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fakepypi import FakePyPI, make_universe
from harness import CLI, Mirror, make_mirror

VOLATILE = {"web/last-modified", "web/status.json", "failures", "filters", "projects.stamp"}


def _snapshot(mirror: Mirror) -> dict[str, bytes]:
    """Every file of the mirror (symlinks by target), except ones that hold a timestamp."""
    out: dict[str, bytes] = {}
    for path in sorted(mirror.directory.rglob("*")):
        rel = path.relative_to(mirror.directory).as_posix()
        if rel in VOLATILE or rel == ".lock":
            continue
        if path.is_symlink():
            out[rel] = b"-> " + os.readlink(path).encode()
        elif path.is_file():
            out[rel] = path.read_bytes()
    return out


def _start(mirror: Mirror) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "-c", str(mirror.config), "mirror"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def slow_fake(make_fake_pypi: Callable[..., FakePyPI]) -> FakePyPI:
    fake = make_fake_pypi(make_universe(n_projects=50, seed=11, big_project_files=80))
    fake.slow("/packages/", 0.02)  # so that kills land in the middle of downloads
    return fake


@pytest.mark.slow
def test_sigkill_at_random_moments_then_finish_equals_an_uninterrupted_mirror(
    tmp_path: Path, slow_fake: FakePyPI
) -> None:
    reference = make_mirror(tmp_path / "reference", slow_fake)
    assert reference.run("mirror").returncode == 0
    reference_files = len(slow_fake.requests.filter(path_prefix="/packages/"))

    slow_fake.reset_log()
    victim = make_mirror(tmp_path / "victim", slow_fake)
    rng = random.Random(20261122)
    kills = 7
    interrupted = 0
    for _ in range(kills):
        proc = _start(victim)
        deadline = time.monotonic() + 30
        while not (victim.directory / "todo").exists() and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)  # the run has planned and is syncing: now kill it at random
        time.sleep(rng.uniform(0.05, 0.5))
        proc.kill()
        proc.communicate()
        interrupted += (victim.directory / "todo").exists()
    assert interrupted >= 3  # most kills really landed mid-sync
    result = victim.run("mirror")
    assert result.returncode == 0, result.stderr[-3000:]

    assert _snapshot(victim) == _snapshot(reference)
    assert victim.temp_files() == []
    assert not (victim.directory / "todo").exists()
    assert not (victim.directory / "todo.progress").exists()
    # complete files are not fetched again: at most the in-flight ones per kill
    fetched = len(slow_fake.requests.filter(path_prefix="/packages/"))
    assert fetched <= reference_files + kills * 8


def test_sigterm_stops_cleanly_and_the_next_run_resumes(
    tmp_path: Path, slow_fake: FakePyPI
) -> None:
    mirror = make_mirror(tmp_path, slow_fake)
    proc = _start(mirror)
    # stop it once it is syncing (the todo is written), however slowly it started
    deadline = time.monotonic() + 30
    while not (mirror.directory / "todo").exists() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 5, err[-2000:]
    assert "SIGTERM received" in err and "progress saved" in err
    assert (mirror.directory / "todo").exists()
    assert mirror.temp_files() == []
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr[-2000:]
    assert not (mirror.directory / "todo").exists()
    for state in slow_fake.universe.projects():
        if state.releases:
            page = mirror.page_json(state.normalized)
            assert len(page["files"]) == len(state.files())  # type: ignore[arg-type]


CHECKPOINT_EVERY = 3
SMALL_CHECKPOINTS = [
    sys.executable,
    "-c",
    "import sys; import bandersnatch.commands.mirror as m; "
    f"m.CHECKPOINT_EVERY = {CHECKPOINT_EVERY}; "
    "from bandersnatch.cli import main; sys.exit(main(sys.argv[1:]))",
]


def _progress_marks(mirror: Mirror) -> tuple[int, int]:
    """(todo's mtime, the journal's size): either changes when a run does work."""
    marks = []
    for leaf in ("todo", "todo.progress"):
        try:
            info = (mirror.directory / leaf).stat()
        except FileNotFoundError:
            marks.append(-1)
        else:
            marks.append(info.st_mtime_ns if leaf == "todo" else info.st_size)
    return marks[0], marks[1]


def test_killed_between_checkpoints_the_journal_stays_short_and_the_end_is_the_same(
    tmp_path: Path, slow_fake: FakePyPI
) -> None:
    reference = make_mirror(tmp_path / "reference", slow_fake)
    assert reference.run("mirror").returncode == 0
    victim = make_mirror(tmp_path / "victim", slow_fake, {"workers": "2"})
    rng = random.Random(4)
    todo_sizes = []
    for _ in range(4):
        proc = subprocess.Popen(
            [*SMALL_CHECKPOINTS, "-c", str(victim.config), "mirror"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Kill it at a random moment once it is doing work: after this run has written to
        # the journal or the todo (a fixed delay from start-up alone kills a run that is
        # still starting on a loaded machine, and it proves nothing).
        before = _progress_marks(victim)
        deadline = time.monotonic() + 30
        while _progress_marks(victim) == before and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(rng.uniform(0.3, 0.8))
        proc.kill()
        proc.wait()
        journal = victim.directory / "todo.progress"
        lines = journal.read_text().splitlines() if journal.exists() else []
        assert len(lines) < 2 * CHECKPOINT_EVERY  # checkpoints took the rest in
        todo_sizes.append(len((victim.directory / "todo").read_text().splitlines()))
    assert todo_sizes[-1] < todo_sizes[0]  # checkpoints rewrote the todo as work got done
    result = victim.run("mirror")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _snapshot(victim) == _snapshot(reference)
    assert victim.temp_files() == []
