"""moccasin.torch.backend: torch.compile with Moccasin as AOTAutograd's partitioner."""

import copy

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from moccasin.torch import backend  # noqa: E402
from moccasin.torch.wrap import PlanError  # noqa: E402


class Net(nn.Module):
    """BatchNorm, then tanh(Linear) blocks with dropout: statistics, RNG and recomputation."""

    def __init__(self, n=5, d=32):
        super().__init__()
        self.bn = nn.BatchNorm1d(d)
        self.layers = nn.ModuleList(nn.Linear(d, d) for _ in range(n))
        self.drop = nn.Dropout(0.3)

    def forward(self, x):
        x = self.bn(x)
        for layer in self.layers:
            x = self.drop(torch.tanh(layer(x)))
        return x.sum()


def test_compiled_training_matches_eager_under_a_tight_budget():
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = Net()
    ref = copy.deepcopy(model)
    be = backend(budget=0.5, time_limit=5)
    compiled = torch.compile(model, backend=be)
    x = torch.randn(128, 32)
    o1 = torch.optim.SGD(model.parameters(), lr=0.05)
    o2 = torch.optim.SGD(ref.parameters(), lr=0.05)
    for i in range(3):
        torch.manual_seed(10 + i)
        compiled(x).backward()
        torch.manual_seed(10 + i)
        ref(x).backward()
        for p, q in zip(model.parameters(), ref.parameters()):
            assert torch.equal(p.grad, q.grad)
        o1.step(), o2.step(), o1.zero_grad(), o2.zero_grad()
    for b, c in zip(model.buffers(), ref.buffers()):
        assert torch.equal(b, c)
    (report,) = be.reports
    assert report["recomputations"] > 0 and report["predicted_peak_bytes"] <= report["budget_bytes"]


def test_budget_below_reach_is_a_clear_error():
    torch._dynamo.reset()
    compiled = torch.compile(Net(), backend=backend(budget=0.01, time_limit=2))
    with pytest.raises(Exception) as info:  # dynamo wraps it in BackendCompilerFailed
        compiled(torch.randn(16, 32)).backward()
    assert "PlanError" in str(info.value) and "no schedule" in str(info.value)
