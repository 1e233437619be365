"""The ledger and the root index: a few changes spliced into the stored files give exactly
the bytes a whole render gives, and anything the stamp cannot vouch for is rendered whole."""

from __future__ import annotations

import json
import random
from html import escape
from pathlib import Path

import pytest

from bandersnatch.errors import StateError
from bandersnatch.journal import Progress
from bandersnatch.ledger import Ledger
from bandersnatch.models import IndexEntry, ProjectName, SimpleFormat, normalize
from bandersnatch.simple.root import render_root_html, render_root_json
from bandersnatch.state import MirrorState
from bandersnatch.storage import FilesystemStorage

FILES = (
    "projects",
    "web/simple/index.html",
    "web/simple/index.v1_html",
    "web/simple/index.v1_json",
)


def _entry(display: str, serial: int) -> IndexEntry:
    return IndexEntry(normalize(display), display, serial)


def _files(root: Path) -> dict[str, bytes]:
    return {f: (root / f).read_bytes() for f in FILES if (root / f).exists()}


def _whole(entries: dict[ProjectName, IndexEntry], serial: int) -> dict[str, bytes]:
    """The ledger and root pages ``entries`` make, rendered whole."""
    ordered = sorted(entries.values(), key=lambda e: e.name)
    html = render_root_html(ordered).encode()
    return {
        "projects": "".join(f"{e.name}\t{e.serial}\t{e.display_name}\n" for e in ordered).encode(),
        "web/simple/index.html": html,
        "web/simple/index.v1_html": html,
        "web/simple/index.v1_json": render_root_json(ordered, serial).encode(),
    }


def _reference_html(entries: list[IndexEntry]) -> str:
    """The root page as it was rendered before it was rendered in bulk."""
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        '    <meta name="pypi:repository-version" content="1.1">',
        "    <title>Simple Index</title>",
        "  </head>",
        "  <body>",
    ]
    lines.extend(
        f'    <a href="{e.name}/">{escape(e.display_name)}</a><br/>'
        for e in sorted(entries, key=lambda e: e.name)
    )
    return "\n".join([*lines, "  </body>", "</html>"]) + "\n"


def _reference_json(entries: list[IndexEntry], serial: int) -> str:
    doc = {
        "meta": {"api-version": "1.1", "_last-serial": serial},
        "projects": [
            {"name": e.display_name, "_last-serial": e.serial}
            for e in sorted(entries, key=lambda e: e.name)
        ],
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"


TRICKY = ["Foo.Bar_baz", "a<b>&c", 'q"uote', "it's", "back\\slash", "Ünïcode", "tab\x01ctl"]


@pytest.mark.parametrize("displays", [[], ["one"], TRICKY, [f"P{i}" for i in range(50)]])
def test_bulk_rendering_is_byte_identical_to_the_reference(displays: list[str]) -> None:
    entries = [_entry(d, i * 7 + 1) for i, d in enumerate(displays)]
    assert render_root_html(entries) == _reference_html(entries)
    assert render_root_json(entries, 12345) == _reference_json(entries, 12345)


def test_spliced_changes_equal_a_whole_render(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(7)
    storage = FilesystemStorage(tmp_path / "m")
    entries = {e.name: e for e in (_entry(f"Proj_{i:04d}", i + 1) for i in range(0, 3000, 3))}
    entries |= {e.name: e for e in map(_entry, TRICKY, range(len(TRICKY)))}
    Ledger.of(entries.values()).publish(storage, SimpleFormat.ALL, 10)
    for whole in ("render", "columns"):
        monkeypatch.setattr(f"bandersnatch.ledger.{whole}", None)  # from now on: splices only
    for round_ in range(6):
        ledger = Ledger.load(storage)
        assert ledger is not None
        names = sorted(entries)
        removed = [names[0], names[-1], *rng.sample(names[1:-1], 4)]
        for name in removed:
            assert ledger.remove(name)
            del entries[name]
        ledger.remove(ProjectName("never-there"))
        added = [f"proj-{i:04d}" for i in rng.sample(range(3000), 8)]
        for display in [*added, f"0{round_}", f"\u00ff{round_}"]:  # also before all, after all
            e = _entry(display, 5000 + round_)
            ledger.set(e.name, e.serial, e.display_name)
            entries[e.name] = e
        for name in sorted(entries)[:1] + sorted(entries)[-1:]:  # the new first and last
            e = _entry(entries[name].display_name, 99)
            ledger.set(e.name, e.serial, e.display_name)
            entries[e.name] = e
        stored = ledger.publish(storage, SimpleFormat.ALL, 100 + round_)
        assert stored == list(FILES[1:])
        assert _files(tmp_path / "m") == _whole(entries, 100 + round_)
        reloaded = Ledger.load(storage)  # looked up by binary search in the stored bytes
        assert reloaded is not None
        assert all(reloaded.get(n) == entries[n] for n in entries)
        assert not any(name in reloaded for name in removed)


def test_everything_removed_and_added_again(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "m")
    one, two = _entry("one", 1), _entry("Two", 2)
    Ledger.of([one, two]).publish(storage, SimpleFormat.ALL, 5)
    ledger = Ledger.load(storage)
    assert ledger is not None
    ledger.remove(one.name)
    ledger.remove(two.name)
    ledger.publish(storage, SimpleFormat.ALL, 6)
    assert _files(tmp_path / "m") == _whole({}, 6)
    ledger = Ledger.load(storage)
    assert ledger is not None and not ledger
    ledger.set(two.name, 3, "Two")
    ledger.publish(storage, SimpleFormat.ALL, 7)
    assert _files(tmp_path / "m") == _whole({two.name: _entry("Two", 3)}, 7)


def test_a_root_page_changed_behind_the_stamp_is_rendered_whole(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "m")
    entries = {e.name: e for e in (_entry(f"p{i}", i) for i in range(20))}
    Ledger.of(entries.values()).publish(storage, SimpleFormat.ALL, 1)
    page = tmp_path / "m/web/simple/index.v1_json"
    page.write_text('{"meta":{},"projects":[]}')  # edited by hand
    ledger = Ledger.load(storage)
    assert ledger is not None
    ledger.set(ProjectName("p3"), 33, "p3")
    entries[ProjectName("p3")] = _entry("p3", 33)
    ledger.publish(storage, SimpleFormat.ALL, 2)
    assert _files(tmp_path / "m") == _whole(entries, 2)


def test_display_names_that_do_not_normalize_to_the_name_are_never_spliced(
    tmp_path: Path,
) -> None:
    storage = FilesystemStorage(tmp_path / "m")
    odd = IndexEntry(ProjectName("b"), "Zed", 2)  # a page title from another tool
    entries = {e.name: e for e in [_entry("a", 1), odd, _entry("c", 3)]}
    Ledger.of(entries.values()).publish(storage, SimpleFormat.ALL, 1)
    assert "index.v1_json" not in (tmp_path / "m/projects.stamp").read_text()
    ledger = Ledger.load(storage)
    assert ledger is not None
    ledger.set(ProjectName("bb"), 4, "BB")
    entries[ProjectName("bb")] = _entry("BB", 4)
    ledger.publish(storage, SimpleFormat.ALL, 2)
    assert _files(tmp_path / "m") == _whole(entries, 2)


def test_the_journal_is_taken_in_with_the_last_line_winning(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path)
    state = MirrorState(storage)
    Ledger.of([_entry("kept", 1), _entry("gone", 2)]).publish(storage, None, 0)
    for entry in [
        Progress(ProjectName("new"), 5, "New", "ok"),
        Progress(ProjectName("gone"), 6, "gone", "removed"),
        Progress(ProjectName("new"), 7, "NEW", "partial"),
    ]:
        state.append_progress(entry)
    ledger = Ledger.load(storage)
    assert ledger is not None
    ledger.take_progress(state.read_progress())
    assert ledger.serials() == {"kept": 1, "new": 7}
    assert ledger.get(ProjectName("new")) == _entry("NEW", 7)
    assert ProjectName("gone") not in ledger


def test_the_two_html_root_pages_are_one_file(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path)
    (tmp_path / "web/simple").mkdir(parents=True)
    (tmp_path / "web/simple/index.v1_html").write_text("an older page")
    Ledger.of([_entry("a", 1)]).publish(storage, SimpleFormat.HTML, 1)
    html, v1 = (tmp_path / "web/simple/index.html"), (tmp_path / "web/simple/index.v1_html")
    assert html.read_text() == v1.read_text() == render_root_html([_entry("a", 1)])
    assert html.stat().st_ino == v1.stat().st_ino
    assert not (tmp_path / "web/simple/index.v1_json").exists()
    assert [p.name for p in (tmp_path / "web/simple").iterdir() if p.name.startswith(".")] == []


def test_only_the_ledger_when_no_root_pages_are_wanted(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path)
    ledger = Ledger.of([_entry("a", 1)])
    assert ledger.publish(storage, None, 0) == []
    assert (tmp_path / "projects").read_text() == "a\t1\ta\n"
    assert not (tmp_path / "web").exists()
    assert (tmp_path / "projects.stamp").read_text().startswith("projects ")


def test_a_malformed_ledger_line_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "projects").write_text("a\t1\ta\nb\tx\tb\n")
    ledger = Ledger.load(FilesystemStorage(tmp_path))
    assert ledger is not None
    with pytest.raises(StateError, match="line 2 is malformed"):
        ledger.serials()
