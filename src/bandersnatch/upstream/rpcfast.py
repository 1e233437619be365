"""Fast readers for the two big XML-RPC answers: ``list_packages_with_serial`` (700k
projects: 8 s in ``xmlrpc.client``) and ``changelog_since_serial`` (pages of 50,000 rows).

Both answers are flat lists of simple values, so regular expressions over the raw bytes read
them in a fraction of the time. A reader returns None for anything it does not recognise
exactly (a fault, another layout, an entity in a name): the caller then parses the answer
with ``xmlrpc.client``, which stays the reference.
"""

from __future__ import annotations

import re

_HEAD = rb"\s*(?:<\?xml[^>]*\?>)?\s*<methodResponse>\s*<params>\s*<param>\s*<value>\s*"
_STRUCT = re.compile(_HEAD + rb"<struct>")
_ARRAY = re.compile(_HEAD + rb"<array>\s*<data>")
_INT = rb"<(?:int|i4)>([0-9]+)</(?:int|i4)>"
_MEMBER_NAME = re.compile(rb"<member>\s*<name>([^<&]*)</name>")
_MEMBER_SERIAL = re.compile(rb"</name>\s*<value>\s*" + _INT + rb"\s*</value>\s*</member>")
_ROW_NAME = re.compile(
    rb"<data>\s*<value>\s*(?:<string>([^<&]*)</string>|([^<&]*)</value>)"
)  # a row's first value; the list's own <data> is followed by an <array>, which fails this
_ROW_SERIAL = re.compile(_INT + rb"\s*</value>\s*</data>")  # a row's last value


def read_serials(body: bytes) -> tuple[list[str], list[int]] | None:
    """``list_packages_with_serial``: (display names, serials), in answer order."""
    if not _STRUCT.match(body):
        return None
    names = _MEMBER_NAME.findall(body)
    serials = _MEMBER_SERIAL.findall(body)
    if not len(names) == len(serials) == body.count(b"<member>"):
        return None
    if not names:
        return [], []
    try:
        displays = b"\n".join(names).decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return None
    if len(displays) != len(names):  # a name with a line break
        return None
    return displays, list(map(int, serials))


def read_changelog(body: bytes) -> tuple[list[str], list[int]] | None:
    """``changelog_since_serial``: (display names, serials), one per row in answer order
    (each row is ``[name, version, timestamp, action, serial]``; any action makes a
    project dirty, so the rest is not read)."""
    if not _ARRAY.match(body):
        return None
    names = _ROW_NAME.findall(body)
    serials = _ROW_SERIAL.findall(body)
    if not len(names) == len(serials) == body.count(b"<array>") - 1:
        return None
    if not names:
        return [], []
    joined = b"\n".join(n1 or n2 for n1, n2 in names)
    try:
        displays = joined.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return None
    if len(displays) != len(names):
        return None
    return displays, list(map(int, serials))
