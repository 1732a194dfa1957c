"""Check the tracer against reality: predicted baseline peak vs measured live-tensor peak.

For each model: trace one training step, let the simulator predict the baseline peak (graph
order, no recomputation), then run the same joint graph node by node in that order on real
tensors, freeing each value after its last use, under a live-tensor meter; eager PyTorch's
peak (forward + backward) is shown beside it. Peaks exclude resident tensors (parameters,
buffers, inputs, tangents), which exist before the step.

    python bench/trace_check.py                      # the built-in small models
    python bench/trace_check.py resnet18 gpt2        # zoo factories, once moccasin.torch.zoo exists
    python bench/trace_check.py --json
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from moccasin.graph.problem import Problem
from moccasin.schedule.simulator import baseline
from moccasin.torch import trace_step
from moccasin.torch.execute import run_graph


def _meter():
    """measure_peak from moccasin.torch.measure when it exists, else the tracer's private meter."""
    try:
        return importlib.import_module("moccasin.torch.measure").measure_peak
    except ImportError:
        from moccasin.torch._livemeter import live_peak

        return live_peak


class MLP(nn.Module):
    """Four Linear layers with ReLU and tanh; the loss is the mean of the logits' logsumexp."""

    def __init__(self, d_in=512, width=1024, d_out=10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_in, width), nn.ReLU(), nn.Linear(width, width), nn.Tanh(),
            nn.Linear(width, width), nn.ReLU(), nn.Linear(width, d_out),
        )

    def forward(self, x):
        return self.net(x).logsumexp(-1).mean()


class ConvBN(nn.Module):
    """A small conv net with BatchNorm, max-pooling, an in-place ReLU and dropout."""

    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(64, classes))

    def forward(self, x, y):
        return F.cross_entropy(self.head(self.features(x)), y)


class Block(nn.Module):
    """Pre-norm transformer block: causal self-attention and a GELU MLP, residual in place."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(b, t, d)))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class TinyGPT(nn.Module):
    """Token and position embeddings, two blocks, an output layer tied to the token embedding."""

    def __init__(self, vocab=512, d=128, heads=4, layers=2, ctx=64):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.tok.weight  # tied

    def forward(self, idx, targets):
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1]))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln(x))
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def hf_gpt2():
    """Hugging Face's GPT-2 (tied output layer) built from a small config: code we did not write."""
    try:
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError:
        sys.exit("trace_check: hf_gpt2 needs transformers (pip install transformers)")

    class LMLoss(nn.Module):
        def __init__(self):
            super().__init__()
            config = GPT2Config(n_layer=2, n_embd=128, n_head=4, vocab_size=1000, n_positions=128, loss_type="ForCausalLM")
            self.lm = GPT2LMHeadModel(config)

        def forward(self, idx):
            return self.lm(input_ids=idx, labels=idx).loss

    return LMLoss(), (torch.randint(0, 1000, (4, 64)),)


BUILTIN = {
    "mlp": lambda: (MLP(), (torch.randn(256, 512),)),
    "convbn": lambda: (ConvBN(), (torch.randn(16, 3, 64, 64), torch.randint(0, 10, (16,)))),
    "tinygpt": lambda: (TinyGPT(), (torch.randint(0, 512, (8, 64)), torch.randint(0, 512, (8, 64)))),
    "hf_gpt2": hf_gpt2,
}
DEFAULT = ["mlp", "convbn", "tinygpt"]


def build(name: str):
    """A built-in model, or ``moccasin.torch.zoo.<name>()`` (a factory returning model, inputs)."""
    if name in BUILTIN:
        return BUILTIN[name]()
    try:
        zoo = importlib.import_module("moccasin.torch.zoo")
    except ImportError:
        sys.exit(f"trace_check: unknown model {name!r} (built in: {', '.join(BUILTIN)}; no moccasin.torch.zoo yet)")
    factory = getattr(zoo, name, None)
    if factory is None:
        sys.exit(f"trace_check: moccasin.torch.zoo has no factory {name!r}")
    model, inputs = factory()
    return model, tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)


def check(name: str) -> dict:
    """Trace ``name``, predict its baseline peak, measure the same step and eager PyTorch."""
    torch.manual_seed(0)
    model, inputs = build(name)
    measure = _meter()
    started = time.perf_counter()
    step = trace_step(model, *inputs, name=name)
    trace_s = time.perf_counter() - started
    predicted = baseline(Problem.from_graph(step.graph)).peak
    values = step.placeholder_values(model, *inputs)
    measured = measure(lambda: run_graph(step.gm, values))

    def eager():
        out = model(*inputs)
        out.backward(torch.ones_like(out))

    model.zero_grad(set_to_none=True)
    eager_peak = measure(eager)
    model.zero_grad(set_to_none=True)
    return {
        "model": name, "nodes": step.graph.number_of_nodes(), "trace_s": round(trace_s, 2),
        "predicted": predicted, "measured": measured, "eager": eager_peak,
        "ratio": round(predicted / measured, 4) if measured else None,
        "resident": step.graph.graph["resident_bytes"],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=DEFAULT, help=f"built-in ({', '.join(BUILTIN)}) or zoo factory names")
    parser.add_argument("--json", action="store_true", help="print one JSON object per model")
    args = parser.parse_args(argv)
    rows = [check(name) for name in args.models]
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    mib = 2**20
    print(f"| model | nodes | trace s | predicted MiB | measured MiB | eager MiB | predicted/measured | resident MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | {r['nodes']} | {r['trace_s']} | {r['predicted'] / mib:.3f} | {r['measured'] / mib:.3f} "
              f"| {r['eager'] / mib:.3f} | {r['ratio']} | {r['resident'] / mib:.3f} |")
    return 0 if all(r["ratio"] is not None and abs(r["ratio"] - 1) <= 0.10 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
