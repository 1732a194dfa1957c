"""Solver targets of issue 4, measured: time to a first schedule, TDI and bound after the time
limit, proven optimality, peak resident memory; on the paper graphs and on generated graphs.

    python bench/targets.py --time-limit 60 --workers 2            # everything (about 40 min)
    python bench/targets.py --graphs random_layered_n100 --budgets 0.8

Each instance runs in its own process (so its peak RSS is its own); results go to
``bench/results/targets.{md,json}``. Time to first schedule counts reading the graph.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAPER = HERE.parent.parent / "shared" / "graphs" / "paper"
RESULTS = HERE / "results"

#: Generated graphs the solver was not tuned on: name -> generator call.
GENERATED = {
    "gen_random_n300_s7": ("random_layered", dict(n=300, seed=7)),
    "gen_random_n1000_s11": ("random_layered", dict(n=1000, seed=11)),
    "gen_random_n2000_s3": ("random_layered", dict(n=2000, seed=3)),
    "gen_random_n3000_s5": ("random_layered", dict(n=3000, seed=5)),
    # added at stop 19, after the ladder's retries were tuned on seed 21 of n2500:
    "gen_random_n1500_s29": ("random_layered", dict(n=1500, seed=29)),
    "gen_random_n2500_s31": ("random_layered", dict(n=2500, seed=31)),
    "gen_chain64_train": ("chain_train", dict(n=64)),
    "gen_unet6_train": ("unet_train", dict(depth=6)),
}

#: What the original Moccasin code reached (../shared/reference-results.md): (status, TDI %, wall s).
REFERENCE = {
    ("random_layered_n100", 0.9): ("OPTIMAL", 0.789, 60), ("random_layered_n100", 0.8): ("OPTIMAL", 2.296, 116),
    ("fcn8_vgg_train", 0.9): ("OPTIMAL", 0.029, 31), ("fcn8_vgg_train", 0.8): ("OPTIMAL", 0.136, 31),
    ("random_layered_n250", 0.9): ("none", None, 240), ("random_layered_n250", 0.8): ("none", None, 240),
    ("random_layered_n500", 0.9): ("none", None, 240), ("random_layered_n500", 0.8): ("none", None, 240),
    ("random_layered_n1000", 0.9): ("none", None, 240), ("random_layered_n1000", 0.8): ("none", None, 240),
    ("resnet50_train", 0.9): ("none", None, 240), ("resnet50_train", 0.8): ("none", None, 240),
}


def load(name: str):
    import moccasin
    from moccasin_graphs import generators as gen

    if name in GENERATED:
        kind, kw = GENERATED[name]
        if kind == "random_layered":
            return gen.random_layered(**kw)
        if kind == "chain_train":
            return gen.training_graph(gen.chain(kw["n"]), name=name)
        return gen.training_graph(gen.unet(kw["depth"]), name=name)
    return moccasin.load_graph(PAPER / f"{name}.json")


def one(name: str, budget: float, time_limit: float, workers: int) -> dict:
    """Run one instance in this process and return its row."""
    t0 = time.perf_counter()
    G = load(name)
    import moccasin

    loaded = time.perf_counter() - t0
    s = moccasin.solve(G, budget=budget, time_limit=time_limit, workers=workers)
    lb_tdi = None if s.lower_bound is None else 100 * (s.lower_bound / s.baseline_cost - 1)
    return {
        "graph": name, "nodes": G.number_of_nodes(), "edges": G.number_of_edges(), "budget": budget,
        "status": s.status, "tdi": s.tdi_percent, "lower_bound_tdi": lb_tdi,
        "first_seconds": None if s.first_solution_seconds is None else loaded + s.first_solution_seconds,
        "best_seconds": s.extra.get("best_solution_seconds"),  # from the start of solve()
        "wall_seconds": time.perf_counter() - t0,
        "load_seconds": loaded, "message": s.message, "min_budget_fraction": s.extra.get("min_budget", 0) / s.baseline_peak,
        "variables": s.extra.get("variables"), "lns_steps": s.extra.get("lns_steps"),
    }


def run_child(name: str, budget: float, args) -> dict:
    cmd = [sys.executable, __file__, "--one", name, str(budget), "--time-limit", str(args.time_limit), "--workers", str(args.workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    row = json.loads(out.strip().splitlines()[-1]) if status == 0 else {"graph": name, "budget": budget, "status": f"crashed ({status})"}
    row["peak_rss_mib"] = usage.ru_maxrss / 1024
    return row


def fmt(x, spec=".3f"):
    return "-" if x is None else format(x, spec)


def table(rows: list[dict]) -> str:
    head = ("| graph | nodes | budget | status | first schedule s | TDI % | bound TDI % | gap pts | best found s | RSS MiB | original code |\n"
            "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|")
    lines = [head]
    for r in rows:
        ref = REFERENCE.get((r["graph"], r["budget"]))
        ref_text = "-" if ref is None else (f"{ref[0]}, {ref[1]}%, {ref[2]} s" if ref[1] is not None else f"no schedule in {ref[2]} s")
        gap = None if r.get("tdi") is None or r.get("lower_bound_tdi") is None else max(0.0, r["tdi"] - r["lower_bound_tdi"])
        best = None if r.get("best_seconds") is None else r["best_seconds"] + r.get("load_seconds", 0)
        lines.append(
            f"| {r['graph']} | {r.get('nodes', '-')} | {r['budget']} | {r['status']} | {fmt(r.get('first_seconds'), '.2f')} | "
            f"{fmt(r.get('tdi'))} | {fmt(r.get('lower_bound_tdi'))} | {fmt(gap, '.2f')} | {fmt(best, '.1f')} | "
            f"{fmt(r.get('peak_rss_mib'), '.0f')} | {ref_text} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time-limit", type=float, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--graphs", nargs="*", help="paper graph names or generated names (default: all)")
    ap.add_argument("--budgets", nargs="*", type=float, default=[0.9, 0.8])
    ap.add_argument("--one", nargs=2, metavar=("GRAPH", "BUDGET"), help=argparse.SUPPRESS)
    ap.add_argument("--out", default="targets", help="base name of the result files under bench/results/")
    ap.add_argument("--table-only", action="store_true", help="re-render the Markdown from the JSON of a finished run")
    args = ap.parse_args()
    if args.table_only:
        data = json.loads((RESULTS / f"{args.out}.json").read_text())
        write_markdown(args.out, data["command"], data["machine"], data["rows"], data.get("date", ""))
        return
    if args.one:
        print(json.dumps(one(args.one[0], float(args.one[1]), args.time_limit, args.workers)))
        return
    names = args.graphs or sorted(p.stem for p in PAPER.glob("*.json")) + list(GENERATED)
    rows = []
    for name in names:
        for b in args.budgets:
            row = run_child(name, b, args)
            rows.append(row)
            print(f"{name} @ {b}: {row['status']} TDI {fmt(row.get('tdi'))} first {fmt(row.get('first_seconds'), '.2f')} s "
                  f"best {fmt(row.get('best_seconds'), '.1f')} s RSS {row['peak_rss_mib']:.0f} MiB", flush=True)
    RESULTS.mkdir(exist_ok=True)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}"
    command = "python bench/targets.py " + " ".join(sys.argv[1:])
    date = time.strftime("%Y-%m-%d")
    (RESULTS / f"{args.out}.json").write_text(json.dumps({"command": command, "machine": machine, "date": date, "rows": rows}, indent=1))
    print(write_markdown(args.out, command, machine, rows, date))


def write_markdown(out: str, command: str, machine: str, rows: list[dict], date: str) -> str:
    """``bench/results/<out>.md``: the table with its command, machine and date."""
    text = (f"# Solver targets\n\nCommand: `{command}`  \nMachine: {machine}  \nDate: {date}\n\n"
            "Times count from the process start (importing Moccasin and reading the graph included).\n\n"
            f"{table(rows)}\n")
    (RESULTS / f"{out}.md").write_text(text)
    return text


if __name__ == "__main__":
    main()
