"""``moccasin validate``: recompute a schedule's peak memory and cost with the simulator."""

from __future__ import annotations

import sys

import moccasin
from moccasin.errors import InvalidSchedule
from moccasin.graph.problem import Problem
from moccasin.schedule.attach import attach
from moccasin.schedule.simulator import simulate_graph
from moccasin_cli import output


def add_parser(sub):
    p = sub.add_parser(
        "validate",
        help="check a schedule against its graph: validity, peak memory, cost",
        description=(
            "Simulate SCHEDULE on GRAPH. Exit 0 when every node runs, every input is computed "
            "before it is read, the peak is within the schedule's budget and the recorded peak "
            "and cost match the simulation; exit 1 otherwise, with the reason."
        ),
    )
    p.add_argument("graph", metavar="GRAPH", help="compute graph, networkx node-link JSON")
    p.add_argument("schedule", metavar="SCHEDULE", help="schedule file written by moccasin plan")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def run(args) -> int:
    G = moccasin.load_graph(args.graph)
    s = moccasin.Schedule.load(args.schedule)
    problems = []
    peak = cost = None
    if not s.sequence:
        problems.append(f"holds no sequence (status {s.status})")
    else:
        try:
            sim = simulate_graph(G, s.sequence)
        except InvalidSchedule as e:
            problems.append(str(e))
        else:
            peak, cost = sim.peak, sim.cost
            if s.budget is not None and peak > s.budget:
                problems.append(f"peak memory {peak:,} exceeds the budget {s.budget:,}")
            if s.peak_memory is not None and s.peak_memory != peak:
                problems.append(f"records peak memory {s.peak_memory:,} but simulates to {peak:,}")
            if s.total_cost is not None and s.total_cost != cost:
                problems.append(f"records total cost {s.total_cost:,} but simulates to {cost:,}")
            problem = Problem.from_graph(G)
            seq = problem.from_ids(s.sequence)
            if attach(problem, seq) != seq:
                problems.append(
                    "runs items of a multi-output op (attached nodes) later than their op, which "
                    "makes them at once; solvers put them right after it (moccasin/schedule/attach.py)"
                )
    valid = not problems
    if args.json:
        output.print_json({"valid": valid, "peak_memory": peak, "total_cost": cost, "budget": s.budget, "problems": problems})
    elif valid:
        print(f"valid: {len(s.sequence)} steps, peak memory {output.amount(peak)} <= budget {output.amount(s.budget)}, total cost {cost:,}")
    for problem in problems:
        print(f"moccasin: invalid schedule {args.schedule}: {problem}", file=sys.stderr)
    return 0 if valid else 1
