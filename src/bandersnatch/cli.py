"""The ``bandersnatch`` command line: logging, dispatch to a command, the run report, and
exceptions -> exit codes (the grammar is ``arguments.py``).

Exit codes (documented in docs/cli.md):

    0  success
    1  the run finished but some projects failed (they are retried on the next run);
       verify: damage remains; delete: a name was not in the mirror;
       mirror --dry-run: a project could not be asked about;
       check-server: some client would not get what it needs
    2  config or usage error (nothing was changed)
    3  the mirror is locked by another run
    4  the run could not proceed (upstream unreachable, storage or state error;
       serve: cannot listen)
    5  stopped by SIGINT/SIGTERM; progress saved, the next run resumes (serve: its end)
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import logging.config
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from .arguments import build_parser, warn_inert
from .config import Config, load, write_default
from .errors import (
    BandersnatchError,
    ConfigError,
    ConfigFileMissing,
    Interrupted,
    MirrorLocked,
    UsageError,
)
from .liveline import LineStream, Progress
from .models import SyncReport

if TYPE_CHECKING:
    from .report import RunRecord
    from .verify.report import VerifyReport

EXIT_OK, EXIT_PARTIAL, EXIT_CONFIG, EXIT_LOCKED, EXIT_FATAL, EXIT_INTERRUPTED = range(6)

log = logging.getLogger("bandersnatch")


def setup_logging(
    debug: bool, log_config: Path | None, quiet: bool = False, stream: LineStream | None = None
) -> None:
    if log_config is not None:
        logging.config.fileConfig(log_config, disable_existing_loggers=False)
        if quiet:
            logging.getLogger().setLevel(logging.WARNING)
        return
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s: %(message)s",
        stream=stream or sys.stderr,
        force=True,
    )
    if not debug:
        logging.getLogger("urllib3").setLevel(logging.WARNING)
        logging.getLogger("filelock").setLevel(logging.WARNING)


def load_config(path: Path) -> Config:
    if not path.exists():
        raise ConfigFileMissing(str(path), write_default(path))
    return load(path)


def install_stop_handlers(
    stop: threading.Event, doing: str = "finishing in-flight work and saving progress"
) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.warning("%s received: %s (again to abort)", signal.Signals(signum).name, doing)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def summarize(report: SyncReport) -> int:
    for failure in report.failures:
        history = ""
        if failure.since is not None:
            since = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(failure.since))
            history = f" (deferred: failing for {failure.runs} runs, since {since})"
        log.error("failed: %s: %s%s", failure.name, failure.reason, history)
    log.info(
        "summary: %d projects synced, %d removed, %d files downloaded (%d bytes), "
        "%d projects failed, %.1f seconds",
        report.projects_synced,
        report.projects_removed,
        report.files_downloaded,
        report.bytes_downloaded,
        len(report.failures),
        report.seconds,
    )
    return EXIT_PARTIAL if report.failures else EXIT_OK


def run_mirror(
    args: argparse.Namespace, config: Config, stop: threading.Event, record: RunRecord
) -> int:
    if args.dry_run:
        from .commands import dryrun  # noqa: PLC0415 - a run imports only its own command

        plan = dryrun.run(config, force_check=args.force_check, stop=stop)
        for line in plan.lines():
            print(line)
        return EXIT_PARTIAL if any(p.problem for p in plan.projects) else EXIT_OK
    from .commands import mirror  # noqa: PLC0415 - a run imports only its own command

    record.outcome = mirror.run(
        config,
        force_check=args.force_check,
        allow_deletions=args.allow_deletions,
        stop=stop,
        record=record,
    )
    return summarize(record.outcome)


def run_sync(
    args: argparse.Namespace, config: Config, stop: threading.Event, record: RunRecord
) -> int:
    from .commands import sync  # noqa: PLC0415 - a run imports only its own command

    record.outcome = sync.run(
        config, args.names, skip_simple_root=args.skip_simple_root, stop=stop, record=record
    )
    return summarize(record.outcome)


def run_verify(
    args: argparse.Namespace, config: Config, stop: threading.Event, record: RunRecord
) -> int:
    from .commands import verify  # noqa: PLC0415 - a run imports only its own command

    request = verify.VerifyRequest(
        delete=args.delete,
        dry_run=args.dry_run,
        json_update=args.json_update,
        hash_files=args.hash,
        workers=args.workers,
    )
    report = verify.run(config, request, stop)
    record.details.update(verify_details(report))
    for line in report.lines():
        log.info("%s", line)
    return EXIT_PARTIAL if report.damage_remains else EXIT_OK


def verify_details(report: VerifyReport) -> dict[str, object]:
    """What a verify adds to its run report: findings by kind, and what became of them."""
    return {
        "findings": dict(sorted(report.found.items())),
        "verify": {
            "projects": report.projects,
            "files_checked": report.checked,
            "repaired": report.repaired,
            "unrepaired": report.unrepaired,
            "bytes_downloaded": report.downloaded,
            "orphans": report.orphans,
            "orphans_deleted": report.orphans_deleted,
        },
    }


def run_delete(
    args: argparse.Namespace, config: Config, stop: threading.Event, record: RunRecord
) -> int:
    from .commands import delete  # noqa: PLC0415 - a run imports only its own command

    if not args.names and not args.requirement:
        raise UsageError("delete", "give at least one NAME or -r FILE")
    report = delete.run(
        config, args.names, requirements=args.requirement, dry_run=args.dry_run, stop=stop
    )
    record.removed = len(report.removed)
    record.details["delete"] = {
        "removed": list(report.removed),
        "unknown": list(report.unknown),
        "files": report.files,
        "bytes": report.bytes,
    }
    for line in report.lines():
        log.info("%s", line)
    return EXIT_PARTIAL if report.unknown else EXIT_OK


def run_serve(
    args: argparse.Namespace, config: Config, stop: threading.Event, _record: RunRecord
) -> int:
    from .commands import serve  # noqa: PLC0415 - a run imports only its own command

    serve.run(config, args.bind, args.port, args.access_log, stop)  # ends by ServerStopped


HANDLERS = {
    "mirror": run_mirror,
    "sync": run_sync,
    "verify": run_verify,
    "delete": run_delete,
    "serve": run_serve,
}
REPORTED = frozenset({"mirror", "sync", "verify", "delete"})
"""Commands whose every run writes the run report (``[mirror] status-file``)."""


def exit_code(exc: BaseException) -> int:
    """The exit code an exception that ends a run becomes (the one place that decides)."""
    if isinstance(exc, ConfigError | ConfigFileMissing | UsageError):
        return EXIT_CONFIG
    if isinstance(exc, MirrorLocked):
        return EXIT_LOCKED
    if isinstance(exc, Interrupted | KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, BandersnatchError):
        return EXIT_FATAL
    return EXIT_PARTIAL  # an uncaught exception: Python exits with 1


def dispatch(args: argparse.Namespace, config: Config, progress: Progress | None = None) -> int:
    stop = threading.Event()
    install_stop_handlers(stop, *(["closing the server"] if args.command == "serve" else []))
    # imported once the signal handlers are in place: a SIGTERM during start-up is a stop
    from .report import RunRecord, read_serial, write_reports  # noqa: PLC0415
    from .runtime import mirror_storage  # noqa: PLC0415
    from .state import MirrorState  # noqa: PLC0415

    record = RunRecord(args.command)
    if args.command not in REPORTED or getattr(args, "dry_run", False):
        return HANDLERS[args.command](args, config, stop, record)
    m = config.mirror
    storage = mirror_storage(config)
    record.serial_before = read_serial(MirrorState(storage))
    code = EXIT_FATAL
    try:
        with progress.showing(record) if progress else contextlib.nullcontext():
            code = HANDLERS[args.command](args, config, stop, record)
    except BaseException as exc:
        code = exit_code(exc)
        record.error = str(exc) or type(exc).__name__
        raise
    finally:
        if code != EXIT_LOCKED:  # the run holding the lock writes its own report
            write_reports(record, code, storage, m.directory, m.status_path, m.metrics_path)
    return code


def run_check_server(args: argparse.Namespace) -> int:
    """Needs no config: it looks at a server from outside."""
    from .serving.check import check_server  # noqa: PLC0415 - only this command needs it

    report = check_server(args.url, args.project)
    for line in report.lines():
        print(line)
    return EXIT_PARTIAL if report.problems else EXIT_OK


def run(args: argparse.Namespace) -> int:
    if args.command == "check-server":
        setup_logging(args.debug, None, args.quiet)
        return run_check_server(args)
    config = load_config(Path(args.config))
    progress = None
    line = None
    if args.command in REPORTED and not args.quiet:
        if sys.stderr.isatty() and config.mirror.log_config is None:
            line = LineStream(sys.stderr)
        progress = Progress(line)
    setup_logging(args.debug, config.mirror.log_config, args.quiet, line)
    warn_inert(args)
    return dispatch(args, config, progress)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("bandersnatch: aborted; the next run resumes from the saved todo", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BandersnatchError as exc:
        code = exit_code(exc)
        print(f"bandersnatch: {'error: ' if code == EXIT_FATAL else ''}{exc}", file=sys.stderr)
        return code
