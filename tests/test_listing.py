"""Reading a project's files back from its own pages."""

from __future__ import annotations

from pathlib import Path

from bandersnatch.models import PageFile, ProjectName, ReleaseFile, SimplePage
from bandersnatch.simple.render import PageOptions, render_project_html, render_project_json
from bandersnatch.site.readback import listed_files
from bandersnatch.storage import FilesystemStorage

NAME = ProjectName("foo")
FILE = ReleaseFile(
    filename="foo-1.0+local.tar.gz",
    url="https://files.example/packages/ab/cd/ef/foo-1.0+local.tar.gz",
    path="ab/cd/ef/foo-1.0+local.tar.gz",
    version="1.0",
    size=3,
    sha256="a" * 64,
    core_metadata_sha256="b" * 64,
)
PAGE = SimplePage(NAME, "Foo", 1, ("1.0",), (PageFile(FILE, True),))


def _write(tmp_path: Path, options: PageOptions, leaves: dict[str, str]) -> FilesystemStorage:
    storage = FilesystemStorage(tmp_path)
    render = {"json": render_project_json, "html": render_project_html}
    for leaf, kind in leaves.items():
        storage.write_bytes(f"web/simple/foo/{leaf}", render[kind](PAGE, options).encode())
    return storage


def test_relative_links_are_local_files_with_digests(tmp_path: Path) -> None:
    for leaves in ({"index.v1_json": "json"}, {"index.html": "html"}):
        storage = _write(tmp_path / str(len(leaves)) / next(iter(leaves)), PageOptions(), leaves)
        listed = listed_files(storage, NAME, hash_index=False)
        assert listed is not None and len(listed) == 1
        assert listed[0].path == "web/packages/ab/cd/ef/foo-1.0+local.tar.gz"
        assert listed[0].sha256 == "a" * 64
        assert listed[0].metadata_sha256 == "b" * 64


def test_html_only_mirror_without_index_html_still_lists(tmp_path: Path) -> None:
    storage = _write(tmp_path, PageOptions(), {"index.v1_html": "html"})
    listed = listed_files(storage, NAME, hash_index=False)
    assert listed is not None and [f.path for f in listed] == [
        "web/packages/ab/cd/ef/foo-1.0+local.tar.gz"
    ]


def test_upstream_links_are_not_local_but_root_uri_links_are(tmp_path: Path) -> None:
    upstream = _write(tmp_path / "u", PageOptions(link_upstream=True), {"index.v1_json": "json"})
    assert listed_files(upstream, NAME, hash_index=False) == ()
    root = "https://mirror.example/pypi"
    own = _write(tmp_path / "r", PageOptions(root_uri=root), {"index.html": "html"})
    assert listed_files(own, NAME, hash_index=False) == ()  # not told it is ours
    listed = listed_files(own, NAME, hash_index=False, root_uri=root)
    assert listed is not None and listed[0].path.endswith("foo-1.0+local.tar.gz")


def test_no_page_is_none(tmp_path: Path) -> None:
    assert listed_files(FilesystemStorage(tmp_path), NAME, hash_index=False) is None
