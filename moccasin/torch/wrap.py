"""``moccasin.wrap``: a drop-in nn.Module whose training step runs a Moccasin schedule.

On the first training call (and on every new input shape or dtype) the wrapper traces the
step, plans it under the budget, emits forward and backward graphs from the schedule and
compiles them with AOTAutograd into an autograd function that runs eagerly. ``loss.backward()``
then fills ``.grad`` of the original model's parameters (the wrapper holds the model itself,
no copies), and AOTAutograd's runtime writes BatchNorm's running statistics back into the
model's buffers. Evaluation (``model.eval()`` or ``torch.no_grad()``) runs the model as it is.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn as nn
from torch.utils import _pytree as pytree

from moccasin.api import solve
from moccasin.errors import InputError, MoccasinError
from moccasin.graph.problem import Problem
from moccasin.schedule.schedule import Schedule
from moccasin.torch.emit import EmitPlan, boxed, compile_plan, early_grad_graph, split_schedule
from moccasin.torch.execute import run_graph
from moccasin.torch.trace import TracedStep, trace_step

log = logging.getLogger("moccasin")

__all__ = ["MoccasinModule", "PlanError", "Report", "format_report", "wrap"]


class PlanError(MoccasinError):
    """No plan for this call: the budget cannot be met, or re-planning is disabled."""

    exit_code = 2


class Report(dict):
    """``moccasin_report()``'s dict; ``str()`` gives a few readable lines."""

    def __str__(self) -> str:
        return format_report(self)


def _mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.2f} MiB"


def format_report(r: dict) -> str:
    """A readable summary of a plan report (see :meth:`MoccasinModule.moccasin_report`)."""
    frac = r.get("budget_fraction")
    lines = [
        f"moccasin plan for {r['model']} on inputs {r['inputs']}",
        f"  budget          {_mib(r['budget_bytes'])}" + (f" ({frac:.0%} of baseline)" if frac is not None else ""),
        f"  baseline peak   {_mib(r['baseline_peak_bytes'])}  (no recomputation, graph order)",
        f"  predicted peak  {_mib(r['predicted_peak_bytes'])}",
        f"  predicted TDI   {r['predicted_tdi_percent']:.2f}%  (cost unit: {r['cost_unit']})",
        f"  schedule        {r['schedule_length']} steps over {r['num_nodes']} nodes, "
        f"{r['recomputations']} recomputations, {r['saved_values']} values saved for backward",
        f"  solver          {r['solver']} {r['status']} in {r['solve_seconds']:.2f} s"
        + (f", lower bound TDI {r['lower_bound_tdi_percent']:.2f}%" if r.get("lower_bound_tdi_percent") is not None else ""),
        f"  plan time       {r['plan_seconds']:.2f} s (trace, solve, compile); {r['plans_cached']} plan(s) cached",
    ]
    if r.get("verified") is not None:
        lines.append("  verified        " + ("gradients bitwise equal to eager on the planning inputs" if r["verified"] else "skipped (random ops reordered)"))
    return "\n".join(lines)


def input_key(args: tuple) -> tuple:
    """What a plan depends on: the input structure, and each tensor's shape, dtype, device, grad."""
    leaves, spec = pytree.tree_flatten(args)
    parts = []
    for x in leaves:
        if isinstance(x, torch.Tensor):
            parts.append((tuple(x.shape), str(x.dtype).replace("torch.", ""), x.device.type, bool(x.requires_grad)))
        else:
            parts.append(("const", repr(x)))
    return (str(spec), tuple(parts))


def autocast_key() -> tuple:
    """The autocast dtype of each device type where autocast is on: the traced ops (and so the
    plan) depend on it, and a plan traced without it fails under it."""
    return tuple(
        (device, str(torch.get_autocast_dtype(device)).replace("torch.", ""))
        for device in ("cpu", "cuda")
        if torch.is_autocast_enabled(device)
    )


def describe_key(key: tuple) -> str:
    shown = []
    for p in key[1]:
        if p[0] == "const":
            shown.append(p[1])
        else:
            shape, dtype = "x".join(map(str, p[0])) or "scalar", p[1]
            shown.append(f"{shape} {dtype}" + (" (grad)" if p[3] else ""))
    return ", ".join(shown)


def state_getter(module: nn.Module, key: str, kind: str) -> Callable[[], torch.Tensor]:
    """A cheap accessor of parameter or buffer ``key`` of ``module`` for every training call.

    The owning submodule is resolved once (a plan is made for one module structure); the
    tensor itself is looked up on every call, so a parameter assigned anew is seen.
    ``get_parameter`` per call cost GPT-2 about 5 ms a step."""
    path, _, attr = key.rpartition(".")
    owner = module.get_submodule(path) if path else module
    table = owner._parameters if kind == "param" else owner._buffers
    return lambda: table[attr]


def _call_graph(gm, args: list):
    """Call an emitted GraphModule through the code it runs in training (``emit.boxed``). The
    backward's callable is made on the copy AOTAutograd compiles, so it is made here on first use."""
    run = getattr(gm, "moccasin_run", None) or boxed(gm)
    return run(list(args))


def plan_schedule(graph, budget, time_limit: float, solver_options: dict) -> Schedule:
    """Plan ``graph``. The default solver ``"auto"`` runs the fast heuristic, then CP-SAT
    within the time limit, and keeps the cheaper schedule found (CP-SAT alone may find none in
    a short time limit on a large graph)."""
    options = dict(solver_options)
    solver = options.pop("solver", "auto")
    kw = dict(budget=budget, time_limit=time_limit, **options)
    if solver != "auto":
        return solve(graph, solver=solver, **kw)
    started = time.perf_counter()
    quick = solve(graph, solver="heuristic", **kw)
    if quick.status == "INFEASIBLE":
        return quick
    kw["time_limit"] = max(1.0, time_limit - (time.perf_counter() - started))
    exact = solve(graph, solver="cp", **kw)
    if exact.found and (not quick.found or exact.total_cost <= quick.total_cost):
        return exact
    if quick.found:
        quick.extra["note"] = f"CP-SAT: {exact.status}; heuristic schedule used"
        return quick
    return exact


@dataclass
class CompiledPlan:
    """One input signature's plan: the schedule, the emitted graphs and the compiled function."""

    key: tuple
    schedule: Schedule
    emit: EmitPlan
    fn: Callable
    graphs: dict  #: "forward" and "backward" fx.GraphModules as emitted
    placeholders: list  #: (fx name, kind, key) of the joint graph's inputs
    #: per non-tangent input, in order: the index of an input leaf, or a parameter/buffer getter
    fetch: list
    graph: Any  #: the traced compute graph (networkx)
    no_recompute: dict
    report: Report = field(default_factory=Report)


class MoccasinModule(nn.Module):
    """Runs ``module``'s training step under a memory budget (see :func:`wrap`)."""

    def __init__(
        self,
        module: nn.Module,
        *,
        budget,
        time_limit: float,
        replan: bool,
        early_grads: bool,
        solver_options: dict,
        verify: bool = False,
        replay_random: bool = True,
        profile: bool = False,
    ):
        super().__init__()
        self.module = module
        self._moccasin_early_grads = early_grads
        self._moccasin_budget = budget
        self._moccasin_time_limit = time_limit
        self._moccasin_replan = replan
        self._moccasin_verify = verify
        self._moccasin_replay_random = replay_random
        self._moccasin_profile = profile
        #: while verifying a plan: parameter key -> gradient, instead of adding into .grad
        self._moccasin_grad_sink: dict | None = None
        self._moccasin_solver_options = dict(solver_options)
        self._moccasin_plans: dict[tuple, CompiledPlan] = {}
        self._moccasin_last: CompiledPlan | None = None
        #: getters of the module's parameters, for the plan key (walking modules each step is slow)
        self._moccasin_params: list[Callable[[], torch.Tensor]] | None = None

    # -- drop-in behaviour -------------------------------------------------------------
    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            modules = self.__dict__.get("_modules", {})
            if "module" in modules:
                return getattr(modules["module"], name)
            raise

    def state_dict(self, *args, **kwargs):
        """The wrapped model's state dict (same keys as the unwrapped model)."""
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, *args, **kwargs):
        return self.module.load_state_dict(*args, **kwargs)

    def forward(self, *args, **kwargs):
        if not (self.module.training and torch.is_grad_enabled()):
            return self.module(*args, **kwargs)  # nothing to plan: no backward will run
        if kwargs:
            raise InputError(
                f"moccasin.wrap({type(self.module).__name__}): pass inputs positionally "
                f"(got keyword arguments {', '.join(kwargs)})"
            )
        plan = self._plan_for(args)
        flat = pytree.tree_leaves(args)
        return plan.fn(*[flat[f] if isinstance(f, int) else f() for f in plan.fetch])

    # -- planning ----------------------------------------------------------------------
    def _plan_for(self, args: tuple) -> CompiledPlan:
        key = (input_key(args), self._requires_grad(), autocast_key())
        plan = self._moccasin_plans.get(key)
        if plan is None:
            name = type(self.module).__name__

            def shown(k: tuple) -> str:
                return describe_key(k[0]) + "".join(f" under {d} autocast ({t})" for d, t in k[2])

            if self._moccasin_plans and not self._moccasin_replan:
                known = "; ".join(shown(k) for k in self._moccasin_plans)
                raise PlanError(
                    f"moccasin.wrap({name}): no plan for inputs {shown(key)} (planned: {known}) "
                    f"and re-planning is disabled (replan=False); wrap with replan=True or feed a planned shape"
                )
            if self._moccasin_plans:
                log.warning("moccasin: new inputs %s for %s: re-planning", shown(key), name)
            else:
                log.info("moccasin: planning %s for inputs %s", name, shown(key))
            plan = self._make_plan(key, args)
            self._moccasin_plans[key] = plan
            log.info("moccasin: %s", str(plan.report).replace("\n", "\n  "))
        self._moccasin_last = plan
        plan.report["plans_cached"] = len(self._moccasin_plans)
        return plan

    def _requires_grad(self) -> tuple:
        """``requires_grad`` of every parameter (part of a plan's key: freezing one re-plans)."""
        if self._moccasin_params is not None:
            try:
                return tuple(get().requires_grad for get in self._moccasin_params)
            except (KeyError, AttributeError):  # a parameter was removed: look them up again
                pass
        self._moccasin_params = [state_getter(self.module, k, "param") for k, _ in self.module.named_parameters()]
        return tuple(get().requires_grad for get in self._moccasin_params)

    def _make_plan(self, key: tuple, args: tuple) -> CompiledPlan:
        started = time.perf_counter()
        name = type(self.module).__name__
        with contextlib.ExitStack() as stack:
            step: TracedStep = trace_step(
                self.module, *args, stack=stack, name=f"{name}_train", replay_random=self._moccasin_replay_random,
                profile=self._moccasin_profile,
            )
            graph = early_grad_graph(step) if self._moccasin_early_grads else step.graph
            accumulate = self._accumulators(step) if self._moccasin_early_grads else None
            schedule = self._solve(graph)
            if not schedule.found:
                problem = Problem.from_graph(graph)
                hint = f"; no schedule can go below {problem.min_budget / max(schedule.baseline_peak, 1):.3f} of the baseline"
                raise PlanError(
                    f"moccasin.wrap({name}): no schedule under budget {schedule.budget} bytes "
                    f"({schedule.status}: {schedule.message or 'no solution'}){hint}; raise the budget or the time limit"
                )
            emit = split_schedule(step, schedule.sequence)
            fn, graphs = compile_plan(step, emit, accumulate)
        verified = None
        if self._moccasin_verify:
            verified = self._verify(step, emit, graphs, args)
        plan = CompiledPlan(
            key=key, schedule=schedule, emit=emit, fn=fn, graphs=graphs, placeholders=list(step.placeholders),
            fetch=[key if kind == "input" else state_getter(self.module, key, kind)
                   for _, kind, key in step.placeholders if kind in ("param", "buffer", "input")],
            graph=graph, no_recompute=dict(step.no_recompute),
        )
        lb = schedule.lower_bound
        plan.report = Report(
            model=name,
            inputs=describe_key(key[0]),
            budget_bytes=schedule.budget,
            budget_fraction=schedule.budget_fraction,
            baseline_peak_bytes=schedule.baseline_peak,
            predicted_peak_bytes=schedule.peak_memory,
            predicted_tdi_percent=schedule.tdi_percent,
            lower_bound_tdi_percent=(None if lb is None else 100 * (lb / schedule.baseline_cost - 1)),
            cost_unit=step.graph.graph.get("cost_unit"),
            resident_bytes=step.graph.graph.get("resident_bytes"),
            schedule_length=len(schedule.sequence),
            num_nodes=step.graph.number_of_nodes(),
            early_grads=self._moccasin_early_grads,
            recomputations=emit.num_recomputations,
            saved_values=len(emit.saved),
            solver=schedule.solver,
            status=schedule.status,
            solve_seconds=schedule.solve_seconds,
            plan_seconds=time.perf_counter() - started,
            plans_cached=len(self._moccasin_plans) + 1,
            verified=verified,
        )
        return plan

    def _solve(self, graph) -> Schedule:
        return plan_schedule(graph, self._moccasin_budget, self._moccasin_time_limit, self._moccasin_solver_options)

    def _verify(self, step: TracedStep, emit: EmitPlan, graphs: dict, args: tuple) -> bool:
        """Run the emitted graphs once on ``args`` and compare with the traced joint graph.

        The reference is the joint graph AOTAutograd exported, run in its own order without
        recomputation (its gradients are eager PyTorch's); the emitted forward and backward
        run as compiled, tangents all ones. Forward outputs and every gradient must be bitwise
        equal, else :class:`PlanError`. Nothing is written into ``.grad`` or the buffers.
        Random ops draw from the same seed in both runs; if the schedule runs them in another
        order than the graph, their masks differ and the check is skipped (returns False).
        """
        name = type(self.module).__name__
        # Random ops in eager's order; recomputations replay their first draw (emit.py), so
        # only the order of first computations matters.
        pinned = {step.node_names[i] for i, why in step.no_recompute.items() if why == "random"}
        random = sorted(pinned | set(step.replay), key=step.ids.get)
        order = list(dict.fromkeys(n for n in emit.forward_steps + emit.backward_steps if n in set(random)))
        if order != random:
            log.warning("moccasin: verify skipped for %s: the plan runs random ops in another order than eager", name)
            return False
        values = step.placeholder_values(self.module, *args)
        kinds = [kind for _, kind, _ in step.placeholders]
        primals = [v for v, k in zip(values, kinds) if k != "tangent"]
        tangents = [v for v, k in zip(values, kinds) if k == "tangent"]
        seed = int(torch.randint(0, 2**31 - 1, ()).item())
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            expected = run_graph(step.gm, values)
            torch.manual_seed(seed)
            fwd = list(_call_graph(graphs["forward"], primals))
            saved = fwd[step.num_fwd_outputs :]
            sink: dict = {}
            self._moccasin_grad_sink = sink
            try:
                grads = list(_call_graph(graphs["backward"], [*saved, *tangents]))
            finally:
                self._moccasin_grad_sink = None
        got = fwd[: step.num_fwd_outputs] + grads
        for j, g in sink.items():  # gradient output j, added into .grad inside the backward
            got[step.num_fwd_outputs + j] = g
        for j, (a, b) in enumerate(zip(got, expected)):
            if isinstance(b, torch.Tensor) and not (isinstance(a, torch.Tensor) and torch.equal(a, b)):
                what = step.output_descs[j] if j < len(step.output_descs) else f"output {j}"
                diff = (a.double() - b.double()).abs().max().item() if isinstance(a, torch.Tensor) and a.shape == b.shape else None
                raise PlanError(
                    f"moccasin.wrap({name}, verify=True): the emitted plan's {what} differs from eager "
                    f"(max abs difference {diff}); this is a Moccasin bug, please report it "
                    f"(wrap without verify to run anyway, or with a larger budget)"
                )
        return True

    def _accumulators(self, step: TracedStep) -> dict:
        """Gradient output index -> a function adding that gradient into the parameter's .grad."""
        module = self.module

        def make(j: int, key: str):
            param = state_getter(module, key, "param")

            def accumulate_grad(g: torch.Tensor) -> None:
                # What autograd's AccumulateGrad does for a dense leaf, minus hooks.
                sink = self._moccasin_grad_sink
                if sink is not None:  # verifying the plan: keep .grad untouched
                    sink[j] = g.clone()
                    return
                p = param()
                if p.grad is None:
                    p.grad = g.detach() if g.stride() == p.stride() else torch.empty_like(p).copy_(g)
                else:
                    p.grad.add_(g)

            return accumulate_grad

        return {j: make(j, key) for j, (_, kind, key) in enumerate(step.placeholders) if kind == "param"}

    # -- reporting ---------------------------------------------------------------------
    @property
    def moccasin_plan(self) -> CompiledPlan | None:
        """The plan the last training call used (None before the first one)."""
        return self._moccasin_last

    def moccasin_report(self) -> Report:
        """Predicted peak, baseline peak, budget, predicted TDI, schedule size, solver status.

        Reports the plan of the last training call; raises if no training call was made yet.
        """
        if self._moccasin_last is None:
            raise PlanError("moccasin_report(): no plan yet; call the wrapped model on a training batch first")
        return Report(self._moccasin_last.report)


def wrap(
    model: nn.Module,
    *example_inputs,
    budget: str | float | int = 0.5,
    time_limit: float = 60.0,
    replan: bool = True,
    early_grads: bool = True,
    verify: bool = False,
    replay_random: bool = True,
    profile: bool = False,
    **solver_options,
) -> MoccasinModule:
    """A drop-in replacement for ``model`` whose training steps fit ``budget``.

    ``budget`` is a fraction of the traced step's baseline peak (``0.5``, ``"50%"``) or bytes
    (``"512MiB"``, or an int), as in :func:`moccasin.solve`; ``solver_options`` go to
    :func:`moccasin.solve` (``solver``: ``"auto"`` (default: heuristic, then CP-SAT, the cheaper
    wins), ``"cp"`` or ``"heuristic"``; ``max_recompute``, ``workers``, ``seed``). With
    ``example_inputs`` the first plan is made now; otherwise on the first training call. A new
    input shape or dtype re-plans (logged on the ``moccasin`` logger) unless ``replan=False``,
    which raises :class:`PlanError` instead. Parameters are shared: train ``model.parameters()``
    or ``wrapped.parameters()`` alike.

    ``early_grads=True`` (default) adds each parameter gradient into ``.grad`` inside the
    backward as soon as it is computed (as autograd's AccumulateGrad would, without hooks), so
    gradients do not all stay alive until the backward ends; ``torch.autograd.grad`` over the
    parameters and gradient hooks on them then see nothing. ``early_grads=False`` returns the
    gradients to autograd at the end of the backward (exact autograd semantics, more memory).

    The plan covers what ``model`` computes. A loss computed outside it is not planned: its
    tensors add to the measured peak, and the gradient of the model's output counts as resident
    (outside the budget). With a large output (a language model's logits), wrap a module that
    returns the loss.

    ``verify=True`` checks every new plan once, when it is made: the emitted forward and
    backward run on the planning inputs and their outputs and gradients must be bitwise equal to
    the traced step run without recomputation (eager PyTorch's ops, same seed), else
    :class:`PlanError`. It costs about one extra training step and the reference's memory
    (not under the budget); ``.grad`` and the buffers are left untouched. Skipped, with a
    warning, when the plan runs random ops in another order than eager.

    ``replay_random=True`` (default) lets the plan recompute random ops (dropout): a
    recomputation replays the generator state the first computation drew from, so it draws the
    same numbers, as ``torch.utils.checkpoint`` does (a few KB of saved state per random op on
    CPU). ``replay_random=False`` keeps what random ops compute instead.

    ``profile=True`` plans with each op's measured time on this machine (median of 5 runs of
    the traced step, microseconds) instead of its FLOPs, so the predicted TDI is a time
    overhead; planning takes those runs longer.
    """
    if not isinstance(model, nn.Module):
        raise InputError(f"moccasin.wrap needs an nn.Module, got {type(model).__name__}")
    wrapped = MoccasinModule(
        model, budget=budget, time_limit=time_limit, replan=replan, early_grads=early_grads,
        solver_options=solver_options, verify=verify, replay_random=replay_random, profile=profile,
    )
    if example_inputs:
        if not model.training:
            raise InputError("moccasin.wrap plans a training step: call model.train() before wrapping with example inputs")
        wrapped._plan_for(tuple(example_inputs))
    return wrapped
