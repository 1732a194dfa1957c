"""``moccasin plot``: a picture of a schedule's memory at every step against the baseline."""

from __future__ import annotations

import argparse
from pathlib import Path

import moccasin
from moccasin.units import UNIT_CHOICES


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "plot",
        help="draw a schedule's memory per step against the baseline (PNG, SVG or PDF)",
        description=(
            "Draw the memory in use at every step of SCHEDULE and of the baseline order of GRAPH, "
            "the budget as a line and the recomputed steps marked. The picture type follows the "
            "extension of -o: .png, .svg or .pdf. Needs matplotlib (pip install 'moccasin[plot]')."
        ),
    )
    p.add_argument("graph", metavar="GRAPH", help="compute graph, networkx node-link JSON")
    p.add_argument("schedule", metavar="SCHEDULE", help="schedule file written by moccasin plan")
    p.add_argument("-o", "--output", metavar="PICTURE", help="where to write the picture (default: SCHEDULE with .png)")
    p.add_argument(
        "--units", choices=UNIT_CHOICES, default="auto",
        help="memory axis: bytes (KiB/MiB/GiB), plain numbers (k/M/G), or auto: bytes when outputs reach 1 MiB (default)",
    )
    p.add_argument("--title", metavar="TEXT", help="title instead of the graph name, TDI and peak")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    return p


def run(args) -> int:
    from moccasin.plot import plot_memory  # matplotlib loads only for this command

    G = moccasin.load_graph(args.graph)
    schedule = moccasin.Schedule.load(args.schedule)
    out = args.output or str(Path(args.schedule).with_suffix(".png"))
    plot_memory(G, schedule, out, units=args.units, title=args.title)
    if not args.quiet:
        print(f"written {out}")
    return 0
