"""Drop redundant recomputations: one pass over a schedule within the budget, costliest first.

Peak shaving adds recomputations one peak at a time; later moves often make earlier ones
unnecessary. Removing a recomputation of ``x`` at step ``k`` keeps the schedule valid (its
readers fall back to the previous instance of ``x``) and keeps a stage-structured schedule
stage-structured. Memory changes only between the previous instance's last read and ``k``,
where that instance now stays (``+ram[x]``), and for inputs whose instance step ``k`` read
last, which now end at their previous read (``-ram[p]`` up to ``k``); from ``k`` on the previous
instance replaces the removed one. Step ``k``'s own memory is kept as it was (an upper
estimate). A removal is kept when the estimate stays within the budget. :func:`prune_unread`
removes recomputations no step reads at all (memory only goes down).
"""

from __future__ import annotations

from bisect import bisect_left

from moccasin.graph.problem import Problem
from moccasin.schedule.simulator import simulate_indices


def drop_redundant(problem: Problem, budget: int, sequence: list[int], passes: int = 8) -> list[int]:
    """``sequence`` (within ``budget``) without the recomputations it does not need: passes
    until one drops nothing (each re-simulates, so memory the last one freed counts)."""
    for _ in range(passes):
        out = _one_pass(problem, budget, sequence)
        if len(out) == len(sequence):
            break
        sequence = out
    return sequence


def _one_pass(problem: Problem, budget: int, sequence: list[int]) -> list[int]:
    """One pass; the result is re-simulated and ``sequence`` itself returned if it were over
    the budget."""
    sim = simulate_indices(problem, sequence)
    if sim.peak > budget:
        return sequence
    memory = list(sim.memory)
    ram, cost, preds = problem.ram, problem.cost, problem.preds
    made: list[list[int]] = [[] for _ in range(problem.n)]  # kept steps computing each node
    reads: list[list[int]] = [[] for _ in sequence]  # kept steps reading each instance
    for k, v in enumerate(sequence):
        for p in preds[v]:
            reads[made[p][-1]].append(k)
        made[v].append(k)
    candidates = [k for steps in made for k in steps[1:]]
    candidates.sort(key=lambda k: -cost[sequence[k]])
    dropped = set()
    for k in candidates:
        x = sequence[k]
        steps = made[x]
        pos = bisect_left(steps, k)
        prev = steps[pos - 1]  # the first computation is never dropped
        last_prev = reads[prev][-1] if reads[prev] else prev
        lo = last_prev + 1 if reads[k] else k  # unread: nothing moves
        # Inputs whose instance step k reads last: they end at their previous read instead.
        freed = []
        for p in preds[x]:
            inst = made[p][bisect_left(made[p], k) - 1]
            r = reads[inst]
            if r[-1] == k:
                freed.append((inst, r[-2] if len(r) > 1 else inst, ram[p]))
        if lo < k:
            window = memory[lo:k]
            for _, end, size in freed:
                for j in range(max(lo, end + 1), k):
                    window[j - lo] -= size
            if max(window) + ram[x] > budget:
                continue
        for j in range(lo, k):
            memory[j] += ram[x]
        for _, end, size in freed:
            for j in range(end + 1, k):
                memory[j] -= size
        for p in preds[x]:
            inst = made[p][bisect_left(made[p], k) - 1]
            reads[inst].remove(k)
        reads[prev].extend(reads[k])
        reads[k] = []
        del steps[pos]
        dropped.add(k)
    if not dropped:
        return sequence
    out = [v for k, v in enumerate(sequence) if k not in dropped]
    return out if simulate_indices(problem, out).peak <= budget else sequence


def prune_unread(problem: Problem, seq: list[int]) -> list[int]:
    """Drop recomputations whose output nobody reads (repeatedly); first computations stay."""
    while True:
        sim = simulate_indices(problem, seq)
        seen: set[int] = set()
        keep = []
        for i, v in enumerate(seq):
            first = v not in seen
            seen.add(v)
            if first or sim.last_read[i] > i:
                keep.append(v)
        if len(keep) == len(seq):
            return seq
        seq = keep
