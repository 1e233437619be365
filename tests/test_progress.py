"""Progress and --quiet through the real CLI: a live line on a terminal (a pty), plain lines
under cron (a pipe), warnings and errors only with --quiet."""

from __future__ import annotations

import os
import pty
import subprocess
import threading
from pathlib import Path

from fakepypi import FakePyPI
from harness import CLI, Mirror, make_mirror

_WIPE = "\r\x1b[K"


def run_on_a_terminal(mirror: Mirror, *args: str) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal; (exit code, what the terminal got)."""
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        proc = subprocess.run(
            [*CLI, "-c", str(mirror.config), *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave,
            timeout=240, check=False, env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
    finally:
        os.close(slave)
        reader.join(timeout=30)
        os.close(master)
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace")


def test_a_terminal_gets_a_live_line(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    fake_pypi.slow("/packages/", seconds=0.15)  # a run long enough for several redraws
    mirror = make_mirror(tmp_path, fake_pypi, {"workers": "1"})
    code, seen = run_on_a_terminal(mirror, "mirror")
    assert code == 0, seen[-3000:]
    drawn = [part.split("\x1b[K")[0] for part in seen.split("\r")[1:]]
    lines = [d for d in drawn if d.startswith("mirror: ")]
    assert lines, seen[-3000:]
    assert all(" projects, " in d and " files, " in d and "/s" in d for d in lines)
    assert any("ETA " in d for d in lines)
    done = [int(d.split(" ")[1].split("/")[0]) for d in lines]
    assert done == sorted(done) and {int(d.split("/")[1].split(" ")[0]) for d in lines} == {6}
    assert "summary: " in seen  # the log still reaches the terminal, below the line
    last_draw = seen.rindex("\rmirror: ")
    assert seen.index(_WIPE, last_draw + 1) < seen.index("summary: ")  # wiped before the end


def test_no_terminal_gets_plain_lines_only(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    fake_pypi.slow("/packages/", seconds=0.1)
    fake_pypi.fail("/pypi/yanky/json", status=500, times=None)
    mirror = make_mirror(tmp_path, fake_pypi, {"workers": "1"})
    result = mirror.run("mirror")  # stderr is a pipe, as under cron
    assert result.returncode == 1
    assert "summary: " in result.stderr and "yanky" in result.stderr
    assert "\r" not in result.stderr and "\x1b" not in result.stderr
    assert all(c.isprintable() or c == "\n" for c in result.stderr)


def test_quiet_shows_warnings_and_errors_only(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    fake_pypi.fail("/pypi/yanky/json", status=500, times=None)
    mirror = make_mirror(tmp_path, fake_pypi)
    result = mirror.run("mirror", "--quiet")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines and all(" INFO: " not in line for line in lines)
    assert any(" ERROR: " in line and "yanky" in line for line in lines)
    fake_pypi.reset_faults()
    again = subprocess.run(
        [*CLI, "-q", "-c", str(mirror.config), "mirror"],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert again.returncode == 0 and again.stderr == ""


def test_quiet_on_a_terminal_draws_no_line(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    fake_pypi.slow("/packages/", seconds=0.1)
    mirror = make_mirror(tmp_path, fake_pypi, {"workers": "1"})
    code, seen = run_on_a_terminal(mirror, "mirror", "-q")
    assert code == 0 and seen == ""
