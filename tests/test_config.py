"""config.load: the shipped default, pypa/bandersnatch compatibility, and every kind of error."""

from __future__ import annotations

import logging
import re
import textwrap
from pathlib import Path

import pytest

from bandersnatch import config
from bandersnatch.config import Config, FilterConfig, MirrorConfig, load
from bandersnatch.config.mirror import INERT, MIRROR_KEYS
from bandersnatch.config.records import LatestRelease
from bandersnatch.errors import ConfigError
from bandersnatch.models import SimpleFormat
from bandersnatch.rules.platforms import parse_platforms

REPO = Path(__file__).resolve().parent.parent
PACKAGED = REPO / "src" / "bandersnatch" / "default.conf"
TOP_LEVEL = REPO / "default.conf"


def write(tmp_path: Path, text: str, name: str = "bandersnatch.conf") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def mirror_conf(tmp_path: Path, extra: str = "", rest: str = "") -> Path:
    """A config with ``[mirror] directory`` plus ``extra`` lines, then ``rest`` sections."""
    text = "[mirror]\ndirectory = /srv/pypi\n" + textwrap.dedent(extra) + textwrap.dedent(rest)
    return write(tmp_path, text)


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(path)
    return info.value


# --- the shipped default -------------------------------------------------------------------


def test_shipped_default_parses_to_the_dataclass_defaults() -> None:
    loaded = load(PACKAGED)
    assert loaded == Config(
        mirror=MirrorConfig(directory=Path("/srv/pypi")), filters=FilterConfig(), path=PACKAGED
    )


def test_top_level_default_conf_is_identical_to_the_packaged_one() -> None:
    assert not TOP_LEVEL.is_symlink()
    assert TOP_LEVEL.read_bytes() == PACKAGED.read_bytes()


def test_default_config_text_is_the_packaged_file() -> None:
    assert config.default_config_text() == PACKAGED.read_text(encoding="utf-8")


def test_shipped_default_documents_every_key() -> None:
    """Every spelling is named; every setting that does something has a ``key = value``."""
    text = PACKAGED.read_text(encoding="utf-8")
    spellings: dict[str, list[str]] = {}
    for key, (field, _parse) in MIRROR_KEYS.items():
        assert key in text, key
        spellings.setdefault(field, []).append(key)
    for field, keys in spellings.items():
        if field not in INERT:
            lines = [k for k in keys if re.search(rf"^{re.escape(k)} =", text, re.MULTILINE)]
            assert lines, keys
    for plugin in config.KNOWN_PLUGINS:
        assert plugin in text, plugin


def uncomment(line: str) -> str:
    """``# key = value``, ``# [section]``, ``#     item`` lose their ``#``; prose keeps it."""
    body = line[2:] if line.startswith("# ") else line[1:]
    return body if re.match(r"$|[\[\s#]|[\w-]+ =", body) else line


def test_shipped_filter_examples_load_once_uncommented(tmp_path: Path) -> None:
    lines = PACKAGED.read_text(encoding="utf-8").splitlines()
    start = lines.index("# [plugins]")
    end = next(i for i, line in enumerate(lines) if line.startswith("# [regex_project_metadata]"))
    example = [uncomment(line) for line in lines[start:end]]
    path = write(tmp_path, "\n".join(lines[:start] + example) + "\n")
    loaded = load(path)
    assert loaded.filters.enabled == ("allowlist_project", "allowlist_release")
    assert loaded.filters.allowlist_names == {"requests", "django", "numpy"}
    assert loaded.filters.latest == LatestRelease(keep=3, sort_by="version")
    assert set(loaded.filters.written) == {
        "allowlist",
        "blocklist",
        "filter_prerelease",
        "filter_regex",
        "latest_release",
        "size_project_metadata",
        "versions_count_project_metadata",
    }


def test_write_default_writes_the_packaged_file(tmp_path: Path) -> None:
    target = tmp_path / "etc" / "nested" / "bandersnatch.conf"
    assert config.write_default(target) is True
    assert target.read_bytes() == PACKAGED.read_bytes()
    assert load(target).mirror.directory == Path("/srv/pypi")


def test_write_default_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "bandersnatch.conf"
    target.write_text("mine", encoding="utf-8")
    assert config.write_default(target) is False
    assert target.read_text(encoding="utf-8") == "mine"


def test_write_default_reports_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert config.write_default(blocker / "bandersnatch.conf") is False


# --- a real pypa/bandersnatch 6.x config ---------------------------------------------------

PYPA_6_CONFIG = """\
[mirror]
; The directory where the mirror data will be stored.
directory = /srv/pypi
json = true
release-files = true
cleanup = false
master = https://pypi.org
timeout = 10
global-timeout = 18000
workers = 6
hash-index = false
simple-format = ALL
stop-on-error = false
storage-backend = filesystem
verifiers = 3
keep_index_versions = 2
compare-method = stat
digest_name = sha256
api-method = simple
download-mirror = https://pypi-mirror.example.com/
download-mirror-no-fallback = False
diff-file = {{mirror_directory}}/mirrored-files
diff-append-epoch = true
proxy =
log-config =
root_uri =

[plugins]
enabled =
    blocklist_project
    blocklist_release
    exclude_platform
    prerelease_release
    latest_release
    regex_release_file_metadata

[blocklist]
packages =
    example1
    example2>=1.4.2,<1.9,!=1.5.*,!=1.6.*
platforms =
    windows
    py2.7
    freebsd

[latest_release]
keep = 3
sort_by = time

[regex_release_file_metadata]
any:release_file.packagetype =
    sdist
    bdist_wheel
not-null:info.classifiers = .*Programming Language :: Python :: 3.*
"""


def test_pypa_6_config_loads(tmp_path: Path) -> None:
    loaded = load(write(tmp_path, PYPA_6_CONFIG))
    mirror = loaded.mirror
    assert mirror.directory == Path("/srv/pypi")
    assert mirror.json is True
    assert mirror.workers == 6
    assert mirror.global_timeout == 18000.0
    assert mirror.keep_index_versions == 2
    assert mirror.compare_method == "stat"
    assert mirror.change_feed == "simple"
    assert mirror.download_mirror == "https://pypi-mirror.example.com"
    assert mirror.diff_file == Path("/srv/pypi/mirrored-files")
    assert mirror.diff_append_epoch is True
    assert (mirror.proxy, mirror.log_config, mirror.root_uri) == (None, None, None)
    filters = loaded.filters
    assert filters.enabled == (
        "blocklist_project",
        "blocklist_release",
        "exclude_platform",
        "prerelease_release",
        "latest_release",
        "regex_release_file_metadata",
    )
    assert filters.blocklist.platforms == parse_platforms("windows py2.7 freebsd")
    regex = filters.file_metadata
    assert {(r.key.path, r.key.mode, r.key.nulls_match) for r in regex} == {
        (("release_file", "packagetype"), "any", True),
        (("info", "classifiers"), "any", False),
    }
    assert filters.allowlist_packages == ()
    assert not filters.allowlist_enabled


# --- aliases -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["keep_index_versions", "keep-index-versions"])
def test_keep_index_versions_both_spellings(tmp_path: Path, key: str) -> None:
    assert load(mirror_conf(tmp_path, f"{key} = 5\n")).mirror.keep_index_versions == 5


@pytest.mark.parametrize("key", ["change-feed", "api-method"])
def test_change_feed_and_its_pypa_alias(tmp_path: Path, key: str) -> None:
    assert load(mirror_conf(tmp_path, f"{key} = SIMPLE\n")).mirror.change_feed == "simple"


def test_aliases_with_the_same_value_are_fine(tmp_path: Path) -> None:
    path = mirror_conf(tmp_path, "api-method = xmlrpc\nchange-feed = xmlrpc\n")
    assert load(path).mirror.change_feed == "xmlrpc"


@pytest.mark.parametrize(
    ("lines", "key", "other"),
    [
        ("api-method = xmlrpc\nchange-feed = simple\n", "change-feed", "api-method"),
        ("keep_index_versions = 1\nkeep-index-versions = 2\n", "keep-index-versions", "keep_"),
    ],
)
def test_aliases_with_different_values_conflict(
    tmp_path: Path, lines: str, key: str, other: str
) -> None:
    error = load_error(mirror_conf(tmp_path, lines))
    assert (error.section, error.key) == ("mirror", key)
    assert other in error.reason and "conflicts" in error.reason


# --- value parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[("true", True), ("YES", True), ("On", True), ("1", True)],
        *[("false", False), ("no", False), ("OFF", False), ("0", False)],
    ],
)
def test_booleans(tmp_path: Path, raw: str, expected: bool) -> None:
    assert load(mirror_conf(tmp_path, f"json = {raw}\n")).mirror.json is expected


def test_typed_values(tmp_path: Path) -> None:
    path = mirror_conf(
        tmp_path,
        """\
        master = https://mirror.example.com:8443/pypi/
        simple-format = json
        digest_name = BLAKE2B_256
        timeout = 2.5
        workers = 10
        retries = 0
        retry-backoff = 0
        max-deletions = 0
        proxy = socks5h://proxy.example.com:1080/
        core-metadata = no
        cache-bust = off
        """,
    )
    mirror = load(path).mirror
    assert mirror.master == "https://mirror.example.com:8443/pypi"
    assert mirror.simple_format is SimpleFormat.JSON
    assert mirror.digest_name == "blake2b_256"
    assert (mirror.timeout, mirror.workers, mirror.retries) == (2.5, 10, 0)
    assert (mirror.retry_backoff, mirror.max_deletions) == (0.0, 0)
    assert mirror.proxy == "socks5h://proxy.example.com:1080"
    assert (mirror.core_metadata, mirror.cache_bust) == (False, False)


def test_http_allowed_with_allow_non_https(tmp_path: Path) -> None:
    path = mirror_conf(
        tmp_path,
        "master = http://10.0.0.1:8080\ndownload-mirror = http://m.local/\nallow-non-https = yes\n",
    )
    mirror = load(path).mirror
    assert (mirror.master, mirror.download_mirror) == ("http://10.0.0.1:8080", "http://m.local")


def test_release_files_false_links_to_files_host(tmp_path: Path) -> None:
    mirror = load(mirror_conf(tmp_path, "release-files = false\n")).mirror
    assert mirror.root_uri == "https://files.pythonhosted.org"


def test_no_fallback_without_download_mirror_is_ignored(tmp_path: Path) -> None:
    path = mirror_conf(tmp_path, "download-mirror-no-fallback = true\n")
    assert load(path).mirror.download_mirror_no_fallback is False


def test_log_config_must_exist(tmp_path: Path) -> None:
    logging_conf = tmp_path / "logging.conf"
    error = load_error(mirror_conf(tmp_path, f"log-config = {logging_conf}\n"))
    assert (error.key, error.value) == ("log-config", str(logging_conf))
    logging_conf.write_text("", encoding="utf-8")
    assert load(mirror_conf(tmp_path, f"log-config = {logging_conf}\n")).mirror.log_config == (
        logging_conf
    )


def test_diff_file_reference_to_a_missing_key(tmp_path: Path) -> None:
    error = load_error(mirror_conf(tmp_path, "diff-file = {{mirror_nothere}}/x\n"))
    assert (error.section, error.key) == ("mirror", "diff-file")
    assert "[mirror] nothere" in error.reason


# --- errors name the section, the key and the value ----------------------------------------


@pytest.mark.parametrize(
    ("line", "key", "value", "reason"),
    [
        ("workers = 11", "workers", "11", "between 1 and 10"),
        ("workers = 0", "workers", "0", "between 1 and 10"),
        ("workers = three", "workers", "three", "whole number"),
        ("verifiers = 20", "verifiers", "20", "between 1 and 10"),
        ("timeout = 0", "timeout", "0", "greater than 0"),
        ("global-timeout = -1", "global-timeout", "-1", "greater than 0"),
        ("timeout = nan", "timeout", "nan", "finite"),
        ("max-deletions = -1", "max-deletions", "-1", "0 or more"),
        ("retries = 21", "retries", "21", "between 0 and 20"),
        ("retry-backoff = -0.5", "retry-backoff", "-0.5", "0 or more"),
        ("keep_index_versions = -1", "keep_index_versions", "-1", "0 or more"),
        ("json = maybe", "json", "maybe", "not a boolean"),
        ("workers = 3 ; PyPI asks for <= 10", "workers", "3 ; PyPI asks for <= 10", "own line"),
        ("simple-format = XML", "simple-format", "XML", "all, html, json"),
        ("compare-method = mtime", "compare-method", "mtime", "hash, stat"),
        ("digest_name = sha1", "digest_name", "sha1", "sha256, md5, blake2b_256"),
        ("change-feed = rss", "change-feed", "rss", "xmlrpc, simple"),
        ("api-method = rss", "api-method", "rss", "xmlrpc, simple"),
        ("storage-backend = swift", "storage-backend", "swift", "not available yet"),
        ("master = pypi.org", "master", "pypi.org", "https://"),
        ("master = https://", "master", "https://", "no host"),
        ("master = https://pypi.org/?x=1", "master", "https://pypi.org/?x=1", "query"),
        ("master = https://pypi.org:99999", "master", "https://pypi.org:99999", "not a valid"),
        ("master = http://pypi.org", "master", "http://pypi.org", "allow-non-https = true"),
        ("download-mirror = http://m", "download-mirror", "http://m", "allow-non-https"),
        ("root_uri = ftp://files", "root_uri", "ftp://files", "http://"),
        ("proxy = gopher://p", "proxy", "gopher://p", "socks5://"),
        ("master =", "master", "", "empty value"),
        ("release_files = true", "release_files", "true", "did you mean 'release-files'"),
        ("Workers = 3", "Workers", "3", "did you mean 'workers'"),
        ("keep-index-version = 1", "keep-index-version", "1", "did you mean 'keep"),
        ("frobnicate = 1", "frobnicate", "1", "unknown key"),
        ("max-document-size = " + "9" * 400, "max-document-size", "9" * 400, "too large"),
        ("log-config = /" + "a" * 5000, "log-config", "/" + "a" * 5000, "cannot be read"),
    ],
)
def test_mirror_errors(tmp_path: Path, line: str, key: str, value: str, reason: str) -> None:
    error = load_error(mirror_conf(tmp_path, line + "\n"))
    assert (error.section, error.key, error.value) == ("mirror", key, value)
    assert reason in error.reason
    message = str(error)
    assert "[mirror]" in message and key in message and repr(value) in message


@pytest.mark.parametrize("value", ["srv/pypi", "~/pypi", ""])
def test_directory_must_be_absolute(tmp_path: Path, value: str) -> None:
    error = load_error(write(tmp_path, f"[mirror]\ndirectory = {value}\n"))
    assert (error.section, error.key, error.value) == ("mirror", "directory", value)


def test_directory_is_required(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, "[mirror]\nworkers = 3\n"))
    assert (error.section, error.key, error.value) == ("mirror", "directory", None)


def test_mirror_section_is_required(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, "[plugins]\nenabled = all\n"))
    assert (error.section, error.key) == ("mirror", None)


@pytest.mark.parametrize(
    ("text", "section", "key", "reason"),
    [
        ("directory = /srv/pypi\n", "{path}", None, "before any [section]"),
        ("[mirror]\ndirectory /srv/pypi\n", "{path}", None, "not 'key = value'"),
        ("[mirror]\ndirectory: /srv/pypi\n", "{path}", None, "not 'key = value'"),
        ("[mirror]\ndirectory = /a\ndirectory = /b\n", "mirror", "directory", "given twice"),
        ("[mirror]\ndirectory = /a\n[mirror]\nworkers = 1\n", "mirror", None, "given twice"),
    ],
)
def test_unparsable_files(
    tmp_path: Path, text: str, section: str, key: str | None, reason: str
) -> None:
    path = write(tmp_path, text)
    error = load_error(path)
    assert (error.section, error.key) == (section.format(path=path), key)
    assert reason in error.reason


def test_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.conf"
    assert "cannot read" in load_error(missing).reason
    binary = tmp_path / "binary.conf"
    binary.write_bytes(b"[mirror]\ndirectory = /srv/\xff\n")
    assert "UTF-8" in load_error(binary).reason


@pytest.mark.parametrize(
    ("rest", "section", "reason"),
    [
        ("[whitelist]\npackages = foo\n", "whitelist", "did you mean 'allowlist'"),
        ("[mirrors]\ndirectory = /x\n", "mirrors", "did you mean 'mirror'"),
        ("[options]\nenabled = all\n", "options", "known sections: mirror, plugins"),
        ("[blocklists]\npackages = foo\n", "blocklists", "did you mean 'blocklist'"),
        ("[swift]\nauth_url = https://x\n", "swift", "not available yet"),
    ],
)
def test_unknown_sections(tmp_path: Path, rest: str, section: str, reason: str) -> None:
    error = load_error(mirror_conf(tmp_path, rest=rest))
    assert (error.section, error.key) == (section, None)
    assert reason in error.reason


def test_default_section_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, "[DEFAULT]\nworkers = 9\n[mirror]\ndirectory = /srv/pypi\n")
    with caplog.at_level(logging.WARNING):
        assert load(path).mirror.workers == 3
    assert "[DEFAULT] is ignored" in caplog.text


@pytest.mark.parametrize(
    ("rest", "section", "key", "value", "reason"),
    [
        ("[allowlist]\npackage = foo\n", "allowlist", "package", "foo", "did you mean 'packages'"),
        ("[blocklist]\nplatform = win\n", "blocklist", "platform", "win", "'platforms'"),
        ("[latest_release]\nkeep = -1\n", "latest_release", "keep", "-1", "0 or more"),
        ("[latest_release]\nsort_by = age\n", "latest_release", "sort_by", "age", "version, time"),
        ("[filter_regex]\nreleases = (\n", "filter_regex", "releases", "(", "regular expression"),
        (
            "[filter_regex]\npackages = a{99999999999}\n",
            "filter_regex",
            "packages",
            "a{99999999999}",
            "too large",
        ),
        (
            "[filter_regex]\npackages = " + "(" * 2000 + ")" * 2000 + "\n",
            "filter_regex",
            "packages",
            "(" * 2000 + ")" * 2000,
            "recursion",
        ),
        (
            "[regex_project_metadata]\ninfo.name = [\n",
            "regex_project_metadata",
            "info.name",
            "[",
            "",
        ),
        (
            "[size_project_metadata]\nmax_package_size = big\n",
            "size_project_metadata",
            None,
            "big",
            "",
        ),
        ("[versions_count_project_metadata]\nmax_versions = x\n", None, "max_versions", "x", ""),
        ("[plugins]\nenable = all\n", "plugins", "enable", "all", "did you mean 'enabled'"),
    ],
)
def test_filter_section_errors(
    tmp_path: Path, rest: str, section: str | None, key: str | None, value: str, reason: str
) -> None:
    error = load_error(mirror_conf(tmp_path, rest=rest))
    expected_section = section or rest[1 : rest.index("]")]
    expected_key = key or rest.split("\n")[1].split(" =", maxsplit=1)[0]
    assert (error.section, error.key, error.value) == (expected_section, expected_key, value)
    assert reason in error.reason


def test_free_form_sections_accept_any_key(tmp_path: Path) -> None:
    rest = """\
    [version_range_release_file_metadata]
    requires_python = >=3.8
    info.version = >=1.0

    [regex_project_metadata]
    not-null:info.license = MIT
    """
    filters = load(mirror_conf(tmp_path, rest=rest)).filters
    assert filters.written["version_range_release_file_metadata"] == {
        "requires_python": ">=3.8",
        "info.version": ">=1.0",
    }
    assert filters.written["regex_project_metadata"] == {"not-null:info.license": "MIT"}


# --- [plugins] -----------------------------------------------------------------------------


def test_all_expands_to_every_plugin_once(tmp_path: Path) -> None:
    path = mirror_conf(tmp_path, rest="[plugins]\nenabled =\n    latest_release\n    all\n")
    assert load(path).filters.enabled == config.KNOWN_PLUGINS
    assert len(config.KNOWN_PLUGINS) == 16


def test_enabled_keeps_order_and_drops_duplicates(tmp_path: Path) -> None:
    rest = "[plugins]\nenabled = regex_project allowlist_project\n    regex_project\n"
    filters = load(mirror_conf(tmp_path, rest=rest)).filters
    assert filters.enabled == ("regex_project", "allowlist_project")
    assert filters.allowlist_enabled


def test_unknown_plugin_is_named(tmp_path: Path) -> None:
    rest = "[plugins]\nenabled =\n    allowlist_project\n    allowlist_projects\n"
    error = load_error(mirror_conf(tmp_path, rest=rest))
    assert (error.section, error.key, error.value) == ("plugins", "enabled", "allowlist_projects")
    assert "did you mean 'allowlist_project'" in error.reason


def test_pre_5_plugin_names_suggest_the_new_ones(tmp_path: Path) -> None:
    error = load_error(mirror_conf(tmp_path, rest="[plugins]\nenabled = blacklist_project\n"))
    assert error.value == "blacklist_project"
    assert "did you mean 'blocklist_project'" in error.reason


def test_empty_plugins_section_enables_nothing(tmp_path: Path) -> None:
    assert load(mirror_conf(tmp_path, rest="[plugins]\nenabled =\n")).filters.enabled == ()


def test_unused_filter_section_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        load(mirror_conf(tmp_path, rest="[allowlist]\npackages = requests\n"))
    assert "[allowlist] has no effect" in caplog.text


# --- [allowlist] packages ------------------------------------------------------------------


def test_allowlist_lines_with_specifiers_and_comments(tmp_path: Path) -> None:
    rest = """\
    [plugins]
    enabled = allowlist_project allowlist_release

    [allowlist]
    packages =
        # whole-line comment
        requests
        Foo.Bar>=2   # trailing comment
        zope_interface==6.0
        black[d] ; python_version >= "3.8"

        requests
    requirements_path = /etc/bandersnatch
    requirements =
        requirements.txt
    """
    filters = load(mirror_conf(tmp_path, rest=rest)).filters
    assert filters.allowlist_packages == (
        "requests",
        "Foo.Bar>=2",
        "zope_interface==6.0",
        'black[d] ; python_version >= "3.8"',
    )
    assert filters.allowlist_names == {"requests", "foo-bar", "zope-interface", "black"}
    assert filters.allowlist.requirements_path == Path("/etc/bandersnatch")


def test_bad_allowlist_line_is_named(tmp_path: Path) -> None:
    rest = "[allowlist]\npackages =\n    requests\n    not a name!\n"
    error = load_error(mirror_conf(tmp_path, rest=rest))
    assert (error.section, error.key, error.value) == ("allowlist", "packages", "not a name!")
    assert "\n" not in str(error)


def test_bad_blocklist_line_is_named(tmp_path: Path) -> None:
    rest = "[blocklist]\npackages =\n    foo==\n"
    error = load_error(mirror_conf(tmp_path, rest=rest))
    assert (error.section, error.key, error.value) == ("blocklist", "packages", "foo==")
