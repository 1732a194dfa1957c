"""The model zoo: every model builds, trains one step with finite gradients, is deterministic."""

import pytest

torch = pytest.importorskip("torch")

from moccasin.torch.zoo import ZOO, load  # noqa: E402

# Tiny sizes: the architecture of each model, a fraction of its width and input.
TINY = {
    "resnet18": dict(batch=2, image=32, width=4),
    "resnet50": dict(batch=2, image=32, width=4),
    "mobilenet_v2": dict(batch=2, image=32, width_mult=0.25),
    "vgg16": dict(batch=2, image=32, width=2, hidden=8),
    "unet": dict(batch=2, image=16, base=4, depth=3),
    "gpt2": dict(batch=2, seq=8, vocab=32, d_model=16, n_layer=2, n_head=2),
}


def test_registry_is_complete():
    assert set(ZOO) == {"resnet18", "resnet50", "mobilenet_v2", "vgg16", "unet", "gpt2"}
    assert set(TINY) == set(ZOO)
    with pytest.raises(ValueError, match="resnet18"):
        load("alexnet")


@pytest.mark.parametrize("name", sorted(ZOO))
def test_forward_backward_finite(name):
    model, inputs = load(name, **TINY[name])
    assert isinstance(inputs, tuple) and model.training
    out = model(*inputs)
    assert torch.isfinite(out).all()
    out.sum().backward()
    params = list(model.parameters())
    assert params and all(p.grad is not None and torch.isfinite(p.grad).all() for p in params)


def test_output_shapes():
    assert load("resnet18", **TINY["resnet18"])[0](torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    m, (x,) = load("unet", **TINY["unet"])
    assert m(x).shape == (2, 2, 16, 16)
    m, (tok,) = load("gpt2", **TINY["gpt2"])
    assert tok.dtype == torch.int64 and m(tok).shape == (2, 8, 32)


@pytest.mark.parametrize("name", ["resnet18", "gpt2"])
def test_seeded_and_leaves_global_rng_alone(name):
    state = torch.get_rng_state()
    (m1, x1), (m2, x2) = load(name, seed=3, **TINY[name]), load(name, seed=3, **TINY[name])
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert torch.equal(x1[0], x2[0])
    m3, _ = load(name, seed=4, **TINY[name])
    assert not all(torch.equal(a, b) for a, b in zip(m1.parameters(), m3.parameters()))


def test_gpt2_head_is_tied_and_causal():
    model, (tok,) = load("gpt2", **TINY["gpt2"])
    assert model.head.weight is model.wte.weight
    names = [n for n, _ in model.named_parameters()]
    assert "head.weight" not in names  # one parameter, listed once
    # The tied weight's gradient has both the embedding's and the head's contribution.
    model.eval()
    model(tok).sum().backward()
    g_both = model.wte.weight.grad.clone()
    model.zero_grad()
    model.wte(tok).sum().backward()
    assert not torch.equal(g_both, model.wte.weight.grad)
    # Causal: changing the last token leaves the logits of earlier positions unchanged.
    with torch.no_grad():
        tok2 = tok.clone()
        tok2[:, -1] = (tok2[:, -1] + 1) % 32
        a, b = model(tok), model(tok2)
    assert torch.equal(a[:, :-1], b[:, :-1]) and not torch.equal(a[:, -1], b[:, -1])
