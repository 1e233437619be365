"""Benchmark: ``bandersnatch verify`` in stat mode over a synthetic mirror of 100,000 files.

Builds, in a temporary directory, a mirror laid out exactly as ``mirror`` writes it (files
under content-addressed ``web/packages/<aa>/<bb>/<rest>/``, HTML and JSON pages, ledger, root
index), then times the real CLI. Nothing is damaged, so verify never needs upstream; the
configured master is a closed port on 127.0.0.1 and is never contacted.

    .venv/bin/python benchmarks/bench_verify.py [--files 100000] [--per-project 10] [--hash]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bandersnatch.ledger import Ledger
from bandersnatch.models import (
    IndexEntry,
    PageFile,
    ProjectName,
    ReleaseFile,
    SimpleFormat,
    SimplePage,
)
from bandersnatch.simple.render import PageOptions
from bandersnatch.site.publish import Publisher
from bandersnatch.state import MirrorState
from bandersnatch.storage import FilesystemStorage


def build(directory: Path, files: int, per_project: int) -> tuple[int, int]:
    """Write the mirror; return (projects, bytes stored)."""
    storage = FilesystemStorage(directory)
    publisher = Publisher(storage, SimpleFormat.ALL, False, PageOptions())
    ledger: dict[ProjectName, IndexEntry] = {}
    stored = 0
    projects = (files + per_project - 1) // per_project
    for p in range(projects):
        name = ProjectName(f"project-{p:06d}")
        page_files = []
        for i in range(min(per_project, files - p * per_project)):
            filename = f"project_{p:06d}-{i}.0.tar.gz"
            content = f"{name} {i}\n".encode() * 4
            digest = hashlib.sha256(content).hexdigest()
            blake = hashlib.blake2b(content, digest_size=32).hexdigest()
            rel = f"{blake[:2]}/{blake[2:4]}/{blake[4:]}/{filename}"
            target = directory / "web" / "packages" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            stored += len(content)
            release = ReleaseFile(
                filename=filename,
                url=f"https://files.pythonhosted.org/packages/{rel}",
                path=rel,
                version=f"{i}.0",
                size=len(content),
                sha256=digest,
                upload_time="2026-01-01T00:00:00.000000Z",
            )
            page_files.append(PageFile(release, False))
        versions = tuple(f.file.version for f in page_files)
        publisher.project_pages(SimplePage(name, name, p + 1, versions, tuple(page_files)))
        ledger[name] = IndexEntry(name, name, p + 1)
    state = MirrorState(storage)
    state.write_status(projects)
    state.check_generation()
    publisher.root_index(Ledger.of(ledger.values()), projects)
    return projects, stored


def run_verify(directory: Path, *extra: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    config = directory.parent / "bandersnatch.conf"
    config.write_text(
        "[mirror]\n"
        f"directory = {directory}\n"
        "master = http://127.0.0.1:9\n"
        "allow-non-https = true\n"
        "compare-method = stat\n"
    )
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "bandersnatch", "-c", str(config), "verify", *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--per-project", type=int, default=10)
    parser.add_argument("--hash", action="store_true", help="also time a --hash run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        directory = Path(tmp) / "mirror"
        started = time.perf_counter()
        projects, stored = build(directory, args.files, args.per_project)
        print(f"built {args.files} files ({stored} bytes) in {projects} projects "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        runs = [("stat", ()), ("stat, second run", ())]
        if args.hash:
            runs.append(("--hash", ("--hash",)))
        for label, extra in runs:
            seconds, result = run_verify(directory, *extra)
            if result.returncode != 0:
                print(result.stderr, file=sys.stderr)
                return 1
            summary = [line for line in result.stderr.splitlines() if "verify:" in line]
            rate = args.files / seconds
            print(f"verify ({label}): {seconds:.2f} s wall, {rate:,.0f} files/s")
            print("   ", summary[-1].split("INFO: ")[-1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
