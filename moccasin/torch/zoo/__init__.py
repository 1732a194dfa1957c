"""Models written in the project for tracing, planning and measuring training steps.

Every factory is ``name(batch=..., <size options>, seed=0) -> (model, example_inputs)``:
the model in training mode, built deterministically from ``seed`` (the global RNG is left
as it was), and a tuple of inputs at a small default size whose forward+backward takes
well under a second on a 2-core CPU (25-150 ms, bench/results/eager_peaks.md).
Each module's docstring says what was scaled down.
Image models return logits ``(batch, classes)`` (U-Net: ``(batch, classes, H, W)``); GPT-2
returns ``(batch, seq, vocab)``; ``out.sum()`` or a cross-entropy over them is a loss.
"""

from __future__ import annotations

from moccasin.torch.zoo.gpt2 import gpt2
from moccasin.torch.zoo.mobilenet import mobilenet_v2
from moccasin.torch.zoo.resnet import resnet18, resnet50
from moccasin.torch.zoo.unet import unet
from moccasin.torch.zoo.vgg import vgg16

ZOO = {
    "resnet18": resnet18,
    "resnet50": resnet50,
    "mobilenet_v2": mobilenet_v2,
    "vgg16": vgg16,
    "unet": unet,
    "gpt2": gpt2,
}

__all__ = ["ZOO", "load", *ZOO]


def load(name: str, **kw):
    """``ZOO[name](**kw)``: a model and its example inputs; ValueError for unknown names."""
    try:
        factory = ZOO[name]
    except KeyError:
        raise ValueError(f"unknown zoo model {name!r}; known: {', '.join(ZOO)}") from None
    return factory(**kw)
