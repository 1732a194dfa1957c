"""Formatting shared by the subcommands: numbers for people, the schedule summary, JSON."""

from __future__ import annotations

import json
import sys

from moccasin.schedule.schedule import Schedule

EXIT_FOUND, EXIT_USAGE, EXIT_INFEASIBLE, EXIT_TIMEOUT = 0, 1, 2, 3


def exit_code(schedule: Schedule) -> int:
    """0 with a schedule, 2 when none exists (INFEASIBLE), 3 when none was found in time."""
    if schedule.found:
        return EXIT_FOUND
    return EXIT_INFEASIBLE if schedule.status == "INFEASIBLE" else EXIT_TIMEOUT


def amount(x: int | None, bytes_like: bool = True) -> str:
    """``1,234,567`` and, for large amounts, the binary-unit reading in brackets."""
    if x is None:
        return "-"
    text = f"{x:,}"
    if bytes_like and x >= 10_000:
        value, unit = float(x), "B"
        for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
            if value < 1024 or unit == "TiB":
                break
            value /= 1024
        text += f" ({value:.1f} {unit})"
    return text


def seconds(x: float | None) -> str:
    return "-" if x is None else (f"{x:.3f} s" if x < 10 else f"{x:.1f} s")


def summary(s: Schedule, nodes: int | None = None, edges: int | None = None) -> str:
    """The short human summary ``moccasin plan`` prints."""
    lines = []
    shape = f" ({nodes} nodes, {edges} edges)" if nodes is not None else ""
    lines.append(f"graph        {s.graph}{shape}")
    frac = f" = {s.budget_fraction:.3g} x baseline peak" if s.budget_fraction else ""
    lines.append(f"budget       {amount(s.budget)}{frac}")
    lines.append(f"status       {s.status} ({s.solver})")
    if s.found:
        lines.append(f"peak memory  {amount(s.peak_memory)}  (baseline {amount(s.baseline_peak)}, {s.peak_memory / s.baseline_peak:.1%})")
        lines.append(f"total cost   {s.total_cost:,}  (baseline {s.baseline_cost:,}, TDI {s.tdi_percent:.3f}%)")
        recomputed = len(s.sequence) - len(set(s.sequence))
        lines.append(f"schedule     {len(s.sequence)} steps, {recomputed} recomputations")
    if s.lower_bound is not None:
        gap = ""
        if s.found and s.total_cost:
            gap = f", gap {100 * (s.total_cost - s.lower_bound) / s.total_cost:.3f}%"
        lb_tdi = 100 * (s.lower_bound / s.baseline_cost - 1) if s.baseline_cost else 0.0
        lines.append(f"lower bound  {s.lower_bound:,}  (TDI >= {lb_tdi:.3f}%{gap})")
    lines.append(f"time         {seconds(s.solve_seconds)} (first schedule at {seconds(s.first_solution_seconds)})")
    if s.message:
        lines.append(f"note         {s.message}")
    return "\n".join(lines)


def print_json(data) -> None:
    json.dump(data, sys.stdout, indent=1)
    sys.stdout.write("\n")


def table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    """Plain aligned columns (for pipes and logs); ``right`` holds the right-aligned columns."""
    right = right or set()
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]

    def line(cells) -> str:
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule] + [line(r) for r in rows])


def print_table(headers: list[str], rows: list[list[str]], right: set[int] | None = None, title: str | None = None) -> None:
    """A rich table on a terminal (when rich is installed), plain aligned columns otherwise."""
    if sys.stdout.isatty():
        try:
            from rich import box
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            pass
        else:
            t = Table(title=title, title_justify="left", title_style="bold", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
            for i, h in enumerate(headers):
                t.add_column(h, justify="right" if i in (right or set()) else "left", no_wrap=True)
            for r in rows:
                t.add_row(*[str(c) for c in r])
            Console().print(t)
            return
    if title:
        print(title)
    print(table(headers, rows, right))
