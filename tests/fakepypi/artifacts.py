"""Deterministic builders for the files the fake PyPI serves.

Every builder is a pure function of its arguments: fixed timestamps, fixed permissions,
sorted entries and no host-dependent fields, so the sha256 of an artifact is the same on every
run. Wheels and sdists are real: pip and uv can install them offline (sdists carry a tiny
in-tree PEP 517 backend that needs nothing but the standard library).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import re
import tarfile
import zipfile
from collections.abc import Iterable, Sequence

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ZIP_DATE = (2020, 1, 1, 0, 0, 0)
TAR_MTIME = 1577836800  # 2020-01-01T00:00:00Z
GENERATOR = "fakepypi (1.0)"


def dist_name(name: str) -> str:
    """Distribution name as used in wheel/sdist filenames: normalized, `_` separators."""
    return re.sub(r"[-_.]+", "_", name).lower()


def import_name(name: str) -> str:
    """A valid Python package name derived from a project name."""
    pkg = re.sub(r"[^a-z0-9_]", "_", canonicalize_name(name))
    if not pkg or pkg[0].isdigit():
        pkg = "p_" + pkg
    return pkg


def normalize_version(version: str) -> str:
    """PEP 440 normalized form, or the input unchanged when it is not a valid version."""
    try:
        return str(Version(version))
    except InvalidVersion:
        return version


def wheel_filename(
    name: str,
    version: str,
    python_tag: str = "py3",
    abi_tag: str = "none",
    platform_tag: str = "any",
) -> str:
    ver = normalize_version(version).replace("-", "_")
    return f"{dist_name(name)}-{ver}-{python_tag}-{abi_tag}-{platform_tag}.whl"


def sdist_filename(name: str, version: str) -> str:
    return f"{dist_name(name)}-{normalize_version(version)}.tar.gz"


def padding_bytes(seed: str, size: int) -> bytes:
    """`size` deterministic, incompressible bytes derived from `seed`."""
    if size <= 0:
        return b""
    return hashlib.shake_256(seed.encode("utf-8")).digest(size)


def record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def core_metadata(
    name: str,
    version: str,
    summary: str,
    requires_python: str | None,
    dependencies: Sequence[str],
) -> bytes:
    """Core metadata 2.1 (the METADATA / PKG-INFO file)."""
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {normalize_version(version)}",
        f"Summary: {summary}",
    ]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines.extend(f"Requires-Dist: {dep}" for dep in dependencies)
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def _expand_tags(python_tag: str, abi_tag: str, platform_tag: str) -> list[str]:
    return [
        f"{py}-{abi}-{plat}"
        for py in python_tag.split(".")
        for abi in abi_tag.split(".")
        for plat in platform_tag.split(".")
    ]


def _zip_bytes(entries: Iterable[tuple[str, bytes, bool]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, data, compress in entries:
            info = zipfile.ZipInfo(path, date_time=ZIP_DATE)
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            zf.writestr(info, data)
    return buf.getvalue()


def build_wheel(
    name: str,
    version: str,
    *,
    summary: str,
    requires_python: str | None = None,
    dependencies: Sequence[str] = (),
    python_tag: str = "py3",
    abi_tag: str = "none",
    platform_tag: str = "any",
    size_padding: int = 0,
) -> tuple[bytes, bytes]:
    """Build a wheel; returns (wheel bytes, METADATA bytes)."""
    pkg = import_name(name)
    ver = normalize_version(version)
    info_dir = f"{dist_name(name)}-{ver.replace('-', '_')}.dist-info"
    metadata = core_metadata(name, version, summary, requires_python, dependencies)
    purelib = "true" if platform_tag == "any" else "false"
    wheel_lines = [
        "Wheel-Version: 1.0",
        f"Generator: {GENERATOR}",
        f"Root-Is-Purelib: {purelib}",
        *(f"Tag: {tag}" for tag in _expand_tags(python_tag, abi_tag, platform_tag)),
    ]
    payload: list[tuple[str, bytes, bool]] = [
        (f"{pkg}/__init__.py", f'__version__ = "{ver}"\n'.encode(), True),
    ]
    if size_padding > 0:
        seed = f"wheel|{name}|{version}|{python_tag}-{abi_tag}-{platform_tag}"
        payload.append((f"{pkg}/_padding.bin", padding_bytes(seed, size_padding), False))
    payload.sort()
    payload.append((f"{info_dir}/METADATA", metadata, True))
    payload.append((f"{info_dir}/WHEEL", ("\n".join(wheel_lines) + "\n").encode(), True))
    record = "".join(f"{path},{record_hash(data)},{len(data)}\n" for path, data, _ in payload)
    record += f"{info_dir}/RECORD,,\n"
    payload.append((f"{info_dir}/RECORD", record.encode(), True))
    return _zip_bytes(payload), metadata


_BACKEND = '''\
"""In-tree PEP 517 backend generated by fakepypi (standard library only)."""
import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

PACKAGE = "@PACKAGE@"
DATE = (2020, 1, 1, 0, 0, 0)


def _pkg_info():
    with open("PKG-INFO", encoding="utf-8") as f:
        return f.read()


def _field(text, key):
    for line in text.splitlines():
        if line.startswith(key + ": "):
            return line[len(key) + 2:]
    raise KeyError(key)


def _names():
    meta = _pkg_info()
    return meta, re.sub(r"[-_.]+", "_", _field(meta, "Name")).lower(), _field(meta, "Version")


def _hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    meta, dist, version = _names()
    info = "%s-%s.dist-info" % (dist, version)
    entries = []
    for root, dirs, files in os.walk(PACKAGE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                entries.append((path.replace(os.sep, "/"), f.read()))
    entries.sort()
    entries.append((info + "/METADATA", meta.encode("utf-8")))
    entries.append((info + "/WHEEL", b"Wheel-Version: 1.0\\nGenerator: fakepypi-backend\\n"
                    b"Root-Is-Purelib: true\\nTag: py3-none-any\\n"))
    record = "".join("%s,%s,%d\\n" % (p, _hash(d), len(d)) for p, d in entries)
    entries.append((info + "/RECORD", (record + info + "/RECORD,,\\n").encode()))
    filename = "%s-%s-py3-none-any.whl" % (dist, version)
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as zf:
        for path, data in entries:
            zinfo = zipfile.ZipInfo(path, date_time=DATE)
            zinfo.external_attr = 0o644 << 16
            zf.writestr(zinfo, data, zipfile.ZIP_DEFLATED)
    return filename


def build_sdist(sdist_directory, config_settings=None):
    _meta, dist, version = _names()
    base = "%s-%s" % (dist, version)
    filename = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as tf:
        for root, dirs, files in os.walk("."):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                path = os.path.normpath(os.path.join(root, name))
                tf.add(path, arcname=base + "/" + path.replace(os.sep, "/"))
    return filename
'''


def _tar_gz_bytes(entries: Iterable[tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path, data in sorted(entries):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = TAR_MTIME
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tf.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def build_sdist(
    name: str,
    version: str,
    *,
    summary: str,
    requires_python: str | None = None,
    dependencies: Sequence[str] = (),
    size_padding: int = 0,
) -> bytes:
    """Build a deterministic, pip-installable `.tar.gz` sdist with PKG-INFO."""
    pkg = import_name(name)
    ver = normalize_version(version)
    base = f"{dist_name(name)}-{ver}"
    pyproject = (
        '[build-system]\nrequires = []\nbuild-backend = "_fakepypi_backend"\nbackend-path = ["."]\n'
    )
    entries = [
        (f"{base}/PKG-INFO", core_metadata(name, version, summary, requires_python, dependencies)),
        (f"{base}/pyproject.toml", pyproject.encode()),
        (f"{base}/_fakepypi_backend.py", _BACKEND.replace("@PACKAGE@", pkg).encode()),
        (f"{base}/{pkg}/__init__.py", f'__version__ = "{ver}"\n'.encode()),
    ]
    if size_padding > 0:
        entries.append(
            (f"{base}/{pkg}/_padding.bin", padding_bytes(f"sdist|{name}|{version}", size_padding))
        )
    return _tar_gz_bytes(entries)


def build_raw(seed: str, size: int = 0) -> bytes:
    """Arbitrary deterministic bytes (at least 64)."""
    return padding_bytes("raw|" + seed, max(64, size))
