"""The scheduling files in ``contrib/`` are what a systemd or cron setup can run as shipped:
the units pass ``systemd-analyze verify`` with no warning, and every command line in them is
one the CLI accepts."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from bandersnatch.cli import build_parser

CONTRIB = Path(__file__).resolve().parents[1] / "contrib"
BIN = "/usr/local/bin/bandersnatch"


def _exec_start(unit: str) -> list[str]:
    line = next(x for x in unit.splitlines() if x.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def test_systemd_units_verify_cleanly(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed (Debian: apt-get install -y systemd)"
    service = (CONTRIB / "systemd" / "bandersnatch.service").read_text()
    assert BIN in service and "/srv/pypi" in service
    # where this checkout's bandersnatch is, and a mirror directory that exists
    here = str(Path(sys.executable).with_name("bandersnatch"))
    (tmp_path / "bandersnatch.service").write_text(
        service.replace(BIN, here).replace("/srv/pypi", str(tmp_path))
    )
    shutil.copy(CONTRIB / "systemd" / "bandersnatch.timer", tmp_path)
    result = subprocess.run(
        [analyze, "verify", "bandersnatch.service", "bandersnatch.timer"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""  # a typo is a warning with exit 0: none allowed


def test_the_service_is_hardened_and_may_write_only_the_mirror() -> None:
    service = (CONTRIB / "systemd" / "bandersnatch.service").read_text()
    settings = dict(
        line.split("=", 1) for line in service.splitlines() if "=" in line and line[0] != "#"
    )
    assert settings["ProtectSystem"] == "strict"
    assert settings["ReadWritePaths"] == "/srv/pypi"
    assert settings["NoNewPrivileges"] == "true"
    assert settings["SuccessExitStatus"] == "1"  # some projects failed: retried next run


def test_command_lines_are_ones_the_cli_accepts() -> None:
    service = (CONTRIB / "systemd" / "bandersnatch.service").read_text()
    argv = _exec_start(service)
    assert argv[0] == BIN
    assert build_parser().parse_args(argv[1:]).command == "mirror"
    cron = [
        x for x in (CONTRIB / "cron" / "bandersnatch").read_text().splitlines()
        if x.strip() and not x.startswith("#")
    ]  # fmt: skip
    assert len(cron) == 1
    fields = cron[0].split(None, 6)
    assert fields[5] == "bandersnatch"  # /etc/cron.d lines name the user
    words = shlex.split(fields[6].split("|")[0].replace("2>&1", ""))
    start = words.index(BIN)
    assert build_parser().parse_args(words[start + 1 :]).command == "mirror"
