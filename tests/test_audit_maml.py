"""Audit of meta-learning code (Stanford CS330's homeworks, the MAML paper's PyTorch ports
such as dragen1860/MAML-Pytorch, prototypical networks) as a learner ports it (``import
zeroin as torch``, ``from zeroin import nn``, ``zeroin.nn.functional as F``): inner loops
with ``torch.autograd.grad(..., create_graph=True)`` differentiated again, run with
``torch`` and with ``zeroin`` on the same synthetic tasks and the same weights, compared in
float64 to 1e-10 (values, meta-gradients and a few Adam steps), the meta-gradients also by
finite differences. See docs/maml.md."""
from collections import OrderedDict

import numpy as np
import pytest

import zeroin
from _audit import np_of as _np, close as _close

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)


def _t(lib, a, grad=False):
    t = lib.tensor(np.array(a, dtype=np.float64))
    return t.requires_grad_(True) if grad else t


def _sinusoid_tasks(rng, n_tasks, k):
    """CS330 / MAML's sinusoid regression: amplitude in [0.1, 5], phase in [0, pi],
    x in [-5, 5]; support and query sets of ``k`` points each."""
    tasks = []
    for _ in range(n_tasks):
        amp, phase = rng.uniform(0.1, 5.0), rng.uniform(0, np.pi)
        xs, xq = rng.uniform(-5, 5, (k, 1)), rng.uniform(-5, 5, (k, 1))
        tasks.append((xs, amp * np.sin(xs - phase), xq, amp * np.sin(xq - phase)))
    return tasks


def _mlp_weights(rng, sizes=(1, 8, 8, 1)):
    out = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        out += [rng.normal(0, 1 / np.sqrt(i), (o, i)), rng.normal(0, 0.1, (o,))]
    return out


def _mlp(lib, x, params):
    """The functional MLP of MAML's ports: ``F.linear(x, w, b)`` over a list of tensors."""
    F = lib.nn.functional
    h = x
    for i in range(0, len(params) - 2, 2):
        h = F.relu(F.linear(h, params[i], params[i + 1]))
    return F.linear(h, params[-2], params[-1])


def _maml_outer(lib, params, tasks, inner_lr=0.01, steps=2, first_order=False, lrs=None):
    """The outer loss of MAML over a meta-batch: ``steps`` inner SGD steps on the support
    set (second order unless ``first_order``; Meta-SGD's per-parameter ``lrs`` if given),
    then the query loss of the adapted weights, averaged over the tasks."""
    F = lib.nn.functional
    losses = []
    for xs, ys, xq, yq in tasks:
        xs, ys, xq, yq = (_t(lib, a) for a in (xs, ys, xq, yq))
        fast = list(params)
        for _ in range(steps):
            loss = F.mse_loss(_mlp(lib, xs, fast), ys)
            grads = lib.autograd.grad(loss, fast, create_graph=not first_order)
            if first_order:
                grads = [g.detach() for g in grads]
            if lrs is None:
                fast = [p - inner_lr * g for p, g in zip(fast, grads)]
            else:
                fast = [p - a * g for p, g, a in zip(fast, grads, lrs)]
        losses.append(F.mse_loss(_mlp(lib, xq, fast), yq))
    return lib.stack(losses).mean()


def _fd_grad(f, arrays, i, eps=1e-6, n=4):
    """Central differences of the scalar ``f(arrays)`` in the first ``n`` entries of
    ``arrays[i]``."""
    out = []
    for j in range(min(n, arrays[i].size)):
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[i].flat[j] += eps
        minus[i].flat[j] -= eps
        out.append((f(plus) - f(minus)) / (2 * eps))
    return np.array(out)


# --- MAML on sinusoid regression -------------------------------------------------------------

@pytest.mark.parametrize("first_order", [False, True])
def test_maml_sinusoid_meta_gradient(first_order):
    rng = np.random.default_rng(0)
    w0, tasks = _mlp_weights(rng), _sinusoid_tasks(rng, 3, 5)
    res = {}
    for lib in LIBS:
        params = [_t(lib, w, grad=True) for w in w0]
        outer = _maml_outer(lib, params, tasks, inner_lr=0.05, steps=3, first_order=first_order)
        outer.backward()
        res[lib] = [outer] + [p.grad for p in params]
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t)
    if not first_order:
        # the second-order meta-gradient by finite differences of zeroin's own outer loss
        def f(ws):
            with zeroin.enable_grad():
                ps = [_t(zeroin, w, grad=True) for w in ws]
                return _maml_outer(zeroin, ps, tasks, 0.05, 3).item()
        for i in (0, 3, 5):
            _close(_np(res[zeroin][1 + i]).flat[:4], _fd_grad(f, w0, i), rtol=1e-5, atol=1e-7)


def test_maml_sinusoid_adam_meta_steps_ordered_dict():
    """dragen1860-style: the weights in an ``OrderedDict``, the adapted ones built with a
    dict comprehension, ``meta_optim.zero_grad(); loss.backward(); meta_optim.step()``."""
    rng = np.random.default_rng(1)
    w0 = _mlp_weights(rng)
    batches = [_sinusoid_tasks(rng, 2, 4) for _ in range(3)]
    names = ["l1.weight", "l1.bias", "l2.weight", "l2.bias", "l3.weight", "l3.bias"]
    res = {}
    for lib in LIBS:
        F = lib.nn.functional
        weights = OrderedDict((n, lib.nn.Parameter(_t(lib, w))) for n, w in zip(names, w0))
        meta_opt = lib.optim.Adam(weights.values(), lr=1e-2)
        history = []
        for tasks in batches:
            total = 0
            for xs, ys, xq, yq in tasks:
                xs, ys, xq, yq = (_t(lib, a) for a in (xs, ys, xq, yq))
                fast = weights
                for _ in range(2):
                    loss = F.mse_loss(_mlp(lib, xs, list(fast.values())), ys)
                    grads = lib.autograd.grad(loss, fast.values(), create_graph=True)
                    fast = OrderedDict((n, p - 0.03 * g)
                                       for (n, p), g in zip(fast.items(), grads))
                total = total + F.mse_loss(_mlp(lib, xq, list(fast.values())), yq)
            meta_loss = total / len(tasks)
            meta_opt.zero_grad()
            meta_loss.backward()
            meta_opt.step()
            history.append(meta_loss.item())
        res[lib] = history, [p.detach() for p in weights.values()]
    _close(res[zeroin][0], res[torch][0])
    for z, t in zip(res[zeroin][1], res[torch][1], strict=True):
        _close(z, t)


def test_meta_sgd_learned_inner_lrs():
    """Meta-SGD: one learned inner learning rate per weight (an ``nn.ParameterList``),
    trained with the weights by the outer Adam."""
    rng = np.random.default_rng(2)
    w0, tasks = _mlp_weights(rng), _sinusoid_tasks(rng, 2, 5)
    res = {}
    for lib in LIBS:
        nn = lib.nn
        params = nn.ParameterList([nn.Parameter(_t(lib, w)) for w in w0])
        lrs = nn.ParameterList([nn.Parameter(lib.full_like(p, 0.02)) for p in params])
        opt = lib.optim.Adam(list(params) + list(lrs), lr=1e-3)
        for _ in range(2):
            opt.zero_grad()
            outer = _maml_outer(lib, list(params), tasks, steps=1, lrs=list(lrs))
            outer.backward()
            grads = [a.grad.clone() for a in lrs]
            opt.step()
        res[lib] = [outer] + grads + list(params) + list(lrs)
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t)


def test_functional_call_inner_loop():
    """The ``nn.Module`` + ``torch.func.functional_call(model, params, x)`` style (CS330
    HW2's newer versions, learn2learn-free ports)."""
    rng = np.random.default_rng(3)
    tasks = _sinusoid_tasks(rng, 2, 5)
    res = {}
    tmodel = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    tmodel.double()
    state = {k: v.detach().numpy().copy() for k, v in tmodel.state_dict().items()}
    for lib in LIBS:
        nn, F = lib.nn, lib.nn.functional
        model = nn.Sequential(nn.Linear(1, 8), nn.ReLU(), nn.Linear(8, 1)).double()
        model.load_state_dict({k: _t(lib, v) for k, v in state.items()})
        opt = lib.optim.Adam(model.parameters(), lr=1e-2)
        out = []
        for _ in range(2):
            opt.zero_grad()
            total = 0
            for xs, ys, xq, yq in tasks:
                xs, ys, xq, yq = (_t(lib, a) for a in (xs, ys, xq, yq))
                params = dict(model.named_parameters())
                for _ in range(2):
                    loss = F.mse_loss(lib.func.functional_call(model, params, (xs,)), ys)
                    grads = lib.autograd.grad(loss, params.values(), create_graph=True)
                    params = {n: p - 0.05 * g for (n, p), g in zip(params.items(), grads)}
                total = total + F.mse_loss(lib.func.functional_call(model, params, xq), yq)
            (total / len(tasks)).backward()
            out += [total] + [p.grad.clone() for p in model.parameters()]
            opt.step()
        res[lib] = out + list(model.parameters())
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t)


def test_func_grad_vmap_over_tasks():
    """``torch.func``: the inner step by ``grad`` of a functional loss, and the query
    losses of a meta-batch by ``vmap`` over tasks (the functorch MAML example)."""
    rng = np.random.default_rng(4)
    w0, tasks = _mlp_weights(rng, (1, 6, 1)), _sinusoid_tasks(rng, 3, 4)
    stacked = [np.stack([t[i] for t in tasks]) for i in range(4)]
    res = {}
    for lib in LIBS:
        F = lib.nn.functional
        params = [_t(lib, w, grad=True) for w in w0]

        def loss_fn(ps, x, y):
            return F.mse_loss(_mlp(lib, x, ps), y)

        def task_loss(xs, ys, xq, yq):
            g = lib.func.grad(loss_fn)(params, xs, ys)
            fast = [p - 0.1 * gi for p, gi in zip(params, g)]
            return loss_fn(fast, xq, yq)

        losses = lib.func.vmap(task_loss)(*(_t(lib, a) for a in stacked))
        losses.mean().backward()
        res[lib] = [losses] + [p.grad for p in params]
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t)


# --- MAML with a conv net (CS330 HW2 / Omniglot) ---------------------------------------------

def _conv_weights(rng, n_way, ch=4, blocks=2, in_ch=1, size=8):
    ws = []
    c = in_ch
    for _ in range(blocks):
        ws += [rng.normal(0, 0.3, (ch, c, 3, 3)), rng.normal(0, 0.1, (ch,)),
               1 + rng.normal(0, 0.1, (ch,)), rng.normal(0, 0.1, (ch,))]
        c = ch
        size //= 2
    ws += [rng.normal(0, 0.3, (n_way, ch * size * size)), np.zeros(n_way)]
    return ws


def _conv_net(lib, x, p, blocks=2):
    """CS330 HW2's functional Omniglot net: conv 3x3 (padding 1) -> batch norm with no
    running stats (training mode) -> relu -> max pool 2, then flatten and a linear layer."""
    F = lib.nn.functional
    for i in range(blocks):
        w, b, gamma, beta = p[4 * i:4 * i + 4]
        x = F.conv2d(x, w, b, 1, 1)
        x = F.batch_norm(x, None, None, weight=gamma, bias=beta, training=True)
        x = F.max_pool2d(F.relu(x), 2)
    x = x.reshape(x.shape[0], -1)
    return F.linear(x, p[-2], p[-1])


def _few_shot_images(rng, n_way, k, size=8):
    """N-way K-shot "images": each class a random prototype image plus noise."""
    protos = rng.normal(0, 1, (n_way, 1, size, size))
    x = protos.repeat(k, axis=0) + 0.5 * rng.normal(0, 1, (n_way * k, 1, size, size))
    return x, np.arange(n_way).repeat(k)


def test_maml_conv_omniglot_second_order():
    rng = np.random.default_rng(5)
    n_way, k = 3, 2
    w0 = _conv_weights(rng, n_way)
    tasks = [(*_few_shot_images(rng, n_way, k), *_few_shot_images(rng, n_way, k))
             for _ in range(2)]
    res = {}

    def outer_loss(lib, params):
        F = lib.nn.functional
        losses, accs = [], []
        for xs, ys, xq, yq in tasks:
            xs, xq = _t(lib, xs), _t(lib, xq)
            ys, yq = lib.tensor(ys), lib.tensor(yq)
            fast = list(params)
            for _ in range(2):
                loss = F.cross_entropy(_conv_net(lib, xs, fast), ys)
                grads = lib.autograd.grad(loss, fast, create_graph=True)
                fast = [p - 0.4 * g for p, g in zip(fast, grads)]
            logits = _conv_net(lib, xq, fast)
            losses.append(F.cross_entropy(logits, yq))
            accs.append((logits.argmax(dim=1) == yq).float().mean().item())
        return lib.stack(losses).mean(), accs

    for lib in LIBS:
        params = [_t(lib, w, grad=True) for w in w0]
        loss, accs = outer_loss(lib, params)
        loss.backward()
        res[lib] = [loss] + [p.grad for p in params], accs
    assert res[zeroin][1] == res[torch][1]
    for z, t in zip(res[zeroin][0], res[torch][0], strict=True):
        _close(z, t)

    def f(ws):
        return outer_loss(zeroin, [_t(zeroin, w, grad=True) for w in ws])[0].item()
    for i in (0, 2, 4, 8):
        _close(_np(res[zeroin][0][1 + i]).flat[:3], _fd_grad(f, w0, i, n=3),
               rtol=1e-5, atol=1e-7)


def test_maml_conv_float32_as_cs330_runs_it():
    """The conv MAML in float32 (PyTorch's default dtype): the same to float resolution
    (the conv biases' meta-gradients, exactly 0 in exact arithmetic since batch norm
    removes the mean, are rounding noise of ~1e-7 in both)."""
    rng = np.random.default_rng(5)
    w0 = [w.astype(np.float32) for w in _conv_weights(rng, 3)]
    (xs, ys), (xq, yq) = _few_shot_images(rng, 3, 2), _few_shot_images(rng, 3, 2)
    res = {}
    for lib in LIBS:
        F = lib.nn.functional
        params = [lib.tensor(w).requires_grad_() for w in w0]
        fast = params
        for _ in range(2):
            loss = F.cross_entropy(_conv_net(lib, lib.tensor(xs.astype(np.float32)), fast),
                                   lib.tensor(ys))
            grads = lib.autograd.grad(loss, fast, create_graph=True)
            fast = [p - 0.4 * g for p, g in zip(fast, grads)]
        out = F.cross_entropy(_conv_net(lib, lib.tensor(xq.astype(np.float32)), fast),
                              lib.tensor(yq))
        out.backward()
        res[lib] = [out] + [p.grad for p in params]
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert z.dtype == zeroin.float32
        _close(z, t, rtol=2e-5, atol=2e-6)


def test_dragen1860_learner_running_stats_and_finetunning():
    """dragen1860/MAML-Pytorch's ``Learner``: weights in an ``nn.ParameterList``
    (``self.vars``), batch-norm running stats in another (``self.vars_bn``, no grad)
    updated by ``F.batch_norm(x, running_mean, running_var, weight=w, bias=b,
    training=bn_training)`` in every inner step, ``forward(x, vars=None)`` switching to the
    adapted list, inner grads without ``create_graph`` (so its meta-gradient, through the
    adapted weights, is first order); then ``finetunning``'s ``bn_training=False`` query
    with the stored stats."""
    rng = np.random.default_rng(9)
    n_way, k = 3, 2
    w0 = _conv_weights(rng, n_way, blocks=1, size=4)
    xs0, ys0 = _few_shot_images(rng, n_way, k, size=4)
    xq0, yq0 = _few_shot_images(rng, n_way, k, size=4)
    res = {}
    for lib in LIBS:
        nn, F = lib.nn, lib.nn.functional
        vars_ = nn.ParameterList([nn.Parameter(_t(lib, w)) for w in w0])
        vars_bn = nn.ParameterList([nn.Parameter(lib.zeros(4, dtype=lib.float64),
                                                 requires_grad=False),
                                    nn.Parameter(lib.ones(4, dtype=lib.float64),
                                                 requires_grad=False)])

        def forward(x, vars=None, bn_training=True, vars_=vars_, vars_bn=vars_bn, F=F):
            if vars is None:
                vars = vars_
            w, b, gamma, beta, fw, fb = vars
            x = F.conv2d(x, w, b, stride=1, padding=1)
            x = F.batch_norm(x, vars_bn[0], vars_bn[1], weight=gamma, bias=beta,
                             training=bn_training)
            x = F.max_pool2d(F.relu(x, inplace=True), 2)
            return F.linear(x.view(x.size(0), -1), fw, fb)

        xs, xq, ys, yq = _t(lib, xs0), _t(lib, xq0), lib.tensor(ys0), lib.tensor(yq0)
        loss = F.cross_entropy(forward(xs, vars_, bn_training=True), ys)
        grad = lib.autograd.grad(loss, vars_.parameters())
        fast = list(map(lambda p: p[1] - 0.4 * p[0], zip(grad, vars_.parameters())))
        for _ in range(2):
            loss = F.cross_entropy(forward(xs, fast, bn_training=True), ys)
            grad = lib.autograd.grad(loss, fast)
            fast = list(map(lambda p: p[1] - 0.4 * p[0], zip(grad, fast)))
        loss_q = F.cross_entropy(forward(xq, fast, bn_training=True), yq)
        loss_q.backward()       # its meta-update: first order (grad made no graph)
        with lib.no_grad():
            logits_q = forward(xq, fast, bn_training=False)
        pred_q = F.softmax(logits_q, dim=1).argmax(dim=1)
        correct = lib.eq(pred_q, yq).sum().item()
        res[lib] = ([loss, loss_q, logits_q, pred_q, vars_bn[0], vars_bn[1]] + fast
                    + [p.grad for p in vars_]), correct
    assert res[zeroin][1] == res[torch][1]
    for z, t in zip(res[zeroin][0], res[torch][0], strict=True):
        _close(z, t)


@pytest.mark.parametrize("op", ["conv2d", "batch_norm", "max_pool2d", "cross_entropy"])
def test_double_backward_of_each_layer_op(op):
    """Each op's gradient differentiated again (a Hessian-vector product through it)."""
    rng = np.random.default_rng(6)
    x0 = rng.normal(0, 1, (2, 2, 4, 4))
    w0 = rng.normal(0, 1, (3, 2, 3, 3))
    v0 = rng.normal(0, 1, (2, 3, 4, 4) if op == "conv2d" else (2, 2, 4, 4))
    res = {}
    for lib in LIBS:
        F = lib.nn.functional
        x, w, v = _t(lib, x0, True), _t(lib, w0, True), _t(lib, v0)
        if op == "conv2d":
            y = (F.conv2d(x, w, None, 1, 1) ** 2 * v).sum()
            ins = [x, w]
        elif op == "batch_norm":
            g, b = _t(lib, 1 + 0.1 * x0[0, :, 0, 0], True), _t(lib, x0[1, :, 0, 0], True)
            y = (F.batch_norm(x, None, None, g, b, training=True) ** 3 * v).sum()
            ins = [x, g, b]
        elif op == "max_pool2d":
            y = (F.max_pool2d(x, 2) ** 3 * v[:, :, :2, :2]).sum()
            ins = [x]
        else:
            logits = x.reshape(16, 4)
            y = F.cross_entropy(logits * (v.reshape(16, 4) + 2), lib.tensor([0, 1, 2, 3] * 4))
            ins = [x]
        grads = lib.autograd.grad(y, ins, create_graph=True)
        s = sum((g * g).sum() for g in grads)
        res[lib] = [y] + list(grads) + list(lib.autograd.grad(s, ins))
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t)


# --- prototypical networks -------------------------------------------------------------------

@pytest.mark.parametrize("dist", ["cdist", "broadcast"])
def test_prototypical_network(dist):
    rng = np.random.default_rng(7)
    n_way, k, q = 3, 2, 2
    w0 = _conv_weights(rng, 5)[:-2]
    episodes = []
    for _ in range(3):
        protos = rng.normal(0, 1, (n_way, 1, 8, 8))
        sup = protos.repeat(k, 0) + 0.5 * rng.normal(0, 1, (n_way * k, 1, 8, 8))
        qry = protos.repeat(q, 0) + 0.5 * rng.normal(0, 1, (n_way * q, 1, 8, 8))
        episodes.append((sup, qry))
    res = {}
    for lib in LIBS:
        F = lib.nn.functional
        params = [lib.nn.Parameter(_t(lib, w)) for w in w0]
        opt = lib.optim.Adam(params, lr=1e-2)

        def embed(x):
            p = params
            for i in range(2):
                x = F.conv2d(x, p[4 * i], p[4 * i + 1], padding=1)
                x = F.batch_norm(x, None, None, p[4 * i + 2], p[4 * i + 3], training=True)
                x = F.max_pool2d(F.relu(x), 2)
            return x.view(x.size(0), -1)

        out = []
        for sup, qry in episodes:
            z_s, z_q = embed(_t(lib, sup)), embed(_t(lib, qry))
            protos = z_s.view(n_way, k, -1).mean(1)
            if dist == "cdist":
                dists = lib.cdist(z_q, protos) ** 2
            else:
                dists = ((z_q.unsqueeze(1) - protos.unsqueeze(0)) ** 2).sum(dim=2)
            log_p = F.log_softmax(-dists, dim=1)
            target = lib.arange(n_way).repeat_interleave(q)
            loss = F.nll_loss(log_p, target)
            acc = (log_p.argmax(1) == target).float().mean()
            opt.zero_grad()
            loss.backward()
            out += [loss, acc] + [p.grad.clone() for p in params]
            opt.step()
        res[lib] = out + list(params)
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t, 1e-9)


def test_cdist_gradient_at_zero_distance():
    """A query equal to a prototype: cdist's gradient there is 0 (not NaN), as torch's,
    and ``cdist ** 2`` differentiates as the squared distance. torch has no double
    backward of cdist (NotImplementedError); zeroin's is checked, away from a zero
    distance (where the norm has no second derivative; torch's ``vector_norm`` gives NaN
    there), against torch's on the broadcast form of the squared distance."""
    a0 = np.array([[1.0, 2.0], [0.5, -1.0]])
    b0 = np.array([[1.0, 2.0], [3.0, 0.0], [0.5, -1.0]])
    res = {}
    for lib in LIBS:
        a, b = _t(lib, a0, True), _t(lib, b0, True)
        d = lib.cdist(a, b)
        ga = lib.autograd.grad(d.sum(), [a, b], retain_graph=True)
        gb = lib.autograd.grad((d ** 2).sum(), [a, b])
        res[lib] = [d, *ga, *gb]
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert np.isfinite(_np(z)).all()
        _close(z, t)
    for lib in LIBS:
        a, b = _t(lib, a0, True), _t(lib, b0[:2], True)
        if lib is torch:
            sq = ((a.unsqueeze(1) - b.unsqueeze(0)) ** 2).sum(-1)
        else:
            sq = lib.cdist(a, b) ** 2
        gs = lib.autograd.grad((sq * _t(lib, np.arange(4.0).reshape(2, 2))).sum(), [a, b],
                               create_graph=True)
        res[lib] = lib.autograd.grad(sum((g ** 2).sum() for g in gs), [a, b])
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t)


# --- torch.autograd.grad options, Hessians, freed graphs --------------------------------------

def test_autograd_grad_options():
    res = {}
    for lib in LIBS:
        x, y, unused = _t(lib, [1.0, 2.0], True), _t(lib, [3.0, -1.0], True), _t(lib, 1.0, True)
        out = x * y ** 2
        g1 = lib.autograd.grad(out, [x, y, unused], grad_outputs=_t(lib, [1.0, 0.5]),
                               retain_graph=True, allow_unused=True, only_inputs=True)
        assert g1[2] is None
        g2 = lib.autograd.grad(out.sum(), y, create_graph=True)
        g3 = lib.autograd.grad(g2[0], [x, y], grad_outputs=lib.ones_like(y))
        res[lib] = [g1[0], g1[1], *g2, *g3]
        with pytest.raises(RuntimeError, match="allow_unused"):
            lib.autograd.grad((x * 2).sum(), [x, unused])
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t)


def test_hessian_and_hvp_of_a_maml_objective():
    rng = np.random.default_rng(8)
    w0, tasks = _mlp_weights(rng, (1, 3, 1)), _sinusoid_tasks(rng, 1, 4)
    sizes = [w.size for w in w0]
    flat0 = np.concatenate([w.ravel() for w in w0])
    v0 = rng.normal(0, 1, flat0.shape)
    res = {}
    for lib in LIBS:
        def objective(flat):
            ps, i = [], 0
            for w, n in zip(w0, sizes):
                ps.append(flat[i:i + n].reshape(w.shape))
                i += n
            return _maml_outer(lib, ps, tasks, inner_lr=0.05, steps=1)

        H = lib.autograd.functional.hessian(objective, _t(lib, flat0))
        val, hv = lib.autograd.functional.hvp(objective, _t(lib, flat0), _t(lib, v0))
        res[lib] = [H, val, hv]
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t)
    _close(res[zeroin][0] @ v0, res[zeroin][2])


def test_second_backward_through_freed_graph():
    for lib in LIBS:
        w = _t(lib, [0.5, -1.0], True)
        loss = (w ** 3).sum()
        (g,) = lib.autograd.grad(loss, w)                  # no create_graph: graph freed
        assert not g.requires_grad
        with pytest.raises(RuntimeError, match="retain_graph=True"):
            loss.backward()
        with pytest.raises(RuntimeError, match="does not require grad"):
            lib.autograd.grad(g.sum(), w)


def _l2l_clone_module(module):
    """learn2learn's ``clone_module``: a copy of the module whose registries hold clones of
    the parameters (differentiable back to the originals), written INTO ``_parameters``."""
    clone = module.__new__(type(module))
    clone.__dict__ = module.__dict__.copy()
    clone._parameters = clone._parameters.copy()
    clone._buffers = clone._buffers.copy()
    clone._modules = clone._modules.copy()
    for key, p in module._parameters.items():
        if p is not None:
            clone._parameters[key] = p.clone()
    for key in clone._modules:
        clone._modules[key] = _l2l_clone_module(module._modules[key])
    return clone


def _l2l_update_module(module, updates):
    """learn2learn's ``update_module`` with ``p.update = -lr * g`` set: ``p + p.update``
    written into each module's ``_parameters``."""
    params = list(module.parameters())
    for p, u in zip(params, updates):
        p.update = u
    for m in module.modules():
        for key, p in m._parameters.items():
            if p is not None and getattr(p, "update", None) is not None:
                m._parameters[key] = p + p.update
                p.update = None
    return module


def test_learn2learn_style_registry_writes_change_the_forward():
    """learn2learn's MAML writes adapted weights into ``module._parameters``; the module's
    forward must compute with them (zeroin also keeps parameters as attributes, which the
    registry write updates), giving PyTorch's meta-gradients."""
    rng = np.random.default_rng(7)
    weights = _mlp_weights(rng)
    xs, ys, xq, yq = _sinusoid_tasks(rng, 1, 5)[0]
    out = {}
    for lib in LIBS:
        model = lib.nn.Sequential(lib.nn.Linear(1, 8), lib.nn.ReLU(), lib.nn.Linear(8, 8),
                                  lib.nn.ReLU(), lib.nn.Linear(8, 1)).double()
        with lib.no_grad():
            for p, w in zip(model.parameters(), weights):
                p.copy_(_t(lib, w))
        learner = _l2l_clone_module(model)
        for _ in range(2):
            loss = lib.nn.functional.mse_loss(learner(_t(lib, xs)), _t(lib, ys))
            grads = lib.autograd.grad(loss, list(learner.parameters()), create_graph=True)
            _l2l_update_module(learner, [-0.1 * g for g in grads])
        qloss = lib.nn.functional.mse_loss(learner(_t(lib, xq)), _t(lib, yq))
        qloss.backward()
        out[lib] = [float(qloss)] + [_np(p.grad) for p in model.parameters()]
        assert learner[0].weight is not model[0].weight
    _close(out[zeroin][0], out[torch][0], 1e-10)
    for a, b in zip(out[torch][1:], out[zeroin][1:]):
        _close(b, a, 1e-10)
