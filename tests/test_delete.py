"""``bandersnatch delete`` through the real CLI, against mirrors synced from the fake PyPI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bandersnatch.commands.delete import wanted_names

from fakepypi import FakePyPI
from harness import Mirror, make_mirror


def synced(tmp_path: Path, fake: FakePyPI, **options: str) -> Mirror:
    mirror = make_mirror(tmp_path, fake, {"json": "true", **options})
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    return mirror


def files(mirror: Mirror) -> dict[str, bytes]:
    """Every file of the mirror but the run report (``web/status.json``: every run writes it)."""
    return {
        p.relative_to(mirror.directory).as_posix(): p.read_bytes()
        for p in sorted(mirror.directory.rglob("*"))
        if p.is_file() and not p.is_symlink() and p != mirror.web / "status.json"
    }


def project_files(fake: FakePyPI, name: str) -> set[str]:
    state = fake.universe.project(name)
    assert state is not None
    paths = set()
    for f in state.files():
        paths.add("web" + f.url_path)
        if f.metadata is not None:
            paths.add("web" + f.metadata_url_path)
    return paths


def assert_no_trace(mirror: Mirror, name: str, display: str, paths: set[str]) -> None:
    everything = {p.relative_to(mirror.directory).as_posix() for p in mirror.directory.rglob("*")}
    assert not paths & everything
    assert not any(f"/{name}" in p for p in everything if not p.startswith("web/packages/"))
    root_json = json.loads((mirror.web / "simple" / "index.v1_json").read_text())
    assert display not in {p["name"] for p in root_json["projects"]}
    for leaf in ("index.html", "index.v1_html"):
        assert f'href="{name}/"' not in (mirror.web / "simple" / leaf).read_text()
    assert f"{name}\t" not in (mirror.directory / "projects").read_text()


def test_delete_leaves_no_trace_and_touches_nothing_else(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = synced(tmp_path, fake_pypi)
    before = files(mirror)
    gone = project_files(fake_pypi, "foo-bar-baz")
    result = mirror.run("delete", "Foo.Bar_baz")
    assert result.returncode == 0, result.stderr
    assert_no_trace(mirror, "foo-bar-baz", "Foo.Bar_baz", gone)
    after = files(mirror)
    unchanged = {
        p
        for p in before
        if p not in gone
        and not p.startswith(("web/simple/foo-bar-baz/", "web/json/foo-bar-baz"))
        and p not in ("projects", "projects.stamp")
        and not p.startswith("web/simple/index")
    }
    assert {p: after[p] for p in unchanged} == {p: before[p] for p in unchanged}
    assert "[blocklist]" in result.stderr and "--force-check" in result.stderr
    verify = mirror.run("verify", "--dry-run", "--delete")
    assert verify.returncode == 0, verify.stderr


def test_deleted_project_stays_away_until_upstream_changes_it(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = synced(tmp_path, fake_pypi)
    assert mirror.run("delete", "yanky").returncode == 0
    assert mirror.run("mirror").returncode == 0
    assert not (mirror.web / "simple" / "yanky").exists()
    fake_pypi.universe.yank("yanky", "1.2", "oops")
    assert mirror.run("mirror").returncode == 0
    assert (mirror.web / "simple" / "yanky" / "index.html").exists()


def test_a_resumed_mirror_run_does_not_bring_it_back(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    """A mirror run was interrupted with the project still in its todo."""
    mirror = synced(tmp_path, fake_pypi)
    status = (mirror.directory / "status").read_text().strip()
    lines = (mirror.directory / "projects").read_text().splitlines()
    ledger = dict(line.split("\t")[:2] for line in lines)
    todo = f"{status}\npyreq {ledger['pyreq']}\nnometa {ledger['nometa']}\n"
    (mirror.directory / "todo").write_text(todo)
    assert mirror.run("delete", "pyreq").returncode == 0
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    assert not (mirror.web / "simple" / "pyreq").exists()
    assert "nometa: synced" in result.stderr


def test_unknown_names_are_reported_and_the_rest_proceed(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = synced(tmp_path, fake_pypi, **{"hash-index": "true"})
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("# to remove\nDep_Leaf>=1.0 ; python_version > '3'\n-r other.txt\n\n")
    (tmp_path / "other.txt").write_text("# nothing more\n")
    gone = project_files(fake_pypi, "dep-leaf") | project_files(fake_pypi, "nometa")
    result = mirror.run("delete", "no-such-project", "NoMeta", "../etc", "-r", str(reqs))
    assert result.returncode == 1, result.stderr
    assert "no-such-project: not in this mirror" in result.stderr
    assert "../etc: not in this mirror" in result.stderr
    assert "removed 2 projects" in result.stderr
    assert not (mirror.web / "simple" / "d" / "dep-leaf").exists()
    assert not (mirror.web / "simple" / "n").exists()
    assert_no_trace(mirror, "nometa", "nometa", gone)


def test_dry_run_changes_nothing(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = synced(tmp_path, fake_pypi)
    before = files(mirror)
    result = mirror.run("delete", "--dry-run", "yanky")
    assert result.returncode == 0, result.stderr
    assert "would remove 1 projects (6 files" in result.stderr
    assert files(mirror) == before


def test_files_only_the_stored_metadata_knows_are_removed_too(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = synced(tmp_path, fake_pypi)
    gone = project_files(fake_pypi, "pyreq")
    for page in (mirror.web / "simple" / "pyreq").iterdir():
        page.unlink()  # a damaged project: pages lost, web/json/pyreq still there
    result = mirror.run("delete", "pyreq")
    assert result.returncode == 0, result.stderr
    assert_no_trace(mirror, "pyreq", "pyreq", gone)


def test_no_names_is_a_usage_error(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = synced(tmp_path, fake_pypi)
    assert mirror.run("delete").returncode == 2


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("a\nB.c>=1\n# x\n--index-url u\nd[extra]==2 # pin\n", ["a", "b-c", "d"]),
        ("name @ https://x/y.whl\n", ["name"]),
    ],
)
def test_names_from_requirements(tmp_path: Path, text: str, names: list[str]) -> None:
    (tmp_path / "r.txt").write_text(text)
    assert wanted_names(["given"], [tmp_path / "r.txt"]) == ["given", *names]


def test_requirements_includes_and_utf16_are_followed(tmp_path: Path) -> None:
    (tmp_path / "more.txt").write_text("extra-one\n")
    (tmp_path / "r.txt").write_bytes("-r more.txt\nfirst\n".encode("utf-16"))
    assert wanted_names([], [tmp_path / "r.txt"]) == ["extra-one", "first"]


def test_versioned_pages_and_stray_temp_files_go_too(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = synced(tmp_path, fake_pypi, keep_index_versions="2")
    page_dir = mirror.web / "simple" / "yanky"
    assert (page_dir / "versions").is_dir()
    (page_dir / ".index.v1_json.part").write_text("cut short")
    result = mirror.run("delete", "yanky")
    assert result.returncode == 0, result.stderr
    assert not page_dir.exists()


def test_a_missing_include_is_a_usage_error_and_removes_nothing(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = synced(tmp_path, fake_pypi)
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("yanky\n-r missing.txt\n")
    before = files(mirror)
    result = mirror.run("delete", "-r", str(reqs))
    assert result.returncode == 2
    assert "missing.txt, which does not exist" in result.stderr
    assert files(mirror) == before


def test_an_unreadable_requirements_file_is_a_usage_error(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = synced(tmp_path, fake_pypi)
    before = files(mirror)
    result = mirror.run("delete", "yanky", "-r", str(tmp_path / "missing.txt"))
    assert result.returncode == 2
    assert "missing.txt" in result.stderr and "Traceback" not in result.stderr
    assert files(mirror) == before
