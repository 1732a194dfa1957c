"""Sweep shaving: peak shaving's moves in one pass over the schedule, in time order.

:func:`~moccasin.solvers.shaving.shave` re-simulates the whole schedule after every move, which
on dense graphs of thousands of nodes takes most of a minute. This pass walks the steps in
order instead, keeping the memory level as it goes; at a step over the budget it applies
shaving's move (recompute an output held across the step just before its next read, and the
inputs whose lifetime would cross the step, recursively) until the step fits. A move only adds
memory after the current step: its recomputations come later, and an input it reads is either
alive across the step anyway or recomputed too. So steps already passed stay within the budget
and one pass gives a schedule within it.

Moves are chosen cheapest per byte, lazily: every held output sits in a heap under the cost
per byte its plan had when last looked at, and a move re-evaluates only the candidates that
come up first, until one still beats the rest. Looking at every held output at every move
took 10-20 times longer on dense graphs of 1000-3000 nodes (bench/README.md, item 24).

Steps are named by their event on the stage grid, ``stage (stage + 1) / 2 + node``
(:func:`~moccasin.schedule.stages.event`), which inserting other steps never changes.
"""

from __future__ import annotations

import random
import time
from bisect import bisect_left, bisect_right, insort
from heapq import heappop, heappush
from math import isqrt

from moccasin.graph.problem import Problem
from moccasin.schedule.stages import event, join_stages

#: Most nodes one recomputation may pull in (as in peak shaving).
MAX_PLAN = 64


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
        self.moves = 0
        # Candidates: a heap of (key, node, version, serial); only a node's newest entry
        # counts (``version``). ``plans`` holds the plans of entries exact for move ``serial``.
        self.heap: list = []
        self.version = [0] * n
        self.plans: dict[int, tuple[int, list[int]]] = {}
        self.serial = 0
        self.deferred: list[int] = []  # candidates that cannot move at step ``deferred_at``
        self.deferred_at = -1

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
        """``node``'s instance ``inst`` is alive from the current step on: a candidate again."""
        self.alive[node] = inst
        self.push(node)

    def kill(self, node: int) -> None:
        del self.alive[node]  # its heap entries are dropped when they come up

    def push(self, u: int, key: tuple | None = None, serial: int = 0) -> None:
        """(Re)enter ``u`` among the candidates with ``key`` (default: its own cost per byte,
        a lower bound on any plan's); ``serial``: the move whose state ``key`` is exact for."""
        ram = self.problem.ram
        if not ram[u] or self.problem.pinned[u]:
            return
        if key is None:
            key = (self.problem.cost[u] / ram[u], -ram[u])
        self.version[u] += 1
        heappush(self.heap, (key, u, self.version[u], serial))

    def best_move(self, t_now: int, x_now: int, planned: list[int]) -> tuple[tuple, int, list[int]] | None:
        """Shaving's move at the current step, ``(key, stage, nodes)``, or None.

        Lazy greedy: the candidate with the smallest key in the heap is evaluated in the
        current state (a plan bounded by the next key); it is taken when it still beats every
        other key, else it goes back with its new key (exact, or a lower bound when the bound
        cut its plan short). Keys in the heap are what a candidate cost when last evaluated;
        one entered again in this call is exact and taken when it comes up. Candidates that
        cannot move at this step wait in ``deferred`` until the next one."""
        now, end, reads, alive, heap, version = self.now, self.end, self.reads, self.alive, self.heap, self.version
        if self.deferred_at != now:
            for u in self.deferred:
                if u in alive:
                    self.push(u)
            self.deferred, self.deferred_at = [], now
        self.serial += 1
        serial = self.serial
        read_now = set(self.problem.preds[x_now])
        while heap:
            key, u, ver, stamp = heappop(heap)
            i = alive.get(u)
            if ver != version[u] or i is None:
                continue  # superseded, or no longer alive
            if u in read_now or i >= now or end[i] <= now:
                self.deferred.append(u)  # read at this step, or not held across it
                continue
            r_list = reads[i]
            t = (isqrt(8 * r_list[bisect_right(r_list, now)] + 1) - 1) // 2  # stage of the next read
            if t == t_now and u <= x_now:
                self.deferred.append(u)  # the recomputation would land before the current step
                continue
            if stamp == serial:
                return (key, *self.plans[u])
            while heap and (heap[0][2] != version[heap[0][1]] or heap[0][1] not in alive):
                heappop(heap)
            top = heap[0][0] if heap else None
            value = self.plan(u, t, top, t_now, x_now, planned)
            if value is None:
                self.deferred.append(u)
                continue
            key, nodes = value
            if nodes is None:
                self.push(u, key)  # a lower bound
            elif top is None or key <= top:
                return key, t, nodes
            else:
                self.plans[u] = (t, nodes)
                self.push(u, key, serial)
        return None

    def plan(self, u: int, t: int, top: tuple | None, t_now: int, x_now: int, planned: list[int]):
        """The nodes to recompute in stage ``t`` so that ``u`` is there for its next read: it
        and, recursively, its inputs whose lifetime would otherwise stretch back across the
        current step. ``(key, nodes)``; ``(lower bound on the key, None)`` once it cannot beat
        ``top``; None when there is no such plan (an input pinned, capped or already in the
        stage, an input needed before the current step, more than :data:`MAX_PLAN` nodes).
        A node is checked and counted when it joins the plan, so a plan that loses stops early."""
        problem, alive, upcoming, rng, cap = self.problem, self.alive, self.upcoming, self.rng, self.cap
        ram, cost, preds, pinned = problem.ram, problem.cost, problem.preds, problem.pinned
        stage = self.stages[t]
        size = len(stage)
        base = t * (t + 1) // 2  # event(t, x) == base + x
        same = t == t_now
        k = bisect_left(stage, u)
        if (k < size and stage[k] == u) or (cap is not None and planned[u] >= cap):
            return None
        bound = INF if top is None else top[0] * ram[u]
        dcost = cost[u]
        nodes, todo = [u], [u]
        while todo:
            if len(nodes) > MAX_PLAN:
                return None
            q = base + todo.pop()
            for p in preds[q - base]:
                # Alive across the current step (``alive`` holds exactly the instances read
                # at or after it), or computed again after it and before ``q``: nothing
                # stretches back.
                if p in alive or p in nodes or upcoming[p] < q:
                    continue
                if same and p <= x_now:
                    return None  # it would stretch across steps already passed
                k = bisect_left(stage, p)
                if (k < size and stage[k] == p) or pinned[p] or (cap is not None and planned[p] >= cap):
                    return None
                dcost += cost[p]
                if dcost > bound and (dcost / ram[u], -ram[u]) > top:
                    return (dcost / ram[u], -ram[u]), None
                nodes.append(p)
                todo.append(p)
        return (dcost / ram[u] * (1 + 0.5 * rng.random() if rng else 1), -ram[u]), nodes

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
