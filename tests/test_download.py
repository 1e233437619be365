"""Downloads in isolation: digest and size checks, nothing left behind on failure."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from bandersnatch.errors import DigestMismatch, SizeMismatch
from bandersnatch.storage import FilesystemStorage
from bandersnatch.upstream.download import Downloader
from bandersnatch.upstream.session import RetryPolicy

from fakepypi import FakePyPI

FAST = RetryPolicy(retries=2, backoff=0.01)


def _wheel(fake: FakePyPI) -> tuple[str, str, int, str]:
    state = fake.universe.project("dep-leaf")
    assert state is not None
    f = next(f for f in state.files() if f.filename.endswith(".whl"))
    return fake.url + f.url_path, f.sha256, f.size, f.metadata_url_path


def test_a_verified_download_lands_and_nothing_else(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    url, sha, size, _ = _wheel(fake_pypi)
    storage = FilesystemStorage(tmp_path)
    got = Downloader(5, 60, FAST).fetch(requests.Session(), storage, [url], "a/b.whl", size, sha)
    assert got.size == size
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.whl"]


def test_a_wrong_digest_leaves_no_file(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    url, _sha, size, _ = _wheel(fake_pypi)
    storage = FilesystemStorage(tmp_path)
    with pytest.raises(DigestMismatch) as info:
        Downloader(5, 60, FAST).fetch(requests.Session(), storage, [url], "a/b.whl", size, "0" * 64)
    assert info.value.expected == "0" * 64
    assert list((tmp_path / "a").iterdir()) == []


def test_a_body_longer_than_advertised_is_cut_off(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    url, sha, size, _ = _wheel(fake_pypi)
    storage = FilesystemStorage(tmp_path)
    with pytest.raises(SizeMismatch):
        Downloader(5, 60, FAST).fetch(requests.Session(), storage, [url], "a/b.whl", size - 1, sha)
    assert list((tmp_path / "a").iterdir()) == []


def test_an_unsized_body_is_capped(
    tmp_path: Path, fake_pypi: FakePyPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    _url, _sha, _size, meta_path = _wheel(fake_pypi)
    storage = FilesystemStorage(tmp_path)
    with pytest.raises(SizeMismatch):
        Downloader(5, 60, FAST, max_unsized=16).fetch(
            requests.Session(), storage, [fake_pypi.url + meta_path], "a/m", None, "0" * 64
        )
    assert list((tmp_path / "a").iterdir()) == []


def test_truncated_and_dropped_bodies_are_retried(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    url, sha, size, _ = _wheel(fake_pypi)
    path = url.removeprefix(fake_pypi.url)
    fake_pypi.truncate(path, times=1)
    fake_pypi.drop(path, times=1)
    storage = FilesystemStorage(tmp_path)
    Downloader(5, 60, FAST).fetch(requests.Session(), storage, [url], "a/b.whl", size, sha)
    assert storage.sha256("a/b.whl") == sha
    assert len(fake_pypi.requests.filter(path=path)) == 3
