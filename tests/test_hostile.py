"""An untrusted upstream can never hurt the mirror.

One fake upstream tries everything at once: paths that climb out of the mirror (literal and
percent-encoded ``../``, absolute paths, backslashes, NUL, overlong names), names that are no
project names in every feed, file URLs on another host or scheme and redirects to another
host, documents larger than ``max-document-size``, bodies that lie about their digest or
length, deeply nested JSON, an XML entity bomb on the changelog, and symlinks planted in the
mirror (a temp name linked to a file outside, a directory below ``web/packages/<aa>/``
linked to a directory outside). Whatever it does: nothing outside the mirror directory is
written, changed or read, no request reaches the foreign host, every good project is
mirrored completely in the same run, every refusal is logged with the project's name, and
the run exits 0 or 1 (never 4) without a traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fakepypi import (
    INVALID_NAMES,
    FakePyPI,
    FileSpec,
    ProjectSpec,
    StoredFile,
    Universe,
    make_small_universe,
)
from fakepypi import pages as fakepages
from harness import Mirror, make_mirror, sha256_of

MAX_DOC = 256 * 1024
GOOD = ("dep-leaf", "foo-bar-baz", "yanky", "pyreq", "nometa")
"""Projects upstream serves honestly (pyreq's wheel comes with bytes past its
Content-Length, dep-leaf's wheel has a symlink planted at its temp name)."""
FAILING = {
    "deep": "not a usable JSON document: RecursionError",
    "huge": f"response is larger than {MAX_DOC} bytes",
    "liar": "sha256 mismatch",
    "truncated": "IncompleteRead",
    "redirected": "refused: host 127.0.0.1:",
}
"""Projects that fail, and what their failure says."""


@dataclass
class Scene:
    fake: FakePyPI
    foreign: FakePyPI
    mirror: Mirror
    outside: Path
    tmp: Path
    refused: dict[str, list[str]]
    """Project -> filenames its refusals must name."""
    victim_file: StoredFile
    temp_linked: StoredFile

    def outside_state(self) -> dict[str, tuple[bytes | str, int]]:
        """Every path under the test's directory but outside the mirror: content (a symlink:
        its target; a directory: "dir") and mtime."""
        found: dict[str, tuple[bytes | str, int]] = {}
        for path in self.tmp.rglob("*"):
            if path == self.mirror.directory or self.mirror.directory in path.parents:
                continue
            info = path.lstat()
            if path.is_symlink():
                found[str(path)] = (os.readlink(path), info.st_mtime_ns)
            elif path.is_dir():
                found[str(path)] = ("dir", info.st_mtime_ns)
            else:
                found[str(path)] = (path.read_bytes(), info.st_mtime_ns)
        return found


def _wheel_path(fake: FakePyPI, name: str) -> StoredFile:
    state = fake.universe.project(name)
    assert state is not None
    return next(f for f in state.files() if f.filename.endswith(".whl"))


def _universe() -> Universe:
    universe = make_small_universe()
    wheel = FileSpec("wheel")
    for name in ("traversal", "foreign", "redirected", "deep", "huge", "truncated"):
        universe.add_project(ProjectSpec(name, {"1.0": [wheel]}))
    universe.add_project(ProjectSpec("liar", {"1.0": [wheel, FileSpec("sdist")]}))
    universe.add_project(ProjectSpec("victim", {"1.0": [FileSpec("sdist")]}))
    return universe


def _set_stage(tmp: Path, fake: FakePyPI, foreign: FakePyPI, mode: str) -> Scene:
    universe = fake.universe
    outside = tmp / "outside"
    outside.mkdir()
    refused: dict[str, list[str]] = {}

    hostile = fake.hostile_files("traversal") + fake.hostile_paths("traversal")
    bracket = "http://[::1/packages/aa/bb/evil_bracket-1.0.tar.gz"  # an URL that does not parse
    hostile.append(
        universe.add_custom_file("traversal", "1.0", "evil_bracket-1.0.tar.gz", b"", url=bracket)
    )
    refused["traversal"] = [f.filename for f in hostile]

    # files advertised on another host, another scheme, and a file URL to a file outside
    content = b"served by the foreign host"
    path = "/packages/fo/re/ign/foreign_http-1.0.tar.gz"
    foreign.universe.add_custom_file(
        "bait", "1.0", "foreign_http-1.0.tar.gz", content, url_path=path
    )
    universe.add_custom_file(
        "foreign", "1.0", "foreign_http-1.0.tar.gz", content, url=foreign.url + path
    )
    ftp = f"ftp://127.0.0.1:{foreign.port}/packages/fo/re/ign/foreign_ftp-1.0.tar.gz"
    universe.add_custom_file("foreign", "1.0", "foreign_ftp-1.0.tar.gz", content, url=ftp)
    local = outside / "packages/fo/re/ign/foreign_file-1.0.tar.gz"
    local.parent.mkdir(parents=True)
    local.write_bytes(content)
    universe.add_custom_file(
        "foreign", "1.0", "foreign_file-1.0.tar.gz", content, url=local.as_uri()
    )
    refused["foreign"] = [
        "foreign_http-1.0.tar.gz",
        "foreign_ftp-1.0.tar.gz",
        "foreign_file-1.0.tar.gz",
    ]

    # a file on the master whose URL redirects to the foreign host (which serves it)
    moved = universe.add_custom_file("redirected", "1.0", "redirected-1.0.tar.gz", content)
    foreign.universe.add_custom_file(
        "bait", "1.0", "redirected-1.0.tar.gz", content, url_path=moved.url_path
    )
    fake.redirect(moved.url_path, foreign.url + moved.url_path)

    fake.deep_json("deep")
    fake.oversized("huge", 4 * MAX_DOC)
    liar = next(f for f in universe.project("liar").files() if f.kind == "sdist")  # type: ignore[union-attr]
    fake.wrong_digest("liar", liar.filename)
    fake.truncate(_wheel_path(fake, "truncated").url_path, times=None)
    fake.overlong(_wheel_path(fake, "pyreq").url_path)
    fake.inject_invalid_names()

    # symlinks planted in the mirror: a temp name linked to a file outside, and a directory
    # below web/packages/<aa>/ linked to a directory outside that holds the victim's file
    mirror = make_mirror(
        tmp, fake, {"max-document-size": str(MAX_DOC), "change-feed": mode, "json": "true"}
    )
    temp_linked = _wheel_path(fake, "dep-leaf")
    target = mirror.web / temp_linked.url_path.lstrip("/")
    target.parent.mkdir(parents=True)
    canary = outside / "canary.txt"
    canary.write_text("not the mirror's\n")
    (target.parent / f".{target.name}.part").symlink_to(canary)

    victim = universe.project("victim").files()[0]  # type: ignore[union-attr]
    aa, bb, rest = victim.url_path.split("/")[2:5]
    others = [f.url_path for p in universe.projects() for f in p.files() if f is not victim]
    assert not any(p.startswith(f"/packages/{aa}/{bb}/") for p in others)
    (outside / "dir" / rest).mkdir(parents=True)
    (outside / "dir" / rest / victim.filename).write_bytes(victim.content)  # bait to read
    (mirror.web / "packages" / aa).mkdir(parents=True, exist_ok=True)
    (mirror.web / "packages" / aa / bb).symlink_to(outside / "dir", target_is_directory=True)
    refused["victim"] = [victim.filename]
    return Scene(fake, foreign, mirror, outside, tmp, refused, victim, temp_linked)


@pytest.fixture
def servers() -> Iterator[tuple[FakePyPI, FakePyPI]]:
    with FakePyPI(_universe()) as fake, FakePyPI(Universe([ProjectSpec("bait")])) as foreign:
        yield fake, foreign
    assert not fake.errors and not foreign.errors


def _run(scene: Scene) -> subprocess.CompletedProcess[str]:
    before = scene.outside_state()
    result = scene.mirror.run("mirror", timeout=120)
    err = result.stderr
    assert result.returncode in (0, 1), err[-3000:]
    assert "Traceback" not in err, err
    assert scene.outside_state() == before
    assert len(scene.foreign.requests) == 0, [r.path for r in scene.foreign.requests]
    _assert_nothing_escaped(scene)
    for name in GOOD:
        _assert_complete(scene, name)
    for name, why in FAILING.items():
        assert re.search(rf"failed: {name}: .*{re.escape(why)}", err), (name, err[-3000:])
    assert scene.mirror.temp_files() == []
    return result


def _assert_nothing_escaped(scene: Scene) -> None:
    mirror = scene.mirror
    assert not Path(tempfile.gettempdir(), "fakepypi-escape-traversal").exists()
    assert not list(Path("/etc").glob("evil*"))
    assert not [p for p in mirror.directory.rglob("*") if "evil" in p.name or "htaccess" in p.name]
    # the planted temp-name link was replaced, never written through
    stored = mirror.web / scene.temp_linked.url_path.lstrip("/")
    assert not stored.is_symlink() and stored.read_bytes() == scene.temp_linked.content
    # nothing was read through the planted directory link: the victim lists no file
    assert mirror.page_json("victim")["files"] == []
    root = json.loads((mirror.web / "simple/index.v1_json").read_text())
    listed = {p["name"] for p in root["projects"]}
    known = {p.name for p in scene.fake.universe.projects()}
    assert listed <= known and not listed & set(INVALID_NAMES)
    project_dirs = {p.name for p in (mirror.web / "simple").iterdir() if p.is_dir()}
    assert project_dirs <= {p.normalized for p in scene.fake.universe.projects()}


def _assert_complete(scene: Scene, name: str) -> None:
    """The project's pages list every upstream file, each stored with its digest."""
    state = scene.fake.universe.project(name)
    assert state is not None
    mirror = scene.mirror
    page = mirror.page_json(name)
    files = {f["filename"]: f for f in page["files"]}  # type: ignore[attr-defined]
    assert set(files) == {f.filename for f in state.files()}, name
    for upstream in state.files():
        entry = files[upstream.filename]
        assert entry["hashes"]["sha256"] == upstream.sha256
        stored = mirror.linked_file(name, entry["url"])
        assert sha256_of(stored) == upstream.sha256
        if upstream.metadata is not None:
            meta = stored.with_name(stored.name + ".metadata")
            assert meta.read_bytes() == upstream.metadata
    html = (mirror.web / "simple" / name / "index.html").read_text()
    assert html.count("<a ") == len(state.files())
    assert page["meta"]["_last-serial"] == state.serial  # type: ignore[index]


def _assert_refusals_logged(scene: Scene, err: str) -> None:
    for name, filenames in scene.refused.items():
        lines = [line for line in err.splitlines() if f"WARNING: {name}: refused file" in line]
        assert len(lines) == len(filenames), (name, lines)
    assert "symlink where the mirror keeps a directory" in "".join(
        line for line in err.splitlines() if "victim: refused" in line
    )
    for bad in INVALID_NAMES:
        assert re.search(rf"skipped {re.escape(repr(bad)[:60])}.*not a project name", err), bad


@pytest.mark.parametrize("mode", ["xmlrpc", "simple"])
def test_a_hostile_upstream_cannot_hurt_the_mirror(
    tmp_path: Path, servers: tuple[FakePyPI, FakePyPI], mode: str
) -> None:
    fake, foreign = servers
    scene = _set_stage(tmp_path, fake, foreign, mode)
    first = _run(scene)
    _assert_refusals_logged(scene, first.stderr)
    assert first.returncode == 1

    # the next run: a changelog answer that is an entity bomb (below what expat refuses by
    # itself) makes the run read the root index instead, and it still syncs what changed
    fake.universe.add_release("dep-leaf", "9.0", [FileSpec("wheel")])
    fake.xmlrpc_entity_bomb("changelog_since_serial", times=1, levels=5)
    fake.reset_log()
    second = _run(scene)
    assert "9.0" in scene.mirror.page_json("dep-leaf")["versions"]  # type: ignore[operator]
    if mode == "xmlrpc":
        assert "XML-RPC answer declares a DTD or entities" in second.stderr
        assert fake.requests.filter(path="/simple/")  # it fell back to the root index
        for bad in INVALID_NAMES:
            assert re.search(rf"root index: skipped {re.escape(repr(bad)[:60])}", second.stderr)
        # and the run after that reads the changelog again, with its invalid rows
        fake.universe.add_release("yanky", "9.0", [FileSpec("wheel")])
        third = _run(scene)
        assert "9.0" in scene.mirror.page_json("yanky")["versions"]  # type: ignore[operator]
        for bad in INVALID_NAMES:
            assert re.search(rf"changelog: skipped {re.escape(repr(bad)[:60])}", third.stderr)
    else:
        assert not fake.requests.filter(path="/pypi")


def test_credentials_in_the_master_url_never_reach_a_log_or_a_state_file(
    tmp_path: Path, make_fake_pypi: Any
) -> None:
    fake: FakePyPI = make_fake_pypi(credentials=("alice", "s3cret"))
    fake.fail("/pypi/yanky/json", status=500, times=None)
    fake.fail(_wheel_path(fake, "pyreq").url_path, status=403, times=None)
    master = fake.url.replace("http://", "http://alice:s3cret@")
    mirror = make_mirror(tmp_path, fake, {"master": master, "json": "true"})
    result = mirror.run("mirror")
    assert result.returncode == 1, result.stderr
    assert re.search(
        r"failed: yanky: http://\*\*\*@127\.0\.0\.1:\d+/pypi/yanky/json", result.stderr
    )
    assert "failed: pyreq:" in result.stderr
    assert (mirror.web / "simple/dep-leaf/index.html").exists()  # the credentials were used
    assert "s3cret" not in result.stdout + result.stderr
    for path in mirror.directory.rglob("*"):
        if path.is_file():
            assert b"s3cret" not in path.read_bytes(), path
    assert "yanky" in (mirror.directory / "todo").read_text()
    assert "yanky" in (mirror.directory / "failures").read_text()


@pytest.mark.parametrize("what", ["file", "document"])
def test_a_trickling_upstream_is_cut_off_at_global_timeout(
    tmp_path: Path, fake_pypi: FakePyPI, what: str
) -> None:
    wheel = _wheel_path(fake_pypi, "dep-leaf")
    fake_pypi.trickle(wheel.url_path if what == "file" else "/pypi/dep-leaf/json", 0.5)
    options = {"global-timeout": "1.5", "timeout": "10", "retries": "1"}
    mirror = make_mirror(tmp_path, fake_pypi, options)
    start = time.monotonic()
    result = mirror.run("mirror", timeout=90)
    elapsed = time.monotonic() - start
    assert result.returncode == 1, result.stderr
    assert re.search(r"failed: dep-leaf: .*took longer than global-timeout", result.stderr)
    assert "Traceback" not in result.stderr
    assert elapsed < 60  # the body alone would take len(body) / 2 seconds
    assert not (mirror.web / wheel.url_path.lstrip("/")).exists()
    assert mirror.temp_files() == []
    assert mirror.page_json("pyreq")["files"]  # the others were mirrored meanwhile
    assert "dep-leaf" in (mirror.directory / "todo").read_text()


@pytest.mark.parametrize("bogus", [True, 2**40, "\u00b2"])
def test_a_bogus_serial_in_the_root_index_never_stops_later_runs(
    tmp_path: Path, fake_pypi: FakePyPI, monkeypatch: pytest.MonkeyPatch, bogus: object
) -> None:
    real = fakepages.simple_root_json

    def bogus_root(entries: Any, last: int) -> dict[str, Any]:
        return {**real(entries, last), "meta": {"api-version": "1.4", "_last-serial": bogus}}

    monkeypatch.setattr(fakepages, "simple_root_json", bogus_root)
    mirror = make_mirror(tmp_path, fake_pypi, {"change-feed": "simple"})
    for _ in range(2):
        result = mirror.run("mirror")
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    assert int((mirror.directory / "status").read_text()) == fake_pypi.universe.last_serial


def test_a_document_too_deep_to_walk_fails_only_its_project(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    fake_pypi.deep_json("pyreq", depth=600)  # parses, but is too deep for recursive code
    mirror = make_mirror(tmp_path, fake_pypi)
    result = mirror.run("mirror")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(r"failed: pyreq: .*'info' is nested too deeply", result.stderr)
    assert mirror.page_json("yanky")["files"]


def test_credentials_in_the_master_url_never_reach_a_page_that_links_upstream(
    tmp_path: Path, make_fake_pypi: Any
) -> None:
    """A mirror of a mirror behind basic auth, with release-files = false: the pages link
    files on the files host, never by a URL joined to the master's (with its password)."""
    fake: FakePyPI = make_fake_pypi(credentials=("alice", "s3cret"))
    relative = "../../packages/aa/bb/dep_leaf-3.0.tar.gz"  # as a bandersnatch mirror links
    fake.universe.add_custom_file("dep-leaf", "3.0", "dep_leaf-3.0.tar.gz", b"x", url=relative)
    master = fake.url.replace("http://", "http://alice:s3cret@")
    options = {"master": master, "release-files": "false", "change-feed": "simple"}
    mirror = make_mirror(tmp_path, fake, options)
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    assert "s3cret" not in result.stdout + result.stderr
    page = mirror.page_json("dep-leaf")
    urls = {f["filename"]: f["url"] for f in page["files"]}  # type: ignore[attr-defined]
    assert (
        urls["dep_leaf-3.0.tar.gz"]
        == "https://files.pythonhosted.org/packages/aa/bb/dep_leaf-3.0.tar.gz"
    )
    for path in mirror.directory.rglob("*"):
        if path.is_file():
            assert b"s3cret" not in path.read_bytes(), path
