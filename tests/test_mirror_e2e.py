"""The first run of the real CLI against a few hundred fake projects with faults.

One mirror is built per module (a first sync is the expensive part); each test asserts one
property of it: files at the paths pages link, pages equal to upstream's, hostile files
refused with nothing written outside the mirror, failures isolated and reported, no
temporary files, state files written.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from clients import fresh_venv, installed, uv_binary
from clients import run as client_run
from fakepypi import FakePyPI, make_universe
from harness import Mirror, make_mirror, sha256_of
from servers import InProcess

WRONG = "foo-bar"  # one file with a wrong advertised digest
MISSING = "mixed-case-name-x"  # one file that answers 404
HOSTILE = "upper"  # files whose names and URLs try to leave the mirror


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("e2e")
    universe = make_universe(n_projects=300, seed=7)
    fake = FakePyPI(universe).start()
    wrong_file = universe.project(WRONG).files()[0].filename  # type: ignore[union-attr]
    missing_file = universe.project(MISSING).files()[0].filename  # type: ignore[union-attr]
    fake.wrong_digest(WRONG, wrong_file)
    fake.missing_file(MISSING, missing_file)
    hostile = fake.hostile_files(HOSTILE)
    mirror = make_mirror(tmp, fake, {"json": "true"})
    before = {p for p in tmp.rglob("*")}
    result = mirror.run("mirror")
    yield {
        "fake": fake,
        "mirror": mirror,
        "result": result,
        "wrong": wrong_file,
        "missing": missing_file,
        "hostile": hostile,
        "tmp": tmp,
        "before": before,
    }
    fake.stop()


def _upstream_json(fake: FakePyPI, name: str) -> dict[str, Any]:
    response = requests.get(
        f"{fake.url}/simple/{name}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        timeout=10,
    )
    response.raise_for_status()
    doc: dict[str, Any] = response.json()
    return doc


def _comparable(file: dict[str, Any]) -> dict[str, Any]:
    keys = ("filename", "requires-python", "yanked", "size", "upload-time", "core-metadata")
    return {k: file.get(k) for k in keys} | {"sha256": file["hashes"]["sha256"]}


def test_run_reports_the_failed_projects_and_exits_1(run: dict[str, Any]) -> None:
    result: subprocess.CompletedProcess[str] = run["result"]
    assert result.returncode == 1, result.stderr[-2000:]
    err = result.stderr
    assert re.search(rf"failed: {WRONG}: .*sha256 mismatch", err)
    assert re.search(rf"failed: {MISSING}: .*404", err)
    summary = [line for line in err.splitlines() if "summary:" in line]
    assert len(summary) == 1 and "2 projects failed" in summary[0]
    # the refused hostile files are warned about, by project name, and are no failure
    assert err.count(f"WARNING: {HOSTILE}: refused file") == len(run["hostile"])


def test_every_page_matches_upstream_except_refused_and_failed_files(run: dict[str, Any]) -> None:
    fake, mirror = run["fake"], run["mirror"]
    skipped = {run["wrong"], run["missing"], *(f.filename for f in run["hostile"])}
    projects = [p for p in fake.universe.projects() if p.releases]
    assert len(projects) > 250
    for state in projects:
        upstream = _upstream_json(fake, state.normalized)
        ours = mirror.page_json(state.normalized)
        assert ours["name"] == upstream["name"]
        assert ours["versions"] == upstream["versions"]
        expected = [_comparable(f) for f in upstream["files"] if f["filename"] not in skipped]
        got = [_comparable(f) for f in ours["files"]]  # type: ignore[attr-defined]
        key = lambda f: f["filename"]  # noqa: E731
        assert sorted(got, key=key) == sorted(expected, key=key), state.normalized


def test_every_linked_file_is_stored_with_its_digest(run: dict[str, Any]) -> None:
    mirror: Mirror = run["mirror"]
    checked = 0
    for page in (mirror.web / "simple").glob("*/index.v1_json"):
        name = page.parent.name
        for f in json.loads(page.read_text())["files"]:
            stored = mirror.linked_file(name, f["url"])
            assert sha256_of(stored) == f["hashes"]["sha256"], stored
            if f["core-metadata"]:
                meta = stored.with_name(stored.name + ".metadata")
                assert sha256_of(meta) == f["core-metadata"]["sha256"]
            checked += 1
        html = (page.parent / "index.html").read_text()
        for href, digest in re.findall(r'href="([^"#]+)#sha256=([0-9a-f]{64})"', html):
            assert sha256_of(mirror.linked_file(name, href)) == digest
    assert checked > 1500


def test_the_big_project_has_all_its_files(run: dict[str, Any]) -> None:
    page = run["mirror"].page_json("bigproject")
    assert len(page["files"]) == 500


def test_zero_release_project_is_not_a_failure_and_not_listed(run: dict[str, Any]) -> None:
    mirror: Mirror = run["mirror"]
    empty = [p.normalized for p in run["fake"].universe.projects() if not p.releases]
    assert empty
    root = json.loads((mirror.web / "simple/index.v1_json").read_text())
    listed = {p["name"] for p in root["projects"]}
    for name in empty:
        assert not (mirror.web / "simple" / name).exists()
        assert name not in listed
        assert f"failed: {name}" not in run["result"].stderr


def test_names_are_normalized_and_display_names_kept(run: dict[str, Any]) -> None:
    mirror: Mirror = run["mirror"]
    odd = [p for p in run["fake"].universe.projects() if p.name != p.normalized and p.releases]
    assert len(odd) >= 3
    root = json.loads((mirror.web / "simple/index.v1_json").read_text())
    serials = {p["name"]: p["_last-serial"] for p in root["projects"]}
    for state in odd:
        assert (mirror.web / "simple" / state.normalized / "index.html").exists()
        assert (
            f"<title>Links for {state.name}</title>"
            in (mirror.web / "simple" / state.normalized / "index.html").read_text()
        )
        assert serials[state.name] == state.serial


def test_nothing_written_outside_the_mirror_and_no_temp_files(run: dict[str, Any]) -> None:
    mirror: Mirror = run["mirror"]
    tmp: Path = run["tmp"]
    outside = {p for p in tmp.rglob("*") if mirror.directory not in p.parents}
    outside.discard(mirror.directory)
    assert outside == run["before"]
    for f in run["hostile"]:
        assert "evil" not in str(list(mirror.directory.rglob("*evil*")))
        if f.filename.startswith("/"):
            assert not Path(f.filename).exists()
    assert not Path("/etc/evil_dotdot-6.6.6.tar.gz").exists()
    assert mirror.temp_files() == []


def test_state_files_after_a_run_with_failures(run: dict[str, Any]) -> None:
    mirror: Mirror = run["mirror"]
    fake: FakePyPI = run["fake"]
    d = mirror.directory
    assert (d / "generation").read_text().strip() == "5"
    assert int((d / "status").read_text()) == fake.universe.last_serial
    todo = (d / "todo").read_text().splitlines()
    assert todo[0] == str(fake.universe.last_serial)
    assert sorted(line.split()[0] for line in todo[1:]) == sorted([WRONG, MISSING])
    assert (d / "web/last-modified").exists()
    root = json.loads((d / "web/simple/index.v1_json").read_text())
    assert root["meta"]["_last-serial"] == fake.universe.last_serial


def test_good_files_of_a_failed_project_are_published(run: dict[str, Any]) -> None:
    page = run["mirror"].page_json(WRONG)
    names = {f["filename"] for f in page["files"]}
    assert run["wrong"] not in names
    upstream = run["fake"].universe.project(WRONG)
    assert names == {f.filename for f in upstream.files()} - {run["wrong"]}


def test_json_api_copies_are_written(run: dict[str, Any]) -> None:
    web = run["mirror"].web
    state = run["fake"].universe.project("Foo.Bar")
    doc = json.loads((web / "json" / state.normalized).read_text())
    assert doc["info"]["name"] == state.name
    assert set(doc["releases"]) == set(state.releases)
    alias = web / "pypi" / state.normalized / "json"
    assert alias.is_symlink()
    assert alias.read_bytes() == (web / "json" / state.normalized).read_bytes()


@pytest.mark.clients
@pytest.mark.parametrize("client", ["pip", "uv"])
def test_pip_and_uv_install_a_dependency_chain_from_the_mirror(
    run: dict[str, Any], client: str, tmp_path: Path
) -> None:
    with InProcess(run["mirror"].web) as served:
        python = fresh_venv(tmp_path)
        index = ["--index-url", f"{served.url}/simple/"]
        wanted = ["dep-top", "python-requires", "yanked-with-reason"]
        if client == "pip":
            cmd = [sys.executable, "-m", "pip", "--python", str(python), "install"]
            cmd += ["--no-cache-dir", *index, *wanted]
        else:
            cmd = [uv_binary(), "pip", "install", "--no-config", "--no-cache"]
            cmd += ["--python", str(python), *index, *wanted]
        client_run(cmd, tmp_path / "home")
        found = installed(python, tmp_path / "home")
    assert found["dep-top"][0] == "1.0"
    assert found["dep-middle"][0] == "1.0"
    assert found["dep-leaf"][0] == "2.0"
    assert found["python-requires"][0] == "1.0"  # 0.9 needs Python < 3.0
    assert found["yanked-with-reason"][0] == "1.1"  # 1.0 is yanked
