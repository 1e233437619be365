"""Run real pip, uv, poetry and pdm offline against a local index, in fresh venvs, with a
scrubbed environment: no config, no cache, no find-links; every proxy variable points at a
closed local port, so a client that tried any host but 127.0.0.1 would fail."""

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


DEAD_PROXY = "http://127.0.0.1:9"


def client_env(home: Path) -> dict[str, str]:
    """The parent environment minus client/proxy/venv settings, config files disabled,
    every config, cache and data directory below ``home``."""
    drop = ("PIP_", "UV_", "POETRY_", "PDM_", "PYTHON", "VIRTUAL_ENV", "CONDA")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(drop) and not k.lower().endswith("_proxy")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        HTTP_PROXY=DEAD_PROXY,
        HTTPS_PROXY=DEAD_PROXY,
        ALL_PROXY=DEAD_PROXY,
        http_proxy=DEAD_PROXY,
        https_proxy=DEAD_PROXY,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INPUT="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        UV_NO_CONFIG="1",
        PDM_CHECK_UPDATE="false",  # pdm would ask PyPI for a newer pdm
    )
    return env


def run(
    cmd: list[str], home: Path, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    home.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env={**client_env(home), **env},
        cwd=cwd or home,
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


def tool(name: str) -> str:
    """A client the test extra installs beside this Python (uv, poetry, pdm)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found is not None, f"{name} is a test dependency: pip install -e '.[test]'"
    return found


def uv_binary() -> str:
    return tool("uv")
