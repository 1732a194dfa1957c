"""The emitted graphs' own code (codegen.py): the same values as FX's code, the argument list
cleared, each value freed at its last use, every op seen by dispatch modes."""

import operator

import pytest

torch = pytest.importorskip("torch")
fx = torch.fx

from moccasin.torch.codegen import compile_boxed, python_source  # noqa: E402
from moccasin.torch.measure import MemoryMeter  # noqa: E402

A = torch.ops.aten


def _module(graph: fx.Graph, **attrs) -> fx.GraphModule:
    root = torch.nn.Module()
    for k, v in attrs.items():
        root.register_buffer(k, v)
    return fx.GraphModule(root, graph)


def test_same_values_as_fx_code_with_every_kind_of_argument():
    g = fx.Graph()
    x, y, unused = g.placeholder("x"), g.placeholder("y"), g.placeholder("unused")
    c = g.get_attr("const")
    a = g.call_function(A.add.Tensor, (x, c), {"alpha": 2})
    s = g.call_function(A.split.Tensor, (a, 2, 1))
    s0 = g.call_function(operator.getitem, (s, 0))
    s1 = g.call_function(operator.getitem, (s, 1))
    cat = g.call_function(A.cat.default, ([s1, s0, y], 1))
    cast = g.call_function(A._to_copy.default, (cat,), {"dtype": torch.float64, "device": torch.device("cpu")})
    clamped = g.call_function(A.clamp.default, (cast, float("-inf"), 0.5))
    summed = g.call_function(A.sum.dim_IntList, (clamped, [0, 1], True))
    g.call_function(A.mul.Tensor, (x, 3))  # a dead value: computed, dropped at once
    g.output((clamped, None, summed, s0))
    gm = _module(g, const=torch.full((3, 4), 0.25))
    args = [torch.randn(3, 4), torch.randn(3, 2), torch.randn(1)]
    expected = gm(*args)
    boxed = list(args)
    got = compile_boxed(gm)(boxed)
    assert boxed == []  # the boxed convention: the callee owns (and clears) the list
    assert len(got) == len(expected) == 4 and got[1] is None
    for a_, b_ in zip(got, expected):
        if b_ is not None:
            assert a_.dtype == b_.dtype and torch.equal(a_, b_)


def test_value_freed_after_last_use():
    """A chain x -> a -> b -> c of 1 MiB values: with frees at last use at most two of them
    are alive at once (an op's input and its output), never three."""
    g = fx.Graph()
    x = g.placeholder("x")
    a = g.call_function(A.mul.Tensor, (x, 2.0))
    b = g.call_function(A.add.Tensor, (a, 1.0))
    c = g.call_function(A.mul.Tensor, (b, 3.0))
    d = g.call_function(A.sum.default, (c,))
    g.output((d,))
    run = compile_boxed(_module(g))
    n = 2**18  # float32: 1 MiB
    args = [torch.ones(n)]
    with MemoryMeter() as meter:
        (out,) = run(args)
    assert out.item() == pytest.approx(9.0 * n)
    assert meter.peak == 2 * 4 * n  # an op's input and output; without frees a, b, c: 3 MiB
    assert meter.allocations == 4  # a, b, c and the sum: every op went through the dispatcher


def test_source_calls_ops_directly_and_names_no_torch_attribute_chain():
    g = fx.Graph()
    x = g.placeholder("x")
    g.output((g.call_function(A.relu.default, (x,)),))
    source, globals_ = python_source(_module(g))
    assert "torch.ops" not in source
    assert any(v is A.relu.default._op for v in globals_.values())
