"""The status document (``report.py``) as Prometheus text exposition format 0.0.4, for
node_exporter's textfile collector (``[mirror] metrics-file``).

Every sample carries a ``command`` label: the latest run of each command the status document
holds. All are gauges: the counts are those of the latest run (a per-run value, not a
counter that grows across runs), so their names carry no ``_total``.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Mapping
from typing import Any

PREFIX = "bandersnatch_"

_Get = Callable[[Mapping[str, Any]], object]


def _path(*keys: str) -> _Get:
    def get(run: Mapping[str, Any]) -> object:
        value: object = run
        for key in keys:
            value = value.get(key) if isinstance(value, Mapping) else None
        return value

    return get


def epoch_of(text: object) -> float | None:
    """The Unix time of a status document's UTC ISO 8601 time (None for anything else)."""
    if not isinstance(text, str):
        return None
    try:
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")))
    except (ValueError, OverflowError):
        return None


def _epoch(key: str) -> _Get:
    return lambda run: epoch_of(run.get(key))


METRICS: tuple[tuple[str, str, _Get], ...] = (
    ("last_run_timestamp_seconds", "When the latest run ended (Unix time).", _epoch("ended")),
    (
        "last_success_timestamp_seconds",
        "When the latest run that exited 0 ended (Unix time).",
        _epoch("last_success"),
    ),
    ("run_duration_seconds", "How long the latest run took.", _path("duration_seconds")),
    (
        "exit_code",
        "Exit code of the latest run (0 ok, 1 some projects failed, ...).",
        _path("exit_code"),
    ),
    (
        "serial",
        "The serial the whole mirror has reached (after the latest run).",
        _path("serial_after"),
    ),
    (
        "upstream_serial",
        "Upstream's last serial, as the latest run saw it.",
        _path("upstream_serial"),
    ),
    ("lag_serials", "Upstream's last serial minus the mirror's.", _path("lag_serials")),
    ("projects_synced", "Projects the latest run synced.", _path("projects", "synced")),
    ("projects_removed", "Projects the latest run removed.", _path("projects", "removed")),
    ("failed_projects", "Projects that failed in the latest run.", _path("projects", "failed")),
    (
        "deferred_projects",
        "Projects the latest run left for the next without trying them.",
        _path("projects", "deferred"),
    ),
    (
        "files_downloaded",
        "Files the latest run downloaded (a per-run gauge).",
        _path("files", "downloaded"),
    ),
    (
        "bytes_downloaded",
        "Bytes the latest run downloaded (a per-run gauge).",
        _path("files", "bytes"),
    ),
)
"""Metric name (without the prefix), HELP text, and how to read it from a run."""


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return repr(float(value)) if isinstance(value, float) else str(value)


def render(doc: Mapping[str, Any]) -> str:
    """The text file for a status document; a value a run did not know is left out."""
    runs = doc.get("runs")
    runs = runs if isinstance(runs, Mapping) else {}
    lines: list[str] = []
    name = f"{PREFIX}info"
    lines += [f"# HELP {name} The tool that wrote this file.", f"# TYPE {name} gauge"]
    lines.append(f'{name}{{version="{_label(str(doc.get("version", "")))}"}} 1')
    for metric, text, get in METRICS:
        name = PREFIX + metric
        samples = []
        for command, run in sorted(runs.items()):
            value = _number(get(run)) if isinstance(run, Mapping) else None
            if value is not None:
                samples.append(f'{name}{{command="{_label(str(command))}"}} {value}')
        if samples:
            lines += [f"# HELP {name} {text}", f"# TYPE {name} gauge", *samples]
    verify = runs.get("verify")
    findings = verify.get("findings") if isinstance(verify, Mapping) else None
    if isinstance(findings, Mapping) and findings:
        name = f"{PREFIX}verify_findings"
        lines += [f"# HELP {name} What the latest verify found, by kind.", f"# TYPE {name} gauge"]
        for kind, count in sorted(findings.items()):
            if (value := _number(count)) is not None:
                lines.append(f'{name}{{command="verify",kind="{_label(str(kind))}"}} {value}')
    return "\n".join(lines) + "\n"
