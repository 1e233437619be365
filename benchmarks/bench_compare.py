"""Side-by-side first-sync throughput: ours, pypa/bandersnatch 8.2 and the raw wire limit.

One run of this script measures every workload for three contenders, on the same fake PyPI
(``tests/fakepypi``, served from this process on 127.0.0.1; every artifact is built before
timing starts):

- raw:  every request a mirror must make (each project's ``/pypi/<name>/json``, each file,
        each PEP 658 ``.metadata``) fetched by ``xargs -P 8 curl`` (``-P 10`` when the
        workload adds latency) into a directory, each job hashing what it fetched with
        ``openssl dgst -sha256``. No pages are written: it is the ceiling.
- ours: ``python -m bandersnatch -c CONF mirror`` (this interpreter), fresh directory.
- pypa: pypa/bandersnatch 8.2 from ``benchmarks/setup_pypa.sh``, fresh directory.

Workloads: ``64k`` (1,000 projects x 2 files of 64 KiB, then a no-op run on the same
mirror), ``5m`` (100 projects x 2 files of 5 MiB) and ``64k-lat`` (the 64k universe with
30 ms before every file and ``.metadata`` answer). Each project has one release with a
wheel (PEP 658 metadata advertised) and an sdist. Every repetition runs the contenders in a
rotated order; the tables give medians and min-max over repetitions, and ratios computed
within each repetition. Nothing is asserted.

    .venv/bin/python benchmarks/bench_compare.py [--repeat 3] [--workloads 64k,5m,64k-lat]
        [--pypa /tmp/pypa-bs-8.2/bin/bandersnatch] [--ours-src PATH] [--json OUT]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakepypi import FakePyPI, FileSpec, ProjectSpec, RequestRecord, Universe  # noqa: E402
from fakepypi.artifacts import build_wheel  # noqa: E402

KIB, MIB = 1024, 1024 * 1024
DEFAULT_PYPA = "/tmp/pypa-bs-8.2/bin/bandersnatch"
TOOLS = ("raw", "ours", "pypa")

# Each xargs job fetches a batch of URLs with one curl (one kept-alive connection, like a
# mirror's session), then hashes those files with one openssl:
# `sh -c RAW_JOB sh -o OUT URL -o OUT URL ...`
RAW_JOB = r"""
files=""; prev=""
for arg; do
    [ "$prev" = "-o" ] && files="$files $arg"
    prev=$arg
done
curl -sS --fail "$@" && openssl dgst -sha256 $files > /dev/null
"""


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    projects: int
    size: int  # bytes of each file (a wheel and an sdist per project)
    latency: float = 0.0  # seconds before each /packages/ answer (files and .metadata)
    page_latency: bool = False  # the same latency also before /pypi/ and /simple/ answers
    noop: bool = False  # after the first sync, a second run with nothing new upstream

    @property
    def files(self) -> int:
        return 2 * self.projects


WORKLOADS = {
    "64k": Workload("64k", "first sync, 2,000 files x 64 KiB", 1000, 64 * KIB, noop=True),
    "5m": Workload("5m", "first sync, 200 files x 5 MiB", 100, 5 * MIB),
    "64k-lat": Workload(
        "64k-lat", "first sync, 2,000 files x 64 KiB, 30 ms per file", 1000, 64 * KIB, 0.03
    ),
}


@dataclass
class Run:
    tool: str
    rc: int
    wall: float
    cpu: float  # user + system seconds of the child and its reaped descendants (wait4)
    fake_cpu: float  # CPU seconds this process (the fake PyPI) used meanwhile
    rss_mb: float | None  # peak resident set of the child (VmHWM), None for raw
    cpu_sys: float = 0.0  # the system (kernel) part of cpu
    requests: dict[str, int] = field(default_factory=dict)
    stored_bytes: int = 0
    stored_files: int = 0
    stored_metadata: int = 0
    missing: int = 0  # expected files or .metadata absent, or of the wrong size or sha256
    dropped: int = 0  # connections that ended in an error in the fake (e.g. reset by the peer)
    log: str = ""


# -- the universe ------------------------------------------------------------------------


def wheel_padding(size: int) -> int:
    """Padding that makes a fake wheel about `size` bytes (the zip overhead is ~1 KiB)."""
    wheel, _ = build_wheel("bench-00000", "1.0", summary="benchmark", size_padding=size)
    return max(0, size - (len(wheel) - size))


def make_bench_universe(w: Workload) -> Universe:
    """`w.projects` projects, one release 1.0 each: a wheel with PEP 658 metadata and an sdist
    (raw bytes named .tar.gz: a mirror does not look inside), both about `w.size` bytes."""
    pad = wheel_padding(w.size)
    specs = [
        ProjectSpec(
            f"bench-{i:05d}",
            {
                "1.0": [
                    FileSpec("wheel", size_padding=pad),
                    FileSpec("raw", filename=f"bench_{i:05d}-1.0.tar.gz", size_padding=w.size),
                ]
            },
        )
        for i in range(w.projects)
    ]
    universe = Universe(specs)
    for project in universe.projects():  # build every artifact now, not while timing
        for f in project.files():
            _ = f.content, f.metadata, f.sha256, f.artifact.metadata_sha256
            _ = f.artifact.blake2b_256
    return universe


@dataclass
class Expected:
    """What a complete mirror of the universe stores under web/, and what raw fetches."""

    paths: dict[str, tuple[int, str]]  # "packages/.../name" (+ ".metadata"): size, sha256
    files: int
    metadata: int
    payload: int  # bytes of files + .metadata
    urls: list[tuple[str, tuple[int, str] | None]]  # raw: url path, size + sha256 (None: JSON)


def expected(universe: Universe) -> Expected:
    paths: dict[str, tuple[int, str]] = {}
    urls: list[tuple[str, tuple[int, str] | None]] = []
    files = metadata = 0
    for project in universe.projects():
        urls.append((f"/pypi/{project.normalized}/json", None))
        for f in project.files():
            paths[unquote(f.url_path).lstrip("/")] = (f.size, f.sha256)
            urls.append((f.url_path, (f.size, f.sha256)))
            files += 1
            if f.metadata is not None:
                meta = (len(f.metadata), hashlib.sha256(f.metadata).hexdigest())
                paths[unquote(f.metadata_url_path).lstrip("/")] = meta
                urls.append((f.metadata_url_path, meta))
                metadata += 1
    payload = sum(size for size, _ in paths.values())
    return Expected(paths, files, metadata, payload, urls)


def intact(path: Path, want: tuple[int, str] | None) -> bool:
    """The file exists and has the expected size and sha256 (any non-empty file for JSON)."""
    try:
        size = path.stat().st_size
    except OSError:
        return False
    if want is None:
        return size > 0
    if size != want[0]:
        return False
    return hashlib.sha256(path.read_bytes()).hexdigest() == want[1]


# -- running one contender ---------------------------------------------------------------


def kind(r: RequestRecord) -> str:
    if r.status in (301, 302, 307, 308):
        return "redirect"
    if r.xmlrpc_method:
        return "xmlrpc"
    if r.path.startswith("/packages/"):
        return ".metadata" if r.path.endswith(".metadata") else "file"
    if re.fullmatch(r"/pypi/[^/]+/json/?", r.path):
        return "json"
    if r.path == "/simple/":
        return "root"
    return "page" if r.path.startswith("/simple/") else "other"


def vm_hwm_mb(pid: int) -> float:
    """Peak resident set of a running process (VmHWM), 0 once it has exited."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    m = re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE)
    return int(m[1]) / 1024 if m else 0.0


DROPPED: Counter[str] = Counter()  # errors the fake's connection threads ended with, by type


def count_dropped(fake: FakePyPI) -> None:
    """Count, instead of printing a traceback for, each connection of the fake that ends in
    an error (a client resetting a kept-alive connection when it exits)."""
    httpd = fake._httpd
    assert httpd is not None

    def handle_error(request: object, client_address: object) -> None:
        DROPPED[type(sys.exc_info()[1]).__name__] += 1

    httpd.handle_error = handle_error  # type: ignore[method-assign]


def timed(tool: str, cmd: list[str], env: dict[str, str], fake: FakePyPI, log: Path) -> Run:
    """Run `cmd` to completion: wall time, CPU from wait4 (the child plus every descendant it
    reaped), peak RSS by polling VmHWM (ru_maxrss would be this process's, inherited across
    fork), the fake's CPU time and its request log."""
    fake.reset_log()
    dropped0 = DROPPED.total()
    with log.open("a") as out:
        out.write(f"\n===== {' '.join(cmd)}\n")
        out.flush()
        cpu0, t0, peak = time.process_time(), time.monotonic(), 0.0
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if tool != "raw":
                peak = max(peak, vm_hwm_mb(proc.pid))
            time.sleep(0.02)
        wall, fake_cpu = time.monotonic() - t0, time.process_time() - cpu0
    proc.returncode = rc = os.waitstatus_to_exitcode(status)
    records = fake.requests.snapshot()
    requests = Counter(kind(r) for r in records)
    requests["errors"] = sum(1 for r in records if r.status is None or r.status >= 400)
    cpu = usage.ru_utime + usage.ru_stime
    rss = peak if tool != "raw" else None
    run = Run(tool, rc, wall, cpu, fake_cpu, rss, usage.ru_stime, dict(requests))
    time.sleep(0.1)  # let the fake's threads see the connections close
    run.dropped = DROPPED.total() - dropped0
    return run


def check_mirror(run: Run, web: Path, exp: Expected) -> None:
    """Count what a mirror stored under web/packages and what is missing or corrupt."""
    for path in (web / "packages").rglob("*"):
        if path.is_file() and not path.name.endswith((".part", ".tmp")):
            run.stored_bytes += path.stat().st_size
            if path.name.endswith(".metadata"):
                run.stored_metadata += 1
            else:
                run.stored_files += 1
    run.missing = sum(not intact(web / rel, want) for rel, want in exp.paths.items())


def raw_batch(requests: int, parallel: int, batch: int | None) -> int:
    """URLs per curl: by default each of the `parallel` slots gets about two jobs, so process
    start-up (~10 ms of CPU for curl, ~5 ms for openssl) stays out of the ceiling."""
    return batch if batch else max(1, math.ceil(requests / (2 * parallel)))


def run_raw(
    w: Workload, fake: FakePyPI, exp: Expected, tmp: Path, log: Path, batch: int | None
) -> Run:
    out_dir = tmp / "raw"
    out_dir.mkdir()
    pairs = [(fake.url + path, out_dir / f"{i:06d}") for i, (path, _) in enumerate(exp.urls)]
    parallel = 10 if w.latency else 8
    batch = raw_batch(len(pairs), parallel, batch)
    listing = tmp / "raw-urls.txt"
    listing.write_text("".join(f"-o {out} {url}\n" for url, out in pairs))
    cmd = ["xargs", "-a", str(listing), "-P", str(parallel), "-n", str(3 * batch)]
    cmd += ["sh", "-c", RAW_JOB, "sh"]
    run = timed("raw", cmd, {**os.environ}, fake, log)
    for (_, want), (_, out) in zip(exp.urls, pairs, strict=True):
        if out.is_file():
            run.stored_bytes += out.stat().st_size
            run.stored_files += want is not None
        run.missing += not intact(out, want)
    return run


def mirror_config(tool: str, tmp: Path, fake: FakePyPI, change_feed: str) -> Path:
    body = (
        f"[mirror]\ndirectory = {tmp / 'mirror'}\nmaster = {fake.url}\nworkers = 10\n"
        "allow-non-https = true\n"
    )
    if tool == "ours":
        body += f"change-feed = {change_feed}\n"
    config = tmp / f"{tool}.conf"
    config.write_text(body)
    return config


def run_mirror(
    tool: str,
    cmd: list[str],
    env: dict[str, str],
    w: Workload,
    fake: FakePyPI,
    exp: Expected,
    tmp: Path,
    log: Path,
    change_feed: str,
) -> tuple[Run, Run | None]:
    config = mirror_config(tool, tmp, fake, change_feed)
    full = [*cmd, "-c", str(config), "mirror"]
    first = timed(tool, full, env, fake, log)
    check_mirror(first, tmp / "mirror" / "web", exp)
    noop = timed(tool, full, env, fake, log) if w.noop else None
    return first, noop


# -- contenders --------------------------------------------------------------------------


@dataclass
class Contender:
    tool: str
    cmd: list[str]
    env: dict[str, str]
    version: str


def child_env() -> dict[str, str]:
    """Both tools read and write byte code under one cache directory (PYTHONPYCACHEPREFIX),
    which the warm-up run fills: this machine sets PYTHONDONTWRITEBYTECODE, and an
    uncompiled start costs ours ~0.1 s (pypa's patched mirror.py likewise)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "bench_compare-pycache")
    return env


def ours_contender(src: str | None) -> Contender:
    env = child_env()
    if src:
        env["PYTHONPATH"] = str(Path(src).resolve()) + os.pathsep + env.get("PYTHONPATH", "")
    probe = "import bandersnatch as b; print(b.__version__, b.__file__)"
    where = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False
    ).stdout.strip()
    src_dir = Path(where.split(" ", 1)[-1]).parent if where else ROOT
    rev = subprocess.run(
        ["git", "-C", str(src_dir), "log", "-1", "--format=%h %cs", "--", "."],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(src_dir), "status", "--porcelain", "."],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    changes = ", with uncommitted changes" if dirty else ""
    version = f"{where} (package last changed in commit {rev or 'unknown'}{changes})"
    return Contender("ours", [sys.executable, "-m", "bandersnatch"], env, version)


def pypa_contender(binary: str) -> tuple[Contender | None, str]:
    env = child_env()
    env.pop("PYTHONPATH", None)
    if not Path(binary).exists():
        return None, f"{binary} does not exist (run: bash benchmarks/setup_pypa.sh)"
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=60, env=env, check=False
        )
    except OSError as exc:
        return None, f"{binary} cannot be started: {exc}"
    if out.returncode != 0:
        return None, f"{binary} --version failed: {out.stderr.strip()[-300:]}"
    return Contender("pypa", [binary], env, f"{out.stdout.strip()} ({binary})"), ""


# -- one workload, N repetitions ---------------------------------------------------------


def run_workload(
    w: Workload,
    contenders: list[Contender],
    repeat: int,
    change_feed: str = "simple",
    raw_batch: int | None = None,
    tmpdir: str | None = None,
    profile: Path | None = None,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Measure every contender (raw first in the rotation) `repeat` times on one universe."""
    t0 = time.monotonic()
    universe = make_bench_universe(w)
    exp = expected(universe)
    progress(
        f"\n## {w.title}: {exp.files} files + {exp.metadata} .metadata, "
        f"{exp.payload / 1e6:.0f} MB, {len(exp.urls)} raw requests "
        f"(universe built in {time.monotonic() - t0:.0f} s)"
    )
    names = ["raw", *(c.tool for c in contenders)]
    by_tool = {c.tool: c for c in contenders}
    firsts: dict[str, list[Run]] = {t: [] for t in names}
    noops: dict[str, list[Run]] = {t: [] for t in names if t != "raw"}
    logdir = Path(tempfile.gettempdir())
    with FakePyPI(universe) as fake:
        count_dropped(fake)
        if w.latency:
            fake.slow("/packages/", w.latency)
            if w.page_latency:
                fake.slow("/pypi/", w.latency)
                fake.slow("/simple/", w.latency)
        for rep in range(repeat):
            order = names[rep % len(names) :] + names[: rep % len(names)]
            for tool in order:
                log = logdir / f"bench_compare-{tool}.log"
                prefix = f"bench_compare-{tool}-"
                with tempfile.TemporaryDirectory(prefix=prefix, dir=tmpdir) as tmp_name:
                    tmp = Path(tmp_name)
                    if tool == "raw":
                        first, noop = run_raw(w, fake, exp, tmp, log, raw_batch), None
                    else:
                        c = by_tool[tool]
                        first, noop = run_mirror(
                            tool, c.cmd, c.env, w, fake, exp, tmp, log, change_feed
                        )
                first.log = noop_log = str(log)
                firsts[tool].append(first)
                if noop is not None:
                    noop.log = noop_log
                    noops[tool].append(noop)
                os.sync()  # flush this run's writes before the next one starts
                progress(f"  rep {rep + 1} {tool:<4} {brief(first, exp)}")
        if profile is not None:
            profile_ours(w, contenders[0], fake, tmpdir, profile, change_feed, progress)
        if fake.errors:
            progress(f"  fake PyPI internal errors: {len(fake.errors)}\n{fake.errors[0]}")
    return {
        "workload": asdict(w),
        "expected": {"files": exp.files, "metadata": exp.metadata, "payload": exp.payload},
        "raw_requests": len(exp.urls),
        "first": {t: [asdict(r) for r in runs] for t, runs in firsts.items()},
        "noop": {t: [asdict(r) for r in runs] for t, runs in noops.items() if runs},
    }


def profile_ours(
    w: Workload,
    ours: Contender,
    fake: FakePyPI,
    tmpdir: str | None,
    out_dir: Path,
    change_feed: str,
    progress: Callable[[str], None],
) -> None:
    """Two more first syncs of ours under py-spy (not in the tables: py-spy slows the run):
    every thread's stacks, then only the thread holding the GIL. Prints a short summary."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        progress("  py-spy not found: pip install -e '.[bench]'")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    for gil in (False, True):
        out = out_dir / f"ours-{w.key}{'-gil' if gil else ''}.txt"
        with tempfile.TemporaryDirectory(prefix="bench_compare-prof-", dir=tmpdir) as tmp_name:
            config = mirror_config("ours", Path(tmp_name), fake, change_feed)
            cmd = [py_spy, "record", "--format", "raw", "--threads", "--subprocesses"]
            cmd += ["--rate", "100", "-o", str(out), *(["--gil"] if gil else []), "--"]
            cmd += [*ours.cmd, "-c", str(config), "mirror"]
            run = timed("ours", cmd, ours.env, fake, out_dir / "py-spy.log")
        progress(f"  py-spy{' --gil' if gil else ''}: {out} ({run.wall:.1f} s under py-spy)")
        progress(summarize_profile(out, run.wall, gil))


def summarize_profile(path: Path, wall: float, gil: bool, top: int = 12) -> str:
    """Samples per thread and the frames most often on top of a stack (py-spy raw format)."""
    threads: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        total += n
        pid = re.match(r"process (\d+)", frames[0])
        tid = re.match(r"thread \((\d+)\)(?::\s*(.*))?", frames[1] if len(frames) > 1 else "")
        if tid is None:
            thread = "?"
        elif tid[2]:
            thread = re.sub(r"_\d+$", "_N", tid[2])  # the workers: sync_0, sync_1...
        else:  # py-spy names a thread once Python has a name for it
            thread = "MainThread" if pid and pid[1] == tid[1] else "unnamed"
        threads[thread] += n
        top_frame = frames[-1] if len(frames) > 2 else "(no Python frame)"
        leaf[re.sub(r":\d+\)$", ")", top_frame)] += n
    if not total:
        return "    (no samples)"
    lines = [
        f"    {total} samples at 100 Hz over {wall:.1f} s: "
        + ", ".join(f"{t} {100 * n / total:.0f}%" for t, n in threads.most_common(4))
    ]
    if gil:
        lines.append(
            f"    a thread held the GIL in {100 * total / (wall * 100):.0f}% of the samples"
        )
    lines += [f"    {100 * n / total:5.1f}% {f}" for f, n in leaf.most_common(top)]
    return "\n".join(lines)


def warm_up(contenders: list[Contender], tmpdir: str | None, change_feed: str) -> None:
    """One untimed first sync of a tiny universe per contender: fills the byte-code cache
    and the page cache (curl, openssl, the interpreters) before anything is measured."""
    tiny = Workload("warm-up", "warm-up", 5, 4 * KIB, noop=True)
    run_workload(tiny, contenders, 1, change_feed, tmpdir=tmpdir, progress=lambda _: None)


def brief(r: Run, exp: Expected) -> str:
    reqs = sum(v for k, v in r.requests.items() if k != "errors")
    text = f"rc {r.rc}  {r.wall:6.2f} s  cpu {r.cpu:5.1f} s  fake {r.fake_cpu:5.1f} s  "
    text += f"{reqs} requests  {exp.payload / 1e6 / r.wall:6.1f} MB/s"
    if r.missing:
        text += f"  INCOMPLETE: {r.missing} missing"
    return text


# -- reporting ---------------------------------------------------------------------------


def spread(values: Iterable[float | None], fmt: str = "{:.2f}") -> str:
    """Median and, with more than one value, the min-max range."""
    vals = [v for v in values if v is not None]
    if not vals:
        return "-"
    med = fmt.format(statistics.median(vals))
    if len(vals) == 1 or min(vals) == max(vals):
        return med
    return f"{med} ({fmt.format(min(vals))}-{fmt.format(max(vals))})"


def request_text(runs: list[dict[str, Any]]) -> str:
    def med(key: str) -> int:
        return round(statistics.median(r["requests"].get(key, 0) for r in runs))

    kinds = sorted({k for r in runs for k in r["requests"] if k != "errors"})
    total = round(statistics.median(sum(r["requests"].get(k, 0) for k in kinds) for r in runs))
    main = ("json", "file", ".metadata")
    parts = [f"{med(k):,}" for k in main]
    others = ", ".join(f"{k} {med(k)}" for k in kinds if k not in main and med(k))
    errors = med("errors")
    return (
        f"{total:,}: {' / '.join(parts)}"
        + (f" + {others}" if others else "")
        + (f" ({errors} errors)" if errors else "")
    )


def ratio(
    num: list[dict[str, Any]], den: list[dict[str, Any]], scale: float = 1.0, fmt: str = "{:.2f}"
) -> str:
    """Median (min-max) over repetitions of scale * num wall / den wall, paired by repetition."""
    pairs = [scale * a["wall"] / b["wall"] for a, b in zip(num, den, strict=False) if b["wall"]]
    return spread(pairs, fmt)


def workload_table(res: dict[str, Any]) -> list[str]:
    w, exp, first = res["workload"], res["expected"], res["first"]
    lines = [
        f"**{w['title']}** ({exp['files']:,} files + {exp['metadata']:,} `.metadata`, "
        f"{exp['payload'] / 1e6:,.0f} MB"
        + (
            f"; {w['latency'] * 1000:.0f} ms before each file and `.metadata` answer"
            + (", and each page" if w["page_latency"] else ", none before JSON API/pages")
            if w["latency"]
            else "; no added latency"
        )
        + ")",
        "",
        "| tool | wall s | files/s | MB/s | % of raw speed | pypa wall / ours wall | "
        "CPU s | of which sys | fake CPU s | peak RSS MB | requests: json / file / .metadata | "
        "stored MB | complete |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for tool, runs in first.items():
        if not runs:
            continue
        walls = [r["wall"] for r in runs]
        pct = "100" if tool == "raw" else ratio(first["raw"], runs, scale=100, fmt="{:.0f}")
        vs = ratio(first["pypa"], runs) if tool == "ours" and first.get("pypa") else "-"
        bad = [r for r in runs if r["missing"] or r["rc"]]
        complete = "yes" if not bad else f"NO: {len(bad)} of {len(runs)} runs"
        lines.append(
            f"| {tool} | {spread(walls)} | "
            f"{spread((exp['files'] / x for x in walls), '{:.0f}')} | "
            f"{spread((exp['payload'] / 1e6 / x for x in walls), '{:.1f}')} | {pct} | {vs} | "
            f"{spread((r['cpu'] for r in runs), '{:.1f}')} | "
            f"{spread((r['cpu_sys'] for r in runs), '{:.1f}')} | "
            f"{spread((r['fake_cpu'] for r in runs), '{:.1f}')} | "
            f"{spread((r['rss_mb'] for r in runs), '{:.0f}')} | {request_text(runs)} | "
            f"{spread((r['stored_bytes'] / 1e6 for r in runs), '{:.1f}')} | {complete} |"
        )
    return lines


def noop_table(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "**no-op run** (a second run on the mirror a first sync of the 64 KiB workload just "
        "made; nothing new upstream)",
        "",
        "| tool | wall s | CPU s | peak RSS MB | upstream requests |",
        "|---|---|---|---|---|",
    ]
    found = False
    for res in results:
        for tool, runs in res["noop"].items():
            found = True
            lines.append(
                f"| {tool} | {spread(r['wall'] for r in runs)} | "
                f"{spread((r['cpu'] for r in runs), '{:.2f}')} | "
                f"{spread((r['rss_mb'] for r in runs), '{:.0f}')} | "
                f"{request_text(runs).replace(' / ', '/')} |"
            )
    return lines if found else []


def warnings(results: list[dict[str, Any]]) -> list[str]:
    out = []
    for res in results:
        w = res["workload"]["key"]
        for phase in ("first", "noop"):
            for tool, runs in res[phase].items():
                for i, r in enumerate(runs, 1):
                    if r["rc"]:
                        out.append(f"{w} {phase} {tool} rep {i}: exit code {r['rc']} ({r['log']})")
                    if r.get("dropped"):
                        out.append(
                            f"{w} {phase} {tool} rep {i}: {r['dropped']} connection(s) of the "
                            "fake ended in an error (e.g. reset by the client)"
                        )
                    if r["missing"]:
                        out.append(
                            f"{w} {phase} {tool} rep {i}: INCOMPLETE, {r['missing']} of "
                            f"{res['expected']['files'] + res['expected']['metadata']} expected "
                            f"files/.metadata missing, or of the wrong size or sha256 ({r['log']})"
                        )
    return out


def filesystem(directory: str | None) -> str:
    """The type of the filesystem a directory is on, from /proc/mounts."""
    path = Path(directory or tempfile.gettempdir()).resolve()
    best, fstype = "", "unknown"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return fstype
    for line in mounts:
        fields = line.split()
        if len(fields) > 2 and path.is_relative_to(fields[1]) and len(fields[1]) > len(best):
            best, fstype = fields[1], fields[2]
    return fstype


def header(meta: dict[str, Any]) -> list[str]:
    return [
        f"- machine: {meta['cpus']} CPUs ({meta['machine']}), Python {meta['python']}; "
        "the fake PyPI runs in the benchmark's process and shares the same cores "
        "(its CPU time is the `fake CPU s` column)",
        f"- load average before / after: {meta['load_before']} / {meta['load_after']}; "
        f"mirrors written under {meta['tmpdir']}",
        f"- ours: {meta['ours']}; `workers = 10`, `allow-non-https = true`, "
        f"`change-feed = {meta['change_feed']}`, every other key at its default "
        "(`core-metadata = true`)",
        f"- pypa: {meta['pypa']}; `workers = 10`, `allow-non-https = true`, every other key "
        "at its defaults.conf value (`core-metadata = true`, `simple-format = ALL`, "
        "`json = false`)",
        "- raw: `xargs -P 8` (`-P 10` with latency) jobs of "
        f"{meta['raw_batch'] or 'about 1/16 (1/20 with latency) of the'} URLs each: one "
        "`curl` over one kept-alive connection, then one `openssl dgst -sha256` of those "
        "files; no pages written",
        f"- {meta['repeat']} repetitions, contenders in rotated order; cells are "
        "median (min-max); ratios are computed within each repetition, then medianed",
        "- files/s and MB/s: the workload's files and files + `.metadata` bytes / wall time "
        "(the same numerator for every tool)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated")
    parser.add_argument("--pypa", default=DEFAULT_PYPA, help="pypa/bandersnatch executable")
    parser.add_argument("--no-pypa", action="store_true", help="skip pypa/bandersnatch")
    parser.add_argument(
        "--ours-src", metavar="PATH", help="a src/ directory to put first on our PYTHONPATH"
    )
    parser.add_argument(
        "--change-feed",
        choices=("simple", "xmlrpc"),
        default="simple",
        help="our change-feed (pypa 8.2 always diffs the PEP 691 /simple/ root)",
    )
    parser.add_argument(
        "--page-latency",
        action="store_true",
        help="latency workloads also delay /pypi/ and /simple/ answers",
    )
    parser.add_argument(
        "--raw-batch",
        type=int,
        metavar="N",
        help="URLs per curl+openssl job of the raw contender (default: about 2 jobs per "
        "parallel slot; 1 = one curl per URL)",
    )
    parser.add_argument(
        "--tmpdir",
        metavar="DIR",
        help="where the mirrors and raw downloads go (default: the system temp dir)",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        type=Path,
        help="after each workload, run ours twice more under py-spy (all threads; --gil) "
        "and write the raw stacks to DIR",
    )
    parser.add_argument("--json", metavar="OUT", help="write every measurement to OUT")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every workload's project count"
    )
    args = parser.parse_args()
    for tool in ("curl", "openssl", "xargs"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed for the raw contender")

    contenders = [ours_contender(args.ours_src)]
    pypa_version = "not run (--no-pypa)"
    if not args.no_pypa:
        pypa, why = pypa_contender(args.pypa)
        if pypa is None:
            pypa_version = f"not run: {why}"
            print(f"pypa/bandersnatch not compared: {why}")
        else:
            contenders.append(pypa)
            pypa_version = pypa.version
    meta: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "ours": contenders[0].version,
        "pypa": pypa_version,
        "change_feed": args.change_feed,
        "raw_batch": args.raw_batch,
        "tmpdir": f"{args.tmpdir or tempfile.gettempdir()} ({filesystem(args.tmpdir)})",
        "repeat": args.repeat,
        "load_before": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    print(f"ours: {meta['ours']}\npypa: {meta['pypa']}")
    print(
        f"{meta['cpus']} CPUs; the fake PyPI runs in this process on 127.0.0.1 and shares them. "
        f"Logs: {tempfile.gettempdir()}/bench_compare-<tool>.log"
    )
    warm_up(contenders, args.tmpdir, args.change_feed)
    results = []
    for key in args.workloads.split(","):
        w = WORKLOADS[key.strip()]
        if args.page_latency and w.latency:
            w = dataclasses.replace(w, page_latency=True)
        if args.scale != 1.0:
            projects = max(1, round(w.projects * args.scale))
            w = dataclasses.replace(w, projects=projects, title=f"{w.title} (x{args.scale:g})")
        results.append(
            run_workload(
                w,
                contenders,
                args.repeat,
                args.change_feed,
                args.raw_batch,
                args.tmpdir,
                args.profile,
            )
        )
    meta["load_after"] = " ".join(f"{x:.1f}" for x in os.getloadavg())

    print("\n" + "\n".join(header(meta)) + "\n")
    for res in results:
        print("\n".join(workload_table(res)) + "\n")
    print("\n".join(noop_table(results)))
    problems = warnings(results)
    if problems:
        print("\nWARNINGS:\n" + "\n".join(f"- {p}" for p in problems))
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=1))
        print(f"\nmeasurements written to {args.json}")


if __name__ == "__main__":
    main()
