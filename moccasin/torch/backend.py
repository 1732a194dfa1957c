"""A ``torch.compile`` backend that runs every captured training step under a Moccasin plan.

    compiled = torch.compile(model, backend=moccasin.torch.backend(budget=0.6, time_limit=30))

Dynamo captures the model's forward; AOTAutograd builds the joint forward+backward graph and
asks its partitioner for a forward and a backward graph. Here the partitioner is Moccasin: the
joint graph becomes a compute graph (the tracer's analysis, ``trace.py``), the planner finds a
schedule under the budget, and the emitter builds both graphs from it (``emit.py``), compiled
eagerly (no Inductor), so gradients are eager PyTorch's. Each graph dynamo captures (one per
graph break) is planned on its own: a fractional budget is a fraction of that graph's baseline
peak, a byte budget applies to each. Gradients return to autograd at the end of the backward
(no early accumulation, unlike :func:`moccasin.wrap`). Note that the dispatch-mode meter
(``measure.py``) does not see code dynamo runs; measure it with the allocator instead.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import torch.fx as fx

from moccasin.torch._compat import joint_export_api
from moccasin.torch.emit import EmitError, boxed, build_graphs, split_schedule
from moccasin.torch.trace import _build
from moccasin.torch.wrap import PlanError, plan_schedule

log = logging.getLogger("moccasin")


def _compiler(gm: fx.GraphModule, example_inputs):
    return boxed(gm)


class MoccasinBackend:
    """The backend; ``reports`` holds one report per planned graph (see :func:`backend`)."""

    def __init__(self, budget, time_limit: float, replay_random: bool, solver_options: dict):
        self.budget = budget
        self.time_limit = time_limit
        self.replay_random = replay_random
        self.solver_options = dict(solver_options)
        self.reports: list[dict] = []

    def __call__(self, gm: fx.GraphModule, example_inputs):
        from torch._functorch.aot_autograd import aot_module_simplified

        joint_export_api()  # one clear line on an unsupported torch
        return aot_module_simplified(
            gm, example_inputs, fw_compiler=_compiler, bw_compiler=_compiler, partition_fn=self._partition
        )

    def _partition(self, joint_module: fx.GraphModule, joint_inputs, *, num_fwd_outputs: int, **kwargs):
        _, unset_fake = joint_export_api()
        name = f"compiled_graph_{len(self.reports)}"
        with unset_fake():
            step = _build(SimpleNamespace(graph_module=joint_module), name, self.replay_random)
        if step.num_fwd_outputs != num_fwd_outputs:
            raise EmitError(f"AOTAutograd expects {num_fwd_outputs} forward outputs, the analysis found {step.num_fwd_outputs}")
        schedule = plan_schedule(step.graph, self.budget, self.time_limit, self.solver_options)
        if not schedule.found:
            raise PlanError(
                f"moccasin backend: no schedule for {name} under budget {schedule.budget} bytes "
                f"({schedule.status}: {schedule.message or 'no solution'}); raise the budget or the time limit"
            )
        plan = split_schedule(step, schedule.sequence)
        fw, bw = build_graphs(joint_module, plan, num_fwd_outputs)
        report = dict(
            model=name,
            budget_bytes=schedule.budget,
            budget_fraction=schedule.budget_fraction,
            baseline_peak_bytes=schedule.baseline_peak,
            predicted_peak_bytes=schedule.peak_memory,
            predicted_tdi_percent=schedule.tdi_percent,
            cost_unit=step.graph.graph.get("cost_unit"),
            schedule_length=len(schedule.sequence),
            num_nodes=step.graph.number_of_nodes(),
            recomputations=plan.num_recomputations,
            saved_values=len(plan.saved),
            solver=schedule.solver,
            status=schedule.status,
            solve_seconds=schedule.solve_seconds,
        )
        self.reports.append(report)
        log.info("moccasin backend: %s: predicted peak %s of %s bytes, TDI %.2f%%, %d recomputations",
                 name, schedule.peak_memory, schedule.baseline_peak, schedule.tdi_percent, plan.num_recomputations)
        return fw, bw


def backend(budget=0.5, time_limit: float = 60.0, replay_random: bool = True, **solver_options) -> MoccasinBackend:
    """A ``torch.compile`` backend planning each captured training step under ``budget``.

    ``budget``, ``time_limit``, ``replay_random`` and ``solver_options`` mean what they mean
    for :func:`moccasin.wrap`. Graphs compiled for inference (no backward) are not planned.

    >>> compiled = torch.compile(model, backend=backend(budget=0.6))   # doctest: +SKIP
    >>> compiled(x).sum().backward()                                  # doctest: +SKIP
    """
    return MoccasinBackend(budget, time_limit, replay_random, solver_options)
