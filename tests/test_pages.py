"""Golden-file tests for the simple pages: exact bytes, reviewed by hand once.

Set BANDERSNATCH_REGOLD=1 to rewrite the golden files after an intended change, then
review the diff before committing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bandersnatch.models import IndexEntry, PageFile, ProjectName, ReleaseFile, SimplePage
from bandersnatch.simple.render import (
    PageOptions,
    render_project_html,
    render_project_json,
    sort_versions,
)
from bandersnatch.simple.root import render_root_html, render_root_json

GOLDEN = Path(__file__).parent / "golden"
SHA_A = "a" * 64
SHA_B = "b" * 64
SHA_M = "c" * 64


def _file(filename: str, version: str, **kw: object) -> ReleaseFile:
    path = f"ab/cd/{'e' * 60}/{filename}"
    defaults: dict[str, object] = {
        "filename": filename,
        "url": f"https://files.example/packages/{path}",
        "path": path,
        "version": version,
        "size": 1234,
        "sha256": SHA_A,
        "digests": {"sha256": SHA_A, "md5": "d" * 32},
        "upload_time": "2024-01-02T03:04:05.000000Z",
    }
    defaults.update(kw)
    return ReleaseFile(**defaults)  # type: ignore[arg-type]


PAGE = SimplePage(
    name=ProjectName("foo-bar"),
    display_name="Foo.Bar",
    serial=4242,
    versions=("1.10", "1.9", "2.0rc1", "0.1", "1.0"),
    files=(
        PageFile(
            _file(
                "foo_bar-1.10-py3-none-any.whl",
                "1.10",
                requires_python=">=3.8,<4",
                core_metadata_sha256=SHA_M,
            ),
            metadata_stored=True,
        ),
        PageFile(
            _file(
                "foo_bar-1.9-py3-none-any.whl",
                "1.9",
                sha256=SHA_B,
                yanked=True,
                yanked_reason='broken "<script>" & more',
                core_metadata_sha256=SHA_M,
            ),
            metadata_stored=False,
        ),
        PageFile(_file("foo.bar-1.0.tar.gz", "1.0", yanked=True), metadata_stored=False),
        PageFile(_file("foo+bar-0.1.tar.gz", "0.1"), metadata_stored=False),
    ),
)


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("BANDERSNATCH_REGOLD"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_project_html_matches_golden() -> None:
    _golden("project.html", render_project_html(PAGE, PageOptions()))


def test_project_json_matches_golden() -> None:
    text = render_project_json(PAGE, PageOptions())
    _golden("project.json", json.dumps(json.loads(text), indent=2) + "\n")


def test_root_pages_match_golden() -> None:
    entries = [
        IndexEntry(ProjectName("zeta"), "Zeta", 7),
        IndexEntry(ProjectName("foo-bar"), "Foo.Bar", 4242),
        IndexEntry(ProjectName("a-b"), "a_b", 3),
    ]
    _golden("root.html", render_root_html(entries))
    root = json.loads(render_root_json(entries, 5000))
    _golden("root.json", json.dumps(root, indent=2) + "\n")


def test_json_never_carries_dist_info_metadata_and_keeps_yank_reason() -> None:
    doc = json.loads(render_project_json(PAGE, PageOptions()))
    files = {f["filename"]: f for f in doc["files"]}
    assert all("dist-info-metadata" not in f for f in doc["files"])
    assert files["foo_bar-1.9-py3-none-any.whl"]["yanked"] == 'broken "<script>" & more'
    assert files["foo.bar-1.0.tar.gz"]["yanked"] is True
    assert files["foo+bar-0.1.tar.gz"]["yanked"] is False
    # .metadata advertised only when stored, even though upstream offered both
    assert files["foo_bar-1.10-py3-none-any.whl"]["core-metadata"] == {"sha256": SHA_M}
    assert files["foo_bar-1.9-py3-none-any.whl"]["core-metadata"] is False
    assert doc["meta"] == {"api-version": "1.1", "_last-serial": 4242}


def test_html_escapes_every_attribute_and_text() -> None:
    html = render_project_html(PAGE, PageOptions())
    assert 'data-yanked="broken &quot;&lt;script&gt;&quot; &amp; more"' in html
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in html
    assert "<script>" not in html
    assert html.count("data-core-metadata=") == 1
    assert html.rstrip().endswith("<!--SERIAL 4242-->")


def test_versions_sort_as_versions_not_strings() -> None:
    assert sort_versions(["1.10", "1.9", "2.0rc1", "1.0", "not-a-version", "0.1"]) == [
        "0.1",
        "1.0",
        "1.9",
        "1.10",
        "2.0rc1",
        "not-a-version",
    ]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (PageOptions(), "../../packages/ab/cd/"),
        (PageOptions(root_uri="https://mirror.example"), "https://mirror.example/packages/ab/"),
        (PageOptions(link_upstream=True), "https://files.example/packages/ab/"),
    ],
)
def test_link_targets(options: PageOptions, expected: str) -> None:
    doc = json.loads(render_project_json(PAGE, options))
    assert all(f["url"].startswith(expected) for f in doc["files"])
    assert expected in render_project_html(PAGE, options)


def test_plus_in_filename_is_percent_encoded_in_links() -> None:
    html = render_project_html(PAGE, PageOptions())
    assert "/foo%2Bbar-0.1.tar.gz#sha256=" in html
    assert ">foo+bar-0.1.tar.gz</a>" in html


def test_digest_name_selects_the_fragment_but_json_keeps_sha256() -> None:
    opts = PageOptions(digest_name="md5")
    html = render_project_html(PAGE, opts)
    assert "#md5=" + "d" * 32 in html
    doc = json.loads(render_project_json(PAGE, opts))
    assert doc["files"][0]["hashes"] == {"sha256": SHA_A, "md5": "d" * 32}
