"""Peak shaving: start from the baseline and add recomputations until the peak fits.

Each round simulates the schedule, takes the step of peak memory and, among the outputs held
across it only for a later read, recomputes the one with the best cost per byte freed at the
peak, just before that read (in its stage, so the schedule stays stage-structured). An input
of the recomputation whose lifetime would newly cross the peak is recomputed too, recursively.
"""

from __future__ import annotations

from bisect import bisect_left, insort

from moccasin.graph.problem import Problem
from moccasin.schedule.simulator import simulate_indices
from moccasin.schedule.stages import join_stages


def shave(problem: Problem, budget: int, cap: int | None = None, max_rounds: int | None = None) -> list[int] | None:
    """A stage-structured schedule within ``budget``, or None when shaving gets stuck.

    ``cap`` bounds the computations of each node (None: unbounded).
    """
    n, ram, cost, preds = problem.n, problem.ram, problem.cost, problem.preds
    stages: list[list[int]] = [[s] for s in range(n)]
    count = [1] * n
    rounds = max_rounds if max_rounds is not None else 20 * n + 100
    for _ in range(rounds):
        seq = join_stages(stages)
        sim = simulate_indices(problem, seq)
        if sim.peak <= budget:
            return seq
        j = sim.memory.index(sim.peak)
        stage_at = [s for s, stage in enumerate(stages) for _ in stage]
        made: list[list[int]] = [[] for _ in range(n)]  # steps computing each node
        for k, v in enumerate(seq):
            made[v].append(k)
        last_read = sim.last_read
        reads_at_j = set(preds[seq[j]])

        def newest_before(p: int, q: int) -> int:
            """Step of the newest instance of ``p`` before step ``q``."""
            steps = made[p]
            return steps[bisect_left(steps, q) - 1]

        def insertion_step(t: int, x: int) -> int:
            """Step index where ``x`` would be inserted into stage ``t``."""
            first = stage_at.index(t) if t < n else len(seq)
            return first + bisect_left(stages[t], x)

        best = None
        for i in range(j):
            u = seq[i]
            if last_read[i] <= j or u in reads_at_j or problem.pinned[u]:
                continue  # not held across j, or read at j itself
            # The next read of this instance after j: the first step after j reading u.
            r = next(k for k in range(j + 1, last_read[i] + 1) if u in preds[seq[k]])
            t = stage_at[r]
            if t == stage_at[j] and u <= seq[j]:
                continue  # the recomputation would land before the peak step
            # Plan the recomputation of u in stage t, recursively recomputing inputs whose
            # lifetime would otherwise be stretched across the peak.
            plan, extra_mem, ok = [], 0, True
            todo, seen = [u], {u}
            while todo and ok:
                x = todo.pop()
                if x in stages[t] or (cap is not None and count[x] >= cap) or problem.pinned[x]:
                    ok = False
                    break
                plan.append(x)
                q = insertion_step(t, x)
                for p in preds[x]:
                    if p in seen:
                        continue
                    k = newest_before(p, q)
                    if k >= j or last_read[k] >= j:
                        continue  # reading this instance later stretches nothing across j
                    if t == stage_at[j] and p <= seq[j]:
                        extra_mem += ram[p]  # cannot recompute after j in this stage: stretch
                        continue
                    seen.add(p)
                    todo.append(p)
            if not ok:
                continue
            gain = ram[u] - extra_mem
            if gain <= 0:
                continue
            dcost = sum(cost[x] for x in plan)
            key = (dcost / gain, -gain)
            if best is None or key < best[0]:
                best = (key, t, plan)
        if best is None:
            return None
        _, t, plan = best
        for x in plan:
            insort(stages[t], x)
            count[x] += 1
    return None
