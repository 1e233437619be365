"""``bandersnatch verify`` through the real CLI, against mirrors synced from the fake PyPI."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bandersnatch.models import PageFile, ProjectName, ReleaseFile, SimplePage
from bandersnatch.simple.parse import page_from_json
from bandersnatch.simple.render import PageOptions, render_project_html, render_project_json
from bandersnatch.verify.plan import (
    CORRUPT,
    META_MISSING,
    MISSING,
    Expected,
    stat_check,
    upstream_base,
)

from fakepypi import FakePyPI
from harness import CLI, Mirror, make_mirror

Tree = dict[str, bytes]
_FINDING = re.compile(r"WARNING: [a-z0-9-]+: ([a-z-]+) (\S+)")
_ORPHAN = re.compile(r"INFO: orphan (\S+) ")


def tree(mirror: Mirror) -> Tree:
    """Every file under the mirror directory with its content (symlinks as their target),
    but the run report (``web/status.json``: every run writes it)."""
    out = {}
    for path in sorted(mirror.directory.rglob("*")):
        rel = path.relative_to(mirror.directory).as_posix()
        if rel == "web/status.json":
            continue
        if path.is_symlink():
            out[rel] = os.readlink(path).encode()
        elif path.is_file():
            out[rel] = path.read_bytes()
    return out


def findings(stderr: str) -> set[tuple[str, str]]:
    found = {(m.group(1), m.group(2)) for m in _FINDING.finditer(stderr)}
    found |= {("orphan", m.group(1)) for m in _ORPHAN.finditer(stderr)}
    return found


def synced(tmp_path: Path, fake: FakePyPI, **options: str) -> Mirror:
    mirror = make_mirror(tmp_path, fake, options)
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    return mirror


def files_of(mirror: Mirror, suffix: str) -> list[Path]:
    return sorted(p for p in (mirror.web / "packages").rglob(f"*{suffix}") if p.is_file())


def damage(mirror: Mirror, hash_index: bool) -> set[tuple[str, str]]:
    """Break the mirror in every way verify knows; return the findings it must report."""
    rel = lambda p: p.relative_to(mirror.directory).as_posix()  # noqa: E731
    wheels, sdists = files_of(mirror, ".whl"), files_of(mirror, ".tar.gz")
    metas = files_of(mirror, ".metadata")
    expected = set()
    wheels[0].unlink()  # deleted
    expected.add((MISSING, rel(wheels[0])))
    sdists[0].write_bytes(sdists[0].read_bytes()[:100])  # truncated
    expected.add((CORRUPT, rel(sdists[0])))
    garbage = bytes(255 - b for b in wheels[1].read_bytes())  # same size, wrong bytes
    wheels[1].write_bytes(garbage)
    expected.add((CORRUPT, rel(wheels[1])))
    meta = next(m for m in metas if not m.name.startswith(wheels[0].name))
    meta.unlink()
    expected.add((META_MISSING, rel(meta)))
    page_dir = mirror.web / "simple" / ("p" if hash_index else "") / "pyreq"
    (page_dir / "index.html").unlink()
    expected.add(("page", rel(page_dir / "index.html")))
    orphan_dir = mirror.web / "packages" / "ff" / "ee" / "0123456789"
    orphan_dir.mkdir(parents=True)
    for orphan in (orphan_dir / "gone-1.0.tar.gz", sdists[1].parent / f".{sdists[1].name}.part"):
        orphan.write_bytes(b"left behind")
        expected.add(("orphan", rel(orphan)))
    return expected


@pytest.mark.parametrize(
    "options",
    [{"json": "true"}, {"json": "false", "hash-index": "true"}],
    ids=["json", "no-json-hash-index"],
)
def test_dry_run_reports_exactly_the_damage_then_delete_repairs_all(
    tmp_path: Path, fake_pypi: FakePyPI, options: dict[str, str]
) -> None:
    mirror = synced(tmp_path, fake_pypi, **options)
    pristine = tree(mirror)
    expected = damage(mirror, options.get("hash-index") == "true")
    damaged = tree(mirror)
    fake_pypi.reset_log()

    dry = mirror.run("verify", "--dry-run", "--delete")
    assert dry.returncode == 1, dry.stderr
    assert findings(dry.stderr) == expected
    assert tree(mirror) == damaged
    assert "dry run, nothing changed" in dry.stderr
    assert "2 orphaned (22 bytes)" in dry.stderr
    assert len(fake_pypi.requests) == 0

    fixed = mirror.run("verify", "--delete")
    assert fixed.returncode == 0, fixed.stderr
    assert findings(fixed.stderr) == expected
    assert tree(mirror) == pristine
    assert "repaired 5" in fixed.stderr and "0 not repaired; deleted 2 orphans" in fixed.stderr
    assert all(r.path.startswith("/packages/") for r in fake_pypi.requests)

    again = mirror.run("verify")
    assert again.returncode == 0, again.stderr
    assert findings(again.stderr) == set()
    assert "0 missing, 0 corrupt" in again.stderr and "0 orphaned" in again.stderr


def test_stat_mode_sees_sizes_and_hash_flag_sees_digests(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = synced(tmp_path, fake_pypi, **{"compare-method": "stat"})
    wheel = files_of(mirror, ".whl")[0]
    wheel.write_bytes(bytes(255 - b for b in wheel.read_bytes()))
    assert mirror.run("verify", "--dry-run").returncode == 0
    hashed = mirror.run("verify", "--dry-run", "--hash")
    assert hashed.returncode == 1
    assert findings(hashed.stderr) == {(CORRUPT, wheel.relative_to(mirror.directory).as_posix())}


def test_orphans_are_kept_without_delete_and_exit_is_0(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = synced(tmp_path, fake_pypi)
    orphan = mirror.web / "packages" / "aa" / "bb" / "cc" / "old-0.1.tar.gz"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x")
    result = mirror.run("verify")
    assert result.returncode == 0, result.stderr
    assert "kept 1 (--delete removes them)" in result.stderr
    assert orphan.exists()


def test_unrepairable_damage_exits_1_and_the_page_stops_linking_it(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = synced(tmp_path, fake_pypi, json="true")
    wheel = next(p for p in files_of(mirror, ".whl") if p.name.startswith("yanky-1.2"))
    wheel.unlink()
    fake_pypi.missing_file("yanky", wheel.name)
    result = mirror.run("verify")
    assert result.returncode == 1, result.stderr
    assert "cannot repair" in result.stderr and "1 not repaired" in result.stderr
    assert wheel.name not in (mirror.web / "simple" / "yanky" / "index.html").read_text()
    assert not (mirror.directory / "verify.checkpoint").exists()


def test_a_mirror_without_ledger_or_generation_is_verified(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    """The shape pypa/bandersnatch leaves: no ``projects`` ledger."""
    mirror = synced(tmp_path, fake_pypi)
    for name in ("projects", "generation"):
        (mirror.directory / name).unlink()
    before = tree(mirror)
    result = mirror.run("verify")
    assert result.returncode == 0, result.stderr
    assert "verify: 5 projects, 12 files checked" in result.stderr
    assert tree(mirror) == before


def test_json_update_asks_upstream_and_picks_up_new_files(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    from fakepypi import FileSpec

    mirror = synced(tmp_path, fake_pypi, json="true")
    fake_pypi.universe.add_release("nometa", "2.0", [FileSpec("sdist")])
    fake_pypi.reset_log()
    assert mirror.run("verify").returncode == 0
    assert not any(r.path.startswith("/pypi/") for r in fake_pypi.requests)
    result = mirror.run("verify", "--json-update")
    assert result.returncode == 0, result.stderr
    assert {r.path for r in fake_pypi.requests if r.path.startswith("/pypi/")} >= {
        "/pypi/nometa/json"
    }
    assert "nometa-2.0.tar.gz" in (mirror.web / "simple" / "nometa" / "index.html").read_text()
    assert b"2.0" in (mirror.web / "json" / "nometa").read_bytes()


def test_killed_verify_resumes_where_it_stopped(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = synced(tmp_path, fake_pypi)
    wheel = next(p for p in files_of(mirror, ".whl") if p.name.startswith("yanky-1.2"))
    wheel.unlink()
    url_path = "/" + wheel.relative_to(mirror.web).as_posix()
    fake_pypi.slow(url_path, 20, times=1)
    checkpoint = mirror.directory / "verify.checkpoint"
    process = subprocess.Popen(
        [*CLI, "-c", str(mirror.config), "verify", "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            lines = checkpoint.read_text().splitlines() if checkpoint.exists() else []
            if len(lines) == 5:  # header + the 4 projects before yanky
                break
            time.sleep(0.02)
        assert lines[1:] == ["dep-leaf", "foo-bar-baz", "nometa", "pyreq"]
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    resumed = mirror.run("verify")
    assert resumed.returncode == 0, resumed.stderr
    assert "4 projects were already verified" in resumed.stderr
    assert "verify: 1 projects (and 4 verified before an interruption)" in resumed.stderr
    assert wheel.exists() and not checkpoint.exists()


def test_sigterm_stops_with_exit_5_and_keeps_the_checkpoint(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = synced(tmp_path, fake_pypi)
    wheel = next(p for p in files_of(mirror, ".whl") if p.name.startswith("dep_leaf"))
    wheel.unlink()
    url_path = "/" + wheel.relative_to(mirror.web).as_posix()
    fake_pypi.slow(url_path, 2.0, times=1)
    fake_pypi.reset_log()
    process = subprocess.Popen(
        [*CLI, "-c", str(mirror.config), "verify", "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not fake_pypi.requests.filter(path=url_path) and time.monotonic() < deadline:
        time.sleep(0.02)  # the repair download is in flight
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 5, stderr
    assert (mirror.directory / "verify.checkpoint").exists()
    assert wheel.exists()  # the in-flight repair was finished
    assert mirror.run("verify").returncode == 0


def test_locked_mirror_exits_3(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    import filelock

    mirror = synced(tmp_path, fake_pypi)
    with filelock.FileLock(str(mirror.directory / ".lock"), timeout=0):
        assert mirror.run("verify").returncode == 3


# -- pure parts ------------------------------------------------------------------------------


def _release(filename: str, **extra: object) -> ReleaseFile:
    fields: dict[str, object] = {
        "filename": filename,
        "url": f"https://files.example/packages/ab/cd/ef/{filename}",
        "path": f"ab/cd/ef/{filename}",
        "version": "1.0",
        "size": 3,
        "sha256": "a" * 64,
        "upload_time": "2020-01-01T00:00:00.000000Z",
    }
    fields.update(extra)
    return ReleaseFile(**fields)  # type: ignore[arg-type]


def test_a_json_page_reads_back_into_the_page_it_was_rendered_from() -> None:
    files = (
        PageFile(_release("a-1.0.tar.gz", requires_python=">=3.8"), False),
        PageFile(_release("a-1.0-py3-none-any.whl", core_metadata_sha256="b" * 64), True),
        PageFile(_release("a-0.9.tar.gz", yanked=True, yanked_reason='bad "<x>"'), False),
        PageFile(_release("a-0.8.tar.gz", yanked=True), False),
    )
    page = SimplePage(ProjectName("a"), "A", 7, ("0.8", "0.9", "1.0"), files)
    for opts in (PageOptions(), PageOptions(root_uri="https://m.example")):
        raw = render_project_json(page, opts).encode()
        back = page_from_json(ProjectName("a"), "A", raw, opts.root_uri)
        assert back is not None
        assert render_project_html(back, opts) == render_project_html(page, opts)
        assert render_project_json(back, opts) == render_project_json(page, opts)
    assert page_from_json(ProjectName("a"), "A", b"{not json") is None


def test_stat_check_and_files_host() -> None:
    expected = (
        Expected("web/packages/a/ok", 3, "1" * 64, "2" * 64),
        Expected("web/packages/a/short", 5, "3" * 64, None),
        Expected("web/packages/a/gone", None, None, None),
        Expected("web/packages/a/nosize", None, "4" * 64, None),
    )
    sizes = {"web/packages/a/ok": 3, "web/packages/a/short": 4, "web/packages/a/nosize": 9}
    found, checks = stat_check(expected, sizes, hash_files=False)
    assert [(f.kind, f.path) for f in found] == [
        (META_MISSING, "web/packages/a/ok.metadata"),
        (CORRUPT, "web/packages/a/short"),
        (MISSING, "web/packages/a/gone"),
    ]
    assert checks == []
    _, checks = stat_check(expected, sizes, hash_files=True)
    assert [c.path for c in checks] == ["web/packages/a/ok", "web/packages/a/nosize"]
    assert upstream_base("https://pypi.org/") == "https://files.pythonhosted.org"
    assert upstream_base("http://127.0.0.1:8080") == "http://127.0.0.1:8080"


def test_html_only_mirror_rebuilds_a_page_from_its_twin_and_keeps_its_files(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = synced(tmp_path, fake_pypi, **{"simple-format": "HTML"})
    pristine = tree(mirror)
    (mirror.web / "simple" / "yanky" / "index.html").unlink()
    result = mirror.run("verify", "--delete")
    assert result.returncode == 0, result.stderr
    assert findings(result.stderr) == {("page", "web/simple/yanky/index.html")}
    assert tree(mirror) == pristine


def test_a_mirror_linking_upstream_has_nothing_stored_to_check(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    options = {"release-files": "false", "root_uri": "https://files.example"}
    mirror = synced(tmp_path, fake_pypi, **options)
    before = tree(mirror)
    result = mirror.run("verify", "--delete")
    assert result.returncode == 0, result.stderr
    assert "0 files checked" in result.stderr and "0 orphaned" in result.stderr
    assert tree(mirror) == before


def test_a_page_without_any_source_is_unrepairable_and_blocks_orphan_deletion(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = synced(tmp_path, fake_pypi)
    for page in (mirror.web / "simple" / "nometa").iterdir():
        page.unlink()
    orphan = mirror.web / "packages" / "aa" / "bb" / "cc" / "old-0.1.tar.gz"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x")
    result = mirror.run("verify", "--delete")
    assert result.returncode == 1, result.stderr
    assert "nometa: no-source web/simple/nometa" in result.stderr
    assert "not deleting orphans" in result.stderr
    assert orphan.exists()
    assert files_of(mirror, "nometa-1.0-py3-none-any.whl")


def test_versioned_index_pages_are_verified_and_a_lost_copy_rewritten(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = synced(tmp_path, fake_pypi, json="true", keep_index_versions="2")
    assert mirror.run("verify").returncode == 0
    versions = mirror.web / "simple" / "pyreq" / "versions"
    for copy in versions.iterdir():
        copy.unlink()
    result = mirror.run("verify")
    assert result.returncode == 0, result.stderr
    assert findings(result.stderr) == {("page", "web/simple/pyreq/index.html")}
    assert "Links for pyreq" in (mirror.web / "simple" / "pyreq" / "index.html").read_text()
    assert mirror.run("verify").returncode == 0


def test_pages_formatted_like_pypa_bandersnatch_are_understood(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    """No ledger, JSON pages with other whitespace, anchors with other attribute order."""
    import json

    mirror = synced(tmp_path, fake_pypi)
    (mirror.directory / "projects").unlink()
    for page_dir in (p for p in (mirror.web / "simple").iterdir() if p.is_dir()):
        doc = json.loads((page_dir / "index.v1_json").read_text())
        (page_dir / "index.v1_json").write_text(json.dumps(doc, indent=2))
        html = (page_dir / "index.html").read_text()
        html = re.sub(r'<a (href="[^"]*") ([^>]*)>', r"<a \2 \1>", html).replace("    <a", "<a")
        for leaf in ("index.html", "index.v1_html"):
            (page_dir / leaf).write_text(html)
    (mirror.web / "simple" / "pyreq" / "index.v1_json").unlink()
    before = tree(mirror)
    result = mirror.run("verify", "--dry-run", "--delete")
    assert result.returncode == 1, result.stderr
    assert findings(result.stderr) == {("page", "web/simple/pyreq/index.v1_json")}
    assert "5 projects, 12 files checked" in result.stderr
    assert tree(mirror) == before


def test_a_lost_metadata_file_is_restored_from_its_wheel_without_a_download(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = make_mirror(tmp_path, fake_pypi)
    assert mirror.run("mirror").returncode == 0
    metas = sorted((mirror.web / "packages").rglob("*.whl.metadata"))
    assert metas
    lost = {p: p.read_bytes() for p in metas}
    for path in lost:
        path.unlink()
    fake_pypi.reset_log()
    result = mirror.run("verify")
    assert result.returncode == 0, result.stderr
    assert {p: p.read_bytes() for p in lost} == lost
    assert not any(r.path.startswith("/packages/") for r in fake_pypi.requests)
