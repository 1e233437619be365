"""``change-feed = simple``: a run asks upstream whether its root index changed at all, with
the validator the last complete run stored, so a run with nothing new reads nothing."""

from __future__ import annotations

import json
from pathlib import Path

from fakepypi import FakePyPI, FileSpec
from harness import Mirror, make_mirror


def _roots(fake: FakePyPI) -> list[tuple[int | None, str | None]]:
    return [(r.status, r.header("If-None-Match")) for r in fake.requests if r.path == "/simple/"]


def _run(mirror: Mirror, *args: str) -> None:
    result = mirror.run("mirror", *args)
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_run_with_nothing_new_costs_one_conditional_request(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = make_mirror(tmp_path, fake_pypi, {"change-feed": "simple"})
    _run(mirror)
    validator = json.loads((mirror.directory / "feed-validator").read_text())
    fake_pypi.reset_log()
    _run(mirror)
    assert _roots(fake_pypi) == [(304, validator["etag"])]
    assert len(list(fake_pypi.requests)) == 1
    fake_pypi.universe.add_release("dep-leaf", "9.0", [FileSpec("sdist")])
    fake_pypi.reset_log()
    _run(mirror)  # the root changed: read it, sync what it says changed
    assert _roots(fake_pypi) == [(200, validator["etag"])]
    assert "9.0" in mirror.page_json("dep-leaf")["versions"]  # type: ignore[operator]
    root = json.loads((mirror.web / "simple/index.v1_json").read_text())
    assert root["meta"]["_last-serial"] == fake_pypi.universe.last_serial
    fake_pypi.reset_log()
    _run(mirror)
    assert [status for status, _etag in _roots(fake_pypi)] == [304]


def test_a_project_that_failed_is_retried_even_when_the_root_is_unchanged(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = make_mirror(tmp_path, fake_pypi, {"change-feed": "simple", "retries": "0"})
    _run(mirror)
    fake_pypi.universe.add_release("dep-leaf", "9.0", [FileSpec("sdist")])
    fake_pypi.fail("/simple/dep-leaf/", status=503, times=None)
    assert mirror.run("mirror").returncode == 1
    fake_pypi.reset_faults()
    fake_pypi.reset_log()
    _run(mirror)
    assert [status for status, _etag in _roots(fake_pypi)] == [304]
    assert "9.0" in mirror.page_json("dep-leaf")["versions"]  # type: ignore[operator]
    assert not (mirror.directory / "todo").exists()


def test_without_validators_or_with_force_check_the_root_is_read_every_run(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    mirror = make_mirror(tmp_path, fake_pypi, {"change-feed": "simple"})
    fake_pypi.root_etag = False
    _run(mirror)
    assert not (mirror.directory / "feed-validator").exists()
    fake_pypi.reset_log()
    _run(mirror)
    assert _roots(fake_pypi) == [(200, None)]
    fake_pypi.root_etag = True
    _run(mirror)
    fake_pypi.reset_log()
    _run(mirror, "--force-check")
    assert _roots(fake_pypi) == [(200, None)]


def test_a_validator_for_another_master_is_not_sent(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = make_mirror(tmp_path, fake_pypi, {"change-feed": "simple"})
    _run(mirror)
    saved = mirror.directory / "feed-validator"
    doc = json.loads(saved.read_text())
    saved.write_text(json.dumps({**doc, "url": "https://elsewhere.invalid/simple/"}))
    fake_pypi.reset_log()
    _run(mirror)
    assert _roots(fake_pypi) == [(200, None)]
