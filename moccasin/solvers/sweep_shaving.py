"""Sweep shaving: peak shaving's moves in one pass over the schedule, in time order.

:func:`~moccasin.solvers.shaving.shave` re-simulates the whole schedule after every move, which
on dense graphs of thousands of nodes takes most of a minute. This pass walks the steps in
order instead, keeping the memory level as it goes; at a step over the budget it applies
shaving's move (recompute an output held across the step just before its next read, and the
inputs whose lifetime would cross the step, recursively) until the step fits. A move only adds
memory after the current step: its recomputations come later, and an input it reads is either
alive across the step anyway or recomputed too. So steps already passed stay within the budget
and one pass gives a schedule within it.

Steps are named by their event on the stage grid, ``stage (stage + 1) / 2 + node``
(:func:`~moccasin.schedule.stages.event`), which inserting other steps never changes.
"""

from __future__ import annotations

import random
import time
from bisect import bisect_left, bisect_right, insort
from math import isqrt

from moccasin.graph.problem import Problem
from moccasin.schedule.stages import event, join_stages

#: Most nodes one recomputation may pull in (as in peak shaving), and the size tried first.
MAX_PLAN = 64
FIRST_PLAN = 4


INF = float("inf")


class _Sweep:
    """The schedule as stages, its instances (named by event) and their reads, and the memory
    level at the current step with the changes pending at later events."""

    def __init__(self, problem: Problem, budget: int, stages: list[list[int]], cap: int | None, rng=None):
        self.problem, self.budget, self.cap, self.rng = problem, budget, cap, rng
        self.stages = stages
        n, preds, ram = problem.n, problem.preds, problem.ram
        self.made: list[list[int]] = [[] for _ in range(n)]  # events computing each node
        self.reads: dict[int, list[int]] = {}  # instance event -> events reading it
        self.end: dict[int, int] = {}  # instance event -> its last read (itself if none)
        self.delta: dict[int, int] = {}  # key 2e: bytes that start at e; 2e + 1: end after e
        newest = [-1] * n
        for t, stage in enumerate(stages):
            for x in stage:
                e = event(t, x)
                for p in preds[x]:
                    self.reads[newest[p]].append(e)
                newest[x] = e
                self.made[x].append(e)
                self.reads[e] = []
        for x in range(n):
            for e in self.made[x]:
                last = self.reads[e][-1] if self.reads[e] else e
                self.end[e] = last
                self.delta[2 * e] = self.delta.get(2 * e, 0) + ram[x]
                self.delta[2 * last + 1] = self.delta.get(2 * last + 1, 0) - ram[x]
        # Each node's first instance at or after the current step (a list lookup where the
        # plans would bisect ``made``); infinity when there is none.
        self.upcoming = [m[0] if m else INF for m in self.made]
        self.live = 0  # memory at the current step
        self.now = -1  # the current step's event
        self.alive: dict[int, int] = {}  # node -> its instance alive at the current step
        # The alive nodes as ranks in the order candidates are tried (cheapest per byte, then
        # largest), kept sorted so that a move's search needs no sort and can stop early.
        order = sorted(range(n), key=lambda v: (problem.cost[v] / ram[v] if ram[v] else 0.0, -ram[v], v))
        self.rank = [0] * n
        for r, v in enumerate(order):
            self.rank[v] = r
        self.node_at = order
        self.alive_ranks: list[int] = []
        self.moves = 0

    def newest_before(self, p: int, q: int) -> int:
        """Event of the newest instance of ``p`` before event ``q``."""
        steps = self.made[p]
        return steps[bisect_left(steps, q) - 1]

    def set_end(self, inst: int, node: int, new: int) -> None:
        """Move the last read of instance ``inst`` (of ``node``) to event ``new``."""
        old = self.end[inst]
        if old == new:
            return
        size = self.problem.ram[node]
        now = self.now
        if old >= now:  # its end is still pending: cancel it
            self.delta[2 * old + 1] += size
        else:
            raise AssertionError("a move may not stretch an instance that ended before the current step")
        if new >= now:
            self.delta[2 * new + 1] = self.delta.get(2 * new + 1, 0) - size
        else:  # it now ends before the current step: no longer in memory
            self.live -= size
            if self.alive.get(node) == inst:
                self.kill(node)
        self.end[inst] = new

    def revive(self, node: int, inst: int) -> None:
        if node not in self.alive:
            insort(self.alive_ranks, self.rank[node])
        self.alive[node] = inst

    def kill(self, node: int) -> None:
        del self.alive[node]
        ranks = self.alive_ranks
        del ranks[bisect_left(ranks, self.rank[node])]

    def best_move(self, t_now: int, x_now: int, planned: list[int]) -> tuple[tuple, int, list[int]] | None:
        """Shaving's move at the current step: ``(key, stage, nodes)`` or None.

        Candidates are tried cheapest per byte first, with plans of at most :data:`FIRST_PLAN`
        nodes, then (bounded by the best so far) the ones cut off by that size, up to
        :data:`MAX_PLAN`: almost every move taken is one or two nodes, and expanding deep plans
        of candidates that lose anyway was most of the time spent."""
        problem, now, end, reads = self.problem, self.now, self.end, self.reads
        ram, cost, preds, pinned = problem.ram, problem.cost, problem.preds, problem.pinned
        read_now = set(preds[x_now])
        alive, node_at = self.alive, self.node_at

        def first_tries():
            """Outputs held across the current step for a later read, cheapest per byte first,
            with the stage of that read."""
            for r in self.alive_ranks:
                u = node_at[r]
                i = alive[u]
                if not ram[u] or pinned[u] or u in read_now or i >= now or end[i] <= now:
                    continue
                r_list = reads[i]
                t = (isqrt(8 * r_list[bisect_right(r_list, now)] + 1) - 1) // 2  # stage of the next read
                if t == t_now and u <= x_now:
                    continue  # the recomputation would land before the current step
                yield u, t, None

        retry: list = []  # plans that outgrew FIRST_PLAN nodes, resumed where they stopped
        best = self._search(first_tries(), FIRST_PLAN, None, retry, t_now, x_now, planned)
        return self._search(retry, MAX_PLAN, best, None, t_now, x_now, planned)

    def _search(self, candidates, limit, best, retry, t_now, x_now, planned):
        """The cheapest move per byte among ``candidates`` (``(u, stage, resume)``, cheapest per
        byte first) and ``best``. A candidate's plan is the nodes to recompute in its stage: it
        and, recursively, its inputs whose lifetime would otherwise stretch back across the
        current step. A node is checked and counted when it joins the plan, so a plan that
        loses stops as early as it can. A plan that outgrows ``limit`` nodes goes to ``retry``
        with its state (``resume``) when ``retry`` is a list, else is dropped. (The sweep's hot
        loop: helpers are inlined.)"""
        problem, now, alive, upcoming, stages, rng = self.problem, self.now, self.alive, self.upcoming, self.stages, self.rng
        ram, cost, preds, pinned, cap = problem.ram, problem.cost, problem.preds, problem.pinned, self.cap
        for u, t, resume in candidates:
            if best is None:
                bound = INF
            else:
                if (cost[u] / ram[u], -ram[u]) >= best[0]:
                    break  # every later candidate costs at least as much per byte
                bound = best[0][0] * ram[u]
            stage = stages[t]
            size = len(stage)
            base = t * (t + 1) // 2  # event(t, x) == base + x
            same = t == t_now
            if resume is None:
                k = bisect_left(stage, u)
                if (k < size and stage[k] == u) or pinned[u] or (cap is not None and planned[u] >= cap):
                    continue
                dcost = cost[u]
                plan, todo = [u], [u]
            else:
                plan, dcost, todo = resume
            if dcost >= bound:
                continue
            ok = True
            while todo and ok:
                if len(plan) > limit:
                    if retry is not None:
                        retry.append((u, t, (plan, dcost, todo)))
                    ok = False
                    break
                q = base + todo.pop()
                for p in preds[q - base]:
                    # Alive across the current step (``alive`` holds exactly the instances read
                    # at or after it), or computed again after it and before ``q``: nothing
                    # stretches back.
                    if p in alive or p in plan or upcoming[p] < q:
                        continue
                    dcost += cost[p]
                    if (same and p <= x_now) or dcost >= bound:
                        ok = False  # stretches across steps already passed, or loses
                        break
                    k = bisect_left(stage, p)
                    if (k < size and stage[k] == p) or pinned[p] or (cap is not None and planned[p] >= cap):
                        ok = False
                        break
                    plan.append(p)
                    todo.append(p)
            if ok:
                key = (dcost / ram[u] * (1 + 0.5 * rng.random() if rng else 1), -ram[u])
                if best is None or key < best[0]:
                    best = (key, t, plan)
        return best

    def apply(self, t: int, plan: list[int]) -> None:
        """Insert the recomputations of ``plan`` into stage ``t`` and update reads and memory."""
        ram, preds = self.problem.ram, self.problem.preds
        for x in sorted(plan):  # inputs before their readers (node numbers are topological)
            ex = event(t, x)
            insort(self.stages[t], x)
            old = self.newest_before(x, ex)
            insort(self.made[x], ex)
            if ex < self.upcoming[x]:
                self.upcoming[x] = ex
            rs = self.reads[old]
            cut = bisect_right(rs, ex)
            self.reads[ex] = rs[cut:]
            self.reads[old] = rs[:cut]
            self.set_end(old, x, rs[cut - 1] if cut else old)
            self.end[ex] = ex
            self.delta[2 * ex] = self.delta.get(2 * ex, 0) + ram[x]
            self.delta[2 * ex + 1] = self.delta.get(2 * ex + 1, 0) - ram[x]
            if self.reads[ex]:
                self.set_end(ex, x, self.reads[ex][-1])
            for p in preds[x]:
                k = self.newest_before(p, ex)
                insort(self.reads[k], ex)
                if ex > self.end[k]:
                    self.set_end(k, p, ex)

    def run(self, deadline: float | None, max_moves: int | None) -> bool:
        """Sweep every step; False when a step over the budget has no move, or the deadline or
        ``max_moves`` moves are passed."""
        stages, budget, delta, end, preds = self.stages, self.budget, self.delta, self.end, self.problem.preds
        planned = [len(m) for m in self.made]
        steps = 0
        for t in range(len(stages)):
            stage = stages[t]
            k = 0
            while k < len(stage):  # the stage grows when a move recomputes something later in it
                steps += 1
                if not steps % 64 and deadline is not None and time.perf_counter() > deadline:
                    return False
                x = stage[k]
                e = event(t, x)
                self.now = e
                self.live += delta.pop(2 * e, 0)
                self.revive(x, e)
                while self.live > budget:
                    steps += 1
                    if not steps % 64 and deadline is not None and time.perf_counter() > deadline:
                        return False
                    move = self.best_move(t, x, planned)
                    if move is None or (max_moves is not None and self.moves >= max_moves):
                        return False
                    self.moves += 1
                    _, t_move, plan = move
                    self.apply(t_move, plan)
                    for y in plan:
                        planned[y] += 1
                self.live += delta.pop(2 * e + 1, 0)
                # An instance ends at its last read, a step reading it (or its own step when
                # nothing reads it); one that a move cut short left ``alive`` in set_end.
                for p in (*preds[x], x):
                    inst = self.alive.get(p)
                    if inst is not None and end[inst] == e:
                        self.kill(p)
                mine = self.made[x]
                j = bisect_right(mine, e)
                self.upcoming[x] = mine[j] if j < len(mine) else INF
                k += 1
        return True


def sweep_shave(
    problem: Problem,
    budget: int,
    cap: int | None = None,
    stages: list[list[int]] | None = None,
    deadline: float | None = None,
    max_moves: int | None = None,
    rng: random.Random | None = None,
) -> list[int] | None:
    """A stage-structured schedule within ``budget`` made in one pass, or None when a step has
    no move. ``stages`` is the schedule to start from (default: the baseline); ``cap`` bounds
    the computations of each node; ``deadline`` (a ``time.perf_counter()`` value) and
    ``max_moves`` give up early. ``rng`` perturbs the choice of moves (each move's cost per
    byte is scaled by a random factor in [1, 1.5), as in peak shaving; pruning stays exact,
    since a factor of at least 1 never makes a pruned candidate better).

    A chain 0 -> 1 -> 2 -> 3 -> 4 where node 4 reads node 0 again (memory per step of the
    baseline: 4, 8, 12, 12, 9): node 0 is recomputed before node 4 instead of held.

    >>> from moccasin.graph.problem import Problem
    >>> p = Problem("g", (0, 1, 2, 3, 4), (1,) * 5, (4, 4, 4, 4, 1), ((), (0,), (1,), (2,), (0, 3)),
    ...             ((1, 4), (2,), (3,), (4,), ()), (False,) * 5)
    >>> sweep_shave(p, budget=9)
    [0, 1, 2, 3, 0, 4]
    """
    stages = [list(st) for st in stages] if stages is not None else [[s] for s in range(problem.n)]
    state = _Sweep(problem, budget, stages, cap, rng)
    if not state.run(deadline, max_moves):
        return None
    return join_stages(state.stages)
