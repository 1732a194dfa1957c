"""Peak shaving: start from the baseline and add recomputations until the peak fits.

Each round simulates the schedule, takes the step of peak memory and, among the outputs held
across it only for a later read, recomputes the one with the best cost per byte freed at the
peak, just before that read (in its stage, so the schedule stays stage-structured). An input
of the recomputation whose lifetime would newly cross the peak is recomputed too, recursively.
"""

from __future__ import annotations

import logging
from bisect import bisect_left, insort

from moccasin.graph.problem import Problem
from moccasin.schedule.simulator import simulate_indices
from moccasin.schedule.stages import join_stages

log = logging.getLogger("moccasin.shaving")

#: Most nodes one recomputation may pull in (the node and the inputs it must recompute).
MAX_PLAN = 64


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
        stage_at, stage_first = [], []
        for t, stage in enumerate(stages):
            stage_first.append(len(stage_at))
            stage_at.extend([t] * len(stage))
        made: list[list[int]] = [[] for _ in range(n)]  # steps computing each node
        newest = [-1] * n
        next_read_after_j = {}  # instance step -> its first read after step j
        for k, v in enumerate(seq):
            if k > j:
                for p in preds[v]:
                    next_read_after_j.setdefault(newest[p], k)
            made[v].append(k)
            newest[v] = k
        last_read = sim.last_read
        reads_at_j = set(preds[seq[j]])

        def newest_before(p: int, q: int) -> int:
            """Step of the newest instance of ``p`` before step ``q``."""
            steps = made[p]
            return steps[bisect_left(steps, q) - 1]

        def insertion_step(t: int, x: int) -> int:
            """Step index where ``x`` would be inserted into stage ``t``."""
            return stage_first[t] + bisect_left(stages[t], x)

        best = None
        for i in range(j):
            u = seq[i]
            if last_read[i] <= j or u in reads_at_j or problem.pinned[u] or not ram[u]:
                continue  # not held across j, or read at j itself
            # The next read of this instance after j: the first step after j reading u.
            r = next_read_after_j[i]
            t = stage_at[r]
            if t == stage_at[j] and u <= seq[j]:
                continue  # the recomputation would land before the peak step
            # Plan the recomputation of u in stage t, recursively recomputing inputs whose
            # lifetime would otherwise be stretched across the peak.
            plan, extra_mem, ok, dcost = [], 0, True, 0
            todo, seen = [u], {u}
            while todo and ok:
                x = todo.pop()
                if x in stages[t] or (cap is not None and count[x] >= cap) or problem.pinned[x]:
                    ok = False
                    break
                plan.append(x)
                dcost += cost[x]
                # Prune: the gain is at most ram[u], so this plan cannot beat the best one.
                if len(plan) > MAX_PLAN or (best is not None and (dcost / ram[u], -ram[u]) >= best[0]):
                    ok = False
                    break
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
            key = (dcost / gain, -gain)
            if best is None or key < best[0]:
                best = (key, t, plan)
        if best is None:
            log.debug("shaving stuck at step %d (stage %d, node %d): memory %d > budget %d, %d recomputations so far",
                      j, stage_at[j], seq[j], sim.peak, budget, len(seq) - n)
            return None
        _, t, plan = best
        for x in plan:
            insort(stages[t], x)
            count[x] += 1
    return None
