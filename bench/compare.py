"""Benchmark: ``moccasin compare`` over the paper graphs, beside the original Moccasin's numbers.

Each (graph, budget, method) runs in its own process (``python -m moccasin_cli compare ... --json
-m METHOD``), so one method's memory cannot affect the next and its peak RSS is measured. Writes
``bench/results/compare-<stamp>.json`` and ``.md`` (the table, the machine and the command).

    .venv/bin/python bench/compare.py --time-limit 60                 # all graphs, budgets 0.9 0.8
    .venv/bin/python bench/compare.py --graphs random_layered_n100 --budgets 0.9 --time-limit 10
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRAPH_DIR = (ROOT / ".." / "shared" / "graphs" / "paper").resolve()
GRAPHS = ["random_layered_n100", "random_layered_n250", "random_layered_n500", "random_layered_n1000",
          "resnet50_train", "fcn8_vgg_train"]
METHODS = ["cp", "milp", "milp-cpsat", "heuristic", "chen-greedy", "chen-sqrtn", "checkpoint-all"]

#: The original Moccasin code (C = 2, log-spaced lengths, two phases of 120 s, 2 workers) on the
#: same graphs and machine kind, transcribed from ../shared/reference-results.md:
#: (status, TDI %, wall s) per budget fraction; None: no schedule in 240 s.
REFERENCE = {
    "random_layered_n100": {0.9: ("OPTIMAL", 0.789, 60), 0.8: ("OPTIMAL", 2.296, 116)},
    "random_layered_n250": {0.9: None, 0.8: None},
    "random_layered_n500": {0.9: None, 0.8: None},
    "random_layered_n1000": {0.9: None, 0.8: None},
    "resnet50_train": {0.9: None, 0.8: None},
    "fcn8_vgg_train": {0.9: ("OPTIMAL", 0.029, 31), 0.8: ("OPTIMAL", 0.136, 31)},
}
REFERENCE_SOURCE = "../shared/reference-results.md (original Moccasin code, 2 workers, 2 x 120 s)"


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        import ortools

        ortools_version = ortools.__version__
    except ImportError:
        ortools_version = None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem / 2**30, 1), "python": platform.python_version(),
            "platform": platform.platform(), "ortools": ortools_version}


def run_one(graph: Path, budget: float, method: str, args) -> dict:
    """One method in a child process; its JSON result plus wall time and peak RSS."""
    cmd = [sys.executable, "-m", "moccasin_cli", "compare", str(graph), "--budget", str(budget), "-t", str(args.time_limit),
           "--workers", str(args.workers), "--json", "-m", method]
    if args.max_model_bytes:
        cmd += ["--max-model-bytes", args.max_model_bytes]
    started = time.perf_counter()
    guard = args.time_limit * 3 + 300  # MILP solvers may overrun their limit in presolve
    with tempfile.TemporaryFile("w+") as out_f, tempfile.TemporaryFile("w+") as err_f:
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, text=True)
        timer = threading.Timer(guard, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # wait4: the child's own peak RSS
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        killed = proc.returncode < 0
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    wall = time.perf_counter() - started
    record = {"method": method, "wall_seconds": round(wall, 2), "exit_code": proc.returncode}
    if usage.ru_maxrss:
        record["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)
    if killed:
        record.update(status="KILLED", message=f"killed after {wall:.0f} s (signal {-proc.returncode}; the guard is {guard:.0f} s)")
        return record
    try:
        result = json.loads(out)["results"][0]
    except (ValueError, KeyError, IndexError):
        record.update(status="ERROR", message=(err.strip().splitlines() or ["no output"])[-1])
        return record
    result.pop("sequence", None)
    record.update(result)
    return record


def fmt(x, spec: str = "", none: str = "-") -> str:
    return none if x is None else format(x, spec)


def markdown(report: dict) -> str:
    lines = [f"# moccasin compare on the paper graphs ({report['time_limit']} s per method)", ""]
    m = report["machine"]
    lines += [f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; Python {m['python']}, OR-Tools {m['ortools']}",
              f"- Command: `{report['command']}`",
              f"- Started {report['started']}, took {report['total_seconds'] / 60:.1f} min",
              "- Budget = ceil(fraction x baseline peak). TDI = 100 x (cost / baseline cost - 1). "
              "first/best: seconds to the first and to the returned schedule (- : the solver cannot tell). "
              "time: the method's own time; wall: its process, with imports and model building; RSS: the process's peak. "
              "LB: the lower bound as a TDI. `*`: the solver found nothing itself; this is its warm start.",
              f"- Reference: {REFERENCE_SOURCE}.", ""]
    lines += ["| graph | budget | method | status | variables | constraints | first | best | peak/baseline | TDI | LB (TDI) | gap | time | wall | RSS |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in report["rows"]:
        for r in row["results"]:
            status = r.get("status", "?") + ("*" if r.get("from_hint") else "") + (" (too large)" if r.get("refused") else "")
            lb = None
            if r.get("lower_bound") is not None and r.get("baseline_cost"):
                lb = 100 * (r["lower_bound"] / r["baseline_cost"] - 1)
            peak = r["peak_memory"] / r["baseline_peak"] if r.get("peak_memory") is not None else None
            lines.append("| " + " | ".join([
                row["graph"], f"{row['fraction']}", r["method"], status,
                fmt(r.get("variables"), ","), fmt(r.get("constraints"), ","),
                fmt(r.get("first_solution_seconds"), ".1f"), fmt(r.get("best_solution_seconds"), ".1f"),
                fmt(peak, ".3f"), fmt(r.get("tdi_percent"), ".3f") + ("%" if r.get("tdi_percent") is not None else ""),
                fmt(lb, ".3f"), fmt(r.get("gap_percent"), ".3f"), fmt(r.get("solve_seconds"), ".1f"), f"{r['wall_seconds']:.0f} s", fmt(r.get("peak_rss_mib"), ".0f") + " MiB",
            ]) + " |")
        ref = REFERENCE.get(row["graph"], {}).get(row["fraction"], "n/a")
        text = "no schedule in 240 s" if ref is None else ref if isinstance(ref, str) else f"{ref[0]}, TDI {ref[1]}%, {ref[2]} s"
        lines.append(f"| {row['graph']} | {row['fraction']} | *original Moccasin* | {text} | | | | | | | | | | | |")
    notes = sorted({f"{r['method']}: {r['message']}" for row in report["rows"] for r in row["results"] if r.get("message")})
    if notes:
        lines += ["", "Messages:", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per method (default 60)")
    ap.add_argument("--workers", type=int, default=2, help="search workers (default 2)")
    ap.add_argument("--graphs", nargs="+", default=GRAPHS, help=f"graph names in {GRAPH_DIR} (default: the six of the paper table)")
    ap.add_argument("--budgets", nargs="+", type=float, default=[0.9, 0.8], help="budget fractions (default 0.9 0.8)")
    ap.add_argument("--methods", nargs="+", default=METHODS, help=f"methods (default {' '.join(METHODS)})")
    ap.add_argument("--max-model-bytes", default=None, help="passed to compare (default: its own)")
    ap.add_argument("--graph-dir", default=str(GRAPH_DIR), help="where the graphs are (default ../shared/graphs/paper)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"), help="output folder (default bench/results)")
    ap.add_argument("--tag", default=None, help="name of the output files (default compare-<time>)")
    args = ap.parse_args(argv)
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = args.tag or f"compare-{started.strftime('%Y%m%d-%H%M%S')}"
    report = {"command": "python " + shlex.join(sys.argv),
              "machine": machine(), "started": started.isoformat(timespec="seconds"), "time_limit": args.time_limit,
              "workers": args.workers, "reference": {"source": REFERENCE_SOURCE, "results": {g: {str(k): v for k, v in r.items()} for g, r in REFERENCE.items()}},
              "rows": []}
    for name in args.graphs:
        path = Path(args.graph_dir) / f"{name}.json"
        for fraction in args.budgets:
            row = {"graph": name, "fraction": fraction, "results": []}
            report["rows"].append(row)
            for method in args.methods:
                r = run_one(path, fraction, method, args)
                row["results"].append(r)
                print(f"{name} @ {fraction} {method}: {r.get('status')} TDI {r.get('tdi_percent')} "
                      f"({r['wall_seconds']} s, {r.get('peak_rss_mib')} MiB)", flush=True)
                report["total_seconds"] = time.perf_counter() - t0
                (out / f"{tag}.json").write_text(json.dumps(report, indent=1) + "\n")
                (out / f"{tag}.md").write_text(markdown(report))
    print(f"wrote {out / (tag + '.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
