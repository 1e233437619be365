"""The S3 storage backend through the real CLI, against moto's S3 API server on 127.0.0.1
(boto3 over HTTP, nothing patched): the same scenarios on a filesystem mirror and on a
bucket, with the same outcome key for key; no writes when nothing changed; the lock."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bandersnatch.config import load
from bandersnatch.errors import ConfigError
from bandersnatch.runtime import Runtime
from bandersnatch.storage.s3 import S3Storage
from bandersnatch.verify.plan import CORRUPT, META_MISSING, MISSING

from clients import fresh_venv, installed, uv_binary
from clients import run as client_run
from fakepypi import FakePyPI, FileSpec, make_small_universe, make_universe
from harness import CLI, Mirror, make_mirror
from s3server import S3Server, s3_mirror, website, without_conditional_writes

BUCKET_PREFIX = "mirror/"
NOT_COMPARED = {".lock", "projects.stamp", "web/last-modified", "web/status.json"}
"""The filesystem's lock file stays (flock); the stamp holds fingerprints (mtimes, ETags);
last-modified and the run report (status.json) are each run's own record."""


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture
def bucket(s3: S3Server, request: pytest.FixtureRequest) -> str:
    name = "t-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    name = "".join(c if c.isalnum() or c == "-" else "-" for c in name)
    return s3.bucket(name)


class Store:
    """One mirror's stored bytes, read and damaged the same way on either backend."""

    def __init__(self, mirror: Mirror, s3: S3Server | None = None, bucket: str = "") -> None:
        self.mirror, self.s3, self.bucket = mirror, s3, bucket

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.mirror.run(*args)

    def tree(self) -> dict[str, bytes]:
        """Every stored file (a symlink as the bytes it leads to) by mirror-relative path."""
        if self.s3 is not None:
            return dict(self.s3.contents(self.bucket, BUCKET_PREFIX))
        root = self.mirror.directory
        return {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    def write(self, rel: str, data: bytes) -> None:
        """As another tool would: no bandersnatch metadata on S3."""
        if self.s3 is not None:
            self.s3.client.put_object(Bucket=self.bucket, Key=BUCKET_PREFIX + rel, Body=data)
        else:
            path = self.mirror.directory / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def remove(self, rel: str) -> None:
        if self.s3 is not None:
            self.s3.client.delete_object(Bucket=self.bucket, Key=BUCKET_PREFIX + rel)
        else:
            (self.mirror.directory / rel).unlink()


Backend = Callable[[Path, FakePyPI, dict[str, str]], Store]


@pytest.fixture(params=["filesystem", "s3"])
def backend(request: pytest.FixtureRequest, s3: S3Server, bucket: str) -> Backend:
    def make(tmp: Path, fake: FakePyPI, options: dict[str, str]) -> Store:
        mirror = make_mirror(tmp, fake, options)
        if request.param == "filesystem":
            return Store(mirror)
        return Store(s3_mirror(mirror, s3, bucket), s3, bucket)

    return make


def comparable(tree: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in tree.items() if k not in NOT_COMPARED}


def _damage(store: Store) -> set[tuple[str, str]]:
    """Break the mirror in the ways verify knows; the findings it must report."""
    tree = store.tree()
    wheels = sorted(p for p in tree if p.startswith("web/packages/") and p.endswith(".whl"))
    sdists = sorted(p for p in tree if p.endswith(".tar.gz"))
    metas = sorted(p for p in tree if p.endswith(".metadata"))
    store.remove(wheels[0])
    store.write(sdists[0], tree[sdists[0]][:100])
    store.write(wheels[1], bytes(255 - b for b in tree[wheels[1]]))  # same size
    meta = next(m for m in metas if not m.startswith(wheels[0]))
    store.remove(meta)
    store.remove("web/simple/pyreq/index.html")
    store.write("web/packages/ff/ee/0123456789/gone-1.0.tar.gz", b"left behind")
    return {
        (MISSING, wheels[0]),
        (CORRUPT, sdists[0]),
        (CORRUPT, wheels[1]),
        (META_MISSING, meta),
        ("page", "web/simple/pyreq/index.html"),
        ("orphan", "web/packages/ff/ee/0123456789/gone-1.0.tar.gz"),
    }


def _findings(stderr: str) -> set[tuple[str, str]]:
    found = set()
    for line in stderr.splitlines():
        words = line.split()
        if "WARNING:" in words and len(words) > words.index("WARNING:") + 3:
            at = words.index("WARNING:")
            found.add((words[at + 2], words[at + 3]))
        if "INFO:" in words and words[words.index("INFO:") + 1 :][:1] == ["orphan"]:
            found.add(("orphan", words[words.index("INFO:") + 2]))
    return found


# -- the same scenarios on both backends ------------------------------------------------------
def test_mirror_update_delete_and_sync_give_the_same_bytes_on_both_backends(
    tmp_path: Path, make_fake_pypi: Callable[..., FakePyPI], s3: S3Server, bucket: str
) -> None:
    universe = make_universe(n_projects=20, seed=3)
    fake = make_fake_pypi(universe)
    options = {"json": "true"}
    disk = Store(make_mirror(tmp_path / "fs", fake, options))
    cloud = Store(s3_mirror(make_mirror(tmp_path / "s3", fake, options), s3, bucket), s3, bucket)

    for store in (disk, cloud):
        result = store.run("mirror")
        assert result.returncode == 0, result.stderr[-3000:]
    first = comparable(disk.tree())
    assert comparable(cloud.tree()) == first  # key for key, byte for byte
    assert any(k.startswith("web/packages/") for k in first)
    assert {"status", "generation", "projects", "web/simple/index.v1_json"} <= set(first)

    changed = next(iter(universe.projects()))
    universe.add_release(changed.name, "99.0", [FileSpec("wheel"), FileSpec("sdist")])
    for store in (disk, cloud):
        result = store.run("mirror")
        assert result.returncode == 0, result.stderr[-3000:]
    second = comparable(disk.tree())
    assert second != first
    assert comparable(cloud.tree()) == second

    for store in (disk, cloud):
        result = store.run("delete", changed.name)
        assert result.returncode == 0, result.stderr[-3000:]
    third = comparable(disk.tree())
    assert not any(f"/{changed.normalized}/" in k for k in third)
    assert comparable(cloud.tree()) == third

    for store in (disk, cloud):  # sync NAME brings it back at once
        result = store.run("sync", changed.name)
        assert result.returncode == 0, result.stderr[-3000:]
    fourth = comparable(disk.tree())
    assert f"web/simple/{changed.normalized}/index.html" in fourth
    assert comparable(cloud.tree()) == fourth


def test_verify_finds_and_repairs_the_same_damage(
    tmp_path: Path, fake_pypi: FakePyPI, backend: Backend
) -> None:
    store = backend(tmp_path, fake_pypi, {"json": "true"})
    assert store.run("mirror").returncode == 0
    pristine = comparable(store.tree())
    expected = _damage(store)
    damaged = store.tree()

    dry = store.run("verify", "--dry-run", "--delete")
    assert dry.returncode == 1, dry.stderr
    assert _findings(dry.stderr) == expected
    assert store.tree() == damaged

    fixed = store.run("verify", "--delete")
    assert fixed.returncode == 0, fixed.stderr
    assert _findings(fixed.stderr) == expected
    assert comparable(store.tree()) == pristine

    again = store.run("verify")
    assert again.returncode == 0, again.stderr
    assert _findings(again.stderr) == set()


def test_delete_removes_every_trace_and_nothing_else(
    tmp_path: Path, fake_pypi: FakePyPI, backend: Backend
) -> None:
    store = backend(tmp_path, fake_pypi, {"json": "true"})
    assert store.run("mirror").returncode == 0
    before = comparable(store.tree())
    result = store.run("delete", "Foo.Bar_baz")
    assert result.returncode == 0, result.stderr
    after = comparable(store.tree())
    gone = {k for k in before if k not in after}
    assert any(k.startswith("web/packages/") for k in gone)
    assert {"web/simple/foo-bar-baz/index.html", "web/json/foo-bar-baz"} <= gone
    assert not any("foo-bar-baz" in k for k in after if not k.startswith("web/packages/"))
    assert b"foo-bar-baz" not in after["projects"]
    assert b"Foo.Bar_baz" not in after["web/simple/index.v1_json"]
    kept = set(after) - {"projects", *(k for k in after if k.startswith("web/simple/index"))}
    assert {k: after[k] for k in kept} == {k: before[k] for k in kept}
    assert store.run("verify", "--dry-run", "--delete").returncode == 0


# -- S3 only -------------------------------------------------------------------------------------
def test_objects_carry_their_digest_and_the_second_run_writes_nothing(
    tmp_path: Path, fake_pypi: FakePyPI, s3: S3Server, bucket: str
) -> None:
    mirror = s3_mirror(make_mirror(tmp_path, fake_pypi, {"json": "true"}), s3, bucket)
    assert mirror.run("mirror").returncode == 0
    keys = s3.keys(bucket, BUCKET_PREFIX)
    wheel = next(k for k in keys if k.endswith(".whl"))
    head = s3.client.head_object(Bucket=bucket, Key=BUCKET_PREFIX + wheel)
    assert head["Metadata"]["sha256"] == wheel_digest(s3, bucket, wheel)
    assert head["Metadata"]["uploaded"].endswith("Z")
    page = s3.client.head_object(Bucket=bucket, Key=BUCKET_PREFIX + "web/simple/index.v1_json")
    assert page["ContentType"] == "application/vnd.pypi.simple.v1+json"
    assert ".lock" not in keys  # released

    s3.log.clear()
    again = mirror.run("mirror")
    assert again.returncode == 0, again.stderr
    # web/last-modified is the run's time to the second: the same bytes (no upload) when
    # this run ends within the second the first one did
    writes = set(_writes(s3, bucket)) - {("PUT", "web/last-modified")}
    assert writes == {("PUT", ".lock"), ("DELETE", ".lock"), ("PUT", "web/status.json")}

    s3.log.clear()  # every project checked again: every file and page found current
    forced = mirror.run("mirror", "--force-check")
    assert forced.returncode == 0, forced.stderr
    written = {path for _method, path in _writes(s3, bucket)}
    run_record = {"web/last-modified", "web/status.json"}  # each run's own time and report
    web = {p for p in written if p.startswith("web/")}
    assert "web/status.json" in web and web <= run_record, written  # last-modified: see above
    assert written <= {".lock", "todo", "todo.progress", "projects.stamp"} | run_record
    gets = [p for m, p in s3.log.lines if m == "GET" and "/web/packages/" in p]
    assert gets == []  # every file was checked with a HEAD, none downloaded


def _writes(s3: S3Server, bucket: str) -> list[tuple[str, str]]:
    """The run's PUTs and DELETEs, by mirror-relative path."""
    cut = f"/{bucket}/{BUCKET_PREFIX}"
    return [(method, path.split(cut, 1)[1]) for method, path in s3.log.writes()]


def wheel_digest(s3: S3Server, bucket: str, key: str) -> str:
    return hashlib.sha256(s3.read(bucket, BUCKET_PREFIX + key)).hexdigest()


def test_verify_lists_and_heads_and_never_downloads_a_file(
    tmp_path: Path, fake_pypi: FakePyPI, s3: S3Server, bucket: str
) -> None:
    mirror = s3_mirror(make_mirror(tmp_path, fake_pypi, {"json": "true"}), s3, bucket)
    assert mirror.run("mirror").returncode == 0
    s3.log.clear()
    result = mirror.run("verify", "--hash")
    assert result.returncode == 0, result.stderr
    methods = {
        m for m, path in s3.log.lines if "/web/packages/" in path and "list-type" not in path
    }
    assert methods == {"HEAD"}
    assert any(method == "GET" and "list-type=2" in path for method, path in s3.log.lines)


def _lock_body(owner: str, lease: int) -> bytes:
    return json.dumps({"owner": owner, "lease": lease, "renewed": time.time()}).encode()


def test_a_run_is_refused_while_another_holds_the_lease(
    tmp_path: Path, make_fake_pypi: Callable[..., FakePyPI], s3: S3Server, bucket: str
) -> None:
    fake = make_fake_pypi(make_small_universe())
    fake.slow("/packages/", 0.5)
    mirror = s3_mirror(make_mirror(tmp_path, fake), s3, bucket)
    first = subprocess.Popen(
        [*CLI, "-c", str(mirror.config), "mirror"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not s3.exists(bucket, BUCKET_PREFIX + ".lock"):
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        lock = json.loads(s3.read(bucket, BUCKET_PREFIX + ".lock"))
        second = mirror.run("mirror")
        assert second.returncode == 3, second.stderr
        assert "mirror is locked" in second.stderr and lock["owner"] in second.stderr
        assert "lease runs out" in second.stderr
    finally:
        _out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err[-2000:]
    assert ".lock" not in s3.keys(bucket, BUCKET_PREFIX)


def test_an_expired_lease_is_taken_over(
    tmp_path: Path, fake_pypi: FakePyPI, s3: S3Server, bucket: str
) -> None:
    mirror = s3_mirror(make_mirror(tmp_path, fake_pypi), s3, bucket)
    key = BUCKET_PREFIX + ".lock"
    s3.client.put_object(Bucket=bucket, Key=key, Body=_lock_body("crashed-host:1:dead", 1))
    time.sleep(2.2)  # the store's clock moves past the lease
    result = mirror.run("mirror")
    assert result.returncode == 0, result.stderr
    assert "took over the lock of crashed-host:1:dead" in result.stderr
    assert ".lock" not in s3.keys(bucket, BUCKET_PREFIX)


def test_a_live_lease_is_renewed_and_a_fresh_foreign_one_is_respected(
    tmp_path: Path, make_fake_pypi: Callable[..., FakePyPI], s3: S3Server, bucket: str
) -> None:
    fake = make_fake_pypi(make_small_universe())  # 12 files, 0.4 s each
    fake.slow("/packages/", 0.4)
    mirror = s3_mirror(make_mirror(tmp_path, fake, {"workers": "1"}), s3, bucket)
    mirror.config.write_text(mirror.config.read_text() + "lock_lease = 2\n")
    s3.log.clear()
    started = time.monotonic()
    result = mirror.run("mirror")
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    lock_puts = [p for m, p in s3.log.writes() if m == "PUT" and p.endswith("/.lock")]
    assert took > 3
    assert len(lock_puts) >= 2 + int(took / 2)  # create, probe, then a renewal every 2/3 s

    key = BUCKET_PREFIX + ".lock"
    s3.client.put_object(Bucket=bucket, Key=key, Body=_lock_body("other:2:live", 600))
    refused = mirror.run("mirror")
    assert refused.returncode == 3 and "other:2:live" in refused.stderr
    assert json.loads(s3.read(bucket, key))["owner"] == "other:2:live"  # left alone


# -- configuration and other commands -----------------------------------------------------------
def test_without_boto3_the_error_names_the_extra(tmp_path: Path, fake_pypi: FakePyPI) -> None:
    mirror = make_mirror(tmp_path, fake_pypi, {"storage-backend": "s3"})
    mirror.config.write_text(mirror.config.read_text().replace(str(mirror.directory), "/b-1"))
    hide = "import sys; sys.modules['boto3'] = None; from bandersnatch.cli import main; "
    result = subprocess.run(
        [sys.executable, "-c", hide + "sys.exit(main(sys.argv[1:]))", "-c",
         str(mirror.config), "mirror"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "pip install 'bandersnatch[s3]'" in result.stderr


@pytest.mark.parametrize(
    ("directory", "extra", "words"),
    [
        ("/", "", "/<bucket>/<prefix>"),
        ("/No_Such", "", "/<bucket>/<prefix>"),
        ("/b-ok/p", "config_param_no_such_option = 1\n", "botocore refuses"),
        ("/b-ok/p", "region = x\n", "unknown key"),
    ],
)
def test_bad_s3_settings_are_one_clear_line(
    tmp_path: Path, fake_pypi: FakePyPI, s3: S3Server, directory: str, extra: str, words: str
) -> None:
    mirror = s3_mirror(make_mirror(tmp_path, fake_pypi), s3, "b-ok")
    text = mirror.config.read_text().replace("directory = /b-ok/mirror", f"directory = {directory}")
    mirror.config.write_text(text + extra)
    result = mirror.run("mirror")
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr


def test_a_missing_bucket_is_named(tmp_path: Path, fake_pypi: FakePyPI, s3: S3Server) -> None:
    mirror = s3_mirror(make_mirror(tmp_path, fake_pypi), s3, "never-made")
    result = mirror.run("mirror")
    assert result.returncode == 4, result.stderr
    assert "s3://never-made" in result.stderr and "create it first" in result.stderr


def test_serve_points_at_object_storage_hosting(
    tmp_path: Path, fake_pypi: FakePyPI, s3: S3Server
) -> None:
    mirror = s3_mirror(make_mirror(tmp_path, fake_pypi), s3, "serve-b")
    result = subprocess.run(
        [*CLI, "-c", str(mirror.config), "serve", "--port", "0"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "static website hosting" in result.stderr


# -- serving from the bucket: the documented static-website recipes ------------------------------
@pytest.mark.parametrize(
    ("index", "fmt"),
    [("index.html", "text/html"), ("index.v1_json", "application/vnd.pypi.simple.v1+json")],
)
def test_static_website_recipes_serve_every_client(
    tmp_path: Path, fake_pypi: FakePyPI, s3: S3Server, bucket: str, index: str, fmt: str
) -> None:
    """docs/storage.md: hash-index = false, simple-format = ALL, the website's index document
    picks the one format every client gets; check-server replays pip, uv, poetry and pdm."""
    mirror = s3_mirror(make_mirror(tmp_path, fake_pypi, {"json": "true"}), s3, bucket)
    assert mirror.run("mirror").returncode == 0
    with website(s3, bucket, "", index) as site:
        url = f"{site}/{BUCKET_PREFIX}web/simple/"
        result = subprocess.run(
            [*CLI, "check-server", url, "--project", "Foo.Bar_baz"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        lines = result.stdout.splitlines()
        for client in ("pip", "uv", "poetry", "pdm"):
            for row in ("root", "project", "slashless"):
                line = next(x for x in lines if x.split()[:2] == [client, row])
                assert f"200 {fmt}" in line, line
        problems = [x for x in lines if x.startswith("problem: ")]
        if index == "index.html":
            assert result.returncode == 0 and problems == [], result.stdout
        else:  # only a client that accepts nothing but HTML (pip before 22.2) is left out
            assert problems and all("JSON to a client that accepts only text/html" in p
                                    for p in problems), result.stdout  # fmt: skip

        python = fresh_venv(tmp_path)
        cmd = [uv_binary(), "pip", "install", "--no-config", "--no-cache", "--index-url", url]
        client_run([*cmd, "--python", str(python), "foo-bar-baz"], tmp_path / "home")
        assert "foo-bar-baz" in installed(python, tmp_path / "home")


# -- state on S3: a killed run resumes from its todo and journal ----------------------------------
SMALL_STEPS = [
    sys.executable,
    "-c",
    "import sys; import bandersnatch.commands.mirror as m; "
    "import bandersnatch.storage.s3journal as s; m.CHECKPOINT_EVERY = 8; s.JOURNAL_LINES = 3; "
    "from bandersnatch.cli import main; sys.exit(main(sys.argv[1:]))",
]


def test_a_killed_run_resumes_from_its_journal_segments_and_takes_over_the_lock(
    tmp_path: Path, make_fake_pypi: Callable[..., FakePyPI], s3: S3Server, bucket: str
) -> None:
    fake = make_fake_pypi(make_universe(n_projects=30, seed=12))
    fake.slow("/packages/", 0.05)
    reference = make_mirror(tmp_path / "fs", fake)
    assert reference.run("mirror").returncode == 0
    victim = s3_mirror(make_mirror(tmp_path / "s3", fake, {"workers": "2"}), s3, bucket)
    victim.config.write_text(victim.config.read_text() + "lock_lease = 2\n")

    proc = subprocess.Popen(
        [*SMALL_STEPS, "-c", str(victim.config), "mirror"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while not s3.exists(bucket, BUCKET_PREFIX + "todo.progress.1"):  # a second segment
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    left = s3.keys(bucket, BUCKET_PREFIX)
    assert {".lock", "todo", "todo.progress"} <= set(left)

    time.sleep(2.5)  # the dead run's lease runs out
    result = victim.run("mirror")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "took over the lock" in result.stderr
    tree = Store(victim, s3, bucket).tree()
    assert not any(k.startswith(("todo", ".lock")) for k in tree)
    volatile = {"failures", "filters"}
    expected = {k: v for k, v in comparable(Store(reference).tree()).items() if k not in volatile}
    assert {k: v for k, v in comparable(tree).items() if k not in volatile} == expected


def test_diff_file_inside_the_mirror_is_an_object(
    tmp_path: Path, fake_pypi: FakePyPI, s3: S3Server, bucket: str
) -> None:
    mirror = make_mirror(tmp_path, fake_pypi, {"diff-file": "{{mirror_directory}}/changed"})
    mirror = s3_mirror(mirror, s3, bucket)
    assert mirror.run("mirror").returncode == 0
    lines = s3.read(bucket, BUCKET_PREFIX + "changed").decode().splitlines()
    keys = s3.keys(bucket, BUCKET_PREFIX)
    wheels = {f"/{bucket}/{BUCKET_PREFIX}{k}" for k in keys if k.endswith(".whl")}
    assert wheels and wheels <= set(lines)
    assert all(line.startswith(f"/{bucket}/{BUCKET_PREFIX}web/") for line in lines)
    assert not (tmp_path / bucket).exists()  # nothing written to a local path of that name


def test_a_store_that_ignores_conditional_writes_is_refused_unless_allowed(
    tmp_path: Path, fake_pypi: FakePyPI, s3: S3Server, bucket: str
) -> None:
    mirror = s3_mirror(make_mirror(tmp_path, fake_pypi), s3, bucket)
    with without_conditional_writes(s3) as endpoint:
        text = mirror.config.read_text().replace(s3.endpoint, endpoint)
        mirror.config.write_text(text)
        refused = mirror.run("mirror")
        assert refused.returncode == 4, refused.stderr
        assert "does not honour conditional writes" in refused.stderr
        assert "allow_unconditional_lock = true" in refused.stderr
        # nothing of the mirror written and the lock removed; the run report says why
        assert set(s3.keys(bucket, BUCKET_PREFIX)) == {"web/status.json"}
        report = s3.client.get_object(Bucket=bucket, Key=BUCKET_PREFIX + "web/status.json")
        run = json.loads(report["Body"].read())["runs"]["mirror"]
        assert run["exit_code"] == 4
        assert "does not honour conditional writes" in run["error"]

        mirror.config.write_text(text + "allow_unconditional_lock = true\n")
        key = BUCKET_PREFIX + ".lock"
        s3.client.put_object(Bucket=bucket, Key=key, Body=_lock_body("other:4:live", 600))
        respected = mirror.run("mirror")  # advisory: read before writing, and respected
        assert respected.returncode == 3 and "other:4:live" in respected.stderr
        s3.client.delete_object(Bucket=bucket, Key=key)
        allowed = mirror.run("mirror")
        assert allowed.returncode == 0, allowed.stderr
        assert "the lock is advisory only" in allowed.stderr
    assert "web/simple/index.html" in s3.keys(bucket, BUCKET_PREFIX)


def test_the_client_keeps_a_connection_per_thread_and_retries_adaptively(
    tmp_path: Path, fake_pypi: FakePyPI, s3: S3Server
) -> None:
    mirror = s3_mirror(make_mirror(tmp_path, fake_pypi, {"workers": "8"}), s3, "pool-b")
    storage = Runtime.build(load(mirror.config)).storage
    assert isinstance(storage, S3Storage)
    config = storage.client.meta.config
    assert config.max_pool_connections >= 8 * 2  # workers download and upload at once
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 10}

    extra = 'config_param_retries = {"mode": "standard", "max_attempts": 3}\n'
    extra += "config_param_max_pool_connections = 64\nconfig_param_connect_timeout = 7\n"
    mirror.config.write_text(mirror.config.read_text() + extra)
    storage = Runtime.build(load(mirror.config)).storage
    assert isinstance(storage, S3Storage)
    config = storage.client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}  # 3 retries
    assert (config.max_pool_connections, config.connect_timeout) == (64, 7)


def test_a_run_that_loses_its_lease_stops_writing(
    tmp_path: Path, make_fake_pypi: Callable[..., FakePyPI], s3: S3Server, bucket: str
) -> None:
    fake = make_fake_pypi(make_small_universe())
    fake.slow("/packages/", 0.6)
    mirror = s3_mirror(make_mirror(tmp_path, fake, {"workers": "1"}), s3, bucket)
    mirror.config.write_text(mirror.config.read_text() + "lock_lease = 3\n")
    proc = subprocess.Popen(
        [*CLI, "-c", str(mirror.config), "mirror"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    key = BUCKET_PREFIX + ".lock"
    deadline = time.monotonic() + 60
    while not s3.exists(bucket, BUCKET_PREFIX + "todo"):  # the lock taken, the work begun
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    # as if the run had been cut off for a whole lease and another run had taken over
    s3.client.put_object(Bucket=bucket, Key=key, Body=_lock_body("usurper:3:new", 600))
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 4, err[-3000:]
    assert "lost the lock" in err and "stopping without writing more" in err
    assert json.loads(s3.read(bucket, key))["owner"] == "usurper:3:new"  # not deleted
    assert "web/simple/index.html" not in s3.keys(bucket, BUCKET_PREFIX)


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ("endpoint_url = ftp://x", "[s3] endpoint_url = 'ftp://x': must start with http://"),
        ("lock_lease = 1", "[s3] lock_lease = '1': must be between 2 and 86400"),
        ("aws_secret_access_key =", "[s3] aws_secret_access_key: empty"),
        ("config_param_Bad-Name = 1", "not a botocore Config parameter name"),
    ],
)
def test_s3_keys_are_checked_when_the_config_is_read(
    tmp_path: Path, section: str, words: str
) -> None:
    conf = tmp_path / "b.conf"
    conf.write_text(f"[mirror]\ndirectory = /b-ok\nstorage-backend = s3\n[s3]\n{section}\n")
    with pytest.raises(ConfigError) as info:
        load(conf)
    assert words in str(info.value)


def test_the_secret_key_is_never_echoed_and_filesystem_mirrors_ignore_s3(tmp_path: Path) -> None:
    conf = tmp_path / "b.conf"
    conf.write_text(
        "[mirror]\ndirectory = /b-ok/p\nstorage-backend = s3\n"
        "[s3]\naws_secret_access_key = se cret\nlock_lease = 30\n"
        'config_param_s3 = {"addressing_style": "path"}\n'
    )
    config = load(conf)
    assert config.s3 is not None and config.s3.aws_secret_access_key == "se cret"
    assert "se cret" not in repr(config.s3)
    assert config.s3.lock_lease == 30
    assert config.s3.config_params == (("s3", {"addressing_style": "path"}),)
    conf.write_text(
        conf.read_text().replace("storage-backend = s3", "storage-backend = filesystem")
    )
    assert load(conf).s3 is None


def test_a_dry_run_on_s3_looks_at_the_lease_and_writes_nothing(
    tmp_path: Path, fake_pypi: FakePyPI, s3: S3Server, bucket: str
) -> None:
    mirror = s3_mirror(make_mirror(tmp_path, fake_pypi), s3, bucket)
    s3.log.clear()
    planned = mirror.run("mirror", "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert "would fetch" in planned.stdout
    assert s3.log.writes() == [] and s3.keys(bucket, BUCKET_PREFIX) == {}

    key = BUCKET_PREFIX + ".lock"
    s3.client.put_object(Bucket=bucket, Key=key, Body=_lock_body("busy-host:7:live", 600))
    s3.log.clear()
    refused = mirror.run("mirror", "--dry-run")
    assert refused.returncode == 3, refused.stderr
    assert "busy-host:7:live" in refused.stderr
    assert s3.log.writes() == []  # the live lease is read, never replaced
    assert json.loads(s3.read(bucket, key))["owner"] == "busy-host:7:live"
