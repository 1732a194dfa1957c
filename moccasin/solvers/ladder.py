"""The budget ladder: reach a budget the sweep cannot reach from the baseline in rungs.

On dense graphs of thousands of nodes, sweep shaving from the baseline straight to a tight
budget piles recomputations into a few late stages and gets stuck (bench/README.md, items 17-19),
while from a schedule that already fits a slightly larger budget it needs few moves. The ladder
sweeps to budgets between the baseline peak and the target, each rung starting from the last
schedule (redundant recomputations dropped); a rung that fails halves the step, and one that
fails at the smallest step is tried again with randomised moves (which rung a sweep reaches
depends on its path: bench/README.md, item 26).
"""

from __future__ import annotations

import random
import time

from moccasin.graph.problem import Problem
from moccasin.schedule.simulator import baseline
from moccasin.schedule.stages import split_stages
from moccasin.solvers.drop import drop_redundant
from moccasin.solvers.sweep_shaving import sweep_shave

#: A rung's sweep gives up after this many moves per node: sweeps that succeed make fewer
#: than 1.5 per node, those that get stuck pile up tens per node first (bench/README.md).
MOVES_PER_NODE = 2
#: ... or after this share of the time left.
RUNG_SHARE = 0.25
#: The smallest step, as a fraction of the distance from the baseline peak to the target.
MIN_STEP = 1 / 64
#: Randomised sweeps of a rung that failed at the smallest step, before giving up.
RETRIES = 4


def ladder_shave(
    problem: Problem,
    budget: int,
    cap: int | None = None,
    deadline: float | None = None,
    direct: bool = True,
    log: list | None = None,
) -> list[int] | None:
    """A stage-structured schedule within ``budget``, or None when a step of :data:`MIN_STEP`
    fails :data:`RETRIES` more times with randomised moves (``sweep_shave``'s ``rng``) and twice
    the move limit each time, or the ``deadline`` (a ``time.perf_counter()`` value) passes. The
    first rung is ``budget`` itself (a plain sweep; with ``direct=False`` halfway there, for a
    caller that tried the plain sweep); after a failed rung the step to the next is halved.
    ``log`` gets ``(rung budget, reached)`` for each rung.

    >>> from moccasin_graphs.generators import random_layered
    >>> from moccasin.schedule.simulator import simulate_indices
    >>> p = Problem.from_graph(random_layered(300, seed=7))
    >>> budget = int(0.8 * baseline(p).peak)
    >>> simulate_indices(p, ladder_shave(p, budget)).peak <= budget
    True
    """
    current = baseline(problem).peak
    if current <= budget:
        return list(range(problem.n))
    stages = None  # the baseline
    step = current - budget if direct else (current - budget + 1) // 2
    smallest = max(1, int((current - budget) * MIN_STEP))
    max_moves = MOVES_PER_NODE * problem.n
    retries = 0  # randomised sweeps of the current rung so far (retry k draws from seed k)
    while True:
        now = time.perf_counter()
        if deadline is not None and now >= deadline:
            return None
        rung = current - step if current - step - budget >= smallest else budget  # no sliver of a rung
        until = None if deadline is None else now + RUNG_SHARE * (deadline - now)
        rng = random.Random(retries) if retries else None
        seq = sweep_shave(problem, rung, cap=cap, stages=stages, deadline=until, max_moves=max_moves << retries, rng=rng)
        if log is not None:
            log.append((rung, seq is not None))
        if seq is None:
            if step > smallest:
                step = max(smallest, step // 2)
            elif retries < RETRIES:
                retries += 1
            else:
                return None
        elif rung == budget:
            return seq
        else:  # the next rung starts from this one, without what it does not need
            stages, current = split_stages(problem, drop_redundant(problem, rung, seq)), rung
            retries = 0
