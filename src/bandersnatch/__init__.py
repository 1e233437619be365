"""bandersnatch: a fast, safe PyPI mirror client."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bandersnatch")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"
