"""Peak shaving: start from the baseline and add recomputations until the peak fits.

Each round simulates the schedule, takes the step of peak memory and, among the outputs held
across it only for a later read, recomputes the one with the best cost per byte freed at the
peak, just before that read (in its stage, so the schedule stays stage-structured). An input
of the recomputation whose lifetime would newly cross the peak is recomputed too, recursively.
"""

from __future__ import annotations

import logging
import random
import time
from bisect import bisect_left, bisect_right, insort

from moccasin.graph.problem import Problem
from moccasin.schedule.simulator import simulate_indices
from moccasin.schedule.stages import join_stages

log = logging.getLogger("moccasin.shaving")

#: Most nodes one recomputation may pull in (the node and the inputs it must recompute).
MAX_PLAN = 64
#: Steps over the budget tried per round when the peak step itself offers no move.
MAX_STEPS_TRIED = 32


def shave(
    problem: Problem,
    budget: int,
    cap: int | None = None,
    max_rounds: int | None = None,
    stages: list[list[int]] | None = None,
    rng: random.Random | None = None,
    deadline: float | None = None,
    moves_per_round: int = 1,
) -> list[int] | None:
    """A stage-structured schedule within ``budget``, or None when shaving gets stuck.

    ``cap`` bounds the computations of each node (None: unbounded). ``stages`` is the schedule
    to start from (default: the baseline, one node per stage); ``rng`` perturbs the choice of
    moves (each move's cost per byte is scaled by a random factor in [1, 1.5)). ``deadline``
    (a ``time.perf_counter()`` value) gives up when passed. ``moves_per_round`` > 1 also moves
    at further steps over the budget in stages the round's earlier moves leave alone: fewer
    simulations, a different (often costlier, sometimes the only) path.
    """
    n = problem.n
    stages = [list(st) for st in stages] if stages is not None else [[s] for s in range(n)]
    count = [0] * n
    for st in stages:
        for v in st:
            count[v] += 1
    rounds = max_rounds if max_rounds is not None else 20 * n + 100
    for _ in range(rounds):
        if deadline is not None and time.perf_counter() > deadline:
            return None
        seq = join_stages(stages)
        sim = simulate_indices(problem, seq)
        if sim.peak <= budget:
            return seq
        ctx = _Round(problem, stages, seq, sim.last_read)
        # The peak step first; if nothing there can move, the next steps over the budget. After
        # a move, further steps whose stages it does not touch get moves in the same round.
        over = sorted((k for k, m in enumerate(sim.memory) if m > budget), key=lambda k: -sim.memory[k])
        moves: list[tuple[int, list[int]]] = []
        touched: list[tuple[int, int]] = []  # stage ranges the chosen moves change
        planned = list(count)
        tried = 0
        for j in over:
            sj = ctx.stage_at[j]
            if any(lo <= sj <= hi for lo, hi in touched):
                continue
            if tried >= MAX_STEPS_TRIED or len(moves) >= moves_per_round:
                break
            tried += 1
            move = ctx.best_move(j, cap, planned, rng)
            if move is None:
                continue
            t, plan = move
            if any(t2 == t and x in p2 for t2, p2 in moves for x in plan):
                continue  # overlaps a move of this round: leave it to the next round
            moves.append(move)
            touched.append((min(sj, t), max(sj, t)))
            for x in plan:
                planned[x] += 1
        if not moves:
            j = over[0]
            log.debug("shaving stuck at step %d (stage %d, node %d): memory %d > budget %d, %d recomputations so far",
                      j, ctx.stage_at[j], seq[j], sim.peak, budget, len(seq) - n)
            return None
        for t, plan in moves:
            for x in plan:
                insort(stages[t], x)
                count[x] += 1
    return None


class _Round:
    """What one round knows about the current schedule: stages, instances and their reads."""

    def __init__(self, problem: Problem, stages: list[list[int]], seq: list[int], last_read):
        self.problem, self.stages, self.seq, self.last_read = problem, stages, seq, last_read
        self.stage_at, self.stage_first = [], []
        for t, stage in enumerate(stages):
            self.stage_first.append(len(self.stage_at))
            self.stage_at.extend([t] * len(stage))
        self.made: list[list[int]] = [[] for _ in range(problem.n)]  # steps computing each node
        self.reads: list[list[int]] = [[] for _ in seq]  # steps reading each instance
        newest = [-1] * problem.n
        for k, v in enumerate(seq):
            for p in problem.preds[v]:
                self.reads[newest[p]].append(k)
            self.made[v].append(k)
            newest[v] = k

    def newest_before(self, p: int, q: int) -> int:
        """Step of the newest instance of ``p`` before step ``q``."""
        steps = self.made[p]
        return steps[bisect_left(steps, q) - 1]

    def insertion_step(self, t: int, x: int) -> int:
        """Step index where ``x`` would be inserted into stage ``t``."""
        return self.stage_first[t] + bisect_left(self.stages[t], x)

    def best_move(self, j: int, cap: int | None, count: list[int], rng=None) -> tuple[int, list[int]] | None:
        """The cheapest recomputation per byte freed at step ``j``: ``(stage, nodes)`` or None."""
        problem, seq, stages, stage_at, last_read = self.problem, self.seq, self.stages, self.stage_at, self.last_read
        ram, cost, preds = problem.ram, problem.cost, problem.preds
        reads_at_j = set(preds[seq[j]])
        # Outputs held across j (not read at j), cheapest per byte first: an early good move
        # lets the bound below cut the search of the others short.
        held = [i for i in range(j) if last_read[i] > j and seq[i] not in reads_at_j and ram[seq[i]] and not problem.pinned[seq[i]]]
        held.sort(key=lambda i: cost[seq[i]] / ram[seq[i]])
        best = None
        for i in held:
            u = seq[i]
            if best is not None and (cost[u] / ram[u], -ram[u]) >= best[0]:
                break  # every later candidate costs at least as much per byte
            reads = self.reads[i]
            r = reads[bisect_right(reads, j)]  # the next read of this instance after j
            t = stage_at[r]
            if t == stage_at[j] and u <= seq[j]:
                continue  # the recomputation would land before the peak step
            # Plan the recomputation of u in stage t, recursively recomputing inputs whose
            # lifetime would otherwise be stretched across step j.
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
                q = self.insertion_step(t, x)
                for p in preds[x]:
                    if p in seen:
                        continue
                    k = self.newest_before(p, q)
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
            key = (dcost / gain * (1 + 0.5 * rng.random() if rng else 1), -gain)
            if best is None or key < best[0]:
                best = (key, t, plan)
        return None if best is None else (best[1], best[2])
