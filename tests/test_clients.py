"""Real pip, uv, poetry and pdm install from a mirror written by the real CLI (SPEC 3.2).

One mirror is written per module from a fake PyPI that is stopped before any client runs, then
served by `bandersnatch serve` and by nginx with contrib/nginx/bandersnatch.conf (one of each
per module: tests/servers.py); every client runs offline against it with a scrubbed
environment (no config, no cache, no find-links, proxies pointing nowhere) in a fresh venv.
Each test reads the server's access log to see what the client asked for and got.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from bandersnatch.simple.formats import JSON_CONTENT_TYPE

from clients import fresh_venv, installed, run, tool, uv_binary
from fakepypi import FakePyPI, FileSpec, ProjectSpec, Universe
from harness import Mirror, make_mirror
from servers import SERVERS, Hit, Server, start_server

pytestmark = pytest.mark.clients

FOO = "foo-bar-baz"
CUTOFF = "2024-01-15T00:00:00Z"  # after Foo.Bar_baz 1.0, before 2.0
NEWEST = {FOO: ("2.0", "2.0"), "dep-leaf": ("1.1", "1.1")}  # not 3.0 (yanked), 4.0 (>=3.99)
NEWEST_FILES = {
    "foo_bar_baz-2.0-py3-none-any.whl.metadata",
    "foo_bar_baz-2.0-py3-none-any.whl",
    "dep_leaf-1.1-py3-none-any.whl",
}


def _universe() -> Universe:
    def wheel(month: int, **kw: Any) -> FileSpec:
        return FileSpec("wheel", upload_time=f"2024-{month:02d}-01T00:00:00Z", **kw)

    return Universe(
        [
            ProjectSpec(
                "Foo.Bar_baz",
                {
                    "1.0": [wheel(1), FileSpec("sdist", upload_time="2024-01-01T00:00:00Z")],
                    "2.0": [wheel(2, dependencies=["dep-leaf"], provenance=True)],
                    "3.0": [wheel(3, yanked="broken")],
                    "4.0": [wheel(4, requires_python=">=3.99")],
                },
            ),
            ProjectSpec(
                "dep-leaf",
                # 1.1 has no PEP 658 metadata: clients must read the wheel itself.
                {"1.0": [wheel(1)], "1.1": [FileSpec("wheel", core_metadata=False)]},
            ),
        ]
    )


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Mirror:
    tmp = tmp_path_factory.mktemp("clients")
    universe = _universe()
    universe.set_status("dep-leaf", "deprecated", "use dep-leaf2")
    with FakePyPI(universe) as fake:
        # PEP 691 pages as the source: the clients get API 1.4 pages, with PEP 740
        # provenance and a PEP 792 status, and must install from them as from any other
        mirror = make_mirror(tmp, fake, {"metadata-source": "simple"})
        result = mirror.run("mirror")
    assert result.returncode == 0, result.stdout + result.stderr
    assert mirror.page_json("dep-leaf")["project-status"] == {
        "status": "deprecated",
        "reason": "use dep-leaf2",
    }
    assert mirror.page_json(FOO)["meta"]["api-version"] == "1.4"  # type: ignore[index]
    assert len(list(mirror.web.rglob("*.provenance"))) == 1
    return mirror


@pytest.fixture(scope="module", params=SERVERS)
def served(
    request: pytest.FixtureRequest, mirror: Mirror, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with start_server(request.param, mirror, tmp_path_factory.mktemp("server")) as srv:
        yield srv


@pytest.fixture
def server(served: Server) -> Server:
    """The module's server with an empty access log."""
    served.clear_log()
    return served


@pytest.fixture(scope="module")
def bundled_pip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the pip that `python -m venv` bundles (older than the dev venv's)."""
    where = tmp_path_factory.mktemp("bundled-pip")
    run([sys.executable, "-m", "venv", str(where / "venv")], where / "home")
    return where / "venv" / "bin" / "python"


@pytest.fixture(params=["bundled", "dev"])
def pip(request: pytest.FixtureRequest) -> list[str]:
    """Command prefix running real pip: the venv-bundled one, or the dev venv's newer one."""
    python = request.getfixturevalue("bundled_pip") if request.param == "bundled" else None
    return [str(python or sys.executable), "-m", "pip"]


def _pip_install(
    pip: list[str], server: Server, tmp: Path, *args: str
) -> tuple[Path, list[dict[str, Any]], str]:
    """pip install into a fresh venv; returns (python, install report items, stderr)."""
    python, report = fresh_venv(tmp), tmp / "report.json"
    cmd = [*pip, "--python", str(python), "install", "--no-cache-dir", "--report", str(report)]
    result = run([*cmd, "--index-url", f"{server.url}/simple/", *args], tmp / "home")
    return python, json.loads(report.read_text())["install"], result.stderr


def _pip_version(pip: list[str]) -> tuple[int, ...]:
    """The (major, minor) of the pip that `pip` runs, read from `pip --version`."""
    out = subprocess.run([*pip, "--version"], capture_output=True, text=True, check=True).stdout
    return tuple(int(part) for part in out.split()[1].split(".")[:2])


def _uv_install(server: Server, tmp: Path, *args: str) -> tuple[Path, str]:
    python = fresh_venv(tmp)
    cmd = [uv_binary(), "pip", "install", "--no-config", "--no-cache", "--python", str(python)]
    result = run([*cmd, "--index-url", f"{server.url}/simple/", *args], tmp / "home")
    return python, result.stderr


def _project(tmp: Path, tool_table: str) -> Path:
    """A tiny application depending on Foo.Bar_baz, its only index the mirror."""
    where = tmp / "project"
    where.mkdir(parents=True)
    (where / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0.1.0"\nrequires-python = ">=3.10"\n'
        f'dependencies = ["Foo.Bar_baz"]\n\n{tool_table}'
    )
    return where


def _poetry(server: Server, tmp: Path, *lock_args: str, **env: str) -> tuple[Path, Path]:
    """poetry lock (and install --no-root into a fresh venv); the primary source is the
    mirror, which deactivates PyPI. Returns (python, project directory)."""
    python = fresh_venv(tmp)
    project = _project(
        tmp,
        "[tool.poetry]\npackage-mode = false\n\n[[tool.poetry.source]]\n"
        f'name = "mirror"\nurl = "{server.url}/simple/"\npriority = "primary"\n',
    )
    venv = {"VIRTUAL_ENV": str(python.parent.parent), "PATH": f"{python.parent}:/usr/bin:/bin"}
    locked = run([tool("poetry"), "lock", "-vvv", *lock_args], tmp / "home", project, **venv, **env)
    assert "Deactivating the PyPI repository" in locked.stdout + locked.stderr
    return python, project


def _pdm(server: Server, tmp: Path, *lock_args: str) -> tuple[Path, Path]:
    """pdm lock; the mirror is the source named "pypi" and pypi.url, so PyPI is no source."""
    python = fresh_venv(tmp)
    project = _project(
        tmp,
        "[tool.pdm]\ndistribution = false\n\n[[tool.pdm.source]]\n"
        f'name = "pypi"\nurl = "{server.url}/simple/"\n',
    )
    env = {"PDM_PYTHON": str(python), "PDM_PYPI_URL": f"{server.url}/simple/"}
    home = tmp / "home"
    shown = run([tool("pdm"), "config", "pypi.url"], home, project, **env).stdout.strip()
    assert shown == f"{server.url}/simple/"
    run([tool("pdm"), "lock", *lock_args], home, project, **env)
    return python, project


def _pdm_install(python: Path, project: Path, server: Server, home: Path) -> None:
    env = {"PDM_PYTHON": str(python), "PDM_PYPI_URL": f"{server.url}/simple/"}
    run([tool("pdm"), "install", "--no-self", "--frozen-lockfile"], home, project, **env)


def _locked(lockfile: Path, name: str = FOO) -> str:
    """The version a poetry.lock or pdm.lock pins for ``name``."""
    lines = lockfile.read_text().splitlines()
    at = lines.index(f'name = "{name}"')
    return lines[at + 1].removeprefix('version = "').removesuffix('"')


def _files_fetched(server: Server, hits: list[Hit]) -> set[str]:
    """Names of package files (or .metadata) downloaded, checked to be stored in web/."""
    out = set()
    for hit in hits:
        if hit.path.startswith("/packages/") and hit.method == "GET" and hit.status in (200, 206):
            assert (server.web / hit.path.lstrip("/")).is_file(), hit
            out.add(hit.path.rsplit("/", 1)[1])
    return out


def _assert_json_pages(server: Server, hits: list[Hit], agent: str) -> None:
    """Every request was the client's, hit a page or a stored file, and every page it got
    (not a 304 revalidation of one it had) was the PEP 691 JSON page, byte for byte."""
    assert hits
    for hit in hits:
        assert hit.agent.startswith(agent), hit
        assert hit.status in (200, 206, 304), hit
        assert hit.path.startswith(("/simple/", "/packages/")), hit
        if hit.path.startswith("/simple/") and hit.status == 200:
            page = server.web / hit.path.lstrip("/") / "index.v1_json"
            assert (hit.content_type, hit.size) == (JSON_CONTENT_TYPE, page.stat().st_size), hit
    pages = {h.path for h in hits if h.path.startswith("/simple/")}
    assert pages == {f"/simple/{FOO}/", "/simple/dep-leaf/"}


# -- pip and uv --------------------------------------------------------------------------


def test_pip_installs_newest_installable(pip: list[str], server: Server, tmp_path: Path) -> None:
    python, report, stderr = _pip_install(pip, server, tmp_path, FOO)
    assert installed(python, tmp_path / "home") == NEWEST
    # pip says where each distribution came from: the mirror, a file stored under web/.
    for item in report:
        url = item["download_info"]["url"]
        assert url.startswith(f"{server.url}/packages/"), url
        assert (server.web / url[len(server.url) + 1 :]).is_file()
    assert sorted(canonicalize_name(i["metadata"]["name"]) for i in report) == ["dep-leaf", FOO]
    hits = server.hits()
    _assert_json_pages(server, hits, "pip/")
    assert "yanked" not in stderr
    # PEP 658 metadata for foo 2.0; dep-leaf 1.1 has none, so its wheel is the source.
    assert _files_fetched(server, hits) == NEWEST_FILES


def test_uv_installs_newest_installable(server: Server, tmp_path: Path) -> None:
    python, _ = _uv_install(server, tmp_path, FOO)
    assert installed(python, tmp_path / "home") == NEWEST
    hits = server.hits()
    _assert_json_pages(server, hits, "uv/")
    assert _files_fetched(server, hits) == NEWEST_FILES
    # dep-leaf 1.1 has no .metadata: uv reads the wheel's metadata with HEAD + Range first.
    leaf = [h for h in hits if h.path.endswith("/dep_leaf-1.1-py3-none-any.whl")]
    assert any(h.method == "HEAD" for h in leaf)
    assert any(h.status == 206 and h.method == "GET" for h in leaf)


def test_pinned_yanked_release_still_installs(
    pip: list[str], server: Server, tmp_path: Path
) -> None:
    """PEP 592: `==3.0` selects the yanked release; the mirror kept the yank, not a deletion."""
    python, report, stderr = _pip_install(pip, server, tmp_path, f"{FOO}==3.0")
    assert installed(python, tmp_path / "home") == {FOO: ("3.0", "3.0")}
    assert "yanked" in stderr
    assert "broken" in stderr  # the reason made it through the mirror
    assert [i["metadata"]["version"] for i in report] == ["3.0"]
    assert "foo_bar_baz-3.0-py3-none-any.whl" in _files_fetched(server, server.hits())


def test_uv_pinned_yanked_release_still_installs(server: Server, tmp_path: Path) -> None:
    python, stderr = _uv_install(server, tmp_path, f"{FOO}==3.0")
    assert installed(python, tmp_path / "home") == {FOO: ("3.0", "3.0")}
    assert "yanked" in stderr
    assert "broken" in stderr


# -- poetry and pdm ----------------------------------------------------------------------


def test_poetry_locks_and_installs_from_the_mirror_alone(server: Server, tmp_path: Path) -> None:
    python, project = _poetry(server, tmp_path)
    assert _locked(project / "poetry.lock") == "2.0"
    assert _locked(project / "poetry.lock", "dep-leaf") == "1.1"
    venv = {"VIRTUAL_ENV": str(python.parent.parent), "PATH": f"{python.parent}:/usr/bin:/bin"}
    run([tool("poetry"), "install", "--no-root"], tmp_path / "home", project, **venv)
    assert installed(python, tmp_path / "home") == NEWEST
    hits = server.hits()
    _assert_json_pages(server, hits, "poetry/")
    assert {"foo_bar_baz-2.0-py3-none-any.whl", "dep_leaf-1.1-py3-none-any.whl"} <= (
        _files_fetched(server, hits)
    )


def test_pdm_locks_and_installs_from_the_mirror_alone(server: Server, tmp_path: Path) -> None:
    python, project = _pdm(server, tmp_path)
    assert _locked(project / "pdm.lock") == "2.0"
    assert _locked(project / "pdm.lock", "dep-leaf") == "1.1"
    _pdm_install(python, project, server, tmp_path / "home")
    assert installed(python, tmp_path / "home") == NEWEST
    hits = server.hits()
    _assert_json_pages(server, hits, "pdm/")
    assert {"foo_bar_baz-2.0-py3-none-any.whl", "dep_leaf-1.1-py3-none-any.whl"} <= (
        _files_fetched(server, hits)
    )


# -- cutoffs: upload-time from the JSON pages --------------------------------------------


def test_upload_time_cutoffs(server: Server, tmp_path: Path) -> None:
    """uv --exclude-newer, pip --uploaded-prior-to, poetry's solver.min-release-age and
    pdm lock --exclude-newer all pick the release uploaded before the cutoff."""
    python, _ = _uv_install(server, tmp_path / "uv", "--exclude-newer", CUTOFF, FOO)
    assert installed(python, tmp_path / "uv" / "home") == {FOO: ("1.0", "1.0")}
    pip = [sys.executable, "-m", "pip"]
    assert _pip_version(pip) >= (26, 0), (
        "pip 26.0 or newer is needed for --uploaded-prior-to; the test extra installs it: "
        "pip install -e '.[test]'"
    )
    python, _, _ = _pip_install(pip, server, tmp_path / "pip", "--uploaded-prior-to", CUTOFF, FOO)
    assert installed(python, tmp_path / "pip" / "home") == {FOO: ("1.0", "1.0")}
    # poetry's cooldown is an age in days: make it end on the cutoff's day
    cutoff = datetime.datetime.fromisoformat(CUTOFF.replace("Z", "+00:00"))
    days = (datetime.datetime.now(datetime.timezone.utc) - cutoff).days
    _, project = _poetry(server, tmp_path / "poetry", POETRY_SOLVER_MIN_RELEASE_AGE=str(days))
    assert _locked(project / "poetry.lock") == "1.0"
    _, project = _pdm(server, tmp_path / "pdm", "--exclude-newer", CUTOFF)
    assert _locked(project / "pdm.lock") == "1.0"
    pages = [h for h in server.hits() if h.path.startswith("/simple/") and h.status == 200]
    assert {h.agent.split("/")[0] for h in pages} == {"uv", "pip", "poetry", "pdm"}
    assert {h.content_type for h in pages} == {JSON_CONTENT_TYPE}
