"""Requirements files: what the files ``[allowlist] requirements`` names say, as pins
(``rules.pins``; each line parsed by ``Pin.parse``).

Requirements files (``[allowlist] requirements_path`` + ``requirements``) are read the way
pip writes them: ``#`` comments, backslash continuations, ``-r``/``--requirement`` includes
(followed, relative to the including file), other pip options ignored (``-e``, ``-c``,
``--index-url``, a trailing ``--hash=...``), and any encoding pip users end up with: a BOM
(UTF-8, UTF-16, UTF-32), a PEP 263 ``coding:`` line, BOM-less UTF-16, UTF-8, else latin-1.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import InvalidRequirement

from ..config.records import Allowlist
from ..errors import ConfigError
from ..rules.pins import Pin

log = logging.getLogger(__name__)


# --- requirements files ------------------------------------------------------------------


def requirements_pins(allowlist: Allowlist) -> tuple[Pin, ...]:
    """Every requirement in the files ``[allowlist] requirements`` names."""
    pins: list[Pin] = []
    seen: set[Path] = set()
    for path in requirement_files(allowlist):
        pins.extend(_file_pins(path, seen))
    return tuple(pins)


def requirement_files(allowlist: Allowlist) -> list[Path]:
    """The files ``[allowlist] requirements`` names, globs expanded (sorted), in order.

    Relative names are relative to ``requirements_path``. A missing file or a glob matching
    nothing is a ``ConfigError``: silently allowing nothing would empty the mirror.
    """
    base = allowlist.requirements_path
    files: list[Path] = []
    for text in allowlist.requirements:
        if any(ch in text for ch in "*?["):
            matched = _glob(base, text)
            if not matched:
                raise ConfigError("allowlist", "requirements", text, f"no file in {base} matches")
            files.extend(matched)
            continue
        path = base / text
        if not path.is_file():
            raise ConfigError("allowlist", "requirements", text, f"no such file: {path}")
        files.append(path)
    return list(dict.fromkeys(files))


def _glob(base: Path, pattern: str) -> list[Path]:
    if Path(pattern).is_absolute():
        anchor = Path(Path(pattern).anchor)
        return sorted(p for p in anchor.glob(str(Path(pattern).relative_to(anchor))) if p.is_file())
    return sorted(p for p in base.glob(pattern) if p.is_file())


def file_pins(path: Path) -> tuple[Pin, ...]:
    """Every requirement in one requirements file (following its ``-r`` includes);
    ``ConfigError`` when a file cannot be read."""
    return tuple(_file_pins(path, set()))


def _file_pins(path: Path, seen: set[Path]) -> Iterator[Pin]:
    key = path.resolve()
    if key in seen:
        return
    seen.add(key)
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = f"cannot read {path}: {exc.strerror or exc}"
        raise ConfigError("allowlist", "requirements", str(path), reason) from exc
    for lineno, line in _logical_lines(decode(data)):
        included = _include(line)
        if included is not None:
            target = path.parent / included
            if not target.is_file():
                reason = f"{path} line {lineno} includes {target}, which does not exist"
                raise ConfigError("allowlist", "requirements", line, reason)
            yield from _file_pins(target, seen)
        elif not line.startswith("-"):
            pin = _requirement(path, lineno, line)
            if pin is not None:
                yield pin


_COMMENT = re.compile(r"(^|\s+)#.*$")
_OPTION_TAIL = re.compile(r"\s+--?[A-Za-z].*$")
_INCLUDE = re.compile(r"^(?:-r|--requirement)(?:\s*=\s*|\s+|(?=[^\s=-]))(\S+)$")


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, line) with continuations joined and comments removed."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if raw.endswith("\\") and not raw.lstrip().startswith("#"):
            pending.append(raw[:-1])
            continue
        line = _COMMENT.sub("", "".join([*pending, raw])).strip()
        pending = []
        if line:
            yield start, line
    tail = _COMMENT.sub("", "".join(pending)).strip()
    if tail:
        yield start, tail


def _include(line: str) -> str | None:
    match = _INCLUDE.match(line)
    return match.group(1) if match else None


def _requirement(path: Path, lineno: int, line: str) -> Pin | None:
    text = _OPTION_TAIL.sub("", line)
    try:
        return Pin.parse(text)
    except InvalidRequirement:
        log.warning("%s line %d: %r is not a project requirement; ignored", path, lineno, line)
        return None


# --- encodings ------------------------------------------------------------------------


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def decode(data: bytes) -> str:
    """A requirements file's text, whatever editor or tool wrote it. Never fails."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    guessed = _cookie(data) or _bomless_utf16(data)
    if guessed is not None:
        try:
            return data.decode(guessed)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _cookie(data: bytes) -> str | None:
    """The PEP 263 ``coding:`` declaration in the first two lines, if any."""
    for line in data.splitlines()[:2]:
        match = _CODING.match(line)
        if match:
            return match.group(1).decode("ascii")
    return None


def _bomless_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM: ASCII text with every other byte NUL."""
    if len(data) < 2 or len(data) % 2 or b"\0" not in data:
        return None
    if not any(data[1::2]):
        return "utf-16-le"
    if not any(data[0::2]):
        return "utf-16-be"
    return None
