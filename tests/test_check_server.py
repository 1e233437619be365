"""`bandersnatch check-server` against `serve`, nginx, `python -m http.server` and servers
broken on purpose: it passes the good ones and names each known failure on the others."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bandersnatch.serving.server import Answer, MirrorHTTPServer, RequestHandler
from bandersnatch.simple.formats import JSON_CONTENT_TYPE

from fakepypi import FakePyPI, make_small_universe
from harness import CLI, Mirror, make_mirror
from servers import SERVERS, start_server

CLIENT_NAMES = ("pip", "uv", "poetry", "pdm")
ALL = "pip, uv, poetry, pdm"
ROWS = ("root", "project", "slashless", "unnormalized", "file HEAD", "file Range", ".metadata")


@pytest.fixture(scope="module")
def mirrors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Mirror]:
    tmp = tmp_path_factory.mktemp("check")
    out = {}
    with FakePyPI(make_small_universe()) as fake:
        for key, options in {"all": {}, "html": {"simple-format": "HTML"}}.items():
            out[key] = make_mirror(tmp / key, fake, options)
            result = out[key].run("mirror")
            assert result.returncode == 0, result.stderr
    return out


def check(url: str, *args: str) -> tuple[int, list[str]]:
    result = subprocess.run(
        [*CLI, "check-server", url, *args], capture_output=True, text=True, timeout=120, check=False
    )
    return result.returncode, result.stdout.splitlines() + result.stderr.splitlines()


def problems(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("problem: ")]


@pytest.mark.parametrize("kind", SERVERS)
def test_serve_and_nginx_give_every_client_what_it_needs(
    mirrors: dict[str, Mirror], kind: str, tmp_path: Path
) -> None:
    with start_server(kind, mirrors["all"], tmp_path) as server:
        code, lines = check(f"{server.url}/simple/")
        assert code == 0, "\n".join(lines)
        assert lines[0] == f"check-server {server.url}/simple/ (project dep-leaf)"
        assert lines[-1] == "no problems"
        assert not problems(lines)
        for client in CLIENT_NAMES:
            for row in ROWS:
                assert any(re.match(rf"{client} +{re.escape(row)} ", line) for line in lines), (
                    client,
                    row,
                )
        json_rows = [line for line in lines if re.match(r"\w+ +(root|project) ", line)]
        assert len(json_rows) == 8
        assert all(f"200 {JSON_CONTENT_TYPE}, Vary: Accept, parses as json" in r for r in json_rows)
        assert sum("sha256 matches" in line for line in lines) == 4
        code, lines = check(f"{server.url}/simple", "--project", "Foo.Bar_baz")
        assert code == 0, "\n".join(lines)
        assert "(project foo-bar-baz)" in lines[0]
        unnormalized = [line for line in lines if " unnormalized " in line]
        assert len(unnormalized) == 4
        assert all(
            "/simple/Foo.Bar_baz/: 301 -> /simple/foo-bar-baz/ 200" in u for u in unnormalized
        )


def test_an_html_only_mirror_is_fine_but_noted(mirrors: dict[str, Mirror], tmp_path: Path) -> None:
    with start_server("serve", mirrors["html"], tmp_path) as server:
        code, lines = check(f"{server.url}/simple/")
    assert code == 0, "\n".join(lines)
    assert lines[-1] == "no problems"
    for client, cooldown in [("pip", "--uploaded-prior-to"), ("poetry", "solver.min-release-age")]:
        assert (
            f"note: {client}: gets HTML (it prefers JSON): fine, but without upload-time "
            f"{cooldown} cannot work"
        ) in lines


@contextmanager
def http_server(web: Path) -> Iterator[str]:
    """`python -m http.server`: static files, no negotiation, no Range."""
    cmd = [sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1", "0"]
    with subprocess.Popen(
        cmd, cwd=web, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        port = re.search(r"port (\d+)", line)
        assert port, line
        try:
            yield f"http://127.0.0.1:{port[1]}"
        finally:
            proc.terminate()


def test_python_http_server_lacks_range_and_never_negotiates(mirrors: dict[str, Mirror]) -> None:
    with http_server(mirrors["all"].web) as url:
        code, lines = check(f"{url}/simple/", "--project", "Foo.Bar_baz")
    assert code == 1, "\n".join(lines)
    found = problems(lines)
    assert len(found) == 2, found
    assert all(
        p.startswith(f"problem: {ALL}: Range bytes=") and ": 200 (no Content-Range)" in p
        for p in found
    )
    assert lines[-1] == "2 problems"
    assert (
        "note: pip: gets HTML (it prefers JSON): fine, but without upload-time "
        "--uploaded-prior-to cannot work"
    ) in lines
    assert (
        "note: /simple/foo-bar-baz/: no Vary: Accept (harmless while the answer never varies)"
        in lines
    )
    assert any(
        line.startswith(f"note: {ALL}: unnormalized /simple/Foo.Bar_baz/ does not lead")
        for line in lines
    )


class Faulty(RequestHandler):
    """Our server with one known fault switched on."""

    fault = ""

    def preferences(self, format_param: str | None) -> list[str]:
        order = super().preferences(format_param)
        accept = self.headers.get("Accept") or ""
        if self.fault == "first-listed":  # the first type named, whatever its q
            named = [t.split(";")[0].strip() for t in accept.split(",")]
            return sorted(order, key=lambda c: named.index(c) if c in named else len(named))
        if self.fault == "html-first":  # HTML whenever it is acceptable at all
            return sorted(order, key=lambda c: c == JSON_CONTENT_TYPE)
        if self.fault == "always-json":
            return [JSON_CONTENT_TYPE, *order]
        return order

    def answer(self) -> Answer:
        if self.fault == "missing-metadata" and self.path.endswith(".metadata"):
            return Answer(404, {}, body=b"gone\n")
        answer = super().answer()
        if self.fault == "no-vary":
            answer.headers.pop("Vary", None)
        if (
            self.fault == "application-json"
            and answer.headers.get("Content-Type") == JSON_CONTENT_TYPE
        ):
            answer.headers["Content-Type"] = "application/json"
        return answer


@contextmanager
def faulty_server(web: Path, fault: str) -> Iterator[str]:
    handler = type("Handler", (Faulty,), {"fault": fault})
    server = MirrorHTTPServer(
        ("127.0.0.1", 0), str(web), hash_index=False, access_log=lambda a: None, handler=handler
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (
            "no-vary",
            [
                "/simple/: the answer depends on Accept but has no Vary: Accept",
                "/simple/dep-leaf/: the answer depends on Accept but has no Vary: Accept",
            ],
        ),
        (
            "first-listed",
            [
                "/simple/: q-values ignored: JSON to a client that prefers HTML",
                "/simple/dep-leaf/: q-values ignored: JSON to a client that prefers HTML",
            ],
        ),
        (
            "html-first",
            [f"{ALL}: gets HTML although it prefers JSON, which the server has (q-values ignored)"],
        ),
        (
            "always-json",
            [
                "/simple/: JSON to a client that accepts only text/html",
                "/simple/dep-leaf/: JSON to a client that accepts only text/html",
            ],
        ),
        (
            "application-json",
            [
                "pip, uv, pdm: root /simple/: 200 application/json is no page type, refused",
                "poetry: root /simple/: 200 application/json, read as html: the body is JSON",
            ],
        ),
        (
            "missing-metadata",
            [f"{ALL}: dep_leaf-1.0-py3-none-any.whl.metadata is advertised but answers 404"],
        ),
    ],
)
def test_known_faults_are_named(
    mirrors: dict[str, Mirror], fault: str, expected: list[str]
) -> None:
    with faulty_server(mirrors["all"].web, fault) as url:
        code, lines = check(f"{url}/simple/")
    assert code == 1, "\n".join(lines)
    found = problems(lines)
    for text in expected:
        assert any(p.startswith(f"problem: {text}") for p in found), (text, found)
    assert lines[-1] == f"{len(found)} problem{'s' * (len(found) != 1)}"


def test_an_unreachable_server_is_a_problem_and_a_bad_url_a_usage_error() -> None:
    code, lines = check("http://127.0.0.1:9/simple/")
    assert code == 1
    assert any("no answer" in p for p in problems(lines)), lines
    assert "problem: no project to check (the root lists 0): use --project" in lines
    code, lines = check("ftp://127.0.0.1/simple/")
    assert code == 2
    assert any("not an http(s) URL of an index" in line for line in lines), lines
    code, lines = check("http://user:secret@127.0.0.1:9/simple/")
    assert "secret" not in "\n".join(lines)
