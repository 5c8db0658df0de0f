"""Audit as a scientific-ML practitioner uses zeroin: physics-informed neural networks and
higher-order gradients. The code is written once and run with ``torch`` and with
``zeroin`` on the same weights (torch's, copied): Ben Moseley's harmonic-oscillator PINN
workshop (forward and inverse problem: ``u'' + mu u' + k u = 0``), a heat-equation PINN
on ``u(x, t)`` (Raissi-style: Adam, then LBFGS with a closure and ``strong_wolfe``), and
the torch.func recipes (per-sample gradients, jacrev / jacfwd / hessian, jvp / vjp
Hessian-vector products, the neural tangent kernel, ensembles with stack_module_state).
float64 throughout; results agree to 1e-10 or better. See docs/pinn.md."""
import numpy as np
import pytest

import zeroin
from _audit import close, np_of

torch = pytest.importorskip("torch")

LIBS = (torch, zeroin)


@pytest.fixture(autouse=True)
def _float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def fcn(sizes, seed=0):
    """The workshop's FCN (Linear + Tanh, a Linear at the end) in torch, and zeroin's copy."""
    torch.manual_seed(seed)
    pair = []
    for lib in LIBS:
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(lib.nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(lib.nn.Tanh())
        pair.append(lib.nn.Sequential(*layers))
    pair[1].load_state_dict({k: zeroin.tensor(v.detach().numpy().copy())
                             for k, v in pair[0].state_dict().items()})
    return pair


def same_params(a, b, tol=1e-10):
    for p, q in zip(a.parameters(), b.parameters()):
        close(q, p, tol)


# --- the harmonic oscillator (Moseley's workshop) -----------------------------------------

D, W0 = 2, 20
MU, K = 2 * D, W0 ** 2


def oscillator_loss(lib, pinn, mu=MU):
    """Boundary loss (u(0) = 1, u'(0) = 0) and physics loss, the workshop's weights."""
    ag = lib.autograd
    t_boundary = lib.tensor(0.).view(-1, 1).requires_grad_(True)
    t_physics = lib.linspace(0, 1, 30).view(-1, 1).requires_grad_(True)
    u = pinn(t_boundary)
    loss1 = (lib.squeeze(u) - 1) ** 2
    dudt = ag.grad(u, t_boundary, lib.ones_like(u), create_graph=True)[0]
    loss2 = (lib.squeeze(dudt) - 0) ** 2
    u = pinn(t_physics)
    dudt = ag.grad(u, t_physics, lib.ones_like(u), create_graph=True)[0]
    d2udt2 = ag.grad(dudt, t_physics, lib.ones_like(dudt), create_graph=True)[0]
    loss3 = lib.mean((d2udt2 + mu * dudt + K * u) ** 2)
    return loss1 + 1e-1 * loss2 + 1e-4 * loss3, d2udt2


def test_oscillator_losses_second_derivative_and_weight_gradients():
    pair = fcn([1, 32, 32, 32, 1])
    (lt, d2t), (lz, d2z) = [oscillator_loss(lib, m) for lib, m in zip(LIBS, pair)]
    assert lz.dtype == zeroin.float64 and d2z.shape == (30, 1)
    close(lz, lt, 1e-12)
    close(d2z, d2t, 1e-12)
    lt.backward()
    lz.backward()
    for p, q in zip(*[m.parameters() for m in pair]):
        close(q.grad, p.grad, 1e-12)


def test_oscillator_adam_and_inverse_problem():
    """Adam on the forward problem, then mu learnt as a Parameter (the workshop's part 2)."""
    pair = fcn([1, 16, 16, 1], seed=1)
    mus = [lib.nn.Parameter(lib.zeros(1, requires_grad=True)) for lib in LIBS]
    opts = [lib.optim.Adam(list(m.parameters()) + [mu], lr=1e-2)
            for lib, m, mu in zip(LIBS, pair, mus)]
    for _ in range(5):
        for lib, m, mu, opt in zip(LIBS, pair, mus, opts):
            opt.zero_grad()
            loss, _ = oscillator_loss(lib, m, mu)
            loss.backward()
            opt.step()
        close(mus[1].grad, mus[0].grad, 1e-10)
        close(mus[1], mus[0], 1e-12)
    same_params(*pair, 1e-12)


def test_oscillator_physics_loss_gradcheck():
    """The weight gradient of the physics loss (a third derivative of the network, via two
    create_graph passes) against central differences, and its own gradient (gradgradcheck)."""
    _, m = fcn([1, 4, 1], seed=2)
    t = zeroin.linspace(0, 1, 5).view(-1, 1)
    w = m[0].weight.detach().clone().requires_grad_()

    def physics(w):
        tt = t.detach().requires_grad_()
        u = zeroin.tanh(tt @ w.t() + m[0].bias) @ m[2].weight.t()
        du = zeroin.autograd.grad(u, tt, zeroin.ones_like(u), create_graph=True)[0]
        d2 = zeroin.autograd.grad(du, tt, zeroin.ones_like(du), create_graph=True)[0]
        return ((d2 + MU * du + K * u) ** 2).mean()
    assert zeroin.autograd.gradcheck(physics, (w,))
    assert zeroin.autograd.gradgradcheck(physics, (w,))


# --- the heat equation on u(x, t), Adam then LBFGS -------------------------------------------

def heat_loss(lib, net, x, t, kappa=0.1):
    """u_t = kappa u_xx on (x, t) points, u(x, 0) = sin(pi x); the inputs as two columns."""
    ag = lib.autograd
    u = net(lib.cat([x, t], dim=1))
    u_t = ag.grad(u, t, grad_outputs=lib.ones_like(u), create_graph=True, retain_graph=True)[0]
    u_x = ag.grad(outputs=[u], inputs=[x], grad_outputs=[lib.ones_like(u)],
                  create_graph=True, retain_graph=True, only_inputs=True)[0]
    u_xx = ag.grad(u_x.sum(), x, create_graph=True)[0]
    u0 = net(lib.cat([x, lib.zeros_like(t)], 1))
    return ((u_t - kappa * u_xx) ** 2).mean() + ((u0 - lib.sin(np.pi * x)) ** 2).mean(), u_xx


def heat_points():
    rs = np.random.RandomState(3)
    xt = rs.rand(40, 1), rs.rand(40, 1)
    return [[lib.tensor(a.copy()).requires_grad_(True) for a in xt] for lib in LIBS]


def test_heat_derivatives_and_third_order():
    pair = fcn([2, 20, 20, 1], seed=4)
    pts = heat_points()
    res = [heat_loss(lib, m, *p) for lib, m, p in zip(LIBS, pair, pts)]
    close(res[1][0], res[0][0], 1e-12)
    close(res[1][1], res[0][1], 1e-12)
    # u_xxx, and grad of a sum for a list of inputs (the shorthand PINN code uses)
    (pt, pz), (uxx_t, uxx_z) = pts, (res[0][1], res[1][1])
    u3t = torch.autograd.grad(uxx_t, pt[0], torch.ones_like(uxx_t), create_graph=True)[0]
    u3z = zeroin.autograd.grad(uxx_z, pz[0], zeroin.ones_like(uxx_z), create_graph=True)[0]
    close(u3z, u3t, 1e-12)
    gt = torch.autograd.grad(pair[0](torch.cat(pt, 1)).sum(), pt[::-1])
    gz = zeroin.autograd.grad(pair[1](zeroin.cat(pz, 1)).sum(), pz[::-1])
    assert len(gz) == 2
    for a, b in zip(gz, gt):
        close(a, b, 1e-12)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_adam_then_lbfgs_iterates(line_search_fn):
    """A few Adam steps, then LBFGS with a closure (Raissi's settings): the iterates,
    losses and LBFGS counters as torch's. Round-off in the two libraries' dot products
    grows over iterations (the Hessian estimate amplifies it), so a few only."""
    pair = fcn([2, 10, 10, 1], seed=5)
    pts = heat_points()
    adams = [lib.optim.Adam(m.parameters(), lr=1e-2) for lib, m in zip(LIBS, pair)]
    for _ in range(3):
        for lib, m, p, opt in zip(LIBS, pair, pts, adams):
            opt.zero_grad()
            heat_loss(lib, m, *p)[0].backward()
            opt.step()
    lbfgs = [lib.optim.LBFGS(m.parameters(), lr=1, max_iter=6, history_size=50,
                             tolerance_grad=1e-9, tolerance_change=np.finfo(float).eps,
                             line_search_fn=line_search_fn) for lib, m in zip(LIBS, pair)]
    for _ in range(2):
        losses = []
        for lib, m, p, opt in zip(LIBS, pair, pts, lbfgs):
            def closure(lib=lib, m=m, p=p, opt=opt):
                opt.zero_grad()
                loss = heat_loss(lib, m, *p)[0]
                loss.backward()
                return loss
            losses.append(opt.step(closure))
        close(losses[1], losses[0], 1e-10)
        same_params(*pair, 1e-10)
    st = [opt.state[opt._params[0]] for opt in lbfgs]
    assert st[1]["n_iter"] == st[0]["n_iter"] and st[1]["func_evals"] == st[0]["func_evals"]
    close(st[1]["d"], st[0]["d"], 1e-8)


# --- torch.func recipes --------------------------------------------------------------------

def funcs(lib):
    return lib.func if lib is zeroin else torch.func


# torch's forward mode (jacfwd, jvp) loads its decompositions through torch.jit.script
_TORCH_JIT = "ignore:`torch.jit.script` is deprecated:DeprecationWarning"


@pytest.mark.filterwarnings(_TORCH_JIT)
def test_per_sample_gradients_ntk_and_hessian_vector_products():
    pair = fcn([3, 16, 16, 2], seed=6)
    rs = np.random.RandomState(7)
    X, Y, v = rs.randn(8, 3), rs.randn(8, 2), rs.randn(3)
    out = []
    for lib, net in zip(LIBS, pair):
        fn = funcs(lib)
        p = {k: q.detach() for k, q in net.named_parameters()}
        x, y = lib.tensor(X), lib.tensor(Y)

        def loss(p, x, y, net=net, lib=lib, fn=fn):
            o = fn.functional_call(net, p, (x.unsqueeze(0),))
            return lib.nn.functional.mse_loss(o, y.unsqueeze(0))

        def f(p, x, net=net, fn=fn):
            return fn.functional_call(net, p, (x.unsqueeze(0),)).squeeze(0)

        def g(x, lib=lib):
            return lib.sin(x).sum() * (x ** 2).sum()
        per_sample = fn.vmap(fn.grad(loss), in_dims=(None, 0, 0))(p, x, y)
        jac = fn.vmap(fn.jacrev(f), (None, 0))(p, x)
        j1 = [j.flatten(2) for j in jac.values()]
        ntk = sum(lib.einsum("Naf,Mbf->NMab", a, a) for a in j1)
        x0, v0 = x[0], lib.tensor(v)
        out.append([per_sample, ntk, fn.hessian(g)(x0), fn.jacfwd(f, argnums=1)(p, x0),
                    fn.jvp(fn.grad(g), (x0,), (v0,))[1], fn.vjp(fn.grad(g), x0)[1](v0)[0]])
    for a, b in zip(out[1], out[0]):
        if isinstance(b, dict):
            for k in b:
                close(a[k], b[k], 1e-12)
        else:
            close(a, b, 1e-12)


def test_ensemble_with_stack_module_state():
    tms = [fcn([3, 8, 2], seed=s) for s in range(4)]
    X = np.random.RandomState(9).randn(5, 3)
    outs, stacked = [], []
    for k, lib in enumerate(LIBS):
        fn = funcs(lib)
        models = [pair[k] for pair in tms]
        params, buffers = fn.stack_module_state(models)
        base = models[0]

        def f(p, b, x, base=base, fn=fn):
            return fn.functional_call(base, (p, b), (x,))
        outs.append(fn.vmap(f, in_dims=(0, 0, None))(params, buffers, lib.tensor(X)))
        assert outs[-1].shape == (4, 5, 2) and outs[-1].requires_grad
        outs[-1].square().sum().backward()      # the stacked parameters learn
        stacked.append(params)
    close(outs[1], outs[0], 1e-12)
    for k in stacked[0]:
        close(stacked[1][k].grad, stacked[0][k].grad, 1e-12)


def test_torch_func_pinn_residual_and_its_weight_gradient():
    """Burgers' residual u_t + u u_x - nu u_xx with u(x, t) a scalar function of two
    numbers, vmap over the points of grad(grad(u)); then the gradient of the mean squared
    residual with respect to the weights (grad through vmap)."""
    pair = fcn([2, 12, 12, 1], seed=10)
    P = np.random.RandomState(11).rand(16, 2)
    res = []
    for lib, net in zip(LIBS, pair):
        fn = funcs(lib)
        p = {k: q.detach() for k, q in net.named_parameters()}

        def u(p, x, t, net=net, lib=lib, fn=fn):
            return fn.functional_call(net, p, (lib.stack([x, t]),)).squeeze()

        def r(p, x, t, u=u, fn=fn):
            ux = fn.grad(u, argnums=1)(p, x, t)
            uxx = fn.grad(fn.grad(u, argnums=1), argnums=1)(p, x, t)
            return fn.grad(u, argnums=2)(p, x, t) + u(p, x, t) * ux - 0.01 / np.pi * uxx
        x, t = lib.tensor(P[:, 0]), lib.tensor(P[:, 1])

        def loss(p, r=r, x=x, t=t, fn=fn):
            return (fn.vmap(r, (None, 0, 0))(p, x, t) ** 2).mean()
        res.append((fn.vmap(r, (None, 0, 0))(p, x, t), fn.grad(loss)(p)))
    close(res[1][0], res[0][0], 1e-12)
    for k in res[0][1]:
        close(res[1][1][k], res[0][1][k], 1e-12)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softplus", "silu", "gelu", "mish",
                                  "elu", "sin", "logsigmoid", "softsign"])
def test_activation_derivatives_to_third_order(name):
    """The activations PINNs use, differentiated three times (create_graph twice)."""
    x0 = np.linspace(-2.5, 2.5, 11) + 0.013
    w0 = np.arange(1, 12) / 7
    got = []
    for lib in LIBS:
        act = getattr(lib, name, None) or getattr(lib.nn.functional, name)
        x = lib.tensor(x0).requires_grad_(True)
        y = act(x) * lib.tensor(w0)
        d1 = lib.autograd.grad(y, x, lib.ones_like(y), create_graph=True)[0]
        d2 = lib.autograd.grad(d1, x, lib.ones_like(d1), create_graph=True)[0]
        d3 = lib.autograd.grad(d2.sum(), x)[0]
        got.append([np_of(d) for d in (d1, d2, d3)])
    for a, b in zip(got[1], got[0]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
