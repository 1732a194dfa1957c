"""A minimal live-tensor meter for the tracer's own checks (``moccasin.torch.measure`` is the public one).

A TorchDispatchMode adds the bytes of every new output storage and a ``weakref.finalize`` on
the storage subtracts them when it is freed; tensors that existed before do not count.
"""

from __future__ import annotations

import weakref

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class LiveMeter(TorchDispatchMode):
    """Tracks live bytes of storages created while active; ``peak`` is the maximum seen."""

    def __init__(self):
        super().__init__()
        self.live = 0
        self.peak = 0
        self._seen: set[StorageWeakRef] = set()

    def _release(self, key: StorageWeakRef, nbytes: int) -> None:
        self.live -= nbytes
        self._seen.discard(key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.device.type != "meta":
                storage = t.untyped_storage()
                key = StorageWeakRef(storage)
                if key in self._seen:
                    continue
                if any(isinstance(a, torch.Tensor) and StorageWeakRef(a.untyped_storage()) == key
                       for a in tree_leaves((args, kwargs))):
                    continue  # a view or in-place result of an input
                nbytes = storage.nbytes()
                self._seen.add(key)
                self.live += nbytes
                self.peak = max(self.peak, self.live)
                weakref.finalize(storage, self._release, key, nbytes)
        return out


def live_peak(fn) -> int:
    """Peak bytes of tensors created and alive while ``fn()`` runs."""
    with LiveMeter() as meter:
        fn()
    return meter.peak
