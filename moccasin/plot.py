"""Pictures of schedules: memory at every step against the baseline, and TDI against budget.

matplotlib is imported only here and only when a picture is drawn (``pip install
moccasin[plot]``), so planning never needs it. Figures are drawn on a bare
:class:`matplotlib.figure.Figure` with the Agg canvas: no pyplot state, no display needed, safe
in threads. The file type follows the extension: ``.png``, ``.svg`` or ``.pdf``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import networkx as nx

from moccasin.errors import InputError, MoccasinError
from moccasin.fileio import atomic_write_bytes
from moccasin.graph.problem import Problem
from moccasin.schedule.schedule import Schedule
from moccasin.schedule.simulator import baseline, simulate_indices
from moccasin.units import human, memory_units, scale

FORMATS = ("png", "svg", "pdf")
_SCHEDULE, _BASELINE, _BUDGET, _RECOMPUTE, _BOUND = "#1f6feb", "#8c8c8c", "#d1242f", "#e36209", "#6f42c1"


def _figure(width: float = 9.0, height: float = 4.6):
    """A new Agg figure; a readable error when matplotlib is not installed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MoccasinError("plots need matplotlib: pip install 'moccasin[plot]'") from None
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _format_of(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise InputError(f"{path}: unknown picture type {suffix or '(none)'!r}; use .png, .svg or .pdf")
    return suffix


def _save(fig, path: str | os.PathLike) -> Path:
    fmt = _format_of(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, metadata={"Software": "moccasin"} if fmt == "png" else None)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def memory_profile(G: nx.DiGraph, schedule: Schedule) -> dict:
    """Memory per step of ``schedule`` and of the baseline order, and the recomputed steps."""
    if not schedule.sequence:
        raise InputError(f"schedule has no sequence (status {schedule.status}): nothing to plot")
    problem = Problem.from_graph(G)
    unknown = next((nid for nid in schedule.sequence if isinstance(nid, bool) or nid not in problem.index), None)
    if unknown is not None:
        raise InputError(f"schedule names node {unknown!r}, which is not in graph {problem.name!r}: wrong graph?")
    seq = problem.from_ids(schedule.sequence)
    sim = simulate_indices(problem, seq)
    base = baseline(problem)
    seen: set[int] = set()
    recomputed = []
    for k, v in enumerate(seq):
        if v in seen:
            recomputed.append(k)
        seen.add(v)
    return {
        "name": problem.name,
        "memory": sim.memory,
        "baseline": base.memory,
        "recomputed": recomputed,
        "peak": sim.peak,
        "cost": sim.cost,
        "baseline_peak": base.peak,
        "baseline_cost": base.cost,
    }


def plot_memory(
    G: nx.DiGraph,
    schedule: Schedule,
    path: str | os.PathLike,
    units: str = "auto",
    title: str | None = None,
) -> Path:
    """Draw memory in use at every step of ``schedule`` and of the baseline, with the budget
    and the recomputations, and write it to ``path`` (type by extension)."""
    _format_of(path)
    unit = memory_units(G, units)
    prof = memory_profile(G, schedule)
    budget = schedule.budget
    top = max(prof["baseline_peak"], prof["peak"], budget or 0)
    divisor, name = scale(top, unit)
    ylabel = f"memory in use ({name})" if unit == "bytes" else (f"memory in use ({name} units)" if name else "memory in use")

    fig = _figure()
    ax = fig.add_subplot()
    base = [m / divisor for m in prof["baseline"]]
    mem = [m / divisor for m in prof["memory"]]
    # Step k spans [k, k+1): repeat the last value so that the last step has its width too.
    ax.step(range(len(base) + 1), base + base[-1:], where="post", color=_BASELINE, lw=1.2,
            label=f"baseline order (peak {human(prof['baseline_peak'], unit)})")
    ax.fill_between(range(len(mem) + 1), mem + mem[-1:], step="post", color=_SCHEDULE, alpha=0.15, lw=0)
    ax.step(range(len(mem) + 1), mem + mem[-1:], where="post", color=_SCHEDULE, lw=1.4,
            label=f"schedule (peak {human(prof['peak'], unit)})")
    if budget is not None:
        share = f", {budget / prof['baseline_peak']:.0%} of baseline" if prof["baseline_peak"] else ""
        ax.axhline(budget / divisor, color=_BUDGET, ls="--", lw=1.2, label=f"budget {human(budget, unit)}{share}")
    if prof["recomputed"]:
        ks = prof["recomputed"]
        mid = [k + 0.5 for k in ks]
        ax.scatter(mid, [mem[k] for k in ks], marker="v", s=22, color=_RECOMPUTE, zorder=3, label=f"recomputation ({len(ks)})")
        ax.plot(mid, [0] * len(ks), "|", color=_RECOMPUTE, ms=8, mew=1.2, zorder=3, clip_on=False)
    ax.set_xlim(0, max(len(mem), len(base)))
    ax.set_ylim(0, top / divisor * 1.08)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    tdi = 100.0 * (prof["cost"] / prof["baseline_cost"] - 1) if prof["baseline_cost"] else 0.0
    ax.set_title(
        title or f"{prof['name']}\nTDI {tdi:.2f}%, peak {human(prof['peak'], unit)} "
        f"({prof['peak'] / prof['baseline_peak']:.0%} of baseline), {len(prof['recomputed'])} recomputations",
        fontsize=10,
    )
    return _save(fig, path)


def plot_sweep(results: list[Schedule], path: str | os.PathLike, graph: str | None = None, units: str = "bytes") -> Path:
    """Draw TDI against the budget (fraction of the baseline peak) for a sweep's results, with
    the proven lower bounds, and mark budgets with no schedule (infeasible, or out of time)."""
    _format_of(path)
    if not results:
        raise InputError("no results to plot")
    base_peak = results[0].baseline_peak

    def frac(s: Schedule) -> float:
        return s.budget / base_peak if base_peak else (s.budget_fraction or 0.0)

    def tdi(cost: int | None, s: Schedule) -> float | None:
        return None if cost is None else (100.0 * (cost / s.baseline_cost - 1) if s.baseline_cost else 0.0)

    rows = sorted(results, key=lambda s: s.budget)
    found = [s for s in rows if s.found]
    fig = _figure(8.0, 4.6)
    ax = fig.add_subplot()
    if found:
        xs = [frac(s) for s in found]
        ax.plot(xs, [s.tdi_percent for s in found], "o-", color=_SCHEDULE, lw=1.6, ms=5, label="best schedule found")
        bounded = [(frac(s), tdi(s.lower_bound, s)) for s in found if s.lower_bound is not None]
        if bounded:
            ax.plot(*zip(*bounded), "_--", color=_BOUND, lw=1, ms=10, label="proven lower bound")
        for s in found:
            if s.status == "OPTIMAL":
                ax.annotate("opt", (frac(s), s.tdi_percent), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7, color=_SCHEDULE)
    ymax = max([s.tdi_percent for s in found] + [1.0]) * 1.15
    infeasible = [frac(s) for s in rows if s.status == "INFEASIBLE"]
    unknown = [frac(s) for s in rows if not s.found and s.status != "INFEASIBLE"]
    if infeasible:
        ax.plot(infeasible, [0] * len(infeasible), "x", color=_BUDGET, ms=9, mew=2, clip_on=False, label="infeasible (no schedule exists)")
        ax.axvspan(0, max(infeasible), color=_BUDGET, alpha=0.06, lw=0)
    if unknown:
        ax.plot(unknown, [0] * len(unknown), "o", mfc="none", color=_BASELINE, ms=8, mew=1.5, clip_on=False, label="no schedule within the time limit")
    xs_all = [frac(s) for s in rows]
    pad = max(0.02, (max(xs_all) - min(xs_all)) * 0.05)
    ax.set_xlim(min(xs_all) - pad, max(xs_all) + pad)
    ax.set_ylim(0, ymax)
    ax.xaxis.set_major_formatter(_percent_formatter())
    ax.set_xlabel(f"memory budget (share of the baseline peak, {human(base_peak, units)})")
    ax.set_ylabel("TDI: extra compute (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    ax.set_title(f"{graph or rows[0].graph}\nrecomputation cost against memory budget", fontsize=10)
    return _save(fig, path)


def _percent_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _pos: f"{x:.0%}")
