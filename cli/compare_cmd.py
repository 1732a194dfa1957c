"""``moccasin compare``: every planner on one graph and budget, one row each."""

from __future__ import annotations

import argparse
import sys

import moccasin
from moccasin.compare import DEFAULT_METHODS, compare, compare_dict
from moccasin.schedule.schedule import Schedule
from moccasin.solvers import SOLVERS
from moccasin_cli import output
from moccasin_cli.plan_cmd import add_common, add_search_options, model_bytes


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "compare",
        help="compare the CP model, the O(n^2) MILP and heuristics on one graph and budget",
        description=(
            "Run each method on GRAPH under the budget, each with the time limit, and print one row per "
            "method: status, model size, time to first and to best solution, peak memory, TDI, lower "
            "bound and gap. Every schedule is scored by the same simulator. A method whose model would "
            "not fit in memory (the MILP on large graphs) reports UNKNOWN with the model's size. "
            "Exit 0: some method found a schedule; 2: none exists under the budget; 3: none found in time."
        ),
    )
    add_common(p)
    p.add_argument("--methods", "-m", nargs="+", metavar="METHOD",
                   help=f"methods to run (names or comma lists; default: {' '.join(DEFAULT_METHODS)}); "
                        f"all: {', '.join(SOLVERS)}")
    add_search_options(p)
    p.add_argument("--max-model-bytes", metavar="BYTES", default=None,
                   help="MILP methods: report UNKNOWN for models estimated above this size (default: half the "
                        "machine's memory, at most 12 GiB)")
    return p


COLUMNS = ("method", "status", "variables", "constraints", "first", "best", "peak", "TDI", "lower bound", "gap")


def _pct(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}%"


def row(s: Schedule) -> list[str]:
    """One table row of a compared schedule."""
    e = s.extra
    status = s.status + ("*" if e.get("from_hint") else "") + (" (too large)" if e.get("refused") else "")
    lb_tdi = None
    if s.lower_bound is not None and s.baseline_cost:
        lb_tdi = 100.0 * (s.lower_bound / s.baseline_cost - 1)
    peak = "-" if s.peak_memory is None else f"{s.peak_memory / s.baseline_peak:.3f}x" if s.baseline_peak else str(s.peak_memory)
    count = lambda x: "-" if x is None else f"{x:,}"  # noqa: E731
    return [
        str(e.get("method", s.solver)), status, count(e.get("variables")), count(e.get("constraints")),
        output.seconds(s.first_solution_seconds), output.seconds(e.get("best_solution_seconds")),
        peak, _pct(s.tdi_percent), "-" if lb_tdi is None else f"TDI >= {lb_tdi:.3f}%", _pct(e.get("gap_percent")),
    ]


def table(results: list[Schedule]) -> str:
    """The comparison as an aligned text table."""
    rows = [list(COLUMNS)] + [row(s) for s in results]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run(args) -> int:
    G = moccasin.load_graph(args.graph)
    progress = None
    if not args.quiet and not args.json:
        progress = lambda method, s: print(f"  {method}: {s.status} in {output.seconds(s.solve_seconds)}", file=sys.stderr)  # noqa: E731
    results = compare(G, args.budget, time_limit=args.time_limit, methods=args.methods, workers=args.workers,
                      seed=args.seed, max_recompute=args.max_recompute, progress=progress,
                      **model_bytes(args.max_model_bytes))
    first = results[0]
    name = str(G.graph.get("name", first.graph))
    if args.json:
        output.print_json(compare_dict(name, first.budget, first.budget_fraction, results))
    elif not args.quiet:
        frac = f" = {first.budget_fraction:.3g} x baseline peak" if first.budget_fraction else ""
        print(f"graph     {name} ({G.number_of_nodes()} nodes, {G.number_of_edges()} edges)")
        print(f"budget    {output.amount(first.budget)}{frac}; time limit {args.time_limit:g} s per method")
        print(f"baseline  peak {output.amount(first.baseline_peak)}, cost {first.baseline_cost:,}")
        print()
        print(table(results))
        notes = [f"  {s.extra.get('method')}: {s.message}" for s in results if s.message]
        if notes:
            print("\nnotes (* = the method's warm start, returned when its solver found nothing better):")
            print("\n".join(notes))
    if any(s.found for s in results):
        return output.EXIT_FOUND
    if any(s.status == "INFEASIBLE" for s in results):
        return output.EXIT_INFEASIBLE
    return output.EXIT_TIMEOUT
