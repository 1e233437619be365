"""``check-server``: what pip, uv, poetry and pdm get from a served mirror, and what is wrong.

For each client (``clients.CLIENTS``), with its own ``Accept`` header: the root index, a
project page, the project's slashless and unnormalized URLs (redirects followed), one of its
files (``HEAD``, a ``Range`` and a suffix ``Range`` request) and the ``.metadata`` the page
advertises. Three more requests probe the negotiation itself: JSON only, ``text/html`` only,
and HTML preferred over JSON by q-value. Each row says status, Content-Type, ``Vary`` and
whether the body parses as the format claimed; each problem is one line (naming every client
it hits). A client that gets HTML although it prefers JSON is a note when the server has no
JSON (PEP 691 allows that), a problem when it has (q-values ignored). An unnormalized name
that is not redirected is a note: the four clients normalize names themselves.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from email.parser import BytesParser
from urllib.parse import quote, urlsplit

from ..errors import UsageError, redact
from ..layout import metadata_of
from ..models import project_name
from ..simple.formats import JSON_CONTENT_TYPE, V1_HTML_CONTENT_TYPE
from .clients import CLIENTS, Client
from .fetch import Fetcher, Response
from .pageview import FileLink, PageError, PageView, read_page

JSON_ONLY, HTML_ONLY, HTML_PREFERRED = "JSON only", "text/html only", "HTML preferred"
PROBES = {
    JSON_ONLY: JSON_CONTENT_TYPE,
    HTML_ONLY: "text/html",
    HTML_PREFERRED: f"{JSON_CONTENT_TYPE};q=0.1, {V1_HTML_CONTENT_TYPE}",
}
_RANGE_BYTES = 100
_METADATA_HEADS = 50
_IDENTITY = {"Accept-Encoding": "identity"}


@dataclass
class Report:
    index_url: str
    project: str | None = None
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)
    """Message -> the clients it hits (empty: the server as a whole)."""

    def row(self, who: str, what: str, text: str) -> None:
        self.rows.append((who, what, text))

    def problem(self, message: str, who: str = "") -> None:
        self.problems.setdefault(message, []).append(who)

    def note(self, message: str, who: str = "") -> None:
        self.notes.setdefault(message, []).append(who)

    def lines(self) -> list[str]:
        order = [c.name for c in CLIENTS]
        rows = sorted(self.rows, key=lambda r: order.index(r[0]) if r[0] in order else -1)
        out = [f"check-server {redact(self.index_url)} (project {self.project or '?'})"]
        out += [f"{who:<7} {what:<13} {text}" for who, what, text in rows]
        for kind, found in (("note", self.notes), ("problem", self.problems)):
            for message, clients in found.items():
                who = ", ".join(dict.fromkeys(c for c in clients if c))
                out.append(f"{kind}: {who + ': ' if who else ''}{message}")
        count = len(self.problems)
        out.append(f"{count} problem{'s' * (count != 1)}" if count else "no problems")
        return out


def _variant(name: str, display: str | None) -> str | None:
    """An unnormalized spelling of a project name, to test the redirect to the real one."""
    for candidate in (display, name.upper(), name.replace("-", "_")):
        if candidate and candidate != name and project_name(candidate) == name:
            return candidate
    return None


class Checker:
    def __init__(self, index_url: str, fetcher: Fetcher) -> None:
        parts = urlsplit(index_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(redact(index_url), "not an http(s) URL of an index")
        self.index = index_url if index_url.endswith("/") else index_url + "/"
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.fetcher = fetcher
        self.report = Report(self.index)
        self.page_types: dict[str, set[str]] = {}
        self.unvaried: set[str] = set()

    def short(self, url: str) -> str:
        return url.removeprefix(self.origin) if url.startswith(self.origin + "/") else redact(url)

    def describe(self, resp: Response) -> str:
        hops = "".join(f"{status} -> {self.short(loc)} " for status, loc in resp.redirects)
        if resp.status is None:
            return f"{hops}no answer ({resp.error})"
        return f"{hops}{resp.status} {resp.headers.get('content-type', '(no Content-Type)')}"

    def request(self, client: Client, url: str, method: str = "GET", **extra: str) -> Response:
        headers = {"Accept": client.accept, "User-Agent": f"{client.name} (check-server)"}
        return self.fetcher.fetch(url, {**headers, **extra}, method)

    def run(self, project: str | None) -> Report:
        roots = {c.name: self.page(c, "root", self.index, root=True) for c in CLIENTS}
        listed = next((v.projects for v in roots.values() if v and v.projects), ())
        first = listed[0] if listed else None
        name = project_name(project or first or "")
        if name is None:
            self.report.problem(
                f"no project to check (the root lists {len(listed)}): use --project"
            )
            return self.report
        self.report.project = name
        display = next((d for d in listed if project_name(d) == name), None)
        page_url = self.index + quote(name) + "/"
        self.negotiation(self.index, {w: self.probe(self.index, a) for w, a in PROBES.items()})
        probes = {what: self.probe(page_url, accept) for what, accept in PROBES.items()}
        self.negotiation(page_url, probes)
        variant = _variant(name, display)
        statuses: dict[str, tuple[str, str | None] | None] = {}
        for client in CLIENTS:
            view = self.page(client, "project", page_url, root=False)
            if view is not None:
                statuses.setdefault(view.kind, view.status)
            self.preference(client, page_url, probes[JSON_ONLY])
            self.moved(client, "slashless", self.index + quote(name), page_url, required=True)
            if variant is not None:
                unnormalized = self.index + quote(variant) + "/"
                self.moved(client, "unnormalized", unnormalized, page_url, required=False)
            if view is not None:
                FileChecks(self, client).run(view)
        for probe in (probes[JSON_ONLY], probes[HTML_ONLY]):  # the clients may all get one
            kind = "json" if probe.content_type == JSON_CONTENT_TYPE else "html"
            if probe.status == 200 and kind not in statuses:
                with contextlib.suppress(PageError):  # a probe is only read for its status
                    statuses[kind] = read_page(kind, probe.body, probe.url, root=False).status
        self.project_status(statuses)
        self.vary()
        return self.report

    def project_status(self, statuses: dict[str, tuple[str, str | None] | None]) -> None:
        """PEP 792: the status the formats give (as the clients got them) must agree."""
        for kind, status in sorted(statuses.items()):
            said = "none (active)" if status is None else " / ".join(filter(None, status))
            self.report.row("status", kind, said)
        if len(set(statuses.values())) > 1:
            self.report.problem(
                "the project status differs between formats: "
                + "; ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
            )

    def seen(self, url: str, resp: Response) -> None:
        if resp.status == 200:
            self.page_types.setdefault(url, set()).add(resp.content_type)
            if not resp.vary & {"accept", "*"}:
                self.unvaried.add(url)

    def page(self, client: Client, what: str, url: str, *, root: bool) -> PageView | None:
        resp = self.request(client, url)
        self.seen(url, resp)
        where, said = f"{what} {self.short(url)}", self.describe(resp)
        kind = client.reads_as(resp.content_type) if resp.status == 200 else None
        if resp.status != 200 or kind is None:
            self.report.row(client.name, what, said)
            why = said if resp.status != 200 else f"{said} is no page type, refused"
            self.report.problem(f"{where}: {why}", client.name)
            return None
        try:
            view = read_page(kind, resp.body, resp.url, root=root)
        except PageError as exc:
            self.report.row(client.name, what, f"{said}, does not parse as {kind}")
            self.report.problem(f"{where}: {said}, read as {kind}: {exc}", client.name)
            return None
        vary = resp.headers.get("vary", "(no Vary)")
        count = f"{len(view.projects)} projects" if root else f"{len(view.files)} files"
        self.report.row(client.name, what, f"{said}, Vary: {vary}, parses as {kind}, {count}")
        return view

    def probe(self, url: str, accept: str) -> Response:
        resp = self.fetcher.fetch(url, {"Accept": accept})
        self.seen(url, resp)
        return resp

    def negotiation(self, url: str, probes: dict[str, Response]) -> None:
        """What the probes show: JSON to a client that cannot read it, q-values ignored."""
        for what, resp in probes.items():
            self.report.row("probe", what, f"{self.short(url)}: {self.describe(resp)}")
        html_only, preferred = probes[HTML_ONLY], probes[HTML_PREFERRED]
        if html_only.status == 200 and html_only.content_type == JSON_CONTENT_TYPE:
            self.report.problem(f"{self.short(url)}: JSON to a client that accepts only text/html")
        has_html = html_only.status == 200 and html_only.content_type != JSON_CONTENT_TYPE
        if has_html and preferred.content_type == JSON_CONTENT_TYPE:
            self.report.problem(
                f"{self.short(url)}: q-values ignored: JSON to a client that prefers HTML"
            )

    def preference(self, client: Client, url: str, json_only: Response) -> None:
        """HTML to a client that prefers JSON: a note, or a problem if the server has JSON."""
        got = self.request(client, url)
        if got.status != 200 or got.content_type == JSON_CONTENT_TYPE:
            return
        if json_only.status == 200 and json_only.content_type == JSON_CONTENT_TYPE:
            self.report.problem("gets HTML although it prefers JSON, which the server has "
                                "(q-values ignored)", client.name)  # fmt: skip
        else:
            self.report.note(f"gets HTML (it prefers JSON): fine, but without upload-time "
                             f"{client.cooldown} cannot work", client.name)  # fmt: skip

    def moved(self, client: Client, what: str, url: str, target: str, *, required: bool) -> None:
        resp = self.request(client, url)
        self.report.row(client.name, what, f"{self.short(url)}: {self.describe(resp)}")
        if resp.status == 200 and resp.url == target:
            return
        message = f"{what} {self.short(url)} does not lead to {self.short(target)}"
        if required:
            self.report.problem(f"{message}: {self.describe(resp)}", client.name)
        else:
            self.report.note(f"{message} (the clients normalize names themselves)", client.name)

    def vary(self) -> None:
        for url in sorted(self.unvaried):
            if len(self.page_types.get(url, ())) > 1:
                self.report.problem(f"{self.short(url)}: the answer depends on Accept but has "
                                    "no Vary: Accept (caches mix the formats up)")  # fmt: skip
            else:
                self.report.note(f"{self.short(url)}: no Vary: Accept (harmless while the answer "
                                 "never varies)")  # fmt: skip


@dataclass
class FileChecks:
    """One file of a project page as a client fetches it: HEAD, ranges, ``.metadata``."""

    checker: Checker
    client: Client

    def run(self, view: PageView) -> None:
        if not view.files:
            self.checker.report.note("the project page lists no files", self.client.name)
            return
        file = next((f for f in view.files if f.metadata_sha256 is not None), view.files[0])
        self.file(file)
        others = [f for f in view.files if f.metadata_sha256 is not None and f is not file]
        for other in others[:_METADATA_HEADS]:
            resp = self.checker.request(self.client, metadata_of(other.url), "HEAD")
            if resp.status != 200:
                self.problem(f"{other.filename}.metadata is advertised but answers "
                             f"{self.checker.describe(resp)} (pip fails)")  # fmt: skip
        attested = next((f for f in view.files if f.provenance), None)
        if attested is not None:
            self.provenance(attested)

    def provenance(self, file: FileLink) -> None:
        """PEP 740: an advertised provenance answers 200 with a JSON object."""
        assert file.provenance is not None
        resp = self.checker.request(self.client, file.provenance, **_IDENTITY)
        said = self.checker.describe(resp)
        try:
            ok = resp.status == 200 and isinstance(json.loads(resp.body), dict)
        except ValueError:
            ok = False
        self.row("provenance", f"{file.filename}: {said}{'' if ok else ', not a JSON object'}")
        if not ok:
            self.problem(f"{file.filename}: the advertised provenance answers {said}, "
                         "not a JSON object")  # fmt: skip

    def row(self, what: str, text: str) -> None:
        self.checker.report.row(self.client.name, what, text)

    def problem(self, message: str) -> None:
        self.checker.report.problem(message, self.client.name)

    def file(self, file: FileLink) -> None:
        head = self.checker.request(self.client, file.url, "HEAD", **_IDENTITY)
        length = head.headers.get("content-length")
        ranges = head.headers.get("accept-ranges", "(none)")
        said = self.checker.describe(head)
        self.row("file HEAD", f"{file.filename}: {said}, {length} bytes, Accept-Ranges: {ranges}")
        if head.status != 200:
            self.problem(f"HEAD {self.checker.short(file.url)}: {said}")
            return
        if head.headers.get("content-encoding", "identity") != "identity":
            self.problem(f"{file.filename} is sent {head.headers['content-encoding']}-encoded")
        size = int(length) if length and length.isdigit() else file.size
        if file.size is not None and size != file.size:
            self.problem(f"{file.filename} is {size} bytes, the page says {file.size}")
        if size:
            self.ranges(file, size)
        if file.metadata_sha256 is not None:
            self.metadata(file)

    def ranges(self, file: FileLink, size: int) -> None:
        n = min(_RANGE_BYTES, size)
        results = []
        for spec, first in ((f"0-{n - 1}", 0), (f"-{n}", size - n)):
            resp = self.checker.request(self.client, file.url, Range=f"bytes={spec}", **_IDENTITY)
            want = f"bytes {first}-{first + n - 1}/{size}"
            got = f"{resp.status} {resp.headers.get('content-range', '(no Content-Range)')}"
            results.append(f"bytes={spec}: {got}")
            if (
                resp.status != 206
                or resp.headers.get("content-range") != want
                or len(resp.body) != n
            ):
                self.problem(f"Range bytes={spec} on {file.filename}: {got}, {len(resp.body)} "
                             f"bytes, not 206 {want} (uv, poetry read wheels so)")  # fmt: skip
        self.row("file Range", "; ".join(results))

    def metadata(self, file: FileLink) -> None:
        resp = self.checker.request(self.client, metadata_of(file.url), **_IDENTITY)
        said = self.checker.describe(resp)
        if resp.status != 200:
            self.row(".metadata", said)
            self.problem(f"{file.filename}.metadata is advertised but answers {said} (pip fails)")
            return
        digest = hashlib.sha256(resp.body).hexdigest()
        fields = BytesParser().parsebytes(resp.body, headersonly=True)
        matches = digest == file.metadata_sha256 or not file.metadata_sha256
        self.row(".metadata", f"{said}, sha256 {'matches' if matches else 'differs'}")
        if not matches:
            self.problem(f"{file.filename}.metadata has sha256 {digest}, the page advertises "
                         f"{file.metadata_sha256}")  # fmt: skip
        if not fields.get("Metadata-Version") or not fields.get("Name"):
            self.problem(f"{file.filename}.metadata is not core metadata (no Metadata-Version)")


def check_server(
    index_url: str, project: str | None = None, fetcher: Fetcher | None = None
) -> Report:
    """Check the index at ``index_url`` (the URL given to pip as ``--index-url``)."""
    return Checker(index_url, fetcher or Fetcher()).run(project)
