"""Derivatives of order 1..4 by repeated ``zeroin.autograd.grad(..., create_graph=True)``,
op by op, against torch's on the same float64 inputs: the values, which results are None,
which require grad, and the order at which torch raises (a result that no longer depends on
the inputs cannot be differentiated again)."""
import zlib

import numpy as np
import pytest

import zeroin
import zeroin.nn.functional as ZNF

torch = pytest.importorskip("torch")
TNF = torch.nn.functional


def _away(rng, shape, lo=0.3, hi=1.5):
    """Values of both signs, |x| in [lo, hi]: away from kinks at 0."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(lo, hi, shape)


def _pos(rng, shape, lo=0.3, hi=1.5):
    return rng.uniform(lo, hi, shape)


def _unit(rng, shape):
    return rng.uniform(-0.8, 0.8, shape)


def _prob(rng, shape):
    return rng.uniform(0.15, 0.85, shape)


def _big(rng, shape):
    return rng.uniform(1.3, 2.5, shape)


def _zero1(rng, shape):
    """One exact zero (prod's rule takes another path there)."""
    a = _away(rng, shape)
    a[0, 1] = 0.0
    return a


def _zero_row(rng, shape):
    """The first row zeros: the kinks of relu, abs and a norm."""
    a = _away(rng, shape)
    a[0] = 0.0
    return a


def _zero2(rng, shape):
    a = _zero1(rng, shape)
    a[0, 2] = 0.0
    return a


S = (2, 3)
# name: (f(m, F, *xs) on zeroin (m=zeroin, F=its nn.functional) or torch, input makers, order)
UNARY = {n: (lambda m, F, x, n=n: getattr(m, n)(x), [_away], 4) for n in (
    "exp", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "erf", "atan", "sinh", "cosh",
    "asinh", "expm1", "exp2", "square", "neg", "sign", "erfc", "sinc", "floor")}
UNARY.update({n: (lambda m, F, x, n=n: getattr(m, n)(x), [_pos], 4) for n in (
    "log", "sqrt", "rsqrt", "log1p", "log2", "log10", "reciprocal", "lgamma", "digamma")})
UNARY.update({n: (lambda m, F, x, n=n: getattr(m, n)(x), [_unit], 4) for n in (
    "tan", "asin", "acos", "atanh", "erfinv")})
UNARY.update({
    "acosh": (lambda m, F, x: m.acosh(x), [_big], 4),
    "logit": (lambda m, F, x: m.logit(x), [_prob], 4),
    "gelu": (lambda m, F, x: F.gelu(x), [_away], 4),
    "gelu_tanh": (lambda m, F, x: F.gelu(x, approximate="tanh"), [_away], 4),
    "silu": (lambda m, F, x: F.silu(x), [_away], 4),
    "softplus": (lambda m, F, x: F.softplus(x), [_away], 4),
    "softplus_beta": (lambda m, F, x: F.softplus(x, beta=2.0, threshold=1.0), [_away], 4),
    "elu": (lambda m, F, x: F.elu(x, alpha=0.7), [_away], 4),
    "selu": (lambda m, F, x: F.selu(x), [_away], 4),
    "celu": (lambda m, F, x: F.celu(x, alpha=1.25), [_away], 4),
    "leaky_relu": (lambda m, F, x: F.leaky_relu(x, 0.1), [_away], 4),
    "mish": (lambda m, F, x: F.mish(x), [_away], 4),
    "softsign": (lambda m, F, x: F.softsign(x), [_away], 4),
    "logsigmoid": (lambda m, F, x: F.logsigmoid(x), [_away], 4),
    "hardtanh": (lambda m, F, x: F.hardtanh(x, -0.9, 0.9), [_away], 4),
    "relu6": (lambda m, F, x: F.relu6(x * 4), [_away], 4),
    "hardswish": (lambda m, F, x: F.hardswish(x * 2), [_away], 4),
    "hardsigmoid": (lambda m, F, x: F.hardsigmoid(x * 2), [_away], 4),
    "pow_int3": (lambda m, F, x: x ** 3, [_away], 4),
    "pow_int2": (lambda m, F, x: x ** 2, [_away], 4),
    "pow_neg2": (lambda m, F, x: x ** -2, [_away], 4),
    "pow_half": (lambda m, F, x: x ** 0.5, [_pos], 4),
    "pow_float": (lambda m, F, x: x ** 2.5, [_pos], 4),
    "pow_one": (lambda m, F, x: m.pow(x, 1), [_away], 4),
    "rpow": (lambda m, F, x: 2.0 ** x, [_away], 4),
    "clamp": (lambda m, F, x: m.clamp(x, -0.9, 0.9), [_away], 4),
    "clamp_min": (lambda m, F, x: m.clamp(x, min=0.2) ** 2, [_away], 3),
    "sign_mul": (lambda m, F, x: m.sign(x) * x ** 2, [_away], 4),
    "abs_cube": (lambda m, F, x: x.abs() ** 3, [_away], 4),
    "relu_cube": (lambda m, F, x: x.relu() ** 3, [_away], 4),
    "leaky_relu_cube": (lambda m, F, x: F.leaky_relu(x, 0.2) ** 3, [_away], 4),
    "hardtanh_cube": (lambda m, F, x: F.hardtanh(x) ** 3, [_away], 4),
    "gelu_tanh_wide": (lambda m, F, x: F.gelu(x * 4, approximate="tanh"), [_away], 4),
})
BINARY = {n: (lambda m, F, x, y, n=n: getattr(m, n)(x, y), [_away, _away], 4) for n in (
    "add", "sub", "mul", "div", "maximum", "minimum", "atan2", "hypot", "logaddexp")}
BINARY.update({
    "pow_tensor": (lambda m, F, x, y: m.pow(x, y), [_pos, _away], 4),
    "where": (lambda m, F, x, y: m.where(x > 0, x * y, y.exp()), [_away, _away], 4),
    "where_scalar": (lambda m, F, x: m.where(x > 0, x, 0.0) ** 2, [_away], 3),
    "clamp_max_tensor": (lambda m, F, x, y: m.clamp(x, max=y) ** 2, [_away, _away], 3),
    "atan2_pow": (lambda m, F, x, y: m.atan2(x ** 2, y) ** 3, [_away, _away], 4),
    "xlogy": (lambda m, F, x, y: m.xlogy(x, y), [_away, _pos], 4),
    "bcast_mul": (lambda m, F, x, y: x * y[0], [_away, _away], 4),
    "lerp": (lambda m, F, x, y: m.lerp(x, y, 0.3), [_away, _away], 4),
})
REDUCE = {
    "sum": (lambda m, F, x: (x * x).sum(1), [_away], 4),
    "mean": (lambda m, F, x: x.exp().mean(), [_away], 4),
    "prod": (lambda m, F, x: x.prod(1), [_away], 4),
    "prod_all": (lambda m, F, x: x.prod(), [_away], 4),
    "prod_zero": (lambda m, F, x: x.prod(1), [_zero1], 4),
    "prod_zeros": (lambda m, F, x: x.prod(1), [_zero2], 4),
    "prod_all_zero": (lambda m, F, x: x.prod(), [_zero1], 4),
    "cumprod_zero": (lambda m, F, x: m.cumprod(x, 1), [_zero1], 3),
    "norm3_at_0": (lambda m, F, x: m.linalg.vector_norm(x, 3, dim=1), [_zero_row], 3),
    "relu_at_0": (lambda m, F, x: x.relu() ** 2, [_zero_row], 4),
    "abs_at_0": (lambda m, F, x: x.abs() ** 3, [_zero_row], 4),
    "logsumexp": (lambda m, F, x: m.logsumexp(x, 1), [_away], 4),
    "softmax": (lambda m, F, x: m.softmax(x, 1), [_away], 4),
    "log_softmax": (lambda m, F, x: m.log_softmax(x, 1), [_away], 4),
    "norm": (lambda m, F, x: m.norm(x), [_away], 4),
    "norm_dim": (lambda m, F, x: m.linalg.vector_norm(x, dim=1), [_away], 4),
    "norm_1": (lambda m, F, x: m.linalg.vector_norm(x, 1, dim=1), [_away], 4),
    "norm_inf": (lambda m, F, x: m.linalg.vector_norm(x, float("inf"), dim=1), [_away], 4),
    "norm_3": (lambda m, F, x: m.linalg.vector_norm(x, 3, dim=1), [_away], 4),
    "var": (lambda m, F, x: m.var(x, 1), [_away], 4),
    "std": (lambda m, F, x: m.std(x), [_away], 4),
    "std_dim": (lambda m, F, x: m.std(x, 1, correction=0), [_away], 4),
    "softmax_masked": (lambda m, F, x: F.softmax(x.masked_fill(m.tensor([[True, False, False]] * 2),
                                                               float("-inf")), 1), [_away], 3),
    "amax": (lambda m, F, x: m.amax(x, 1), [_away], 4),
    "max_dim": (lambda m, F, x: m.max(x, 1)[0], [_away], 4),
    "max_all": (lambda m, F, x: x.max(), [_away], 4),
    "amin": (lambda m, F, x: m.amin(x, 0), [_away], 4),
    "cumsum": (lambda m, F, x: m.cumsum(x * x, 1), [_away], 4),
    "cumprod": (lambda m, F, x: m.cumprod(x, 1), [_away], 4),
    "normalize": (lambda m, F, x: F.normalize(x, dim=1), [_away], 4),
}
LINALG = {
    "matmul": (lambda m, F, x, y: m.matmul(x, y.T), [_away, _away], 4),
    "matmul_sq": (lambda m, F, x: m.matmul(x, x.T), [_away], 4),
    "linear": (lambda m, F, x, w, b: F.linear(x, w, b[0, :2]), [_away, _away, _away], 4),
    "einsum": (lambda m, F, x, y: m.einsum("ij,kj->ik", x, y), [_away, _away], 4),
    "einsum_sq": (lambda m, F, x: m.einsum("ij,ij->i", x, x), [_away], 4),
    "det": (lambda m, F, x: m.linalg.det(x[:, :2] + 2 * m.eye(2, dtype=x.dtype)),
            [_away], 4),
    "trace": (lambda m, F, x: m.trace(x @ x.T) ** 2, [_away], 4),
    "bmm": (lambda m, F, x, y: m.bmm(x[None], y.T[None]) ** 2, [_away, _away], 3),
    "outer_kron": (lambda m, F, x: m.outer(x[0], x[1]).sin().sum() * m.kron(x[:, :2], x[:, 1:]),
                   [_away], 3),
    "inv": (lambda m, F, x: m.linalg.inv(x[:, :2] + 2 * m.eye(2, dtype=x.dtype)),
            [_away], 3),
}
SHAPE = {
    "reshape": (lambda m, F, x: (x.reshape(3, 2) * x.reshape(3, 2)).exp(), [_away], 3),
    "transpose": (lambda m, F, x: x.T.sin() * x.transpose(0, 1), [_away], 3),
    "getitem": (lambda m, F, x: x[:, 1:].exp() * x[0, 0], [_away], 3),
    "cat": (lambda m, F, x, y: m.cat([x, y * y]).sin(), [_away, _away], 3),
    "stack": (lambda m, F, x, y: m.stack([x, y]).tanh(), [_away, _away], 3),
    "unsqueeze_expand": (lambda m, F, x: x.unsqueeze(0).expand(2, 2, 3).exp(), [_away], 3),
    "flip_roll": (lambda m, F, x: m.roll(m.flip(x, [1]), 1, 0).sin() * x, [_away], 3),
    "gather": (lambda m, F, x: m.gather(x, 1, m.tensor([[2, 0], [1, 1]])).exp(),
               [_away], 3),
    "squeeze": (lambda m, F, x: x[:1].squeeze(0).cos(), [_away], 3),
}
LOSSES = {
    "mse_loss": (lambda m, F, x, y: F.mse_loss(x, y), [_away, _away], 4),
    "l1_loss": (lambda m, F, x, y: F.l1_loss(x, y), [_away, _away], 4),
    "l1_loss_sum": (lambda m, F, x, y: F.l1_loss(x * x, y, reduction="sum"),
                    [_away, _away], 4),
    "huber_loss": (lambda m, F, x, y: F.huber_loss(x, y, delta=0.8), [_away, _away], 4),
    "smooth_l1_loss": (lambda m, F, x, y: F.smooth_l1_loss(x, y, beta=0.8),
                       [_away, _away], 4),
    "cross_entropy": (lambda m, F, x: F.cross_entropy(x, m.tensor([2, 0])), [_away], 4),
    "cross_entropy_ls": (lambda m, F, x: F.cross_entropy(x, m.tensor([2, 0]),
                                                         label_smoothing=0.1), [_away], 4),
    "cross_entropy_probs": (lambda m, F, x, y: F.cross_entropy(x, y.softmax(1)),
                            [_away, _away], 4),
    "ce_weight": (lambda m, F, x: F.cross_entropy(x, m.tensor([2, 0]), weight=m.tensor(
        [1.0, 2.0, 0.5], dtype=x.dtype)), [_away], 4),
    "nll_ignore": (lambda m, F, x: F.nll_loss(x.log_softmax(1), m.tensor([1, -100])), [_away], 3),
    "bce_sigmoid": (lambda m, F, x, y: F.binary_cross_entropy(x.sigmoid(), y), [_away, _prob], 4),
    "huber_inside": (lambda m, F, x, y: F.huber_loss(x * 0.1, y * 0.1, delta=0.8),
                     [_away, _away], 4),
    "mse_none": (lambda m, F, x, y: F.mse_loss(x, y, reduction="none"), [_away, _away], 4),
    "nll_loss": (lambda m, F, x: F.nll_loss(x.log_softmax(1), m.tensor([1, 2])),
                 [_away], 4),
    "bce": (lambda m, F, x, y: F.binary_cross_entropy(x, y), [_prob, _prob], 4),
    "bce_logits": (lambda m, F, x, y: F.binary_cross_entropy_with_logits(x, y),
                   [_away, _prob], 4),
    "bce_logits_pw": (lambda m, F, x, y: F.binary_cross_entropy_with_logits(
        x, y, pos_weight=m.tensor([1.0, 2.0, 0.5], dtype=x.dtype)), [_away, _prob], 4),
    "kl_div": (lambda m, F, x, y: F.kl_div(x.log_softmax(1), y.softmax(1),
                                           reduction="batchmean"), [_away, _away], 4),
}
MORE = {
    "i0": (lambda m, F, x: m.special.i0(x), [_away], 4),
    "i0e": (lambda m, F, x: m.special.i0e(x), [_away], 3),
    "i1": (lambda m, F, x: m.special.i1(x), [_away], 3),
    "i1e": (lambda m, F, x: m.special.i1e(x), [_away], 3),
    "ndtr": (lambda m, F, x: m.special.ndtr(x), [_away], 4),
    "ndtri": (lambda m, F, x: m.special.ndtri(x), [_prob], 4),
    "log_ndtr": (lambda m, F, x: m.special.log_ndtr(x), [_away], 4),
    "erfcx": (lambda m, F, x: m.special.erfcx(x), [_away], 4),
    "xlog1py": (lambda m, F, x, y: m.special.xlog1py(x, y), [_away, _pos], 4),
    "polygamma2": (lambda m, F, x: m.polygamma(2, x), [_big], 3),
    "mvlgamma": (lambda m, F, x: m.mvlgamma(x, 2), [_big], 3),
    "logaddexp2": (lambda m, F, x, y: m.logaddexp2(x, y), [_away, _away], 4),
    "copysign": (lambda m, F, x, y: m.copysign(x, y), [_away, _away], 3),
    "fmod": (lambda m, F, x: m.fmod(x * 3, 1.7), [_away], 3),
    "remainder": (lambda m, F, x, y: m.remainder(x * 3, y), [_away, _pos], 3),
    "frac_trunc_round": (lambda m, F, x: m.frac(x * 3) + m.trunc(x) * m.round(x) + m.ceil(x),
                         [_away], 3),
    "deg2rad": (lambda m, F, x: m.deg2rad(x).sin() + m.rad2deg(x), [_away], 3),
    "clamp_tensor": (lambda m, F, x, lo: m.clamp(x, lo, lo + 1.0), [_away, _away], 3),
    "cummax": (lambda m, F, x: m.cummax(x * x, 1)[0], [_away], 3),
    "logcumsumexp": (lambda m, F, x: m.logcumsumexp(x, 1), [_away], 4),
    "median": (lambda m, F, x: m.median(x * x, 1)[0], [_away], 3),
    "sort": (lambda m, F, x: m.sort(x, 1)[0].exp(), [_away], 3),
    "topk": (lambda m, F, x: m.topk(x * x, 2, 1)[0], [_away], 3),
    "kthvalue": (lambda m, F, x: m.kthvalue(x, 2, 1)[0] ** 2, [_away], 3),
    "quantile": (lambda m, F, x: m.quantile(x * x, 0.3, dim=1), [_away], 3),
    "min_dim": (lambda m, F, x: m.min(x ** 3, 1)[0], [_away], 4),
    "tril_triu": (lambda m, F, x: m.tril(x.exp()) + m.triu(x * x, 1), [_away], 3),
    "diag": (lambda m, F, x: m.diag_embed(x.sin()).sum(0)[:2, :2] + m.diagonal(x[:, :2] ** 3),
             [_away], 3),
    "masked_fill": (lambda m, F, x: m.masked_fill(x.exp(), x > 0, 0.5), [_away], 3),
    "index_select": (lambda m, F, x: m.index_select(x, 1, m.tensor([2, 0, 2])) ** 3,
                     [_away], 3),
    "scatter_add": (lambda m, F, x, y: m.scatter_add(x * x, 1, m.tensor([[0, 1, 0]] * 2),
                                                     y.exp()), [_away, _away], 3),
    "index_add": (lambda m, F, x, y: m.index_add(x, 1, m.tensor([2, 0, 2]), y * y) ** 2,
                  [_away, _away], 3),
    "pad": (lambda m, F, x: F.pad(x.exp(), (1, 2)) * F.pad(x, (2, 1)), [_away], 3),
    "repeat_tile": (lambda m, F, x: x.repeat(2, 1).exp() * m.tile(x, (2, 1)), [_away], 3),
    "rot90_narrow": (lambda m, F, x: m.rot90(x ** 3, 1, [0, 1]).sum() * m.narrow(x, 1, 1, 2),
                     [_away], 3),
    "unfold": (lambda m, F, x: x.unfold(1, 2, 1).exp(), [_away], 3),
    "cosine_similarity": (lambda m, F, x, y: F.cosine_similarity(x, y), [_away, _away], 3),
    "pairwise_distance": (lambda m, F, x, y: F.pairwise_distance(x, y), [_away, _away], 3),
    "pdist": (lambda m, F, x: F.pdist(x), [_away], 3),
    "cdist": (lambda m, F, x, y: m.cdist(x, y), [_away, _away], 3),
    "glu": (lambda m, F, x: F.glu(x.repeat(1, 2), 1), [_away], 4),
    "softmin": (lambda m, F, x: F.softmin(x, 1), [_away], 4),
    "tanhshrink": (lambda m, F, x: F.tanhshrink(x), [_away], 4),
    "softshrink": (lambda m, F, x: F.softshrink(x, 0.2) ** 2, [_away], 3),
    "hardshrink": (lambda m, F, x: F.hardshrink(x, 0.2) ** 2, [_away], 3),
    "threshold": (lambda m, F, x: F.threshold(x, 0.1, -2.0) ** 2, [_away], 3),
    "prelu": (lambda m, F, x, w: F.prelu(x, w[0, :1]), [_away, _away], 3),
    "poisson_nll": (lambda m, F, x, y: F.poisson_nll_loss(x, y.abs()), [_away, _away], 4),
    "gaussian_nll": (lambda m, F, x, y, v: F.gaussian_nll_loss(x, y, v.abs()),
                     [_away, _away, _away], 4),
    "margin_ranking": (lambda m, F, x, y: F.margin_ranking_loss(x, y, m.tensor(
        [[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]], dtype=x.dtype)),
                       [_away, _away], 3),
    "hinge_embedding": (lambda m, F, x: F.hinge_embedding_loss(x, m.tensor(
        [[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]], dtype=x.dtype)), [_away], 3),
    "soft_margin": (lambda m, F, x: F.soft_margin_loss(x, m.tensor(
        [[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]], dtype=x.dtype)), [_away], 4),
    "multilabel_soft_margin": (lambda m, F, x, y: F.multilabel_soft_margin_loss(x, y),
                               [_away, _prob], 4),
    "triplet_margin": (lambda m, F, x, y, z: F.triplet_margin_loss(x, y, z, margin=3.0),
                       [_away, _away, _away], 3),
    "cholesky": (lambda m, F, x: m.linalg.cholesky(x @ x.T + m.eye(2, dtype=x.dtype)),
                 [_away], 3),
    "slogdet": (lambda m, F, x: m.linalg.slogdet(x[:, :2] + 2 * m.eye(2, dtype=x.dtype))[1],
                [_away], 3),
    "solve": (lambda m, F, a, b: m.linalg.solve(a[:, :2] + 2 * m.eye(2, dtype=a.dtype), b),
              [_away, _away], 3),
    "eigvalsh": (lambda m, F, x: m.linalg.eigvalsh(x @ x.T), [_away], 3),
    "svdvals": (lambda m, F, x: m.linalg.svdvals(x), [_away], 3),
    "pinv": (lambda m, F, x: m.linalg.pinv(x), [_away], 2),
    "matrix_exp": (lambda m, F, x: m.linalg.matrix_exp(x[:, :2]), [_away], 3),
    "qr": (lambda m, F, x: m.linalg.qr(x.T)[1], [_away], 2),
    "embedding": (lambda m, F, w: F.embedding(m.tensor([1, 0, 1]), w) ** 2, [_away], 3),
    "interpolate": (lambda m, F, x: F.interpolate(x[None], scale_factor=2, mode="linear")
                    ** 2, [_away], 3),
    "sum_to_broadcast": (lambda m, F, x, y: (x[:, None, :] * y[None] ** 2).exp(),
                         [_away, _away], 3),
}
def _sym(m, x):
    """A symmetric positive definite 2 x 2 matrix from x (2, 3)."""
    return x @ x.T + m.eye(2, dtype=x.dtype) * 3


def _lstm(m, x):
    """An LSTM (torch's gate order and parameter layout) with fixed weights, on x."""
    lstm = m.nn.LSTM(3, 2).double()
    with m.no_grad():
        for i, p in enumerate(lstm.parameters()):
            p.copy_(m.tensor(np.linspace(-0.5, 0.5, p.numel()).reshape(p.shape) * (1 + i)))
    return lstm(x.reshape(2, 1, 3))[0]


MORE2 = {
    "eigh": (lambda m, F, x: m.linalg.eigh(_sym(m, x))[1].abs() * m.linalg.eigh(_sym(m, x))[0],
             [_away], 2),
    "svd_u": (lambda m, F, x: m.linalg.svd(x, full_matrices=False)[0].abs(), [_away], 2),
    "solve_triangular": (lambda m, F, a, b: m.linalg.solve_triangular(
        m.tril(a[:, :2]) + 2 * m.eye(2, dtype=a.dtype), b, upper=False), [_away, _away], 3),
    "take_along_dim": (lambda m, F, x: m.take_along_dim(x ** 3, m.tensor([[2, 0], [1, 1]]), 1),
                       [_away], 4),
    "scatter": (lambda m, F, x, y: m.scatter(x ** 2, 1, m.tensor([[2, 0], [1, 0]]),
                                             y[:, :2] ** 3), [_away, _away], 4),
    "index_put": (lambda m, F, x, y: x.index_put((m.tensor([0, 1]), m.tensor([2, 0])),
                                                 y[0, :2] ** 3) ** 2, [_away, _away], 4),
    "select_scatter": (lambda m, F, x, y: m.select_scatter(x ** 2, y[0] ** 3, 0, 1),
                       [_away, _away], 4),
    "slice_scatter": (lambda m, F, x, y: m.slice_scatter(x ** 2, y[:, :2] ** 3, 1, 0, 2),
                      [_away, _away], 4),
    "diagonal_scatter": (lambda m, F, x, y: m.diagonal_scatter(x ** 2, y[0, :2] ** 3),
                         [_away, _away], 4),
    "gammainc": (lambda m, F, a, x: m.special.gammainc(a.detach(), x), [_pos, _pos], 3),
    "nansum": (lambda m, F, x: m.nansum(x ** 3, 1), [_away], 4),
    "nanquantile": (lambda m, F, x: m.nanquantile(x ** 3, 0.4, dim=1), [_away], 4),
    "msort": (lambda m, F, x: m.msort(x ** 3) * 2, [_away], 4),
    "permute_view": (lambda m, F, x: x.permute(1, 0).reshape(6).view(2, 3) ** 3, [_away], 4),
    "flatten_unflatten": (lambda m, F, x: x.flatten().unflatten(0, (3, 2)) ** 3, [_away], 4),
    "clone_to": (lambda m, F, x: x.clone().to(m.float32).to(m.float64) ** 3, [_away], 3),
    "broadcast_to": (lambda m, F, x: m.broadcast_to(x[0] ** 3, (2, 3)), [_away], 4),
    "swapaxes_select": (lambda m, F, x: m.swapaxes(x, 0, 1).select(0, 1) ** 3, [_away], 4),
    "cosine_embedding": (lambda m, F, x, y: F.cosine_embedding_loss(
        x, y, m.tensor([1.0, -1.0], dtype=x.dtype)), [_away, _away], 3),
    "multi_margin": (lambda m, F, x: F.multi_margin_loss(x, m.tensor([2, 0]), margin=3.0),
                     [_away], 3),
    "multilabel_margin": (lambda m, F, x: F.multilabel_margin_loss(
        x ** 3, m.tensor([[2, -1, 0], [0, 1, -1]])), [_away], 3),
    "ctc": (lambda m, F, x: F.ctc_loss(x.reshape(2, 1, 3).log_softmax(2).repeat(2, 1, 1),
                                       m.tensor([[1]]), [4], [1]), [_away], 2),
    "embedding_bag": (lambda m, F, w: F.embedding_bag(m.tensor([0, 1, 1]), w, m.tensor([0, 2]),
                                                      mode="mean") ** 3, [_away], 3),
    "rrelu_eval": (lambda m, F, x: F.rrelu(x, training=False) ** 3, [_away], 4),
    "logsigmoid_tanhshrink": (lambda m, F, x: F.logsigmoid(x) * F.tanhshrink(x), [_away], 4),
    "lstm": (lambda m, F, x: _lstm(m, x), [_away], 2),
    "bilinear": (lambda m, F, x, y, w: F.bilinear(x, y, w.reshape(2, 3, 1).repeat(1, 1, 3)),
                 [_away, _away, _away], 3),
    "pixel_unshuffle": (lambda m, F, x: F.pixel_unshuffle(
        x.reshape(1, 1, 2, 3).repeat(1, 1, 2, 2)[:, :, :4, :4], 2) ** 3, [_away], 3),
    "grid_sample": (lambda m, F, x, g: F.grid_sample(
        x.reshape(1, 1, 2, 3), g.reshape(1, 1, 3, 2) * 0.5, align_corners=False),
        [_away, _away], 2),
    "interpolate_bilinear": (lambda m, F, x: F.interpolate(
        x.reshape(1, 1, 2, 3), scale_factor=2, mode="bilinear") ** 2, [_away], 3),
    "conv2d_dilated": (lambda m, F, x, w: F.conv2d(
        x.reshape(1, 1, 2, 3).repeat(1, 2, 2, 2), w.reshape(1, 2, 3, 1)[:, :, :2] ** 2,
        dilation=(1, 2)) ** 2, [_away, _away], 3),
    "conv1d_groups": (lambda m, F, x, w: F.conv1d(x.reshape(1, 2, 3), w.reshape(2, 1, 3),
                                                  groups=2) ** 3, [_away, _away], 3),
    "avg_pool2d_ceil": (lambda m, F, x: F.avg_pool2d(
        x.reshape(1, 1, 2, 3), 2, ceil_mode=True, count_include_pad=False) ** 3, [_away], 3),
    "lp_pool1d": (lambda m, F, x: F.lp_pool1d(x.abs().reshape(1, 2, 3) + 0.1, 2, 2),
                  [_away], 3),
    "adaptive_avg_pool1d": (lambda m, F, x: F.adaptive_avg_pool1d(x.reshape(1, 2, 3), 2) ** 3,
                            [_away], 3),
    "max_pool2d_indices": (lambda m, F, x: F.max_pool2d(
        x.reshape(1, 1, 2, 3), 2, 1, return_indices=True)[0] ** 3, [_away], 3),
    "group_norm_affine": (lambda m, F, x, w: F.group_norm(x.reshape(1, 2, 3), 2, w[0, :2],
                                                          w[1, :2]), [_away, _away], 2),
    "normalize_p1": (lambda m, F, x: F.normalize(x, p=1, dim=1), [_away], 3),
    "dist": (lambda m, F, x, y: m.dist(x, y, 3), [_away, _away], 3),
    "logdet": (lambda m, F, x: m.logdet(_sym(m, x)), [_away], 3),
    "matrix_power": (lambda m, F, x: m.linalg.matrix_power(x[:, :2], 3), [_away], 4),
    "multi_dot": (lambda m, F, x, y: m.linalg.multi_dot([x, y.T, x]), [_away, _away], 3),
    "cross": (lambda m, F, x, y: m.linalg.cross(x, y) ** 2, [_away, _away], 3),
    "lstsq": (lambda m, F, a, b: m.linalg.lstsq(a.T, b.T).solution, [_away, _away], 2),
    "vecdot": (lambda m, F, x, y: m.linalg.vecdot(x, y) ** 3, [_away, _away], 4),
    "cholesky_solve": (lambda m, F, x, b: m.cholesky_solve(b[:, :2], m.linalg.cholesky(
        _sym(m, x))), [_away, _away], 2),
    "lu_solve": (lambda m, F, a, b: m.linalg.lu_solve(
        *m.linalg.lu_factor(a[:, :2] + 2 * m.eye(2, dtype=a.dtype)), b), [_away, _away], 2),
    "cummin": (lambda m, F, x: m.cummin(x ** 3, 1)[0], [_away], 4),
    "logit_eps": (lambda m, F, x: m.logit(x.sigmoid(), eps=0.01), [_away], 4),
    "xlogy_scalar": (lambda m, F, x: m.xlogy(2.0, x.abs()), [_away], 4),
    "number_pow_tensor": (lambda m, F, x: m.pow(1.5, x), [_away], 4),
    "addcmul": (lambda m, F, x, y: m.addcmul(x, x, y, value=0.5) ** 2, [_away, _away], 4),
    "addmm": (lambda m, F, x, y: m.addmm(x[:, :2], x, y.T) ** 2, [_away, _away], 4),
    "heaviside_mul": (lambda m, F, x: m.heaviside(x, m.tensor(0.5, dtype=x.dtype)) * x ** 2,
                      [_away], 4),
    "erfinv_sq": (lambda m, F, x: m.erfinv(x * 0.5) ** 2, [_away], 4),
    "entr": (lambda m, F, x: m.special.entr(x.abs()), [_away], 4),
    "xlog1py_same": (lambda m, F, x: m.special.xlog1py(x, x.abs()), [_away], 4),
    "zeta": (lambda m, F, x: m.special.zeta(x.abs() + 1.5, m.tensor(2.0, dtype=x.dtype)),
             [_away], 2),
    "multigammaln": (lambda m, F, x: m.special.multigammaln(x.abs() + 2, 2), [_away], 2),
    "bessel_j0": (lambda m, F, x: m.special.bessel_j0(x), [_away], 2),
    "expit_logsumexp": (lambda m, F, x: m.special.expit(x) * m.special.logsumexp(
        x, 1, keepdim=True), [_away], 4),
}
S4 = (2, 2, 5, 5)


def _img(rng, shape):
    return _away(rng, S4)


def _w2(rng, shape):
    return _away(rng, (3, 2, 3, 3))


def _sig(rng, shape):
    return _away(rng, (2, 2, 7))


def _w1(rng, shape):
    return _away(rng, (3, 2, 3))


HEAVY = {
    "conv1d": (lambda m, F, x, w: F.conv1d(x, w, padding=1).tanh(), [_sig, _w1], 2),
    "conv2d": (lambda m, F, x, w: F.conv2d(x, w, stride=2, padding=1).tanh(),
               [_img, _w2], 2),
    "conv2d_sq": (lambda m, F, x: F.conv2d(x, x[:, :, :3, :3]), [_img], 3),
    "max_pool2d": (lambda m, F, x: F.max_pool2d(x * x, 2), [_img], 2),
    "avg_pool2d": (lambda m, F, x: F.avg_pool2d(x, 2, padding=1).exp(), [_img], 2),
    "max_pool1d": (lambda m, F, x: F.max_pool1d(x.exp(), 3, 2), [_sig], 2),
    "adaptive_avg_pool2d": (lambda m, F, x: F.adaptive_avg_pool2d(x, 2).sin(), [_img], 2),
    "layer_norm": (lambda m, F, x: F.layer_norm(x, (3,)), [_away], 2),
    "layer_norm_affine": (lambda m, F, x, w, b: F.layer_norm(x, (3,), w[0], b[0]),
                          [_away, _away, _away], 2),
    "batch_norm": (lambda m, F, x, w, b: F.batch_norm(x, None, None, w[0], b[0],
                                                      training=True), [_away] * 3, 2),
    "group_norm": (lambda m, F, x: F.group_norm(x, 1), [_img], 2),
    "rms_norm": (lambda m, F, x: F.rms_norm(x, (3,)), [_away], 2),
    "conv_transpose2d": (lambda m, F, x, w: F.conv_transpose2d(x, w[:2], stride=2).tanh(),
                         [_img, _w2], 2),
    "instance_norm": (lambda m, F, x: F.instance_norm(x), [_img], 2),
    "local_response_norm": (lambda m, F, x: F.local_response_norm(x, 2), [_img], 2),
    "avg_pool1d": (lambda m, F, x: F.avg_pool1d(x, 2) ** 3, [_sig], 3),
    "adaptive_max_pool2d": (lambda m, F, x: F.adaptive_max_pool2d(x, 2) ** 2, [_img], 3),
    "pixel_shuffle": (lambda m, F, x: F.pixel_shuffle(x[:, :, :4, :4].repeat(1, 2, 1, 1), 2)
                      .exp(), [_img], 3),
    "fold_unfold": (lambda m, F, x: F.fold(F.unfold(x, 2) ** 2, (5, 5), 2), [_img], 3),
    "sdpa": (lambda m, F, q, k: F.scaled_dot_product_attention(q[None], k[None], k[None]),
             [_away, _away], 2),
}
CASES = {**UNARY, **BINARY, **REDUCE, **LINALG, **SHAPE, **LOSSES, **MORE, **MORE2, **HEAVY}

# torch's trigamma (polygamma(1, x), in lgamma's second and digamma's first derivative) is
# only ~5e-10 accurate in float64 (zeroin's is to 1e-15: test_trigamma_is_accurate)
RTOL = {"lgamma": 2e-9, "digamma": 2e-9, "mvlgamma": 2e-9, "multigammaln": 2e-9}


def _pdist(m, F, x):
    i, j = np.triu_indices(x.shape[0], 1)
    return ((x[i] - x[j]) ** 2).sum(-1).sqrt()


def _multi_margin(m, x):
    """multi_margin_loss(x, [2, 0], margin=3) written out: sum over j != y of
    relu(3 - x_y + x_j) / C, averaged over the batch."""
    xy = x[[0, 1], [2, 0]][:, None]
    others = m.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]], dtype=x.dtype)
    return ((3 - xy + x).relu() * others).sum(1).mean() / 3


def _multilabel_margin(m, z):
    """multilabel_margin_loss(z, [[2, -1, 0], [0, 1, -1]]) written out: labels {2} and
    {0, 1}; sum over labels j and non-labels k of relu(1 - z_j + z_k) / C, batch mean."""
    first = (1 - z[0, 2] + z[0, :2]).relu().sum()
    second = (1 - z[1, :2] + z[1, 2]).relu().sum()
    return (first + second) / 6


# where torch's own op has no derivative of that order (or a NaN), the reference is torch
# on the same function composed from ops that have one; test_torch_lacks_these checks why
COMPOSED = {
    "hardsigmoid": (lambda m, F, x: F.relu6(x * 2 + 3) / 6, 2, "not implemented"),
    "pdist": (_pdist, 2, "not implemented"),
    "cdist": (lambda m, F, x, y: ((x[:, None] - y[None]) ** 2).sum(-1).sqrt(), 2,
              "not implemented"),
    "logcumsumexp": (lambda m, F, x: m.stack([m.logsumexp(x[:, :i + 1], 1)
                                                for i in range(x.shape[1])], 1), 3, "nan"),
    "multi_margin": (lambda m, F, x: _multi_margin(m, x), 2, "not imple"),
    "multilabel_margin": (lambda m, F, x: _multilabel_margin(m, x ** 3), 2, "not "),
    "embedding_bag": (lambda m, F, w: m.stack([(w[0] + w[1]) / 2, w[1]]) ** 3, 2,
                      "not implemen"),
}
# the one deliberate difference (README, docs/higher_order.md): the gradient of a bias in
# layer_norm and batch_norm depends on no input; torch's fused backward still marks it
# requires_grad (every derivative of it is None), zeroin's does not (test_bias_gradient)
BIAS_GRAD = {"layer_norm_affine": 2, "batch_norm": 2}


def _arr(g):
    """A gradient's values (torch's can be a ZeroTensor, which needs force=True)."""
    return g.detach().numpy(force=True).copy() if isinstance(g, torch.Tensor) \
        else g.detach().numpy().copy()


def _chain(lib, case, name, composed=False):
    """Orders 1..n of the scalar (f(xs) * v).sum(): at each order the gradients of the
    last scalar with respect to every input (allow_unused=True), their values and
    requires_grad; 'raises' where grad raised. The next scalar is sum((g_i * w_i).sum())
    with fixed random w_i."""
    f, makers, order = case
    if composed:
        f = COMPOSED[name][0]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    arrays = [mk(rng, S) for mk in makers]
    F = ZNF if lib is zeroin else TNF
    xs = [lib.tensor(a, dtype=lib.float64, requires_grad=True) for a in arrays]
    out = f(lib, F, *xs)
    cur = (out * lib.tensor(rng.uniform(-1, 1, tuple(out.shape)))).sum()
    chain = []
    for _ in range(order):
        try:
            gs = lib.autograd.grad(cur, xs, create_graph=True, allow_unused=True)
        except RuntimeError as e:
            chain.append(("raises", str(e)[:60]))
            break
        chain.append([None if g is None else (_arr(g), g.requires_grad)
                      for g in gs])
        terms = [(g * lib.tensor(rng.uniform(-1, 1, a.shape))).sum()
                 for g, a in zip(gs, arrays) if g is not None]
        if not terms:
            break
        cur = sum(terms[1:], terms[0])
    return chain


def _compare(name):
    """The first difference between zeroin's chain and torch's, or None."""
    z, t = _chain(zeroin, CASES[name], name), _chain(torch, CASES[name], name)
    if name in COMPOSED:    # torch's own op up to the order it lacks, then the composed
        k = COMPOSED[name][1]
        t = t[:k - 1] + _chain(torch, CASES[name], name, composed=True)[k - 1:]
    for k, (zk, tk) in enumerate(zip(z, t), 1):
        if isinstance(tk, tuple) or isinstance(zk, tuple):
            if not (isinstance(tk, tuple) and isinstance(zk, tuple)):
                return f"order {k}: zeroin {zk if isinstance(zk, tuple) else 'gives'}, " \
                       f"torch {tk if isinstance(tk, tuple) else 'gives'}"
            continue
        for i, (a, b) in enumerate(zip(zk, tk)):
            if (a is None) != (b is None):
                return f"order {k} input {i}: zeroin {a is None and 'None'}, torch " \
                       f"{b is None and 'None'}"
            if a is None:
                continue
            rtol = RTOL.get(name, 1e-10)     # relative to each element and to the largest
            scale = np.abs(b[0][np.isfinite(b[0])]).max(initial=0)
            if not np.allclose(a[0], b[0], rtol, rtol * scale + 1e-12, equal_nan=True):
                err = np.max(np.abs(a[0] - b[0]) / (np.abs(b[0]) + 1e-12))
                return f"order {k} input {i}: values differ, rel {err:.1e}"
            if a[1] != b[1] and not (k == 1 and BIAS_GRAD.get(name) == i):
                return f"order {k} input {i}: requires_grad {a[1]} vs torch {b[1]}"
    if len(z) != len(t):
        return f"zeroin gave {len(z)} orders, torch {len(t)}"
    return None


@pytest.mark.parametrize("name", sorted(CASES))
def test_order_n_matches_torch(name):
    assert _compare(name) is None, _compare(name)



@pytest.mark.parametrize("name", sorted(COMPOSED))
def test_torch_lacks_these(name):
    """Why COMPOSED stands in for torch: its own op raises (or gives NaN) at that order."""
    _, k, why = COMPOSED[name]
    own = _chain(torch, CASES[name], name)
    if why == "nan":
        assert np.isnan(own[k - 1][0][0]).any()
    else:
        assert own[k - 1][0] == "raises" and why in own[k - 1][1]


def test_trigamma_is_accurate():
    """zeroin's second derivative of lgamma (trigamma) against SciPy's, to 1e-14: RTOL
    widens the comparison with torch for torch's error, not zeroin's."""
    special = pytest.importorskip("scipy.special")
    x = np.array([0.3, 0.77, 1.45, 2.5, 7.0])
    t = zeroin.tensor(x, requires_grad=True)
    (g,) = zeroin.autograd.grad(zeroin.lgamma(t).sum(), t, create_graph=True)
    (h,) = zeroin.autograd.grad(g.sum(), t)
    np.testing.assert_allclose(g.numpy(), special.digamma(x), rtol=1e-14)
    np.testing.assert_allclose(h.numpy(), special.polygamma(1, x), rtol=1e-14)


@pytest.mark.parametrize("name", sorted(BIAS_GRAD))
def test_bias_gradient(name):
    """The deliberate difference: a bias's gradient (the sum of g) depends on no input.
    torch marks it requires_grad but every derivative of it is None; zeroin leaves it out
    of the graph, so differentiating it again says so (README, docs/higher_order.md)."""
    grads = {}
    for lib in (zeroin, torch):
        rng = np.random.default_rng(3)
        xs = [lib.tensor(rng.uniform(-1, 1, S), requires_grad=True) for _ in range(3)]
        out = CASES[name][0](lib, ZNF if lib is zeroin else TNF, *xs)
        v = lib.tensor(rng.uniform(-1, 1, tuple(out.shape)))
        gs = lib.autograd.grad((out * v).sum(), xs, create_graph=True)
        grads[lib] = (gs[2], xs)
    gb, xs = grads[torch]
    assert gb.requires_grad
    assert torch.autograd.grad(gb.sum(), xs, allow_unused=True) == (None, None, None)
    np.testing.assert_allclose(grads[zeroin][0].numpy(), gb.detach().numpy(), rtol=1e-14)
    gb, xs = grads[zeroin]
    assert not gb.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        zeroin.autograd.grad(gb.sum(), xs, allow_unused=True)


def _repeat(lib, f, x0, n, **kw):
    """d^k f / dx^k at x0 for k = 1..n by repeated grad (each kept in the graph)."""
    x = lib.tensor(x0, dtype=lib.float64, requires_grad=True)
    cur, out = f(x), []
    for _ in range(n):
        (cur,) = lib.autograd.grad(cur, x, create_graph=True, **kw)
        out.append((cur.item(), cur.requires_grad))
    return out


@pytest.mark.parametrize("f, x0, n", [(lambda x: x ** 3, 1.5, 4), (lambda x: x ** 2, -0.5, 3),
                                      (lambda x: x.relu(), 0.7, 5), (lambda x: x.relu(), 0.0, 3),
                                      (lambda x: x.relu(), -2.0, 3), (lambda x: x.abs(), 0.0, 2)],
                         ids=["cube", "square", "relu", "relu_at_0", "relu_below_0", "abs_at_0"])
def test_the_audit_cases(f, x0, n):
    """The audit's cases: x**3 gives 4.5 ... 6, then zeros; a third grad of x**2 and of relu
    is zeros, as torch's (relu's keep requiring grad: its rule reads the result); at the
    kink x = 0 relu's and abs's derivatives are 0, as torch's."""
    assert _repeat(zeroin, f, x0, n) == _repeat(torch, f, x0, n)


def test_x_squared_fourth_order_raises_as_torch():
    """x**2's third derivative is a constant 0 (no graph): a fourth grad raises, as torch."""
    for lib in (zeroin, torch):
        x = lib.tensor(1.5, dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad(x ** 2, x, create_graph=True)
        (g,) = lib.autograd.grad(g, x, create_graph=True)
        (g,) = lib.autograd.grad(g, x, create_graph=True)
        assert g.item() == 0 and not g.requires_grad
        with pytest.raises(RuntimeError, match="does not require grad"):
            lib.autograd.grad(g, x, create_graph=True)


@pytest.mark.parametrize("kw", [{}, {"allow_unused": True}, {"materialize_grads": True}])
def test_unused_at_second_order(kw):
    """d/dy of d(x**2 * y)/dy = x**2 does not reach y: an error, None with allow_unused,
    zeros with materialize_grads (requiring grad with create_graph), as torch's."""
    res = {}
    for lib in (zeroin, torch):
        x = lib.tensor([1.5, -2.0], dtype=lib.float64, requires_grad=True)
        y = lib.tensor([0.5, 3.0], dtype=lib.float64, requires_grad=True)
        _, gy = lib.autograd.grad((x ** 2 * y).sum(), (x, y), create_graph=True)
        try:
            gx, gyy = lib.autograd.grad(gy.sum(), (x, y), create_graph=True, **kw)
        except RuntimeError:
            res[lib] = "raises"
            continue
        res[lib] = [gx.detach().numpy().tolist(), gx.requires_grad,
                    None if gyy is None else (gyy.detach().numpy().tolist(), gyy.requires_grad)]
    assert res[zeroin] == res[torch]
    assert (res[torch] == "raises") == (not kw)


def _mlp(m, F, p):
    """A 3-4-2 MLP (tanh, softplus, gelu) on fixed data, its parameters one flat vector."""
    x = m.tensor(np.linspace(-1, 1, 15).reshape(5, 3))
    w1, b1, w2 = p[:12].reshape(4, 3), p[12:16], p[16:24].reshape(2, 4)
    h = F.softplus(F.linear(x, w1, b1).tanh())
    return F.gelu(F.linear(h, w2)).pow(2).sum() + F.cross_entropy(F.linear(h, w2),
                                                                    m.tensor([0, 1, 1, 0, 1]))


@pytest.mark.parametrize("what", ["hessian", "hvp", "vhp", "cross_entropy"])
def test_hessian_and_hvp_match_torch(what):
    """zeroin.autograd.functional's hessian / hvp / vhp of a small MLP, and the Hessian of
    cross_entropy in the logits, against torch.autograd.functional's."""
    rng = np.random.default_rng(7)
    p0, v0 = rng.uniform(-1, 1, 24), rng.uniform(-1, 1, 24)
    res = {}
    for lib, F in ((zeroin, ZNF), (torch, TNF)):
        fun = lib.autograd.functional
        p, v = lib.tensor(p0), lib.tensor(v0)
        if what == "cross_entropy":
            y = lib.tensor([2, 0, 1])
            r = fun.hessian(lambda z: F.cross_entropy(z, y, label_smoothing=0.1),
                            lib.tensor(p0[:12].reshape(3, 4) * 2))
        elif what == "hessian":
            r = fun.hessian(lambda q: _mlp(lib, F, q), p)
        else:
            r = getattr(fun, what)(lambda q: _mlp(lib, F, q), p, v)[1]
        res[lib] = r.detach().numpy()
    np.testing.assert_allclose(res[zeroin], res[torch], rtol=1e-10, atol=1e-13)
    if what == "hessian":
        np.testing.assert_allclose(res[zeroin], res[zeroin].T, atol=1e-13)


@pytest.mark.parametrize("f", [lambda m, x: m.floor(x), lambda m, x: m.ceil(x),
                               lambda m, x: m.round(x), lambda m, x: m.trunc(x),
                               lambda m, x: m.sign(x), lambda m, x: x ** 0,
                               lambda m, x: m.copysign(m.ones_like(x), x)])
@pytest.mark.parametrize("create_graph", [False, True])
def test_zero_rules_ignore_inf_and_nan(f, create_graph):
    """A rule whose value is 0 whatever g is gives 0 for an inf or NaN g, as torch's
    zeros_like (g * 0 gave NaN and a RuntimeWarning), outside the graph."""
    for lib in (zeroin, torch):
        x = lib.tensor([1.5, -2.5, 0.0], dtype=lib.float64, requires_grad=True)
        g = lib.tensor([float("inf"), float("nan"), -float("inf")], dtype=lib.float64)
        (gx,) = lib.autograd.grad(f(lib, x), x, g, create_graph=create_graph)
        assert gx.tolist() == [0.0, 0.0, 0.0] and not gx.requires_grad


@pytest.mark.parametrize("name, args", [("softshrink", (0.2,)), ("hardshrink", (0.2,)),
                                        ("threshold", (0.1, -2.0))])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_shrink_ops_are_torch_kernels(name, args, dtype):
    """softshrink, hardshrink, threshold: torch's values (NaN and infinities included),
    dtype, gradient and grad_fn name. The gradient at NaN is left out: torch's is 1 on its
    scalar path and 0 on its vectorised one (8 float64 elements or more); zeroin's is 1."""
    x = np.array([-1.0, -0.2, 0.0, 0.1, 0.3, np.nan, np.inf, -np.inf], dtype=dtype)
    res = []
    for lib, F in ((zeroin, ZNF), (torch, TNF)):
        t = lib.tensor(x, requires_grad=True)
        y = getattr(F, name)(t, *args)
        (g,) = lib.autograd.grad(y, t, lib.ones_like(y))
        res.append((y.detach().numpy(), str(y.dtype).split(".")[-1],
                    g.numpy()[~np.isnan(x)].tolist(), y.grad_fn.name()))
    # NaN as NaN, and -0.0 == 0.0: torch's softshrink gives +0 on its vector path, -0 on
    # its scalar one
    np.testing.assert_array_equal(res[0][0], res[1][0])
    assert res[0][1:] == res[1][1:]


@pytest.mark.parametrize("f", [lambda m, F, x: m.linalg.vector_norm(x, dim=1),
                               lambda m, F, x: F.normalize(x, dim=1)], ids=["norm", "normalize"])
def test_norm_at_zero_second_derivative(f):
    """A documented difference: at a zero vector the 2-norm's first derivative is 0 in both
    (PyTorch's convention), the second is 0 in zeroin and NaN in torch; elsewhere equal."""
    res = {}
    for lib, F in ((zeroin, ZNF), (torch, TNF)):
        rng = np.random.default_rng(5)
        x = lib.tensor(_zero_row(rng, S), requires_grad=True)
        out = f(lib, F, x)
        v, w = lib.tensor(rng.uniform(-1, 1, tuple(out.shape))), lib.tensor(rng.uniform(-1, 1, S))
        (g,) = lib.autograd.grad((out * v).sum(), x, create_graph=True)
        (h,) = lib.autograd.grad((g * w).sum(), x)
        res[lib] = g.detach().numpy(), h.numpy()
    np.testing.assert_allclose(res[zeroin][0], res[torch][0], rtol=1e-12)
    assert (res[zeroin][1][0] == 0).all() and np.isnan(res[torch][1][0]).all()
    np.testing.assert_allclose(res[zeroin][1][1:], res[torch][1][1:], rtol=1e-12)
