"""The tracer on tiny models: sizes by hand, aliases, marks, file round trip, measured peaks."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import moccasin  # noqa: E402
from moccasin.graph.io import graph_from_data, graph_to_data, load_graph, save_graph  # noqa: E402
from moccasin.graph.problem import Problem  # noqa: E402
from moccasin.schedule.simulator import baseline  # noqa: E402
from moccasin.torch import _compat, trace, trace_step  # noqa: E402
from moccasin.torch._livemeter import live_peak  # noqa: E402
from moccasin.torch.costs import BYTE_COST  # noqa: E402
from moccasin.torch.execute import run_graph  # noqa: E402

F32 = 4


class SumLoss(nn.Module):
    """Wrap a module so that its forward returns a scalar loss (the sum of its output)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, *xs):
        return self.inner(*xs).sum()


def by_name(G):
    return {d["name"]: (n, d) for n, d in G.nodes(data=True)}


def test_sizes_by_hand_linear_relu():
    torch.manual_seed(0)
    G = trace(SumLoss(nn.Sequential(nn.Linear(4, 3), nn.ReLU())), torch.randn(2, 4))
    nodes = by_name(G)
    ram = {name: d["cost_ram"] for name, (_, d) in nodes.items()}
    assert ram["addmm"] == 2 * 3 * F32  # the Linear's output
    assert ram["relu"] == 2 * 3 * F32
    assert ram["sum_1"] == F32  # the loss, a scalar
    assert ram["threshold_backward"] == 2 * 3 * F32  # gradient at the ReLU
    assert ram["mm"] == 3 * 4 * F32  # gradient of the weight
    assert ram["sum_2"] == 3 * F32  # gradient of the bias
    assert ram["t"] == 0 and ram["expand"] == 0 and ram["view"] == 0  # views of params/tangents
    assert nodes["addmm"][1]["cost_cpu"] == 2 * 2 * 3 * 4  # FLOPs of a (2x4)@(4x3) product
    assert nodes["relu"][1]["cost_cpu"] == BYTE_COST * 2 * 2 * 3 * F32  # bytes read + written
    assert G.graph["cost_unit"] == "flop"
    assert G.graph["resident_bytes"] == (3 * 4 + 3 + 2 * 4 + 1) * F32  # weight, bias, input, tangent
    assert not nodes["addmm"][1]["backward"] and nodes["mm"][1]["backward"]
    # the loss and both gradients stay alive until the sink, the last node
    sink = G.graph["order"][-1]
    assert G.nodes[sink]["cost_ram"] == 0 and G.out_degree(sink) == 0
    for name in ("sum_1", "mm", "sum_2"):
        assert G.has_edge(nodes[name][0], sink)


class Views(nn.Module):
    """Views, a transpose, in-place ops on intermediates and a reshape."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        h = self.lin(x).view(4, 2, 8).transpose(0, 1)
        h.relu_()
        h = h.reshape(8, 8) * 2
        h.add_(1.0)
        return h.sum()


def test_views_cost_zero_and_keep_their_base_alive():
    step = trace_step(Views(), torch.randn(8, 8))
    G = step.graph
    view_ops = ("aten.view.", "aten.transpose.", "aten.t.", "aten.expand.", "aten.detach.", "aten._unsafe_view.")
    views = [n for n, d in G.nodes(data=True) if d["op"].startswith(view_ops)]
    assert views and all(G.nodes[n]["cost_ram"] == 0 for n in views)
    assert all(n in step.graph for n in step.node_names) and step.sink not in step.node_names
    for n, d in G.nodes(data=True):
        if "alias_of" in d:  # an alias: its base must feed every reader of the alias
            assert d["cost_ram"] == 0
            for reader in G.successors(n):
                assert G.has_edge(d["alias_of"], reader)
    # every storage is counted once: the graph's bytes equal the distinct new storages
    from moccasin.torch.storage import storage_key, tensors_of

    seen, fresh = set(), 0
    for node in step.gm.graph.nodes:
        for t in tensors_of(node.meta.get("val")):
            key = storage_key(t)
            if key not in seen:
                seen.add(key)
                fresh += t.untyped_storage().nbytes() if node.op == "call_function" else 0
    assert sum(d["cost_ram"] for _, d in G.nodes(data=True)) == fresh


def test_no_recompute_marks_dropout_and_batchnorm():
    model = SumLoss(nn.Sequential(nn.Linear(6, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.5), nn.Linear(6, 2)))
    step = trace_step(model, torch.randn(5, 6))
    G = step.graph
    ops = {d["op"]: d["no_recompute"] for _, d in G.nodes(data=True)}
    # Dropout is recomputable by replaying its generator state; kept once on request.
    assert ops["aten.native_dropout.default"] is False
    assert [step.gm.graph.find_nodes(op="call_function", target=torch.ops.aten.native_dropout.default)[0].name] == sorted(step.replay)
    kept = trace_step(model, torch.randn(5, 6), replay_random=False)
    assert "random" in kept.no_recompute.values() and not kept.replay
    # Training-mode BatchNorm is recomputable (the emitter recomputes it without the running
    # statistics); its new running statistics stay single, its batch statistics do not.
    assert ops["aten._native_batch_norm_legit_functional.default"] is False
    bn_node = next(n for n in step.gm.graph.nodes if "batch_norm" in str(n.target))
    for user in bn_node.users:
        nid = step.ids[user.name]
        assert G.nodes[nid]["attached"] is True
        assert G.nodes[nid]["no_recompute"] is (user.args[1] >= 3)
    assert ops["aten.relu.default"] is False and ops["aten.addmm.default"] is False
    reasons = set(step.no_recompute.values())
    assert {"new running statistics (written back once)", "reads a buffer the step updates"} <= reasons
    assert step.mutated_buffers == ["inner.1.running_mean", "inner.1.running_var", "inner.1.num_batches_tracked"]
    assert step.num_fwd_outputs == 4  # three new buffer values and the loss


def test_round_trip_through_files(tmp_path):
    G = trace(SumLoss(nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU())), torch.randn(2, 2, 6, 6))
    path = tmp_path / "g.json"
    save_graph(G, path)
    H = load_graph(path)
    assert sorted(H.nodes) == sorted(G.nodes) and sorted(H.edges) == sorted(G.edges)
    assert H.graph["order"] == G.graph["order"] and H.graph["cost_unit"] == "flop"
    assert all(H.nodes[n] == G.nodes[n] for n in G)
    graph_from_data(json.loads(json.dumps(graph_to_data(G))))  # validates: ints, acyclic, topological order
    assert baseline(Problem.from_graph(H)).peak == baseline(Problem.from_graph(G)).peak


def test_predicted_baseline_peak_matches_measured_mlp():
    torch.manual_seed(0)
    model = SumLoss(nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.Tanh(), nn.Linear(128, 10)))
    x = torch.randn(32, 64)
    step = trace_step(model, x)
    predicted = baseline(Problem.from_graph(step.graph)).peak
    values = step.placeholder_values(model, x)
    measured = live_peak(lambda: run_graph(step.gm, values))
    assert measured > 0 and abs(predicted / measured - 1) <= 0.10


def test_joint_graph_gradients_equal_eager():
    torch.manual_seed(0)
    model = SumLoss(nn.Sequential(nn.Linear(5, 7), nn.GELU(), nn.LayerNorm(7), nn.Linear(7, 3)))
    x = torch.randn(4, 5)
    step = trace_step(model, x)
    outs = run_graph(step.gm, step.placeholder_values(model, x))
    model(x).backward()
    grads = outs[step.num_fwd_outputs:]
    for (name, kind, fqn), g in zip(step.placeholders, grads):
        if kind == "param":
            assert torch.equal(g, model.get_parameter(fqn).grad), fqn


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(11, 6)
        self.head = nn.Linear(6, 11, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, idx):
        return nn.functional.cross_entropy(self.head(self.emb(idx)), idx)


def test_tied_parameters_trace():
    step = trace_step(Tied(), torch.randint(0, 11, (7,)))
    params = [key for _, kind, key in step.placeholders if kind == "param"]
    assert params == ["emb.weight", "head.weight"]
    assert step.names_of_kind("input") == ["primals_3"] and len(step.names_of_kind("tangent")) == 1
    assert all(step.fx_node(i).name == name and step.ids[name] == i for i, name in step.node_names.items())
    assert set(step.forward_ids) | set(step.backward_ids) == set(step.node_names)
    assert moccasin.trace(Tied(), torch.randint(0, 11, (7,))).number_of_nodes() == step.graph.number_of_nodes()


def test_profile_measures_microseconds():
    G = trace(SumLoss(nn.Linear(4, 4)), torch.randn(3, 4), profile=True)
    assert G.graph["cost_unit"] == "us"
    sink = G.graph["order"][-1]
    assert all(isinstance(d["cost_cpu"], int) and d["cost_cpu"] >= 1 for n, d in G.nodes(data=True) if n != sink)


def test_unsupported_torch_names_supported_versions(monkeypatch):
    monkeypatch.setattr(_compat, "torch_release", lambda: "1.13")
    with pytest.raises(_compat.UnsupportedTorch, match="supports torch 2.13"):
        trace(nn.Linear(2, 2), torch.randn(1, 2))


def test_bad_input_is_one_line():
    with pytest.raises(moccasin.InputError, match="cannot trace Linear"):
        trace(nn.Linear(2, 2), torch.randn(3, 5))
    with pytest.raises(moccasin.InputError, match="nn.Module"):
        trace(lambda x: x, torch.randn(1))


MODELS_PY = """
import torch, torch.nn as nn
def net():
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 1))
def with_inputs():
    return net(), (torch.randn(3, 6),)
def dropped():
    return nn.Sequential(nn.Linear(6, 5), nn.Dropout(0.5), nn.Linear(5, 1))
"""


def test_cli_trace(tmp_path, capsys):
    from moccasin_cli.main import main

    src = tmp_path / "models.py"
    src.write_text(MODELS_PY)
    out = tmp_path / "g.json"
    assert main(["trace", f"{src}:net", "--input-shape", "4,6", "-o", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    G = load_graph(out)
    assert summary["nodes"] == G.number_of_nodes() and summary["baseline_peak"] > 0
    assert main(["trace", f"{src}:with_inputs", "-o", str(out)]) == 0
    assert "with_inputs_train" in capsys.readouterr().out
    assert main(["trace", f"{src}:net", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "pass --input-shape" in err and len(err.strip().splitlines()) == 1
    assert main(["trace", f"{src}:missing", "--input-shape", "4,6", "-o", str(out)]) == 1
    assert main(["trace", "nomodule", "--input-shape", "4,6", "-o", str(out)]) == 1
    # Dropout: recomputable (replayed) by default, kept once with --keep-random.
    for flags, kept in (([], False), (["--keep-random"], True)):
        assert main(["trace", f"{src}:dropped", "--input-shape", "4,6", "-o", str(out), *flags]) == 0
        G = load_graph(out)
        drop = next(n for n in G if G.nodes[n]["op"] == "aten.native_dropout.default")
        assert G.nodes[drop]["no_recompute"] is kept


def test_open_stack_keeps_the_export_compilable():
    import contextlib

    from torch._functorch.aot_autograd import aot_compile_joint_with_descriptors

    torch.manual_seed(0)
    model = SumLoss(nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1)))
    x = torch.randn(3, 4)
    with contextlib.ExitStack() as stack:
        step = trace_step(model, x, stack=stack, profile=True, repeats=1)
        compiled = aot_compile_joint_with_descriptors(step.joint)
    assert step.graph.graph["cost_unit"] == "us"
    params = [model.get_parameter(key) for _, kind, key in step.placeholders if kind == "param"]
    compiled(*params, x).backward()
    got = [p.grad.clone() for p in params]
    model.zero_grad()
    model(x).backward()
    assert all(torch.equal(g, p.grad) for g, p in zip(got, params))
