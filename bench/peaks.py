"""A peak-memory meter that also sees code compiled by ``torch.compile``.

:class:`moccasin.torch.measure.MemoryMeter` counts storages from a ``TorchDispatchMode``; code
compiled by dynamo does not run under it. This meter reads the CPU allocator instead, through
the profiler: with ``profile_memory=True`` every allocation and free that PyTorch's CPU
allocator serves while profiling is recorded (``c10::ProfiledCPUMemoryReporter``), with its
pointer, signed size and time. Sorting them by time and summing the sizes gives the live bytes
allocated inside the window at every moment; the peak of that running sum is the peak.

Only blocks allocated inside the window count: a free of a pointer allocated before it (a
leftover of the previous step) is skipped, as the allocator's reporter itself does (it warns
"Memory block of unknown size was allocated before the profiling started"; set
``TORCH_CPP_LOG_LEVEL=ERROR`` before importing torch to silence it). So parameters, buffers,
inputs and pre-allocated gradients are outside the number, as with MemoryMeter.

Differences from MemoryMeter (same code, same run; see ``python bench/peaks.py``):

- it sees every block of the CPU allocator, not only op outputs: temporary buffers inside
  kernels (convolution workspaces, the column buffers of the slow convolution path, scalar
  tensors wrapped from Python numbers, reduction scratch) add to it, so it reads a little
  higher, by the largest such temporary alive at the peak;
- it sees code compiled by dynamo / AOTAutograd and any thread the allocator serves;
- it counts requested bytes (the CPU allocator does not round), like ``nbytes()``.

Memory that does not come from PyTorch's CPU allocator (oneDNN's own scratchpads, Python
objects, malloc in third-party kernels) is invisible to both.

    python bench/peaks.py [MODEL...]   # validation against MemoryMeter on the zoo models
"""

from __future__ import annotations

import os

os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")

import torch  # noqa: E402
from torch._C._profiler import _EventType  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

__all__ = ["AllocatorMeter", "allocator_peak"]


def _walk(events):
    stack = list(events)
    while stack:
        e = stack.pop()
        yield e
        stack.extend(e.children)


class AllocatorMeter:
    """Context manager: peak bytes the CPU allocator held for blocks allocated inside it.

    After exit: ``peak`` (max of the running sum), ``current`` (bytes allocated inside and still
    alive at exit), ``allocations`` (blocks allocated), ``timeline`` (``(t_ns, running bytes)``
    after each event).

    >>> with AllocatorMeter() as m:            # doctest: +SKIP
    ...     model(x).sum().backward()
    >>> m.peak
    """

    def __init__(self):
        self.peak = 0
        self.current = 0
        self.allocations = 0
        self.timeline: list[tuple[int, int]] = []
        self._prof = None

    def __enter__(self):
        self._prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
        self._prof.__enter__()
        return self

    def __exit__(self, *exc):
        self._prof.__exit__(*exc)
        events = []
        for e in _walk(self._prof.profiler.kineto_results.experimental_event_tree()):
            if e.typed[0] == _EventType.Allocation:
                f = e.typed[1]
                if f.device.type == "cpu":
                    events.append((e.start_time_ns, f.alloc_size, f.ptr))
        events.sort(key=lambda x: x[0])
        live: dict[int, int] = {}
        cur = peak = 0
        for t, size, ptr in events:
            if size > 0:
                live[ptr] = live.get(ptr, 0) + size
                cur += size
                self.allocations += 1
            else:
                got = live.pop(ptr, None)
                if got is None:
                    continue  # allocated before the window
                cur -= got
            peak = max(peak, cur)
            self.timeline.append((t, cur))
        self.peak, self.current = peak, cur
        self._prof = None
        return False


def allocator_peak(fn, *args, **kwargs) -> int:
    """Peak allocator bytes (allocated inside) while ``fn(*args, **kwargs)`` runs."""
    with AllocatorMeter() as m:
        fn(*args, **kwargs)
    return m.peak


def both_peaks(step) -> tuple[int, int]:
    """(allocator peak, MemoryMeter peak) of one call of ``step``, both meters in the same run."""
    from moccasin.torch.measure import MemoryMeter

    with MemoryMeter() as mm, AllocatorMeter() as am:
        step()
    return am.peak, mm.peak


def _validate(names, budgets=(None, 0.6)):
    """Both meters on eager steps and on moccasin.wrap'ed steps of the zoo models."""
    import copy
    import sys

    sys.path.insert(0, os.path.dirname(__file__))
    import moccasin
    from baselines import prepare, preallocate_grads
    from moccasin.torch.wrap import PlanError

    mib = 2**20
    print("| model | variant | allocator peak MiB | MemoryMeter peak MiB | difference MiB | ratio |")
    print("|---|---|---|---|---|---|")
    for name in names:
        model, inputs = prepare(name)
        for b in budgets:
            m = copy.deepcopy(model)
            if b is None:
                fwd, label = m, "eager"
            else:
                try:
                    fwd = moccasin.wrap(m, *inputs, budget=b, time_limit=5)
                except PlanError:
                    print(f"| {name} | moccasin {b} | no plan | | | |")
                    continue
                label = f"moccasin.wrap {b}"
            preallocate_grads(m)

            def step():
                fwd(*inputs).backward()

            step()
            a, d = both_peaks(step)
            a2 = allocator_peak(step)
            print(f"| {name} | {label} | {a / mib:.3f} (alone: {a2 / mib:.3f}) | {d / mib:.3f} | {(a - d) / mib:+.3f} | {a / d:.4f} |",
                  flush=True)


if __name__ == "__main__":
    import sys

    from moccasin.torch.zoo import ZOO

    _validate(sys.argv[1:] or list(ZOO))
