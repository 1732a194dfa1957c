"""measure_peak / MemoryMeter against peaks computed by hand."""

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from moccasin.torch import MemoryMeter, measure_peak  # noqa: E402

MiB = 1 << 20
F32 = 4


def mib_f32():
    return torch.empty(MiB // F32)  # exactly 1 MiB


def test_two_allocated_one_freed():
    def fn():
        a, b = mib_f32(), mib_f32()
        del a
        c = mib_f32()  # reuses the freed MiB: still 2 live
        return b, c

    assert measure_peak(fn) == 2 * MiB


def test_meter_current_and_free():
    with MemoryMeter() as m:
        a = mib_f32()
        b = mib_f32()
        assert m.current == 2 * MiB
        del a
        assert m.current == MiB
    assert m.peak == 2 * MiB and m.allocations == 2
    del b
    assert m.current == 0


def test_views_and_inplace_add_nothing():
    with MemoryMeter() as m:
        a = mib_f32()
        v = a.view(16, -1)
        t = v.t()
        s = a[: 1000]
        a.add_(1)
        v.mul_(2)
        torch.relu_(t)
        a.detach()
    assert m.peak == MiB and m.allocations == 1
    del a, v, t, s
    assert m.current == 0


def test_preexisting_tensors_do_not_count():
    x = mib_f32()
    with MemoryMeter() as m:
        x.add_(1)                      # in place on an outside tensor
        v = x.view(-1, 2)              # view of an outside tensor
        y = x + 1                      # a new tensor: counts
    assert m.peak == MiB and m.allocations == 1
    del v, y


def test_linear_forward_backward_by_hand():
    torch.manual_seed(0)
    lin = torch.nn.Linear(256, 128)                # W 128x256, b 128
    x = torch.randn(64, 256, requires_grad=True)
    g = torch.randn(64, 128)
    for p in (lin.weight, lin.bias, x):
        p.grad = torch.zeros_like(p)               # accumulate in place: grads stay outside

    def step():
        y = lin(x)                                 # addmm: 64x128
        y.backward(g)                              # dx 64x256, dW 128x256, db 128, all alive at once

    expected = F32 * (64 * 128 + 64 * 256 + 128 * 256 + 128)
    assert measure_peak(step) == expected


def test_backward_of_saved_activation_chain():
    # y = tanh(tanh(x)): the forward keeps both 1 MiB outputs (tanh backward saves its output).
    x = torch.randn(MiB // F32, requires_grad=True)
    x.grad = torch.zeros_like(x)

    def step():
        torch.tanh(torch.tanh(x)).sum().backward()

    with MemoryMeter() as m:
        step()
    # Peak at the outer tanh's backward: its saved output t2 and the inner's t1 (1 MiB each),
    # the new gradient (1 MiB), the loss and the seed gradient of ones (4 B each). t2 is
    # released before the inner gradient is made, so the peak stays 3 MiB + 8 B.
    assert m.peak == 3 * MiB + 2 * F32
    assert m.allocations == 6  # t1, t2, loss, ones, two gradients
    assert m.current == 0


def test_nested_meters_both_count():
    with MemoryMeter() as outer:
        a = mib_f32()
        with MemoryMeter() as inner:
            b = mib_f32()
            del a
    assert (outer.peak, inner.peak) == (2 * MiB, MiB)
    del b


def test_measure_peak_passes_arguments():
    assert measure_peak(lambda n, k=1: torch.empty(n * k), 10, k=3) == 30 * F32


def test_lazy_api_and_planning_side_never_imports_torch():
    import moccasin

    assert moccasin.measure_peak is measure_peak
    code = "import sys, moccasin, moccasin.solvers; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_zoo_step_is_seen_and_released():
    from moccasin.torch.zoo import load

    model, (x,) = load("resnet18", batch=2, image=32, width=4)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    with MemoryMeter() as m:
        loss = model(x).sum()
        saved = m.current
        loss.backward()
        del loss
    assert 0 < saved < m.peak  # the backward adds gradient buffers on top of saved activations
    assert m.current == 0      # every counted storage was freed: finalizers fired
