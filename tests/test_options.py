"""[mirror] options through the real CLI: page formats and layout, links, diff-file,
download-mirror, stop-on-error, compare-method, keep_index_versions."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from fakepypi import FakePyPI, make_small_universe
from harness import Mirror, make_mirror
from servers import InProcess


def _ok(mirror: Mirror, *args: str) -> str:
    result = mirror.run("mirror", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


def test_hash_index_puts_pages_under_the_first_letter(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = make_mirror(tmp_path, fake_pypi, {"hash-index": "true"})
    _ok(mirror)
    page = mirror.web / "simple/f/foo-bar-baz/index.v1_json"
    files = json.loads(page.read_text())["files"]
    # links stay relative to the served URL /simple/<name>/, which the server maps
    assert all(f["url"].startswith("../../packages/") for f in files)
    assert mirror.linked_file("foo-bar-baz", files[0]["url"]).exists()
    assert not (mirror.web / "simple/foo-bar-baz").exists()
    root = (mirror.web / "simple/index.html").read_text()
    assert '<a href="foo-bar-baz/">' in root


@pytest.mark.parametrize(("fmt", "present", "absent"), [
    ("HTML", {"index.html", "index.v1_html"}, {"index.v1_json"}),
    ("JSON", {"index.v1_json"}, {"index.html", "index.v1_html"}),
])  # fmt: skip
def test_simple_format_writes_only_the_chosen_pages(
    tmp_path: Path, fake_pypi: FakePyPI, fmt: str, present: set[str], absent: set[str]
) -> None:
    mirror = make_mirror(tmp_path, fake_pypi, {"simple-format": fmt})
    _ok(mirror)
    for directory in (mirror.web / "simple", mirror.web / "simple/dep-leaf"):
        names = {p.name for p in directory.iterdir() if p.is_file()}
        assert present <= names and not (absent & names)


def test_release_files_false_links_upstream_and_downloads_nothing(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = make_mirror(tmp_path, fake_pypi, {"release-files": "false", "root_uri": ""})
    _ok(mirror)
    assert not any(r.path.startswith("/packages/") for r in fake_pypi.requests)
    assert not (mirror.web / "packages").exists()
    files = mirror.page_json("dep-leaf")["files"]
    assert all(f["url"].startswith("https://files.pythonhosted.org/packages/") for f in files)  # type: ignore[attr-defined]
    assert all(f["core-metadata"] is False for f in files)  # type: ignore[attr-defined]


def test_root_uri_makes_links_absolute(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = make_mirror(tmp_path, fake_pypi, {"root_uri": "https://mirror.example/pypi"})
    _ok(mirror)
    html = (mirror.web / "simple/dep-leaf/index.html").read_text()
    assert 'href="https://mirror.example/pypi/packages/' in html


def test_diff_file_lists_what_the_run_wrote(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    diff = tmp_path / "diffs" / "changed"
    mirror = make_mirror(tmp_path, fake_pypi, {"diff-file": str(diff)})
    _ok(mirror)
    lines = diff.read_text().splitlines()
    listed = set(lines)
    assert len(lines) == len(listed) and lines[-1] == str(mirror.web / "last-modified")
    written = {str(p) for p in mirror.web.rglob("*") if p.is_file()}
    written.remove(str(mirror.web / "status.json"))  # the run report comes after the diff
    assert listed == written  # a first sync: every file under web/ and nothing else
    assert str(mirror.web / "simple/dep-leaf/index.html") in listed
    assert str(mirror.web / "simple/index.v1_json") in listed
    assert [p.name for p in diff.parent.iterdir()] == ["changed"]  # no temp file left
    _ok(mirror)  # a no-op run: only last-modified changed
    assert diff.read_text().splitlines() == [str(mirror.web / "last-modified")]


def test_log_config_replaces_the_built_in_logging(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    """As pypa/bandersnatch: a logging.config.fileConfig file, used instead of the default."""
    log_file = tmp_path / "run.log"
    conf = tmp_path / "logging.conf"
    conf.write_text(
        "[loggers]\nkeys=root\n[handlers]\nkeys=file\n[formatters]\nkeys=plain\n"
        "[logger_root]\nlevel=INFO\nhandlers=file\n"
        f"[handler_file]\nclass=FileHandler\nformatter=plain\nargs=({str(log_file)!r},)\n"
        "[formatter_plain]\nformat=CUSTOM %(levelname)s %(message)s\n"
    )
    mirror = make_mirror(tmp_path, fake_pypi, {"log-config": str(conf)})
    stderr = _ok(mirror)
    logged = log_file.read_text()
    assert "CUSTOM INFO summary:" in logged and "dep-leaf" in logged
    assert "summary:" not in stderr


def test_diff_file_naming_a_directory_writes_mirrored_files_in_it(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    """As pypa/bandersnatch: a directory gets ``mirrored-files`` inside, and with
    diff-append-epoch each run's file is ``mirrored-files-<unix time>``."""
    diffs = tmp_path / "diffs"
    diffs.mkdir()
    mirror = make_mirror(tmp_path, fake_pypi, {"diff-file": str(diffs)})
    _ok(mirror)
    assert str(mirror.web / "simple/dep-leaf/index.html") in (diffs / "mirrored-files").read_text()
    epoch = make_mirror(
        tmp_path / "e", fake_pypi, {"diff-file": str(diffs), "diff-append-epoch": "true"}
    )
    _ok(epoch)
    [stamped] = [p.name for p in diffs.iterdir() if p.name != "mirrored-files"]
    assert re.fullmatch(r"mirrored-files-\d{10}", stamped)


def test_download_mirror_is_used_first_and_master_is_the_fallback(
    tmp_path: Path, make_fake_pypi: Callable[..., FakePyPI]
) -> None:
    upstream = make_fake_pypi(make_small_universe())
    source = make_mirror(tmp_path / "source", upstream)
    _ok(source)
    upstream.reset_log()
    with InProcess(source.web) as files:
        mirror = make_mirror(tmp_path / "m", upstream, {"download-mirror": files.url})
        _ok(mirror)
        assert not any(r.path.startswith("/packages/") for r in upstream.requests)
        assert any(r.path.startswith("/packages/") for r in files.log())
    # the download mirror is gone: without fallback the files fail, with it master serves them
    upstream.universe.add_release("dep-leaf", "7.0", [])
    strict = make_mirror(
        tmp_path / "strict",
        upstream,
        {"download-mirror": "http://127.0.0.1:9", "download-mirror-no-fallback": "true"},
    )
    assert strict.run("mirror").returncode == 1
    fallback = make_mirror(
        tmp_path / "fallback", upstream, {"download-mirror": "http://127.0.0.1:9"}
    )
    _ok(fallback)
    assert any(r.path.startswith("/packages/") for r in upstream.requests)


def test_stop_on_error_stops_at_the_first_failed_project(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    state = fake_pypi.universe.project("dep-leaf")
    assert state is not None
    fake_pypi.missing_file("dep-leaf", state.files()[0].filename)
    mirror = make_mirror(tmp_path, fake_pypi, {"stop-on-error": "true", "workers": "1"})
    result = mirror.run("mirror")
    assert result.returncode == 1
    assert "stop-on-error is set" in result.stderr
    todo = (mirror.directory / "todo").read_text().splitlines()[1:]
    assert "dep-leaf 0" in todo or any(line.startswith("dep-leaf ") for line in todo)
    assert len(todo) > 1  # projects after it were left for the next run


def test_compare_method_hash_repairs_same_size_corruption_and_stat_does_not(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    for method in ("stat", "hash"):
        mirror = make_mirror(tmp_path / method, fake_pypi, {"compare-method": method})
        _ok(mirror)
        page = mirror.page_json("dep-leaf")
        stored = mirror.linked_file("dep-leaf", page["files"][0]["url"])  # type: ignore[index]
        original = stored.read_bytes()
        stored.write_bytes(b"\0" * len(original))
        _ok(mirror, "--force-check")
        assert (stored.read_bytes() == original) is (method == "hash")


def test_keep_index_versions_keeps_the_last_n_pages(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    from fakepypi import FileSpec

    mirror = make_mirror(tmp_path, fake_pypi, {"keep_index_versions": "2"})
    _ok(mirror)
    for version in ("5.0", "6.0"):
        fake_pypi.universe.add_release("dep-leaf", version, [FileSpec("wheel")])
        _ok(mirror)
    versions = sorted((mirror.web / "simple/dep-leaf/versions").iterdir())
    assert len(versions) == 2
    index = mirror.web / "simple/dep-leaf/index.html"
    assert index.is_symlink() and index.resolve() == max(
        versions, key=lambda p: int(p.name.split("_")[1])
    )
    assert "6.0" in index.read_text()


def test_root_uri_mirror_verifies_clean_and_deletes_completely(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = make_mirror(tmp_path, fake_pypi, {"root_uri": "https://mirror.example/pypi"})
    _ok(mirror)
    result = mirror.run("verify", "--dry-run", "--delete")
    assert result.returncode == 0, result.stderr  # its files are listed, not orphans
    files = {p for p in (mirror.web / "packages").rglob("*") if p.is_file()}
    result = mirror.run("delete", "dep-leaf")
    assert result.returncode == 0, result.stderr
    left = {p for p in (mirror.web / "packages").rglob("*") if p.is_file()}
    assert left < files
    assert not any(p.name.startswith("dep_leaf") for p in left)
