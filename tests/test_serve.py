"""`bandersnatch serve` and the shipped nginx config, put through the same HTTP checks (SPEC 3.2).

Every mirror here is written once per module by the real CLI; each check runs against both
servers (tests/servers.py). Negotiation cases are also checked against the pure function.
"""

from __future__ import annotations

import http.client
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from bandersnatch.serving.clients import PDM_ACCEPT, PIP_ACCEPT, POETRY_ACCEPT, UV_ACCEPT
from bandersnatch.serving.negotiation import negotiate

from fakepypi import FakePyPI, make_small_universe
from harness import CLI, Mirror, make_mirror
from servers import SERVERS, Hit, Server, run_serve, start_server

JSON = "application/vnd.pypi.simple.v1+json"
V1_HTML = "application/vnd.pypi.simple.v1+html"
HTML = "text/html"
LEAF = {JSON: "index.v1_json", V1_HTML: "index.v1_html", HTML: "index.html"}
FOO = "foo-bar-baz"
SECRET = b"the mirror's private state"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"

NEGOTIATION = [
    (PIP_ACCEPT, JSON),
    (UV_ACCEPT, JSON),
    (POETRY_ACCEPT, JSON),
    (PDM_ACCEPT, JSON),
    (None, HTML),
    ("*/*", HTML),
    ("text/html", HTML),
    (BROWSER, HTML),
    (V1_HTML, V1_HTML),
    (f"{V1_HTML}, {JSON};q=0.5", V1_HTML),
    (f"{JSON};q=0.2, {V1_HTML};q=0.3", V1_HTML),
    (f"{JSON};q=0.123, {V1_HTML};q=0.12", JSON),
    (f"{JSON};q=0.001, text/html;q=0.01", HTML),
    (f"{JSON}, text/html", JSON),  # named types tie: the more featureful one
    (f"text/html;q=0.5, {JSON};q=0.50", JSON),
    ("application/vnd.pypi.simple.latest+json", JSON),
    ("application/vnd.pypi.simple.latest+html", V1_HTML),
    ("application/*", V1_HTML),
    ("application/*;q=0.5, text/html;q=0.9", HTML),
    (f"*/*;q=0.5, {JSON};q=0", HTML),
    ("APPLICATION/VND.PYPI.SIMPLE.V1+JSON;Q=0.9, TEXT/HTML;q=0.8", JSON),
    (f"{JSON};q=0, {V1_HTML};q=0, text/*;q=0", None),
    ("application/json, text/plain", None),
]


@pytest.fixture(scope="module")
def mirrors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Mirror]:
    """One mirror per layout, all written by the real CLI from one fake PyPI."""
    tmp = tmp_path_factory.mktemp("serve")
    layouts = {
        "plain": {"json": "true"},
        "hash": {"hash-index": "true"},
        "html": {"simple-format": "HTML"},
        "json": {"simple-format": "JSON"},
        "versions": {"keep_index_versions": "2"},
    }
    out = {}
    with FakePyPI(make_small_universe()) as fake:
        for key, options in layouts.items():
            out[key] = make_mirror(tmp / key, fake, options)
            result = out[key].run("mirror")
            assert result.returncode == 0, result.stderr
    _plant(out["plain"])
    return out


def _plant(mirror: Mirror) -> None:
    """A secret beside web/, symlinks leading out to it, and a provenance file."""
    (mirror.directory / "secret.txt").write_bytes(SECRET)
    outside = mirror.directory.parent / "outside"
    (outside / "evil").mkdir(parents=True)
    (outside / "evil" / "index.html").write_bytes(SECRET)
    (outside / "evil" / "index.v1_json").write_bytes(SECRET)
    (outside / "x.whl").write_bytes(SECRET)
    web = mirror.web
    (web / "packages" / "escape.whl").symlink_to("../../secret.txt")
    (web / "packages" / "dir-link").symlink_to(outside)
    (web / "json" / "leak").symlink_to("../../secret.txt")
    (web / "simple" / "evil").symlink_to(outside / "evil")
    wheel = _wheel(mirror)
    Path(f"{wheel}.provenance").write_text('{"attestation_bundles": []}')


def _wheel(mirror: Mirror, name: str = "foo_bar_baz-2.0-py3-none-any.whl") -> Path:
    return next(mirror.web.glob(f"packages/*/*/*/{name}"))


def _url(mirror: Mirror, path: Path) -> str:
    return "/" + path.relative_to(mirror.web).as_posix()


@pytest.fixture(scope="module", params=SERVERS)
def server(
    request: pytest.FixtureRequest,
    mirrors: dict[str, Mirror],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    with start_server(request.param, mirrors["plain"], tmp_path_factory.mktemp("srv")) as srv:
        yield srv


@pytest.mark.parametrize(("accept", "expected"), NEGOTIATION)
def test_negotiation_rules(accept: str | None, expected: str | None) -> None:
    assert negotiate(accept) == expected


@pytest.mark.parametrize(("accept", "expected"), NEGOTIATION)
def test_pages_are_negotiated(server: Server, accept: str | None, expected: str | None) -> None:
    headers = {} if accept is None else {"Accept": accept}
    for path, directory in [
        ("/simple/", server.web / "simple"),
        (f"/simple/{FOO}/", server.web / "simple" / FOO),
    ]:
        status, got, body = server.get(path, **headers)
        assert got["vary"] == "Accept", (path, got)
        if expected is None:
            assert status == 406, (path, status)
            continue
        assert (status, got["content-type"]) == (200, expected), path
        assert body == (directory / LEAF[expected]).read_bytes(), path
        assert got["content-length"] == str(len(body))


def test_format_parameter_comes_before_accept(server: Server) -> None:
    page = server.web / "simple" / FOO
    for query, accept, expected in [
        (f"format={JSON}", "text/html", JSON),
        ("format=application/vnd.pypi.simple.v1%2Bjson", "text/html", JSON),
        ("format=application/vnd.pypi.simple.latest+html", PIP_ACCEPT, V1_HTML),
        ("format=text/html", PIP_ACCEPT, HTML),
        ("format=application/xml", PIP_ACCEPT, JSON),  # not ours: the Accept header decides
    ]:
        status, got, body = server.get(f"/simple/{FOO}/?{query}", Accept=accept)
        assert (status, got["content-type"], got["vary"]) == (200, expected, "Accept"), query
        assert body == (page / LEAF[expected]).read_bytes()


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/simple", "/simple/"),
        (f"/simple/{FOO}", f"/simple/{FOO}/"),
        ("/simple/Foo.Bar_baz/", f"/simple/{FOO}/"),
        ("/simple/Foo.Bar_baz", f"/simple/{FOO}/"),
        ("/simple/FOO--bar__BAZ/", f"/simple/{FOO}/"),
        ("/simple/Foo.Bar_baz/?format=text/html", f"/simple/{FOO}/?format=text/html"),
        ("/simple/No_Such.Project/", "/simple/no-such-project/"),
    ],
)
def test_project_urls_redirect_to_the_normalized_name(
    server: Server, path: str, location: str
) -> None:
    status, got, _ = server.get(path, Accept=PIP_ACCEPT)
    assert (status, got["location"]) == (301, location)


def test_missing_projects_and_other_paths_are_404(server: Server) -> None:
    for path in [
        "/",
        "/simple/no-such-project/",
        f"/simple/{FOO}/index.v1_json",
        f"/simple/{FOO}/extra/",
        "/packages/",
        "/json/no-such-project",
        "/pypi/no-such-project/json",
    ]:
        assert server.get(path, Accept=PIP_ACCEPT)[0] == 404, path


def test_files_head_ranges_and_validators(mirrors: dict[str, Mirror], server: Server) -> None:
    wheel = _wheel(mirrors["plain"])
    url, data = _url(mirrors["plain"], wheel), wheel.read_bytes()
    size = len(data)
    status, got, body = server.get(url, "HEAD")
    assert (status, got["content-length"], got["accept-ranges"], body) == (
        200,
        str(size),
        "bytes",
        b"",
    )
    assert got["content-type"] == "application/octet-stream"
    etag, modified = got["etag"], got["last-modified"]
    for rng, start, end in [
        ("bytes=0-9", 0, 9),
        ("bytes=-22", size - 22, size - 1),
        (f"bytes=-{size + 100}", 0, size - 1),
        ("bytes=10-", 10, size - 1),
        ("bytes=5-99999", 5, size - 1),
    ]:
        status, got, body = server.get(url, Range=rng)
        assert (status, got["content-range"]) == (206, f"bytes {start}-{end}/{size}"), rng
        assert body == data[start : end + 1]
    status, got, _ = server.get(url, Range=f"bytes={size}-")
    assert (status, got["content-range"]) == (416, f"bytes */{size}")
    status, got, body = server.get(url, Range="bytes=0-1,4-5")
    whole = status == 200 and body == data
    assert whole or (status == 206 and "multipart/byteranges" in got["content-type"])
    assert server.get(url, Range="bytes=0-9", If_Range='"stale"')[0:3:2] == (200, data)
    assert server.get(url, If_None_Match=etag)[0] == 304
    assert server.get(url, If_None_Match='"other", ' + etag)[0] == 304
    assert server.get(url, If_None_Match='"other"')[0] == 200
    assert server.get(url, If_Modified_Since=modified)[0] == 304
    later = formatdate(time.time() + 3600, usegmt=True)
    assert server.get(url, If_Modified_Since=later)[0] == 304
    assert server.get(url, If_Modified_Since="Mon, 01 Jan 2001 00:00:00 GMT")[0] == 200
    status, got, _ = server.get(f"/simple/{FOO}/", Accept=PIP_ACCEPT)
    assert server.get(f"/simple/{FOO}/", Accept=PIP_ACCEPT, If_None_Match=got["etag"])[0] == 304
    status, got, body = server.get(f"/simple/{FOO}/", "HEAD", Accept=PIP_ACCEPT)
    assert (status, got["content-type"], got["vary"], body) == (200, JSON, "Accept", b"")


def test_content_types_of_metadata_provenance_and_json_api(
    mirrors: dict[str, Mirror], server: Server
) -> None:
    mirror = mirrors["plain"]
    wheel = _wheel(mirror)
    for path, types, file in [
        (_url(mirror, wheel) + ".metadata", ("application/octet-stream",), f"{wheel}.metadata"),
        (_url(mirror, wheel) + ".provenance", ("application/json",), f"{wheel}.provenance"),
        (f"/json/{FOO}", ("application/json",), mirror.web / "json" / FOO),
        (f"/pypi/{FOO}/json", ("application/json",), mirror.web / "json" / FOO),  # a symlink
        ("/last-modified", ("text/plain",), mirror.web / "last-modified"),
    ]:
        status, got, body = server.get(path)
        assert status == 200, path
        assert got["content-type"] in types, path
        assert body == Path(file).read_bytes(), path


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/packages/../../secret.txt",
        "/packages/%2e%2e/%2e%2e/secret.txt",
        "/packages/..%2f..%2fsecret.txt",
        "/packages/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/packages/..%5c..%5csecret.txt",
        "/packages/..\\..\\secret.txt",
        "/packages/%00/../../secret.txt",
        "/simple/../../secret.txt",
        "/%2fetc/passwd",
        "//etc/passwd",
        "/packages/escape.whl",  # a symlink in web/ that leads out
        "/packages/dir-link/x.whl",  # through a symlinked directory
        "/json/leak",
        "/pypi/leak/json",
        "/simple/evil/",  # a symlinked project directory
    ],
)
def test_nothing_outside_web_is_served(server: Server, path: str) -> None:
    status, _, body = server.get(path, Accept="*/*")
    assert status in (400, 404), (path, status)
    assert SECRET not in body
    assert b"root:" not in body


def test_absolute_form_request_targets_stay_inside_web(server: Server) -> None:
    status, _, body = server.get(f"http://127.0.0.1:{server.port}/../secret.txt")
    assert status in (400, 404)
    assert SECRET not in body
    status, got, body = server.get(
        f"http://127.0.0.1:{server.port}/simple/{FOO}/", Accept=PIP_ACCEPT
    )
    assert (status, got["content-type"]) == (200, JSON)


def test_access_log(mirrors: dict[str, Mirror], server: Server) -> None:
    """CLF plus referer, user agent and Content-Type: the format is what tests/servers.py
    parses (it fails on any other line)."""
    server.clear_log()
    wheel = _url(mirrors["plain"], _wheel(mirrors["plain"]))
    server.get(f"/simple/{FOO}/", Accept=PIP_ACCEPT, User_Agent='pip/26 "quoted"')
    server.get(f"/simple/{FOO}/", Accept="text/html")
    server.get(wheel, "HEAD")
    server.get("/simple/Foo.Bar_baz/")
    server.get("/no-such-file")
    hits = server.hits(at_least=5)
    page_json = (server.web / "simple" / FOO / "index.v1_json").stat().st_size
    page_html = (server.web / "simple" / FOO / "index.html").stat().st_size
    # (serve answers each connection on its own thread: lines may come in any order)
    assert sorted((h.method, h.path, h.status, h.content_type, h.size) for h in hits) == sorted(
        [
            ("GET", f"/simple/{FOO}/", 200, JSON, page_json),
            ("GET", f"/simple/{FOO}/", 200, HTML, page_html),
            ("HEAD", wheel, 200, "application/octet-stream", 0),
            ("GET", "/simple/Foo.Bar_baz/", 301, _ERROR_TYPE[server.kind], _size(hits, 301)),
            ("GET", "/no-such-file", 404, _ERROR_TYPE[server.kind], _size(hits, 404)),
        ]
    )
    assert any(h.agent == "pip/26 \\x22quoted\\x22" for h in hits), hits


_ERROR_TYPE = {"serve": "text/plain; charset=utf-8", "nginx": "text/html"}


def _size(hits: list[Hit], status: int) -> int:
    return next(h.size for h in hits if h.status == status)


@pytest.mark.parametrize("kind", SERVERS)
def test_hash_index_mirror(mirrors: dict[str, Mirror], kind: str, tmp_path: Path) -> None:
    mirror = mirrors["hash"]
    page = mirror.web / "simple" / "f" / FOO
    assert (page / "index.v1_json").is_file()
    with start_server(kind, mirror, tmp_path) as server:
        status, got, body = server.get(f"/simple/{FOO}/", Accept=PIP_ACCEPT)
        assert (status, got["content-type"], body) == (
            200,
            JSON,
            (page / "index.v1_json").read_bytes(),
        )
        status, got, body = server.get(f"/simple/{FOO}/")
        assert (status, got["content-type"], body) == (
            200,
            HTML,
            (page / "index.html").read_bytes(),
        )
        assert server.get("/simple/Foo.Bar_baz")[1]["location"] == f"/simple/{FOO}/"
        assert server.get("/simple/", Accept=PIP_ACCEPT)[1]["content-type"] == JSON
        assert server.get("/simple/f/", Accept=PIP_ACCEPT)[0] == 404
        wheel = _wheel(mirror)
        assert server.get(_url(mirror, wheel))[2] == wheel.read_bytes()


@pytest.mark.parametrize("kind", SERVERS)
@pytest.mark.parametrize(
    ("layout", "cases"),
    [
        ("html", [(PIP_ACCEPT, V1_HTML), (POETRY_ACCEPT, HTML), (None, HTML), (JSON, None)]),
        ("json", [(PIP_ACCEPT, JSON), (None, JSON), ("*/*", JSON), ("text/html", None)]),
    ],
)
def test_single_format_mirrors_negotiate_among_what_exists(
    mirrors: dict[str, Mirror],
    kind: str,
    layout: str,
    cases: list[tuple[str | None, str | None]],
    tmp_path: Path,
) -> None:
    mirror = mirrors[layout]
    with start_server(kind, mirror, tmp_path) as server:
        for accept, expected in cases:
            for path, directory in [
                ("/simple/", mirror.web / "simple"),
                (f"/simple/{FOO}/", mirror.web / "simple" / FOO),
            ]:
                status, got, body = server.get(
                    path, **({} if accept is None else {"Accept": accept})
                )
                assert got["vary"] == "Accept"
                if expected is None:
                    assert status == 406, (path, accept)
                else:
                    assert (status, got["content-type"]) == (200, expected), (path, accept)
                    assert body == (directory / LEAF[expected]).read_bytes()


@pytest.mark.parametrize("kind", SERVERS)
def test_keep_index_versions_mirror(mirrors: dict[str, Mirror], kind: str, tmp_path: Path) -> None:
    """index.html is a symlink into versions/: serve follows it (it stays inside web/);
    nginx follows no symlink below web/ and reads the same page from index.v1_html."""
    mirror = mirrors["versions"]
    page = mirror.web / "simple" / FOO
    assert (page / "index.html").is_symlink()
    with start_server(kind, mirror, tmp_path) as server:
        status, got, body = server.get(f"/simple/{FOO}/", Accept="text/html")
        assert status == 200
        assert got["content-type"] == HTML
        assert body == (page / "index.html").read_bytes() == (page / "index.v1_html").read_bytes()
        assert server.get(f"/simple/{FOO}/", Accept=PIP_ACCEPT)[1]["content-type"] == JSON


# -- serve only --------------------------------------------------------------------------


def test_serve_streams_big_files_without_reading_them_into_memory(
    mirrors: dict[str, Mirror], tmp_path: Path
) -> None:
    mirror = mirrors["plain"]
    big = mirror.web / "packages" / "big.whl"
    size = 256 << 20
    with big.open("wb") as f:
        f.truncate(size)  # sparse: no disk space used
    try:
        with run_serve(mirror, tmp_path) as server:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            conn.request("GET", "/packages/big.whl")
            resp = conn.getresponse()
            received = 0
            while chunk := resp.read(1 << 20):
                received += len(chunk)
            conn.close()
            assert received == size
            peak = _peak_rss(server)
            assert peak < 128 << 20, f"serve peaked at {peak >> 20} MiB serving a 256 MiB file"
    finally:
        big.unlink()


def _peak_rss(server: Server) -> int:
    """The serve process's peak resident memory, in bytes."""
    status = Path(f"/proc/{server.pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status)[1]) * 1024  # type: ignore[index]


def test_serve_logs_to_stderr_and_stops_on_sigint(mirrors: dict[str, Mirror]) -> None:
    cmd = [*CLI, "-c", str(mirrors["plain"].config), "serve", "--port", "0"]
    with subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/simple/", line)[1])  # type: ignore[index]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/simple/", headers={"Accept": PIP_ACCEPT})
        assert conn.getresponse().read()
        conn.close()
        access = proc.stderr.readline()
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        assert proc.wait(timeout=20) == 5
    assert re.fullmatch(
        r'127\.0\.0\.1 - - \[[^\]]+\] "GET /simple/ HTTP/1\.1" 200 \d+ "-" "-" '
        r'"application/vnd\.pypi\.simple\.v1\+json"\n',
        access,
    ), access
    assert "SIGINT received: closing the server" in rest
    assert "bandersnatch: server stopped by a stop signal" in rest


def test_serve_refuses_a_busy_port_and_a_missing_web_dir(
    mirrors: dict[str, Mirror], tmp_path: Path
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*CLI, "-c", str(mirrors["plain"].config), "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 4, result.stderr
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr
    config = tmp_path / "empty.conf"
    config.write_text(f"[mirror]\ndirectory = {tmp_path / 'nothing'}\n")
    result = subprocess.run(
        [*CLI, "-c", str(config), "serve"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2, result.stderr
    assert "run bandersnatch mirror first" in result.stderr
    result = subprocess.run(
        [*CLI, "-c", str(config), "serve", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "not a TCP port" in result.stderr


def test_nginx_missing_fails_with_install_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    import servers

    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(servers.shutil, "which", lambda *a, **k: None)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y nginx"):
        servers.nginx_binary()
