"""Drop redundant recomputations: one pass over a schedule within the budget, costliest first.

Peak shaving adds recomputations one peak at a time; later moves often make earlier ones
unnecessary. Removing a recomputation of ``x`` at step ``k`` keeps the schedule valid (its
readers fall back to the previous instance of ``x``) and keeps a stage-structured schedule
stage-structured. Memory changes only between the previous instance's last read and ``k``,
where that instance now stays (``+ram[x]``); from ``k`` on the previous instance replaces the
removed one, and the inputs' instances read by step ``k`` may end earlier (ignored: an upper
estimate). A removal is kept when the estimate stays within the budget.
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
    last_read = list(sim.last_read)
    ram, cost = problem.ram, problem.cost
    made: list[list[int]] = [[] for _ in range(problem.n)]  # kept steps computing each node
    for k, v in enumerate(sequence):
        made[v].append(k)
    candidates = [k for steps in made for k in steps[1:]]
    candidates.sort(key=lambda k: -cost[sequence[k]])
    dropped = set()
    for k in candidates:
        x = sequence[k]
        steps = made[x]
        pos = bisect_left(steps, k)
        prev = steps[pos - 1]  # the first computation is never dropped
        lo = last_read[prev] + 1 if last_read[k] > k else k  # unread: nothing moves
        if lo < k and max(memory[lo:k]) + ram[x] > budget:
            continue
        for j in range(lo, k):
            memory[j] += ram[x]
        last_read[prev] = max(last_read[prev], last_read[k])
        del steps[pos]
        dropped.add(k)
    if not dropped:
        return sequence
    out = [v for k, v in enumerate(sequence) if k not in dropped]
    return out if simulate_indices(problem, out).peak <= budget else sequence
