"""The chapter's worked example, straight from the engine."""
import zeroin


def seed_graph():
    w = zeroin.tensor(3.0, requires_grad=True, name="w")
    b = zeroin.tensor(4.0, requires_grad=True, name="b")
    x = 2 * w + b
    y = b + 1
    x.retain_grad()
    y.retain_grad()
    z = x * y
    return w, b, x, y, z


def test_seed_values_and_gradients():
    w, b, x, y, z = seed_graph()
    assert (x.item(), y.item(), z.item()) == (10.0, 5.0, 50.0)
    z.backward()
    assert w.grad.item() == 10.0
    assert b.grad.item() == 15.0
    assert x.grad.item() == 5.0
    assert y.grad.item() == 10.0


def test_nudges():
    w, b, x, y, z = seed_graph()
    assert (x.data + 0.1) * y.data == 50.5
    assert x.data * (y.data + 0.1) == 51.0
