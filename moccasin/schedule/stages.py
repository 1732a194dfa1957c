"""The stage structure shared by the CP and MILP models and the heuristics that hint them.

Nodes are numbered in the baseline order. Stage ``s`` computes a subset of ``{0..s}`` in
increasing order and ends with the first computation of ``s``; a stage-structured schedule is
stages ``0..n-1`` in turn. On the CP model's time grid, position ``p`` of stage ``s`` is
event ``s(s+1)/2 + p``.
"""

from __future__ import annotations

from moccasin.graph.problem import Problem


def event(stage: int, position: int) -> int:
    """Index of position ``position`` in stage ``stage`` on the time grid."""
    return stage * (stage + 1) // 2 + position


def stage_of(problem: Problem, sequence: list[int]) -> list[int] | None:
    """The stage of every step of a stage-structured sequence, or None if it is not one."""
    stages, s, prev = [], 0, -1
    for v in sequence:
        if s >= problem.n or v > s or v <= prev:
            return None
        stages.append(s)
        if v == s:
            s, prev = s + 1, -1
        else:
            prev = v
    return stages if s == problem.n else None


def split_stages(problem: Problem, sequence: list[int]) -> list[list[int]] | None:
    """The nodes each stage computes, or None if ``sequence`` is not stage-structured."""
    stages = stage_of(problem, sequence)
    if stages is None:
        return None
    out: list[list[int]] = [[] for _ in range(problem.n)]
    for s, v in zip(stages, sequence):
        out[s].append(v)
    return out


def join_stages(stages: list[list[int]]) -> list[int]:
    """The sequence of a list of stages."""
    return [v for stage in stages for v in stage]
