"""Training steps of the zoo models under Moccasin plans, against eager PyTorch and its own tools.

For each model: the traced step (gradients accumulated early, as ``moccasin.wrap`` runs it),
the smallest feasible budget (search below), then ``moccasin.wrap`` at budgets 0.8, 0.6, 0.4
and that smallest one: gradients against the unwrapped model over 3 SGD steps (same seeds,
so dropout draws the same masks), the measured peak (MemoryMeter around forward+loss+backward,
gradients pre-allocated) against the budget and the prediction, and the step-time overhead
(median of --repeats steps) against the predicted TDI. Beside it: torch.utils.checkpoint per
block and in sqrt(n) segments, and AOTAutograd's min-cut partitioner with
``activation_memory_budget`` (run through ``aot_module`` with eager compilers, so the meter
sees it; dynamo is not involved).

    python bench/train_step.py                    # all zoo models, writes bench/results/train_step.md
    python bench/train_step.py resnet18 gpt2 --time-limit 10

Smallest feasible budget: start from Problem.min_budget (a proven lower bound) as a fraction of
the baseline peak, then bisect (4 rounds) between the largest fraction known to fail and the
smallest known to work, planning with the same solver as wrap (heuristic, then CP-SAT).
"""

from __future__ import annotations

import argparse
import copy
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

import moccasin
from moccasin.graph.problem import Problem
from moccasin.torch.emit import early_grad_graph
from moccasin.torch.measure import MemoryMeter
from moccasin.torch.trace import trace_step
from moccasin.torch.wrap import MoccasinModule, PlanError
from moccasin.torch.zoo import ZOO, load

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


def blocks_of(name, model):
    """The model's repeated blocks, in the order its forward chains them."""
    if name.startswith("resnet"):
        return list(model.stages), True
    if name in ("mobilenet_v2", "vgg16"):
        return list(model.features), True
    if name == "gpt2":
        return list(model.lm.blocks), True
    if name == "unet":
        return list(model.down) + list(model.up_conv), False  # skip connections: not a chain
    raise ValueError(name)


def checkpointed(name, model, segments: bool):
    """A copy of ``model`` with torch.utils.checkpoint per block, or over sqrt(n) segments."""
    m = copy.deepcopy(model)
    blocks, chain = blocks_of(name, m)
    if segments and not chain:
        return None
    size = math.ceil(math.sqrt(len(blocks))) if segments else 1
    for i in range(0, len(blocks), size):
        group = blocks[i : i + size]
        fwds = [b.forward for b in group]

        def run(*a, fwds=fwds):
            x = fwds[0](*a)
            for f in fwds[1:]:
                x = f(x)
            return x

        group[0].forward = lambda *a, run=run: checkpoint(run, *a, use_reentrant=False)
        for b in group[1:]:
            b.forward = lambda x: x
    return m


def min_cut(model, budget):
    """``aot_module`` with the min-cut partitioner at ``activation_memory_budget``; eager compilers."""
    from functorch.compile import aot_module, make_boxed_func, min_cut_rematerialization_partition

    def nop(gm, _):
        return make_boxed_func(gm.forward)

    m = copy.deepcopy(model)

    def partition(*a, **kw):
        with torch._functorch.config.patch(activation_memory_budget=budget):
            return min_cut_rematerialization_partition(*a, **kw)

    compiled = aot_module(m, fw_compiler=nop, bw_compiler=nop, partition_fn=partition)
    compiled.train()
    return compiled, m


def step_stats(name, fwd, params, inputs, targets, repeats):
    """(peak bytes, median seconds) of forward+loss+backward, gradients pre-allocated."""
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    torch.manual_seed(0)
    loss_fn(name, fwd(*inputs), inputs, targets).backward()  # warm-up (plans, first calls)
    with MemoryMeter() as meter:
        loss_fn(name, fwd(*inputs), inputs, targets).backward()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        loss_fn(name, fwd(*inputs), inputs, targets).backward()
        times.append(time.perf_counter() - start)
    return meter.peak, statistics.median(times)


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
    params = list(model.parameters())
    em = copy.deepcopy(model)
    eager_peak, eager_t = step_stats(name, em, list(em.parameters()), inputs, targets, args.repeats)
    rows.append([name, "eager", "-", "-", fmt(eager_peak / MIB), "-", "-", "-", "0.0", "-", "-"])
    step = trace_step(model, *inputs)
    G = early_grad_graph(step)
    base_peak = moccasin.simulate(G, G.graph["order"])[0]
    probe = MoccasinModule(copy.deepcopy(model), budget=1.0, time_limit=args.search_time_limit, replan=True,
                           early_grads=True, solver_options={})
    smallest, how = smallest_feasible(G, probe)
    notes.append(f"- {name}: baseline (traced, early grads) {base_peak / MIB:.2f} MiB, eager measured "
                 f"{eager_peak / MIB:.2f} MiB; smallest feasible {smallest:.3f} ({how}).")
    budgets = [0.8, 0.6, 0.4]
    if smallest < 0.4 or all(abs(smallest - b) > 1e-3 for b in budgets):
        budgets.append(round(smallest + 5e-4, 3))
    for b in budgets:
        label = f"{b:.3f}" + (" (min)" if b not in (0.8, 0.6, 0.4) else "")
        if b < smallest - 1e-9:
            rows.append([name, "moccasin", label, f"{b * base_peak / MIB:.2f}", "-", "-", "-", "-", "-", "-",
                         f"below smallest feasible {smallest:.3f}"])
            continue
        try:
            mine = copy.deepcopy(model)
            w = moccasin.wrap(mine, *inputs, budget=b, time_limit=args.time_limit)
        except PlanError as e:
            rows.append([name, "moccasin", label, f"{b * base_peak / MIB:.2f}", "-", "-", "-", "-", "-", "-",
                         str(e).split("(")[1].split(":")[0] if "(" in str(e) else "no plan"])
            continue
        r = w.moccasin_report()
        peak, t = step_stats(name, w, list(mine.parameters()), inputs, targets, args.repeats)
        diff = grad_check(name, model, mine, w, inputs, targets)
        rows.append([
            name, "moccasin", label, fmt(r["budget_bytes"] / MIB), fmt(peak / MIB), fmt(r["predicted_peak_bytes"] / MIB),
            fmt(peak / r["budget_bytes"], ".3f"), fmt(peak / r["predicted_peak_bytes"], ".3f"),
            fmt(100 * (t / eager_t - 1), ".1f"), fmt(r["predicted_tdi_percent"], ".1f"),
            ("bitwise" if diff == 0 else f"max diff {diff:.2e}") + f"; {r['solver']} {r['status']}",
        ])
    for label, maker in (("checkpoint per block", lambda: checkpointed(name, model, False)),
                         ("checkpoint sqrt(n) segments", lambda: checkpointed(name, model, True))):
        m = maker()
        if m is None:
            rows.append([name, label, "-", "-", "-", "-", "-", "-", "-", "-", "n/a (skip connections)"])
            continue
        try:
            peak, t = step_stats(name, m, list(m.parameters()), inputs, targets, args.repeats)
        except RuntimeError as e:  # in-place layers (ReLU(inplace=True)) checkpointed on their own
            rows.append([name, label, "-", "-", "-", "-", "-", "-", "-", "-", f"failed: {str(e).splitlines()[0][:70]}"])
            continue
        rows.append([name, label, "-", "-", fmt(peak / MIB), "-", "-", "-", fmt(100 * (t / eager_t - 1), ".1f"), "-", ""])
    for amb in (1.0, 0.5, 0.0):
        try:
            compiled, inner = min_cut(model, amb)
            peak, t = step_stats(name, compiled, list(inner.parameters()), inputs, targets, args.repeats)
            rows.append([name, f"min-cut amb={amb}", "-", "-", fmt(peak / MIB), "-", "-", "-",
                         fmt(100 * (t / eager_t - 1), ".1f"), "-", ""])
        except Exception as e:  # e.g. aot_module and tied parameters
            rows.append([name, f"min-cut amb={amb}", "-", "-", "-", "-", "-", "-", "-", "-",
                         f"failed: {type(e).__name__}: {str(e).splitlines()[0][:80]}"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", default=list(ZOO))
    ap.add_argument("--time-limit", type=float, default=10.0, help="solver seconds per plan")
    ap.add_argument("--search-time-limit", type=float, default=4.0, help="solver seconds per bisection probe")
    ap.add_argument("--repeats", type=int, default=5, help="timed steps per variant (median)")
    ap.add_argument("-o", "--output", default=str(Path(__file__).parent / "results" / "train_step.md"))
    args = ap.parse_args()
    import logging

    logging.getLogger("moccasin").setLevel(logging.WARNING)
    rows, notes = [], []
    started = time.time()
    for name in args.models:
        t0 = time.time()
        try:
            bench_model(name, args, rows, notes)
        except Exception as e:  # keep the other models' results
            rows.append([name, "error", "-", "-", "-", "-", "-", "-", "-", "-", f"{type(e).__name__}: {str(e).splitlines()[0][:100]}"])
        print(f"{name}: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
        write(args, rows, notes, started)


def write(args, rows, notes, started):
    head = ["model", "variant", "budget", "budget MiB", "measured peak MiB", "predicted MiB",
            "measured/budget", "measured/predicted", "time overhead %", "predicted TDI %", "notes"]
    out = [
        "# Training steps under Moccasin plans vs eager PyTorch and its checkpointing tools",
        "",
        f"Command: `python bench/train_step.py {' '.join(sys.argv[1:])}`".rstrip() + "",
        "",
        f"Machine: {platform.machine()} Linux, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
        f"Python {platform.python_version()}; wall time {time.time() - started:.0f} s. Shared 2-core CPU: times are noisy.",
        "",
        "Peaks: live bytes of tensors created during forward+loss+backward (MemoryMeter), gradients "
        "pre-allocated; parameters, buffers and inputs are resident and outside every number. "
        "Overhead: median step time vs eager's median, in percent. Budget fractions are of the traced "
        "baseline peak (graph order, no recomputation, gradients accumulated early).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    out += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    out += ["", "Smallest feasible budgets (how they were found):", ""] + notes
    Path(args.output).write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
