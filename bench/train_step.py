"""Training steps of the zoo models under Moccasin plans: gradients, memory and time.

For each model: the traced step (gradients accumulated early, as ``moccasin.wrap`` runs it),
the smallest budget that plans (search below), then ``moccasin.wrap`` at budget 1.0 (no
recomputation: the emitter's own overhead), 0.8, 0.6, 0.4 and that smallest one: gradients
against the unwrapped model over 3 SGD steps (same seeds, so dropout draws the same masks),
the measured peak (MemoryMeter around forward+loss+backward, gradients pre-allocated) against
the budget and the prediction, and the step-time overhead against the predicted TDI. Step
times come from interleaved rounds (bench/timing.py): every round runs eager and every plan
once, so load on the machine hits them alike; overheads are from the minima (medians beside).
The predicted TDI is given twice: in the planner's FLOP costs, and for the same schedule in
each op's measured time (the step traced with ``profile=True``).

PyTorch's own tools (torch.utils.checkpoint, activation_memory_budget) at equal peak are in
bench/equal_peak.py.

    python bench/train_step.py                    # all zoo models, writes bench/results/train_step.md
    python bench/train_step.py resnet18 gpt2 --time-limit 10 --rounds 20

Smallest budget that plans: start from Problem.min_budget (a proven lower bound) as a fraction
of the baseline peak, then bisect (4 rounds) between the largest fraction known to fail and the
smallest known to work, planning with the same solver as wrap (heuristic, then CP-SAT).
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import moccasin
from moccasin.graph.problem import Problem
from moccasin.torch.emit import early_grad_graph
from moccasin.torch.measure import MemoryMeter
from moccasin.torch.trace import trace_step
from moccasin.torch.wrap import MoccasinModule, PlanError
from moccasin.torch.zoo import ZOO, load

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import interleaved_times, overhead_percent  # noqa: E402

MIB = 2**20


class LMWithLoss(torch.nn.Module):
    """GPT-2 and its next-token loss as one module: the loss's logits-sized tensors (the
    flattened slice, log-softmax, the logits' gradient) are then inside the plan; outside it
    they are 1-2 MiB the planner cannot see (it counts the model output's gradient as resident)."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, tokens):
        out = self.lm(tokens)
        return F.cross_entropy(out[:, :-1].flatten(0, 1), tokens[:, 1:].flatten())


def loss_fn(name, out, inputs, targets):
    if out.dim() == 0:  # the model computes its loss itself (LMWithLoss)
        return out
    if name == "gpt2":
        return F.cross_entropy(out[:, :-1].flatten(0, 1), inputs[0][:, 1:].flatten())
    return F.cross_entropy(out, targets)


def make_targets(name, model, inputs):
    if name == "gpt2":  # next-token targets are the inputs shifted
        return None
    with torch.no_grad():
        out = copy.deepcopy(model).eval()(*inputs)
    g = torch.Generator().manual_seed(1)
    if out.dim() == 4:
        return torch.randint(0, out.shape[1], (out.shape[0], *out.shape[2:]), generator=g)
    return torch.randint(0, out.shape[1], (out.shape[0],), generator=g)


def peak_of(name, fwd, params, inputs, targets):
    """Peak bytes of forward+loss+backward (MemoryMeter), gradients pre-allocated."""
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    torch.manual_seed(0)
    loss_fn(name, fwd(*inputs), inputs, targets).backward()  # warm-up (plans, first calls)
    with MemoryMeter() as meter:
        loss_fn(name, fwd(*inputs), inputs, targets).backward()
    return meter.peak


def profiled_tdi(profiled, schedule):
    """TDI of ``schedule`` (a sequence over the traced graph) in measured op times."""
    base = moccasin.simulate(profiled, profiled.graph["order"])[1]
    cost = moccasin.simulate(profiled, schedule.sequence)[1]
    return 100.0 * (cost / base - 1)


def grad_check(name, model, mine, w, inputs, targets, steps=3):
    """Max |grad difference| against the unwrapped model over ``steps`` SGD steps (0.0 = bitwise).

    ``w`` wraps ``mine``; its parameters and buffers are reset to ``model``'s first."""
    ref = copy.deepcopy(model)
    mine.load_state_dict(model.state_dict())
    for p in mine.parameters():
        p.grad = None
    o1 = torch.optim.SGD(mine.parameters(), lr=0.01, momentum=0.9)
    o2 = torch.optim.SGD(ref.parameters(), lr=0.01, momentum=0.9)
    worst = 0.0
    for i in range(steps):
        torch.manual_seed(100 + i)
        loss_fn(name, w(*inputs), inputs, targets).backward()
        torch.manual_seed(100 + i)
        loss_fn(name, ref(*inputs), inputs, targets).backward()
        for p, q in zip(mine.parameters(), ref.parameters()):
            worst = max(worst, (p.grad - q.grad).abs().max().item())
        o1.step(), o2.step(), o1.zero_grad(), o2.zero_grad()
    for b, c in zip(mine.buffers(), ref.buffers()):
        worst = max(worst, (b.double() - c.double()).abs().max().item())
    return worst


def smallest_feasible(G, wrapper: MoccasinModule, rounds=4):
    """(fraction, how): bisection between the min_budget bound and the smallest working fraction."""
    problem = Problem.from_graph(G)
    base = moccasin.simulate(G, G.graph["order"])[0]
    lo = problem.min_budget / base  # proven infeasible below
    wrapper._moccasin_budget = lo
    if wrapper._solve(G).found:
        return lo, "min_budget bound is feasible"
    hi = None
    for f in (0.4, 0.6, 0.8, 1.0):
        wrapper._moccasin_budget = f
        if wrapper._solve(G).found:
            hi = f
            break
        lo = f
    for _ in range(rounds):
        mid = (lo + hi) / 2
        wrapper._moccasin_budget = mid
        if wrapper._solve(G).found:
            hi = mid
        else:
            lo = mid
    return hi, f"bisection: infeasible or not found at {lo:.3f}, found at {hi:.3f}"


def fmt(x, spec=".2f"):
    return "-" if x is None else format(x, spec)


def bench_model(name, args, rows, notes):
    model, inputs = load(name)
    if name == "gpt2":
        model = LMWithLoss(model)
    targets = make_targets(name, model, inputs)
    em = copy.deepcopy(model)
    eager_peak = peak_of(name, em, list(em.parameters()), inputs, targets)
    step = trace_step(model, *inputs)
    G = early_grad_graph(step)
    base_peak = moccasin.simulate(G, G.graph["order"])[0]
    profiled = early_grad_graph(trace_step(copy.deepcopy(model), *inputs, profile=True))
    probe = MoccasinModule(copy.deepcopy(model), budget=1.0, time_limit=args.search_time_limit, replan=True,
                           early_grads=True, solver_options={})
    smallest, how = smallest_feasible(G, probe)
    bound = Problem.from_graph(G).min_budget / base_peak
    notes.append(f"- {name}: baseline (traced, early grads) {base_peak / MIB:.2f} MiB, eager measured "
                 f"{eager_peak / MIB:.2f} MiB; smallest budget that plans {smallest:.3f} ({how}); "
                 f"proven lower bound (Problem.min_budget) {bound:.3f}.")
    budgets = [1.0, 0.8, 0.6, 0.4]
    if all(abs(smallest - b) > 1e-3 for b in budgets):
        budgets.append(round(smallest + 5e-4, 3))
    timed = {"eager": (em, list(em.parameters()))}
    pending = []  # (row, timing key)
    rows.append(row := [name, "eager", "-", "-", fmt(eager_peak / MIB), "-", "-", "-", None, None, "-", "-", "-"])
    pending.append((row, "eager"))
    for b in budgets:
        label = f"{b:.3f}" + (" (min)" if b not in (1.0, 0.8, 0.6, 0.4) else "")
        if b < smallest - 1e-9:
            rows.append([name, "moccasin", label, f"{b * base_peak / MIB:.2f}", "-", "-", "-", "-", "-", "-", "-", "-",
                         f"below the smallest budget that plans ({smallest:.3f})"])
            continue
        try:
            mine = copy.deepcopy(model)
            w = moccasin.wrap(mine, *inputs, budget=b, time_limit=args.time_limit)
        except PlanError as e:
            rows.append([name, "moccasin", label, f"{b * base_peak / MIB:.2f}", "-", "-", "-", "-", "-", "-", "-", "-",
                         f"no plan: {str(e)[:80]}"])
            continue
        r = w.moccasin_report()
        peak = peak_of(name, w, list(mine.parameters()), inputs, targets)
        diff = grad_check(name, model, mine, w, inputs, targets)
        for p in mine.parameters():
            p.grad = torch.zeros_like(p)
        rows.append(row := [
            name, "moccasin", label, fmt(r["budget_bytes"] / MIB), fmt(peak / MIB), fmt(r["predicted_peak_bytes"] / MIB),
            fmt(peak / r["budget_bytes"], ".3f"), fmt(peak / r["predicted_peak_bytes"], ".3f"), None, None,
            fmt(r["predicted_tdi_percent"], ".1f"), fmt(profiled_tdi(profiled, w.moccasin_plan.schedule), ".1f"),
            ("bitwise" if diff == 0 else f"max diff {diff:.2e}") + f"; {r['solver']} {r['status']}; "
            f"{r['recomputations']} recomputations",
        ])
        key = f"moccasin {label}"
        timed[key] = (w, list(mine.parameters()))
        pending.append((row, key))

    def runner(fwd):
        return lambda: loss_fn(name, fwd(*inputs), inputs, targets).backward()

    times = interleaved_times({k: runner(fwd) for k, (fwd, _) in timed.items()}, rounds=args.rounds)
    for row, key in pending:
        row[8] = fmt(overhead_percent(times[key], times["eager"]), ".1f")
        row[9] = fmt(overhead_percent(times[key], times["eager"], "median"), ".1f")
    notes.append(f"  step times (ms, min / median of {args.rounds} interleaved rounds): " + ", ".join(
        f"{k} {1000 * t['min']:.1f} / {1000 * t['median']:.1f}" for k, t in times.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", default=list(ZOO))
    ap.add_argument("--time-limit", type=float, default=10.0, help="solver seconds per plan")
    ap.add_argument("--search-time-limit", type=float, default=4.0, help="solver seconds per bisection probe")
    ap.add_argument("--rounds", type=int, default=20, help="interleaved timing rounds per model")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: with 2 on the 2-core machine, timings swung by tens of percent)")
    ap.add_argument("-o", "--output", default=str(Path(__file__).parent / "results" / "train_step.md"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import logging

    logging.getLogger("moccasin").setLevel(logging.WARNING)
    rows, notes = [], []
    started = time.time()
    for name in args.models:
        t0 = time.time()
        try:
            bench_model(name, args, rows, notes)
        except Exception as e:  # keep the other models' results
            rows.append([name, "error"] + ["-"] * 10 + [f"{type(e).__name__}: {str(e).splitlines()[0][:100]}"])
        print(f"{name}: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
        write(args, rows, notes, started)


def write(args, rows, notes, started):
    head = ["model", "variant", "budget", "budget MiB", "measured peak MiB", "predicted MiB",
            "measured/budget", "measured/predicted", "time overhead % (min)", "(median)",
            "predicted TDI % (FLOPs)", "predicted TDI % (measured op times)", "notes"]
    out = [
        "# Training steps under Moccasin plans vs eager PyTorch",
        "",
        f"Command: `python bench/train_step.py {' '.join(sys.argv[1:])}`".rstrip() + "",
        "",
        f"Machine: {platform.machine()} Linux, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}, Python {platform.python_version()}; wall time {time.time() - started:.0f} s.",
        "",
        "Peaks: live bytes of tensors created during forward+loss+backward (MemoryMeter), gradients "
        "pre-allocated; parameters, buffers and inputs are resident and outside every number. "
        "Budget fractions are of the traced baseline peak (graph order, no recomputation, gradients "
        "accumulated early). Time overhead: step time vs eager's, from the minima (and medians) of "
        "interleaved rounds (bench/timing.py). Predicted TDI: the plan's cost increase in the "
        "planner's FLOP costs, and the same schedule's in measured op times (`trace_step(profile=True)`). "
        "Gradients: max difference to the unwrapped model over 3 SGD steps (bitwise = 0).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    out += ["| " + " | ".join("…" if c is None else str(c) for c in r) + " |" for r in rows]
    out += ["", "Smallest budgets and step times:", ""] + notes
    Path(args.output).write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
