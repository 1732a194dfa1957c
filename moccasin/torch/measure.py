"""Peak live-tensor memory of a piece of eager PyTorch code on CPU.

PyTorch 2.13 keeps no allocator statistics for CPU tensors, so this module counts
storages itself: a ``TorchDispatchMode`` sees the outputs of every ATen op (forward and
backward alike, the autograd engine carries the mode into its threads), adds the bytes of
each storage it has not seen before, and hangs a ``weakref.finalize`` on that storage which
subtracts the bytes when PyTorch frees it. The result is the quantity the planner models:
bytes of tensors created while the code runs and still alive, counted once per storage.

Caveats:

- Only tensors created inside the meter count. Parameters, inputs and anything allocated
  before entering are outside it; views of them and in-place updates of them add nothing.
- A parameter whose ``.grad`` is ``None`` receives the backward's gradient tensor itself,
  which stays alive and counts. To measure activations only, pre-allocate gradients
  (``p.grad = torch.zeros_like(p)`` before entering): accumulation is then in place.
- Code compiled by dynamo (``torch.compile``) bypasses dispatch modes and is not seen.
  Code from ``aot_module`` / ``aot_function`` with an eager backend runs under it.
- Storages are counted at their ``nbytes()``: allocator rounding, workspace buffers inside
  kernels (e.g. oneDNN scratch) and Python objects are invisible.
- Tensors created outside the ATen dispatcher (``torch.tensor`` from Python data,
  ``torch.from_numpy``) are not seen.
- After the meter exits, ``current`` keeps falling as counted tensors are freed (useful to
  see what a step left alive); ``peak`` no longer changes.
"""

from __future__ import annotations

import threading
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

__all__ = ["MemoryMeter", "measure_peak"]


def _storages(tree):
    """Untyped storages of the real (non-meta) tensors in a pytree of op arguments/outputs."""
    out = []
    for x in tree_flatten(tree)[0]:
        if isinstance(x, torch.Tensor) and x.device.type != "meta":
            out.append(x.untyped_storage())
    return out


class MemoryMeter(TorchDispatchMode):
    """Context manager: live bytes of storages created inside it.

    ``current`` is the bytes alive now, ``peak`` the maximum reached while active,
    ``allocations`` the number of distinct storages counted.

    >>> with MemoryMeter() as m:            # doctest: +SKIP
    ...     loss = model(x).sum(); loss.backward()
    >>> m.peak
    """

    def __init__(self):
        super().__init__()
        self.current = 0
        self.peak = 0
        self.allocations = 0
        self._sizes: dict[int, int] = {}  # storage cdata -> bytes counted for it
        # Reentrant: a garbage collection inside _track may run _free on the same thread.
        self._lock = threading.RLock()
        self._active = False

    def __enter__(self):
        self._active = True
        return super().__enter__()

    def __exit__(self, *exc):
        self._active = False
        return super().__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = {s._cdata for s in _storages((args, kwargs))}
        for s in _storages(out):
            self._track(s, inputs)
        return out

    def _track(self, storage, input_cdatas):
        key = storage._cdata
        nbytes = storage.nbytes()
        with self._lock:
            if key in self._sizes:
                # Already counted (view or in-place result); a resize_ may have grown it.
                delta = nbytes - self._sizes[key]
                if delta > 0:
                    self._sizes[key] = nbytes
                    self._add(delta)
                return
            if key in input_cdatas:
                return  # alias of a tensor that existed before the meter: not ours
            self._sizes[key] = nbytes
            self.allocations += 1
            self._add(nbytes)
        fin = weakref.finalize(storage, self._free, key)
        fin.atexit = False

    def _add(self, nbytes):
        self.current += nbytes
        if self._active and self.current > self.peak:
            self.peak = self.current

    def _free(self, key):
        with self._lock:
            self.current -= self._sizes.pop(key, 0)


def measure_peak(fn, *args, **kwargs) -> int:
    """Peak live-tensor bytes while ``fn(*args, **kwargs)`` runs (see the module caveats).

    Counts tensors created during the call, forward and backward alike; the return value
    of ``fn`` is dropped only after measuring, so whatever it returns counts at its peak.
    """
    with MemoryMeter() as meter:
        fn(*args, **kwargs)
    return meter.peak
