"""Planning is pure: exact inputs, exact plans."""

from __future__ import annotations

from bandersnatch.models import ProjectName, normalize
from bandersnatch.planning import collect_changes, make_plan

A, B, C = ProjectName("a"), ProjectName("b"), ProjectName("c")


def test_changes_keep_the_newest_serial_per_project_and_normalize() -> None:
    pages = [([normalize("Foo.Bar"), A], [5, 7]), ([normalize("foo_bar")], [9])]
    changes, target = collect_changes(pages, 3)
    assert changes == {ProjectName("foo-bar"): 9, A: 7}
    assert target == 9


def test_changes_out_of_order_still_keep_the_newest_serial() -> None:
    changes, target = collect_changes([([A, B, A], [9, 4, 5]), ([B], [2])], 1)
    assert changes == {A: 9, B: 4}
    assert target == 9


def test_no_changes_keeps_the_base_serial() -> None:
    assert collect_changes([], 42) == ({}, 42)


def test_plan_is_union_of_saved_todo_and_changes_minus_finished() -> None:
    plan = make_plan(
        target=100,
        changes={B: 90, C: 95},
        saved=[([A, B], [50, 60])],
        finished={A: 50},
        accept=lambda name: True,
    )
    assert plan.projects == {B: 90, C: 95}
    assert plan.target_serial == 100


def test_finished_project_changed_again_is_synced() -> None:
    plan = make_plan(100, {A: 99}, [([A], [50])], {A: 50}, lambda name: True)
    assert plan.projects == {A: 99}


def test_target_is_never_raised_past_the_feed_serial() -> None:
    # list_packages_with_serial can list projects newer than the serial read first
    plan = make_plan(100, {A: 120}, [], {}, lambda name: True)
    assert plan.target_serial == 100


def test_filter_drops_projects() -> None:
    plan = make_plan(10, {A: 1, B: 2}, [([C], [3])], {}, lambda name: name != B)
    assert plan.projects == {A: 1, C: 3}


def test_a_finished_project_is_skipped_unless_still_owed_or_changed_since() -> None:
    saved = [([A, B, C], [5, 5, 5])]
    plan = make_plan(100, {A: 5, B: 9, C: 4}, saved, {A: 5, B: 5, C: 4}, None)
    assert plan.projects == {B: 9, C: 5}  # C: finished below what the todo owes


def test_plan_is_in_name_order_and_none_accepts_every_name() -> None:
    plan = make_plan(10, {C: 1, A: 2}, [([B], [3])], {}, None)
    assert list(plan.projects.items()) == [(A, 2), (B, 3), (C, 1)]
    plan = make_plan(10, {C: 1, A: 2}, [], {}, None)
    assert list(plan.projects) == [A, C]
