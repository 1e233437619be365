"""PEP 658 metadata read out of a stored wheel, only when it is exactly what upstream said."""

from __future__ import annotations

import hashlib
import io
import zipfile

from bandersnatch.core_metadata import metadata_from_wheel

META = b"Metadata-Version: 2.1\nName: a\nVersion: 1.0\n"
SHA = hashlib.sha256(META).hexdigest()


def _zip(entries: dict[str, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    buf.seek(0)
    return buf


def test_the_metadata_of_a_wheel_with_the_advertised_digest() -> None:
    wheel = _zip({"a/__init__.py": b"", "a-1.0.dist-info/METADATA": META})
    assert metadata_from_wheel(wheel, SHA) == META


def test_anything_unexpected_is_none() -> None:
    assert metadata_from_wheel(_zip({"a-1.0.dist-info/METADATA": META}), "0" * 64) is None
    two = {"a-1.0.dist-info/METADATA": META, "b-1.0.dist-info/METADATA": META}
    assert metadata_from_wheel(_zip(two), SHA) is None
    assert metadata_from_wheel(_zip({"x/a-1.0.dist-info/METADATA": META}), SHA) is None
    assert metadata_from_wheel(io.BytesIO(b"not a zip at all"), SHA) is None
