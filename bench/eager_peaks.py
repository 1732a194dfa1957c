"""Eager PyTorch's training-step memory peak and time for every zoo model (CPU).

For each model at its zoo default size: forward, a cross-entropy loss, backward, with
parameter gradients pre-allocated (so accumulation is in place and the peak is activations,
gradient temporaries and workspace tensors, not the gradients themselves). Reported:
parameter bytes, live bytes after the loss (what the forward keeps for the backward), the
forward peak and the whole step's peak (``moccasin.torch.measure_peak``'s meter), and the
median step time of ``--repeats`` runs after one warm-up step.

    python bench/eager_peaks.py [-o bench/results/eager_peaks.md] [--models resnet18 gpt2]
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time

import torch
from torch.nn import functional as F

from moccasin.torch import MemoryMeter
from moccasin.torch.zoo import ZOO, load

MiB = 1 << 20


def make_loss(name, out_shape, inputs, seed=0):
    """A cross-entropy loss function for the model's output, with fixed random targets."""
    gen = torch.Generator().manual_seed(seed)
    if name == "gpt2":
        (tokens,) = inputs
        vocab = out_shape[-1]
        return lambda out: F.cross_entropy(out[:, :-1].reshape(-1, vocab), tokens[:, 1:].reshape(-1))
    classes = out_shape[1]
    target = torch.randint(classes, (out_shape[0], *out_shape[2:]), generator=gen)
    return lambda out: F.cross_entropy(out, target)


def bench_model(name, repeats):
    model, inputs = load(name)
    torch.manual_seed(0)
    with torch.no_grad():
        out_shape = tuple(model(*inputs).shape)
    loss_fn = make_loss(name, out_shape, inputs)
    params = list(model.parameters())
    for p in params:
        p.grad = torch.zeros_like(p)

    def step():
        loss = loss_fn(model(*inputs))
        loss.backward()

    step()  # warm-up: one-time kernel and allocator setup stays out of the numbers
    with MemoryMeter() as meter:
        loss = loss_fn(model(*inputs))
        saved, fwd_peak = meter.current, meter.peak
        loss.backward()
        del loss
    times = []
    for _ in range(repeats):
        for p in params:
            p.grad.zero_()
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    assert meter.current == 0, f"{name}: {meter.current} bytes still alive after the step"
    return {
        "name": name,
        "params": sum(p.numel() * p.element_size() for p in params),
        "inputs": ", ".join(f"{tuple(x.shape)} {str(x.dtype).removeprefix('torch.')}" for x in inputs),
        "saved": saved,
        "fwd_peak": fwd_peak,
        "peak": meter.peak,
        "left": meter.current,
        "time": statistics.median(times),
        "time_min": min(times),
    }


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{os.cpu_count()}-core CPU ({cpu}), torch {torch.__version__} with "
            f"{torch.get_num_threads()} threads, Python {platform.python_version()}, {platform.system()}")


def render(rows, command, repeats):
    lines = [
        "# Eager PyTorch training-step peaks (zoo models, CPU)",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine()}.",
        "",
        "One step = forward, cross-entropy loss (fixed random targets; GPT-2: next-token), backward,",
        "with parameter gradients pre-allocated (accumulated in place, so not counted). Memory is",
        "live tensor bytes created during the step, each storage counted once (`MemoryMeter` /",
        "`measure_peak` in `moccasin/torch/measure.py`); parameters, buffers and inputs are",
        f"outside it. Time is the median (and minimum) of {repeats} steps after one warm-up step;",
        "the machine is shared, so times move by several x between runs while the peaks, which",
        "are deterministic, do not.",
        "",
        "| model | input | params MiB | saved after forward MiB | forward peak MiB | step peak MiB | step peak bytes | peak in | step time ms, median (min) |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['inputs']} | {r['params'] / MiB:.2f} | {r['saved'] / MiB:.2f} | "
            f"{r['fwd_peak'] / MiB:.2f} | {r['peak'] / MiB:.2f} | {r['peak']} | {'forward' if r['fwd_peak'] == r['peak'] else 'backward'} | {r['time'] * 1e3:.0f} ({r['time_min'] * 1e3:.0f}) |"
        )
    lines += [
        "",
        "\"Saved after forward\" is what is alive once the loss exists: the activations autograd",
        "keeps for the backward (plus the loss). A backward peak has the saved activations not yet",
        "released, the gradient flowing back and one layer's fresh parameter gradients alive together;",
        "at these small inputs the weight gradient of the largest layer weighs a lot (a 512x512 3x3",
        "conv is 9 MiB in ResNet-18 and VGG-16). GPT-2 peaks in the forward, at the loss: logits and",
        "their log-softmax are alive beside all saved activations. Sizes are the zoo defaults (see",
        "each model's docstring).",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=list(ZOO), choices=list(ZOO))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("-o", "--output", default=os.path.join(os.path.dirname(__file__), "results", "eager_peaks.md"))
    args = ap.parse_args(argv)
    rows = []
    for name in args.models:
        r = bench_model(name, args.repeats)
        print(f"{name:13s} params {r['params'] / MiB:7.2f} MiB  saved {r['saved'] / MiB:7.2f} MiB  "
              f"peak {r['peak'] / MiB:7.2f} MiB  step {r['time'] * 1e3:6.0f} ms", flush=True)
        rows.append(r)
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__), *(argv if argv is not None else sys.argv[1:])])
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        f.write(render(rows, command, args.repeats))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
