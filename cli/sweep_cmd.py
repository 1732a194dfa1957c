"""``moccasin sweep``: TDI against memory budget, one solve per budget: table, JSON, plot."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import moccasin
from moccasin.solvers import SOLVERS
from moccasin.sweep import parse_budgets, sweep
from moccasin.units import UNIT_CHOICES, human, memory_units
from moccasin_cli import output, progress
from moccasin_cli.plan_cmd import add_search_options

HEADERS = ["budget", "amount", "status", "peak", "TDI %", "bound %", "gap %", "time s"]


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "sweep",
        help="trade-off curve: TDI against memory budget, one solve per budget",
        description=(
            "Solve GRAPH at every budget of --budgets and report the extra compute (TDI) each costs: "
            "a table, the schedules as JSON (-o) and a plot (--plot). Budgets with no schedule are rows "
            "(INFEASIBLE: none exists; UNKNOWN: none found in time). Ctrl-C keeps the rows so far. "
            "Exit 0 when some budget has a schedule, 2 when none can exist, 3 when none was found in time."
        ),
    )
    p.add_argument("graph", metavar="GRAPH", help="compute graph, networkx node-link JSON")
    p.add_argument(
        "--budgets", "-b", required=True, metavar="SPEC",
        help="START:STOP:STEP as fractions of the baseline peak, STOP included (0.4:1.0:0.1), or a comma list (0.5,0.7,512MiB)",
    )
    p.add_argument("--time-limit", "-t", type=float, default=10.0, metavar="S", help="seconds per budget (default 10)")
    p.add_argument("--solver", choices=sorted(SOLVERS), default="cp", help="solver for every budget (default cp)")
    add_search_options(p)
    p.add_argument("-o", "--output", metavar="SWEEP.json", help="write {graph, results: [schedule, ...]} here")
    p.add_argument("--plot", metavar="PICTURE", help="draw TDI against budget (.png, .svg or .pdf; needs matplotlib)")
    p.add_argument("--units", choices=UNIT_CHOICES, default="auto", help="memory amounts: bytes, plain, or auto (default)")
    p.add_argument("--json", action="store_true", help="print the sweep JSON instead of the table")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors (and --json output)")
    return p


def _row(s: moccasin.Schedule, units: str) -> list[str]:
    fraction = f"{s.budget / s.baseline_peak:.0%}" if s.baseline_peak else "-"
    bound = gap = "-"
    if s.lower_bound is not None and s.baseline_cost:
        bound = f"{100 * (s.lower_bound / s.baseline_cost - 1):.3f}"
        if s.found and s.total_cost:
            gap = f"{100 * (s.total_cost - s.lower_bound) / s.total_cost:.2f}"
    status = s.status + ("*" if s.extra.get("interrupted") else "")
    return [
        fraction, human(s.budget, units), status, human(s.peak_memory, units),
        "-" if s.tdi_percent is None else f"{s.tdi_percent:.3f}", bound, gap, f"{s.solve_seconds:.1f}",
    ]


def run(args) -> int:
    parse_budgets(args.budgets)  # a bad spec fails before the graph loads
    if args.plot:
        from moccasin.plot import _format_of  # the extension is checked before any solve

        _format_of(args.plot)
    G = moccasin.load_graph(args.graph)
    units = memory_units(G, args.units)
    stem = Path(args.graph).stem
    with progress.for_args(args, stem, args.time_limit) as live:

        def on_start(i: int, count: int, budget: str) -> None:
            if live is not None:
                live.begin(f"{stem} @ {budget} ({i + 1}/{count})", args.time_limit)

        result = sweep(
            G, args.budgets, time_limit=args.time_limit, solver=args.solver, progress=live, on_start=on_start,
            max_recompute=args.max_recompute, workers=args.workers, seed=args.seed,
        )
    if args.output:
        result.save(args.output)
    if args.plot:
        from moccasin.plot import plot_sweep

        plot_sweep(result.results, args.plot, graph=result.graph, units=units)
    if args.json:
        output.print_json(result.to_dict())
    elif not args.quiet:
        title = f"{result.graph}: baseline peak {human(result.baseline_peak, units)}, cost {result.baseline_cost:,}"
        output.print_table(HEADERS, [_row(s, units) for s in result.results], right={0, 1, 3, 4, 5, 6, 7}, title=title)
        if result.interrupted:
            print("* interrupted by Ctrl-C: the best schedule found before it")
        for path in (args.output, args.plot):
            if path:
                print(f"written {path}")
    if result.interrupted:
        print(f"moccasin: interrupted after {len(result.results)} budget(s)", file=sys.stderr)
    if result.found:
        return output.EXIT_FOUND
    if result.results and all(s.status == "INFEASIBLE" for s in result.results):
        print(f"moccasin: no schedule exists under any of the budgets; {result.results[-1].message or ''}".rstrip("; "), file=sys.stderr)
        return output.EXIT_INFEASIBLE
    print("moccasin: no schedule was found under any budget in time", file=sys.stderr)
    return output.EXIT_TIMEOUT
