"""PyTorch parity for the top-level names (zeroin/_toplevel.py, zeroin/_toplevel_misc.py):
``torch.conv2d``, ``torch.layer_norm(input, shape, w, b, eps, cudnn_enable)``,
``torch.dropout(x, p, train)``, ``torch.embedding(weight, indices)``, losses with an int
reduction, ``torch.pi``, ``torch.fill``, ``torch.range``, ``torch.histogram``... Each idiom
runs with ``torch`` and ``zeroin`` (as ``test_pytorch_parity.py``): values, dtypes,
gradients of a weighted sum and error types must agree."""
import functools
import sys

import numpy as np
import pytest

import zeroin
from zeroin.errors import ShapeError

torch = pytest.importorskip("torch")

from test_pytorch_parity import (A, A3, B, P, catch, check, grad_of, int_tensor,  # noqa: E402,F401
                                 run_quiet, t, warned, _torch_float64)
from test_pytorch_parity import table as _table  # noqa: E402

IDIOMS = {}
table = functools.partial(_table, idioms=IDIOMS)
_int = int_tensor
R = np.random.default_rng(21)
IMG = R.standard_normal((2, 3, 5, 5))
SEQ = R.standard_normal((2, 3, 7))
VOL = R.standard_normal((1, 2, 4, 4, 4))
K2 = R.standard_normal((4, 3, 3, 3))
K1 = R.standard_normal((4, 3, 3))
KT2 = R.standard_normal((3, 2, 3, 3))
BIAS4 = R.standard_normal(4)
EMB = R.standard_normal((5, 3))
BIL = R.standard_normal((2, 4, 4))
LP = np.log(np.random.default_rng(22).dirichlet(np.ones(4), size=(6, 2)))     # (T, N, C)


table("toplevel_conv", {
    "conv1d": lambda T: grad_of(T, lambda x, w: T.conv1d(x, w, None, 1, 1), SEQ, K1),
    "conv2d": lambda T: grad_of(T, lambda x, w, b: T.conv2d(x, w, b, 2, 1, 1, 1), IMG, K2,
                                BIAS4),
    "conv3d": lambda T: T.conv3d(t(T, VOL), t(T, VOL[0, :, :2, :2, :2])),
    "conv_transpose1d": lambda T: grad_of(T, lambda x, w: T.conv_transpose1d(x, w, None, 2),
                                          SEQ, KT2[:, :, 0]),
    "conv_transpose2d": lambda T: grad_of(T, lambda x, w: T.conv_transpose2d(x, w, None, 2, 1,
                                                                             1), IMG, KT2),
    "conv_transpose3d": lambda T: T.conv_transpose3d(t(T, VOL), t(T, VOL[0, :, :2, :2, :2])),
    "convolution": lambda T: grad_of(T, lambda x, w, b: T.convolution(
        x, w, b, [1, 2], [1, 0], [1, 1], False, [0, 0], 1), IMG, K2, BIAS4),
    "convolution_transposed": lambda T: grad_of(T, lambda x, w: T.convolution(
        x, w, None, [2], [1], [1], True, [1], 1), SEQ, KT2[:, :, 0]),
    "convolution_1d_weight": lambda T: catch(lambda: T.convolution(
        t(T, SEQ), t(T, BIAS4), None, [1], [0], [1], False, [0], 1)),
})

table("toplevel_pool", {
    "max_pool1d": lambda T: grad_of(T, lambda x: T.max_pool1d(x, 2), SEQ),
    "max_pool2d": lambda T: grad_of(T, lambda x: T.max_pool2d(x, 3, 2, 1), IMG),
    "max_pool2d_ceil": lambda T: T.max_pool2d(t(T, IMG), 2, ceil_mode=True),
    "max_pool3d": lambda T: T.max_pool3d(t(T, VOL), 2),
    "max_pool2d_no_indices": lambda T: catch(lambda: T.max_pool2d(t(T, IMG), 2,
                                                                  return_indices=True)),
    "max_pool1d_with_indices": lambda T: T.max_pool1d_with_indices(t(T, SEQ), 3, 2),
    "adaptive_max_pool1d": lambda T: T.adaptive_max_pool1d(t(T, SEQ), 3),
    "adaptive_avg_pool1d": lambda T: grad_of(T, lambda x: T.adaptive_avg_pool1d(x, 3), SEQ),
    "avg_pool1d": lambda T: grad_of(T, lambda x: T.avg_pool1d(x, 3, 2, 1), SEQ),
    "constant_pad_nd": lambda T: grad_of(T, lambda x: T.constant_pad_nd(x, [1, 2, -1, 0], 0.5),
                                         A3),
    "constant_pad_nd_default": lambda T: T.constant_pad_nd(_int(T, [[1, 2]]), [1, 1]),
    "constant_pad_nd_odd": lambda T: catch(lambda: T.constant_pad_nd(t(T, A), [1, 1, 1])),
    "pixel_shuffle": lambda T: T.pixel_shuffle(t(T, A3.reshape(1, 8, 1, 3)), 2),
    "pixel_unshuffle": lambda T: T.pixel_unshuffle(t(T, A3.reshape(1, 1, 4, 6)), 2),
    "channel_shuffle": lambda T: T.channel_shuffle(t(T, A3.reshape(2, 6, 2)), 3),
    "native_channel_shuffle": lambda T: T.native_channel_shuffle(t(T, IMG[:, :, :2]), 3),
})

table("toplevel_norm", {
    "layer_norm": lambda T: grad_of(T, lambda x, w, b: T.layer_norm(x, [4], w, b, 1e-5, False),
                                    A3, A[0], B[0]),
    "layer_norm_short": lambda T: T.layer_norm(t(T, A3), (3, 4)),
    "group_norm": lambda T: grad_of(T, lambda x, w: T.group_norm(x, 3, w, None, 1e-5, True),
                                    IMG, A[:, 0]),
    "batch_norm_train": lambda T: _batch_norm(T, True),
    "batch_norm_eval": lambda T: _batch_norm(T, False),
    "batch_norm_all_required": lambda T: catch(lambda: T.batch_norm(
        t(T, IMG), None, None, None, None, True, 0.1, 1e-5)),
    "instance_norm": lambda T: grad_of(T, lambda x, w, b: T.instance_norm(
        x, w, b, None, None, True, 0.1, 1e-5, False), IMG, A[:, 0], B[:, 0]),
    "rms_norm": lambda T: grad_of(T, lambda x, w: T.rms_norm(x, [4], w, 1e-6), A3, A[0]),
})


def _batch_norm(T, training):
    rm, rv = T.zeros(3), T.ones(3)
    x, w, b = t(T, IMG, grad=True), t(T, A[:, 0], grad=True), t(T, B[:, 0], grad=True)
    y = T.batch_norm(x, w, b, rm, rv, training, 0.2, 1e-5, True)
    (y * T.tensor(IMG)).sum().backward()
    return y, rm, rv, x.grad, w.grad, b.grad


def _embedding(T, padding_idx):
    w = t(T, EMB, grad=True)
    y = T.embedding(w, _int(T, [[0, 4], [4, 2]]), padding_idx)
    (y * T.tensor(np.arange(12.0).reshape(2, 2, 3))).sum().backward()
    return y, w.grad


table("toplevel_misc_nn", {
    "embedding": lambda T: _embedding(T, -1),
    "embedding_padding": lambda T: _embedding(T, 4),
    "embedding_negative_is_none": lambda T: _embedding(T, -2),
    "embedding_default": lambda T: T.embedding(t(T, EMB), _int(T, [1, 3])),
    "dropout_eval": lambda T: T.dropout(t(T, A), 0.5, False),
    "dropout_needs_train": lambda T: catch(lambda: T.dropout(t(T, A), 0.5)),
    "dropout_p1": lambda T: T.dropout(t(T, A), 1.0, True),
    "dropout_bad_p": lambda T: catch(lambda: T.dropout(t(T, A), 1.5, True)),
    "alpha_dropout_bad_p": lambda T: catch(lambda: T.alpha_dropout(t(T, A), -0.1, False)),
    "feature_dropout_bad_p": lambda T: catch(lambda: T.feature_dropout(t(T, IMG), 2, False)),
    "alpha_dropout_eval": lambda T: T.alpha_dropout(t(T, A), 0.3, False),
    "feature_alpha_dropout_eval": lambda T: T.feature_alpha_dropout(t(T, IMG), 0.3, False),
    "feature_dropout_eval": lambda T: T.feature_dropout(t(T, IMG), 0.3, False),
    "feature_dropout_p1": lambda T: T.feature_dropout(t(T, IMG), 1.0, True),
    "feature_dropout_1d": lambda T: catch(lambda: T.feature_dropout(t(T, A[0]), 0.5, True)),
    "cosine_similarity": lambda T: grad_of(T, lambda a, b: T.cosine_similarity(a, b), A, B),
    "pairwise_distance": lambda T: grad_of(T, lambda a, b: T.pairwise_distance(a, b, 1.5),
                                           A, B),
    "bilinear": lambda T: grad_of(T, lambda a, b, w, c: T.bilinear(a, b, w, c), A, B, BIL,
                                  A[0, :2]),
    "prelu": lambda T: grad_of(T, lambda x, w: T.prelu(x, w), IMG, [0.1, 0.2, 0.3]),
    "prelu_method": lambda T: grad_of(T, lambda x, w: x.prelu(w), IMG, [0.25]),
    "hardshrink": lambda T: grad_of(T, lambda x: T.hardshrink(x, 0.7), A),
    "hardshrink_method": lambda T: t(T, A).hardshrink(),
    "threshold": lambda T: grad_of(T, lambda x: T.threshold(x, 0.1, 20.0), A),
    "threshold_no_inplace": lambda T: catch(lambda: T.threshold(t(T, A), 0.1, 2.0, True)),
    "rrelu_eval": lambda T: grad_of(T, lambda x: T.rrelu(x), A),
    "rrelu_eval_bounds": lambda T: T.rrelu(t(T, A), 0.1, 0.5, False),
})


def _rrelu_train(T):
    g = T.Generator().manual_seed(3)
    y = T.rrelu(t(T, A), 0.1, 0.3, True, g)
    slope = y.detach() / T.tensor(A)
    neg = T.tensor(A < 0)
    return (bool(((slope >= 0.1) & (slope <= 0.3) | ~neg).all()),
            bool(T.equal(y[~neg], T.tensor(A)[~neg])))


IDIOMS["toplevel_rrelu_train_generator"] = _rrelu_train

Y = np.sign(B)
T01 = 1 / (1 + np.exp(-B))

table("toplevel_loss", {
    "bce_logits": lambda T: grad_of(T, lambda x: T.binary_cross_entropy_with_logits(
        x, T.tensor(T01)), A),
    "bce_logits_sum_weights": lambda T: grad_of(T, lambda x: T.binary_cross_entropy_with_logits(
        x, T.tensor(T01), T.tensor(P), T.tensor(P[0]), 2), A),
    "bce_logits_none": lambda T: T.binary_cross_entropy_with_logits(t(T, A), t(T, T01),
                                                                    None, None, 0),
    "bce_logits_string": lambda T: catch(lambda: T.binary_cross_entropy_with_logits(
        t(T, A), t(T, T01), reduction="mean")),
    "kl_div": lambda T: grad_of(T, lambda x: T.kl_div(x, T.tensor(P)), A),
    "kl_div_log_target": lambda T: grad_of(T, lambda x: T.kl_div(x, T.tensor(B), 2,
                                                                 log_target=True), A),
    "margin_ranking": lambda T: grad_of(T, lambda a, b: T.margin_ranking_loss(
        a, b, T.tensor(Y), 0.3), A, B),
    "margin_ranking_none": lambda T: T.margin_ranking_loss(t(T, A), t(T, B), t(T, Y), 0.1, 0),
    "hinge_embedding": lambda T: grad_of(T, lambda x: T.hinge_embedding_loss(
        x, T.tensor(Y), 0.5, 2), A),
    "cosine_embedding": lambda T: grad_of(T, lambda a, b: T.cosine_embedding_loss(
        a, b, T.tensor(Y[:, 0]), 0.2), A, B),
    "triplet_margin": lambda T: grad_of(T, lambda a, p, n: T.triplet_margin_loss(
        a, p, n, 1.0, 2.0, 1e-6, True, 0), A, B, P),
    "triplet_margin_default": lambda T: T.triplet_margin_loss(t(T, A), t(T, B), t(T, P)),
    "poisson_nll": lambda T: grad_of(T, lambda x: T.poisson_nll_loss(
        x, T.tensor(P), True, True, 1e-8, 1), A),
    "poisson_nll_all_required": lambda T: catch(lambda: T.poisson_nll_loss(t(T, A), t(T, P))),
    # through log_softmax: PyTorch's gradient for a raw log_probs leaf assumes one
    "ctc": lambda T: grad_of(T, lambda z: T.ctc_loss(
        z.log_softmax(-1), _int(T, [[1, 2, 2], [3, 1, 0]]), _int(T, [6, 5]), _int(T, [3, 2]),
        0, 1), LP),
    "ctc_sum": lambda T: T.ctc_loss(t(T, LP), _int(T, [[1, 2], [3, 1]]), [6, 6], [2, 1], 0, 2),
})


def _reduction_errors():
    x, y = zeroin.tensor(A), zeroin.tensor(Y)
    with pytest.raises(ValueError, match=r"hinge_embedding_loss: reduction must be 0 .*got 5"):
        zeroin.hinge_embedding_loss(x, y, 1.0, 5)
    with pytest.raises(TypeError, match=r"kl_div: reduction must be an int.*'mean'"):
        zeroin.kl_div(x, y, "mean")


def test_int_reductions_are_checked():
    _reduction_errors()


def test_functional_exports_match_finite_differences():
    def leaf(a):
        return zeroin.tensor(a, requires_grad=True)
    assert zeroin.gradcheck(lambda x, w: zeroin.convolution(x, w, None, [1], [1], [1], True,
                                                            [0], 1),
                            [leaf(SEQ[:1, :, :4]), leaf(KT2[:, :, 0])])
    assert zeroin.gradcheck(lambda x, w: zeroin.layer_norm(x, [4], w, None, 1e-5, True),
                            [leaf(A3), leaf(A[0])])
    assert zeroin.gradcheck(lambda w: zeroin.embedding(w, zeroin.tensor([0, 4, 4])),
                            [leaf(EMB)])
    assert zeroin.gradcheck(lambda x: zeroin.feature_dropout(x, 0.0, True), [leaf(IMG[:1])])
    assert zeroin.gradcheck(lambda x: zeroin.constant_pad_nd(x, [1, -1], 2.0), [leaf(A)])
    assert zeroin.gradcheck(lambda x: zeroin.kl_div(x, zeroin.tensor(P), 1), [leaf(A)])


def test_feature_dropout_zeroes_whole_channels_and_scales_the_rest():
    zeroin.manual_seed(0)
    x = zeroin.ones(8, 6, 3, 2, requires_grad=True)
    y = zeroin.feature_dropout(x, 0.5, True)
    per_channel = y.detach().numpy().reshape(8, 6, -1)
    assert set(np.unique(per_channel)) == {0.0, 2.0}
    assert (per_channel.min(-1) == per_channel.max(-1)).all()     # one draw per channel
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())


def test_top_level_functional_names_do_not_load_nn_at_import():
    import subprocess
    code = ("import sys, zeroin; assert 'zeroin.nn' not in sys.modules; "
            "zeroin.conv2d; assert 'zeroin.nn' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- constants, small functions, settings (zeroin/_toplevel_misc.py) -----------------------

def _fill_grad(T):
    x, v = t(T, A, grad=True), t(T, 2.5, grad=True)
    y = T.fill(x, v)
    (y * T.tensor(B)).sum().backward()
    return y, x.grad, v.grad


table("toplevel_names", {
    "constants": lambda T: (T.pi, T.e, T.inf, T.nan != T.nan, T.newaxis),
    "masked_fill_inf": lambda T: t(T, A).masked_fill(t(T, A) > 0, -T.inf),
    "newaxis_index": lambda T: t(T, A)[:, T.newaxis].shape,
    "detach": lambda T: T.detach(t(T, A, grad=True) * 2),
    "fill": lambda T: T.fill(t(T, A), 3),
    "fill_int": lambda T: T.fill(_int(T, [1, 2]), 2.7),
    "fill_tensor_value": lambda T: T.fill(t(T, A), _int(T, 3)),
    "fill_grad": _fill_grad,
    "fill_1d_value": lambda T: catch(lambda: T.fill(t(T, A), t(T, [1.0, 2]))),
    "scalar_tensor": lambda T: (T.scalar_tensor(1), T.scalar_tensor(True),
                                T.scalar_tensor(2.5, dtype=T.float32),
                                T.scalar_tensor(3, dtype=T.int64)),
    "scalar_tensor_grad": lambda T: T.scalar_tensor(1.5, requires_grad=True),
    "range": warned(lambda T: T.range(0, 3)),
    "range_step": warned(lambda T: (T.range(1, 2, 0.25), T.range(3, 0, -1),
                                    T.range(0, 3, dtype=T.int64))),
    "range_zero_step": warned(lambda T: catch(lambda: T.range(0, 3, 0))),
    "range_wrong_sign": warned(lambda T: catch(lambda: T.range(3, 0))),
    "row_stack": lambda T: grad_of(T, lambda a, b: T.row_stack([a, b[0]]), A, B),
    "typename": lambda T: (T.typename(3), T.typename(np.zeros(2)),
                           T.typename(T.typename).rpartition(".")[2]),
    "default_device": lambda T: T.get_default_device(),
    "set_default_device_cpu": lambda T: _set_default_device_cpu(T),
    "matmul_precision": lambda T: _matmul_precision(T),
    "matmul_precision_unknown": warned(lambda T: T.set_float32_matmul_precision("bogus")),
    "warn_always": lambda T: _warn_always(T),
    "interop_threads_bad": lambda T: catch(lambda: T.set_num_interop_threads(0)),
    "inference_mode_enabled": lambda T: _inference(T),
    "memory_formats": lambda T: (
        t(T, IMG).contiguous(memory_format=T.contiguous_format),
        t(T, IMG).clone(memory_format=T.contiguous_format).stride(), T.empty_like(
            t(T, IMG), memory_format=T.preserve_format).shape,
        T.zeros_like(t(T, VOL), memory_format=T.channels_last_3d).shape),
    "channels_last": lambda T: _channels_last(T, T.channels_last, IMG),
    "channels_last_3d": lambda T: _channels_last(T, T.channels_last_3d, VOL),
    "channels_last_rank": lambda T: catch(lambda: t(T, A).contiguous(
        memory_format=T.channels_last)),
    "channels_last_rank_3d": lambda T: catch(lambda: t(T, IMG).to(
        memory_format=T.channels_last_3d)),
    "is_contiguous_rank": lambda T: (t(T, A3).is_contiguous(memory_format=T.channels_last),
                                     t(T, IMG).is_contiguous(memory_format=T.channels_last_3d)),
    "channels_last_view": lambda T: catch(lambda: t(T, IMG).contiguous(
        memory_format=T.channels_last).view(-1)),
    "module_channels_last": lambda T: _module_channels_last(T),
    "module_channels_last_5d": lambda T: catch(lambda: T.nn.Conv3d(1, 2, 1).to(
        memory_format=T.channels_last)),
    "layout": lambda T: (str(t(T, A).layout).rpartition(".")[2],
                         T.empty(2, layout=T.strided).shape),
    "uint_dtypes": lambda T: (T.zeros(2, dtype=T.uint16), T.tensor([1, 2], dtype=T.uint32),
                              T.tensor([7], dtype=T.uint64).double(),
                              T.arange(3).to(T.uint16)),
})


def _channels_last(T, fmt, a):
    x = t(T, a, grad=True)
    y = x.contiguous(memory_format=fmt)
    w = T.tensor(np.arange(a.size, dtype=float).reshape(a.shape))
    (y * w).sum().backward()
    z = x.detach().to(memory_format=fmt)
    return (y, y.stride(), y.is_contiguous(), y.is_contiguous(memory_format=fmt),
            x.is_contiguous(memory_format=fmt), x.grad, z.stride(), (z * 2).stride(),
            z.clone().stride(), z.clone(memory_format=T.contiguous_format).stride(),
            z.contiguous(memory_format=fmt) is z, x.to(T.float32, memory_format=fmt).stride())


def _module_channels_last(T):
    m = T.nn.Conv2d(3, 4, 3, dtype=T.float64)
    m.to(memory_format=T.channels_last)
    strides = (m.weight.stride(), m.bias.stride(), m.weight.is_contiguous())
    m.to(memory_format=T.contiguous_format)
    return strides + (m.weight.stride(),)


def _matmul_precision(T):
    old = T.get_float32_matmul_precision()
    T.set_float32_matmul_precision("high")
    now = T.get_float32_matmul_precision()
    T.set_float32_matmul_precision(old)
    return old, now


def _warn_always(T):
    old = T.is_warn_always_enabled()
    T.set_warn_always(True)
    now = T.is_warn_always_enabled()
    T.set_warn_always(old)
    return old, now


def _inference(T):
    out = [T.is_inference_mode_enabled()]
    with T.inference_mode():
        out.append(T.is_inference_mode_enabled())
        with T.inference_mode(False):
            out.append(T.is_inference_mode_enabled())
        out.append(T.is_inference_mode_enabled())
    out.append(T.inference_mode()(T.is_inference_mode_enabled)())
    return tuple(out) + (T.is_inference_mode_enabled(),)


def test_settings_are_cpu_only_and_recorded():
    with pytest.raises(RuntimeError, match=r"set_default_device: zeroin runs on the CPU"):
        zeroin.set_default_device("cuda")
    zeroin.set_default_device(None)
    old = zeroin.get_num_interop_threads()
    zeroin.set_num_interop_threads(3)
    assert zeroin.get_num_interop_threads() == 3
    zeroin.set_num_interop_threads(old)
    with pytest.raises(TypeError, match="compile: expected a Module or a callable"):
        zeroin.compile(3)
    # torch.compile's keyword arguments are accepted; the model comes back itself (not run
    # against torch here: torch's compiles, which takes seconds)
    m = zeroin.nn.Linear(2, 2)
    assert zeroin.compile(m, backend="eager", options={"x": 1}) is m
    assert zeroin.compile(m, fullgraph=True, dynamic=False, mode="reduce-overhead") is m
    f = zeroin.compile(mode="max-autotune")(zeroin.sin)
    assert f is zeroin.sin
    x = zeroin.zeros(2, 3)
    assert zeroin.typename(x) == x.type() and repr(zeroin.channels_last) == "zeroin.channels_last"


def test_fill_and_row_stack_match_finite_differences():
    v = zeroin.tensor(2.0, requires_grad=True)
    assert zeroin.gradcheck(lambda v: zeroin.fill(zeroin.tensor(A), v) * zeroin.tensor(B), [v])
    a, b = zeroin.tensor(A, requires_grad=True), zeroin.tensor(B[0], requires_grad=True)
    assert zeroin.gradcheck(lambda a, b: zeroin.row_stack([a, b]), [a, b])


# --- histograms, gradient, sampling, buffers (zeroin/_toplevel_data.py) -------------------

H = np.array([1.0, 2, 1, 3, 5, 5, 2.5, 4.75])
PTS = np.array([[0.0, 1], [1, 0], [2, 0], [2, 2], [0.5, 1.5]])
F5 = np.array([1.0, 4, 9, 16, 25])
COORD = np.array([0.0, 1, 3, 4, 7])
Z = (np.arange(12.0).reshape(3, 4) ** 2) / 7


table("toplevel_histogram", {
    "default": lambda T: T.histogram(t(T, H)),
    "bins_range_density": lambda T: T.histogram(t(T, H), 4, range=(0.0, 6.0), density=True),
    "edges_weight": lambda T: T.histogram(t(T, H), t(T, [0.0, 2, 6]), weight=t(T, H * 0 + 2)),
    "edges_density": lambda T: T.histogram(t(T, H), t(T, [0.0, 1, 4, 6]), density=True),
    "method": lambda T: t(T, A).histogram(3),
    "2d_flattened": lambda T: T.histogram(t(T, A), 5),
    "one_value": lambda T: T.histogram(t(T, [1.0, 1, 1]), 2),
    "empty": lambda T: T.histogram(t(T, np.zeros(0)), 2),
    "float32": lambda T: T.histogram(t(T, H, dtype=T.float32), 3),
    "fields": lambda T: (lambda r: (r.hist, r.bin_edges))(T.histogram(t(T, H), 2)),
    "int_input": lambda T: catch(lambda: T.histogram(_int(T, [1, 2]), 2)),
    "min_over_max": lambda T: catch(lambda: T.histogram(t(T, H), 3, range=(5.0, 1.0))),
    "dd": lambda T: T.histogramdd(t(T, PTS), bins=[3, 2], weight=t(T, [1.0, 2, 4, 8, 16])),
    "dd_int_range_density": lambda T: T.histogramdd(t(T, PTS), bins=2,
                                                    range=[0.0, 1, 0, 1], density=True),
    "dd_edges": lambda T: T.histogramdd(t(T, PTS), bins=[t(T, [0.0, 1, 2]), t(T, [0.0, 2])]),
    "dd_fields": lambda T: (lambda r: (r.hist, r.bin_edges))(T.histogramdd(t(T, PTS), 3)),
    "dd_bins_required": lambda T: catch(lambda: T.histogramdd(t(T, PTS))),
    "no_derivative": lambda T: (lambda r: (r.hist.requires_grad, r.bin_edges.requires_grad,
                                           catch(lambda: r.hist.sum().backward())))(
        T.histogram(t(T, H, grad=True), 3)),
    "dd_3d_points": lambda T: T.histogramdd(t(T, A3.reshape(2, 4, 3)), [2, 3, 2]),
    "dd_bins_count": lambda T: catch(lambda: T.histogramdd(t(T, PTS), bins=[3])),
    "dd_1d": lambda T: catch(lambda: T.histogramdd(t(T, H), bins=[3])),
})

table("toplevel_gradient", {
    "default": lambda T: grad_of(T, lambda f: T.gradient(f)[0], F5),
    "scalar_spacing": lambda T: T.gradient(t(T, F5), spacing=2.0),
    "tuple_spacing": lambda T: T.gradient(t(T, F5), spacing=(0.5,)),
    "tensor_scalar_spacing": lambda T: T.gradient(t(T, F5), spacing=t(T, 2.0)),
    "coordinates": lambda T: grad_of(T, lambda f: T.gradient(
        f, spacing=[T.tensor(COORD)])[0], F5),
    "coordinates_edge2": lambda T: grad_of(T, lambda f: T.gradient(
        f, spacing=[T.tensor(COORD)], edge_order=2)[0], F5),
    "2d": lambda T: T.gradient(t(T, Z)),
    "2d_grad": lambda T: grad_of(T, lambda z: T.gradient(z, spacing=[1.0, 2.0])[1], Z),
    "dim": lambda T: (T.gradient(t(T, Z), dim=1), T.gradient(t(T, Z), dim=[-2])),
    "dims_edge2": lambda T: grad_of(T, lambda z: T.gradient(
        z, spacing=2, dim=(0, 1), edge_order=2)[0], Z),
    "coordinates_grad": lambda T: grad_of(T, lambda f, c: T.gradient(
        f, spacing=[c], edge_order=2)[0], F5, COORD),
    "coordinates_grad_2d": lambda T: grad_of(T, lambda z, c: T.gradient(
        z, spacing=[c], dim=1)[0], Z, COORD[:4]),
    "coordinates_dim0": lambda T: T.gradient(t(T, Z), spacing=[t(T, [0.0, 1, 3])], dim=0),
    "int_input": lambda T: T.gradient(_int(T, [1, 2, 4])),
    "too_short": lambda T: catch(lambda: T.gradient(t(T, [1.0]))),
    "too_short_edge2": lambda T: catch(lambda: T.gradient(t(T, [1.0, 2]), edge_order=2)),
    "edge_order_3": lambda T: catch(lambda: T.gradient(t(T, F5), edge_order=3)),
    "spacing_count": lambda T: catch(lambda: T.gradient(t(T, F5), spacing=[1.0, 2])),
})

table("toplevel_sampling", {
    "poisson_zero_rate": lambda T: T.poisson(t(T, [0.0, 0.0])),
    "poisson_shape_dtype": lambda T: (lambda s: (s.shape, s.dtype, bool((s >= 0).all()),
                                                 bool((s == s.round()).all())))(
        T.poisson(t(T, P * 3))),
    "poisson_grad": lambda T: (lambda x: (T.poisson(x).requires_grad,
                                          _backward_grad(T, T.poisson(x), x)))(
        t(T, P, grad=True)),
    "poisson_int": lambda T: catch(lambda: T.poisson(_int(T, [1, 2]))),
    "poisson_negative": lambda T: catch(lambda: T.poisson(t(T, [-1.0]))),
    "binomial_edges": lambda T: (T.binomial(t(T, [3.0, 4, 0]), t(T, [1.0, 0.0, 0.5])),
                                 T.binomial(t(T, [-3.0]), t(T, [0.5])),
                                 T.binomial(t(T, [3.0]), t(T, [1.5]))),
    "binomial_broadcast": lambda T: T.binomial(t(T, [3.0, 4]), t(T, 1.0)),
    "binomial_grad": lambda T: (lambda n: _backward_grad(T, T.binomial(n, T.tensor(P)), n))(
        t(T, P * 5, grad=True)),
    "binomial_int": lambda T: catch(lambda: T.binomial(_int(T, [3]), t(T, [0.5]))),
})


def _backward_grad(T, y, x):
    y.sum().backward()
    return x.grad


def _frombuffer(T):
    b = bytearray(np.array([1, 2, 3, 4], dtype=np.int32).tobytes())
    x = T.frombuffer(b, dtype=T.int32)
    x[0] = 7                                        # shares the buffer
    return (x, bytes(b[:4]) == np.int32(7).tobytes(),
            T.frombuffer(b, dtype=T.int16, offset=4, count=3),
            T.frombuffer(b, dtype=T.float32, requires_grad=True).requires_grad)


table("toplevel_buffers", {
    "frombuffer": _frombuffer,
    "frombuffer_readonly": warned(lambda T: T.frombuffer(b"\x01\x00", dtype=T.int16)),
    "frombuffer_empty": lambda T: catch(lambda: T.frombuffer(b"", dtype=T.int32)),
    "frombuffer_count": lambda T: catch(lambda: T.frombuffer(bytearray(8), dtype=T.int32,
                                                             count=3)),
    "frombuffer_offset": lambda T: catch(lambda: T.frombuffer(bytearray(8), dtype=T.int32,
                                                              offset=9)),
    "frombuffer_multiple": lambda T: catch(lambda: T.frombuffer(bytearray(8), dtype=T.int32,
                                                                offset=2)),
    "from_dlpack_numpy": lambda T: (lambda a: (T.from_dlpack(a), (T.from_dlpack(a).__setitem__(
        0, 9), a[0])[1]))(np.arange(3.0)),
    "dlpack_roundtrip": lambda T: T.from_dlpack(T.to_dlpack(t(T, A))),
})


def test_histograms_have_no_gradient_and_samples_follow_the_generator():
    assert not zeroin.histogram(zeroin.tensor(H), 3).hist.requires_grad
    g1, g2 = zeroin.Generator().manual_seed(5), zeroin.Generator().manual_seed(5)
    rate = zeroin.tensor(P * 4)
    assert zeroin.equal(zeroin.poisson(rate, g1), zeroin.poisson(rate, g2))
    n, p = zeroin.tensor(P * 9), zeroin.tensor(P / 2)
    assert zeroin.equal(zeroin.binomial(n, p, g1), zeroin.binomial(n, p, g2))
    zeroin.manual_seed(0)
    draws = zeroin.binomial(zeroin.full((20000,), 10.0), zeroin.full((20000,), 0.3))
    assert abs(draws.mean().item() - 3.0) < 0.05 and draws.max().item() <= 10
    assert abs(zeroin.poisson(zeroin.full((20000,), 4.0)).var().item() - 4.0) < 0.2


def test_gradient_matches_finite_differences_and_numpy():
    f = zeroin.tensor(Z, requires_grad=True)
    assert zeroin.gradgradcheck(lambda z: zeroin.gradient(z, spacing=[zeroin.tensor(
        [0.0, 1, 3]), 0.5], edge_order=2)[0], [f])
    assert zeroin.gradcheck(lambda z: zeroin.gradient(z, dim=1)[0], [f])
    c = zeroin.tensor([0.0, 1, 3, 4.5], requires_grad=True)
    assert zeroin.gradcheck(lambda z, c: zeroin.gradient(z, spacing=[c], dim=1,
                                                         edge_order=2)[0], [f, c])
    for edge in (1, 2):
        want = np.gradient(Z, [0.0, 1, 3], 0.5, edge_order=edge)
        got = zeroin.gradient(zeroin.tensor(Z), spacing=[zeroin.tensor([0.0, 1, 3]), 0.5],
                              edge_order=edge)
        for w, g in zip(want, got):
            np.testing.assert_allclose(g.numpy(), w, rtol=1e-12)


def test_dlpack_shares_memory_with_pytorch_both_ways():
    z = zeroin.tensor([1.0, 2.0])
    tt = torch.from_dlpack(z)
    tt[1] = 5.0
    assert z.tolist() == [1.0, 5.0]
    src = torch.tensor([3.0, 4.0])
    back = zeroin.from_dlpack(src)
    back[0] = 8.0
    assert src.tolist() == [8.0, 4.0]
    assert zeroin.from_dlpack(torch.to_dlpack(src)).tolist() == [8.0, 4.0]


# --- dtype limits, legacy names, grid sampling ---------------------------------------------

def _info(i):
    return tuple(getattr(i, k) for k in ("bits", "eps", "max", "min", "tiny", "smallest_normal",
                                         "resolution", "dtype") if hasattr(i, k))


GRID = np.random.default_rng(23).uniform(-1.2, 1.2, (2, 3, 4, 2))
THETA = np.array([[[0.9, 0.2, 0.1], [-0.3, 1.1, 0.0]], [[1.0, 0.0, 0.2], [0.1, 0.8, -0.1]]])

table("toplevel_info", {
    "finfo": lambda T: tuple(_info(T.finfo(d)) for d in (T.float16, T.float32, T.float64,
                                                         T.bfloat16)),
    "finfo_default": lambda T: _info(T.finfo()),
    "finfo_of_tensor_dtype": lambda T: T.finfo(t(T, A).dtype).eps,
    "finfo_min_mask": lambda T: t(T, A).masked_fill(t(T, A) > 0, T.finfo(T.float64).min),
    "finfo_int": lambda T: catch(lambda: T.finfo(T.int32)),
    "finfo_equal": lambda T: (T.finfo(T.float32) == T.finfo(T.float32),
                              T.finfo(T.float32) == T.finfo(T.float64)),
    "iinfo": lambda T: tuple(_info(T.iinfo(d)) for d in (T.uint8, T.int8, T.int16, T.int32,
                                                         T.int64)),
    "iinfo_float": lambda T: catch(lambda: T.iinfo(T.float32)),
    "iinfo_bool": lambda T: catch(lambda: T.iinfo(T.bool)),
    "get_device": lambda T: (T.get_device(t(T, A)), t(T, A).get_device()),
    "empty_strided": lambda T: (T.empty_strided((2, 3), (1, 2)).shape,
                                T.empty_strided((2, 3), (3, 1), dtype=T.int64).dtype),
    "empty_strided_bad": lambda T: catch(lambda: T.empty_strided((2, 3), (1,))),
    "split_with_sizes": lambda T: grad_of(T, lambda x: T.split_with_sizes(x, [1, 3], 1)[1],
                                          A),
    "split_with_sizes_method": lambda T: t(T, A).split_with_sizes([2, 1]),
    "split_with_sizes_bad": lambda T: catch(lambda: t(T, A).split_with_sizes([2, 2])),
    "unsafe_split": lambda T: (T.unsafe_split(t(T, A), 2, 1), t(T, A).unsafe_split(2)),
    "unsafe_chunk": lambda T: (T.unsafe_chunk(t(T, A), 2, 1), t(T, A).unsafe_chunk(3)),
    "unsafe_split_with_sizes": lambda T: T.unsafe_split_with_sizes(t(T, A), [3, 1], 1),
})

table("toplevel_grid", {
    "grid_sampler": lambda T: grad_of(T, lambda x, g: T.grid_sampler(x, g, 0, 0, False),
                                      IMG[:, :, :4, :4], GRID),
    "grid_sampler_modes": lambda T: tuple(T.grid_sampler(t(T, IMG), t(T, GRID), i, p, True)
                                          for i, p in ((1, 1), (0, 2), (2, 0))),
    "grid_sampler_2d": lambda T: T.grid_sampler_2d(t(T, IMG), t(T, GRID), 0, 1, True),
    "grid_sampler_3d": lambda T: T.grid_sampler_3d(
        t(T, VOL), t(T, GRID[:1, :, :2, :1].repeat(3, -1).reshape(1, 3, 2, 1, 3)), 0, 0, False),
    "affine_grid_generator": lambda T: grad_of(T, lambda th: T.affine_grid_generator(
        th, [2, 3, 4, 5], False), THETA),
})


def test_set_default_tensor_type_sets_the_default_dtype_and_warns():
    old = zeroin.get_default_dtype()
    try:
        with pytest.warns(UserWarning, match="set_default_tensor_type.*deprecated"):
            zeroin.set_default_tensor_type(zeroin.FloatTensor)
        assert zeroin.get_default_dtype() == zeroin.float32
        assert zeroin.tensor([1.0]).dtype == zeroin.float32
        with pytest.warns(UserWarning):
            zeroin.set_default_tensor_type("torch.DoubleTensor")
        assert zeroin.get_default_dtype() == zeroin.float64
        with pytest.warns(UserWarning), pytest.raises(TypeError, match="floating-point"):
            zeroin.set_default_tensor_type(zeroin.LongTensor)
        with pytest.warns(UserWarning), pytest.raises(TypeError, match="invalid type string"):
            zeroin.set_default_tensor_type("torch.NoTensor")
    finally:
        zeroin.set_default_dtype(old)


def test_grid_sampler_refuses_unknown_modes():
    x, g = zeroin.tensor(IMG), zeroin.tensor(GRID)
    with pytest.raises(ValueError, match=r"grid_sampler: interpolation_mode must be 0"):
        zeroin.grid_sampler(x, g, 3, 0, False)
    with pytest.raises(ShapeError, match=r"grid_sampler_3d: expects a 5-D input"):
        zeroin.grid_sampler_3d(x, g, 0, 0, False)


# --- accelerator, deterministic debug mode, GradScaler ------------------------------------

def _tutorial_device(T):
    acc = T.accelerator
    return (acc.current_accelerator().type if acc.is_available() else "cpu",
            acc.is_available(), acc.current_accelerator(), acc.current_accelerator(True),
            acc.device_count())


def _debug_mode(T):
    out = [T.get_deterministic_debug_mode()]
    try:
        for mode in ("warn", "error", 0, 1, "default"):
            T.set_deterministic_debug_mode(mode)
            out.append((T.get_deterministic_debug_mode(),
                        T.are_deterministic_algorithms_enabled(),
                        T.is_deterministic_algorithms_warn_only_enabled()))
    finally:
        T.use_deterministic_algorithms(False)
    return tuple(out)


table("toplevel_runtime", {
    "accelerator_tutorial_device": _tutorial_device,
    "accelerator_index": lambda T: catch(lambda: T.accelerator.current_device_index()),
    "accelerator_synchronize": lambda T: catch(lambda: T.accelerator.synchronize()),
    "deterministic_debug_mode": _debug_mode,
    "deterministic_debug_mode_bad": lambda T: (
        catch(lambda: T.set_deterministic_debug_mode("bogus")),
        catch(lambda: T.set_deterministic_debug_mode(3))),
    "grad_scaler": lambda T: T.GradScaler("cpu", enabled=False).is_enabled(),
    "init_num_threads": lambda T: T.init_num_threads(),
})


def test_flush_denormal_is_refused_and_oom_is_numpys():
    assert zeroin.set_flush_denormal(True) is False      # NumPy cannot flush denormals
    assert zeroin.GradScaler is zeroin.amp.GradScaler
    with pytest.raises(zeroin.OutOfMemoryError):
        zeroin.zeros(10 ** 15)                          # 8 PB


def _set_default_device_cpu(T):
    """set_default_device("cpu") read back, then undone: in torch a default device stays on
    as a function mode for the rest of the process, which changed later tests' results
    (F.l1_loss's weight check no longer raised in test_pytorch_parity_nn.py)."""
    try:
        return T.set_default_device("cpu"), T.get_default_device()
    finally:
        T.set_default_device(None)


_run = run_quiet


@pytest.mark.parametrize("name, f", list(IDIOMS.items()), ids=list(IDIOMS))
def test_idiom(name, f):
    check(name, _run(torch, f), _run(zeroin, f))


@pytest.mark.parametrize("dtypes", [("int64", "float32"), ("int64", "bool"), ("int64", "int32"),
                                    ("float32", "float64")], ids=str)
def test_cartesian_prod_and_meshgrid_refuse_mixed_dtypes_as_torch(dtypes):
    """PyTorch does not promote: both raise its RuntimeError (zeroin: a DtypeError, also a
    TypeError, naming the op, the dtypes and the fix); one dtype works in both."""
    for T, error in ((torch, RuntimeError), (zeroin, zeroin.DtypeError)):
        a, b = (T.tensor([1, 0], dtype=getattr(T, d)) for d in dtypes)
        for f in (lambda: T.cartesian_prod(a, b), lambda: T.meshgrid(a, b, indexing="ij")):
            with pytest.raises(error, match="expects all tensors to have the same dtype"):
                f()
        assert T.cartesian_prod(a, a).dtype == a.dtype
    with pytest.raises(TypeError, match=r"cartesian_prod: .*got int64, \w+ .*b\.to\(a\.dtype\)"):
        zeroin.cartesian_prod(zeroin.tensor([1, 0]), zeroin.tensor([1, 0], dtype=dtypes[1]))


def test_constant_pad_nd_refuses_a_crop_past_the_far_edge_as_torch():
    """torch.constant_pad_nd crops before it pads: (-7, 7) of a size-6 dimension crops
    past its end, which PyTorch refuses; zeroin cropped to nothing and padded 7 values."""
    with pytest.raises(RuntimeError):
        torch.constant_pad_nd(torch.zeros(2, 6), [-7, 7])
    with pytest.raises(RuntimeError, match=r"crops more than the size 6"):
        zeroin.constant_pad_nd(zeroin.zeros(2, 6), [-7, 7])
    x = np.arange(12.0).reshape(2, 6)
    np.testing.assert_array_equal(zeroin.constant_pad_nd(zeroin.tensor(x), [-6, 2], 1.5).numpy(),
                                  torch.constant_pad_nd(torch.tensor(x), [-6, 2], 1.5).numpy())
