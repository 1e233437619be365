"""The fast readers of the big XML-RPC answers agree with ``xmlrpc.client``, and hand back
anything they do not recognise exactly; batch normalization equals one-by-one."""

from __future__ import annotations

import xmlrpc.client

import pytest
from packaging.utils import canonicalize_name

from bandersnatch.models import normalize_many, project_name, project_names
from bandersnatch.upstream.rpcfast import read_changelog, read_serials


def _answer(value: object) -> bytes:
    return xmlrpc.client.dumps((value,), methodresponse=True, allow_none=True).encode()


def test_serials_read_like_xmlrpc_client() -> None:
    listing = {"Foo.Bar_baz": 12, "zope.interface": 3, "Ünïcode": 2**31 - 1, "a": 0}
    assert read_serials(_answer(listing)) == (list(listing), list(listing.values()))
    assert read_serials(_answer({})) == ([], [])


@pytest.mark.parametrize(
    "body",
    [
        _answer({"a&b": 1}),  # an entity: only xmlrpc.client decodes those
        _answer({"a": "1"}),  # a serial that is not an int
        _answer([["a", None, 1, "create", 2]]),  # another method's answer
        xmlrpc.client.dumps(xmlrpc.client.Fault(-32500, "Too Many Requests")).encode(),
        b"<html>not xml-rpc</html>",
    ],
)
def test_serials_leave_anything_else_to_xmlrpc_client(body: bytes) -> None:
    assert read_serials(body) is None


def test_i4_and_other_whitespace_are_read_too() -> None:
    body = (
        b"<?xml version='1.0'?><methodResponse><params><param><value><struct>"
        b"<member><name>x</name><value><i4>7</i4></value></member>"
        b"<member>\n  <name>Y.z</name>\n  <value>\n<int>8</int>\n</value>\n</member>"
        b"</struct></value></param></params></methodResponse>"
    )
    assert read_serials(body) == (["x", "Y.z"], [7, 8])


def test_changelog_rows_read_like_xmlrpc_client() -> None:
    rows = [
        ["Foo.Bar", "1.0", 1700000000, "new release", 10],
        ["foo_bar", None, 1700000001, "remove project", 11],
        ["Ünïcode", "", 1700000002, "add Owner someone", 12],
    ]
    reference = xmlrpc.client.loads(_answer(rows))[0][0]
    assert read_changelog(_answer(rows)) == ([r[0] for r in reference], [r[4] for r in reference])
    assert read_changelog(_answer([])) == ([], [])


def test_changelog_rows_it_cannot_read_go_to_xmlrpc_client() -> None:
    assert read_changelog(_answer([["a&b", "1", 1, "create", 2]])) is None
    assert read_changelog(_answer([["a", "1", 1, "create", "2"]])) is None
    assert read_changelog(_answer([["a", "1", 1, "create"]])) is None
    assert read_changelog(_answer({"a": 1})) is None


def test_batch_normalization_equals_canonicalize_name() -> None:
    names = ["Foo.Bar_baz", "a--b", "A_-_.B", "-x-", "zope.interface", "ÉCOLE", "a", "", "Ab"]
    assert normalize_many(names) == [canonicalize_name(n) for n in names]
    assert normalize_many(["line\nbreak", "X"]) == [canonicalize_name("line\nbreak"), "x"]
    assert normalize_many([]) == []


@pytest.mark.parametrize(
    "names",
    [
        ["Foo.Bar_baz", "a", "A-1", "zope.interface", "x" * 255],
        ["ok", "line\nbreak"],  # two valid lines once joined: still refused
        ["ok", ""],
        ["", "ok"],
        ["ok", "", "ok2"],
        ["ok", "-x"],
        ["x.", "ok"],
        ["ok", "a_"],
        ["ok", "x" * 256],
        ["ok", "ÉCOLE"],
        ["ok", "a b"],
        ["ok", "a\r"],
        [],
    ],
)
def test_batch_validation_equals_one_by_one(names: list[str]) -> None:
    assert project_names(names) == [project_name(n) for n in names]
