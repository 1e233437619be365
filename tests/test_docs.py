"""The documentation builds as a site with warnings as errors, and the configuration
reference, the shipped ``default.conf`` and the parser agree on every ``[mirror]`` key."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

from bandersnatch.config import load
from bandersnatch.config.mirror import INERT, MIRROR_KEYS

REPO = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `([\w-]+)` \| (.*?) \| (.*) \|$")


def test_the_docs_build_strictly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "operations" / "index.html").is_file()


def _reference() -> dict[str, str]:
    """``[mirror]`` rows of docs/configuration.md: key -> default cell."""
    text = (REPO / "docs" / "configuration.md").read_text()
    section = text.split("## `[mirror]`", 1)[1].split("\n## ", 1)[0]
    return {m[1]: m[2] for line in section.splitlines() if (m := ROW.match(line))}


def test_every_key_the_parser_knows_is_in_the_reference() -> None:
    rows = _reference()
    text = (REPO / "docs" / "configuration.md").read_text()
    for key in MIRROR_KEYS:
        assert key in rows or f"`{key}`" in text, key  # another spelling: named in its row
    for key in rows:
        assert key in MIRROR_KEYS, f"docs/configuration.md documents unknown key {key}"


def test_reference_defaults_are_the_shipped_and_parsed_defaults() -> None:
    shipped = configparser.ConfigParser(interpolation=None)
    shipped.read(REPO / "default.conf")
    parsed = load(REPO / "default.conf").mirror
    for key, cell in _reference().items():
        field = MIRROR_KEYS[key][0]
        if field in INERT:
            continue
        literal = re.fullmatch(r"`([^`]*)`", cell)
        if literal is None:  # "(required)", "(none)"
            assert key == "directory" or getattr(parsed, field) is None, key
            continue
        assert shipped.get("mirror", key) == literal[1], key
        assert key in shipped["mirror"], key
