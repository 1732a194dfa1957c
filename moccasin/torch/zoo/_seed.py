"""Deterministic construction: build a model and its inputs from a seed, leaving torch's
global RNG state as it was."""

from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def seeded(seed: int):
    """Run the block with ``torch.manual_seed(seed)`` and restore the RNG state afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def image_batch(batch: int, image: int, channels: int = 3) -> torch.Tensor:
    """A random NCHW float32 batch (call inside ``seeded``)."""
    return torch.randn(batch, channels, image, image)
