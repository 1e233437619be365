"""The command line's grammar: every command and option, and the pypa/bandersnatch options
that are accepted but mean nothing here."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from . import __version__

DEFAULT_CONFIG = "/etc/bandersnatch.conf"

log = logging.getLogger("bandersnatch")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bandersnatch", description="Mirror the Python Package Index (or part of it)."
    )
    parser.add_argument(
        "-c", "--config", default=DEFAULT_CONFIG, help=f"config file (default {DEFAULT_CONFIG})"
    )
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level")
    parser.add_argument(
        "-q", "--quiet", action="store_true",
        help="log warnings and errors only; no progress (also accepted after the command)",
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"bandersnatch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    mirror = commands.add_parser("mirror", help="bring the mirror up to date with upstream")
    mirror.add_argument(
        "--force-check",
        action="store_true",
        help="check every project upstream lists, not just what changed since the last run",
    )
    mirror.add_argument(
        "--allow-deletions",
        action="store_true",
        help="lift the [mirror] max-deletions guard for this run",
    )
    mirror.add_argument(
        "--cleanup-todo", action="store_true", help="accepted for pypa/bandersnatch; no effect"
    )
    mirror.add_argument(
        "--dry-run", action="store_true",
        help="print what the next run would fetch and delete; download and write nothing",
    )  # fmt: skip
    sync = commands.add_parser("sync", help="fetch the named projects now")
    sync.add_argument("names", nargs="+", metavar="NAME", help="project names")
    sync.add_argument(
        "--skip-simple-root",
        action="store_true",
        help="do not rewrite the root index now (the next mirror run does)",
    )
    add_verify_parser(commands)
    add_delete_parser(commands)
    add_serve_parser(commands)
    check = commands.add_parser(
        "check-server", help="check what pip, uv, poetry and pdm get from a served mirror"
    )
    check.add_argument("url", metavar="URL", help="the index URL, e.g. http://host/simple/")
    check.add_argument(
        "--project", metavar="NAME", help="project to check (default: the first one listed)"
    )
    for command in commands.choices.values():
        command.add_argument(
            "-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
            help="log warnings and errors only; no progress",
        )  # fmt: skip
    return parser


def add_verify_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = commands.add_parser("verify", help="find and repair missing, corrupt and orphan files")
    cmd.add_argument("--delete", action="store_true", help="delete orphan files")
    cmd.add_argument("--dry-run", action="store_true", help="change nothing; report what to do")
    cmd.add_argument(
        "--json-update", action="store_true", help="refresh each project's metadata from upstream"
    )
    cmd.add_argument(
        "--workers", type=int, choices=range(1, 11), metavar="N",
        help="parallel checks (1-10; default [mirror] verifiers)",
    )  # fmt: skip
    cmd.add_argument(
        "--hash", action="store_true", help="check every digest (as compare-method = hash does)"
    )


def add_delete_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = commands.add_parser("delete", help="remove projects from the mirror")
    cmd.add_argument("names", nargs="*", metavar="NAME", help="project names")
    cmd.add_argument(
        "-r", "--requirement", action="append", type=Path, default=[], metavar="FILE",
        help="also delete the projects a requirements file names (repeatable)",
    )  # fmt: skip
    cmd.add_argument("--dry-run", action="store_true", help="change nothing; report what to do")
    cmd.add_argument(
        "--workers", type=int, metavar="N", help="accepted for pypa/bandersnatch; no effect"
    )
    cmd.add_argument(
        "--skip-json-fetch", action="store_true", help="accepted for pypa/bandersnatch; no effect"
    )


INERT_OPTIONS = {
    ("mirror", "cleanup_todo"): (
        "--cleanup-todo has no effect: a project that no longer exists upstream always "
        "leaves the todo here"
    ),
    ("delete", "workers"): "--workers has no effect: delete only removes local files",
    ("delete", "skip_json_fetch"): (
        "--skip-json-fetch has no effect: delete reads the mirror's own pages and never asks "
        "upstream"
    ),
}
"""pypa/bandersnatch options that mean nothing here: accepted, with one warning why."""


def warn_inert(args: argparse.Namespace) -> None:
    for (command, option), why in INERT_OPTIONS.items():
        if args.command == command and getattr(args, option, None) not in (None, False):
            log.warning("%s", why)


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a TCP port (0-65535)")
    return port


def add_serve_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = commands.add_parser(
        "serve", help="serve the mirror's web/ directory over HTTP (PEP 691 negotiation)"
    )
    cmd.add_argument(
        "--bind", default="127.0.0.1", metavar="ADDRESS",
        help="address to listen on (default 127.0.0.1; 0.0.0.0 or :: for every interface)",
    )  # fmt: skip
    cmd.add_argument(
        "--port", type=_port, default=8000, help="TCP port (default 8000; 0 picks a free one)"
    )
    cmd.add_argument(
        "--access-log", type=Path, metavar="PATH",
        help="append the access log to PATH (default: stderr)",
    )  # fmt: skip
