"""Property-based tests: whatever upstream (or an operator's config) sends, the pure code that
reads it keeps its promises.

- names: ``models.project_name`` gives a normalized name or None, never a path;
- paths: ``layout.packages_path`` gives a relative path that stays below ``web/packages``;
- pages: the HTML and JSON rendered from any strings escape them and read back the same;
- feeds and documents: the parsers raise only their documented errors, never accept an
  invalid name, and every serial they hand on is one the mirror can store and send back;
- config values: each parser returns a value or raises ValueError, nothing else.

Each property runs a modest number of examples so the file takes a few seconds.
"""

from __future__ import annotations

import contextlib
import json
import re
import string
import warnings
import xmlrpc.client
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from bandersnatch.config import values
from bandersnatch.errors import BadUpstreamData, UnsafePath
from bandersnatch.layout import (
    MAX_PATH,
    check_filename,
    check_project_name,
    is_project_name,
    package_file,
    packages_path,
)
from bandersnatch.models import (
    PageFile,
    ProjectName,
    ReleaseFile,
    SimplePage,
    normalize,
    project_name,
)
from bandersnatch.simple import parse as page_parse
from bandersnatch.simple.render import (
    PageOptions,
    file_url,
    render_project_html,
    render_project_json,
)
from bandersnatch.storage import FilesystemStorage
from bandersnatch.upstream import entries, fields, metadata, simple
from bandersnatch.upstream.changelog import ChangelogClient
from bandersnatch.upstream.http import json_document
from bandersnatch.upstream.session import RetryPolicy

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NORMALIZED = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?", re.ASCII)
MAX_SERIAL = xmlrpc.client.MAXINT
"""The largest serial the mirror can send back in ``changelog_since_serial``."""
HEX = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
HOSTILE_TEXT = st.sampled_from(
    ["", ".", "..", "/", "\\", "\x00", "\x1b[2J", "a/b", "..\\..", "%2e%2e", "%2f", "%00",
     "İ", "\u202e", "<", ">", "&", '"', "'", "&amp;", "<!--", "-->", "\n", " ", "x" * 300]
)  # fmt: skip
TEXT = st.one_of(st.text(max_size=40), HOSTILE_TEXT)
VALID_NAMES = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,40}[A-Za-z0-9])?", fullmatch=True)


def _is_serial(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SERIAL


# -- names -------------------------------------------------------------------------------


@PROPERTY
@given(st.one_of(TEXT, VALID_NAMES, st.text(alphabet="aZ9._- /\\İ\x00", max_size=12)))
def test_a_project_name_is_normalized_or_none(display: str) -> None:
    name = project_name(display)
    if name is None:
        return
    assert NORMALIZED.fullmatch(name) and len(name) <= 255
    assert "/" not in name and "\\" not in name and name not in (".", "..")
    assert name == normalize(display) == canonicalize_name(display)
    assert project_name(name) == name and normalize(name) == name  # idempotent
    assert is_project_name(name)
    check_project_name(name)


@PROPERTY
@given(VALID_NAMES)
def test_every_pep_508_name_is_accepted(display: str) -> None:
    assert project_name(display) == canonicalize_name(display)


@PROPERTY
@given(st.one_of(st.none(), st.integers(), st.binary(), st.lists(st.text()), st.booleans()))
def test_anything_but_a_string_is_no_name(value: object) -> None:
    assert project_name(value) is None


@PROPERTY
@given(st.text())
def test_normalize_is_idempotent(display: str) -> None:
    assert normalize(normalize(display)) == normalize(display)


# -- paths -------------------------------------------------------------------------------

SEGMENTS = st.one_of(
    st.sampled_from(
        ["", ".", "..", "%2e%2e", "%2E.", "..%2f..", "a%5cb", "%00", "x%2Fy", "packages", "%ff",
         "\\", "a b", "ab", "cd", "0123abcd", "%252e%252e", "~", ";", "?", "#"]
    ),
    st.text(max_size=12),
    st.text(alphabet=string.ascii_lowercase, min_size=200, max_size=260),
)  # fmt: skip
URLS = st.builds(
    lambda scheme, host, segs, tail: f"{scheme}{host}/" + "/".join(segs) + tail,
    st.sampled_from(["https://", "http://", "ftp://", "file://", "", "//", "HTTPS://"]),
    st.sampled_from(["files.example", "127.0.0.1:8080", "", "[::1]", "[::1", "a@b", "h:x"]),
    st.lists(SEGMENTS, max_size=8).map(lambda s: ["packages", *s]),
    st.sampled_from(["", "/", "?q=1", "#frag", "/x.whl"]),
)
FILENAMES = st.one_of(TEXT, st.from_regex(r"[a-z0-9_.+-]{1,30}\.(whl|tar\.gz)", fullmatch=True))
ROOT = Path("/nonexistent/mirror")


@PROPERTY
@given(URLS, FILENAMES)
@example("https://h/packages/aa/bb/x.whl", "x.whl")
@example("http://[::1/packages/aa/bb/x.whl", "x.whl")
def test_an_accepted_file_path_stays_below_web_packages(url: str, filename: str) -> None:
    try:
        path = packages_path(url, filename)
    except UnsafePath:
        return
    segments = path.split("/")
    assert not path.startswith("/")
    assert not any(s in ("", ".", "..") for s in segments)
    assert "\x00" not in path and "\\" not in path
    assert not re.search(r"[\x00-\x1f\x7f]", path)
    assert len(path.encode("utf-8", "surrogatepass")) <= MAX_PATH
    assert segments[-1] == filename and path.endswith(filename)
    check_filename(filename)
    storage = FilesystemStorage(ROOT)
    assert storage.abspath(package_file(path)).startswith(f"{ROOT}/web/packages/")


# -- pages -------------------------------------------------------------------------------


def _usable(value: str) -> bool:
    return fields.text(value) is not None


USABLE = TEXT.filter(_usable)
OPTIONAL = st.one_of(st.none(), USABLE)


@st.composite
def _release_files(draw: Any) -> list[PageFile]:
    filenames = draw(st.lists(FILENAMES.filter(_safe_filename), max_size=3, unique=True))
    out = []
    for filename in filenames:
        reason = draw(OPTIONAL)
        yanked = reason is not None or draw(st.booleans())
        core = draw(st.one_of(st.none(), HEX))
        rf = ReleaseFile(
            filename=filename,
            url="https://files.example/packages/aa/bb/" + quote(filename),
            path=f"aa/bb/{filename}",
            version="1.0",
            size=draw(st.integers(0, 2**40)),
            sha256=draw(HEX),
            digests={},
            requires_python=draw(OPTIONAL),
            yanked=yanked,
            yanked_reason=reason if yanked else None,
            upload_time=draw(OPTIONAL),
            core_metadata_sha256=core,
        )
        out.append(PageFile(rf, draw(st.booleans())))
    return out


def _safe_filename(filename: str) -> bool:
    try:
        check_filename(filename)
    except UnsafePath:
        return False
    return _usable(filename)


PAGES = st.builds(
    lambda display, serial, versions, files: SimplePage(
        normalize(display) if project_name(display) else ProjectName("p"),
        display,
        serial,
        tuple(versions),
        tuple(files),
    ),
    st.one_of(VALID_NAMES, USABLE),
    st.integers(0, MAX_SERIAL),
    st.lists(USABLE, max_size=3),
    _release_files(),
)


class _Reader(HTMLParser):
    """Every tag, attribute and text node of a page, as a browser or pip reads them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.markup = 0
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self.title = ""
        self.heading = ""
        self.text: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.markup += 1
        self._in = tag
        if tag == "a":
            self.anchors.append((dict(attrs), ""))

    def handle_endtag(self, tag: str) -> None:
        self.markup += 1
        self._in = None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.markup += 1

    def handle_decl(self, decl: str) -> None:
        self.markup += 1

    def handle_comment(self, data: str) -> None:
        self.markup += 1

    def handle_data(self, data: str) -> None:
        if self._in == "a":
            attrs, text = self.anchors[-1]
            self.anchors[-1] = (attrs, text + data)
        elif self._in == "title":
            self.title += data
        elif self._in == "h1":
            self.heading += data
        else:
            self.text.append(data)


@PROPERTY
@given(PAGES)
def test_the_html_page_escapes_every_value_and_reads_back_the_same(page: SimplePage) -> None:
    opts = PageOptions()
    out = render_project_html(page, opts)
    reader = _Reader()
    reader.feed(out)
    reader.close()
    assert out.count("<") == reader.markup  # every "<" opens markup the template wrote
    assert not re.search(r"&(?!(?:amp|lt|gt|quot|#x27);)", out)  # every "&" is an entity
    attributes = sum(len(attrs) for attrs, _ in reader.anchors) + 1  # + the <meta>'s 2 - 1
    assert out.count('"') == 2 * (attributes + 1)
    assert reader.title == f"Links for {page.display_name}"
    assert reader.heading == f"Links for {page.display_name}"
    assert not "".join(reader.text).strip()  # no text outside the title, heading and links
    files = sorted(page.files, key=lambda pf: pf.file.filename)
    assert [text for _, text in reader.anchors] == [pf.file.filename for pf in files]
    for (attrs, _), pf in zip(reader.anchors, files, strict=True):
        f = pf.file
        assert attrs["href"] == f"{file_url(pf, opts)}#sha256={f.sha256}"
        assert attrs.get("data-requires-python") == (f.requires_python or None)
        assert attrs.get("data-yanked") == ((f.yanked_reason or "") if f.yanked else None)
        core = f"sha256={f.core_metadata_sha256}" if pf.metadata_stored else None
        assert attrs.get("data-core-metadata") == (core if f.core_metadata_sha256 else None)
    expected = page_parse.expected_from_html_page(out.encode())
    assert [(e.path, e.sha256) for e in expected] == [
        (f"web/packages/{pf.file.path}", pf.file.sha256) for pf in files
    ]
    if project_name(page.display_name):  # display names are project names (checked at intake)
        assert page_parse.page_title(out.encode()) == page.display_name


@PROPERTY
@given(PAGES)
def test_the_json_page_is_valid_and_reads_back_the_same(page: SimplePage) -> None:
    out = render_project_json(page, PageOptions())
    doc = json.loads(out)
    assert doc["name"] == page.name
    assert all("dist-info-metadata" not in f for f in doc["files"])  # PEP 714: the new key only
    back = page_parse.page_from_json(page.name, page.display_name, out.encode())
    assert back is not None
    assert back.serial == page.serial and back.versions == tuple(doc["versions"])
    assert sorted(back.versions) == sorted(set(page.versions))

    def facts(pf: PageFile) -> tuple[object, ...]:
        f = pf.file
        stored = pf.metadata_stored and f.core_metadata_sha256 is not None
        core = f.core_metadata_sha256 if stored else None
        return (f.filename, f.path, f.size, f.sha256, f.requires_python, f.yanked,
                f.yanked_reason, f.upload_time, core)  # fmt: skip

    assert [facts(pf) for pf in back.files] == [
        facts(pf) for pf in sorted(page.files, key=lambda pf: pf.file.filename)
    ]


# -- feeds and documents -----------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False),
    TEXT,
    st.sampled_from(["12", "²", "٣", "-1", "1e3", " 7 ", "9" * 30]),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)
XMLRPC_VALUES = st.one_of(JSON_VALUES, st.binary(max_size=8))
ROWS = st.one_of(
    st.tuples(st.one_of(TEXT, VALID_NAMES), SCALARS, SCALARS, SCALARS, SCALARS).map(list),
    st.lists(XMLRPC_VALUES, max_size=7),
    XMLRPC_VALUES,
)


@PROPERTY
@given(st.lists(ROWS, max_size=4))
@example([["foo", None, 0, "create", True]])
@example([["foo", None, 0, "create", 2**40]])
@example([["foo", None, 0, "create", 7], ["-", None, 0, "create", 8]])
def test_a_changelog_page_never_yields_an_invalid_name_or_serial(rows: list[Any]) -> None:
    try:
        pages = list(_client(rows).changes_since(0))
    except BadUpstreamData:
        return
    for names, serials in pages:
        assert len(names) == len(serials)
        assert all(project_name(name) == name for name in names)
        assert all(_is_serial(serial) for serial in serials)


def _client(answer: object) -> ChangelogClient:
    """A changelog client whose XML-RPC call returns ``answer`` (the parsing under test)."""
    client = ChangelogClient(None, "https://upstream.invalid", 1.0, RetryPolicy(0))  # type: ignore[arg-type]
    client._call = lambda method, *args, **kw: answer  # type: ignore[method-assign]
    return client


@PROPERTY
@given(XMLRPC_VALUES)
@example(True)
@example(2**40)
def test_changelog_last_serial_is_a_serial_or_bad_data(answer: object) -> None:
    try:
        serial = _client(answer).last_serial()
    except BadUpstreamData:
        return
    assert _is_serial(serial)


@PROPERTY
@given(st.dictionaries(st.one_of(TEXT, VALID_NAMES), XMLRPC_VALUES, max_size=6))
@example({"foo": True})
@example({"foo": 2**40})
def test_list_packages_with_serial_keeps_only_names_and_serials(answer: dict[str, Any]) -> None:
    listed = _client(answer).all_projects()
    assert len(listed.names) == len(listed.displays) == len(listed.serials)
    for name, display, serial in zip(listed.names, listed.displays, listed.serials, strict=True):
        assert project_name(display) == name and _is_serial(serial)


@PROPERTY
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "meta": st.one_of(JSON_VALUES, st.fixed_dictionaries({"_last-serial": SCALARS})),
            "projects": st.one_of(
                JSON_VALUES,
                st.lists(
                    st.fixed_dictionaries(
                        {"name": st.one_of(TEXT, VALID_NAMES), "_last-serial": SCALARS}
                    ),
                    max_size=5,
                ),
            ),
        },
    )
)
@example({"meta": {"_last-serial": True}, "projects": []})
@example({"meta": {"_last-serial": "²"}, "projects": []})
@example({"projects": [{"name": "foo", "_last-serial": -4}]})
def test_the_root_index_feed_keeps_only_names_and_serials(doc: dict[str, Any]) -> None:
    feed = simple.SimpleFeed(None, "https://upstream.invalid", 1.0, RetryPolicy(0))  # type: ignore[arg-type]
    body = json.dumps(doc).encode()
    feed._get = lambda conditions: (200, {}, body)  # type: ignore[method-assign]
    try:
        snapshot = feed.snapshot()
    except BadUpstreamData:
        return
    assert _is_serial(snapshot.serial)
    columns = (snapshot.names, snapshot.displays, snapshot.serials)
    for name, display, serial in zip(*columns, strict=True):
        assert project_name(display) == name and _is_serial(serial)


@PROPERTY
@given(st.one_of(st.none(), TEXT, st.sampled_from(["12", "²", " 3", "99999999999999999999"])),
       JSON_VALUES, st.sampled_from(["json", "simple"]))  # fmt: skip
@example(None, {"last_serial": True}, "json")
@example("²", {}, "json")
def test_a_document_serial_is_a_serial_or_none(header: str | None, doc: Any, source: str) -> None:
    serial = metadata._serial(header, doc, source)
    assert serial is None or _is_serial(serial)


DIGESTS = st.fixed_dictionaries({"sha256": st.one_of(HEX, SCALARS)})
FILE_ENTRIES = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {
            "filename": st.one_of(FILENAMES, SCALARS),
            "url": st.one_of(URLS, SCALARS),
        },
        optional={
            "digests": st.one_of(JSON_VALUES, DIGESTS),
            "hashes": st.one_of(JSON_VALUES, DIGESTS),
            "size": SCALARS,
            "yanked": SCALARS,
            "yanked_reason": SCALARS,
            "requires_python": SCALARS,
            "requires-python": SCALARS,
            "upload-time": SCALARS,
            "core-metadata": st.one_of(SCALARS, DIGESTS),
        },
    ),
)  # fmt: skip
DOC_URL = "https://upstream.example/pypi/foo/json"


def _check_file(rf: ReleaseFile) -> None:
    assert rf.path == packages_path(rf.url, rf.filename)
    assert fields.hex_digest(rf.sha256, 64) == rf.sha256 and fields.size(rf.size) == rf.size
    for value in (rf.filename, rf.url, rf.requires_python, rf.yanked_reason, rf.upload_time):
        assert fields.is_text(value)


@PROPERTY
@given(FILE_ENTRIES)
@example({"filename": "x.whl", "url": "http://[::1/packages/aa/x.whl", "size": 1,
          "digests": {"sha256": "a" * 64}})  # fmt: skip
def test_a_json_api_file_entry_is_a_safe_file_or_refused(entry: Any) -> None:
    try:
        rf = entries.parse_file(DOC_URL, entry, entries.JSON_API, "1.0")
    except (BadUpstreamData, UnsafePath):
        return
    _check_file(rf)


@PROPERTY
@given(FILE_ENTRIES)
@example({"filename": "x.whl", "url": "http://[::1/packages/aa/x.whl", "size": 1,
          "hashes": {"sha256": "a" * 64}})  # fmt: skip
def test_a_simple_page_file_entry_is_a_safe_file_or_refused(entry: Any) -> None:
    try:
        rf = entries.parse_file(
            "https://upstream.example/simple/foo/", entry, entries.SIMPLE_PAGE, None
        )
    except (BadUpstreamData, UnsafePath):
        return
    _check_file(rf)


@PROPERTY
@given(
    st.fixed_dictionaries(
        {
            "info": st.one_of(
                JSON_VALUES,
                st.fixed_dictionaries({"name": st.one_of(SCALARS, st.just("foo"), st.just("Foo"))}),
            )
        },
        optional={
            "releases": st.one_of(
                JSON_VALUES, st.dictionaries(TEXT, st.lists(FILE_ENTRIES, max_size=3), max_size=3)
            ),
            "last_serial": SCALARS,
        },
    )
)
def test_a_json_api_document_is_a_project_or_bad_data(doc: dict[str, Any]) -> None:
    try:
        project = metadata.parse_project(DOC_URL, doc, b"", None, ProjectName("foo"))
    except BadUpstreamData:
        return
    assert project.name == "foo" and project_name(project.display_name) == "foo"
    assert _is_serial(project.serial)
    for rf in project.files:
        _check_file(rf)
    assert len({rf.path for rf in project.files}) == len(project.files)
    for filename, reason in project.refused:
        assert isinstance(filename, str) and isinstance(reason, str)


@PROPERTY
@given(
    st.fixed_dictionaries(
        {"name": st.one_of(SCALARS, st.just("foo"), st.just("Foo"))},
        optional={"files": st.one_of(JSON_VALUES, st.lists(FILE_ENTRIES, max_size=4)),
                  "versions": JSON_VALUES},
    ),
    st.one_of(st.none(), st.integers(0, MAX_SERIAL)),
)  # fmt: skip
def test_a_simple_page_is_a_project_or_bad_data(doc: dict[str, Any], serial: int | None) -> None:
    try:
        project = simple.parse_simple_project(
            "https://upstream.example/simple/foo/", doc, serial, ProjectName("foo")
        )
    except BadUpstreamData:
        return
    assert project.name == "foo" and _is_serial(project.serial)
    for rf in project.files:
        _check_file(rf)


@PROPERTY
@given(JSON_VALUES, st.integers(0, 70))
def test_field_checks_never_raise_and_keep_their_promises(value: Any, length: int) -> None:
    digest = fields.hex_digest(value, length)
    assert digest is None or (len(digest) == length and re.fullmatch("[0-9a-f]*", digest))
    for algo, hexed in fields.digests(value).items():
        assert len(hexed) == fields.DIGEST_LENGTHS[algo]
    size = fields.size(value)
    assert size is None or (type(size) is int and size >= 0)
    text = fields.text(value)
    assert text is None or (text and text.encode("utf-8"))
    assert fields.is_text(value) == (value in (None, "") or text is not None)


@PROPERTY
@given(st.binary(max_size=64), st.sampled_from([b"", b"[" * 5000, b'{"a":' * 3000]))
def test_any_body_is_a_document_or_bad_data(body: bytes, prefix: bytes) -> None:
    with contextlib.suppress(BadUpstreamData):
        json_document(DOC_URL, prefix + body)


# -- config values -----------------------------------------------------------------------

SIZE_GRAMMAR = r"\s*[0-9]{1,400}(\.[0-9]{1,5})?\s*([kKmMgGtTpPeE]i?[bB]?|b|bytes?)?\s*"
RAW = st.one_of(
    st.text(max_size=40),
    st.from_regex(SIZE_GRAMMAR, fullmatch=True),
    st.sampled_from(["1e400", "inf", "nan", "-1", "0x10", "²", "١٢", "9" * 400, "a" * 5000,
                     "http://[::1", "https://h:99999/", "(" * 2000 + ")" * 2000, "a{99999999999}",
                     "[[", "h:0", "[::1]:80", "h:٣"]),
)  # fmt: skip
PARSERS = {
    "boolean": values.boolean,
    "integer": values.integer(0, 20),
    "number": values.number(0.0, above=True),
    "choice": values.choice({"hash": "hash", "stat": "stat"}),
    "absolute_url": values.absolute_url(("http", "https")),
    "absolute_path": values.absolute_path,
    "any_path": values.any_path,
    "existing_file": values.existing_file,
    "storage_backend": values.storage_backend,
    "host_list": values.host_list,
    "regex_lines": values.regex_lines,
    "byte_size": values.byte_size,
}


@PROPERTY
@given(st.sampled_from(sorted(PARSERS)), RAW)
@example("byte_size", "9" * 400)
@example("existing_file", "a" * 5000)
@example("regex_lines", "(" * 2000 + ")" * 2000)
@example("regex_lines", "a{99999999999}")
def test_a_config_value_is_a_value_or_a_value_error(parser: str, raw: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # re.compile warns about some sets ("[[")
        try:
            value = PARSERS[parser](raw)
        except ValueError:
            return
    if parser in ("byte_size",):
        assert type(value) is int and value >= 0
    if parser == "host_list":
        for host, port in value:
            assert host and (port is None or 0 < port < 65536)
    if parser == "integer":
        assert 0 <= value <= 20
