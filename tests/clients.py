"""Run real pip and uv offline against a local index, in fresh venvs, with a scrubbed
environment (no pip/uv config, no find-links, no proxies)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

# Prints {normalized name: (metadata version, imported __version__)} of what is installed.
PROBE = """
import importlib, importlib.metadata as md, json, re
out = {}
for d in md.distributions():
    name = re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower()
    out[name] = [d.version, importlib.import_module(name.replace("-", "_")).__version__]
print(json.dumps(out))
"""


def client_env(home: Path) -> dict[str, str]:
    """The parent environment minus pip/uv/proxy/venv settings, with config files disabled."""
    drop = ("PIP_", "UV_", "PYTHON", "VIRTUAL_ENV", "CONDA")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(drop) and not k.lower().endswith("_proxy")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        NO_PROXY="127.0.0.1,localhost",
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INPUT="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        UV_NO_CONFIG="1",
    )
    return env


def run(cmd: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    home.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=client_env(home),
        cwd=home,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{cmd}\n{result.stdout}\n{result.stderr}"
    return result


def fresh_venv(where: Path) -> Path:
    run([sys.executable, "-m", "venv", "--without-pip", str(where / "venv")], where / "home")
    return where / "venv" / "bin" / "python"


def installed(python: Path, home: Path) -> dict[str, tuple[str, str]]:
    found = json.loads(run([str(python), "-c", PROBE], home).stdout)
    return {name: tuple(versions) for name, versions in found.items()}


def uv_binary() -> str:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv is not None, "uv is a test dependency: pip install -e '.[test]'"
    return uv
