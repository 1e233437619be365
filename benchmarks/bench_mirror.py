"""Benchmark: ``bandersnatch mirror`` against the fake PyPI of ``tests/fakepypi``.

For each worker count, on a fresh mirror directory: a first full sync, an update run after 20
new uploads (two one-wheel releases in each of 10 projects), then a no-op run. Prints wall
time, the child's CPU time and peak RSS, files and MB stored, and the upstream requests by
kind. The fake runs in this process (127.0.0.1 only) and adds ``--latency`` seconds to every
JSON API, simple page and file request, so a run is not just a CPU race on loopback.
``--compare-pypa BIN`` runs a released pypa/bandersnatch the same way. Nothing is asserted.

    .venv/bin/python benchmarks/bench_mirror.py [--projects 2000] [--latency 0.01]
        [--workers 3,10] [--compare-pypa /tmp/pypa-bs/bin/bandersnatch]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakepypi import FakePyPI, FileSpec, RequestRecord, Universe, make_universe  # noqa: E402

OURS = [sys.executable, "-m", "bandersnatch"]
# pypa/bandersnatch 6.x reads these [mirror] keys (its defaults.conf fills in the rest)
PYPA_KEYS = """timeout = 10
global-timeout = 1800
hash-index = false
stop-on-error = false
json = false
release-files = true
cleanup = false
storage-backend = filesystem
simple-format = ALL
compare-method = hash
verifiers = 3
keep_index_versions = 0
"""


@dataclass
class Run:
    label: str
    rc: int
    wall: float
    cpu: float  # user + system seconds of the child
    rss_mb: float  # peak resident set of the child
    fake_cpu: float  # CPU seconds this process (the fake) spent serving
    requests: Counter[str] = field(default_factory=Counter)
    files: int = 0
    mb: float = 0.0


def kind(r: RequestRecord) -> str:
    if r.xmlrpc_method:
        return r.xmlrpc_method
    if r.path.startswith("/packages/"):
        return "metadata" if r.path.endswith(".metadata") else "file"
    if re.fullmatch(r"/pypi/[^/]+/json/?", r.path):
        return "json-api"
    if r.path == "/simple/":
        return "simple-root"
    return "simple-page" if r.path.startswith("/simple/") else r.path


def stored(directory: Path) -> tuple[int, int]:
    """(distribution files, bytes incl. .metadata) under web/packages."""
    files = size = 0
    for path in (directory / "web" / "packages").rglob("*"):
        if path.is_file() and not path.name.endswith((".part", ".tmp")):
            files += not path.name.endswith(".metadata")
            size += path.stat().st_size
    return files, size


def child_env(cmd: list[str]) -> dict[str, str]:
    """Our CLI inherits PYTHONPATH (to measure a snapshot); another tool must not."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if cmd[0] != sys.executable:
        env.pop("PYTHONPATH", None)
    return env


def vm_hwm_mb(pid: int) -> float:
    """Peak resident set of a running process (VmHWM), 0 once it has exited."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    m = re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE)
    return int(m[1]) / 1024 if m else 0.0


def run_cli(cmd: list[str], fake: FakePyPI, label: str, log: Path) -> Run:
    """Run one mirror; the child's CPU time comes from wait4, its peak RSS from polling
    /proc (ru_maxrss would include this process's RSS, inherited across fork and exec)."""
    fake.reset_log()
    cpu0, t0, peak = time.process_time(), time.monotonic(), 0.0
    with log.open("a") as out:
        out.write(f"\n===== {label}: {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=child_env(cmd))
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, vm_hwm_mb(proc.pid))
            time.sleep(0.02)
        proc.returncode = rc = os.waitstatus_to_exitcode(status)
    wall, fake_cpu = time.monotonic() - t0, time.process_time() - cpu0
    counts = Counter(kind(r) for r in fake.requests)
    counts["errors"] = sum(1 for r in fake.requests if r.status is None or r.status >= 400)
    cpu = usage.ru_utime + usage.ru_stime
    return Run(label, rc, wall, cpu, peak, fake_cpu, counts)


def write_config(tmp: Path, tool: str, fake: FakePyPI, workers: int, meta: str) -> Path:
    body = f"[mirror]\ndirectory = {tmp / 'mirror'}\nmaster = {fake.url}\nworkers = {workers}\n"
    body += "allow-non-https = true\n"
    if tool == "ours":
        body += f"retry-backoff = 0.01\ntimeout = 10\ncore-metadata = {meta}\n"
    else:
        body += PYPA_KEYS
    config = tmp / "bandersnatch.conf"
    config.write_text(body)
    return config


def add_uploads(universe: Universe, tag: int) -> list[tuple[str, str]]:
    """20 new uploads: releases 99.<tag>.0 and 99.<tag>.1 (one wheel each) in 10 projects."""
    names = sorted(p.name for p in universe.projects() if p.releases and p.name != "bigproject")
    step = max(1, len(names) // 10)
    added = []
    for name in names[::step][:10]:
        for version in (f"99.{tag}.0", f"99.{tag}.1"):
            universe.add_release(name, version, [FileSpec("wheel")])
            added.append((name, version))
    warm(universe)
    return added


def warm(universe: Universe) -> None:
    """Build every artifact now, so the fake's lazy building is not timed."""
    for project in universe.projects():
        for f in project.files():
            _ = f.content, f.metadata


def scenario(
    tool: str, cmd: list[str], fake: FakePyPI, workers: int, tag: int, meta: str
) -> list[Run]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{tool}-") as tmp_name:
        tmp = Path(tmp_name)
        config = write_config(tmp, tool, fake, workers, meta)
        full = [*cmd, "-c", str(config), "mirror"]
        log = Path(tempfile.gettempdir()) / f"bench_mirror-{tool}-w{workers}.log"
        log.write_text("")
        runs = [run_cli(full, fake, "first sync", log)]
        runs[0].files, size = stored(tmp / "mirror")
        runs[0].mb = size / 1e6
        before = runs[0].files, size
        added = add_uploads(fake.universe, tag)
        runs.append(run_cli(full, fake, "+20 uploads", log))
        after = stored(tmp / "mirror")
        runs[1].files, runs[1].mb = after[0] - before[0], (after[1] - before[1]) / 1e6
        runs.append(run_cli(full, fake, "no-op", log))
        for name, version in added:  # the next scenario starts from the same universe
            fake.universe.remove_release(name, version)
        print(f"  ({tool} workers={workers}: log in {log})", flush=True)
    return runs


def pypa_check(binary: str) -> str | None:
    """Why pypa/bandersnatch cannot run here, or None."""
    if not Path(binary).exists():
        return f"{binary} does not exist"
    try:
        cmd = [binary, "--version"]
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=60, check=False, env=child_env(cmd)
        )
    except OSError as exc:
        return f"{binary} cannot be started: {exc}"
    if out.returncode != 0:
        return f"{binary} --version failed: {out.stderr.strip()[-300:]}"
    print(f"pypa: {out.stdout.strip()} ({binary})")
    return None


def table(tool: str, workers: int, runs: list[Run]) -> None:
    head = f"{'run':<12} {'rc':>2} {'wall s':>7} {'cpu s':>6} {'fake s':>6} {'RSS MB':>6}"
    print(f"\n{tool}, workers={workers}")
    print(f"{head} {'files':>6} {'MB':>6} {'files/s':>7} {'MB/s':>6} {'reqs':>6}  by kind")
    for r in runs:
        rate = f"{r.files / r.wall:7.0f} {r.mb / r.wall:6.2f}" if r.files else f"{'-':>7} {'-':>6}"
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(r.requests.items()) if v)
        total = sum(v for k, v in r.requests.items() if k != "errors")
        print(
            f"{r.label:<12} {r.rc:>2} {r.wall:7.2f} {r.cpu:6.2f} {r.fake_cpu:6.2f} "
            f"{r.rss_mb:6.0f} {r.files:6d} {r.mb:6.1f} {rate} {total:6d}  {kinds}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.01, help="seconds per request")
    parser.add_argument("--workers", default="3,10", help="comma-separated worker counts")
    parser.add_argument(
        "--core-metadata",
        choices=("true", "false"),
        default="true",
        help="our [mirror] core-metadata (pypa 6.8 never fetches PEP 658 .metadata files)",
    )
    parser.add_argument("--compare-pypa", metavar="BIN", help="a pypa/bandersnatch executable")
    args = parser.parse_args()
    tools = [("ours", OURS)]
    where = [*OURS[:1], "-c", "import bandersnatch as b; print(b.__version__, b.__file__)"]
    print(
        "ours:", subprocess.run(where, capture_output=True, text=True, check=False).stdout.strip()
    )
    if args.compare_pypa:
        reason = pypa_check(args.compare_pypa)
        if reason:
            print(f"pypa/bandersnatch not compared: {reason}")
        else:
            tools.append(("pypa", [args.compare_pypa]))
    universe = make_universe(n_projects=args.projects, seed=1, big_project_files=500)
    warm(universe)
    with FakePyPI(universe) as fake:
        if args.latency > 0:
            for prefix in ("/packages/", "/pypi/", "/simple/"):
                fake.slow(prefix, args.latency)
        print(
            f"universe: {len(universe.projects())} projects, "
            f"{sum(len(p.files()) for p in universe.projects())} files; "
            f"latency {args.latency * 1000:.0f} ms per request; {os.cpu_count()} CPUs"
        )
        tag = 0
        for tool, cmd in tools:
            for workers in (int(w) for w in args.workers.split(",")):
                tag += 1
                runs = scenario(tool, cmd, fake, workers, tag, args.core_metadata)
                meta = f" (core-metadata {args.core_metadata})" if tool == "ours" else ""
                table(tool + meta, workers, runs)
        if fake.errors:
            print(f"\nfake PyPI internal errors: {len(fake.errors)}\n{fake.errors[0]}")


if __name__ == "__main__":
    main()
