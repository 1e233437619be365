"""Real pip and uv install from a mirror written by the real CLI (SPEC 3.2).

One mirror is written per module from a fake PyPI that is stopped before any client runs, then
served by `mirror_http.MirrorServer`; every client runs offline against it with a scrubbed
environment (no pip/uv config, no find-links, no proxies) in a fresh venv.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from clients import fresh_venv, installed, run, uv_binary
from fakepypi import FakePyPI, FileSpec, ProjectSpec, Universe
from harness import Mirror, make_mirror
from mirror_http import HTML, JSON, V1_HTML, MirrorServer, Served, negotiate

pytestmark = pytest.mark.clients

PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
UV_ACCEPT = PIP_ACCEPT.replace("q=0.1", "q=0.2")
POETRY_ACCEPT = "application/vnd.pypi.simple.v1+json, */*;q=0.1"
FOO = "foo-bar-baz"
CUTOFF = "2024-01-15T00:00:00Z"  # after Foo.Bar_baz 1.0, before 2.0


def _universe() -> Universe:
    def wheel(month: int, **kw: Any) -> FileSpec:
        return FileSpec("wheel", upload_time=f"2024-{month:02d}-01T00:00:00Z", **kw)

    return Universe(
        [
            ProjectSpec(
                "Foo.Bar_baz",
                {
                    "1.0": [wheel(1), FileSpec("sdist", upload_time="2024-01-01T00:00:00Z")],
                    "2.0": [wheel(2, dependencies=["dep-leaf"])],
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
    with FakePyPI(_universe()) as fake:
        mirror = make_mirror(tmp, fake)
        result = mirror.run("mirror")
    assert result.returncode == 0, result.stdout + result.stderr
    return mirror


@pytest.fixture
def server(mirror: Mirror) -> Iterator[MirrorServer]:
    with MirrorServer(mirror.web) as srv:
        yield srv
    assert not srv.errors


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
    pip: list[str], server: MirrorServer, tmp: Path, *args: str
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


def _uv_install(server: MirrorServer, tmp: Path, *args: str) -> tuple[Path, str]:
    python = fresh_venv(tmp)
    cmd = [uv_binary(), "pip", "install", "--no-config", "--no-cache", "--python", str(python)]
    result = run([*cmd, "--index-url", f"{server.url}/simple/", *args], tmp / "home")
    return python, result.stderr


def _ok(log: list[Served]) -> list[Served]:
    return [r for r in log if r.status in (200, 206) and r.method == "GET"]


def _files_fetched(server: MirrorServer) -> set[str]:
    """Names of package files (or .metadata) the clients downloaded, checked to be in web/."""
    out = set()
    for r in _ok(server.log):
        if r.path.startswith("/packages/"):
            assert r.file is not None
            assert r.file.is_relative_to(server.web / "packages")
            assert r.file.is_file()
            out.add(r.file.name)
    return out


def _assert_clean_log(server: MirrorServer, accept: str) -> None:
    """Every request hit a page or a stored file; pages came as PEP 691 JSON."""
    assert server.log
    for r in server.log:
        assert r.status in (200, 206), r
        assert r.path.startswith(("/simple/", "/packages/")), r
        if r.path.startswith("/simple/"):
            assert r.accept is not None
            assert negotiate(r.accept) == negotiate(accept) == JSON, r
            assert r.content_type == JSON
            assert r.file is not None
            assert r.file.name == "index.v1_json"
    pages = {r.path for r in server.log if r.path.startswith("/simple/")}
    assert pages == {f"/simple/{FOO}/", "/simple/dep-leaf/"}


# -- the server itself -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (PIP_ACCEPT, JSON),
        (UV_ACCEPT, JSON),
        (POETRY_ACCEPT, JSON),
        (None, HTML),
        ("*/*", HTML),
        ("text/html", HTML),
        (f"{V1_HTML}, {JSON};q=0.5", V1_HTML),
        (f"{JSON};q=0.2, {V1_HTML};q=0.3", V1_HTML),
        ("application/vnd.pypi.simple.latest+json", JSON),
        ("application/*;q=0.5, text/html;q=0.9", HTML),
        (f"*/*;q=0.5, {JSON};q=0", HTML),
        (f"{JSON};q=0, {V1_HTML};q=0, text/*;q=0", None),
        ("application/json, text/plain", None),
    ],
)
def test_negotiate(accept: str | None, expected: str | None) -> None:
    assert negotiate(accept) == expected


def _get(
    server: MirrorServer, path: str, method: str = "GET", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]), timeout=10)
    try:
        conn.request(method, path, headers={k.replace("_", "-"): v for k, v in headers.items()})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_server_pages_redirects_and_files(mirror: Mirror, server: MirrorServer) -> None:
    page = mirror.web / "simple" / FOO
    status, headers, body = _get(server, f"/simple/{FOO}/", Accept=PIP_ACCEPT)
    assert (status, headers["Content-Type"], headers["Vary"]) == (200, JSON, "Accept")
    assert body == (page / "index.v1_json").read_bytes()
    status, headers, body = _get(server, f"/simple/{FOO}/", Accept=f"{V1_HTML}, text/html;q=0.5")
    assert (status, headers["Content-Type"]) == (200, V1_HTML)
    assert body == (page / "index.v1_html").read_bytes()
    status, headers, body = _get(server, "/simple/")
    assert (status, headers["Content-Type"]) == (200, HTML)
    assert body == (mirror.web / "simple" / "index.html").read_bytes()
    status, headers, _ = _get(server, "/simple/", Accept="application/json")
    assert (status, headers["Vary"]) == (406, "Accept")
    for path, target in [
        (f"/simple/{FOO}", f"/simple/{FOO}/"),
        ("/simple/Foo.Bar_baz/", f"/simple/{FOO}/"),
        ("/simple", "/simple/"),
    ]:
        status, headers, _ = _get(server, path)
        assert (status, headers["Location"]) == (301, target)

    wheel = next(mirror.web.glob("packages/*/*/*/foo_bar_baz-2.0-py3-none-any.whl"))
    url, data = "/" + wheel.relative_to(mirror.web).as_posix(), wheel.read_bytes()
    status, headers, body = _get(server, url, "HEAD")
    assert (status, headers["Content-Length"], headers["Accept-Ranges"]) == (
        200,
        str(len(data)),
        "bytes",
    )
    assert body == b""
    size = len(data)
    for rng, start, end in [
        ("bytes=0-9", 0, 9),
        ("bytes=-22", size - 22, size - 1),
        ("bytes=10-", 10, size - 1),
        ("bytes=5-99999", 5, size - 1),
    ]:
        status, headers, body = _get(server, url, Range=rng)
        assert status == 206, rng
        assert headers["Content-Range"] == f"bytes {start}-{end}/{len(data)}"
        assert body == data[start : end + 1]
    status, headers, _ = _get(server, url, Range=f"bytes={len(data)}-")
    assert (status, headers["Content-Range"]) == (416, f"bytes */{len(data)}")
    assert _get(server, url, Range="bytes=0-1,4-5")[0] == 200  # multi-range: whole file
    assert _get(server, url + ".metadata")[2] == Path(str(wheel) + ".metadata").read_bytes()

    for path in [
        "/",
        "/packages/",
        "/simple/no-such-project/",
        "/../generation",
        "/packages/%2e%2e/%2e%2e/generation",
        "/packages/..%2f..%2fgeneration",
        "/simple/../../generation",
        "/%2fetc/passwd",
        url + ".missing",
    ]:
        assert _get(server, path)[0] == 404, path


# -- real clients ------------------------------------------------------------------------


def test_pip_installs_newest_installable(
    pip: list[str], server: MirrorServer, tmp_path: Path
) -> None:
    python, report, stderr = _pip_install(pip, server, tmp_path, FOO)
    assert installed(python, tmp_path / "home") == {
        FOO: ("2.0", "2.0"),  # not 3.0 (yanked) nor 4.0 (Requires-Python >=3.99)
        "dep-leaf": ("1.1", "1.1"),
    }
    # pip says where each distribution came from: the mirror, a file stored under web/.
    for item in report:
        url = item["download_info"]["url"]
        assert url.startswith(f"{server.url}/packages/"), url
        assert (server.web / url[len(server.url) + 1 :]).is_file()
    assert sorted(canonicalize_name(i["metadata"]["name"]) for i in report) == ["dep-leaf", FOO]
    _assert_clean_log(server, PIP_ACCEPT)
    assert "yanked" not in stderr
    # PEP 658 metadata for foo 2.0; dep-leaf 1.1 has none, so its wheel is the source.
    assert _files_fetched(server) == {
        "foo_bar_baz-2.0-py3-none-any.whl.metadata",
        "foo_bar_baz-2.0-py3-none-any.whl",
        "dep_leaf-1.1-py3-none-any.whl",
    }


def test_uv_installs_newest_installable(server: MirrorServer, tmp_path: Path) -> None:
    python, _ = _uv_install(server, tmp_path, FOO)
    assert installed(python, tmp_path / "home") == {
        FOO: ("2.0", "2.0"),
        "dep-leaf": ("1.1", "1.1"),
    }
    _assert_clean_log(server, UV_ACCEPT)
    assert _files_fetched(server) == {
        "foo_bar_baz-2.0-py3-none-any.whl.metadata",
        "foo_bar_baz-2.0-py3-none-any.whl",
        "dep_leaf-1.1-py3-none-any.whl",
    }
    # dep-leaf 1.1 has no .metadata: uv reads the wheel's metadata with HEAD + Range first.
    leaf = [r for r in server.log if r.path.endswith("/dep_leaf-1.1-py3-none-any.whl")]
    assert any(r.method == "HEAD" for r in leaf)
    assert any(r.status == 206 and r.method == "GET" for r in leaf)


def test_pinned_yanked_release_still_installs(
    pip: list[str], server: MirrorServer, tmp_path: Path
) -> None:
    """PEP 592: `==3.0` selects the yanked release; the mirror kept the yank, not a deletion."""
    python, report, stderr = _pip_install(pip, server, tmp_path, f"{FOO}==3.0")
    assert installed(python, tmp_path / "home") == {FOO: ("3.0", "3.0")}
    assert "yanked" in stderr
    assert "broken" in stderr  # the reason made it through the mirror
    assert [i["metadata"]["version"] for i in report] == ["3.0"]
    assert "foo_bar_baz-3.0-py3-none-any.whl" in _files_fetched(server)


def test_uv_pinned_yanked_release_still_installs(server: MirrorServer, tmp_path: Path) -> None:
    python, stderr = _uv_install(server, tmp_path, f"{FOO}==3.0")
    assert installed(python, tmp_path / "home") == {FOO: ("3.0", "3.0")}
    assert "yanked" in stderr
    assert "broken" in stderr


def test_upload_time_cutoffs(server: MirrorServer, tmp_path: Path) -> None:
    """uv --exclude-newer and pip --uploaded-prior-to read `upload-time` from the JSON pages."""
    python, _ = _uv_install(server, tmp_path / "uv", "--exclude-newer", CUTOFF, FOO)
    assert installed(python, tmp_path / "uv" / "home") == {FOO: ("1.0", "1.0")}
    pip = [sys.executable, "-m", "pip"]
    assert _pip_version(pip) >= (26, 0), (
        "pip 26.0 or newer is needed for --uploaded-prior-to; the test extra installs it: "
        "pip install -e '.[test]'"
    )
    python, _, _ = _pip_install(pip, server, tmp_path / "pip", "--uploaded-prior-to", CUTOFF, FOO)
    assert installed(python, tmp_path / "pip" / "home") == {FOO: ("1.0", "1.0")}
