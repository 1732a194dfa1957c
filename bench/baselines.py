"""PyTorch's own ways to trade time for memory, built for the zoo models as training steps.

Every model is wrapped with its loss (:func:`prepare`), so one training step is
``module(*inputs).backward()`` for every method alike, and the loss's tensors are inside
every measurement and inside Moccasin's plan. Each builder returns a :class:`Variant`: the
module whose parameters get the gradients and a zero-argument ``step``.

- ``eager``: a copy of the model as it is.
- ``checkpoint per block`` / ``checkpoint sqrt(n) segments``: ``torch.utils.checkpoint``
  (``use_reentrant=False``) around each block, or around ``ceil(sqrt(n))`` consecutive blocks
  (blocks as in ``bench/train_step.py``'s ``blocks_of``: ResNet stages, MobileNet/VGG feature
  layers, GPT-2 transformer blocks, U-Net encoder and decoder double-convs; U-Net has skip
  connections, so no segments). VGG-16's feature layers are single Conv2d / ReLU(inplace=True)
  / MaxPool2d modules; a ReLU that modifies its checkpointed input in place makes the backward
  fail ("modified by an inplace operation"), so the checkpointed copy of VGG-16 gets
  out-of-place ReLUs, which is what a user would do.
- ``compile amb=B``: ``torch.compile(model, backend="aot_eager")`` with
  ``torch._functorch.config.activation_memory_budget = B`` while it compiles. Each budget gets
  a fresh copy and its own backend object: dynamo guards compiled code on the backend, so a copy
  compiled at another budget cannot reuse it, and the config is patched inside the backend
  call, so the budget is the one in force whenever (re)compilation happens. The number of
  compilations is checked.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from moccasin.torch.zoo import load

AMB_BUDGETS = (1.0, 0.8, 0.6, 0.4, 0.2, 0.0)


class LMWithLoss(nn.Module):
    """A language model and its next-token loss as one module (as in bench/train_step.py)."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, tokens):
        out = self.lm(tokens)
        return F.cross_entropy(out[:, :-1].flatten(0, 1), tokens[:, 1:].flatten())


class WithLoss(nn.Module):
    """A classifier (or segmenter) and its cross-entropy against fixed targets (a buffer)."""

    def __init__(self, net, targets):
        super().__init__()
        self.net = net
        self.register_buffer("targets", targets, persistent=False)

    def forward(self, x):
        return F.cross_entropy(self.net(x), self.targets)


def prepare(name: str):
    """(module returning the loss, inputs) for zoo model ``name``; targets seeded."""
    model, inputs = load(name)
    if name == "gpt2":
        return LMWithLoss(model), inputs
    with torch.no_grad():
        out = copy.deepcopy(model).eval()(*inputs)
    g = torch.Generator().manual_seed(1)
    if out.dim() == 4:
        targets = torch.randint(0, out.shape[1], (out.shape[0], *out.shape[2:]), generator=g)
    else:
        targets = torch.randint(0, out.shape[1], (out.shape[0],), generator=g)
    return WithLoss(model, targets), inputs


def inner(module):
    return module.lm if isinstance(module, LMWithLoss) else module.net


def blocks_of(name, module):
    """The model's repeated blocks, in the order its forward chains them; (blocks, is_chain)."""
    model = inner(module)
    if name.startswith("resnet"):
        return list(model.stages), True
    if name in ("mobilenet_v2", "vgg16"):
        return list(model.features), True
    if name == "gpt2":
        return list(model.blocks), True
    if name == "unet":
        return list(model.down) + list(model.up_conv), False  # skip connections: not a chain
    raise ValueError(name)


def preallocate_grads(module):
    """Zero gradients for every parameter, so the backward accumulates in place."""
    for p in module.parameters():
        if p.requires_grad:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            else:
                p.grad.zero_()


@dataclass
class Variant:
    label: str
    module: nn.Module  #: owns the parameters that receive gradients
    fwd: Callable  #: fwd(*inputs) -> loss
    inputs: tuple
    note: str = ""
    info: dict = field(default_factory=dict)

    def step(self):
        self.fwd(*self.inputs).backward()


def eager(name, module, inputs) -> Variant:
    m = copy.deepcopy(module)
    return Variant("eager", m, m, inputs)


def out_of_place_relus(module) -> int:
    """Replace every ReLU/ReLU6(inplace=True) by an out-of-place one; returns how many."""
    n = 0
    for m in module.modules():
        if isinstance(m, (nn.ReLU, nn.ReLU6)) and m.inplace:
            m.inplace = False
            n += 1
    return n


def checkpointed(name, module, inputs, segments: bool) -> Variant | None:
    """A copy with torch.utils.checkpoint per block, or over ceil(sqrt(n)) segments of blocks."""
    m = copy.deepcopy(module)
    note = ""
    if name == "vgg16":
        n = out_of_place_relus(m)
        note = f"{n} in-place ReLUs made out-of-place in this copy"
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
    label = "checkpoint sqrt(n) segments" if segments else "checkpoint per block"
    what = f"{len(blocks)} blocks" + (f" in {math.ceil(len(blocks) / size)} segments of {size}" if segments else "")
    return Variant(label, m, m, inputs, note=(what + ("; " + note if note else "")))


class _BudgetBackend:
    """``aot_eager`` compiled with ``activation_memory_budget`` patched to ``budget``."""

    def __init__(self, budget):
        self.budget = budget
        self.compilations = 0

    def __call__(self, gm, example_inputs):
        from torch._dynamo.backends.registry import lookup_backend

        self.compilations += 1
        with torch._functorch.config.patch(activation_memory_budget=self.budget):
            return lookup_backend("aot_eager")(gm, example_inputs)


def compiled(name, module, inputs, budget: float) -> Variant:
    """``torch.compile(copy, backend="aot_eager")`` at ``activation_memory_budget=budget``."""
    m = copy.deepcopy(module)
    backend = _BudgetBackend(budget)
    c = torch.compile(m, backend=backend)
    v = Variant(f"compile amb={budget:g}", m, c, inputs, info={"backend": backend})
    return v


def all_variants(name, module, inputs, budgets=AMB_BUDGETS):
    """Eager, the two checkpoint variants (where they apply) and compile at each budget."""
    out = [eager(name, module, inputs)]
    for seg in (False, True):
        v = checkpointed(name, module, inputs, seg)
        if v is not None:
            out.append(v)
    out += [compiled(name, module, inputs, b) for b in budgets]
    return out


def grads_after_step(module, fwd, inputs, seed=100):
    """Gradients of one step from zero (``.grad`` pre-allocated), same seed for dropout."""
    preallocate_grads(module)
    torch.manual_seed(seed)
    fwd(*inputs).backward()
    return [p.grad.clone() for p in module.parameters()]


def max_grad_diff(ref_grads, grads) -> float:
    return max(((a.double() - b.double()).abs().max().item() for a, b in zip(ref_grads, grads)), default=0.0)
