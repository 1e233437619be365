"""Every path that comes from upstream is checked before it reaches storage."""

from __future__ import annotations

import errno
import os

import pytest

from bandersnatch.errors import StorageError, UnsafePath
from bandersnatch.layout import packages_path, simple_dir
from bandersnatch.models import ProjectName
from bandersnatch.storage import FilesystemStorage

GOOD = "https://files.pythonhosted.org/packages/ab/cd/0123456789/foo-1.0.tar.gz"


def test_pypi_file_url_maps_below_packages() -> None:
    assert packages_path(GOOD, "foo-1.0.tar.gz") == "ab/cd/0123456789/foo-1.0.tar.gz"


def test_a_proxy_that_nests_packages_maps_to_the_same_path() -> None:
    url = "https://proxy.example/packages/packages/ab/cd/0123456789/foo-1.0.tar.gz"
    assert packages_path(url, "foo-1.0.tar.gz") == "ab/cd/0123456789/foo-1.0.tar.gz"


def test_percent_encoded_plus_is_decoded_for_storage() -> None:
    url = "https://h/packages/ab/cd/ef/torch-2.0%2Bcpu-cp311-none-any.whl"
    assert packages_path(url, "torch-2.0+cpu-cp311-none-any.whl").endswith(
        "2.0+cpu-cp311-none-any.whl"
    )


def test_a_content_addressed_url_is_stored_under_its_filename_in_its_directory() -> None:
    url = "https://store.example/packages/ab/cd/9f86d081884c7d659a2feaa0c55ad015"
    assert packages_path(url, "foo-1.0.tar.gz") == "ab/cd/foo-1.0.tar.gz"
    assert packages_path("https://h/packages/0123abcd", "foo-1.0.tar.gz") == "foo-1.0.tar.gz"


@pytest.mark.parametrize(
    ("url", "filename"),
    [
        (GOOD.replace("foo-1.0.tar.gz", "../../evil.whl"), "../../evil.whl"),
        ("https://h/packages/ab/cd/ef/a/b.whl", "a/b.whl"),
        ("https://h/packages/ab/cd/ef/evil\x00.whl", "evil\x00.whl"),
        ("https://h/packages/ab/cd/ef/evil\x1b.whl", "evil\x1b.whl"),
        ("https://h/packages/../../../etc/evil-1.0.tar.gz", "evil-1.0.tar.gz"),
        ("https://h/packages/ab/%2e%2e%2f%2e%2e%2fetc/evil-1.0.tar.gz", "evil-1.0.tar.gz"),
        ("https://h/packages/ab/%2e%2e/evil-1.0.tar.gz", "evil-1.0.tar.gz"),
        ("https://h/packages//etc/passwd", "/etc/passwd"),
        ("https://h/packages/ab/cd/ef/passwd", "/etc/passwd"),
        ("https://h/packages/ab/cd/ef/.hidden.whl", ".hidden.whl"),
        ("https://h/packages/ab/cd/" + "x" * 1100 + "/foo.whl", "foo.whl"),
        ("https://h/packages/ab/cd/ef/", "foo.whl"),
        ("file:///packages/ab/cd/ef/foo.whl", "foo.whl"),
        ("https://h/elsewhere/foo.whl", "foo.whl"),
        ("https://h/packages/ab\\..\\..\\x/foo.whl", "foo.whl"),
        ("http://[::1/packages/ab/cd/ef/foo.whl", "foo.whl"),  # does not parse
    ],
)
def test_hostile_file_urls_and_names_are_refused(url: str, filename: str) -> None:
    with pytest.raises(UnsafePath):
        packages_path(url, filename)


@pytest.mark.parametrize("name", ["../etc", "a/b", "", "-a", "a-", "A"])
def test_unsafe_project_names_are_refused(name: str) -> None:
    with pytest.raises(UnsafePath):
        simple_dir(ProjectName(name), hash_index=False)


def test_hash_index_directory() -> None:
    assert simple_dir(ProjectName("foo-bar"), hash_index=True) == "web/simple/f/foo-bar"


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "web/../../x", "web/./x", "a\x00b"])
def test_storage_refuses_paths_that_leave_the_root(tmp_path, path: str) -> None:
    storage = FilesystemStorage(tmp_path / "mirror")
    with pytest.raises(UnsafePath):
        storage.write_bytes(path, b"x")
    assert not (tmp_path / "x").exists()


def test_atomic_write_leaves_old_content_when_write_fails(tmp_path) -> None:
    storage = FilesystemStorage(tmp_path)
    storage.write_bytes("web/a", b"old")
    out = storage.open_atomic("web/a")
    out.write(b"new but unfinished")
    out.abort()
    assert (tmp_path / "web/a").read_bytes() == b"old"
    assert sorted(p.name for p in (tmp_path / "web").iterdir()) == ["a"]


def test_a_write_to_a_full_disk_says_so_and_leaves_the_old_file(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = FilesystemStorage(tmp_path)
    storage.write_bytes("web/a", b"old")
    out = storage.open_atomic("web/a")

    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(StorageError, match="no space left on device; free some space"):
        out.write(b"new")
    monkeypatch.undo()
    assert (tmp_path / "web/a").read_bytes() == b"old"
    assert sorted(p.name for p in (tmp_path / "web").iterdir()) == ["a"]


def test_new_directories_are_made_once_and_a_vanished_one_is_made_again(tmp_path) -> None:
    storage = FilesystemStorage(tmp_path)
    storage.write_bytes("web/packages/aa/bb/x/f1", b"1")
    storage.write_bytes("web/packages/aa/bb/y/f2", b"2")
    storage.delete("web/packages/aa/bb/x/f1")
    storage.remove_empty_dirs("web/packages/aa/bb/x", "web/packages")
    assert not (tmp_path / "web/packages/aa/bb/x").exists()
    storage.write_bytes("web/packages/aa/bb/x/f3", b"3")  # removed by the storage itself
    (tmp_path / "web/packages/aa/bb/y/f2").unlink()
    (tmp_path / "web/packages/aa/bb/y").rmdir()
    (tmp_path / "web/packages/aa/bb").rename(tmp_path / "elsewhere")  # behind its back
    storage.write_bytes("web/packages/aa/bb/y/f4", b"4")
    assert (tmp_path / "web/packages/aa/bb/y/f4").read_bytes() == b"4"
