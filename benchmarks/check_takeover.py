"""Take over a mirror that the released pypa/bandersnatch wrote, and show what it costs.

pypa/bandersnatch (``benchmarks/setup_pypa.sh`` installs 8.2.0 in its own venv) makes a first
sync of a fake PyPI on 127.0.0.1; one upload follows; then our ``mirror`` runs on the same
directory and our ``verify`` checks the result. Prints the exit codes and the upstream
requests of each step: a clean takeover downloads only the new file and verify repairs
nothing. Not a test (the suite cannot install pypa/bandersnatch from PyPI); run it by hand:

    .venv/bin/python benchmarks/check_takeover.py [--pypa /tmp/pypa-bs-8.2/bin/bandersnatch]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakepypi import FakePyPI, FileSpec, make_universe  # noqa: E402

OURS = [sys.executable, "-m", "bandersnatch"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pypa", default="/tmp/pypa-bs-8.2/bin/bandersnatch")
    parser.add_argument("--projects", type=int, default=60)
    args = parser.parse_args()
    universe = make_universe(n_projects=args.projects, seed=3, big_project_files=30)
    with FakePyPI(universe) as fake, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bandersnatch.conf"
        config.write_text(
            f"[mirror]\ndirectory = {tmp}/mirror\nmaster = {fake.url}\n"
            "workers = 4\nallow-non-https = true\n"
        )
        steps = [
            ("pypa/bandersnatch first sync", [args.pypa, "-c", str(config), "mirror"]),
            ("ours after one upload", [*OURS, "-c", str(config), "mirror"]),
            ("our verify", [*OURS, "-c", str(config), "verify"]),
        ]
        worst = 0
        for number, (label, cmd) in enumerate(steps):
            if number == 1:
                universe.add_release("bigproject", "99.0", [FileSpec("wheel")])
            fake.reset_log()
            result = subprocess.run(cmd, capture_output=True, text=True, check=False)
            files = [r.path for r in fake.requests if r.path.startswith("/packages/")]
            print(f"{label}: exit {result.returncode}, {len(fake.requests)} requests, "
                  f"{len(files)} of them files")  # fmt: skip
            if number:
                print("  " + "\n  ".join(result.stderr.strip().splitlines()[-3:]))
            worst = max(worst, result.returncode)
        return worst


if __name__ == "__main__":
    sys.exit(main())
