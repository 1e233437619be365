"""The fake PyPI itself: protocol shape, artifacts and fault switches."""

from __future__ import annotations

import base64
import csv
import email.parser
import hashlib
import io
import socket
import tarfile
import time
import xmlrpc.client
import zipfile
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit
from xml.parsers.expat import ExpatError

import pytest
import requests
from packaging.utils import canonicalize_name

from fakepypi import (
    INVALID_NAMES,
    FakePyPI,
    FileSpec,
    ProjectSpec,
    Universe,
    artifacts,
    make_universe,
)
from fakepypi.pages import JSON_TYPE

PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
UV_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.2, "
    "text/html; q=0.01"
)
POETRY_ACCEPT = "application/vnd.pypi.simple.v1+json, */*;q=0.1"


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def rpc(server: FakePyPI) -> Any:
    """An XML-RPC proxy (typed Any: its results are untyped marshalled data)."""
    return xmlrpc.client.ServerProxy(server.xmlrpc_url, allow_none=True)


def simple_json(http: requests.Session, server: FakePyPI, name: str) -> dict[str, Any]:
    resp = http.get(server.simple_url(name), headers={"Accept": JSON_TYPE})
    assert resp.status_code == 200
    doc: dict[str, Any] = resp.json()
    return doc


# -- XML-RPC ---------------------------------------------------------------------------


def test_changelog_paging_and_serials(make_fake_pypi: Callable[..., FakePyPI]) -> None:
    server = make_fake_pypi(page_size=7)
    universe = server.universe
    with rpc(server) as proxy:
        last = proxy.changelog_last_serial()
        assert last == universe.last_serial > 20
        rows: list[list[Any]] = []
        since, calls = 0, 0
        while True:
            page = proxy.changelog_since_serial(since)
            calls += 1
            assert len(page) <= 7
            assert all(row[4] > since for row in page)
            rows.extend(page)
            if len(page) < 7:
                break
            since = page[-1][4]
        assert calls == last // 7 + 1
        assert [r[4] for r in rows] == list(range(1, last + 1))
        assert rows == [e.row() for e in universe.events]
        assert rows[0] == ["dep-leaf", None, rows[0][2], "create", 1]
        assert isinstance(rows[0][2], int)
        actions = {r[3].split(" ")[0] for r in rows}
        assert actions == {"create", "new", "add"}
        assert any(r[3] == "add source file foo_bar_baz-1.0.tar.gz" for r in rows)
        assert proxy.changelog_since_serial(last) == []

        packages = proxy.list_packages_with_serial()
        assert packages == {s.name: s.serial for s in universe.projects()}
        assert "Foo.Bar_baz" in packages and "empty-project" in packages
        assert packages["Foo.Bar_baz"] == max(r[4] for r in rows if r[0] == "Foo.Bar_baz")

        with pytest.raises(xmlrpc.client.Fault):
            proxy.package_releases("dep-leaf")
    calls_logged = server.requests.filter(xmlrpc_method="changelog_since_serial")
    assert [r.xmlrpc_params for r in calls_logged][:2] == [(0,), (7,)]


def test_universe_mutations_emit_events(fake_pypi: FakePyPI, http: requests.Session) -> None:
    universe = fake_pypi.universe
    start = universe.last_serial
    universe.add_release("dep-leaf", "1.1", [FileSpec("wheel")])
    universe.yank("dep-leaf", "1.1", "bad & <broken>")
    universe.unyank("dep-leaf", "1.1")
    universe.remove_file("dep-leaf", "dep_leaf-1.0.tar.gz")
    universe.remove_release("nometa", "1.0")
    universe.remove_project("pyreq")
    universe.touch("yanky", "add Owner alice")
    events = [(e.name, e.version, e.action) for e in universe.changelog_since(start)]
    assert events == [
        ("dep-leaf", "1.1", "new release"),
        ("dep-leaf", "1.1", "add py3 file dep_leaf-1.1-py3-none-any.whl"),
        ("dep-leaf", "1.1", "yank release"),
        ("dep-leaf", "1.1", "unyank release"),
        ("dep-leaf", "1.0", "remove file dep_leaf-1.0.tar.gz"),
        ("nometa", "1.0", "remove release"),
        ("pyreq", None, "remove project"),
        ("yanky", None, "add Owner alice"),
    ]
    assert [e.serial for e in universe.changelog_since(start)] == list(range(start + 1, start + 9))
    with rpc(fake_pypi) as proxy:
        packages = proxy.list_packages_with_serial()
    assert "pyreq" not in packages
    assert packages["yanky"] == start + 8
    assert http.get(fake_pypi.json_url("pyreq")).status_code == 404
    assert http.get(fake_pypi.simple_url("pyreq")).status_code == 404
    # a project whose last release is gone still exists but has no JSON
    assert packages["nometa"] == start + 6
    assert http.get(fake_pypi.json_url("nometa")).status_code == 404
    assert simple_json(http, fake_pypi, "nometa")["files"] == []
    names = [f["filename"] for f in simple_json(http, fake_pypi, "dep-leaf")["files"]]
    assert names == ["dep_leaf-1.0-py3-none-any.whl", "dep_leaf-1.1-py3-none-any.whl"]


def test_zero_release_and_quarantine(fake_pypi: FakePyPI, http: requests.Session) -> None:
    assert http.get(fake_pypi.json_url("empty-project")).status_code == 404
    doc = simple_json(http, fake_pypi, "empty-project")
    assert doc["files"] == [] and doc["versions"] == []
    root = http.get(fake_pypi.simple_url(), headers={"Accept": JSON_TYPE}).json()
    assert "empty-project" in [p["name"] for p in root["projects"]]

    fake_pypi.universe.quarantine("dep-leaf", "malware")
    assert http.get(fake_pypi.json_url("dep-leaf")).status_code == 404
    doc = simple_json(http, fake_pypi, "dep-leaf")
    assert doc["project-status"] == {"status": "quarantined", "reason": "malware"}
    assert doc["files"] == []
    assert fake_pypi.universe.events[-1].action == "project quarantined"
    fake_pypi.universe.unquarantine("dep-leaf")
    assert http.get(fake_pypi.json_url("dep-leaf")).status_code == 200


# -- JSON API --------------------------------------------------------------------------


def test_json_api_shape(fake_pypi: FakePyPI, http: requests.Session) -> None:
    state = fake_pypi.universe.project("foo-bar-baz")
    assert state is not None
    resp = http.get(f"{fake_pypi.url}/pypi/Foo.Bar_baz/json")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers["X-PyPI-Last-Serial"] == str(state.serial)
    doc = resp.json()
    assert set(doc) == {"info", "last_serial", "releases", "urls", "vulnerabilities"}
    assert doc["last_serial"] == state.serial
    assert doc["vulnerabilities"] == []
    info = doc["info"]
    assert info["name"] == "Foo.Bar_baz"
    assert info["version"] == "2.0"
    assert info["summary"] == "Foo bar baz"
    assert "requires_python" in info
    assert list(doc["releases"]) == ["1.0", "2.0"]
    assert doc["urls"] == doc["releases"]["2.0"]
    wheel, sdist = doc["releases"]["1.0"]
    expected_keys = {
        "filename",
        "url",
        "packagetype",
        "python_version",
        "size",
        "digests",
        "requires_python",
        "yanked",
        "yanked_reason",
        "upload_time",
        "upload_time_iso_8601",
        "core-metadata",
        "data-dist-info-metadata",
    }
    assert expected_keys <= set(wheel)
    assert wheel["packagetype"] == "bdist_wheel" and wheel["python_version"] == "py3"
    assert sdist["packagetype"] == "sdist" and sdist["python_version"] == "source"
    assert set(wheel["digests"]) == {"md5", "sha256", "blake2b_256"}
    b2 = wheel["digests"]["blake2b_256"]
    assert wheel["url"] == (
        f"{fake_pypi.url}/packages/{b2[:2]}/{b2[2:4]}/{b2[4:]}/{wheel['filename']}"
    )
    assert wheel["upload_time_iso_8601"].endswith("Z")
    assert wheel["upload_time_iso_8601"].startswith(wheel["upload_time"])
    stored = state.file(wheel["filename"])
    assert stored is not None and stored.metadata is not None
    assert wheel["core-metadata"] == {"sha256": hashlib.sha256(stored.metadata).hexdigest()}
    assert sdist["core-metadata"] is False
    assert wheel["size"] == len(stored.content)

    # any query string reaches the same document; any spelling of the name works
    assert http.get(fake_pypi.json_url("foo-bar-baz") + "?cachebust=1").json() == doc
    assert http.get(f"{fake_pypi.url}/pypi/FOO__bar.baz/json").json() == doc
    release = http.get(f"{fake_pypi.url}/pypi/foo-bar-baz/1.0/json").json()
    assert release["info"]["version"] == "1.0" and len(release["urls"]) == 2
    missing = http.get(f"{fake_pypi.url}/pypi/no-such-project/json")
    assert missing.status_code == 404
    assert "X-PyPI-Last-Serial" not in missing.headers


def test_root_index_etag_and_not_modified(fake_pypi: FakePyPI, http: requests.Session) -> None:
    first = http.get(fake_pypi.simple_url(), headers={"Accept": JSON_TYPE})
    etag = first.headers["ETag"]
    again = http.get(fake_pypi.simple_url(), headers={"Accept": JSON_TYPE, "If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", etag)
    html = http.get(fake_pypi.simple_url(), headers={"Accept": "text/html", "If-None-Match": etag})
    assert html.status_code == 200 and html.headers["ETag"] != etag  # another representation
    fake_pypi.universe.add_release("dep-leaf", "9.0", [FileSpec("sdist")])
    changed = http.get(fake_pypi.simple_url(), headers={"Accept": JSON_TYPE, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    fake_pypi.root_etag = False
    plain = http.get(fake_pypi.simple_url(), headers={"Accept": JSON_TYPE})
    assert plain.status_code == 200 and "ETag" not in plain.headers


def test_yanked_and_requires_python(fake_pypi: FakePyPI, http: requests.Session) -> None:
    doc = http.get(fake_pypi.json_url("yanky")).json()
    assert doc["info"]["version"] == "1.2"
    (y1,), (y2,) = doc["releases"]["1.0"], doc["releases"]["1.1"]
    assert (y1["yanked"], y1["yanked_reason"]) == (True, "broken")
    assert (y2["yanked"], y2["yanked_reason"]) == (True, None)
    files = {f["filename"]: f for f in simple_json(http, fake_pypi, "yanky")["files"]}
    assert files["yanky-1.0-py3-none-any.whl"]["yanked"] == "broken"
    assert files["yanky-1.1-py3-none-any.whl"]["yanked"] is True
    assert files["yanky-1.2-py3-none-any.whl"]["yanked"] is False

    fake_pypi.universe.yank("pyreq", "1.0", 'a "quoted" & <odd> reason')
    page = http.get(fake_pypi.simple_url("pyreq"), headers={"Accept": "text/html"}).text
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in page
    assert 'data-yanked="a &quot;quoted&quot; &amp; &lt;odd&gt; reason"' in page
    doc = simple_json(http, fake_pypi, "pyreq")
    assert {f["requires-python"] for f in doc["files"]} == {">=3.8,<4"}
    assert {f["yanked"] for f in doc["files"]} == {'a "quoted" & <odd> reason'}


# -- simple API ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (PIP_ACCEPT, JSON_TYPE),
        (UV_ACCEPT, JSON_TYPE),
        (POETRY_ACCEPT, JSON_TYPE),
        ("text/html", "text/html; charset=utf-8"),
        (None, "text/html; charset=utf-8"),
        ("*/*", "text/html; charset=utf-8"),
        ("application/vnd.pypi.simple.v1+html", "application/vnd.pypi.simple.v1+html"),
        ("application/vnd.pypi.simple.latest+json", JSON_TYPE),
        ("text/html, application/vnd.pypi.simple.v1+json;q=0.5", "text/html; charset=utf-8"),
        ("application/vnd.pypi.simple.v1+json;q=0, text/html;q=0.1", "text/html; charset=utf-8"),
    ],
)
def test_content_negotiation(
    fake_pypi: FakePyPI, http: requests.Session, accept: str | None, content_type: str
) -> None:
    headers = {"Accept": accept} if accept else {"Accept": ""}
    for url in (fake_pypi.simple_url(), fake_pypi.simple_url("foo-bar-baz")):
        resp = http.get(url, headers=headers)
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] == content_type
        assert resp.headers["Vary"] == "Accept"
        assert int(resp.headers["X-PyPI-Last-Serial"]) > 0
        if content_type == JSON_TYPE:
            assert resp.json()["meta"]["api-version"] == "1.4"
        else:
            assert resp.text.startswith("<!DOCTYPE html>")


def test_simple_pages(fake_pypi: FakePyPI, http: requests.Session) -> None:
    assert (
        http.get(fake_pypi.simple_url(), headers={"Accept": "application/json"}).status_code == 406
    )
    root = http.get(fake_pypi.simple_url(), headers={"Accept": PIP_ACCEPT}).json()
    universe = fake_pypi.universe
    assert root["meta"] == {"api-version": "1.4", "_last-serial": universe.last_serial}
    assert {
        p["name"]: p["_last-serial"] for p in root["projects"]
    } == universe.packages_with_serial()
    html = http.get(fake_pypi.simple_url(), headers={"Accept": "text/html"}).text
    assert '<a href="/simple/foo-bar-baz/">Foo.Bar_baz</a>' in html

    doc = simple_json(http, fake_pypi, "Foo.Bar_baz")
    assert doc["name"] == "foo-bar-baz"
    assert doc["versions"] == ["1.0", "2.0"]
    assert doc["meta"]["_last-serial"] == universe.project("foo-bar-baz").serial  # type: ignore[union-attr]
    assert doc["project-status"] == {"status": "active"}
    entry = doc["files"][0]
    assert set(entry) >= {
        "filename",
        "url",
        "hashes",
        "requires-python",
        "yanked",
        "core-metadata",
        "size",
        "upload-time",
        "provenance",
    }
    assert entry["provenance"] is None and entry["upload-time"].endswith("Z")

    # redirects: missing slash, non-normalized name (query string kept)
    resp = http.get(f"{fake_pypi.url}/simple/foo-bar-baz", allow_redirects=False)
    assert resp.status_code == 301
    assert resp.headers["Location"] == f"{fake_pypi.url}/simple/foo-bar-baz/"
    resp = http.get(f"{fake_pypi.url}/simple/Foo.Bar_baz/?x=1", allow_redirects=False)
    assert resp.status_code == 301
    assert resp.headers["Location"] == f"{fake_pypi.url}/simple/foo-bar-baz/?x=1"
    assert http.get(f"{fake_pypi.url}/simple/Foo.Bar_baz").url.endswith("/simple/foo-bar-baz/")
    assert http.get(fake_pypi.simple_url("nope")).status_code == 404
    fmt = http.get(fake_pypi.simple_url("dep-leaf") + "?format=" + JSON_TYPE)
    assert fmt.headers["Content-Type"] == JSON_TYPE


def test_versions_sorted_by_pep440(
    make_fake_pypi: Callable[..., FakePyPI], http: requests.Session
) -> None:
    versions = ["1.10", "1.9", "1.0rc1", "2.0.post1", "1.0", "3.0a1"]
    universe = Universe([ProjectSpec("Sorty", {v: [FileSpec("sdist")] for v in versions})])
    server = make_fake_pypi(universe)
    doc = simple_json(http, server, "sorty")
    assert doc["versions"] == ["1.0rc1", "1.0", "1.9", "1.10", "2.0.post1", "3.0a1"]
    assert http.get(server.json_url("sorty")).json()["info"]["version"] == "2.0.post1"


# -- files -----------------------------------------------------------------------------


def test_files_match_advertised_digests(fake_pypi: FakePyPI, http: requests.Session) -> None:
    checked = 0
    for state in fake_pypi.universe.projects():
        for entry in simple_json(http, fake_pypi, state.name)["files"]:
            resp = http.get(entry["url"])
            assert resp.status_code == 200
            assert hashlib.sha256(resp.content).hexdigest() == entry["hashes"]["sha256"]
            assert len(resp.content) == entry["size"]
            meta = http.get(entry["url"] + ".metadata")
            if entry["core-metadata"]:
                assert meta.status_code == 200
                assert hashlib.sha256(meta.content).hexdigest() == entry["core-metadata"]["sha256"]
                with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
                    name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
                    assert zf.read(name) == meta.content
            else:
                assert meta.status_code == 404
            checked += 1
    assert checked >= 10
    assert http.get(f"{fake_pypi.url}/packages/00/00/nothing/x.whl").status_code == 404


def _check_wheel(data: bytes, name: str, version: str) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        info_dir = f"{artifacts.dist_name(name)}-{version}.dist-info"
        assert names[-1] == f"{info_dir}/RECORD"
        assert f"{artifacts.import_name(name)}/__init__.py" in names
        rows = list(csv.reader(io.StringIO(zf.read(f"{info_dir}/RECORD").decode())))
        assert sorted(r[0] for r in rows) == sorted(names)
        for path, digest, size in rows:
            if path.endswith("RECORD"):
                assert digest == size == ""
                continue
            content = zf.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
            assert digest == "sha256=" + expected.decode()
            assert int(size) == len(content)
        assert all(i.date_time == (2020, 1, 1, 0, 0, 0) for i in zf.infolist())
        wheel = zf.read(f"{info_dir}/WHEEL").decode()
        assert "Wheel-Version: 1.0" in wheel
        meta = email.parser.Parser().parsestr(zf.read(f"{info_dir}/METADATA").decode())
        return dict(meta.items()) | {"Tag": wheel.split("Tag: ", 1)[1].strip()}


def test_wheel_is_valid_and_deterministic() -> None:
    spec = FileSpec(
        "wheel",
        requires_python=">=3.8,<4",
        dependencies=["dep-leaf>=1.0"],
        python_tag="cp311",
        abi_tag="cp311",
        platform_tag="manylinux_2_17_x86_64",
        size_padding=10_000,
    )
    universe = Universe([ProjectSpec("Foo.Bar_baz", {"1.0": [spec]})])
    stored = universe.file("foo-bar-baz", "foo_bar_baz-1.0-cp311-cp311-manylinux_2_17_x86_64.whl")
    meta = _check_wheel(stored.content, "Foo.Bar_baz", "1.0")
    assert meta["Metadata-Version"] == "2.1"
    assert meta["Name"] == "Foo.Bar_baz" and meta["Version"] == "1.0"
    assert meta["Requires-Python"] == ">=3.8,<4"
    assert meta["Requires-Dist"] == "dep-leaf>=1.0"
    assert meta["Tag"] == "cp311-cp311-manylinux_2_17_x86_64"
    assert stored.size > 10_000
    again = Universe([ProjectSpec("Foo.Bar_baz", {"1.0": [spec]})])
    assert again.file("Foo.Bar_baz", stored.filename).sha256 == stored.sha256


def test_sdist_and_raw_are_deterministic() -> None:
    universe = Universe(
        [
            ProjectSpec(
                "My.Pkg",
                {
                    "2.0": [
                        FileSpec("sdist", requires_python=">=3.9"),
                        FileSpec("raw", filename="my_pkg-2.0.egg", size_padding=300),
                        FileSpec("raw", filename="my_pkg-2.0.zip", content=b"exact bytes"),
                    ]
                },
            )
        ]
    )
    sdist = universe.file("my-pkg", "my_pkg-2.0.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(sdist.content), mode="r:gz") as tf:
        members = tf.getmembers()
        assert {m.name for m in members} >= {
            "my_pkg-2.0/PKG-INFO",
            "my_pkg-2.0/pyproject.toml",
            "my_pkg-2.0/my_pkg/__init__.py",
        }
        assert {m.mtime for m in members} == {artifacts.TAR_MTIME}
        pkg_info = tf.extractfile("my_pkg-2.0/PKG-INFO").read().decode()  # type: ignore[union-attr]
    assert "Name: My.Pkg\n" in pkg_info and "Requires-Python: >=3.9\n" in pkg_info
    assert sdist.metadata is None
    egg = universe.file("my-pkg", "my_pkg-2.0.egg")
    assert egg.packagetype == "bdist_egg" and egg.size == 300
    assert universe.file("my-pkg", "my_pkg-2.0.zip").content == b"exact bytes"
    twin = Universe([ProjectSpec("My.Pkg", {"2.0": [FileSpec("sdist", requires_python=">=3.9")]})])
    assert twin.file("My.Pkg", sdist.filename).sha256 == sdist.sha256


def test_range_and_head(fake_pypi: FakePyPI, http: requests.Session) -> None:
    url = fake_pypi.file_url("dep-leaf", "dep_leaf-1.0-py3-none-any.whl")
    data = http.get(url).content
    head = http.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(data))
    assert head.headers["Accept-Ranges"] == "bytes"
    part = http.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    tail = http.get(url, headers={"Range": "bytes=-22"})
    assert tail.status_code == 206 and tail.content == data[-22:]
    rest = http.get(url, headers={"Range": "bytes=100-"})
    assert rest.content == data[100:]
    assert http.get(url, headers={"Range": f"bytes={len(data)}-"}).status_code == 416
    assert http.get(url + ".metadata", headers={"Range": "bytes=0-7"}).content == b"Metadata"


# -- fault switches --------------------------------------------------------------------


def test_stale(make_fake_pypi: Callable[..., FakePyPI], http: requests.Session) -> None:
    server = make_fake_pypi()
    state = server.universe.project("foo-bar-baz")
    previous = server.universe.previous("foo-bar-baz")
    assert state is not None and previous is not None
    assert previous.serial < state.serial
    url = server.json_url("foo-bar-baz")

    server.stale("Foo.Bar_baz", times=2)
    old = http.get(url)
    assert old.headers["X-PyPI-Last-Serial"] == str(previous.serial)
    assert old.json()["last_serial"] == previous.serial
    assert len(old.json()["releases"]["2.0"]) == 1  # the old document lacks the newest file
    busted = http.get(url + "?cachebust=123")  # counts, but reaches origin
    assert busted.headers["X-PyPI-Last-Serial"] == str(state.serial)
    assert http.get(url).json()["last_serial"] == state.serial  # stale answers used up

    server.stale_bypass_with_query = False
    server.stale("foo-bar-baz", times=1)
    assert http.get(url + "?x=1").headers["X-PyPI-Last-Serial"] == str(previous.serial)
    assert http.get(url).headers["X-PyPI-Last-Serial"] == str(state.serial)

    server.stale_bypass_with_query = True
    server.stale("foo-bar-baz", times=1)  # simple pages ignore query strings
    page = http.get(server.simple_url("foo-bar-baz") + "?x=2", headers={"Accept": JSON_TYPE})
    assert page.headers["X-PyPI-Last-Serial"] == str(previous.serial)
    assert page.json()["meta"]["_last-serial"] == previous.serial
    assert len(page.json()["files"]) == len(state.files()) - 1

    server.stale("foo-bar-baz", times=1, drop_header=True)
    assert "X-PyPI-Last-Serial" not in http.get(url).headers
    assert "X-PyPI-Last-Serial" in http.get(url).headers
    assert [r.fault for r in server.requests.filter(path="/pypi/foo-bar-baz/json")] == [
        "stale",
        None,
        None,
        "stale",
        None,
        "stale",
        None,
    ]

    # a removed project: the CDN may still serve the old document
    server.universe.remove_project("dep-leaf")
    server.stale("dep-leaf")
    assert http.get(server.json_url("dep-leaf")).status_code == 200
    assert http.get(server.json_url("dep-leaf")).status_code == 404


def test_stale_index(fake_pypi: FakePyPI, http: requests.Session) -> None:
    last = fake_pypi.universe.last_serial
    fake_pypi.universe.add_project(ProjectSpec("brand-new", {"1.0": [FileSpec("sdist")]}))
    fake_pypi.stale_index(times=1, serial=last)
    root = http.get(fake_pypi.simple_url(), headers={"Accept": JSON_TYPE})
    assert root.json()["meta"]["_last-serial"] == last
    assert root.headers["X-PyPI-Last-Serial"] == str(last)
    assert "brand-new" not in [p["name"] for p in root.json()["projects"]]
    fresh = http.get(fake_pypi.simple_url(), headers={"Accept": JSON_TYPE}).json()
    assert "brand-new" in [p["name"] for p in fresh["projects"]]


def test_fail_and_http_429(fake_pypi: FakePyPI, http: requests.Session) -> None:
    url = fake_pypi.json_url("dep-leaf")
    fake_pypi.fail("/pypi/dep-leaf/json", status=503, times=2)
    assert [http.get(url).status_code for _ in range(3)] == [503, 503, 200]
    fake_pypi.fail("/packages/", times=1)  # prefix
    file_url = fake_pypi.file_url("dep-leaf", "dep_leaf-1.0.tar.gz")
    assert http.get(file_url).status_code == 500
    assert http.get(file_url).status_code == 200
    fake_pypi.fail("/pypi", status=502)  # exact: XML-RPC only, not /pypi/<name>/json
    assert http.get(url).status_code == 200
    with rpc(fake_pypi) as proxy:
        with pytest.raises(xmlrpc.client.ProtocolError):
            proxy.changelog_last_serial()
        assert proxy.changelog_last_serial() == fake_pypi.universe.last_serial
    fake_pypi.http_429("/simple/*", times=1, retry_after=3)
    resp = http.get(fake_pypi.simple_url("dep-leaf"))
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "3"
    assert http.get(fake_pypi.simple_url("dep-leaf")).status_code == 200


def test_drop_and_truncate(fake_pypi: FakePyPI) -> None:
    url = fake_pypi.file_url("dep-leaf", "dep_leaf-1.0-py3-none-any.whl")
    expected = fake_pypi.universe.file("dep-leaf", "dep_leaf-1.0-py3-none-any.whl").content
    fake_pypi.drop("/packages/", times=1)
    with requests.Session() as s:
        with pytest.raises(requests.ConnectionError):
            s.get(url)
        assert s.get(url).content == expected
    fake_pypi.truncate(url[len(fake_pypi.url) :], times=1)
    with requests.Session() as s:
        with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
            s.get(url)
        assert s.get(url).content == expected
    statuses = [(r.fault, r.status) for r in fake_pypi.requests]
    assert statuses == [("drop", None), (None, 200), ("truncate", 200), (None, 200)]


def test_slow(fake_pypi: FakePyPI, http: requests.Session) -> None:
    url = fake_pypi.json_url("dep-leaf")
    fake_pypi.slow("/pypi/dep-leaf/json", 0.6, times=1)
    start = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.get(url, timeout=0.2)
    start = time.monotonic()
    assert http.get(url, timeout=5).status_code == 200
    assert time.monotonic() - start < 0.5


def test_wrong_digest(fake_pypi: FakePyPI, http: requests.Session) -> None:
    filename = "dep_leaf-1.0-py3-none-any.whl"
    stored = fake_pypi.universe.file("dep-leaf", filename)
    fake_pypi.wrong_digest("dep-leaf", filename)
    fake_pypi.wrong_digest("dep-leaf", filename, metadata=True)
    entry = next(
        f for f in simple_json(http, fake_pypi, "dep-leaf")["files"] if f["filename"] == filename
    )
    assert entry["hashes"]["sha256"] != stored.sha256
    assert entry["core-metadata"]["sha256"] != stored.artifact.metadata_sha256
    html = http.get(fake_pypi.simple_url("dep-leaf")).text
    assert f"#sha256={entry['hashes']['sha256']}" in html and stored.sha256 not in html
    api = http.get(fake_pypi.json_url("dep-leaf")).json()["releases"]["1.0"]
    assert (
        next(f for f in api if f["filename"] == filename)["digests"]["sha256"]
        == entry["hashes"]["sha256"]
    )
    body = http.get(entry["url"]).content
    assert hashlib.sha256(body).hexdigest() == stored.sha256  # the real bytes


def test_missing_file(fake_pypi: FakePyPI, http: requests.Session) -> None:
    filename = "dep_leaf-1.0-py3-none-any.whl"
    fake_pypi.missing_file("dep-leaf", filename, metadata=True)
    url = fake_pypi.file_url("dep-leaf", filename)
    assert http.get(url + ".metadata").status_code == 404
    assert http.get(url).status_code == 200
    fake_pypi.missing_file("dep-leaf", filename)
    assert filename in [f["filename"] for f in simple_json(http, fake_pypi, "dep-leaf")["files"]]
    assert http.get(url).status_code == 404
    fake_pypi.reset_faults()
    assert http.get(url).status_code == 200


def test_hostile_files(fake_pypi: FakePyPI, http: requests.Session) -> None:
    added = fake_pypi.hostile_files("dep-leaf")
    names = {f.filename for f in added}
    assert "../../evil.whl" in names
    assert any("\x00" in n for n in names) and any("\x1b" in n for n in names)
    assert any(n.startswith("/") for n in names)
    assert any("/" in n and not n.startswith(("/", "..")) for n in names)
    advertised = {f["filename"]: f for f in simple_json(http, fake_pypi, "dep-leaf")["files"]}
    assert names <= set(advertised)
    urls = [advertised[n]["url"] for n in names]
    assert any("/packages/../../../etc/" in u for u in urls)
    assert any("%2e%2e%2f" in u for u in urls)
    for name in names:
        resp = http.get(advertised[name]["url"])
        assert resp.status_code == 200, name
        assert hashlib.sha256(resp.content).hexdigest() == advertised[name]["hashes"]["sha256"]
    html = http.get(fake_pypi.simple_url("dep-leaf"), headers={"Accept": "text/html"}).text
    assert ">../../evil.whl</a>" in html


def test_rate_limit_xmlrpc(fake_pypi: FakePyPI) -> None:
    fake_pypi.rate_limit_xmlrpc(times=2)
    with rpc(fake_pypi) as proxy:
        for _ in range(2):
            with pytest.raises(xmlrpc.client.Fault) as info:
                proxy.changelog_last_serial()
            assert info.value.faultCode == -32500
            assert "Too Many Requests" in info.value.faultString
        assert proxy.changelog_last_serial() == fake_pypi.universe.last_serial
    records = fake_pypi.requests.filter(path="/pypi")
    assert [(r.status, r.fault, r.xmlrpc_method) for r in records] == [
        (200, "xmlrpc_fault", "changelog_last_serial")
    ] * 2 + [(200, None, "changelog_last_serial")]


# -- generator -------------------------------------------------------------------------


def test_make_universe() -> None:
    start = time.monotonic()
    universe = make_universe(n_projects=300, seed=1)
    assert time.monotonic() - start < 3
    projects = universe.projects()
    assert len(projects) == 300
    assert len({p.normalized for p in projects}) == 300
    by_name = {p.normalized: p for p in projects}
    assert len(by_name["bigproject"].files()) == 500
    assert by_name["empty-project"].releases == {}
    assert by_name["release-without-files"].releases["1.0"] == ()
    for display in ("Foo.Bar", "baz__qux", "UPPER"):
        assert by_name[canonicalize_name(display)].name == display
    files = [f for p in projects for f in p.files()]
    assert any(f.yanked and f.yanked_reason for f in files)
    assert any(f.yanked and not f.yanked_reason for f in files)
    assert any(f.requires_python and "<" in f.requires_python for f in files)
    assert any(f.dependencies for f in files)
    assert {f.kind for f in files} == {"wheel", "sdist", "raw"}
    assert (
        make_universe(n_projects=300, seed=1).packages_with_serial()
        == universe.packages_with_serial()
    )


# -- hostile upstream switches -----------------------------------------------------------


def test_hostile_paths(fake_pypi: FakePyPI, http: requests.Session) -> None:
    added = fake_pypi.hostile_paths("dep-leaf")
    names = {f.filename for f in added}
    assert any("\\" in n for n in names)
    assert ".htaccess" in names
    assert any(len(n.encode()) > 255 for n in names)
    advertised = {f["filename"]: f for f in simple_json(http, fake_pypi, "dep-leaf")["files"]}
    assert names <= set(advertised)
    urls = [advertised[n]["url"] for n in names]
    for marker in ("%5c", "%2e%2e/%2E%2E", "/aa//", "%00", "/etc/"):
        assert any(marker in u for u in urls), marker
    assert any(len(urlsplit(u).path.encode()) > 1024 for u in urls)
    for name in names:
        resp = http.get(advertised[name]["url"])
        assert resp.status_code == 200, name
        assert hashlib.sha256(resp.content).hexdigest() == advertised[name]["hashes"]["sha256"]


def test_invalid_names_in_every_feed(fake_pypi: FakePyPI, http: requests.Session) -> None:
    fake_pypi.inject_invalid_names()
    last = fake_pypi.universe.last_serial
    with rpc(fake_pypi) as proxy:
        listed = proxy.list_packages_with_serial()
        rows = proxy.changelog_since_serial(2)
        assert proxy.changelog_since_serial(last) == []  # no page, no injected rows
    assert {n: listed[n] for n in INVALID_NAMES} == dict.fromkeys(INVALID_NAMES, last)
    assert "dep-leaf" in listed
    assert [r[0] for r in rows[1 : 1 + len(INVALID_NAMES)]] == list(INVALID_NAMES)
    assert {r[4] for r in rows[1 : 1 + len(INVALID_NAMES)]} == {rows[0][4]} == {3}
    assert [r[4] for r in rows] == sorted(r[4] for r in rows)
    root = http.get(fake_pypi.simple_url(), headers={"Accept": JSON_TYPE}).json()
    names = [p["name"] for p in root["projects"]]
    assert set(INVALID_NAMES) <= set(names) and "dep-leaf" in names
    html = http.get(fake_pypi.simple_url()).text
    assert ">foo bar</a>" in html and ">a/b</a>" in html
    fake_pypi.reset_faults()
    with rpc(fake_pypi) as proxy:
        assert "-" not in proxy.list_packages_with_serial()


def test_files_advertised_on_other_hosts_and_schemes(
    fake_pypi: FakePyPI, http: requests.Session
) -> None:
    universe = fake_pypi.universe
    foreign = {
        "f_http-1.0.tar.gz": "http://127.0.0.1:9/packages/aa/bb/f_http-1.0.tar.gz",
        "f_ftp-1.0.tar.gz": "ftp://127.0.0.1/packages/aa/bb/f_ftp-1.0.tar.gz",
        "f_file-1.0.tar.gz": "file:///tmp/packages/aa/bb/f_file-1.0.tar.gz",
    }
    for filename, url in foreign.items():
        universe.add_custom_file("dep-leaf", "5.0", filename, b"x", url=url)
    advertised = {
        f["filename"]: f["url"] for f in simple_json(http, fake_pypi, "dep-leaf")["files"]
    }
    api = http.get(fake_pypi.json_url("dep-leaf")).json()["releases"]["5.0"]
    html = http.get(fake_pypi.simple_url("dep-leaf")).text
    for filename, url in foreign.items():
        assert advertised[filename] == url
        assert next(f["url"] for f in api if f["filename"] == filename) == url
        assert f'href="{url}#sha256=' in html
    assert http.get(fake_pypi.url + "/packages/aa/bb/f_http-1.0.tar.gz").status_code == 404


def test_redirect(fake_pypi: FakePyPI, http: requests.Session) -> None:
    url = fake_pypi.file_url("dep-leaf", "dep_leaf-1.0-py3-none-any.whl")
    elsewhere = "http://127.0.0.1:9/packages/elsewhere.whl"
    fake_pypi.redirect(url[len(fake_pypi.url) :], elsewhere, times=1)
    resp = http.get(url, allow_redirects=False)
    assert (resp.status_code, resp.headers["Location"]) == (302, elsewhere)
    assert http.get(url, allow_redirects=False).status_code == 200


def test_deep_and_oversized_documents(fake_pypi: FakePyPI, http: requests.Session) -> None:
    fake_pypi.deep_json("dep-leaf")
    for url, headers in (
        (fake_pypi.json_url("dep-leaf"), {}),
        (fake_pypi.simple_url("dep-leaf"), {"Accept": JSON_TYPE}),
    ):
        resp = http.get(url, headers=headers)
        assert resp.status_code == 200 and resp.headers["X-PyPI-Last-Serial"]
        assert resp.content.count(b"[") >= 100_000
        with pytest.raises(RecursionError):
            resp.json()
    fake_pypi.deep_json("pyreq", depth=40)
    doc = http.get(fake_pypi.json_url("pyreq")).json()
    value, depth = doc["info"]["deep"], 1
    while value:
        value, depth = value[0], depth + 1
    assert depth == 40 and doc["info"]["name"] == "pyreq"
    assert "deep" in simple_json(http, fake_pypi, "pyreq")
    fake_pypi.oversized("yanky", 100_000)
    api = http.get(fake_pypi.json_url("yanky"))
    assert len(api.content) > 100_000 and api.json()["info"]["name"] == "yanky"
    page = http.get(fake_pypi.simple_url("yanky"), headers={"Accept": JSON_TYPE})
    assert len(page.content) > 100_000 and len(page.json()["files"]) == 3
    assert len(http.get(fake_pypi.json_url("nometa")).content) < 100_000


def test_overlong_body(fake_pypi: FakePyPI) -> None:
    url = fake_pypi.file_url("dep-leaf", "dep_leaf-1.0-py3-none-any.whl")
    path = url[len(fake_pypi.url) :]
    expected = fake_pypi.universe.file("dep-leaf", "dep_leaf-1.0-py3-none-any.whl").content
    fake_pypi.overlong(path, extra=b"SMUGGLED", times=1)
    with socket.create_connection((fake_pypi.host, fake_pypi.port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while not data.endswith(b"SMUGGLED"):
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert f"Content-Length: {len(expected)}".encode() in head
    assert body == expected + b"SMUGGLED"


def test_xmlrpc_entity_bomb(fake_pypi: FakePyPI) -> None:
    fake_pypi.xmlrpc_entity_bomb("changelog_since_serial", times=1, levels=3)
    call = xmlrpc.client.dumps((0,), "changelog_since_serial").encode()
    raw = requests.post(fake_pypi.xmlrpc_url, data=call, timeout=5).content
    assert b"<!DOCTYPE" in raw and b"<!ENTITY lol3" in raw
    (rows,), _ = xmlrpc.client.loads(raw)
    assert rows == [["lol" * 1000, None, 0, "create", fake_pypi.universe.last_serial]]
    with rpc(fake_pypi) as proxy:
        assert proxy.changelog_since_serial(0)[0][3] == "create"  # times=1: used up
        fake_pypi.xmlrpc_entity_bomb("list_packages_with_serial", levels=2)
        assert proxy.list_packages_with_serial() == {"lol" * 100: fake_pypi.universe.last_serial}
        fake_pypi.xmlrpc_entity_bomb()  # the classic billion laughs, on every method
        with pytest.raises(ExpatError, match="amplification"):
            proxy.changelog_last_serial()
    assert fake_pypi.requests.snapshot()[-1].fault == "entity_bomb"


def test_trickle(fake_pypi: FakePyPI) -> None:
    url = fake_pypi.json_url("dep-leaf")
    fake_pypi.trickle("/pypi/dep-leaf/json", 0.2, times=1)
    start = time.monotonic()
    with requests.get(url, stream=True, timeout=5) as resp:
        assert resp.status_code == 200 and int(resp.headers["Content-Length"]) > 100
        assert resp.raw.read(3) == b'{"i'
        assert time.monotonic() - start >= 0.4  # three bytes, 0.2 s apart
    assert requests.get(url, timeout=5).json()["info"]["name"] == "dep-leaf"


def test_credentials(make_fake_pypi: Callable[..., FakePyPI], http: requests.Session) -> None:
    server = make_fake_pypi(credentials=("alice", "s3cret"))
    assert http.get(server.simple_url()).status_code == 401
    assert http.get(server.json_url("dep-leaf"), auth=("alice", "nope")).status_code == 401
    assert http.get(server.json_url("dep-leaf"), auth=("alice", "s3cret")).status_code == 200
    with_url = server.url.replace("http://", "http://alice:s3cret@") + "/simple/dep-leaf/"
    assert http.get(with_url).status_code == 200
    with rpc(server) as proxy, pytest.raises(xmlrpc.client.ProtocolError):
        proxy.changelog_last_serial()
    url = server.file_url("dep-leaf", "dep_leaf-1.0-py3-none-any.whl")
    assert http.get(url).status_code == 200  # files are served to anyone


def test_provenance_and_project_status_as_pypi_serves_them() -> None:
    universe = Universe(
        [ProjectSpec("Attested", {"1.0": [FileSpec("wheel", provenance=True), FileSpec("sdist")]})]
    )
    with FakePyPI(universe) as fake:
        serial = universe.last_serial
        universe.set_status("Attested", "archived", "moved to attested2")
        assert universe.last_serial == serial  # no changelog event, as on PyPI
        page = requests.get(
            fake.simple_url("attested"), headers={"Accept": JSON_TYPE}, timeout=5
        ).json()
        assert page["meta"]["api-version"] == "1.4"
        assert page["project-status"] == {"status": "archived", "reason": "moved to attested2"}
        by_name = {f["filename"]: f for f in page["files"]}
        wheel = next(f for name, f in by_name.items() if name.endswith(".whl"))
        sdist = next(f for name, f in by_name.items() if name.endswith(".tar.gz"))
        assert sdist["provenance"] is None
        assert wheel["provenance"].startswith(fake.url + "/integrity/attested/1.0/")
        answer = requests.get(wheel["provenance"], timeout=5)
        assert answer.headers["Content-Type"] == "application/json"
        assert (
            answer.json()["attestation_bundles"][0]["attestations"][0]["subject"]
            == (wheel["filename"])
        )
        html = requests.get(fake.simple_url("attested"), timeout=5).text
        assert f'data-provenance="{wheel["provenance"]}"' in html
        assert '<meta name="pypi:project-status" content="archived">' in html
        api = requests.get(fake.json_url("attested"), timeout=5).json()
        assert "project-status" not in api  # the JSON API carries neither
        assert all("provenance" not in f for f in api["urls"])
