#!/usr/bin/env bash
# Install the released pypa/bandersnatch 8.2.0 from PyPI into its own venv, for
# benchmarks/bench_compare.py and benchmarks/plot_throughput.py to compare against.
#
#   bash benchmarks/setup_pypa.sh [VENV]        # default VENV: /tmp/pypa-bs-8.2
#
# 8.2.0 declares Requires-Python >= 3.12, and exactly one line of it needs 3.12 syntax: the
# PEP 695 type parameter of the nested helper `storage_plugin_exec[T]` in mirror.py. This
# script installs it with --ignore-requires-python on this machine's python3 (3.11) and
# rewrites that one line without the type parameter (annotations become Any), then checks
# that `bin/bandersnatch --version` runs. PYTHON=... picks another interpreter.
set -euo pipefail

VENV=${1:-/tmp/pypa-bs-8.2}
PYTHON=${PYTHON:-python3}
VERSION=8.2.0

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --ignore-requires-python \
    "bandersnatch==$VERSION"

SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
MIRROR_PY="$SITE/bandersnatch/mirror.py"
OLD='async def storage_plugin_exec\[T\](fn: Callable\[\.\.\., T\], \*args: Any) -> T:'
NEW='async def storage_plugin_exec(fn: Callable[..., Any], *args: Any) -> Any:'
if grep -q "$OLD" "$MIRROR_PY"; then
    sed -i "s/$OLD/$NEW/" "$MIRROR_PY"
    echo "patched the PEP 695 line of $MIRROR_PY"
    "$VENV/bin/python" -m compileall -q "$MIRROR_PY"  # its installed .pyc is now stale
fi
# Nothing else of the package may need Python 3.12 (its tests/ are not used)
"$VENV/bin/python" - "$SITE/bandersnatch" <<'EOF'
import pathlib
import sys

bad = []
for path in pathlib.Path(sys.argv[1]).rglob("*.py"):
    if "tests" in path.parts:
        continue
    try:
        compile(path.read_bytes(), str(path), "exec")
    except SyntaxError as exc:
        bad.append(f"{path}:{exc.lineno}: {exc.msg}")
if bad:
    sys.exit("still not valid on this Python:\n" + "\n".join(bad))
EOF

"$VENV/bin/bandersnatch" --version
echo "pypa/bandersnatch $VERSION is ready: $VENV/bin/bandersnatch"
