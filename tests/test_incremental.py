"""Later runs: incremental cost, stale upstreams, deletions and the guard, force-check, sync."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from fakepypi import FakePyPI, FileSpec, make_universe
from harness import Mirror, make_mirror


def _files_of(fake: FakePyPI, name: str) -> set[str]:
    state = fake.universe.project(name)
    assert state is not None
    return {f.filename for fs in state.releases.values() for f in fs}


def _stored(mirror: Mirror) -> set[str]:
    return {p.name for p in (mirror.web / "packages").rglob("*") if p.is_file()}


def _synced(tmp_path: Path, fake: FakePyPI, **options: str) -> Mirror:
    mirror = make_mirror(tmp_path, fake, options)
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr[-3000:]
    return mirror


@pytest.fixture
def universe_fake(make_fake_pypi: Callable[..., FakePyPI]) -> FakePyPI:
    return make_fake_pypi(make_universe(n_projects=40, seed=3, big_project_files=20))


def test_twenty_new_uploads_cost_twenty_file_requests(
    tmp_path: Path, universe_fake: FakePyPI
) -> None:
    fake = universe_fake
    mirror = _synced(tmp_path, fake)
    names = [p.name for p in fake.universe.projects() if p.releases][:10]
    for i, name in enumerate(names):
        fake.universe.add_release(name, f"99.{i}", [FileSpec("wheel"), FileSpec("sdist")])
    fake.reset_log()
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    requests = list(fake.requests)
    files = [r for r in requests if r.path.startswith("/packages/")]
    wheels_meta = [r for r in files if r.path.endswith(".metadata")]
    assert len(files) == 20
    assert wheels_meta == []  # each new wheel's PEP 658 file comes out of the wheel itself
    for name in names:
        page = mirror.page_json(fake.universe.project(name).normalized)  # type: ignore[union-attr]
        new_wheels = [
            f for f in page["files"] if "-99." in f["filename"] and ".whl" in f["filename"]
        ]  # type: ignore[attr-defined]
        assert len(new_wheels) == 1 and new_wheels[0]["core-metadata"]
        stored = mirror.linked_file(fake.universe.project(name).normalized, new_wheels[0]["url"])  # type: ignore[union-attr]
        meta = stored.with_name(stored.name + ".metadata")
        assert (
            hashlib.sha256(meta.read_bytes()).hexdigest()
            == new_wheels[0]["core-metadata"]["sha256"]
        )
    assert sorted(r.path for r in requests if r.path.startswith("/pypi/")) == sorted(
        f"/pypi/{fake.universe.project(n).normalized}/json"  # type: ignore[union-attr]
        for n in names
    )
    assert fake.requests.xmlrpc_calls() == ["changelog_since_serial"]
    for name in names:
        assert _files_of(fake, name) <= _stored(mirror)
    fake.reset_log()
    assert mirror.run("mirror").returncode == 0
    assert len(list(fake.requests)) <= 2


def test_stale_project_is_deferred_and_blocks_nothing(
    tmp_path: Path, make_fake_pypi: Callable[..., FakePyPI]
) -> None:
    fake = make_fake_pypi(make_universe(n_projects=20, seed=4), stale_bypass_with_query=False)
    mirror = _synced(tmp_path, fake)
    victim, other = [p.name for p in fake.universe.projects() if p.releases][:2]
    fake.universe.add_release(victim, "50.0", [FileSpec("wheel")])
    fake.stale(victim, times=1000)
    result = mirror.run("mirror")
    assert result.returncode == 1
    normalized = fake.universe.project(victim).normalized  # type: ignore[union-attr]
    assert "stale response" in result.stderr and f"failed: {normalized}" in result.stderr
    todo = (mirror.directory / "todo").read_text().split("\n")
    assert todo[0] == (mirror.directory / "status").read_text().strip()
    assert any(line.startswith(f"{normalized} ") for line in todo[1:])
    # a later upload elsewhere is still mirrored while the victim stays stale
    fake.universe.add_release(other, "60.0", [FileSpec("sdist")])
    result = mirror.run("mirror")
    assert result.returncode == 1
    assert f"failed: {normalized}: " in result.stderr
    assert "(deferred: failing for 2 runs, since " in result.stderr
    assert _files_of(fake, other) <= _stored(mirror)
    assert int((mirror.directory / "status").read_text()) == fake.universe.last_serial
    # the CDN recovers: the deferred project arrives and the todo is gone
    fake.reset_faults()
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    assert _files_of(fake, victim) <= _stored(mirror)
    assert not (mirror.directory / "todo").exists()
    assert not (mirror.directory / "failures").exists()


def test_stale_cdn_is_bypassed_with_a_cache_busting_query(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = _synced(tmp_path, fake_pypi)
    fake_pypi.universe.add_release("dep-leaf", "9.0", [FileSpec("wheel")])
    fake_pypi.stale("dep-leaf", times=100)
    fake_pypi.reset_log()
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    queried = [r for r in fake_pypi.requests if r.path == "/pypi/dep-leaf/json" and r.query]
    assert len(queried) == 1 and queried[0].query.startswith("cache-bust=")
    assert "9.0" in mirror.page_json("dep-leaf")["versions"]  # type: ignore[operator]


def test_project_removed_upstream_disappears(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = _synced(tmp_path, fake_pypi, json="true")
    gone = _files_of(fake_pypi, "dep-leaf")
    fake_pypi.universe.remove_project("dep-leaf")
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    assert not (gone & _stored(mirror))
    assert not (mirror.web / "simple/dep-leaf").exists()
    assert not (mirror.web / "json/dep-leaf").exists()
    assert not (mirror.web / "pypi/dep-leaf").exists()
    root = json.loads((mirror.web / "simple/index.v1_json").read_text())
    assert "dep-leaf" not in {p["name"] for p in root["projects"]}
    assert "dep-leaf" not in (mirror.directory / "projects").read_text()


def test_mass_deletion_beyond_the_guard_is_refused(tmp_path: Path, universe_fake: FakePyPI) -> None:
    fake = universe_fake
    mirror = _synced(tmp_path, fake, **{"max-deletions": "5"})
    victims = [p.name for p in fake.universe.projects() if p.releases][:6]
    before = _stored(mirror)
    gone = set().union(*(_files_of(fake, name) for name in victims))
    assert gone <= before
    for name in victims:
        fake.universe.remove_project(name)
    result = mirror.run("mirror")
    assert result.returncode == 1
    assert "deletion guard" in result.stderr and "--allow-deletions" in result.stderr
    deleted = {n for n in before - _stored(mirror) if not n.endswith(".metadata")}
    assert len(deleted) <= 5  # a file and its .metadata count once
    result = mirror.run("mirror", "--allow-deletions")
    assert result.returncode == 0, result.stderr
    assert not (gone & _stored(mirror))
    for name in victims:
        assert not (mirror.web / "simple" / canonicalize_name(name)).exists()


def test_removed_file_and_yank_are_reflected(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = _synced(tmp_path, fake_pypi)
    state = fake_pypi.universe.project("Foo.Bar_baz")
    assert state is not None
    dropped = state.releases["1.0"][0].filename
    fake_pypi.universe.remove_file("Foo.Bar_baz", dropped)
    fake_pypi.universe.yank("Foo.Bar_baz", "2.0", "bad build")
    assert mirror.run("mirror").returncode == 0
    page = mirror.page_json("foo-bar-baz")
    files = {f["filename"]: f for f in page["files"]}  # type: ignore[attr-defined]
    assert dropped not in files and dropped not in _stored(mirror)
    assert {f["yanked"] for n, f in files.items() if "-2.0" in n} == {"bad build"}
    fake_pypi.universe.unyank("Foo.Bar_baz", "2.0")
    assert mirror.run("mirror").returncode == 0
    page = mirror.page_json("foo-bar-baz")
    assert all(f["yanked"] is False for f in page["files"])  # type: ignore[attr-defined]


def test_force_check_repairs_without_downloading_current_files(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = _synced(tmp_path, fake_pypi)
    page = mirror.page_json("dep-leaf")
    lost = mirror.linked_file("dep-leaf", page["files"][0]["url"])  # type: ignore[index]
    lost.unlink()
    (mirror.web / "simple/foo-bar-baz/index.v1_json").unlink()
    fake_pypi.reset_log()
    result = mirror.run("mirror", "--force-check")
    assert result.returncode == 0, result.stderr
    fetched = [r.path for r in fake_pypi.requests if r.path.startswith("/packages/")]
    assert [p.rsplit("/", 1)[1] for p in fetched] == [lost.name]
    assert lost.exists()
    assert mirror.page_json("foo-bar-baz")["files"]
    assert fake_pypi.requests.xmlrpc_calls() == [
        "changelog_last_serial",
        "list_packages_with_serial",
    ]


def test_sync_fetches_named_projects_without_touching_todo_or_status(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = make_mirror(tmp_path, fake_pypi)
    mirror.directory.mkdir()
    (mirror.directory / "status").write_text("1\n")
    (mirror.directory / "todo").write_text("5\nzzz 3\n")
    result = mirror.run("sync", "Foo.Bar_baz", "DEP_LEAF")
    assert result.returncode == 0, result.stderr
    assert (mirror.directory / "status").read_text() == "1\n"
    assert (mirror.directory / "todo").read_text() == "5\nzzz 3\n"
    assert fake_pypi.requests.xmlrpc_calls() == []
    assert _files_of(fake_pypi, "dep-leaf") <= _stored(mirror)
    root = json.loads((mirror.web / "simple/index.v1_json").read_text())
    assert {p["name"] for p in root["projects"]} == {"Foo.Bar_baz", "dep-leaf"}


def test_transient_faults_are_retried(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    fake_pypi.rate_limit_xmlrpc(times=2)
    fake_pypi.fail("/pypi/dep-leaf/json", status=503, times=2)
    fake_pypi.drop("/packages/", times=2)
    fake_pypi.truncate("/packages/", times=1)
    fake_pypi.http_429("/pypi/foo-bar-baz/json", times=1, retry_after=0)
    mirror = make_mirror(tmp_path, fake_pypi, {"retries": "4"})
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    assert mirror.temp_files() == []
    for state in fake_pypi.universe.projects():
        assert {f.filename for fs in state.releases.values() for f in fs} <= _stored(mirror)


def test_allowlist_edits_take_effect_on_the_next_run(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    allow = "[plugins]\nenabled = allowlist_project\n[allowlist]\npackages =\n    {}\n"
    mirror = make_mirror(tmp_path, fake_pypi, extra=allow.format("dep-leaf"))
    assert mirror.run("mirror").returncode == 0
    assert (mirror.web / "simple/dep-leaf").exists()
    mirror.config.write_text(
        mirror.config.read_text().replace("    dep-leaf\n", "    Foo.Bar_baz\n")
    )
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    assert (mirror.web / "simple/foo-bar-baz/index.html").exists()
    assert not (mirror.web / "simple/dep-leaf").exists()  # pruned: no longer allowed
    assert not (_files_of(fake_pypi, "dep-leaf") & _stored(mirror))


def test_sync_skip_simple_root_defers_the_root_index_to_the_next_run(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = _synced(tmp_path, fake_pypi)
    index = mirror.web / "simple/index.v1_json"
    doc = json.loads(index.read_text())
    doc["projects"] = [p for p in doc["projects"] if p["name"] != "dep-leaf"]
    index.write_text(json.dumps(doc))  # a root index that lags behind the ledger
    result = mirror.run("sync", "--skip-simple-root", "Foo.Bar_baz")
    assert result.returncode == 0, result.stderr
    assert json.loads(index.read_text()) == doc
    assert (mirror.directory / "root-index-stale").exists()
    fake_pypi.reset_log()
    result = mirror.run("mirror")  # nothing changed upstream, yet the root is rewritten
    assert result.returncode == 0, result.stderr
    assert fake_pypi.requests.xmlrpc_calls() == ["changelog_since_serial"]
    names = {p["name"] for p in json.loads(index.read_text())["projects"]}
    assert "dep-leaf" in names
    assert not (mirror.directory / "root-index-stale").exists()


def test_metadata_files_missing_or_wrong_upstream_are_never_advertised(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    state = fake_pypi.universe.project("Foo.Bar_baz")
    assert state is not None
    wheels = [f.filename for f in state.files() if f.filename.endswith(".whl")]
    missing, wrong = wheels[0], wheels[1]
    # advertised with a digest neither the wheel's METADATA nor any served file has
    fake_pypi.wrong_digest("Foo.Bar_baz", missing, metadata=True)
    fake_pypi.missing_file("Foo.Bar_baz", missing, metadata=True)
    fake_pypi.wrong_digest("Foo.Bar_baz", wrong, metadata=True)
    mirror = make_mirror(tmp_path, fake_pypi)
    result = mirror.run("mirror")
    assert result.returncode == 1  # the wrong digest is a failure, retried next run
    assert f"{missing}: advertised .metadata is missing upstream" in result.stderr
    assert re.search(rf"failed: foo-bar-baz: .*{re.escape(wrong)}\.metadata.*sha256", result.stderr)
    files = {f["filename"]: f for f in mirror.page_json("foo-bar-baz")["files"]}  # type: ignore[attr-defined]
    assert files[missing]["core-metadata"] is False
    assert files[wrong]["core-metadata"] is False
    for name in (missing, wrong):
        stored = mirror.linked_file("foo-bar-baz", files[name]["url"])
        assert stored.exists() and not stored.with_name(name + ".metadata").exists()
    html = (mirror.web / "simple/foo-bar-baz/index.html").read_text()
    assert html.count("data-core-metadata") == sum(1 for f in files.values() if f["core-metadata"])


def test_metadata_upstream_fails_to_serve_is_taken_from_the_wheel(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    state = fake_pypi.universe.project("Foo.Bar_baz")
    assert state is not None
    wheel = next(f for f in state.files() if f.filename.endswith(".whl"))
    fake_pypi.missing_file("Foo.Bar_baz", wheel.filename, metadata=True)
    mirror = make_mirror(tmp_path, fake_pypi)
    assert mirror.run("mirror").returncode == 0
    files = {f["filename"]: f for f in mirror.page_json("foo-bar-baz")["files"]}  # type: ignore[attr-defined]
    stored = mirror.linked_file("foo-bar-baz", files[wheel.filename]["url"])
    assert stored.with_name(wheel.filename + ".metadata").read_bytes() == wheel.metadata
    assert files[wheel.filename]["core-metadata"] == {
        "sha256": hashlib.sha256(wheel.metadata or b"").hexdigest()
    }
    assert not any(r.path.endswith(".metadata") for r in fake_pypi.requests)


def test_editing_a_requirements_pin_takes_effect_on_the_next_run(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    reqs = tmp_path / "reqs"
    reqs.mkdir()
    (reqs / "requirements.txt").write_text("Foo.Bar_baz==1.0\n")
    extra = (
        "[plugins]\nenabled =\n    project_requirements\n    project_requirements_pinned\n"
        f"[allowlist]\nrequirements_path = {reqs}\nrequirements =\n    requirements.txt\n"
    )
    mirror = make_mirror(tmp_path, fake_pypi, extra=extra)
    assert mirror.run("mirror").returncode == 0
    assert mirror.page_json("foo-bar-baz")["versions"] == ["1.0"]
    old = _stored(mirror)
    (reqs / "requirements.txt").write_text("Foo.Bar_baz==2.0\n")  # the config is unchanged
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    assert "the filter config changed" in result.stderr
    assert mirror.page_json("foo-bar-baz")["versions"] == ["2.0"]
    assert not (old & _stored(mirror))  # the 1.0 files were pruned


def test_a_failing_write_stops_the_run_with_a_clear_error_and_loses_nothing(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    """A write that the system refuses (here: past the file-size limit, EFBIG; a full disk
    fails the same way with ENOSPC) stops the run with one line and exit 4, keeps the
    mirror's state and leaves no partial file; the next run completes."""
    mirror = _synced(tmp_path, fake_pypi)
    status = (mirror.directory / "status").read_text()
    fake_pypi.universe.add_release("dep-leaf", "8.0", [FileSpec("raw", size_padding=256 * 1024)])
    state = fake_pypi.universe.project("dep-leaf")
    assert state is not None
    new = next(f for f in state.files() if "8.0" in f.filename)
    target = mirror.web / new.url_path.lstrip("/")
    result = mirror.run("mirror", file_size_limit=128 * 1024)
    assert result.returncode == 4, result.stderr
    assert "file too large for this system's file-size limit" in result.stderr
    assert "Traceback" not in result.stderr
    assert (mirror.directory / "status").read_text() == status
    assert "dep-leaf" in (mirror.directory / "todo").read_text()
    assert not target.exists()
    assert mirror.temp_files() == []
    result = mirror.run("mirror")  # the limit is lifted
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == new.content


def test_a_symlink_planted_at_a_temp_name_is_replaced_never_written_through(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = _synced(tmp_path, fake_pypi)
    fake_pypi.universe.add_release("dep-leaf", "8.0", [FileSpec("sdist")])
    state = fake_pypi.universe.project("dep-leaf")
    assert state is not None
    new = next(f for f in state.files() if "8.0" in f.filename)
    target = mirror.web / new.url_path.lstrip("/")
    target.parent.mkdir(parents=True)
    outside = tmp_path / "outside.txt"
    outside.write_text("not the mirror's\n")
    (target.parent / f".{target.name}.part").symlink_to(outside)
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    assert outside.read_text() == "not the mirror's\n"
    assert target.read_bytes() == new.content
    assert not target.is_symlink()
    assert mirror.temp_files() == []


def test_prune_filtered_false_keeps_what_a_tightened_filter_excludes(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = _synced(tmp_path, fake_pypi, **{"prune-filtered": "false"})
    before = _stored(mirror)
    block = "[plugins]\nenabled = blocklist_project\n[blocklist]\npackages =\n    dep-leaf\n"
    mirror.config.write_text(mirror.config.read_text() + block)
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    assert _stored(mirror) == before
    assert (mirror.web / "simple/dep-leaf/index.html").exists()
    fake_pypi.universe.add_release("dep-leaf", "9.9", [FileSpec("wheel")])
    assert mirror.run("mirror").returncode == 0
    assert "9.9" not in mirror.page_json("dep-leaf")["versions"]  # type: ignore[operator]


def test_a_new_fingerprint_scheme_does_not_recheck_every_project(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = _synced(tmp_path, fake_pypi)
    (mirror.directory / "filters").write_text("0123abcd\n")  # an older tool's fingerprint
    fake_pypi.reset_log()
    assert mirror.run("mirror").returncode == 0
    assert [r.path for r in fake_pypi.requests] == ["/pypi"]
    assert (mirror.directory / "filters").read_text().startswith("v1 ")


def test_a_run_with_nothing_new_never_reads_the_ledger(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = _synced(tmp_path, fake_pypi)
    ledger = mirror.directory / "projects"
    ledger.write_text("not a ledger line\n")  # a no-op run that read it would fail
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    fake_pypi.universe.add_release("dep-leaf", "3.0", [FileSpec("sdist")])
    result = mirror.run("mirror")  # a run with work reads it, and says what is wrong
    assert result.returncode == 4
    assert "projects: line 1 is malformed" in result.stderr
    assert "delete it; the next run rebuilds it from the simple pages" in result.stderr
    ledger.unlink()
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    assert "dep-leaf\t" in ledger.read_text()
    root = json.loads((mirror.web / "simple/index.v1_json").read_text())
    upstream = {p.name for p in fake_pypi.universe.projects() if p.releases}
    assert {p["name"] for p in root["projects"]} == upstream  # rebuilt from the pages


def test_the_two_html_names_of_a_page_are_one_file_and_follow_updates(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = _synced(tmp_path, fake_pypi)
    page = mirror.web / "simple" / "dep-leaf"
    assert (page / "index.html").samefile(page / "index.v1_html")
    fake_pypi.universe.add_release("dep-leaf", "8.0", [FileSpec("sdist")])
    assert mirror.run("mirror").returncode == 0
    assert (page / "index.html").samefile(page / "index.v1_html")
    assert "dep_leaf-8.0.tar.gz" in (page / "index.html").read_text()
    assert mirror.temp_files() == []
