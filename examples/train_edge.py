"""Train a zoo model for a few steps on CPU under a memory budget with moccasin.wrap.

    python examples/train_edge.py --model vgg16 --budget 0.8 --steps 5

Prints the plan, then per step: the loss, the measured peak of live tensors created during
forward+backward (gradients pre-allocated, so it counts activations and the step's
temporaries; parameters and inputs are resident and outside it) and the step time, measured
inside the meter: the dispatch-mode meter slows the step a lot (vgg16: ~2.8 s metered here vs
tens of ms unmetered in bench/train_step.py), so read it as relative only.
"""

from __future__ import annotations

import argparse
import logging
import time

import torch
import torch.nn.functional as F

import moccasin
from moccasin.torch.measure import MemoryMeter
from moccasin.torch.zoo import ZOO, load


def loss_of(name: str, out: torch.Tensor, inputs: tuple, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy: next-token for GPT-2, per pixel for the U-Net, per image otherwise."""
    if name == "gpt2":
        return F.cross_entropy(out[:, :-1].flatten(0, 1), inputs[0][:, 1:].flatten())
    return F.cross_entropy(out, targets)


def targets_for(name: str, model, inputs: tuple) -> torch.Tensor | None:
    with torch.no_grad():
        out = model.eval()(*inputs)
    model.train()
    if name == "gpt2":
        return None
    g = torch.Generator().manual_seed(1)
    if out.dim() == 4:  # segmentation: one class per pixel
        return torch.randint(0, out.shape[1], (out.shape[0], *out.shape[2:]), generator=g)
    return torch.randint(0, out.shape[1], (out.shape[0],), generator=g)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="vgg16", choices=sorted(ZOO))
    ap.add_argument("--budget", default="0.8", help="fraction of the baseline peak (0.6) or bytes (8MiB)")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--time-limit", type=float, default=20.0, help="solver time limit, seconds")
    ap.add_argument("--lr", type=float, default=0.01)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(max(1, torch.get_num_threads()))

    model, inputs = load(args.model)
    targets = targets_for(args.model, model, inputs)
    budget = float(args.budget) if args.budget.replace(".", "", 1).isdigit() else args.budget
    wrapped = moccasin.wrap(model, *inputs, budget=budget, time_limit=args.time_limit)
    print(wrapped.moccasin_report())

    opt = torch.optim.SGD(wrapped.parameters(), lr=args.lr, momentum=0.9)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # accumulate in place: the meter then sees activations only
    print(f"{'step':>4} {'loss':>10} {'peak MiB':>9} {'time ms':>8}")
    for step in range(args.steps):
        opt.zero_grad(set_to_none=False)
        start = time.perf_counter()
        with MemoryMeter() as meter:
            loss = loss_of(args.model, wrapped(*inputs), inputs, targets)
            loss.backward()
        elapsed = time.perf_counter() - start
        opt.step()
        print(f"{step:>4} {loss.item():>10.4f} {meter.peak / 2**20:>9.2f} {elapsed * 1000:>8.1f}")


if __name__ == "__main__":
    main()
