"""pypa/bandersnatch 8.x's configuration surface, written out by hand from its documentation
and the ``defaults.conf`` / ``example.conf`` it ships (names and default values only).

``tests/test_adoption.py`` checks that every key here is accepted, with the same meaning or
with a warning saying why it has none, and that a config made of all of them runs."""

from __future__ import annotations

MIRROR_DEFAULTS: dict[str, str] = {
    "storage-backend": "filesystem",
    "storage-filesystem-manage-permissions": "true",
    "master": "https://pypi.org",
    "proxy": "",
    "download-mirror": "",
    "download-mirror-no-fallback": "false",
    "allow-non-https": "false",
    "json": "false",
    "release-files": "true",
    "core-metadata": "true",
    "hash-index": "false",
    "simple-format": "ALL",
    "compare-method": "hash",
    "digest_name": "sha256",
    "keep-index-versions": "0",
    "cleanup": "false",
    "stop-on-error": "false",
    "cleanup_todo": "false",
    "delete_missing_packages": "false",
    "timeout": "10",
    "global-timeout": "1800",
    "workers": "3",
    "verifiers": "3",
    "root_uri": "",
    "diff-file": "",
    "diff-append-epoch": "false",
    "log-config": "",
}
"""``[mirror]`` in its ``defaults.conf``, every key with its default."""

EXAMPLE_MIRROR: dict[str, str] = {
    "directory": "/srv/pypi",
    "json": "false",
    "release-files": "true",
    "core-metadata": "true",
    "cleanup": "false",
    "master": "https://pypi.org",
    "timeout": "10",
    "global-timeout": "1800",
    "workers": "3",
    "hash-index": "false",
    "simple-format": "ALL",
    "stop-on-error": "false",
    "cleanup_todo": "false",
    "delete_missing_packages": "false",
    "storage-backend": "filesystem",
    "storage-filesystem-manage-permissions": "true",
    "verifiers": "3",
    "compare-method": "hash",
}
"""The uncommented ``[mirror]`` keys of its ``example.conf``."""

OTHER_SPELLINGS = {"keep_index_versions": "0", "api-method": "simple"}
"""Keys its documentation gives in another spelling too (``api-method`` chose the change
feed in 6.x and 7.x)."""

COMMAND_OPTIONS: dict[str, tuple[str, ...]] = {
    "mirror": ("--force-check", "--cleanup-todo"),
    "verify": ("--delete", "--dry-run", "--json-update", "--workers 2"),
    "delete": ("--dry-run", "--workers 2", "--skip-json-fetch"),
    "sync": ("--skip-simple-root",),
}
"""Each command's options in its ``--help``."""
