"""PEP 740 provenance and PEP 792 project status, mirrored from PEP 691 pages
(``metadata-source = simple``): in both page formats, on disk beside the file, served by
``bandersnatch serve`` and nginx, and kept right by verify and delete."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from bandersnatch.models import PageFile, ProjectName, ReleaseFile, SimplePage

from fakepypi import FakePyPI, FileSpec, ProjectSpec, Universe
from harness import CLI, Mirror, make_mirror
from servers import start_server

SIMPLE = {"metadata-source": "simple"}


def _universe() -> Universe:
    files = [FileSpec("wheel", provenance=True), FileSpec("sdist")]
    return Universe([ProjectSpec("Attested", {"1.0": files})])


def _files(mirror: Mirror) -> dict[str, dict[str, object]]:
    page = mirror.page_json("attested")
    return {str(f["filename"]): f for f in page["files"]}  # type: ignore[attr-defined]


def _wheel(names: object) -> str:
    return next(n for n in names if n.endswith(".whl"))  # type: ignore[attr-defined]


def _upstream_provenance(universe: Universe, filename: str) -> bytes:
    stored = universe.lookup_provenance(f"/integrity/attested/1.0/{filename}/provenance")
    assert stored is not None and stored.provenance is not None
    return stored.provenance


def test_provenance_and_status_in_both_formats_on_disk_and_served(
    tmp_path: Path, make_fake_pypi: object
) -> None:
    universe = _universe()
    universe.set_status("Attested", "archived", "moved to attested2")
    fake = make_fake_pypi(universe)  # type: ignore[operator]
    mirror = make_mirror(tmp_path, fake, SIMPLE)
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr

    page = mirror.page_json("attested")
    assert page["meta"] == {"api-version": "1.4", "_last-serial": universe.last_serial}
    assert page["project-status"] == {"status": "archived", "reason": "moved to attested2"}
    files = _files(mirror)
    wheel = _wheel(files)
    sdist = next(n for n in files if n.endswith(".tar.gz"))
    link = str(files[wheel]["url"]) + ".provenance"
    assert files[wheel]["provenance"] == link and link.startswith("../../packages/")
    assert files[sdist]["provenance"] is None

    html = (mirror.web / "simple" / "attested" / "index.html").read_text()
    assert '<meta name="pypi:repository-version" content="1.4">' in html
    assert '<meta name="pypi:project-status" content="archived">' in html
    assert '<meta name="pypi:project-status-reason" content="moved to attested2">' in html
    anchors = re.findall(r"<a [^>]*>", html)
    assert [a for a in anchors if "data-provenance" in a] == [
        a for a in anchors if wheel in a and f'data-provenance="{link}"' in a
    ]
    assert (mirror.web / "simple" / "attested" / "index.v1_html").read_text() == html

    stored = mirror.linked_file("attested", link)
    upstream = _upstream_provenance(universe, wheel)
    assert stored.read_bytes() == upstream
    assert stored.parent == mirror.linked_file("attested", str(files[wheel]["url"])).parent

    for kind in ("serve", "nginx"):
        with start_server(kind, mirror, tmp_path) as server:
            path = "/" + stored.relative_to(mirror.web).as_posix()
            status, headers, body = server.get(path)
            assert (status, headers["content-type"], body) == (200, "application/json", upstream)
            json_page = server.get(
                "/simple/attested/", Accept="application/vnd.pypi.simple.v1+json"
            )[2]
            assert json.loads(json_page)["project-status"]["status"] == "archived"


def test_root_uri_makes_the_provenance_link_absolute(
    tmp_path: Path, make_fake_pypi: object
) -> None:
    fake = make_fake_pypi(_universe())  # type: ignore[operator]
    mirror = make_mirror(tmp_path, fake, {**SIMPLE, "root_uri": "https://mirror.example"})
    assert mirror.run("mirror").returncode == 0
    files = _files(mirror)
    wheel = _wheel(files)
    assert str(files[wheel]["provenance"]).startswith("https://mirror.example/packages/")
    assert files[wheel]["provenance"] == f"{files[wheel]['url']}.provenance"
    html = (mirror.web / "simple" / "attested" / "index.html").read_text()
    assert f'data-provenance="{files[wheel]["provenance"]}"' in html
    # an active project (upstream says so) is 1.4 with its status
    assert mirror.page_json("attested")["project-status"] == {"status": "active"}


def test_the_json_api_source_claims_only_what_it_carries(
    tmp_path: Path, make_fake_pypi: object
) -> None:
    universe = _universe()
    universe.set_status("Attested", "deprecated")
    fake = make_fake_pypi(universe)  # type: ignore[operator]
    mirror = make_mirror(tmp_path, fake)  # metadata-source: json, by the XML-RPC feed
    assert mirror.run("mirror").returncode == 0
    page = mirror.page_json("attested")
    assert page["meta"]["api-version"] == "1.1"  # type: ignore[index]
    assert "project-status" not in page
    assert all("provenance" not in f for f in _files(mirror).values())
    assert not list(mirror.web.rglob("*.provenance"))
    html = (mirror.web / "simple" / "attested" / "index.html").read_text()
    assert "pypi:project-status" not in html and "data-provenance" not in html


def test_an_unknown_status_is_not_passed_on(tmp_path: Path, make_fake_pypi: object) -> None:
    universe = _universe()
    universe.set_status("Attested", "haunted")
    fake = make_fake_pypi(universe)  # type: ignore[operator]
    mirror = make_mirror(tmp_path, fake, SIMPLE)
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    assert "unknown project-status 'haunted'" in result.stderr
    page = mirror.page_json("attested")
    assert page["meta"]["api-version"] == "1.3"  # type: ignore[index]
    assert "project-status" not in page


@pytest.mark.parametrize("fault", ["oversize", "not-json", "not-an-object", "foreign-host"])
def test_a_bad_provenance_fails_only_itself(
    tmp_path: Path, make_fake_pypi: object, fault: str
) -> None:
    universe = Universe(
        [
            ProjectSpec("Attested", {"1.0": [FileSpec("wheel", provenance=True)]}),
            ProjectSpec("Good", {"1.0": [FileSpec("wheel", provenance=True)]}),
        ]
    )
    fake: FakePyPI = make_fake_pypi(universe)  # type: ignore[operator]
    wheel = next(f.filename for f in universe.project("Attested").files())  # type: ignore[union-attr]
    if fault == "oversize":
        fake.bad_provenance("Attested", wheel, body=b'{"x": "' + b"a" * (1 << 20) + b'"}')
    elif fault == "not-json":
        fake.bad_provenance("Attested", wheel, body=b"<html>not json</html>")
    elif fault == "not-an-object":
        fake.bad_provenance("Attested", wheel, body=b"[1, 2]")
    else:
        fake.bad_provenance("Attested", wheel, url="https://evil.example/provenance")
    mirror = make_mirror(tmp_path, fake, SIMPLE)
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    assert "0 projects failed" in result.stderr
    assert re.search(rf"attested: .*{re.escape(wheel)}.*(provenance|not mirrored)", result.stderr)
    files = _files(mirror)
    assert list(files) == [wheel]  # the distribution itself is mirrored and listed
    assert mirror.linked_file("attested", str(files[wheel]["url"])).is_file()
    assert files[wheel].get("provenance") is None
    assert mirror.page_json("attested")["meta"]["api-version"] == "1.2"  # type: ignore[index]
    assert [p.name for p in mirror.web.rglob("*.provenance")] == [
        next(iter(_files_of(mirror, "good"))) + ".provenance"
    ]
    good = mirror.page_json("good")
    assert good["meta"]["api-version"] == "1.4"  # type: ignore[index]


def _files_of(mirror: Mirror, name: str) -> list[str]:
    return [str(f["filename"]) for f in mirror.page_json(name)["files"]]  # type: ignore[attr-defined]


def test_verify_restores_a_lost_provenance_and_delete_removes_it(
    tmp_path: Path, make_fake_pypi: object
) -> None:
    universe = _universe()
    fake = make_fake_pypi(universe)  # type: ignore[operator]
    mirror = make_mirror(tmp_path, fake, SIMPLE)
    assert mirror.run("mirror").returncode == 0
    files = _files(mirror)
    wheel = _wheel(files)
    stored = mirror.linked_file("attested", str(files[wheel]["provenance"]))
    pages = sorted(p.read_bytes() for p in (mirror.web / "simple" / "attested").iterdir())
    stored.unlink()
    stray = stored.with_name("attested-1.0.tar.gz.provenance")
    stray.write_text("{}")

    dry = mirror.run("verify", "--dry-run", "--delete")
    assert dry.returncode == 1, dry.stderr
    assert "provenance-missing" in dry.stderr and not stored.exists()
    assert "1 .provenance missing" in dry.stderr

    fixed = mirror.run("verify", "--delete")
    assert fixed.returncode == 0, fixed.stderr
    assert stored.read_bytes() == _upstream_provenance(universe, wheel)
    assert not stray.exists()  # an orphan like any other
    assert sorted(p.read_bytes() for p in (mirror.web / "simple" / "attested").iterdir()) == pages

    again = mirror.run("verify")
    assert again.returncode == 0 and "provenance-missing" not in again.stderr

    deleted = mirror.run("delete", "attested")
    assert deleted.returncode == 0, deleted.stderr
    assert not stored.exists()
    assert not list(mirror.web.rglob("*.provenance"))


def test_check_server_follows_provenance_and_compares_status(
    tmp_path: Path, make_fake_pypi: object
) -> None:
    universe = _universe()
    universe.set_status("Attested", "archived", "moved to attested2")
    fake = make_fake_pypi(universe)  # type: ignore[operator]
    mirror = make_mirror(tmp_path, fake, SIMPLE)
    assert mirror.run("mirror").returncode == 0
    files = _files(mirror)
    stored = mirror.linked_file("attested", str(files[_wheel(files)]["provenance"]))

    def check(url: str) -> tuple[int, list[str]]:
        result = subprocess.run(
            [*CLI, "check-server", url, "--project", "attested"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return result.returncode, result.stdout.splitlines() + result.stderr.splitlines()

    with start_server("serve", mirror, tmp_path) as server:
        code, lines = check(f"{server.url}/simple/")
        assert code == 0, "\n".join(lines)
        rows = [line for line in lines if re.match(r"\w+ +provenance ", line)]
        assert len(rows) == 4 and all("200 application/json" in r for r in rows), rows
        status = [line.split(None, 2)[2] for line in lines if line.startswith("status ")]
        assert status == ["archived / moved to attested2"] * 2, lines

        stored.unlink()
        html = mirror.web / "simple" / "attested" / "index.html"
        html.write_text(html.read_text().replace('content="archived"', 'content="deprecated"'))
        code, lines = check(f"{server.url}/simple/")
        assert code != 0
        found = [line for line in lines if line.startswith("problem: ")]
        assert any("provenance answers 404" in line for line in found), found
        assert any("status differs between formats" in line for line in found), found


def test_without_release_files_the_page_links_upstreams_provenance(
    tmp_path: Path, make_fake_pypi: object
) -> None:
    fake = make_fake_pypi(_universe())  # type: ignore[operator]
    mirror = make_mirror(tmp_path, fake, {**SIMPLE, "release-files": "false"})
    assert mirror.run("mirror").returncode == 0
    files = _files(mirror)
    wheel = _wheel(files)
    assert files[wheel]["provenance"] == f"{fake.url}/integrity/attested/1.0/{wheel}/provenance"
    assert mirror.page_json("attested")["meta"]["api-version"] == "1.4"  # type: ignore[index]
    assert not list(mirror.web.rglob("*.provenance"))


def test_a_file_removed_upstream_takes_its_provenance_along(
    tmp_path: Path, make_fake_pypi: object
) -> None:
    universe = Universe(
        [
            ProjectSpec(
                "Attested",
                {
                    "1.0": [FileSpec("wheel", provenance=True)],
                    "2.0": [FileSpec("wheel", provenance=True)],
                },
            )
        ]
    )
    fake = make_fake_pypi(universe)  # type: ignore[operator]
    mirror = make_mirror(tmp_path, fake, SIMPLE)
    assert mirror.run("mirror").returncode == 0
    old = next(n for n in _files(mirror) if "-1.0-" in n)
    assert len(list(mirror.web.rglob("*.provenance"))) == 2
    universe.remove_file("Attested", old)
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    left = [p.name for p in mirror.web.rglob("*.provenance")]
    assert left == [next(n for n in _files(mirror) if "-2.0-" in n) + ".provenance"]
    assert not list(mirror.web.rglob(old + "*"))


def _page(known: tuple[int, int], *files: tuple[str | None, bool]) -> SimplePage:
    listed = tuple(
        PageFile(
            ReleaseFile(f"f{i}.whl", "https://x/f.whl", f"p/f{i}.whl", "1", 1, "0" * 64,
                        provenance_url=url),
            False,
            stored,
        )
        for i, (url, stored) in enumerate(files)
    )  # fmt: skip
    return SimplePage(ProjectName("p"), "p", 1, ("1",), listed, known=known)


@pytest.mark.parametrize(
    ("known", "files", "claimed"),
    [
        ((1, 1), [("https://x/p", True)], (1, 1)),  # the JSON API: nothing more is known
        ((1, 0), [], (1, 1)),  # what this mirror writes is 1.1 whatever upstream says
        ((1, 2), [], (1, 2)),
        ((1, 3), [(None, False), ("https://x/p", True)], (1, 3)),
        ((1, 4), [(None, False), ("https://x/p", True)], (1, 4)),
        ((1, 4), [("https://x/p", False)], (1, 2)),  # a null would claim "none"
        ((1, 4), [], (1, 4)),
    ],
)
def test_api_version_claims_only_what_the_page_carries(
    known: tuple[int, int], files: list[tuple[str | None, bool]], claimed: tuple[int, int]
) -> None:
    assert _page(known, *files).api_version == claimed
