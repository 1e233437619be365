"""Plot first-sync throughput against file size: ours, pypa/bandersnatch 8.2 and raw.

Runs a sweep of file sizes with bench_compare's machinery (the same fake PyPI, contenders,
configs and measurements; fewer files as they grow so each point takes a few seconds), writes
the measurements as JSON, and draws MB/s and files/s against file size into a PNG. With
``--from-json`` it draws from earlier JSON instead (this script's, or ``bench_compare.py
--json``'s: every first-sync workload without added latency becomes a point). Needs
matplotlib (``pip install -e '.[bench]'``). Nothing is asserted.

    .venv/bin/python benchmarks/plot_throughput.py [--repeat 3] [--out throughput.png]
        [--sizes 4k:1500,64k:1000,512k:200,5m:40] [--json sweep.json]
    .venv/bin/python benchmarks/plot_throughput.py --from-json sweep.json [more.json ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_compare as bc

DEFAULT_SIZES = "4k:1500,64k:1000,512k:200,5m:40"
COLORS = {"raw": "#7f7f7f", "ours": "#1f77b4", "pypa": "#d62728"}
LABELS = {"raw": "raw (curl + openssl)", "ours": "ours", "pypa": "pypa/bandersnatch 8.2"}


def parse_size(text: str) -> int:
    units = {"k": bc.KIB, "m": bc.MIB}
    text = text.strip().lower().removesuffix("ib").removesuffix("b")
    if text[-1] in units:
        return round(float(text[:-1]) * units[text[-1]])
    return int(text)


def size_label(size: int) -> str:
    if size >= bc.MIB and size % bc.MIB == 0:
        return f"{size // bc.MIB} MiB"
    if size >= bc.KIB and size % bc.KIB == 0:
        return f"{size // bc.KIB} KiB"
    return f"{size} B"


def sweep(args: argparse.Namespace) -> dict[str, Any]:
    contenders = [bc.ours_contender(args.ours_src)]
    pypa_version = "not run (--no-pypa)"
    if not args.no_pypa:
        pypa, why = bc.pypa_contender(args.pypa)
        if pypa is None:
            print(f"pypa/bandersnatch not compared: {why}")
            pypa_version = f"not run: {why}"
        else:
            contenders.append(pypa)
            pypa_version = pypa.version
    meta = {
        "cpus": os.cpu_count(),
        "ours": contenders[0].version,
        "pypa": pypa_version,
        "repeat": args.repeat,
        "change_feed": args.change_feed,
        "load_before": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    print(f"ours: {meta['ours']}\npypa: {meta['pypa']}")
    print(f"{meta['cpus']} CPUs, shared with the fake PyPI (same process as this script)")
    bc.warm_up(contenders, args.tmpdir, args.change_feed)
    results = []
    for item in args.sizes.split(","):
        size_text, _, projects = item.partition(":")
        size = parse_size(size_text)
        w = bc.Workload(
            f"sweep-{size_text.strip()}",
            f"first sync, {2 * int(projects):,} files x {size_label(size)}",
            int(projects),
            size,
        )
        results.append(
            bc.run_workload(w, contenders, args.repeat, args.change_feed, tmpdir=args.tmpdir)
        )
    meta["load_after"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return {"meta": meta, "results": results}


def points(docs: list[dict[str, Any]]) -> dict[str, list[tuple[int, list[float], list[float]]]]:
    """{tool: [(file size, [MB/s per repetition], [files/s per repetition])]}, by size."""
    out: dict[str, dict[int, tuple[list[float], list[float]]]] = {}
    for doc in docs:
        for res in doc["results"]:
            w, exp = res["workload"], res["expected"]
            if w["latency"] or w["key"] == "warm-up":
                continue
            for tool, runs in res["first"].items():
                mbs, fps = out.setdefault(tool, {}).setdefault(w["size"], ([], []))
                mbs.extend(exp["payload"] / 1e6 / r["wall"] for r in runs)
                fps.extend(exp["files"] / r["wall"] for r in runs)
    return {
        tool: [(size, *by_size[size]) for size in sorted(by_size)] for tool, by_size in out.items()
    }


def plot(docs: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullLocator

    data = points(docs)
    if not data:
        sys.exit("no first-sync measurements without latency in the input")
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), constrained_layout=True)
    sizes = sorted({p[0] for series in data.values() for p in series})
    for ax, index, unit in ((axes[0], 1, "MB/s"), (axes[1], 2, "files/s")):
        for tool in ("raw", "ours", "pypa"):
            series = data.get(tool)
            if not series:
                continue
            xs = [p[0] for p in series]
            meds = [statistics.median(p[index]) for p in series]
            lows = [m - min(p[index]) for m, p in zip(meds, series, strict=True)]
            highs = [max(p[index]) - m for m, p in zip(meds, series, strict=True)]
            ax.errorbar(
                xs,
                meds,
                yerr=[lows, highs],
                marker="o",
                capsize=4,
                color=COLORS[tool],
                label=LABELS[tool],
                linestyle="--" if tool == "raw" else "-",
            )
            for x, m in zip(xs, meds, strict=True):
                ax.annotate(
                    f"{m:.0f}" if m >= 10 else f"{m:.1f}",
                    (x, m),
                    textcoords="offset points",
                    xytext=(6, -12) if tool == "pypa" else (6, 5),
                    fontsize=8,
                    color=COLORS[tool],
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(FixedLocator(sizes))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([size_label(s) for s in sizes])
        ax.set_xlabel("file size (each project: one wheel + one sdist of this size)")
        ax.set_ylabel(unit)
        ax.set_title(f"first sync throughput, {unit} (log scales)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    meta = docs[0]["meta"]
    fig.suptitle(
        f"Fake PyPI on 127.0.0.1, no added latency, workers = 10; {meta['cpus']} CPUs shared "
        f"with the fake; median and min-max of {meta['repeat']} runs\n"
        f"ours: {meta['ours'].split(' (')[-1].rstrip(')')}; pypa: {meta['pypa'].split(' (')[0]}",
        fontsize=10,
    )
    fig.savefig(out, dpi=110)
    print(f"plot written to {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-json", nargs="+", metavar="FILE", help="plot these, run nothing")
    parser.add_argument("--out", default="throughput.png", help="the PNG to write")
    parser.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        help="comma-separated SIZE:PROJECTS (2 files per project), e.g. 64k:1000",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", metavar="OUT", help="also write the sweep's measurements")
    parser.add_argument("--pypa", default=bc.DEFAULT_PYPA)
    parser.add_argument("--no-pypa", action="store_true")
    parser.add_argument("--ours-src", metavar="PATH")
    parser.add_argument("--change-feed", choices=("simple", "xmlrpc"), default="simple")
    parser.add_argument("--tmpdir", metavar="DIR")
    args = parser.parse_args()
    if args.from_json:
        docs = [json.loads(Path(f).read_text()) for f in args.from_json]
    else:
        doc = sweep(args)
        target = args.json or str(Path(tempfile.gettempdir()) / "plot_throughput.json")
        Path(target).write_text(json.dumps(doc, indent=1))
        print(f"measurements written to {target}")
        docs = [doc]
    plot(docs, Path(args.out))


if __name__ == "__main__":
    main()
