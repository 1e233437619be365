"""One file-entry parser for both upstream documents, with one duplicate policy."""

from __future__ import annotations

from typing import Any

import pytest

from bandersnatch.errors import BadUpstreamData
from bandersnatch.models import ProjectName
from bandersnatch.upstream.metadata import parse_project
from bandersnatch.upstream.simple import parse_simple_project

URL = "https://files.example/packages/aa/bb/foo-1.0.tar.gz"
SHA = "ab" * 32


def test_a_file_listed_twice_is_kept_once_and_refused_once_by_both_parsers() -> None:
    api_entry: dict[str, Any] = {"filename": "foo-1.0.tar.gz", "url": URL, "size": 3,
                                 "digests": {"sha256": SHA}}  # fmt: skip
    doc = {"info": {"name": "Foo"}, "releases": {"1.0": [api_entry], "1.0.post0": [api_entry]}}
    api = parse_project("https://up.example/pypi/foo/json", doc, b"", 5, ProjectName("foo"))
    page_entry = {**api_entry, "hashes": api_entry["digests"]}
    page = {"name": "Foo", "files": [page_entry, page_entry]}
    simple = parse_simple_project("https://up.example/simple/foo/", page, 5, ProjectName("foo"))
    for project in (api, simple):
        assert [f.filename for f in project.files] == ["foo-1.0.tar.gz"]
        assert project.refused == (("foo-1.0.tar.gz", "listed twice"),)
    assert api.files[0].version == "1.0" and simple.files[0].version == "1.0"


def test_the_asked_name_is_a_parameter_not_read_from_the_url() -> None:
    doc = {"info": {"name": "Foo"}, "releases": {}}
    project = parse_project("https://up.example/stored", doc, b"", 1, ProjectName("foo"))
    assert project.name == "foo"
    with pytest.raises(BadUpstreamData, match="asked for 'bar'"):
        parse_project("https://up.example/pypi/foo/json", doc, b"", 1, ProjectName("bar"))
