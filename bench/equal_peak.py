"""Moccasin side by side with PyTorch's own tools at equal measured peak (issue 6).

For each zoo model (wrapped with its loss, bench/baselines.py): eager, torch.utils.checkpoint
per block and over sqrt(n) segments, and ``torch.compile(backend="aot_eager")`` at
``activation_memory_budget`` 1.0 ... 0.0. Each gets its measured peak (bench/peaks.py's
allocator meter, which also sees compiled code; MemoryMeter where it can see) and its step-time
overhead over eager (bench/timing.py: interleaved rounds, overhead from the minima). Then, for
each distinct baseline peak P, ``moccasin.wrap(copy, *inputs, budget=B)`` with B on the
planner's own scale and calibrated so that Moccasin's *measured* allocator peak is at most P,
and Moccasin's smallest reachable peak.

    python bench/equal_peak.py                          # all six zoo models
    python bench/equal_peak.py resnet18 gpt2 --time-limit 8 --rounds 10

Units. The planner's budget counts the bytes of tensors created during the step (what
MemoryMeter counts). The allocator meter also counts temporaries that kernels allocate inside
an op (oneDNN's convolution backward holds a weight-gradient-sized buffer, for example), so it
reads higher by whatever such temporary coincides with the peak. The first budget for a target
peak P is therefore ``P - (allocator - MemoryMeter on eager)``; if the plan's measured
allocator peak still exceeds P (by more than 0.2%), the budget is lowered by the excess and the
model re-planned (at most --calibrate times).
"""

from __future__ import annotations

import os

os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

import torch  # noqa: E402

import moccasin  # noqa: E402
from baselines import (  # noqa: E402
    AMB_BUDGETS, Variant, all_variants, grads_after_step, max_grad_diff, preallocate_grads, prepare,
)
from moccasin.graph.problem import Problem  # noqa: E402
from moccasin.torch.emit import early_grad_graph  # noqa: E402
from moccasin.torch.measure import MemoryMeter  # noqa: E402
from moccasin.torch.trace import trace_step  # noqa: E402
from moccasin.torch.wrap import MoccasinModule, PlanError  # noqa: E402
from moccasin.torch.zoo import ZOO  # noqa: E402
from peaks import AllocatorMeter  # noqa: E402
from timing import interleaved_times, overhead_percent  # noqa: E402

#: Where the hand-written reading of the table starts in the .md (kept on re-rendering).
HAND_WRITTEN = "## Reading the table"
MIB = 2**20
TOL = 1.002  # a measured peak within 0.2% of the target counts as equal


def alloc_peak(v: Variant, repeats=2) -> int:
    """Largest allocator peak over ``repeats`` steps (gradients pre-allocated)."""
    peaks = []
    for _ in range(repeats):
        preallocate_grads(v.module)
        with AllocatorMeter() as m:
            v.step()
        peaks.append(m.peak)
    return max(peaks)


def meter_peak(v: Variant) -> int:
    preallocate_grads(v.module)
    with MemoryMeter() as m:
        v.step()
    return m.peak


def moccasin_variant(module, inputs, budget: int, time_limit: float, label: str) -> Variant:
    m = copy.deepcopy(module)
    w = moccasin.wrap(m, *inputs, budget=int(budget), time_limit=time_limit)
    return Variant(label, m, w, inputs, info={"report": w.moccasin_report(), "wrapper": w})


def smallest_budget(module, inputs, probe_limit: float, rounds: int):
    """(smallest budget bytes found to plan, proven lower bound bytes, traced baseline bytes, how)."""
    m = copy.deepcopy(module)
    G = early_grad_graph(trace_step(m, *inputs))
    base = moccasin.simulate(G, G.graph["order"])[0]
    lb = Problem.from_graph(G).min_budget
    probe = MoccasinModule(m, budget=1.0, time_limit=probe_limit, replan=True, early_grads=True, solver_options={})

    def plans(b):
        probe._moccasin_budget = int(b)
        return probe._solve(G).found

    if plans(lb):
        return lb, lb, base, "the proven lower bound plans"
    lo, hi = lb, None
    for f in (0.2, 0.3, 0.4, 0.6, 0.8, 1.0):
        if f * base <= lo:
            continue
        if plans(f * base):
            hi = f * base
            break
        lo = f * base
    if hi is None:
        return None, lb, base, "nothing plans up to the baseline"
    for _ in range(rounds):
        mid = (lo + hi) / 2
        if plans(mid):
            hi = mid
        else:
            lo = mid
    return int(hi), lb, base, f"bisection ({probe_limit:g} s probes): none found at {lo / MIB:.2f} MiB, found at {hi / MIB:.2f} MiB"


def plan_at_peak(module, inputs, target: int, offset: int, args, smallest: int | None, msmall, log: list, base: int,
                 cache: dict):
    """A Moccasin variant whose measured allocator peak is <= target, or (None, why).

    First budget ``target - offset``; while the measured peak exceeds the target, lower the
    budget by the excess (at most ``args.calibrate`` times, never below the smallest budget
    found). If no such plan fits, the plan at the smallest budget is used when it fits. Budgets
    above the traced baseline are capped at it (no recomputation needed); plans are cached by
    budget."""
    budget = min(target - offset, base)
    tried = []
    for _ in range(args.calibrate + 1):
        if smallest is not None and budget < smallest:
            break
        if budget in cache:
            v = cache[budget]
            peak = v.info["alloc_peak"]
        else:
            try:
                v = moccasin_variant(module, inputs, budget, args.time_limit, "moccasin")
            except PlanError as e:
                tried.append(f"{budget / MIB:.2f}->no plan")
                log.append(f"no plan at budget {budget / MIB:.2f} MiB: {str(e)[:100]}")
                break
            v.step()  # warm-up
            peak = alloc_peak(v)
            cache[budget] = v
        tried.append(f"{budget / MIB:.2f}->{peak / MIB:.2f}")
        v.info.update(budget=budget, alloc_peak=peak)
        v.info.setdefault("calibration", list(tried))
        if peak <= target * TOL:
            return v, None
        budget -= peak - target
    why = f"budget -> measured MiB: {', '.join(tried) or 'none tried'}"
    if msmall is not None and msmall.info["alloc_peak"] <= target * TOL:
        return msmall, why + "; the smallest plan is used"
    if msmall is not None:
        why += f"; the smallest plan measures {msmall.info['alloc_peak'] / MIB:.2f}"
    return None, why


def bench_model(name, args):
    t0 = time.time()
    module, inputs = prepare(name)
    res = {"model": name, "rows": [], "notes": []}
    variants = all_variants(name, module, inputs)
    eager = variants[0]
    ref = grads_after_step(eager.module, eager.fwd, inputs)
    for v in variants:
        try:
            g = grads_after_step(v.module, v.fwd, inputs)  # also compiles
            v.info["grad_diff"] = max_grad_diff(ref, g)
            v.step()
            v.info["alloc_peak"] = alloc_peak(v)
            v.info["meter_peak"] = None if "backend" in v.info else meter_peak(v)
            if "backend" in v.info:
                v.info["compilations"] = v.info["backend"].compilations
        except Exception as e:  # keep the other variants
            v.info["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:90]}"
    offset = eager.info["alloc_peak"] - eager.info["meter_peak"]
    res["offset_bytes"] = offset
    print(f"{name}: baselines measured ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)

    smallest, lb, base, how = smallest_budget(module, inputs, args.search_time_limit, args.search_rounds)
    res.update(smallest_budget=smallest, lower_bound=lb, traced_baseline=base, smallest_how=how)
    print(f"{name}: smallest budget {smallest and smallest / MIB:.2f} MiB ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)

    msmall = None
    if smallest is not None:
        try:
            msmall = moccasin_variant(module, inputs, smallest, args.time_limit, "moccasin smallest")
            msmall.step()
            msmall.info.update(budget=smallest, alloc_peak=alloc_peak(msmall))
        except PlanError as e:
            res["notes"].append(f"moccasin at the smallest budget found by the search ({smallest} B) gave no plan "
                                f"with --time-limit: {str(e)[:120]}")
            msmall = None

    ok = [v for v in variants if "error" not in v.info]
    targets = sorted({v.info["alloc_peak"] for v in ok}, reverse=True)
    mocc: dict[int, tuple] = {}  # target -> (variant or None, why)
    cache: dict[int, Variant] = {}  # budget -> plan
    for target in targets:
        near = [t for t in mocc if mocc[t][0] is not None and mocc[t][0].info["alloc_peak"] <= target * TOL
                and t <= target * 1.005]
        if near:  # a plan for a target within 0.5% already fits
            mocc[target] = mocc[near[0]]
            continue
        mocc[target] = plan_at_peak(module, inputs, target, offset, args, smallest, msmall, res["notes"], base, cache)
        print(f"{name}: moccasin at {target / MIB:.2f} MiB: {mocc[target][1] or 'ok'} ({time.time() - t0:.0f} s)",
              file=sys.stderr, flush=True)
    # Gradients and MemoryMeter peaks of the Moccasin variants
    plans = {id(v): v for v, _ in mocc.values() if v is not None}
    if msmall is not None:
        plans[id(msmall)] = msmall
    for v in plans.values():
        v.info["grad_diff"] = max_grad_diff(ref, grads_after_step(v.module, v.fwd, inputs))
        v.info["meter_peak"] = meter_peak(v)

    # Timing: everything that runs, interleaved
    steps = {v.label: v.step for v in ok}
    for v in plans.values():
        v.label = f"moccasin {v.info['budget'] / MIB:.2f} MiB" if v is not msmall else "moccasin smallest"
        steps[v.label] = v.step
    for v in list(ok) + list(plans.values()):
        preallocate_grads(v.module)
    times = interleaved_times(steps, rounds=args.rounds)
    for v in ok:
        if "backend" in v.info and v.info["backend"].compilations != v.info.get("compilations"):
            res["notes"].append(f"{v.label}: recompiled during timing")
    et = times["eager"]

    def timing(v):
        t = times[v.label]
        return dict(min_ms=1e3 * t["min"], median_ms=1e3 * t["median"], overhead_pct=overhead_percent(t, et),
                    overhead_median_pct=overhead_percent(t, et, "median"))

    def mrow(v):
        if v is None:
            return None
        r = v.info["report"]
        return dict(label=v.label, budget=v.info["budget"], alloc_peak=v.info["alloc_peak"], meter_peak=v.info["meter_peak"],
                    predicted_peak=r["predicted_peak_bytes"], predicted_tdi_pct=r["predicted_tdi_percent"],
                    solver=f"{r['solver']} {r['status']}", grad_diff=v.info["grad_diff"],
                    calibration=v.info.get("calibration"), **timing(v))

    for v in variants:
        row = dict(variant=v.label, note=v.note, **{k: v.info.get(k) for k in ("alloc_peak", "meter_peak", "grad_diff", "error", "compilations")})
        if "error" not in v.info:
            row.update(timing(v))
            mv, why = mocc[v.info["alloc_peak"]]
            row["moccasin"] = mrow(mv)
            row["moccasin_why"] = why
        res["rows"].append(row)
    res["moccasin_smallest"] = mrow(msmall)
    res["seconds"] = time.time() - t0
    return res


NOISE_PT = 10.0  # overhead differences below this many percentage points are called ties


def verdict(row):
    """Per row: does Moccasin fit this measured peak, and is it faster there?"""
    if row.get("error"):
        return "baseline failed"
    m = row.get("moccasin")
    if m is None:
        return f"**no Moccasin plan at or below this peak** ({row.get('moccasin_why')})"
    if m["alloc_peak"] > row["alloc_peak"] * TOL:
        return f"**Moccasin's measured peak is above this one** ({row.get('moccasin_why')})"
    if row["variant"] == "eager":
        return f"at eager's peak: {m['overhead_pct']:+.1f}% vs eager"
    peak = ("lower peak" if m["alloc_peak"] < 0.98 * row["alloc_peak"] else "equal peak")
    d = m["overhead_pct"] - row["overhead_pct"]
    ov = f"{m['overhead_pct']:+.1f}% vs {row['overhead_pct']:+.1f}%"
    if d < -NOISE_PT:
        t = f"faster ({ov})"
    elif d > NOISE_PT:
        t = f"**SLOWER** ({ov})"
    else:
        t = f"same time within noise ({ov})"
    return f"{peak}, {t}"


def mib(x, spec=".2f"):
    return "-" if x is None else format(x / MIB, spec)


def pct(x):
    return "-" if x is None else f"{x:+.1f}"


def gd(x):
    return "-" if x is None else ("bitwise" if x == 0 else f"{x:.1e}")


def write(args, results, started, out):
    head = ["model", "variant", "peak MiB (allocator)", "peak MiB (MemoryMeter)", "overhead % (min; median)",
            "grad max diff", "Moccasin budget MiB", "Moccasin peak MiB (alloc; meter)", "Moccasin overhead % (min; median)",
            "Moccasin grads", "verdict"]
    lines = [
        "# Moccasin vs PyTorch's checkpointing and activation_memory_budget at equal measured peak",
        "",
        "Commands: " + "; then ".join(f"`{c}`" for c in args.commands) + " (with --merge, the later run's models replace the earlier's).",
        "",
        f"Machine: {platform.machine()} Linux, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
        f"Python {platform.python_version()}, {os.cpu_count()} cores; wall time of the last command "
        f"{time.time() - started:.0f} s. Step times on a small shared VM move by several points from run to run; "
        f"differences of at most {NOISE_PT:g} points are read as equal (the verdict's 'within noise').",
        "",
        "Every model computes its loss inside the module (bench/baselines.py `prepare`); a step is "
        "`module(*inputs).backward()` with gradients pre-allocated. Peaks: bytes allocated during the step "
        "and alive at once; parameters, buffers, inputs and gradients are outside. 'allocator' is "
        "bench/peaks.py's profiler-based meter (sees torch.compile'd code and kernel temporaries); "
        "'MemoryMeter' is moccasin.torch.measure's dispatch-mode meter (op outputs only; cannot see "
        "torch.compile'd code: dynamo runs frames eagerly under a dispatch mode, so it is left out there). "
        f"Overheads: step time vs eager from interleaved rounds (bench/timing.py, {args.rounds} rounds), "
        "from the minima; medians beside them. 'Moccasin budget' is on the planner's scale (MemoryMeter's), "
        "calibrated so that Moccasin's allocator peak is at most the row's (within 0.2%). Solver time limit "
        f"{args.time_limit:g} s per plan. Grad diff: max |grad - eager grad| after one step (same seed).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    notes = []
    for res in results:
        name = res["model"]
        if "error" in res:
            lines.append(f"| {name} | error | | | | | | | | | {res['error']} |")
            continue
        ms = res["moccasin_smallest"]
        okrows = [r for r in res["rows"] if not r.get("error")]
        best = min((r["alloc_peak"] for r in okrows if r["variant"] != "eager"), default=None)
        for r in res["rows"]:
            m = r.get("moccasin")
            label = r["variant"] + (f" ({r['note']})" if r.get("note") else "")
            if r.get("error"):
                lines.append(f"| {name} | {label} | - | - | - | - | - | - | - | - | failed: {r['error']} |")
                continue
            lines.append("| " + " | ".join([
                name, label, mib(r["alloc_peak"]), mib(r["meter_peak"]),
                f"{pct(r['overhead_pct'])}; {pct(r['overhead_median_pct'])}", gd(r["grad_diff"]),
                mib(m and m["budget"]), "-" if m is None else f"{mib(m['alloc_peak'])}; {mib(m['meter_peak'])}",
                "-" if m is None else f"{pct(m['overhead_pct'])}; {pct(m['overhead_median_pct'])}",
                "-" if m is None else gd(m["grad_diff"]), verdict(r),
            ]) + " |")
        if ms is not None:
            lines.append("| " + " | ".join([
                name, "**Moccasin smallest found**", "-", "-", "-", "-", mib(ms["budget"]),
                f"{mib(ms['alloc_peak'])}; {mib(ms['meter_peak'])}", f"{pct(ms['overhead_pct'])}; {pct(ms['overhead_median_pct'])}",
                gd(ms["grad_diff"]),
                f"vs smallest baseline {mib(best)} MiB: " + ("lower" if best is not None and ms["alloc_peak"] < best else "NOT lower"),
            ]) + " |")
        notes.append(
            f"- {name}: allocator - MemoryMeter on eager {res['offset_bytes'] / MIB:+.2f} MiB; traced baseline "
            f"{res['traced_baseline'] / MIB:.2f} MiB; proven lower bound (Problem.min_budget) {res['lower_bound'] / MIB:.2f} MiB; "
            f"smallest budget found {mib(res['smallest_budget'])} MiB ({res['smallest_how']}); {res['seconds']:.0f} s."
            + ("".join(f" {n}." for n in res["notes"])))
    lines += ["", "Per model:", ""] + notes
    md = out.with_suffix(".md")
    # A section written by hand after a run (from HAND_WRITTEN on) is kept when the table is rewritten.
    kept = md.read_text().partition(HAND_WRITTEN)[1:] if md.exists() else ("", "")
    md.write_text("\n".join(lines) + "\n" + ("\n" + "".join(kept) if kept[0] else ""))
    out.with_suffix(".json").write_text(json.dumps(dict(commands=args.commands, rounds=args.rounds, time_limit=args.time_limit,
                                                        threads=torch.get_num_threads(), wall_s=time.time() - started,
                                                        machine=platform.platform(),
                                                        torch=torch.__version__, results=results), indent=1, default=str))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", default=list(ZOO))
    ap.add_argument("--time-limit", type=float, default=8.0, help="solver seconds per Moccasin plan")
    ap.add_argument("--search-time-limit", type=float, default=3.0, help="solver seconds per smallest-budget probe")
    ap.add_argument("--search-rounds", type=int, default=4, help="bisection rounds for the smallest budget")
    ap.add_argument("--calibrate", type=int, default=2, help="re-plans when Moccasin's measured peak exceeds the target")
    ap.add_argument("--rounds", type=int, default=10, help="interleaved timing rounds")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: OpenMP threads on a shared 2-core machine wait at barriers for minutes)")
    ap.add_argument("--render-only", action="store_true", help="rewrite the .md from the existing .json, run nothing")
    ap.add_argument("--merge", action="store_true", help="keep other models' results from an existing output .json")
    ap.add_argument("-o", "--output", default=str(Path(__file__).parent / "results" / "equal_peak.md"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.output)
    if args.render_only:
        old = json.loads(out.with_suffix(".json").read_text())
        args.commands = old.get("commands") or ["python " + " ".join(old.get("command", []))]
        args.rounds, args.time_limit = old.get("rounds", args.rounds), old.get("time_limit", args.time_limit)
        torch.set_num_threads(old.get("threads", args.threads))
        return write(args, old["results"], time.time() - old.get("wall_s", 0), out)
    logging.getLogger("moccasin").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    torch._dynamo.config.recompile_limit = 64
    torch._dynamo.config.accumulated_recompile_limit = 1024
    started = time.time()
    results = []
    out = Path(args.output)
    previous, commands = [], []
    if args.merge and out.with_suffix(".json").exists():
        old = json.loads(out.with_suffix(".json").read_text())
        previous = [r for r in old["results"] if r["model"] not in args.models]
        commands = old.get("commands", ["python " + " ".join(old.get("command", []))])
    args.commands = commands + [" ".join(["python bench/equal_peak.py", *sys.argv[1:]])]
    for name in args.models:
        try:
            results.append(bench_model(name, args))
        except Exception as e:  # keep the other models' results
            import traceback

            traceback.print_exc()
            results.append({"model": name, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:150]}"})
        print(f"{name}: done ({time.time() - started:.0f} s total)", file=sys.stderr, flush=True)
        order = {n: i for i, n in enumerate(ZOO)}
        write(args, sorted(previous + results, key=lambda r: order.get(r["model"], 99)), started, out)


if __name__ == "__main__":
    main()
