"""Mirror of a mirror: A mirrors the fake PyPI; B mirrors A with ``change-feed = simple``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fakepypi import FakePyPI, FileSpec, make_universe
from harness import Mirror, make_mirror
from servers import InProcess


def _pages(mirror: Mirror) -> dict[str, Any]:
    """Every project page minus the link URLs (which differ by host), keyed by name."""
    out = {}
    for page in sorted((mirror.web / "simple").glob("*/index.v1_json")):
        doc = json.loads(page.read_text())
        for f in doc["files"]:
            f.pop("url")
        out[page.parent.name] = doc
    return out


def _files(mirror: Mirror) -> dict[str, bytes]:
    root = mirror.web / "packages"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _root(mirror: Mirror) -> dict[str, int]:
    doc = json.loads((mirror.web / "simple/index.v1_json").read_text())
    return {p["name"]: p["_last-serial"] for p in doc["projects"]}


def test_a_mirror_of_a_mirror_reproduces_upstream(
    tmp_path: Path, make_fake_pypi: Callable[..., FakePyPI]
) -> None:
    fake = make_fake_pypi(make_universe(n_projects=30, seed=5, big_project_files=30))
    a = make_mirror(tmp_path / "a", fake)
    assert a.run("mirror").returncode == 0
    with InProcess(a.web) as served:
        b = make_mirror(tmp_path / "b", fake, {"master": served.url, "change-feed": "simple"})
        result = b.run("mirror")
        assert result.returncode == 0, result.stderr[-3000:]
        assert _pages(b) == _pages(a)
        assert _files(b) == _files(a)
        assert _root(b) == _root(a)

        # upstream changes; A follows PyPI, then B follows A with one root-index request
        first = next(p.name for p in fake.universe.projects() if p.releases)
        fake.universe.add_release(first, "77.0", [FileSpec("wheel")])
        doomed = [p.name for p in fake.universe.projects() if p.releases][1]
        fake.universe.remove_project(doomed)
        assert a.run("mirror").returncode == 0
        served.clear()
        result = b.run("mirror")
        assert result.returncode == 0, result.stderr[-3000:]
        assert _pages(b) == _pages(a)
        assert _files(b) == _files(a)
        assert _root(b) == _root(a)
        pages = [r for r in served.log() if r.path.startswith("/simple/") and r.path != "/simple/"]
        # the changed project once; the removed one twice (its 404, then origin's confirmation)
        assert sorted(r.status for r in pages) == [200, 404, 404]
        # a no-op run of B asks A for its root index only
        served.clear()
        assert b.run("mirror").returncode == 0
        assert [r.path for r in served.log()] == ["/simple/"]
