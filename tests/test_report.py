"""The run report (``web/status.json``) and the Prometheus text file, through the real CLI
against the fake PyPI."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from bandersnatch.metrics import render

from fakepypi import FakePyPI, FileSpec
from harness import CLI, Mirror, make_mirror
from servers import InProcess


def status(mirror: Mirror) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((mirror.web / "status.json").read_text())
    return doc


def upstream_serial(fake: FakePyPI) -> int:
    return fake.universe.last_serial


def test_a_run_with_one_failing_project_names_it_and_why(
    tmp_path: Path, fake_pypi: FakePyPI
) -> None:
    fake_pypi.fail("/pypi/yanky/json", status=500, times=None)
    mirror = make_mirror(tmp_path, fake_pypi)
    before = time.time()
    result = mirror.run("mirror")
    assert result.returncode == 1, result.stderr[-3000:]
    doc = status(mirror)
    assert doc["schema_version"] == 1 and doc["last_command"] == "mirror"
    run = doc["runs"]["mirror"]
    assert run["exit_code"] == 1 and run["command"] == "mirror"
    [failure] = run["failures"]
    assert failure["project"] == "yanky"
    assert "500" in failure["reason"] and failure["runs"] == 1
    assert time.strptime(failure["since"], "%Y-%m-%dT%H:%M:%SZ")
    assert run["projects"]["failed"] == 1 and run["deferred"] == []
    summary = re.search(r"summary: (\d+) projects synced", result.stderr)
    assert summary and run["projects"]["synced"] == int(summary[1]) > 0
    assert run["projects"]["planned"] == 6  # the small universe
    assert run["serial_before"] is None
    assert run["upstream_serial"] == upstream_serial(fake_pypi)
    assert run["serial_after"] == int((mirror.directory / "status").read_text())
    assert run["lag_serials"] == run["upstream_serial"] - run["serial_after"]
    files = [p for p in (mirror.web / "packages").rglob("*") if p.is_file()]
    stored = sum(p.stat().st_size for p in files if p.suffix != ".metadata")  # from wheels
    assert run["files"]["bytes"] == stored and run["files"]["downloaded"] > 0
    assert run["last_success"] is None
    started = time.mktime(time.strptime(run["started"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert before - 2 <= started <= time.time()
    mode = stat.S_IMODE((mirror.web / "status.json").stat().st_mode)
    assert mode == 0o644
    assert not mirror.temp_files()

    # the next run fails it again: "since" stays the first failure, runs counts up
    time.sleep(1.1)
    # something new to sync, so the run retries yanky with it
    fake_pypi.universe.add_release("dep-leaf", "2.0", [FileSpec("wheel")])
    assert mirror.run("mirror").returncode == 1
    again = status(mirror)["runs"]["mirror"]
    [failure2] = again["failures"]
    assert failure2["project"] == "yanky" and failure2["since"] == failure["since"]
    assert failure2["runs"] == 2
    assert again["serial_before"] == run["serial_after"]

    # once it syncs, the run is a success and says when
    fake_pypi.reset_faults()
    assert mirror.run("mirror").returncode == 0
    ok = status(mirror)["runs"]["mirror"]
    assert ok["failures"] == [] and ok["exit_code"] == 0
    assert ok["last_success"] == ok["ended"] and ok["lag_serials"] == 0


def test_metrics_file_parses_as_prometheus_text(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    fake_pypi.fail("/pypi/yanky/json", status=500, times=None)
    metrics = tmp_path / "textfile" / "bandersnatch.prom"
    mirror = make_mirror(tmp_path, fake_pypi, {"metrics-file": str(metrics)})
    assert mirror.run("mirror").returncode == 1
    assert mirror.run("verify").returncode == 0
    run = status(mirror)["runs"]["mirror"]
    families = {f.name: f for f in text_string_to_metric_families(metrics.read_text())}

    def value(name: str, command: str = "mirror") -> float:
        family = families[f"bandersnatch_{name}"]
        assert family.type == "gauge" and family.documentation
        [sample] = [s for s in family.samples if s.labels.get("command") == command]
        return float(sample.value)

    assert value("exit_code") == 1 and value("exit_code", "verify") == 0
    assert value("failed_projects") == 1
    assert value("serial") == run["serial_after"]
    assert value("upstream_serial") == upstream_serial(fake_pypi)
    assert value("lag_serials") == run["lag_serials"]
    assert value("files_downloaded") == run["files"]["downloaded"] > 0
    assert value("bytes_downloaded") == run["files"]["bytes"] > 0
    assert abs(value("last_run_timestamp_seconds") - time.time()) < 120
    assert value("run_duration_seconds") >= 0
    assert value("last_success_timestamp_seconds", "verify") >= value("last_run_timestamp_seconds")
    last_success = families["bandersnatch_last_success_timestamp_seconds"]
    assert {s.labels["command"] for s in last_success.samples} == {"verify"}  # mirror never
    assert [p.name for p in metrics.parent.iterdir()] == ["bandersnatch.prom"]  # no temp left
    assert stat.S_IMODE(metrics.stat().st_mode) == 0o644


def test_sync_verify_and_delete_each_record_their_run(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = make_mirror(tmp_path, fake_pypi)
    assert mirror.run("mirror").returncode == 0
    assert mirror.run("sync", "dep-leaf").returncode == 0
    (mirror.web / "packages").joinpath("stray.whl").write_bytes(b"x")
    assert mirror.run("verify").returncode == 0
    ledger = (mirror.directory / "projects").read_text().splitlines()
    assert mirror.run("delete", "pyreq").returncode == 0
    runs = status(mirror)["runs"]
    assert set(runs) == {"mirror", "sync", "verify", "delete"}
    assert status(mirror)["last_command"] == "delete"
    assert runs["sync"]["projects"]["synced"] == 1 and runs["sync"]["exit_code"] == 0
    assert runs["verify"]["verify"]["orphans"] == 1
    assert runs["verify"]["verify"]["projects"] == len(ledger) > 0
    assert runs["delete"]["projects"]["removed"] == 1
    assert runs["delete"]["delete"]["removed"] == ["pyreq"]
    serial = runs["mirror"]["serial_after"]
    assert runs["delete"]["serial_before"] == runs["delete"]["serial_after"] == serial


def test_a_dry_run_verify_or_delete_writes_no_report(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = make_mirror(tmp_path, fake_pypi)
    assert mirror.run("mirror").returncode == 0
    before = (mirror.web / "status.json").read_bytes()
    assert mirror.run("verify", "--dry-run").returncode == 0
    assert mirror.run("delete", "--dry-run", "pyreq").returncode == 0
    assert (mirror.web / "status.json").read_bytes() == before


def test_status_file_elsewhere_and_off(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    elsewhere = tmp_path / "monitor" / "status.json"
    mirror = make_mirror(tmp_path / "a", fake_pypi, {"status-file": str(elsewhere)})
    assert mirror.run("mirror").returncode == 0
    assert json.loads(elsewhere.read_text())["runs"]["mirror"]["exit_code"] == 0
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o644
    assert not (mirror.web / "status.json").exists()
    off = make_mirror(tmp_path / "b", fake_pypi, {"status-file": ""})
    assert off.run("mirror").returncode == 0
    assert not (off.web / "status.json").exists()


def test_an_unreachable_upstream_is_recorded_with_its_exit_code(tmp_path: Path) -> None:
    nowhere = SimpleNamespace(url="http://127.0.0.1:9")  # nothing listens on the discard port
    mirror = make_mirror(tmp_path, nowhere)  # type: ignore[arg-type]
    result = mirror.run("mirror")
    assert result.returncode == 4, result.stderr[-2000:]
    run = status(mirror)["runs"]["mirror"]
    assert run["exit_code"] == 4 and run["error"]
    assert run["upstream_serial"] is None and run["last_success"] is None


def test_sigterm_records_the_interrupted_run(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    fake_pypi.slow("/packages/", seconds=0.5)
    mirror = make_mirror(tmp_path, fake_pypi, {"workers": "1"})
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        [*CLI, "-c", str(mirror.config), "mirror"],
        stderr=subprocess.PIPE, text=True, env=env,
    ) as proc:  # fmt: skip
        assert proc.stderr is not None
        for line in proc.stderr:
            if "syncing" in line:
                break
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 5
    run = status(mirror)["runs"]["mirror"]
    assert run["exit_code"] == 5 and "stop signal" in run["error"]
    assert run["projects"]["planned"] == 6


def test_stop_on_error_leaves_the_rest_deferred(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    fake_pypi.fail("/pypi/dep-leaf/json", status=500, times=None)  # the first in name order
    mirror = make_mirror(tmp_path, fake_pypi, {"workers": "1", "stop-on-error": "true"})
    assert mirror.run("mirror").returncode == 1
    run = status(mirror)["runs"]["mirror"]
    assert [f["project"] for f in run["failures"]] == ["dep-leaf"]
    assert run["deferred"] and run["projects"]["deferred"] == len(run["deferred"])
    assert all(d["reason"] == "not synced (stopped early)" for d in run["deferred"])
    todo = (mirror.directory / "todo").read_text().splitlines()[1:]
    kept = {line.split()[0] for line in todo}
    assert {d["project"] for d in run["deferred"]} | {"dep-leaf"} == kept


def test_serve_serves_the_report_as_json(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = make_mirror(tmp_path, fake_pypi)
    assert mirror.run("mirror").returncode == 0
    with InProcess(mirror.web) as server:
        answer = requests.get(server.url + "/status.json", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["runs"]["mirror"]["exit_code"] == 0


def test_metrics_leave_out_what_a_run_did_not_know() -> None:
    run = {
        "ended": "2026-12-02T10:00:00Z",
        "last_success": None,
        "exit_code": 4,
        "serial_after": None,
        "upstream_serial": None,
        "lag_serials": None,
        "duration_seconds": 1.5,
        "projects": {"synced": 0, "failed": 0},
        "files": {"downloaded": 0, "bytes": 0},
    }
    text = render({"version": '1.0"x', "runs": {"mirror": run, 'we"ird': {"exit_code": 0}}})
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert "bandersnatch_serial" not in families and "bandersnatch_lag_serials" not in families
    assert "bandersnatch_last_success_timestamp_seconds" not in families
    [ended] = families["bandersnatch_last_run_timestamp_seconds"].samples
    assert ended.value == 1796205600  # 2026-12-02T10:00:00Z
    codes = {s.labels["command"]: s.value for s in families["bandersnatch_exit_code"].samples}
    assert codes == {"mirror": 4, 'we"ird': 0}
    [info] = families["bandersnatch_info"].samples
    assert info.labels["version"] == '1.0"x'
    assert families["bandersnatch_run_duration_seconds"].samples[0].value == 1.5
