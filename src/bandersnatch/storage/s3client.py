"""Reaching an S3-compatible store: boto3 loaded only when a mirror is on S3, the client
built from ``[s3]`` (connection pool, retries), the bucket and prefix of ``directory``, and
the content type each object is stored with."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

from ..config.records import S3Config
from ..errors import ConfigError

INSTALL_HINT = "pip install 'bandersnatch[s3]'"
MISSING = frozenset(("404", "NoSuchKey", "NotFound"))
"""Error codes of an object (or bucket) that is not there."""
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "index.v1_html": "text/html; charset=utf-8",
    "index.v1_json": "application/vnd.pypi.simple.v1+json",
}
DEFAULT_RETRIES = {"mode": "adaptive", "total_max_attempts": 10}


def _modules() -> tuple[Any, Any, Any]:
    try:
        return (
            importlib.import_module("boto3"),
            importlib.import_module("botocore.config"),
            importlib.import_module("boto3.s3.transfer"),
        )
    except ImportError:
        reason = f"needs boto3, which is not installed: {INSTALL_HINT}"
        raise ConfigError("mirror", "storage-backend", "s3", reason) from None


def make_client(config: S3Config, connections: int) -> tuple[Any, Any]:
    """A boto3 S3 client and the transfer config for its uploads: at least
    ``connections`` pooled connections, adaptive retries unless ``config_param_retries``."""
    boto3, botocore_config, transfer = _modules()
    params = dict(config.config_params)
    params.setdefault("retries", dict(DEFAULT_RETRIES))
    if config.signature_version:
        params.setdefault("signature_version", config.signature_version)
    pool = params.get("max_pool_connections")
    if not isinstance(pool, int) or pool < connections:
        params["max_pool_connections"] = connections
    try:
        client_config = botocore_config.Config(**params)
    except (TypeError, ValueError) as exc:
        raise ConfigError("s3", "config_param_*", None, f"botocore refuses: {exc}") from None
    session = boto3.session.Session(
        aws_access_key_id=config.aws_access_key_id,
        aws_secret_access_key=config.aws_secret_access_key,
        region_name=config.region_name,
    )
    client = session.client("s3", endpoint_url=config.endpoint_url, config=client_config)
    return client, transfer.TransferConfig(use_threads=False)


def split_location(directory: Path) -> tuple[str, str]:
    """``/bucket/some/prefix`` -> ("bucket", "some/prefix/")."""
    parts = [p for p in directory.as_posix().split("/") if p]
    if not parts or not _BUCKET.fullmatch(parts[0]):
        reason = "with storage-backend = s3 it is /<bucket> or /<bucket>/<prefix>, the bucket "
        reason += "name 3-63 lowercase letters, digits, dots and hyphens"
        raise ConfigError("mirror", "directory", str(directory), reason)
    prefix = "/".join(parts[1:])
    return parts[0], f"{prefix}/" if prefix else ""


def content_type(path: str) -> str:
    """What a static website endpoint should answer with for this mirror path."""
    leaf = path.rsplit("/", 1)[-1]
    if leaf in _TYPES:
        return _TYPES[leaf]
    if path.startswith(("web/json/", "web/pypi/")):
        return "application/json"
    if leaf.endswith((".html", ".htm")):
        return "text/html; charset=utf-8"
    if path.startswith("web/packages/") and not leaf.endswith(".metadata"):
        return "application/octet-stream"
    return "text/plain; charset=utf-8"
