"""State files: lock, status, todo, progress journal, ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from bandersnatch.errors import MirrorLocked, StateError
from bandersnatch.journal import Progress, ProgressColumns, add_finished
from bandersnatch.ledger import Ledger
from bandersnatch.models import IndexEntry, ProjectName
from bandersnatch.site.readback import ledger_from_pages
from bandersnatch.state import MirrorState, mirror_lock
from bandersnatch.storage import FilesystemStorage

A, B = ProjectName("a"), ProjectName("b-c")


def _state(root: Path) -> MirrorState:
    return MirrorState(FilesystemStorage(root))


def _finished(state: MirrorState) -> dict[ProjectName, int]:
    done: dict[ProjectName, int] = {}
    for chunk in state.read_progress():
        add_finished(done, chunk)
    return done


def test_second_lock_holder_is_refused(tmp_path: Path) -> None:
    first, second = FilesystemStorage(tmp_path), FilesystemStorage(tmp_path)
    with mirror_lock(first), pytest.raises(MirrorLocked) as info, mirror_lock(second):
        pass
    assert info.value.path.endswith(".lock")
    with mirror_lock(second):  # released again after the block
        pass


def test_todo_round_trip_and_progress_journal(tmp_path: Path) -> None:
    state = _state(tmp_path)
    state.write_todo(100, {B: 7, A: 3})
    assert (tmp_path / "todo").read_text() == "100\na 3\nb-c 7\n"
    state.append_progress(Progress(A, 3, "A", "ok"))
    state.append_progress(Progress(B, 7, "B.c", "partial"))
    with open(tmp_path / "todo.progress", "a") as fh:
        fh.write("b-c 9 rem")  # a line cut short by a crash
    todo = state.read_todo()
    assert todo is not None and todo.target_serial == 100 and todo.projects == {A: 3, B: 7}
    assert list(state.read_progress()) == [
        ProgressColumns([A, B], ["3", "7"], ["ok", "partial"], ["A", "B.c"])
    ]
    assert _finished(state) == {A: 3}
    state.write_todo(100, {B: 7})  # a re-plan keeps what the journal says is done
    assert _finished(state) == {A: 3}
    state.clear_todo()
    assert not (tmp_path / "todo").exists() and not (tmp_path / "todo.progress").exists()


def test_a_todo_in_another_shape_is_read_line_by_line(tmp_path: Path) -> None:
    (tmp_path / "todo").write_text("5\nFoo.Bar 3\n\nbaz\nqux x1\nb-c 4")
    todo = _state(tmp_path).read_todo()
    assert todo is not None and todo.target_serial == 5
    assert todo.projects == {ProjectName("foo-bar"): 3, ProjectName("baz"): 0, B: 4}


def test_corrupt_todo_is_set_aside_not_lost(tmp_path: Path) -> None:
    (tmp_path / "todo").write_bytes(b"not a serial\nfoo 1\n")
    assert _state(tmp_path).read_todo() is None
    aside = list(tmp_path.glob("todo.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b"not a serial\nfoo 1\n"


def test_corrupt_status_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "status").write_text("garbage")
    with pytest.raises(StateError, match=r"status.*force-check"):
        _state(tmp_path).read_status()
    assert (tmp_path / "status").read_text() == "garbage"


def test_unknown_generation_is_refused(tmp_path: Path) -> None:
    (tmp_path / "generation").write_text("9")
    with pytest.raises(StateError, match="generation 9"):
        _state(tmp_path).check_generation()


def test_ledger_round_trip_and_rebuild_from_pages(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path)
    ledger = {A: IndexEntry(A, "A", 3), B: IndexEntry(B, "B_c", 7)}
    Ledger.of(ledger.values()).publish(storage, None, 0)
    assert (tmp_path / "projects").read_text() == "a\t3\tA\nb-c\t7\tB_c\n"
    loaded = Ledger.load(storage)
    assert loaded is not None and loaded.entries() == ledger
    simple = tmp_path / "web/simple"
    (simple / "a").mkdir(parents=True)
    (simple / "a/index.v1_json").write_text('{"name": "a", "meta": {"_last-serial": 3}}')
    (simple / "a/index.html").write_text("<title>Links for A</title>\n<!--SERIAL 2-->")
    (simple / "b-c").mkdir()
    (simple / "b-c/index.html").write_text("<title>Links for B_c</title>\n<!--SERIAL 7-->")
    (simple / "index.html").write_text("root")
    rebuilt = ledger_from_pages(FilesystemStorage(tmp_path), hash_index=False)
    assert rebuilt.entries() == {A: IndexEntry(A, "A", 3), B: IndexEntry(B, "B_c", 7)}
