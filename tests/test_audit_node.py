"""Audit of neural differential equations as learners write them by hand in PyTorch:
torchdiffeq's examples without the package (fixed-step Euler / RK4 and an adaptive
Dormand-Prince ``odeint``, the spiral demo, the adjoint method as a
``torch.autograd.Function``), FFJORD's continuous normalizing flow (exact and Hutchinson
divergence), Greydanus' Hamiltonian and Cranmer's Lagrangian neural networks, and
Euler-Maruyama / Milstein neural SDEs. Each is run with ``torch`` and with ``zeroin`` (``import
zeroin as torch``) on the same inputs and weights (copied from torch; random draws on
PyTorch's stream): trajectories, losses, gradients and optimiser steps agree in float64 to
1e-10. See docs/node.md."""
import numpy as np
import pytest
from _audit import (
    close,
    copy_weights,
    np_of,
    torch_defaults_back,  # noqa: F401  (autouse: torch's defaults back)
    torch_stream,
)

import zeroin

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)


@pytest.fixture(autouse=True)
def _float64():
    """torch in float64 for the test (zeroin's default); torch's random stream back as it
    was after it (the tests seed it), so later test files draw the same with or without
    this one (zeroin's goes back to NumPy's, ``torch_defaults_back``)."""
    state = torch.random.get_rng_state()
    torch.set_default_dtype(torch.float64)
    yield
    torch.random.set_rng_state(state)


def _t(lib, a, grad=False):
    t = lib.tensor(np.array(a, dtype=np.float64))
    return t.requires_grad_(True) if grad else t


def _same(res, tol=1e-10):
    """Each zeroin result beside torch's: the same shape and values."""
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape)
        assert np.isfinite(np_of(t)).all()
        close(z, t, tol)


# --- odeint written by hand -----------------------------------------------------------------

def odeint(lib, func, y0, t, method="rk4"):
    """torchdiffeq's fixed-grid solvers written out: one step per interval of ``t``."""
    ys, y = [y0], y0
    for i in range(len(t) - 1):
        t0, dt = t[i], t[i + 1] - t[i]
        if method == "euler":
            y = y + dt * func(t0, y)
        else:
            k1 = func(t0, y)
            k2 = func(t0 + dt / 2, y + dt / 2 * k1)
            k3 = func(t0 + dt / 2, y + dt / 2 * k2)
            k4 = func(t0 + dt, y + dt * k3)
            y = y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        ys.append(y)
    return lib.stack(ys)


# Dormand-Prince 5(4): nodes, stages and the two weight rows
C = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1]
A = [[], [1 / 5], [3 / 40, 9 / 40], [44 / 45, -56 / 15, 32 / 9],
     [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
     [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
     [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84]]
B5 = [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0]
B4 = [5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40]


def dopri5(lib, func, y0, t, rtol=1e-7, atol=1e-9):
    """Adaptive Dormand-Prince: the RMS error norm, step control on Python floats
    (``.item()``); returns the solution at ``t`` and the steps accepted / rejected."""
    ys, y, h, steps = [y0], y0, 0.05, [0, 0]
    for i in range(len(t) - 1):
        t_cur, t_end = t[i].item(), t[i + 1].item()
        while t_end - t_cur > 1e-12:
            h = min(h, t_end - t_cur)
            k = []
            for s in range(7):
                dy = sum((a * kj for a, kj in zip(A[s], k) if a != 0), lib.zeros_like(y))
                k.append(func(t_cur + C[s] * h, y + h * dy))
            y5 = y + h * sum(b * kj for b, kj in zip(B5, k) if b != 0)
            err = h * sum((b5 - b4) * kj for b5, b4, kj in zip(B5, B4, k))
            tol = atol + rtol * lib.max(y.abs(), y5.abs())
            err_norm = lib.sqrt(lib.mean((err / tol) ** 2)).item()
            if err_norm <= 1:
                t_cur, y = t_cur + h, y5
                steps[0] += 1
            else:
                steps[1] += 1
            h = h * min(10.0, max(0.2, 0.9 * max(err_norm, 1e-10) ** -0.2))
        ys.append(y)
    return lib.stack(ys), steps


def ode_func(lib, hidden=16, seed=0):
    """torchdiffeq's ode_demo ``ODEFunc``: ``net(y ** 3)``, counting evaluations."""
    nn = lib.nn

    class ODEFunc(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 2))
            for m in self.net.modules():
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, mean=0, std=0.1)
                    nn.init.constant_(m.bias, val=0)
            self.nfe = 0

        def forward(self, t, y):
            self.nfe += 1
            return self.net(y ** 3)
    return ODEFunc()


def func_pair(hidden=16, seed=0):
    torch.manual_seed(seed)
    tf = ode_func(torch, hidden)
    return {torch: tf, zeroin: copy_weights(tf, ode_func(zeroin, hidden))}


def spiral(lib, n=40):
    """The demo's true dynamics ``dy/dt = (y ** 3) @ A`` from ``y0 = [[2, 0]]``, by RK4."""
    true_y0 = lib.tensor([[2., 0.]])
    true_A = lib.tensor([[-0.1, 2.0], [-2.0, -0.1]])

    class Lambda(lib.nn.Module):
        def forward(self, t, y):
            return lib.mm(y ** 3, true_A)
    sub = 200 // n  # RK4 substeps: y ** 3 is stiff enough to blow up on a coarse grid
    fine = lib.linspace(0., 2., sub * (n - 1) + 1)
    with lib.no_grad():
        true_y = odeint(lib, Lambda(), true_y0, fine)[::sub]
    return fine[::sub], true_y


def test_fixed_step_solvers_trajectories_nfe_and_gradients():
    """Euler and RK4 over ``linspace``, ``torch.stack(ys)``; the NFE counter; backprop
    through the solver to the weights and the initial value."""
    fs, res = func_pair(), {}
    for lib in LIBS:
        t, true_y = spiral(lib)
        assert tuple(true_y.shape) == (40, 1, 2)
        f = fs[lib]
        y0 = _t(lib, [[1.5, -0.5]], grad=True)
        ye = odeint(lib, f, y0, t, "euler")
        yr = odeint(lib, f, y0, t, "rk4")
        assert f.nfe == 39 + 4 * 39
        loss = (ye - true_y).abs().mean() + ((yr - true_y) ** 2).mean()
        loss.backward()
        res[lib] = [true_y, ye, yr, loss, y0.grad, *[p.grad for p in f.parameters()]]
    _same(res)


def test_dopri5_adaptive_steps_and_gradients():
    """dopri5 with the RMS error norm and ``.item()`` step control: the same accepted and
    rejected steps, the same solution, which matches RK4 on a fine grid; gradients."""
    fs, res = func_pair(hidden=8, seed=1), {}
    for lib in LIBS:
        t, true_y = spiral(lib, 5)
        f = fs[lib]
        y0 = _t(lib, [[2., 0.]], grad=True)
        ys, steps = dopri5(lib, f, y0, t)
        assert steps[0] > 4
        with lib.no_grad():
            fine = odeint(lib, f, y0, lib.linspace(0., 2., 801))[::200]
        close(ys, fine, 1e-7)
        loss = ((ys - true_y) ** 2).sum()
        loss.backward()
        res[lib] = [ys, loss, y0.grad, *[p.grad for p in f.parameters()]]
        res[lib].append(lib.tensor(steps + [f.nfe]))
    _same(res)


def get_batch(lib, true_y, t, rs, batch_time=10, batch_size=8):
    """The demo's ``get_batch``: random start points, ``torch.from_numpy`` indices."""
    s = lib.from_numpy(rs.choice(np.arange(len(t) - batch_time, dtype=np.int64), batch_size,
                                 replace=False))
    batch_y0 = true_y[s]  # (M, D)
    batch_t = t[:batch_time]  # (T)
    batch_y = lib.stack([true_y[s + i] for i in range(batch_time)], dim=0)  # (T, M, D)
    return batch_y0, batch_t, batch_y


@pytest.mark.parametrize("opt", ["RMSprop", "Adam"])
def test_spiral_demo_training_steps(opt):
    fs, res = func_pair(seed=2), {}
    for lib in LIBS:
        t, true_y = spiral(lib)
        f, rs = fs[lib], np.random.RandomState(0)
        optimizer = getattr(lib.optim, opt)(f.parameters(), lr=1e-2)
        losses = []
        for itr in range(4):
            optimizer.zero_grad()
            batch_y0, batch_t, batch_y = get_batch(lib, true_y, t, rs)
            pred_y = odeint(lib, f, batch_y0, batch_t)
            loss = lib.mean(lib.abs(pred_y - batch_y))
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        with lib.no_grad():
            pred_y = odeint(lib, f, true_y[0], t)
        res[lib] = [lib.tensor(losses), pred_y, *f.parameters()]
    _same(res)


# --- the adjoint method -------------------------------------------------------------------------

def rk4_step(func, t, h, state):
    """One RK4 step on a tuple of tensors."""
    def add(s, k, c):
        return tuple(a + c * b for a, b in zip(s, k))
    k1 = func(t, state)
    k2 = func(t + h / 2, add(state, k1, h / 2))
    k3 = func(t + h / 2, add(state, k2, h / 2))
    k4 = func(t + h, add(state, k3, h))
    return tuple(s + h / 6 * (a + 2 * b + 2 * c + d)
                 for s, a, b, c, d in zip(state, k1, k2, k3, k4))


def odeint_adjoint_fn(lib, substeps=20):
    """The adjoint method as learners write it (torchdiffeq's old ``OdeintAdjointMethod``):
    forward without a graph, backward integrates ``(y, a, adj_params)`` back in time."""
    def solve(func, y0, t):
        ys, y = [y0], y0
        for i in range(len(t) - 1):
            h = (t[i + 1] - t[i]).item() / substeps
            for j in range(substeps):
                y, = rk4_step(lambda s, st: (func(s, st[0]),), t[i].item() + j * h, h, (y,))
            ys.append(y)
        return lib.stack(ys)

    class OdeintAdjoint(lib.autograd.Function):
        @staticmethod
        def forward(ctx, y0, t, flat_params, func):
            with lib.no_grad():
                ys = solve(func, y0, t)
            ctx.func = func
            ctx.save_for_backward(t, ys, flat_params)
            return ys

        @staticmethod
        def backward(ctx, grad_ys):
            func = ctx.func
            t, ys, flat_params = ctx.saved_tensors
            params = tuple(func.parameters())

            def augmented_dynamics(s, state):
                y, a = state[0], state[1]
                with lib.enable_grad():
                    y = y.detach().requires_grad_(True)
                    f = func(s, y)
                    vjp_y, *vjp_params = lib.autograd.grad(
                        f, (y,) + params, -a, allow_unused=True, retain_graph=True)
                vjp_params = [lib.zeros_like(p) if v is None else v
                              for v, p in zip(vjp_params, params)]
                return (f, vjp_y, lib.cat([v.reshape(-1) for v in vjp_params]))

            with lib.no_grad():
                a, adj_p = grad_ys[-1], lib.zeros_like(flat_params)
                for i in range(len(t) - 1, 0, -1):
                    h = (t[i - 1] - t[i]).item() / substeps
                    state = (ys[i], a, adj_p)
                    for j in range(substeps):
                        state = rk4_step(augmented_dynamics, t[i].item() + j * h, h, state)
                    a, adj_p = state[1] + grad_ys[i - 1], state[2]
            return a, None, adj_p, None

    def odeint_adjoint(func, y0, t):
        flat_params = lib.cat([p.reshape(-1) for p in func.parameters()])
        return OdeintAdjoint.apply(y0, t, flat_params, func)
    return odeint_adjoint, solve


def test_adjoint_gradients_equal_backprop_through_the_solver():
    """The adjoint's gradients (``autograd.grad(f, (y,) + params, -a, allow_unused=True)``
    under ``enable_grad``, flat parameters) equal backprop through the same RK4 solver to
    the solver's accuracy, in both libraries, and zeroin's equal torch's to 1e-10."""
    fs, res = func_pair(hidden=8, seed=3), {}
    for lib in LIBS:
        t, true_y = spiral(lib, 6)
        f = fs[lib]
        odeint_adjoint, solve = odeint_adjoint_fn(lib)
        out = []
        for use_adjoint in (True, False):
            f.zero_grad()
            y0 = _t(lib, [[2., 0.], [1., 1.]], grad=True)
            ys = odeint_adjoint(f, y0, t) if use_adjoint else solve(f, y0, t)
            loss = ((ys - true_y) ** 2).mean() + ys[-1].sum()
            loss.backward()
            out.append([ys, loss, y0.grad, *[p.grad.clone() for p in f.parameters()]])
        for a, b in zip(*out):
            close(a, b, 1e-8)
        res[lib] = out[0]
    _same(res)


# --- FFJORD: a continuous normalizing flow --------------------------------------------------------

def cnf_net(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 16), nn.Softplus(),
                         nn.Linear(16, 2))


def cnf_dynamics(lib, net, e=None):
    """FFJORD's ``odefunc`` on ``(z, delta_logp)``: ``dz = net([z, t])`` and
    ``d delta_logp = -div``, the divergence exact (one ``grad`` a dimension) or, given a
    noise ``e``, Hutchinson's ``e^T (dz/dz) e``."""
    def f(t, state):
        z = state[0]
        if not z.requires_grad:
            z = z.requires_grad_(True)
        dz = net(lib.cat([z, lib.full((z.shape[0], 1), t)], 1))
        if e is None:
            div = sum(lib.autograd.grad(dz[:, i].sum(), z, create_graph=True)[0][:, i]
                      for i in range(z.shape[1]))
        else:
            e_dzdx = lib.autograd.grad(dz, z, e, create_graph=True)[0]
            div = (e_dzdx * e).sum(1)
        return dz, -div.view(-1, 1)
    return f


def cnf_log_prob(lib, net, x, e=None, steps=4):
    """``log p(x) = log p_base(z(1)) - delta_logp(1)``, RK4 from t = 0 to 1."""
    state, h = (x, lib.zeros(x.shape[0], 1)), 1.0 / steps
    for i in range(steps):
        state = rk4_step(cnf_dynamics(lib, net, e), i * h, h, state)
    z1, delta_logp = state
    base = lib.distributions.MultivariateNormal(lib.zeros(2), lib.eye(2))
    close(base.log_prob(z1), lib.distributions.Normal(0.0, 1.0).log_prob(z1).sum(1), 1e-12)
    return base.log_prob(z1) - delta_logp.view(-1), z1


def two_moons(rs, n):
    a = rs.uniform(0, np.pi, n)
    up = rs.rand(n) < 0.5
    x = np.where(up, np.cos(a), 1 - np.cos(a))
    y = np.where(up, np.sin(a), 0.5 - np.sin(a))
    return np.stack([x, y], 1) + 0.05 * rs.normal(size=(n, 2))


def test_cnf_exact_and_hutchinson_log_density_and_the_jacobian_trace():
    """The exact log-density change; Hutchinson's estimate with ``torch.randn_like`` on
    PyTorch's stream, whose mean over many draws approaches the exact one; gradients."""
    torch_stream()
    x0 = two_moons(np.random.RandomState(0), 10)
    torch.manual_seed(4)
    tn = cnf_net(torch)
    nets, res = {torch: tn, zeroin: copy_weights(tn, cnf_net(zeroin))}, {}
    for lib in LIBS:
        net, x = nets[lib], _t(lib, x0)
        lib.manual_seed(0)
        logp, z1 = cnf_log_prob(lib, net, x)
        logp.mean().backward()
        grads = [p.grad.clone() for p in net.parameters()]
        # the dynamics' trace at t = 0 against the full Jacobian's
        xx = x.clone().requires_grad_(True)
        jac = lib.autograd.functional.jacobian(
            lambda v, net=net, lib=lib: net(lib.cat([v, lib.zeros(1)]).view(1, 3)).view(2), xx[0])
        _, ndiv = cnf_dynamics(lib, net)(0.0, (xx,))
        close(-ndiv[0, 0], lib.trace(jac), 1e-12)
        e = lib.randn_like(x)
        logp_h, _ = cnf_log_prob(lib, net, x, e)
        net.zero_grad()
        logp_h.mean().backward()
        res[lib] = [logp, z1, logp_h, e, *grads, *[p.grad for p in net.parameters()]]
    _same(res)
    # Hutchinson is unbiased: the mean over many draws (rows) approaches the exact value
    x = _t(zeroin, x0[:2]).repeat(2000, 1)
    est, _ = cnf_log_prob(zeroin, nets[zeroin], x, zeroin.randn_like(x), steps=1)
    exact, _ = cnf_log_prob(zeroin, nets[zeroin], x[:2], steps=1)
    assert (est.view(2000, 2).mean(0) - exact).abs().max().item() < 0.05


def test_cnf_training_steps_with_hutchinson_noise_each_step():
    torch_stream()
    x0 = two_moons(np.random.RandomState(1), 16)
    torch.manual_seed(5)
    tn = cnf_net(torch)
    nets, res = {torch: tn, zeroin: copy_weights(tn, cnf_net(zeroin))}, {}
    for lib in LIBS:
        net, x = nets[lib], _t(lib, x0)
        optimizer = lib.optim.Adam(net.parameters(), lr=1e-2)
        lib.manual_seed(1)
        losses = []
        for itr in range(3):
            optimizer.zero_grad()
            logp, _ = cnf_log_prob(lib, net, x, lib.randn_like(x), steps=2)
            loss = -logp.mean()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        res[lib] = [lib.tensor(losses), *net.parameters()]
    _same(res)


# --- Hamiltonian neural networks (Greydanus et al.) -----------------------------------------------

def mlp(lib, din, dout, hidden=32, act="Tanh"):
    nn = lib.nn
    return nn.Sequential(nn.Linear(din, hidden), getattr(nn, act)(), nn.Linear(hidden, hidden),
                         getattr(nn, act)(), nn.Linear(hidden, dout))


def permutation_tensor(lib, n):
    """Greydanus' ``M``: ``[[0, I], [-I, 0]]``."""
    M = lib.eye(n)
    return lib.cat([M[n // 2:], -1 * M[:n // 2]])


def hnn_field(lib, model, x, how="cat"):
    """The symplectic gradient of the learned ``H``: ``(dH/dp, -dH/dq)``."""
    H = model(x)
    dH = lib.autograd.grad(H.sum(), x, create_graph=True)[0]
    if how == "cat":
        return lib.cat([dH[:, 1:], -dH[:, :1]], 1)
    if how == "perm":
        M = lib.eye(2)[[1, 0]] * lib.tensor([[1.], [-1.]])
        return dH @ M.t()
    return dH @ permutation_tensor(lib, 2).t()


def leapfrog(lib, model, x0, dt, n):
    """Leapfrog (kick-drift-kick) on the learned ``H``; no graph kept between steps."""
    def dH(q, p):
        x = lib.cat([q, p], 1).detach().requires_grad_(True)
        return lib.autograd.grad(model(x).sum(), x)[0]
    q, p, traj = x0[:, :1], x0[:, 1:], [x0]
    for _ in range(n):
        p = p - dt / 2 * dH(q, p)[:, :1]
        q = q + dt * dH(q, p)[:, 1:]
        p = p - dt / 2 * dH(q, p)[:, :1]
        traj.append(lib.cat([q, p], 1))
    return lib.stack(traj)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_hnn_symplectic_field_adam_steps_and_leapfrog(dtype, f32):
    """In float64 and in float32 (Greydanus' dtype: there to float resolution)."""
    zeroin.set_default_dtype(getattr(zeroin, dtype))
    torch.set_default_dtype(getattr(torch, dtype))
    tol = 1e-10 if dtype == "float64" else 2e-6
    rs = np.random.RandomState(2)
    x0 = rs.uniform(-1, 1, (24, 2)).astype(dtype)
    dx0 = (np.stack([x0[:, 1], -x0[:, 0]], 1)
           + 0.01 * rs.normal(size=(24, 2))).astype(dtype)  # a mass on a spring
    torch.manual_seed(6)
    tm = mlp(torch, 2, 1)
    models, res = {torch: tm, zeroin: copy_weights(tm, mlp(zeroin, 2, 1))}, {}
    for lib in LIBS:
        model, dxdt = models[lib], lib.tensor(dx0)
        x = lib.tensor(x0, requires_grad=True)
        fields = [hnn_field(lib, model, x, how) for how in ("cat", "perm", "greydanus")]
        assert fields[0].dtype == getattr(lib, dtype)
        close(fields[1], fields[0], 1e-15)
        close(fields[2], fields[0], 1e-15)
        optimizer = lib.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
        losses = []
        for step in range(5):
            optimizer.zero_grad()
            loss = ((hnn_field(lib, model, x) - dxdt) ** 2).mean()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        traj = leapfrog(lib, model, lib.tensor([[1., 0.], [0.3, -0.5]]), 0.1, 20)
        res[lib] = [fields[0], lib.tensor(losses), x.grad, traj, *model.parameters()]
    _same(res, tol)
    # leapfrog on the true H = (q^2 + p^2) / 2 keeps the energy
    traj = leapfrog(zeroin, lambda v: (v ** 2).sum(1, keepdim=True) / 2,
                    _t(zeroin, [[1., 0.]]), 0.1, 100)
    energy = (traj ** 2).sum(-1) / 2
    assert float((energy - 0.5).abs().max()) < 3e-3


# --- Lagrangian neural networks (Cranmer et al.) --------------------------------------------------

def lnn_accel(lib, lagrangian, q, qt, how="functional"):
    """The Euler-Lagrange acceleration ``qtt = pinv(d2L/dqt2) (dL/dq - d2L/dqt dq qt)`` of
    one state, the Hessian and gradient by ``torch.autograd.functional`` (with
    ``create_graph``) or by ``torch.func.hessian`` / ``jacrev``."""
    n, x = q.shape[0], lib.cat([q, qt])
    if how == "functional":
        H = lib.autograd.functional.hessian(lagrangian, x, create_graph=True)
        J = lib.autograd.functional.jacobian(lagrangian, x, create_graph=True)
    elif how == "forward-mode":  # PyTorch's forward-over-reverse Hessian (no create_graph)
        H = lib.autograd.functional.hessian(lagrangian, x, vectorize=True,
                                            outer_jacobian_strategy="forward-mode")
        J = lib.autograd.functional.jacobian(lagrangian, x, vectorize=True,
                                             strategy="forward-mode")
    else:
        H, J = lib.func.hessian(lagrangian)(x), lib.func.jacrev(lagrangian)(x)
    A, B, C = J[:n], H[n:, n:], H[n:, :n]
    return lib.linalg.pinv(B) @ (A - C @ qt)


def test_lnn_acceleration_of_a_known_lagrangian():
    """Two coupled springs, ``L = |qt|^2 / 2 - |q|^2 / 2 - k (q1 - q2)^2 / 2``: the formula
    gives ``qtt = -q - k (q1 - q2) (1, -1)`` in both libraries, both ways."""
    rs = np.random.RandomState(3)
    q0, qt0, k = rs.normal(size=2), rs.normal(size=2), 0.7
    want = -q0 - k * (q0[0] - q0[1]) * np.array([1., -1.])
    for lib in LIBS:
        def lagrangian(x):
            q, qt = x[:2], x[2:]
            return (qt ** 2).sum() / 2 - (q ** 2).sum() / 2 - k * (q[0] - q[1]) ** 2 / 2
        for how in ("functional", "forward-mode", "func"):
            close(lnn_accel(lib, lagrangian, _t(lib, q0), _t(lib, qt0), how), want, 1e-12)


def test_lnn_batch_by_loop_and_vmap_loss_gradients_and_adam_steps():
    rs = np.random.RandomState(4)
    q0, qt0, qtt0 = rs.normal(size=(6, 2)), rs.normal(size=(6, 2)), rs.normal(size=(6, 2))
    torch.manual_seed(7)
    tm = mlp(torch, 4, 1, hidden=16, act="Softplus")
    models, res = {torch: tm, zeroin: copy_weights(tm, mlp(zeroin, 4, 1, 16, "Softplus"))}, {}
    for lib in LIBS:
        model = models[lib]
        q, qt, qtt = _t(lib, q0), _t(lib, qt0), _t(lib, qtt0)

        def lagrangian(x, model=model):
            return model(x).squeeze(-1)

        def accel(a, b, lib=lib, lagrangian=lagrangian):
            return lnn_accel(lib, lagrangian, a, b, "func")
        loop = lib.stack([lnn_accel(lib, lagrangian, q[i], qt[i]) for i in range(6)])
        batched = lib.func.vmap(accel)(q, qt)
        close(batched, loop, 1e-10)
        optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
        losses = []
        for step in range(3):
            optimizer.zero_grad()
            pred = lib.stack([lnn_accel(lib, lagrangian, q[i], qt[i]) for i in range(6)])
            loss = ((pred - qtt) ** 2).mean()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.zero_grad()
        lib.func.vmap(accel)(q, qt).sum().backward()
        *grads, last_bias = [p.grad for p in model.parameters()]
        assert last_bias is None  # L's constant does not move the acceleration
        res[lib] = [loop, lib.tensor(losses), *model.parameters(), *grads]
    _same(res, 1e-9)


def test_pinv_gradient_against_finite_differences_and_torch():
    """``linalg.pinv`` of a symmetric mass matrix (the LNN's ``d2L/dqt2``) and of a
    rectangular one: values and gradients beside torch's, and gradcheck."""
    rs = np.random.RandomState(5)
    a0, r0 = rs.normal(size=(3, 3)), rs.normal(size=(3, 2))
    res = {}
    for lib in LIBS:
        a, r = _t(lib, a0 @ a0.T + np.eye(3), grad=True), _t(lib, r0, grad=True)
        w = _t(lib, r0.T, grad=True)
        pa, pr, pw = lib.linalg.pinv(a), lib.linalg.pinv(r), lib.linalg.pinv(w)
        (pa.sin().sum() + (pr ** 2).sum() + (pw ** 3).sum()).backward()
        res[lib] = [pa, pr, pw, a.grad, r.grad, w.grad]
    _same(res)
    for m in (r0, r0.T):  # tall and wide
        assert zeroin.autograd.gradcheck(zeroin.linalg.pinv, (_t(zeroin, m, grad=True),))


# --- neural SDEs: Euler-Maruyama and Milstein -----------------------------------------------------

def sde_nets(lib):
    nn = lib.nn
    drift = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    diffusion = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2), nn.Softplus())
    return drift, diffusion


def sde_solve(lib, drift, diffusion, y0, dt, n, milstein=False):
    """Euler-Maruyama (``y + f dt + g dW``, ``dW = randn_like(y) * dt ** 0.5``) or Milstein
    for diagonal noise, adding ``g g' (dW^2 - dt) / 2`` with ``g'_i = dg_i/dy_i`` by autograd."""
    y, ys = y0, [y0]
    for _ in range(n):
        f, g = drift(y), diffusion(y)
        dW = lib.randn_like(y) * dt ** 0.5
        y_next = y + f * dt + g * dW
        if milstein:
            dg = lib.stack([lib.autograd.grad(g[:, i].sum(), y, create_graph=True)[0][:, i]
                            for i in range(y.shape[1])], 1)
            y_next = y_next + 0.5 * g * dg * (dW ** 2 - dt)
        y = y_next
        ys.append(y)
    return lib.stack(ys)


@pytest.mark.parametrize("milstein", [False, True])
def test_neural_sde_paths_endpoint_losses_gradients_and_steps(milstein):
    torch_stream()
    rs = np.random.RandomState(6)
    target0 = rs.normal(loc=[1.0, -0.5], scale=0.3, size=(32, 2))
    torch.manual_seed(8)
    tnets = sde_nets(torch)
    znets = [copy_weights(t, z) for t, z in zip(tnets, sde_nets(zeroin))]
    res = {}
    for lib, (drift, diffusion) in zip(LIBS, (tnets, znets)):
        params = list(drift.parameters()) + list(diffusion.parameters())
        optimizer = lib.optim.Adam(params, lr=1e-2)
        target = _t(lib, target0)
        lib.manual_seed(2)
        losses = []
        for step in range(2):
            optimizer.zero_grad()
            y0 = lib.zeros(32, 2).requires_grad_(True)
            ys = sde_solve(lib, drift, diffusion, y0, 0.05, 10, milstein)
            end = ys[-1]
            mse = lib.nn.functional.mse_loss(end, target)
            nll = -lib.distributions.Normal(end.mean(0), end.std(0)).log_prob(target).mean()
            cov = lib.cov(end.T) + 1e-3 * lib.eye(2)
            mvn = lib.distributions.MultivariateNormal(end.mean(0), covariance_matrix=cov)
            loss = mse + 0.1 * nll - 0.1 * mvn.log_prob(target).mean()
            loss.backward()
            res.setdefault(lib, []).extend([ys, y0.grad, *[p.grad.clone() for p in params]])
            optimizer.step()
            losses.append(loss.item())
        res[lib] += [lib.tensor(losses), *params]
    _same(res)


def test_torchdiffeq_nextafter_stitched_gradient_and_gradients_in_time():
    """torchdiffeq's ``_nextafter`` (``torch.nextafter`` under ``no_grad``, the gradient
    stitched back to ``t`` by an ``autograd.Function``) to evaluate just after each grid
    point; dynamics that read ``t``, and the loss's gradient with respect to the grid."""
    torch.manual_seed(9)
    nets = {torch: cnf_net(torch)}
    nets[zeroin] = copy_weights(nets[torch], cnf_net(zeroin))
    res = {}
    for lib in LIBS:
        class _StitchGradient(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x1, out):
                return out

            @staticmethod
            def backward(ctx, grad_out):
                return grad_out, None

        def _nextafter(x1, x2, lib=lib, stitch=_StitchGradient):
            with lib.no_grad():
                out = lib.nextafter(x1, x2)
            return stitch.apply(x1, out)

        def func(t, y, net=nets[lib], lib=lib):
            return net(lib.cat([y, t * lib.ones_like(y[:, :1])], 1))

        t = lib.linspace(0., 1., 6).requires_grad_(True)
        y0 = _t(lib, [[0.5, -1.0], [1.0, 0.2]])
        after = _nextafter(t, t + 1)
        assert after.requires_grad and (after > t).all()
        direct = lib.nextafter(t, lib.tensor([-1., 2., 2., -1., 2., 1.]))
        (direct * lib.arange(6.)).sum().backward()
        res[lib] = [direct, t.grad.clone()]
        t.grad = None
        inplace = lib.linspace(0., 1., 6)
        inplace.nextafter_(lib.tensor(-1.))
        res[lib].append(inplace)
        np.testing.assert_array_equal(np_of(after), np.nextafter(np_of(t), np.inf))
        ys = odeint(lib, lambda s, y, f=func: f(_nextafter(s, s + 1), y), y0, t)
        (ys ** 2).sum().backward()
        res[lib] += [after, ys, t.grad]
    _same(res)


# --- torchdiffeq's examples/cnf.py: a hypernetwork CNF on two circles -----------------------------

def cnf_example(lib, in_out_dim=2, hidden_dim=8, width=4):
    """The example's ``HyperNetwork`` (weights of the dynamics as a function of ``t``) and
    ``CNF`` (``set_grad_enabled(True)``, ``z.requires_grad_(True)``, the exact trace)."""
    nn = lib.nn

    def trace_df_dz(f, z):
        sum_diag = 0.
        for i in range(z.shape[1]):
            sum_diag += lib.autograd.grad(f[:, i].sum(), z, create_graph=True)[0] \
                .contiguous()[:, i].contiguous()
        return sum_diag.contiguous()

    class HyperNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocksize = width * in_out_dim
            self.fc1 = nn.Linear(1, hidden_dim)
            self.fc2 = nn.Linear(hidden_dim, hidden_dim)
            self.fc3 = nn.Linear(hidden_dim, 3 * self.blocksize + width)

        def forward(self, t):
            params = t.reshape(1, 1)
            params = lib.tanh(self.fc1(params))
            params = lib.tanh(self.fc2(params))
            params = self.fc3(params).reshape(-1)
            W = params[:self.blocksize].reshape(width, in_out_dim, 1)
            U = params[self.blocksize:2 * self.blocksize].reshape(width, 1, in_out_dim)
            G = params[2 * self.blocksize:3 * self.blocksize].reshape(width, 1, in_out_dim)
            U = U * lib.sigmoid(G)
            B = params[3 * self.blocksize:].reshape(width, 1, 1)
            return [W, B, U]

    class CNF(nn.Module):
        def __init__(self):
            super().__init__()
            self.hyper_net = HyperNetwork()

        def forward(self, t, states):
            z, batchsize = states[0], states[0].shape[0]
            with lib.set_grad_enabled(True):
                z.requires_grad_(True)
                W, B, U = self.hyper_net(t)
                Z = lib.unsqueeze(z, 0).repeat(width, 1, 1)
                h = lib.tanh(lib.matmul(Z, W) + B)
                dz_dt = lib.matmul(h, U).mean(0)
                dlogp_z_dt = -trace_df_dz(dz_dt, z).view(batchsize, 1)
            return (dz_dt, dlogp_z_dt)
    return CNF()


def make_circles(rs, n, noise=0.06, factor=0.5):
    """sklearn's ``make_circles``, written out."""
    n_out = n // 2
    a_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    a_in = np.linspace(0, 2 * np.pi, n - n_out, endpoint=False)
    x = np.concatenate([np.stack([np.cos(a_out), np.sin(a_out)], 1),
                        factor * np.stack([np.cos(a_in), np.sin(a_in)], 1)])
    return x + noise * rs.normal(size=x.shape)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torchdiffeq_cnf_example_backwards_in_time_and_adam_steps(dtype, f32):
    """From data at t1 = 1 back to t0 = 0 (RK4 with a negative step on the tuple state),
    ``MultivariateNormal(loc, covariance_matrix=0.1 I)``, ``-logp_x.mean(0)``, Adam."""
    zeroin.set_default_dtype(getattr(zeroin, dtype))
    torch.set_default_dtype(getattr(torch, dtype))
    tol = 1e-10 if dtype == "float64" else 2e-6
    rs = np.random.RandomState(7)
    batches = [make_circles(rs, 16).astype(dtype) for _ in range(3)]
    torch.manual_seed(10)
    funcs = {torch: cnf_example(torch)}
    funcs[zeroin] = copy_weights(funcs[torch], cnf_example(zeroin))
    res = {}
    for lib in LIBS:
        func = funcs[lib]
        optimizer = lib.optim.Adam(func.parameters(), lr=3e-2)
        p_z0 = lib.distributions.MultivariateNormal(
            loc=lib.tensor([0.0, 0.0]), covariance_matrix=lib.tensor([[0.1, 0.0], [0.0, 0.1]]))
        losses = []
        for points in batches:
            optimizer.zero_grad()
            x = lib.from_numpy(points).to(lib.get_default_dtype())
            logp_diff_t1 = lib.zeros(x.shape[0], 1).to(x)
            state, t1, h = (x, logp_diff_t1), 1.0, -0.25
            for i in range(4):
                state = rk4_step(func, lib.tensor(t1 + i * h), h, state)
            z_t0, logp_diff_t0 = state
            logp_x = p_z0.log_prob(z_t0) - logp_diff_t0.view(-1)
            loss = -logp_x.mean(0)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        assert z_t0.dtype == lib.get_default_dtype()
        with lib.no_grad():  # the example's sampling: base samples forward to t1
            z = lib.from_numpy(batches[0] * 0.3)
            state, traj = (z, lib.zeros(z.shape[0], 1)), [z]
            for i in range(4):
                state = rk4_step(func, lib.tensor(0.25 * i), 0.25, state)
                traj.append(state[0])
            logp_t1 = p_z0.log_prob(z) - state[1].view(-1)
        assert not (state[0].requires_grad or logp_t1.requires_grad)
        res[lib] = [z_t0, logp_x, lib.tensor(losses), *func.parameters(), lib.stack(traj),
                    logp_t1]
    _same(res, tol)


# --- Greydanus' hnn.py as written: two outputs, both fields, random batches -----------------------

def greydanus_hnn(lib, input_dim=2, hidden_dim=16, assume_canonical_coords=True):
    """``HNN`` from greydanus/hamiltonian-nn (its MLP inlined): ``F1, F2 = y.split(1, 1)``,
    the conservative field ``dF1 @ I`` and the solenoidal ``dF2 @ M.t()``."""
    nn = lib.nn

    class HNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear1 = nn.Linear(input_dim, hidden_dim)
            self.linear2 = nn.Linear(hidden_dim, hidden_dim)
            self.linear3 = nn.Linear(hidden_dim, 2, bias=None)
            self.M = self.permutation_tensor(input_dim)

        def forward(self, x):
            h = lib.tanh(self.linear1(x))
            h = lib.tanh(self.linear2(h))
            return self.linear3(h).split(1, 1)

        def time_derivative(self, x):
            F1, F2 = self.forward(x)
            dF1 = lib.autograd.grad(F1.sum(), x, create_graph=True)[0]
            conservative_field = dF1 @ lib.eye(*self.M.shape)
            dF2 = lib.autograd.grad(F2.sum(), x, create_graph=True)[0]
            solenoidal_field = dF2 @ self.M.t()
            return conservative_field + solenoidal_field

        def permutation_tensor(self, n):
            if assume_canonical_coords:
                M = lib.eye(n)
                M = lib.cat([M[n // 2:], -M[:n // 2]])
            else:  # Levi-Civita-like, as the repository builds it
                M = lib.ones(n, n)
                M *= 1 - lib.eye(n)
                M[::2] *= -1
                M[:, ::2] *= -1
                for i in range(n):
                    for j in range(i + 1, n):
                        M[i, j] *= -1
            return M
    return HNN()


@pytest.mark.parametrize("canonical", [True, False])
def test_greydanus_hnn_training_with_randperm_batches_and_solve_ivp(canonical):
    torch_stream()
    rs = np.random.RandomState(8)
    x0 = rs.uniform(-1, 1, (40, 2))
    dx0 = np.stack([x0[:, 1], -x0[:, 0]], 1) + 0.02 * rs.normal(size=(40, 2))
    torch.manual_seed(11)
    models = {torch: greydanus_hnn(torch, assume_canonical_coords=canonical)}
    models[zeroin] = copy_weights(models[torch], greydanus_hnn(zeroin,
                                                               assume_canonical_coords=canonical))
    res = {}
    for lib in LIBS:
        model = models[lib]
        optim = lib.optim.Adam(model.parameters(), 1e-2, weight_decay=1e-4)
        x = lib.tensor(x0, requires_grad=True, dtype=lib.float64)
        dxdt = lib.Tensor(dx0)
        lib.manual_seed(3)
        losses = []
        for step in range(4):
            ixs = lib.randperm(x.shape[0])[:16]
            dxdt_hat = model.time_derivative(x[ixs])
            loss = (dxdt[ixs] - dxdt_hat).pow(2).mean()
            loss.backward()
            optim.step()
            optim.zero_grad()
            losses.append(loss.item())
        res[lib] = [model.M, lib.tensor(losses), *model.parameters()]
    _same(res)
    if not canonical:
        close(models[zeroin].M, [[0., 1.], [-1., 0.]], 0)
    solve_ivp = pytest.importorskip("scipy.integrate").solve_ivp
    paths = []
    for lib in LIBS:
        def fun(t, np_x, lib=lib, model=models[lib]):
            x = lib.tensor(np_x, requires_grad=True, dtype=lib.float64).view(1, 2)
            return model.time_derivative(x).data.numpy().reshape(-1)
        paths.append(solve_ivp(fun=fun, t_span=[0, 2], y0=np.array([1., 0.]),
                               t_eval=np.linspace(0, 2, 9), rtol=1e-9).y)
    close(paths[1], paths[0], 1e-8)


# --- torchdiffeq's odenet_mnist.py: an ODE block of convolutions ----------------------------------

def odenet(lib, dim=8):
    """``ConcatConv2d`` (``t`` as an extra channel), ``GroupNorm``, the ``ODEBlock`` over
    ``integration_time.type_as(x)``, downsampling convolutions and the head."""
    nn = lib.nn

    def norm(d):
        return nn.GroupNorm(min(32, d), d)

    class ConcatConv2d(nn.Module):
        def __init__(self, dim_in, dim_out):
            super().__init__()
            self._layer = nn.Conv2d(dim_in + 1, dim_out, kernel_size=3, stride=1, padding=1)

        def forward(self, t, x):
            tt = lib.ones_like(x[:, :1, :, :]) * t
            ttx = lib.cat([tt, x], 1)
            return self._layer(ttx)

    class ODEfunc(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1, self.relu = norm(dim), nn.ReLU(inplace=True)
            self.conv1, self.norm2 = ConcatConv2d(dim, dim), norm(dim)
            self.conv2, self.norm3 = ConcatConv2d(dim, dim), norm(dim)
            self.nfe = 0

        def forward(self, t, x):
            self.nfe += 1
            out = self.relu(self.norm1(x))
            out = self.relu(self.norm2(self.conv1(t, out)))
            return self.norm3(self.conv2(t, out))

    class ODEBlock(nn.Module):
        def __init__(self, odefunc):
            super().__init__()
            self.odefunc = odefunc
            self.integration_time = lib.tensor([0, 1]).float()

        def forward(self, x):
            self.integration_time = self.integration_time.type_as(x)
            grid = lib.linspace(0, 1, 4).type_as(x)  # RK4 in 3 steps from 0 to 1
            return odeint(lib, self.odefunc, x, grid)[-1]

    return nn.Sequential(nn.Conv2d(1, dim, 3, 1), norm(dim), nn.ReLU(inplace=True),
                         nn.Conv2d(dim, dim, 4, 2, 1), ODEBlock(ODEfunc()), norm(dim),
                         nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                         nn.Linear(dim, 10))


def test_odenet_mnist_block_gradients_and_sgd_momentum_steps():
    rs = np.random.RandomState(9)
    x0, y0 = rs.rand(6, 1, 10, 10), rs.randint(0, 10, 6)
    torch.manual_seed(12)
    models = {torch: odenet(torch)}
    models[zeroin] = copy_weights(models[torch], odenet(zeroin))
    res = {}
    for lib in LIBS:
        model = models[lib]
        optimizer = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        criterion = lib.nn.CrossEntropyLoss()
        x, y = _t(lib, x0), lib.tensor(y0)
        losses = []
        for itr in range(3):
            optimizer.zero_grad()
            logits = model(x)
            loss = criterion(logits, y)
            loss.backward()
            if itr == 0:
                grads = [p.grad.clone() for p in model.parameters()]
            optimizer.step()
            losses.append(loss.item())
        assert model[4].odefunc.nfe == 3 * 12
        res[lib] = [logits, lib.tensor(losses), *grads, *model.parameters()]
    _same(res)


# --- torchdiffeq's latent_ode.py: an RNN encoder, a latent ODE, the ELBO --------------------------

def latent_ode(lib, latent_dim=3, nhidden=8, rnn_nhidden=10, obs_dim=2, nbatch=5):
    nn = lib.nn

    class LatentODEfunc(nn.Module):
        def __init__(self):
            super().__init__()
            self.elu = nn.ELU(inplace=True)
            self.fc1 = nn.Linear(latent_dim, nhidden)
            self.fc2 = nn.Linear(nhidden, nhidden)
            self.fc3 = nn.Linear(nhidden, latent_dim)

        def forward(self, t, x):
            return self.fc3(self.elu(self.fc2(self.elu(self.fc1(x)))))

    class RecognitionRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.i2h = nn.Linear(obs_dim + rnn_nhidden, rnn_nhidden)
            self.h2o = nn.Linear(rnn_nhidden, latent_dim * 2)

        def forward(self, x, h):
            h = lib.tanh(self.i2h(lib.cat((x, h), dim=1)))
            return self.h2o(h), h

        def initHidden(self):
            return lib.zeros(nbatch, rnn_nhidden)

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.relu = nn.ReLU(inplace=True)
            self.fc1 = nn.Linear(latent_dim, nhidden)
            self.fc2 = nn.Linear(nhidden, obs_dim)

        def forward(self, z):
            return self.fc2(self.relu(self.fc1(z)))
    return nn.ModuleList([LatentODEfunc(), RecognitionRNN(), Decoder()])


def log_normal_pdf(lib, x, mean, logvar):
    const = lib.from_numpy(np.array([2. * np.pi])).float()
    const = lib.log(const)
    return -.5 * (const + logvar + (x - mean) ** 2. / lib.exp(logvar))


def normal_kl(lib, mu1, lv1, mu2, lv2):
    v1, v2 = lib.exp(lv1), lib.exp(lv2)
    lstd1, lstd2 = lv1 / 2., lv2 / 2.
    return lstd2 - lstd1 + ((v1 + (mu1 - mu2) ** 2.) / (2. * v2)) - .5


def test_latent_ode_elbo_gradients_and_adam_steps():
    torch_stream()
    ts0 = np.linspace(0, 1, 8)
    rs = np.random.RandomState(10)
    phase = rs.uniform(0, np.pi, (5, 1))
    trajs0 = np.stack([np.cos(3 * ts0 + phase), np.sin(3 * ts0 + phase)], -1)  # (5, 8, 2)
    trajs0 = trajs0 + 0.1 * rs.normal(size=trajs0.shape)
    torch.manual_seed(13)
    mods = {torch: latent_ode(torch)}
    mods[zeroin] = copy_weights(mods[torch], latent_ode(zeroin))
    res = {}
    for lib in LIBS:
        func, rec, dec = mods[lib]
        params = list(func.parameters()) + list(dec.parameters()) + list(rec.parameters())
        optimizer = lib.optim.Adam(params, lr=0.01)
        samp_trajs, samp_ts = _t(lib, trajs0), _t(lib, ts0)
        lib.manual_seed(4)
        losses = []
        for itr in range(3):
            optimizer.zero_grad()
            h = rec.initHidden()
            for t in reversed(range(samp_trajs.size(1))):
                obs = samp_trajs[:, t, :]
                out, h = rec.forward(obs, h)
            qz0_mean, qz0_logvar = out[:, :3], out[:, 3:]
            epsilon = lib.randn(qz0_mean.size())
            z0 = epsilon * lib.exp(.5 * qz0_logvar) + qz0_mean
            pred_z = odeint(lib, func, z0, samp_ts).permute(1, 0, 2)
            pred_x = dec(pred_z)
            noise_std_ = lib.zeros(pred_x.size()) + .3
            noise_logvar = 2. * lib.log(noise_std_)
            logpx = log_normal_pdf(lib, samp_trajs, pred_x, noise_logvar).sum(-1).sum(-1)
            pz0_mean = pz0_logvar = lib.zeros(z0.size())
            analytic_kl = normal_kl(lib, qz0_mean, qz0_logvar, pz0_mean, pz0_logvar).sum(-1)
            loss = lib.mean(-logpx + analytic_kl, dim=0)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        assert logpx.dtype == lib.float64
        res[lib] = [pred_x, analytic_kl, *params, logpx, lib.tensor(losses)]
    # the example's constant log(2 pi) is float32 and NumPy's float32 log is 1 ulp off
    # PyTorch's there: logpx and the losses move by 16 * 1.2e-7 / 2, nothing else
    _same({lib: r[:-2] for lib, r in res.items()})
    _same({lib: r[-2:] for lib, r in res.items()}, 1e-7)


def test_divergence_by_forward_mode_batched_grads_and_vmap_jacrev():
    """Other ways learners write the divergence: Hutchinson by forward mode (``forward_ad``
    dual numbers, ``torch.func.jvp``), the exact trace by ``is_grads_batched=True`` and by
    ``vmap(jacrev(f))``; each equals the reverse-mode one, and the weights' gradients
    through it are PyTorch's."""
    rs = np.random.RandomState(11)
    z0, e0 = rs.normal(size=(5, 2)), rs.normal(size=(5, 2))
    torch.manual_seed(14)
    nets = {torch: mlp(torch, 2, 2, hidden=8)}
    nets[zeroin] = copy_weights(nets[torch], mlp(zeroin, 2, 2, hidden=8))
    res = {}
    for lib in LIBS:
        f, e, fwAD = nets[lib], _t(lib, e0), lib.autograd.forward_ad
        z = _t(lib, z0, grad=True)
        dz = f(z)
        rev = (lib.autograd.grad(dz, z, e, create_graph=True)[0] * e).sum(1)
        exact = sum(lib.autograd.grad(dz[:, i].sum(), z, create_graph=True)[0][:, i]
                    for i in range(2))
        with fwAD.dual_level():
            fwd = (fwAD.unpack_dual(f(fwAD.make_dual(z.detach(), e))).tangent * e).sum(1)
        _, jvp = lib.func.jvp(f, (z.detach(),), (e,))
        eye = lib.eye(2).unsqueeze(1).expand(2, 5, 2)
        batched = lib.autograd.grad(dz, z, eye, is_grads_batched=True, create_graph=True)[0]
        by_vmap = lib.func.vmap(lib.func.jacrev(f))(z.detach())
        for a, b in ((fwd, rev), ((jvp * e).sum(1), rev),
                     (lib.einsum("ibi->b", batched), exact),
                     (by_vmap.diagonal(dim1=-2, dim2=-1).sum(-1), exact)):
            close(a, b, 1e-12)
        grads = []
        for div in (fwd, (jvp * e).sum(1), lib.einsum("ibi->b", batched),
                    by_vmap.diagonal(dim1=-2, dim2=-1).sum(-1)):
            f.zero_grad()
            (div ** 2).sum().backward()
            *ws, last_bias = f.parameters()
            assert last_bias.grad is None  # the Jacobian does not depend on it
            grads += [p.grad.clone() for p in ws]
        res[lib] = [rev, exact, *grads]
    _same(res)


def test_lnn_in_torch_func_style_grad_over_parameters():
    """The JAX-style port: ``functional_call`` on a parameter dict, ``hessian`` /
    ``jacrev`` with ``argnums``, ``vmap(accel, in_dims=(None, 0, 0))`` and
    ``grad_and_value`` over the parameters; SGD by hand on the dict. The value and
    gradients are PyTorch's and, as there, outside any graph (zeroin's stayed in one: the
    output bias gets no gradient through the Jacobians)."""
    rs = np.random.RandomState(12)
    q0, qt0, qtt0 = rs.normal(size=(5, 2)), rs.normal(size=(5, 2)), rs.normal(size=(5, 2))
    torch.manual_seed(15)
    models = {torch: mlp(torch, 4, 1, hidden=8, act="Softplus")}
    models[zeroin] = copy_weights(models[torch], mlp(zeroin, 4, 1, 8, "Softplus"))
    res = {}
    for lib in LIBS:
        F, model = lib.func, models[lib]
        params = {k: v.detach() for k, v in model.named_parameters()}

        def lagrangian(p, q, qt, F=F, model=model, lib=lib):
            return F.functional_call(model, p, (lib.cat([q, qt]),)).squeeze()

        def accel(p, q, qt, F=F, lib=lib, lagrangian=lagrangian):
            H = F.hessian(lagrangian, argnums=2)(p, q, qt)
            J = F.jacrev(lagrangian, argnums=1)(p, q, qt)
            C = F.jacrev(F.jacrev(lagrangian, argnums=2), argnums=1)(p, q, qt)
            return lib.linalg.pinv(H) @ (J - C @ qt)
        q, qt, qtt = _t(lib, q0), _t(lib, qt0), _t(lib, qtt0)

        def loss(p, F=F, accel=accel, q=q, qt=qt, qtt=qtt):
            return ((F.vmap(accel, in_dims=(None, 0, 0))(p, q, qt) - qtt) ** 2).mean()
        out = []
        for step in range(2):
            g, val = F.grad_and_value(loss)(params)
            assert not val.requires_grad and not any(v.requires_grad for v in g.values())
            params = {k: params[k] - 1e-3 * g[k] for k in params}
            out += [val, *[g[k] for k in sorted(g)]]
        res[lib] = out + [params[k] for k in sorted(params)]
    _same(res, 1e-9)


# --- a latent SDE (torchsde's latent_sde.py, its solver written out) -------------------------------

def latent_sde_nets(lib, hidden=8):
    nn = lib.nn
    return nn.ModuleDict({
        "f": nn.Sequential(nn.Linear(2, hidden), nn.Softplus(), nn.Linear(hidden, 1)),
        "h": nn.Sequential(nn.Linear(2, hidden), nn.Softplus(), nn.Linear(hidden, 1)),
        "g": nn.Sequential(nn.Linear(2, hidden), nn.Softplus(), nn.Linear(hidden, 1),
                           nn.Sigmoid())})


def test_latent_sde_logqp_kl_annealing_clipping_and_scheduler():
    """The posterior drift ``f``, the prior drift ``h`` and the diffusion ``g`` on
    ``[y, t]``; Euler-Maruyama with the path KL ``0.5 * ((f - h) / g) ** 2 * dt``, the
    ``Normal`` likelihood of observations, ``kl_divergence`` of the initial state,
    ``clip_grad_norm_``, ``ExponentialLR`` and a linear KL weight."""
    torch_stream()
    ts0 = np.linspace(0, 1, 6)
    ys0 = np.sin(2 * ts0)[:, None] + 0.05 * np.random.RandomState(13).normal(size=(6, 1))
    torch.manual_seed(16)
    nets = {torch: latent_sde_nets(torch)}
    nets[zeroin] = copy_weights(nets[torch], latent_sde_nets(zeroin))
    res = {}
    for lib in LIBS:
        net, D = nets[lib], lib.distributions
        qy0 = lib.nn.Parameter(lib.tensor([[0.1, -1.0]]))  # mean and log-std
        optimizer = lib.optim.Adam(list(net.parameters()) + [qy0], lr=1e-2)
        scheduler = lib.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
        ts, ys = _t(lib, ts0), _t(lib, ys0)
        lib.manual_seed(5)
        out = []
        for itr in range(3):
            optimizer.zero_grad()
            q0 = D.Normal(qy0[:, :1], qy0[:, 1:].exp())
            y = q0.rsample((16,)).view(16, 1)
            logqp0 = D.kl_divergence(q0, D.Normal(lib.zeros(1, 1), lib.ones(1, 1))).sum()
            logqp, path = 0., [y]
            for i in range(len(ts) - 1):
                dt = (ts[i + 1] - ts[i]).item()
                yt = lib.cat([y, ts[i] * lib.ones_like(y)], 1)
                f, h, g = net["f"](yt), net["h"](yt), net["g"](yt)
                logqp = logqp + (0.5 * ((f - h) / g).pow(2) * dt).sum(1)
                y = y + f * dt + g * lib.randn_like(y) * dt ** 0.5
                path.append(y)
            xs = lib.stack(path)                                  # (T, batch, 1)
            log_lik = D.Normal(xs, 0.1).log_prob(ys[:, None, :]).sum((0, 2)).mean()
            kl_weight = min(1.0, (itr + 1) / 3)
            loss = -log_lik + kl_weight * (logqp0 + logqp.mean())
            loss.backward()
            norm = lib.nn.utils.clip_grad_norm_(net.parameters(), max_norm=1.0)  # ~840 -> 1
            optimizer.step()
            scheduler.step()
            out += [loss.detach(), norm, xs.detach()]
            out += [p.grad.clone() for p in net.parameters()]  # clipped
        res[lib] = out + [qy0, *net.parameters(), lib.tensor(scheduler.get_last_lr())]
    _same(res)
