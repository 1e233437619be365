"""Run the real ``bandersnatch`` CLI against a fake PyPI, and read the mirror it wrote."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from fakepypi import FakePyPI

CLI = [sys.executable, "-m", "bandersnatch"]


@dataclass
class Mirror:
    """A mirror directory plus the config that writes it."""

    directory: Path
    config: Path

    @property
    def web(self) -> Path:
        return self.directory / "web"

    def run(
        self,
        *args: str,
        timeout: float = 240,
        file_size_limit: int | None = None,
        umask: int | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``bandersnatch -c <config> <args>`` and return the finished process.

        ``file_size_limit``: no file the run writes may grow past this many bytes (a write
        past it fails with EFBIG, as a write to a full disk fails with ENOSPC). ``umask``:
        the run's umask."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}

        def limit() -> None:
            if file_size_limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))
            if umask is not None:
                os.umask(umask)

        return subprocess.run(
            [*CLI, "-c", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
            preexec_fn=limit if file_size_limit is not None or umask is not None else None,
        )

    def page_json(self, name: str) -> dict[str, object]:
        doc: dict[str, object] = json.loads(
            (self.web / "simple" / name / "index.v1_json").read_text()
        )
        return doc

    def linked_file(self, name: str, url: str) -> Path:
        """The stored file a page's (relative) link points at, as a client would resolve it."""
        absolute = urljoin(f"http://mirror.invalid/simple/{name}/", url)
        return self.web / unquote(urlsplit(absolute).path).lstrip("/")

    def temp_files(self) -> list[Path]:
        return [p for p in self.directory.rglob("*") if p.name.endswith(".part")]


def make_mirror(
    tmp_path: Path,
    fake: FakePyPI,
    mirror_options: dict[str, str] | None = None,
    extra: str = "",
) -> Mirror:
    """Write a config for a mirror of ``fake`` under ``tmp_path/mirror``."""
    directory = tmp_path / "mirror"
    options = {
        "directory": str(directory),
        "master": fake.url,
        "allow-non-https": "true",
        "workers": "4",
        "retries": "2",
        "retry-backoff": "0.01",
        "timeout": "5",
    }
    options.update(mirror_options or {})
    body = "[mirror]\n" + "".join(f"{k} = {v}\n" for k, v in options.items()) + extra
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "bandersnatch.conf"
    config.write_text(body)
    return Mirror(directory, config)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
