"""The two servers the tests serve a mirror with, both on 127.0.0.1:<free port>:

- ``bandersnatch serve`` (the real CLI in a subprocess), stopped with SIGTERM: it must exit 5
  having logged no error;
- Debian's nginx with ``contrib/nginx/bandersnatch.conf``, its SITE lines pointed at the
  mirror, run as an unprivileged process (``nginx -p <tmp> -c <conf> -g 'daemon off;'``,
  every path in the tmp directory).

Both write the same access-log format (CLF, referer, user agent, Content-Type), which
``Server.hits()`` parses.

    with start_server("nginx", mirror, tmp) as server:
        pip install --index-url {server.url}/simple/ ...
        server.hits()
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bandersnatch.serving.server import Access, MirrorHTTPServer

from harness import CLI, Mirror

REPO = Path(__file__).resolve().parent.parent
NGINX_CONF = REPO / "contrib" / "nginx" / "bandersnatch.conf"
SERVERS = ("serve", "nginx")
NGINX_MISSING = (
    "nginx is not installed, and the tests run the real nginx against contrib/nginx/"
    "bandersnatch.conf. Install it as README.md says: apt-get install -y nginx (as root)"
)
_LINE = re.compile(
    r'(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+) \S+" '
    r'(?P<status>\d{3}) (?P<size>\d+|-) "(?P<referer>[^"]*)" "(?P<agent>[^"]*)" '
    r'"(?P<ctype>[^"]*)"'
)


@dataclass(frozen=True)
class Hit:
    """One access-log line."""

    method: str
    path: str
    status: int
    size: int
    agent: str
    content_type: str


def parse_log(text: str) -> list[Hit]:
    hits = []
    for line in text.splitlines():
        match = _LINE.fullmatch(line)
        assert match, f"not an access-log line: {line!r}"
        size = 0 if match["size"] == "-" else int(match["size"])
        ctype = "" if match["ctype"] == "-" else match["ctype"]
        hits.append(
            Hit(match["method"], match["path"], int(match["status"]), size, match["agent"], ctype)
        )
    return hits


@dataclass
class Server:
    kind: str
    url: str
    web: Path
    log: Path
    pid: int

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def hits(self, at_least: int = 0) -> list[Hit]:
        """The access log so far. A server logs a request just after answering it, so wait
        for ``at_least`` lines and then until the log has not grown for 0.2 s."""
        deadline = time.monotonic() + 10
        text, stable_since = self.log.read_text(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.02)
            again = self.log.read_text()
            if again != text:
                text, stable_since = again, time.monotonic()
            elif text.count("\n") >= at_least and time.monotonic() - stable_since >= 0.2:
                break
        return parse_log(text)

    def clear_log(self) -> None:
        """Empty the log once what earlier requests still had to write has landed (a
        server logs just after answering, so a line can trail its test)."""
        self.hits()
        self.log.write_text("")  # both servers append: they carry on at the new end

    def get(
        self, path: str, method: str = "GET", **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        """One request (headers as keyword arguments, ``_`` for ``-``); the answer's header
        names are lowercased."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, headers={k.replace("_", "-"): v for k, v in headers.items()})
            resp = conn.getresponse()
            found: dict[str, str] = {}
            for name, value in resp.getheaders():
                key = name.lower()
                found[key] = f"{found[key]}, {value}" if key in found else value
            return resp.status, found, resp.read()
        finally:
            conn.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str, err: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}:\n{err.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port}:\n{err.read_text()}")


def _serve_url(proc: subprocess.Popen[bytes], err: Path) -> str:
    """The URL serve logs once it listens."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        found = re.search(r"at (http://127\.0\.0\.1:\d+)/simple/", err.read_text())
        if found:
            return found[1]
        time.sleep(0.05)
    raise AssertionError(f"serve did not start ({proc.poll()}):\n{err.read_text()}")


@contextmanager
def run_serve(mirror: Mirror, tmp: Path, *args: str) -> Iterator[Server]:
    """``bandersnatch serve`` on a free port; stopped by SIGTERM, it must exit 5, cleanly."""
    tmp.mkdir(parents=True, exist_ok=True)
    log, err = tmp / "access.log", tmp / "serve.err"
    cmd = [*CLI, "-c", str(mirror.config), "serve", "--port", "0", "--access-log", str(log), *args]
    with err.open("w") as stderr:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        yield Server("serve", _serve_url(proc, err), mirror.web, log, proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    stderr_text = err.read_text()
    assert code == 5, f"serve exited {code}:\n{stderr_text}"
    assert "server stopped by a stop signal" in stderr_text
    assert "Traceback" not in stderr_text and " ERROR: " not in stderr_text, stderr_text


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        pytest.fail(NGINX_MISSING, pytrace=False)
    return found


def nginx_site(web: Path, port: int, log: Path, *, hash_index: bool) -> str:
    """The shipped config with its SITE lines pointed at this mirror, port and log."""
    text = NGINX_CONF.read_text()
    site = {
        "    listen 80; ": f"    listen 127.0.0.1:{port}; ",
        "    root /srv/pypi/web; ": f"    root {web}; ",
        "    set $bandersnatch_hash_index 0; ": (
            f"    set $bandersnatch_hash_index {int(hash_index)}; "
        ),
        "    access_log /var/log/nginx/bandersnatch.access.log bandersnatch; ": (
            f"    access_log {log} bandersnatch; "
        ),
    }
    for line, replacement in site.items():
        assert text.count(line) == 1, f"{NGINX_CONF} has no single SITE line {line.strip()!r}"
        text = text.replace(line, replacement)
    return text


def _nginx_conf(tmp: Path, site: str, err: Path) -> Path:
    (tmp / "bandersnatch.conf").write_text(site)
    temps = "".join(
        f"    {kind}_temp_path {tmp / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root nginx would hand its workers to "nobody", who cannot read pytest's private
    # tmp directories: keep them as the test's own user instead.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"{user}worker_processes 1;\npid {tmp / 'nginx.pid'};\nerror_log {err} warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n"
        f"    sendfile on;\n{temps}    include {tmp / 'bandersnatch.conf'};\n}}\n"
    )
    return conf


@contextmanager
def run_nginx(mirror: Mirror, tmp: Path) -> Iterator[Server]:
    """Debian's nginx serving the mirror with the shipped config, unprivileged, in ``tmp``."""
    binary = nginx_binary()
    hash_index = "hash-index = true" in mirror.config.read_text()
    tmp.mkdir(parents=True, exist_ok=True)
    log, err, pid = tmp / "access.log", tmp / "error.log", tmp / "nginx.pid"
    for _ in range(5):  # another process on this machine may take the free port first
        port = _free_port()
        site = nginx_site(mirror.web, port, log, hash_index=hash_index)
        conf = _nginx_conf(tmp, site, err)
        pid.unlink(missing_ok=True)
        err.write_text("")
        cmd = [binary, "-p", str(tmp), "-c", str(conf), "-e", str(err), "-g", "daemon off;"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while proc.poll() is None and not pid.exists() and time.monotonic() < deadline:
            time.sleep(0.02)  # nginx writes its pid file once it listens
        if proc.poll() is None or "Address already in use" not in err.read_text():
            break
    try:
        _wait_for_port(port, proc, "nginx", err)
        log.touch()
        yield Server("nginx", f"http://127.0.0.1:{port}", mirror.web, log, proc.pid)
    finally:
        proc.send_signal(signal.SIGQUIT)
        proc.wait(timeout=20)
    # nginx logs each symlink it refuses (disable_symlinks) at [crit]: that is the config
    # working, not a fault.
    bad = ("[emerg]", "[alert]", "[crit]")
    errors = [
        line
        for line in err.read_text().splitlines()
        if any(b in line for b in bad) and "Too many levels of symbolic links" not in line
    ]
    assert not errors, "\n".join(errors)


@contextmanager
def start_server(kind: str, mirror: Mirror, tmp: Path) -> Iterator[Server]:
    """``kind`` is "serve" or "nginx"."""
    with (run_serve if kind == "serve" else run_nginx)(mirror, tmp / kind) as server:
        yield server


@dataclass(frozen=True)
class Request:
    """One request an in-process server answered."""

    method: str
    path: str
    status: int


class InProcess:
    """``bandersnatch.serving``'s server on a thread of the test process (for tests that only
    need a mirror on HTTP, such as a mirror of a mirror)."""

    def __init__(self, web: Path, *, hash_index: bool = False) -> None:
        self._log: list[Request] = []
        self._server = MirrorHTTPServer(
            ("127.0.0.1", 0), str(web), hash_index=hash_index, access_log=self._record
        )
        self.url = self._server.url

    def _record(self, access: Access) -> None:
        method, path = ([*access.request.split(), "", ""])[:2]
        self._log.append(Request(method, path, access.status))

    def log(self) -> list[Request]:
        """The requests so far, once no answer is still being logged (0.1 s of quiet)."""
        count = -1
        while count != len(self._log):
            count = len(self._log)
            time.sleep(0.1)
        return list(self._log)

    def clear(self) -> None:
        self.log()
        self._log.clear()

    def __enter__(self) -> InProcess:
        kwargs = {"poll_interval": 0.05}
        threading.Thread(target=self._server.serve_forever, kwargs=kwargs, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
