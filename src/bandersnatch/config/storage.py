"""The ``[s3]`` section (pypa/bandersnatch's keys, plus the lock's) -> ``S3Config``.

Read only when ``[mirror] storage-backend = s3``; otherwise the section is ignored with a
warning. ``config_param_<name>`` keys go to botocore's ``Config(<name>=value)``: a value that
parses as JSON (a number, ``true``, ``{"mode": "standard"}``) is passed as that, any other as
the string. Whether botocore knows the name is checked when the storage is opened.
"""

from __future__ import annotations

import configparser
import json
import logging
import re

from ..errors import ConfigError
from .records import S3Config
from .values import Parse, absolute_url, boolean, integer, parse_value, unknown_key

logger = logging.getLogger("bandersnatch.config")

_TEXT = ("region_name", "aws_access_key_id", "aws_secret_access_key", "signature_version")
_PARAM = "config_param_"
_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _text(raw: str) -> str:
    text = raw.strip()
    if not text or any(ch.isspace() for ch in text):
        raise ValueError("must be one word, without spaces")
    return text


S3_KEYS: dict[str, Parse] = {
    **dict.fromkeys(_TEXT, _text),
    "endpoint_url": absolute_url(("http", "https")),
    "lock_lease": integer(2, 86400),
    "allow_unconditional_lock": boolean,
}
"""Every key of ``[s3]`` but the ``config_param_*`` family, with its parser."""


def _param(raw: str) -> object:
    text = raw.strip()
    try:
        value: object = json.loads(text)
    except ValueError:
        value = text
    return value


def read_s3(parser: configparser.ConfigParser, backend: str) -> S3Config | None:
    """The ``[s3]`` section when the mirror lives on S3 (empty when the section is absent:
    boto3 then finds credentials and region as it always does)."""
    if backend != "s3":
        if parser.has_section("s3"):
            logger.warning("[s3] is ignored: [mirror] storage-backend is %s", backend)
        return None
    values: dict[str, object] = {}
    params: list[tuple[str, object]] = []
    items = parser.items("s3") if parser.has_section("s3") else []
    for key, raw in items:
        if key.startswith(_PARAM):
            name = key[len(_PARAM) :]
            if not _NAME.fullmatch(name):
                raise ConfigError("s3", key, raw, "not a botocore Config parameter name")
            params.append((name, _param(raw)))
        elif key == "aws_secret_access_key":  # never echoed in an error
            if not raw.strip():
                raise ConfigError("s3", key, None, "empty; remove the line or give the key")
            values[key] = raw.strip()
        elif key in S3_KEYS:
            values[key] = parse_value("s3", key, raw, S3_KEYS[key])
        else:
            raise unknown_key("s3", key, raw, [*S3_KEYS, _PARAM + "<name>"])
    return S3Config(
        region_name=_str(values.get("region_name")),
        aws_access_key_id=_str(values.get("aws_access_key_id")),
        aws_secret_access_key=_str(values.get("aws_secret_access_key")),
        endpoint_url=_str(values.get("endpoint_url")),
        signature_version=_str(values.get("signature_version")),
        config_params=tuple(params),
        lock_lease=int(str(values.get("lock_lease", S3Config.lock_lease))),
        allow_unconditional_lock=values.get("allow_unconditional_lock") is True,
    )


def _str(value: object) -> str | None:
    return None if value is None else str(value)
