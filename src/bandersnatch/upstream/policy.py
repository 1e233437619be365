"""Where the mirror's requests may go: schemes, hosts and ports, and private addresses.

Upstream data names URLs (file URLs, redirect targets); none of them is followed unless it
passes here. The allowed hosts are the master's, the ``download-mirror``'s and those in
``[mirror] file-hosts``; plain http only with ``allow-non-https``; an address that is
private, loopback or link-local only when the master itself is one (a mirror of a local
index may stay local; a mirror of pypi.org never reaches into the network it runs in).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, lowercase host, port) of an absolute http(s) URL, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return not ip.is_global or ip.is_multicast


@dataclass
class HostPolicy:
    """The rules every upstream request is checked against, redirects included."""

    hosts: frozenset[tuple[str, int | None]]
    """(host, port) pairs; port None means the scheme's default port."""
    allow_http: bool = False
    allow_private: bool = False
    resolver: Resolver = resolve
    _checked: dict[tuple[str, int], str | None] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(
        cls,
        master: str,
        extra: Iterable[str] = (),
        file_hosts: Iterable[tuple[str, int | None]] = (("files.pythonhosted.org", None),),
        allow_http: bool = False,
        resolver: Resolver = resolve,
    ) -> HostPolicy:
        """The master's origin and every URL in ``extra`` (``download-mirror``) exactly,
        plus ``file_hosts`` ((host, port or None)); private addresses only if the master
        resolves to one."""
        hosts: set[tuple[str, int | None]] = set()
        for url in (master, *extra):
            found = origin(url)
            if found is not None:
                hosts.add((found[1], found[2]))
        hosts.update(file_hosts)
        master_origin = origin(master)
        allow_private = master_origin is not None and any(
            _private(a) for a in resolver(master_origin[1], master_origin[2])
        )
        return cls(frozenset(hosts), allow_http, allow_private, resolver)

    def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be fetched, or None when it may (the address check resolves
        the host once per run)."""
        found = origin(url)
        if found is None:
            return "not an absolute http(s) URL"
        scheme, host, port = found
        if scheme == "http" and not self.allow_http:
            return "plain http is not allowed (allow-non-https = false)"
        default = 443 if scheme == "https" else 80
        if (host, port) not in self.hosts and not (port == default and (host, None) in self.hosts):
            return f"host {host}:{port} is not the master, the download-mirror or in file-hosts"
        return None if self.allow_private else self._address_refusal(host, port)

    def _address_refusal(self, host: str, port: int) -> str | None:
        with self._lock:
            if (host, port) in self._checked:
                return self._checked[(host, port)]
        addresses = self.resolver(host, port)
        reason = None
        if any(_private(a) for a in addresses):
            reason = f"{host} resolves to a private or loopback address; the master does not"
        with self._lock:
            self._checked[(host, port)] = reason
        return reason
