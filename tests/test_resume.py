"""Interrupted runs resume from the ledger and the progress journal alone: the project pages
are never read back, and a run that re-plans keeps what the journal says is done."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bandersnatch.journal import Progress
from bandersnatch.models import ProjectName
from bandersnatch.state import MirrorState
from bandersnatch.storage import FilesystemStorage

from fakepypi import FakePyPI, FileSpec, make_universe
from harness import CLI, Mirror, make_mirror


def _start(mirror: Mirror, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "-c", str(mirror.config), "mirror", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)


def _journal(mirror: Mirror) -> dict[str, int]:
    path = mirror.directory / "todo.progress"
    lines = path.read_text().splitlines() if path.exists() else []
    return {line.split(" ")[0]: int(line.split(" ")[1]) for line in lines}


def test_an_interrupted_first_sync_resumes_without_reading_pages_back(
    tmp_path: Path, make_fake_pypi: Callable[..., FakePyPI]
) -> None:
    fake = make_fake_pypi(make_universe(n_projects=30, seed=5))
    fake.slow("/packages/", 0.05)
    mirror = make_mirror(tmp_path, fake, {"workers": "2"})
    proc = _start(mirror)
    _wait_for(lambda: len(_journal(mirror)) >= 3, proc)
    proc.kill()
    proc.wait()
    assert (mirror.directory / "projects").exists()  # written before the first project synced
    ghost = mirror.web / "simple/ghost"  # only a scan of the pages would find this one
    shutil.copytree(mirror.web / "simple" / next(iter(_journal(mirror))), ghost)
    fake.reset_faults()
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr[-3000:]
    root = json.loads((mirror.web / "simple/index.v1_json").read_text())
    listed = [(p["name"], p["_last-serial"]) for p in root["projects"]]
    upstream = sorted((p.name, p.serial) for p in fake.universe.projects() if p.releases)
    assert sorted(listed) == upstream


def test_a_resumed_run_that_plans_again_keeps_the_journal(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = make_mirror(tmp_path, fake_pypi)
    assert mirror.run("mirror").returncode == 0
    projects = {p.normalized: p for p in fake_pypi.universe.projects() if p.releases}
    done, slow, *rest = sorted(projects)
    for name in (done, slow):
        fake_pypi.universe.add_release(name, "77.0", [FileSpec("sdist")])
    # an interrupted run had planned every project and finished ``done`` (its pages too)
    assert mirror.run("sync", done).returncode == 0
    state = MirrorState(FilesystemStorage(mirror.directory))
    state.write_todo(fake_pypi.universe.last_serial, {ProjectName(n): 0 for n in projects})
    serial = fake_pypi.universe.project(done).serial  # type: ignore[union-attr]
    state.append_progress(Progress(ProjectName(done), serial, done, "ok"))
    fake_pypi.reset_log()
    fake_pypi.slow(f"/pypi/{slow}/json", 30)
    proc = _start(mirror, "--force-check")  # plans again, then is killed mid-sync
    _wait_for(lambda: any(r.path == f"/pypi/{slow}/json" for r in fake_pypi.requests), proc)
    proc.kill()
    proc.wait()
    assert done not in (mirror.directory / "todo").read_text()
    assert _journal(mirror)[done] == serial
    fake_pypi.reset_faults()
    result = mirror.run("mirror", "--force-check")
    assert result.returncode == 0, result.stderr[-3000:]
    asked = {r.path for r in fake_pypi.requests}
    assert f"/pypi/{done}/json" not in asked  # done before the interruptions: never again
    assert {f"/pypi/{name}/json" for name in rest} <= asked
    assert "77.0" in mirror.page_json(slow)["versions"]  # type: ignore[operator]
    assert not (mirror.directory / "todo.progress").exists()
