"""Benchmark: what grows with the size of PyPI, measured with the real CLI at 10k to 700k projects.

A minimal fake upstream on 127.0.0.1 (pre-rendered XML-RPC answers, a tiny JSON API document
per project, the PEP 691 JSON root with an ETag) serves N projects with no files, and the
script times ``python -m bandersnatch -c CONF mirror`` for each step below, with its peak RSS
(``VmHWM`` polled from /proc: ``ru_maxrss`` of a child counts this process's RSS, inherited
across fork). Mirror state that would take hours to reach for real (a first sync interrupted
with one project left) is written with the project's own writers. Nothing is asserted.

    .venv/bin/python benchmarks/bench_scale.py [--sizes 10000,100000,700000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xmlrpc.client
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TextIO

from bandersnatch.journal import Progress, progress_line
from bandersnatch.models import IndexEntry, ProjectName, SimpleFormat, SimplePage, normalize
from bandersnatch.simple.render import PageOptions
from bandersnatch.site.publish import Publisher
from bandersnatch.state import MirrorState
from bandersnatch.storage import FilesystemStorage

PAGE = 50_000
"""Rows per ``changelog_since_serial`` answer, as on PyPI."""
STYLES = ("pkg-{}", "Pkg_{}", "pkg.{}.x", "PKG{}", "py-{}-tool")


class Upstream:
    """N projects (serials 1..N), then changelog events; answers are rendered once."""

    def __init__(self, n: int) -> None:
        self.display = [STYLES[i % len(STYLES)].format(i) for i in range(n)]
        self.serial = list(range(1, n + 1))
        self.index = {normalize(d): i for i, d in enumerate(self.display)}
        self.events: list[tuple[int, int]] = []  # (serial, project index), ascending
        self.last = n
        self.requests: Counter[str] = Counter()
        self._cache: dict[object, bytes] = {}
        self._lock = threading.Lock()

    def bump(self, projects: list[int]) -> None:
        for i in projects:
            self.last += 1
            self.serial[i] = self.last
            self.events.append((self.last, i))
        self._cache.clear()

    def xmlrpc(self, body: bytes) -> bytes:
        params, method = xmlrpc.client.loads(body)
        self.requests[str(method)] += 1
        if method == "changelog_last_serial":
            return xmlrpc.client.dumps((self.last,), methodresponse=True).encode()
        if method == "list_packages_with_serial":
            return self._cached("list", self._listing)
        if method == "changelog_since_serial":
            since = int(str(params[0]))
            return self._cached(("since", since), lambda: self._since(since))
        return xmlrpc.client.dumps(xmlrpc.client.Fault(1, f"no method {method}")).encode()

    def _cached(self, key: object, make: Callable[[], bytes]) -> bytes:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = make()
            return self._cache[key]

    def _listing(self) -> bytes:
        listing = dict(zip(self.display, self.serial, strict=True))
        return xmlrpc.client.dumps((listing,), methodresponse=True).encode()

    def _since(self, serial: int) -> bytes:
        start = bisect.bisect_right(self.events, (serial, len(self.serial)))
        rows = [
            [self.display[i], "1.0", 1_700_000_000 + s, "new release", s]
            for s, i in self.events[start : start + PAGE]
        ]
        return xmlrpc.client.dumps((rows,), methodresponse=True, allow_none=True).encode()

    def warm_changelog(self, serial: int) -> None:
        """Render every page a catch-up from ``serial`` asks for, before timing starts."""
        while True:
            self.xmlrpc(xmlrpc.client.dumps((serial,), "changelog_since_serial").encode())
            start = bisect.bisect_right(self.events, (serial, len(self.serial)))
            page = self.events[start : start + PAGE]
            if len(page) < PAGE:
                break
            serial = page[-1][0]
        self.requests.clear()

    def project_json(self, name: str) -> tuple[bytes, int] | None:
        i = self.index.get(ProjectName(name))
        if i is None:
            return None
        doc = {
            "info": {"name": self.display[i], "version": "1.0"},
            "last_serial": self.serial[i],
            "releases": {"1.0": []},
            "urls": [],
        }
        return json.dumps(doc).encode(), self.serial[i]

    def root_json(self) -> tuple[bytes, str]:
        def render() -> bytes:
            projects = [
                {"name": d, "_last-serial": s}
                for d, s in sorted(zip(self.display, self.serial, strict=True))
            ]
            meta = {"api-version": "1.1", "_last-serial": self.last}
            return json.dumps({"meta": meta, "projects": projects}).encode()

        body = self._cached("root", render)
        return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def serve(up: Upstream) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def reply(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.reply(200, up.xmlrpc(body), "text/xml", {})

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/simple/":
                up.requests["simple-root"] += 1
                body, etag = up.root_json()
                if self.headers.get("If-None-Match") == etag:
                    self.reply(304, b"", "application/vnd.pypi.simple.v1+json", {"ETag": etag})
                    return
                ctype = "application/vnd.pypi.simple.v1+json"
                self.reply(200, body, ctype, {"ETag": etag, "X-PyPI-Last-Serial": str(up.last)})
                return
            m = re.fullmatch(r"/pypi/([^/]+)/json", path)
            found = up.project_json(m[1]) if m else None
            up.requests["json-api"] += 1
            if found is None:
                self.reply(404, b"not found", "text/plain", {})
                return
            self.reply(200, found[0], "application/json", {"X-PyPI-Last-Serial": str(found[1])})

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a run killed on purpose (until todo is written) drops its connection

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Measured:
    wall: float
    rss: float  # MiB
    rc: int
    cpu: float = 0.0  # user + system seconds of the child (whole run, from wait4)
    extra: float = 0.0  # seconds from the signal to exit (SIGTERM step)


def vm_hwm(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    m = re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE)
    return int(m[1]) / 1024 if m else 0.0


PROFILE: list[Path] = []
"""Set by ``--profile DIR``: every run is sampled by py-spy into DIR/<n>.txt."""


def run_cli(config: Path, log: Path, until: Path | None = None, term_after: float = -1) -> Measured:
    """Run ``mirror``. With ``until``: stop the clock (and the peak RSS) when that file
    appears, then SIGKILL the run, or SIGTERM it ``term_after`` seconds later and time the
    exit."""
    cmd = [sys.executable, "-m", "bandersnatch", "-c", str(config), "mirror"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    os.sync()  # no run pays for the writeback of what an earlier step wrote
    with log.open("a") as out:
        start, peak = time.monotonic(), 0.0
        seen: Measured | None = None
        signalled = 0.0
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        if PROFILE:
            profile(proc.pid, out)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            now = time.monotonic()
            if seen is None:
                peak = max(peak, vm_hwm(proc.pid))
                if until is not None and until.exists():
                    seen = Measured(now - start, peak, 0)
                    if term_after < 0:
                        proc.kill()
            elif not signalled and term_after >= 0 and now - start >= seen.wall + term_after:
                proc.send_signal(signal.SIGTERM)
                signalled = now
            time.sleep(0.005)
        end = time.monotonic()
    rc = os.waitstatus_to_exitcode(status)
    proc.returncode = rc
    cpu = usage.ru_utime + usage.ru_stime
    if seen is not None:
        seen.rc, seen.cpu = rc, cpu
        seen.extra = end - signalled if signalled else 0.0
        return seen
    return Measured(end - start, peak, rc, cpu)


def profile(pid: int, out: TextIO) -> None:
    """Sample every thread of ``pid`` with py-spy until it exits (raw format, one file)."""
    directory = PROFILE[0]
    target = directory / f"{len(list(directory.glob('*.txt'))):03d}.txt"
    spy = Path(sys.executable).with_name("py-spy")
    cmd = [str(spy), "record", "--pid", str(pid), "--threads", "--nonblocking"]
    subprocess.Popen([*cmd, "--format", "raw", "-o", str(target)], stdout=out, stderr=out)
    out.write(f"profile of {pid}: {target}\n")
    out.flush()


def checkpoint_every() -> int:
    """CHECKPOINT_EVERY of the version measured (0: it has none)."""
    code = "from bandersnatch.commands.mirror import CHECKPOINT_EVERY as c; print(c)"
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    return int(found.stdout) if found.returncode == 0 else 0


class Scale:
    """One size: the upstream, a mirror directory and the steps run against it."""

    def __init__(self, n: int, tmp: Path, repeat: int) -> None:
        self.n, self.repeat = n, repeat
        self.up = Upstream(n)
        self.server = serve(self.up)
        self.dir = tmp / "mirror"
        self.saved = tmp / "saved-state"
        self.log = tmp / "cli.log"
        self.config = self.write_config(tmp / "xmlrpc.conf", "xmlrpc")
        self.results: dict[str, Measured] = {}

    def write_config(self, path: Path, feed: str) -> Path:
        port = self.server.server_address[1]
        path.write_text(
            f"[mirror]\ndirectory = {self.dir}\nmaster = http://127.0.0.1:{port}\n"
            f"allow-non-https = true\nworkers = 10\ntimeout = 60\nretries = 2\n"
            f"retry-backoff = 0.01\nchange-feed = {feed}\n"
        )
        return path

    def median(self, label: str, runs: list[Measured]) -> None:
        with self.log.open("a") as out:
            out.write(f"===== done: {label}\n")
        pick = sorted(runs, key=lambda m: m.wall)[len(runs) // 2]
        rss = statistics.median(m.rss for m in runs)
        cpu = statistics.median(m.cpu for m in runs)
        extra = statistics.median(m.extra for m in runs)
        self.results[label] = Measured(pick.wall, rss, pick.rc, cpu, extra)
        walls = ", ".join(f"{m.wall:.2f}" for m in runs)
        print(f"  {label}: {walls} s; {rss:.0f} MiB; cpu {cpu:.2f} s; rc {pick.rc}", flush=True)

    def first_sync(self) -> None:
        self.up.xmlrpc(xmlrpc.client.dumps((), "list_packages_with_serial").encode())  # now
        runs = []
        for _ in range(self.repeat):
            shutil.rmtree(self.dir, ignore_errors=True)
            runs.append(run_cli(self.config, self.log, until=self.dir / "todo", term_after=0.0))
        self.median("first sync, until todo is written", runs)
        exits = sorted(m.extra for m in runs)
        print(f"  SIGTERM: exit after {', '.join(f'{e:.2f}' for e in exits)} s", flush=True)
        self.results["SIGTERM once todo is written: time to exit"] = Measured(
            statistics.median(exits), 0.0, runs[0].rc
        )
        shutil.rmtree(self.saved, ignore_errors=True)
        shutil.copytree(self.dir, self.saved, symlinks=True)

    def restore_interrupted(self, checkpoint: int) -> None:
        """The state of a first sync interrupted with one project left: what the SIGTERMed
        run left (todo, journal, any ledger), with every project but one done. With
        ``checkpoint`` (the measured version's CHECKPOINT_EVERY), the worst case of such a
        run: its last checkpoint ``checkpoint - 1`` projects ago, written with the project's
        own writers (ledger, todo), and a journal of the projects done since."""
        for leaf in ("projects", "projects.stamp", "status", "todo.progress", "failures"):
            (self.dir / leaf).unlink(missing_ok=True)
        for leaf in ("index.html", "index.v1_html", "index.v1_json"):
            (self.dir / "web/simple" / leaf).unlink(missing_ok=True)
        for item in self.saved.iterdir():
            if item.is_file():
                shutil.copy2(item, self.dir / item.name)
        lines = (self.dir / "todo").read_text().splitlines()
        names = [ProjectName(line.split(" ")[0]) for line in lines[1:]]
        shutil.rmtree(self.dir / "web/simple" / names[-1], ignore_errors=True)
        up, journalled = self.up, names[:-1]
        if checkpoint:
            from bandersnatch.ledger import Ledger  # only the versions with checkpoints have it

            cut = max(0, len(names) - checkpoint)
            done = (
                IndexEntry(n, up.display[up.index[n]], up.serial[up.index[n]]) for n in names[:cut]
            )
            storage = FilesystemStorage(self.dir)
            Ledger.of(done).publish(storage, None, 0)
            owed = {n: up.serial[up.index[n]] for n in names[cut:]}
            MirrorState(storage).write_todo(int(lines[0]), owed)
            journalled = names[cut:-1]
        journal = "".join(
            progress_line(Progress(n, up.serial[up.index[n]], up.display[up.index[n]], "ok")) + "\n"
            for n in journalled
        )
        (self.dir / "todo.progress").write_text(journal)

    def resume(self, label: str, checkpoint: int) -> None:
        runs = []
        for _ in range(self.repeat):
            self.restore_interrupted(checkpoint)
            runs.append(run_cli(self.config, self.log))
        self.median(label, runs)

    def write_pages(self) -> None:
        storage = FilesystemStorage(self.dir)
        publisher = Publisher(storage, SimpleFormat.ALL, False, PageOptions())
        for name, i in self.up.index.items():
            page = SimplePage(name, self.up.display[i], self.up.serial[i], ("1.0",), ())
            publisher.project_pages(page)

    def changed(self) -> None:
        runs = []
        rng = random.Random(self.n)
        for _ in range(self.repeat):
            self.up.bump([rng.randrange(self.n)])
            runs.append(run_cli(self.config, self.log))
        self.median("a run where one project changed", runs)
        self.median("no-op run", [run_cli(self.config, self.log) for _ in range(self.repeat)])

    def simple_noop(self) -> None:
        config = self.write_config(self.config.with_name("simple.conf"), "simple")
        run_cli(config, self.log)  # the first run with this feed
        runs, counts = [], []
        for _ in range(self.repeat):
            self.up.requests.clear()
            runs.append(run_cli(config, self.log))
            counts.append(sum(self.up.requests.values()))
        self.median(f"change-feed = simple, no-op ({max(counts)} requests)", runs)

    def catch_up(self, events: int) -> None:
        rng = random.Random(events)
        status = self.up.last
        self.up.bump([rng.randrange(self.n) for _ in range(events)])
        self.up.warm_changelog(status)
        runs = []
        for _ in range(self.repeat):
            runs.append(run_cli(self.config, self.log, until=self.dir / "todo"))
            for leaf in ("todo", "todo.progress"):
                (self.dir / leaf).unlink(missing_ok=True)
        self.median(f"catch up {events:,} changelog events, until todo is written", runs)

    def run_all(self) -> dict[str, Measured]:
        print(f"{self.n:,} projects (CLI log: {self.log})", flush=True)
        self.first_sync()
        every = checkpoint_every()
        self.resume("resume a first sync with 1 project left", every)
        self.resume("the same, all but one in the journal (no checkpoint)", 0)
        self.write_pages()
        self.resume("the same, finished projects' pages on disk", every)
        self.changed()
        self.simple_noop()
        self.catch_up(1_000_000)
        self.server.shutdown()
        return self.results


def table(sizes: list[int], results: list[dict[str, Measured]]) -> str:
    head = "| step | " + " | ".join(f"{n:,}" for n in sizes) + " |"
    rows = [head, "|---" * (len(sizes) + 1) + "|"]
    for label in results[0]:
        cells = []
        for r in results:
            m = next((v for k, v in r.items() if k.split(" (")[0] == label.split(" (")[0]), None)
            if m is None:
                cells.append("")
            elif label.startswith("SIGTERM"):
                cells.append(f"{m.wall:.2f} s (rc {m.rc})")
            else:
                bad = "" if m.rc in (0, 5, -9) else f" rc {m.rc}"
                cells.append(f"{m.wall:.2f} s, {m.rss:.0f} MiB{bad}")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,700000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the mirror directories")
    parser.add_argument(
        "--child-pythonpath", metavar="DIR", help="PYTHONPATH of the CLI runs (another copy)"
    )
    parser.add_argument("--profile", metavar="DIR", help="sample every run with py-spy")
    args = parser.parse_args()
    if args.profile:
        PROFILE.append(Path(args.profile))
        PROFILE[0].mkdir(parents=True, exist_ok=True)
    if args.child_pythonpath:
        os.environ["PYTHONPATH"] = args.child_pythonpath
    sizes = [int(s) for s in args.sizes.split(",")]
    where = [sys.executable, "-c", "import bandersnatch as b; print(b.__file__)"]
    print(
        "measuring",
        subprocess.run(where, capture_output=True, text=True, check=False).stdout.strip(),
    )
    results = []
    for n in sizes:
        tmp = Path(tempfile.mkdtemp(prefix=f"bench-scale-{n}-"))
        try:
            results.append(Scale(n, tmp, args.repeat).run_all())
        finally:
            if not args.keep:
                shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(table(sizes, results))


if __name__ == "__main__":
    main()
