"""Names are data: projects named like the mirror's own files and directories are projects.

``index`` (beside ``web/simple/index.html``), ``indexer``, ``index-py``, ``packages``,
``simple``, ``json``, ``pypi``, ``last-modified`` and the display names ``index.html`` and
``index.v1_json`` (normalized to ``index-html`` and ``index-v1-json``) are mirrored, listed in
the root index, kept by ``verify --delete``, and still listed once the ledger is rebuilt from
the pages.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakepypi import FakePyPI, FileSpec, ProjectSpec, Universe
from harness import Mirror, make_mirror, sha256_of

NAMES = (
    "index",
    "indexer",
    "index-py",
    "packages",
    "simple",
    "json",
    "pypi",
    "last-modified",
    "index.html",
    "index.v1_json",
)


def _pages_dir(mirror: Mirror, name: str, hash_index: bool) -> Path:
    return mirror.web / "simple" / (f"{name[0]}/{name}" if hash_index else name)


def _listed(mirror: Mirror) -> tuple[set[str], str]:
    root = json.loads((mirror.web / "simple/index.v1_json").read_text())
    return {p["name"] for p in root["projects"]}, (mirror.web / "simple/index.html").read_text()


def _assert_mirrored(mirror: Mirror, fake: FakePyPI, hash_index: bool) -> None:
    listed, html = _listed(mirror)
    assert listed == set(NAMES)
    for display in NAMES:
        state = fake.universe.project(display)
        assert state is not None
        pages = _pages_dir(mirror, state.normalized, hash_index)
        doc = json.loads((pages / "index.v1_json").read_text())
        assert {f["filename"] for f in doc["files"]} == {f.filename for f in state.files()}
        for f in state.files():
            assert sha256_of(mirror.web / f.url_path.lstrip("/")) == f.sha256
        assert f"<title>Links for {display}</title>" in (pages / "index.html").read_text()
        assert f">{display}</a>" in html


@pytest.mark.parametrize("hash_index", [False, True])
def test_projects_named_like_the_mirrors_own_files_are_projects(
    tmp_path: Path, make_fake_pypi: object, hash_index: bool
) -> None:
    universe = Universe([ProjectSpec(n, {"1.0": [FileSpec("wheel")]}) for n in NAMES])
    fake: FakePyPI = make_fake_pypi(universe)  # type: ignore[operator]
    options = {"json": "true", "hash-index": str(hash_index).lower()}
    mirror = make_mirror(tmp_path, fake, options)
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    _assert_mirrored(mirror, fake, hash_index)
    assert json.loads((mirror.web / "json/json").read_text())["info"]["name"] == "json"

    before = sorted(p.relative_to(mirror.directory) for p in mirror.web.rglob("*"))
    result = mirror.run("verify", "--delete")
    assert result.returncode == 0, result.stderr
    assert "deleted 0 orphans" in result.stderr
    after = sorted(p.relative_to(mirror.directory) for p in mirror.web.rglob("*"))
    assert after == before
    _assert_mirrored(mirror, fake, hash_index)

    (mirror.directory / "projects").unlink()  # the ledger: the next run rebuilds it
    fake.universe.add_release("index", "2.0", [FileSpec("wheel")])
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    _assert_mirrored(mirror, fake, hash_index)
    ledger = (mirror.directory / "projects").read_text().splitlines()
    assert sorted(line.split("\t")[2] for line in ledger) == sorted(NAMES)
