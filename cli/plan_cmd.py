"""``moccasin plan``: the cheapest schedule of a saved graph under a budget."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import moccasin
from moccasin.budget import resolve_budget
from moccasin.errors import InputError
from moccasin.solvers import SOLVERS
from moccasin_cli import output, progress


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "plan",
        help="plan a schedule for a saved graph under a memory budget",
        description=(
            "Find the cheapest recomputation schedule of GRAPH whose peak memory fits the budget. "
            "Prints a summary (or the schedule as JSON with --json) and writes the schedule with -o. "
            "Exit 0: a schedule was found; 2: none exists under the budget (the smallest possible "
            "budget is given); 3: the time limit ran out first; 1: bad input, or (MILP solvers) the "
            "model would not fit in memory (--max-model-bytes; the message gives its size)."
        ),
    )
    add_common(p)
    p.add_argument("--solver", choices=sorted(SOLVERS), default="cp", help="cp: the Moccasin CP-SAT model (default); heuristic: the greedy alone; milp: Checkmate's "
                        "O(n^2) MILP (SCIP; milp-highs, milp-cpsat: other solvers); checkpoint-all, chen-sqrtn, "
                        "chen-greedy: classic checkpointing heuristics")
    add_search_options(p)
    p.add_argument("--max-model-bytes", metavar="BYTES", default=None,
                   help="MILP solvers: refuse models estimated above this size (e.g. 8GiB; default: half the "
                        "machine's memory, at most 12 GiB)")
    p.add_argument("-o", "--output", metavar="SCHEDULE.json", help="write the schedule here (atomically; only if one is found)")
    return p


def add_common(p: argparse.ArgumentParser) -> None:
    """Arguments ``plan``, ``compare`` and ``sweep`` share."""
    p.add_argument("graph", metavar="GRAPH", help="compute graph, networkx node-link JSON")
    p.add_argument("--budget", "-b", required=True, metavar="B", help="0.8 or 80%% of the baseline peak, an amount (123456), or bytes (512MiB)")
    p.add_argument("--time-limit", "-t", type=float, default=60.0, metavar="S", help="seconds for the search (default 60)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of the summary")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors (and --json output)")


def add_search_options(p: argparse.ArgumentParser) -> None:
    """Search options ``plan``, ``compare`` and ``sweep`` share."""
    p.add_argument("--max-recompute", type=int, default=None, metavar="C",
                   help="at most C computations of any node (default: 2 in the CP model, more only for nodes "
                        "where the starting heuristic needs more; no cap for the heuristics)")
    p.add_argument("--workers", type=int, default=0, metavar="N", help="search workers (default 0: all cores)")
    p.add_argument("--seed", type=int, default=0, metavar="K", help="random seed of the search (default 0)")


def model_bytes(text: str | None) -> dict:
    """``--max-model-bytes`` as a solver option (``{}`` when not given)."""
    if text is None:
        return {}
    amount, _ = resolve_budget(text, 0)
    if amount <= 1:
        raise InputError(f"--max-model-bytes {text!r}: give an amount of bytes (123456789, 8GiB)")
    return {"max_model_bytes": amount}


def run(args) -> int:
    G = moccasin.load_graph(args.graph)
    extra = model_bytes(args.max_model_bytes)
    label = f"{Path(args.graph).stem} @ {args.budget}"
    try:
        with progress.for_args(args, label, args.time_limit) as live:
            schedule = moccasin.solve(
                G,
                budget=args.budget,
                time_limit=args.time_limit,
                solver=args.solver,
                max_recompute=args.max_recompute,
                workers=args.workers,
                seed=args.seed,
                progress=live,
                **extra,
            )
    except KeyboardInterrupt:
        print("moccasin: interrupted before any schedule was found", file=sys.stderr)
        return output.EXIT_TIMEOUT
    if schedule.extra.get("refused"):
        raise InputError(schedule.message)  # exit 1: too large for this machine, like bad input
    if args.output and schedule.found:
        schedule.save(args.output)
    if args.json:
        output.print_json(schedule.to_dict())
    elif not args.quiet:
        print(output.summary(schedule, G.number_of_nodes(), G.number_of_edges()))
        if args.output and schedule.found:
            print(f"written      {args.output}")
    code = output.exit_code(schedule)
    if code != output.EXIT_FOUND:
        print(f"moccasin: {schedule.message or schedule.status}", file=sys.stderr)
    return code
