"""Audit of graph neural networks written from scratch in plain PyTorch (no PyG), as learners
meet them: Kipf's pygcn, CS224W's edge-list message passing, GAT / GraphSAGE
re-implementations, link prediction with negative sampling, graph-level readout over a
``batch`` vector and torch_scatter-style helpers. Each piece runs with ``torch`` and with
``zeroin`` (``import zeroin as torch``, ``from zeroin import nn``, ``zeroin.nn.functional as
F``) on the same synthetic graph (a seeded stochastic block model built here) and the same
weights: values, gradients and a few training steps agree, float64 to 1e-10 and float32 to
float resolution; the hand-written scatter ops are also checked against finite differences.
The dense-adjacency GCN / GAT of the UvA tutorial is in test_audit_uvadl.py. See
docs/gnn.md."""
import itertools
import math
import warnings

import numpy as np
import pytest
from _audit import close as _close
from _audit import copy_weights as _copy
from _audit import np_of as _np
from _audit import torch_stream

import zeroin

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)
F32 = {"rtol": 2e-5, "atol": 2e-6}


def _mods(lib):
    return lib, lib.nn, lib.nn.functional


def _sbm(n_per=(8, 7, 6), p_in=0.45, p_out=0.04, feats=5, seed=0, isolated=True):
    """A stochastic block model: ``edge_index`` (2, E) with both directions of each edge,
    a few duplicate edges (multi-edges, as raw edge lists have), node features, block labels
    and, if ``isolated``, one node with no edge (degree 0)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(n_per)), n_per)
    n = len(labels) + (1 if isolated else 0)
    if isolated:
        labels = np.append(labels, 0)
    pairs = [(i, j) for i in range(n - isolated) for j in range(i + 1, n - isolated)
             if rng.random() < (p_in if labels[i] == labels[j] else p_out)]
    pairs += pairs[1:5:3]                             # duplicate edges
    src = np.array([i for i, j in pairs] + [j for i, j in pairs], dtype=np.int64)
    dst = np.array([j for i, j in pairs] + [i for i, j in pairs], dtype=np.int64)
    x = rng.standard_normal((n, feats)) + 0.8 * np.eye(len(n_per), feats)[labels]
    return np.stack([src, dst]), x, labels


# --- edge-list message passing ---------------------------------------------------------------

def _message_passing(torch, edge_index, x, W, add_loops=True):
    """CS224W-style GCN propagation on an edge list: self loops, degrees two ways,
    D^-1/2 A D^-1/2 with an isolated node's inf masked, gather, index_add_ / scatter_add_ /
    scatter_reduce aggregations."""
    N = x.size(0)
    if add_loops:
        loops = torch.arange(N).repeat(2, 1)
        edge_index = torch.cat([edge_index, loops], dim=1)
    src, dst = edge_index[0], edge_index[1]
    deg = torch.bincount(dst, minlength=N).to(x.dtype)
    deg2 = torch.zeros(N, dtype=x.dtype).index_add(0, dst, torch.ones(dst.size(0), dtype=x.dtype))
    deg_inv_sqrt = deg.pow(-0.5)
    deg_inv_sqrt = deg_inv_sqrt.masked_fill(torch.isinf(deg_inv_sqrt), 0)
    h = x @ W
    norm = deg_inv_sqrt[src] * deg_inv_sqrt[dst]
    msg = h[src] * norm.view(-1, 1)
    out_add = torch.zeros(N, h.size(1), dtype=x.dtype).index_add_(0, dst, msg)
    index = dst.unsqueeze(-1).expand_as(msg)
    out_scatter = torch.zeros(N, h.size(1), dtype=x.dtype).scatter_add_(0, index, msg)
    out_max = torch.zeros(N, h.size(1), dtype=x.dtype).scatter_reduce(
        0, index, h[src], reduce="amax", include_self=False)
    out_mean = torch.zeros_like(h).scatter_reduce(0, index, h[src], reduce="mean",
                                                   include_self=False)
    out_sum = h.new_zeros(h.shape).scatter_reduce_(0, index, h[src], "sum", include_self=False)
    return [deg, deg2, deg_inv_sqrt, out_add, out_scatter, out_max, out_mean, out_sum]


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")    # 0 ** -0.5 = inf
@pytest.mark.parametrize("add_loops", [True, False])
def test_edge_list_message_passing_values_and_gradients(add_loops):
    ei, x, _ = _sbm()
    W = np.random.default_rng(1).standard_normal((x.shape[1], 4))
    res, grads = {}, {}
    for lib in LIBS:
        xt = lib.tensor(x, requires_grad=True)
        Wt = lib.tensor(W, requires_grad=True)
        outs = _message_passing(lib, lib.tensor(ei), xt, Wt, add_loops)
        weights = [lib.tensor(np.cos(np.arange(o.numel()).reshape(o.shape) + k))
                   for k, o in enumerate(outs[3:])]
        loss = sum((o * w).sum() for o, w in zip(outs[3:], weights))
        loss.backward()
        res[lib], grads[lib] = outs, [xt.grad, Wt.grad]
    assert not add_loops or float(res[zeroin][2].min()) > 0
    assert add_loops or float(res[zeroin][2][-1]) == 0          # the isolated node: inf -> 0
    for z, t in zip(res[zeroin] + grads[zeroin], res[torch] + grads[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape) and str(z.dtype) == str(t.dtype).split(".")[1]
        _close(z, t)
    _close(res[zeroin][3], res[zeroin][4], 0)                   # index_add_ == scatter_add_


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_edge_list_ops_against_finite_differences():
    ei, x, _ = _sbm(n_per=(4, 3), feats=3)
    W = np.random.default_rng(2).standard_normal((3, 2))
    e = zeroin.tensor(ei)
    for k in range(3, 8):
        def f(xt, Wt, k=k):
            return _message_passing(zeroin, e, xt, Wt, add_loops=k % 2 == 0)[k]
        assert zeroin.autograd.gradcheck(
            f, (zeroin.tensor(x, requires_grad=True), zeroin.tensor(W, requires_grad=True)))


@pytest.mark.parametrize("reduce", ["amax", "amin", "mean", "sum", "prod"])
@pytest.mark.parametrize("include_self", [False, True])
def test_scatter_reduce_with_duplicate_indices_and_ties(reduce, include_self):
    """Many messages to the same node, equal values among them (ties share amax/amin's
    gradient evenly, as in PyTorch) and rows that get no message."""
    rng = np.random.default_rng(3)
    dst = np.array([1, 0, 2, 1, 4, 1, 0, 1, 1, 2])
    src = np.round(rng.standard_normal((len(dst), 3)))        # small integers: many ties
    base = np.round(rng.standard_normal((6, 3)))
    out = {}
    for lib in LIBS:
        s = lib.tensor(src, requires_grad=True)
        b = lib.tensor(base, requires_grad=True)
        index = lib.tensor(dst).unsqueeze(-1).expand_as(s)
        o = b.scatter_reduce(0, index, s, reduce=reduce, include_self=include_self)
        (o * lib.tensor(np.arange(18.0).reshape(6, 3))).sum().backward()
        out[lib] = [o, s.grad, b.grad]
    for z, t in zip(out[zeroin], out[torch], strict=True):
        _close(z, t, 1e-12)


def test_in_place_aggregation_on_a_non_leaf_and_the_duplicate_index_pitfall():
    """index_add_ / scatter_add_ / scatter_reduce_ / index_put_(accumulate=True) on a clone
    of a layer's output, gradients to x and W; ``out[dst] += msg`` keeps one message per
    repeated index (the classic bug), in both libraries alike."""
    ei, x, _ = _sbm(n_per=(5, 4))
    W = np.random.default_rng(7).standard_normal((x.shape[1], 3))
    res = {}
    for lib in LIBS:
        xt, Wt = lib.tensor(x, requires_grad=True), lib.tensor(W, requires_grad=True)
        src, dst = lib.tensor(ei)
        index = dst.unsqueeze(-1).expand(-1, 3)
        h = xt @ Wt
        outs = [h.clone() for _ in range(5)]
        outs[0].index_add_(0, dst, h[src] * 2)
        outs[1].scatter_reduce_(0, index, h[src], "amax", include_self=True)
        outs[2].scatter_add_(0, index, h[src])
        outs[3][dst] += h[src]
        outs[4].index_put_((dst,), h[src], accumulate=True)
        loss = outs[0].sin().sum() + outs[1].cos().sum() + (outs[2] * outs[3]).sum() \
            + outs[4].pow(2).sum()
        loss.backward()
        res[lib] = outs + [xt.grad, Wt.grad]
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t)
    summed = _np(res[zeroin][2])
    assert np.abs(_np(res[zeroin][3]) - summed).max() > 0.1         # += lost messages
    _close(res[zeroin][4], summed, 1e-12)                           # accumulate=True did not


def test_scatter_reduce_legacy_max_name_points_to_amax():
    s = torch.tensor([5.0, 2.0], requires_grad=True)
    out = torch.zeros(3).scatter_reduce(0, torch.tensor([0, 0]), s, "max", include_self=False)
    with pytest.raises(RuntimeError, match="'amax'"):          # torch: forward only
        out.sum().backward()
    with pytest.raises(RuntimeError, match="reduce='amax'"):
        zeroin.zeros(3).scatter_reduce(0, zeroin.tensor([0, 0]), zeroin.tensor([5.0, 2.0]),
                                       "max", include_self=False)


def test_legacy_scatter_reduce_argument_names_its_replacements():
    """``scatter_(dim, index, src, reduce='add')``, deprecated in PyTorch and without a
    gradient there: zeroin refuses it with the two calls that replace it, which give
    PyTorch's values."""
    dst, src = np.array([0, 0, 1, 3]), np.array([1.5, 2.0, -3.0, 0.5])
    with warnings.catch_warnings():         # PyTorch's deprecation warning (once a process)
        warnings.simplefilter("ignore", UserWarning)
        added = torch.zeros(4, dtype=torch.float64).scatter_(0, torch.tensor(dst),
                                                             torch.tensor(src), reduce="add")
        product = torch.ones(4, dtype=torch.float64).scatter_(
            0, torch.tensor(dst), torch.tensor(src), reduce="multiply")
    for reduce in ("add", "multiply"):
        with pytest.raises(NotImplementedError, match=f"reduce='{reduce}'.*scatter_add.*"
                                                      "scatter_reduce.*'prod'"):
            zeroin.zeros(4).scatter_(0, zeroin.tensor(dst), zeroin.tensor(src), reduce=reduce)
    _close(zeroin.zeros(4).scatter_add(0, zeroin.tensor(dst), zeroin.tensor(src)), added, 0)
    _close(zeroin.ones(4).scatter_reduce(0, zeroin.tensor(dst), zeroin.tensor(src), "prod"),
           product, 0)


# --- Kipf's pygcn -----------------------------------------------------------------------------

def _pygcn(torch, nn, F):
    """pygcn/layers.py and pygcn/models.py as Kipf wrote them."""
    class GraphConvolution(nn.Module):
        def __init__(self, in_features, out_features, bias=True):
            super().__init__()
            self.in_features = in_features
            self.out_features = out_features
            self.weight = nn.Parameter(torch.FloatTensor(in_features, out_features))
            if bias:
                self.bias = nn.Parameter(torch.FloatTensor(out_features))
            else:
                self.register_parameter('bias', None)
            self.reset_parameters()

        def reset_parameters(self):
            stdv = 1. / math.sqrt(self.weight.size(1))
            self.weight.data.uniform_(-stdv, stdv)
            if self.bias is not None:
                self.bias.data.uniform_(-stdv, stdv)

        def forward(self, input, adj):
            support = torch.mm(input, self.weight)
            output = torch.spmm(adj, support)
            if self.bias is not None:
                return output + self.bias
            return output

        def __repr__(self):
            return (self.__class__.__name__ + ' (' + str(self.in_features) + ' -> '
                    + str(self.out_features) + ')')

    class GCN(nn.Module):
        def __init__(self, nfeat, nhid, nclass, dropout):
            super().__init__()
            self.gc1 = GraphConvolution(nfeat, nhid)
            self.gc2 = GraphConvolution(nhid, nclass)
            self.dropout = dropout

        def forward(self, x, adj):
            x = F.relu(self.gc1(x, adj))
            x = F.dropout(x, self.dropout, training=self.training)
            x = self.gc2(x, adj)
            return F.log_softmax(x, dim=1)

    return GCN


def _row_normalized_adj(ei, n):
    """pygcn's utils: A + I, each row divided by its sum (as its scipy ``normalize``)."""
    adj = np.zeros((n, n))
    np.add.at(adj, (ei[0], ei[1]), 1.0)
    adj = (adj > 0).astype(float) + np.eye(n)     # pygcn: coo_matrix of ones, symmetrised
    return adj / adj.sum(1, keepdims=True)


def _accuracy(output, labels):
    preds = output.max(1)[1].type_as(labels)
    correct = preds.eq(labels).double()
    correct = correct.sum()
    return correct / len(labels)


def _pygcn_load_data(torch, ei, x, labels):
    """pygcn/utils.py's load_data on an edge list (scipy), with its encode_onehot, normalize
    and sparse_mx_to_torch_sparse_tensor; zeroin has no sparse layout, so its port builds
    the dense adjacency there (``torch.FloatTensor(np.array(adj.todense()))``)."""
    sp = pytest.importorskip("scipy.sparse")

    def encode_onehot(labels):
        classes = sorted(set(labels))
        classes_dict = {c: np.identity(len(classes))[i, :] for i, c in enumerate(classes)}
        return np.array(list(map(classes_dict.get, labels)), dtype=np.int32)

    def normalize(mx):
        rowsum = np.array(mx.sum(1))
        r_inv = np.power(rowsum, -1).flatten()
        r_inv[np.isinf(r_inv)] = 0.
        r_mat_inv = sp.diags(r_inv)
        return r_mat_inv.dot(mx)

    def sparse_mx_to_torch_sparse_tensor(sparse_mx):
        sparse_mx = sparse_mx.tocoo().astype(np.float32)
        if torch is zeroin:
            return torch.FloatTensor(np.array(sparse_mx.todense()))
        indices = torch.from_numpy(np.vstack((sparse_mx.row, sparse_mx.col)).astype(np.int64))
        values = torch.from_numpy(sparse_mx.data)
        shape = torch.Size(sparse_mx.shape)
        return torch.sparse_coo_tensor(indices, values, shape)   # pygcn: sparse.FloatTensor

    labels = encode_onehot(labels)
    features = sp.csr_matrix(x, dtype=np.float32)
    edges = ei.T
    adj = sp.coo_matrix((np.ones(edges.shape[0]), (edges[:, 0], edges[:, 1])),
                        shape=(labels.shape[0], labels.shape[0]), dtype=np.float32)
    adj = adj + adj.T.multiply(adj.T > adj) - adj.multiply(adj.T > adj)
    adj = normalize(adj + sp.eye(adj.shape[0]))
    features = torch.FloatTensor(np.array(features.todense()))
    labels = torch.LongTensor(np.where(labels)[1])
    return sparse_mx_to_torch_sparse_tensor(adj), features, labels


def _pygcn_train(lib, ei, x, labels, loader, steps=6):
    torch, nn, F = _mods(lib)
    torch.manual_seed(42)
    n = x.shape[0]
    if loader == "scipy":
        adj, features, labels = _pygcn_load_data(torch, ei, x, labels)
        assert adj.is_sparse == (torch is not zeroin)
    else:
        features = torch.FloatTensor(x.astype(np.float32))
        adj = torch.FloatTensor(_row_normalized_adj(ei, n).astype(np.float32))
        labels = torch.LongTensor(labels)
    idx_train, idx_val = torch.LongTensor(range(0, n, 2)), torch.LongTensor(range(1, n, 2))
    model = _pygcn(torch, nn, F)(nfeat=features.shape[1], nhid=8,
                                 nclass=int(labels.max()) + 1, dropout=0.5)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    log, w0 = [], [p.detach().clone() for p in model.parameters()]
    for _ in range(steps):
        model.train()
        optimizer.zero_grad()
        output = model(features, adj)
        loss_train = F.nll_loss(output[idx_train], labels[idx_train])
        acc_train = _accuracy(output[idx_train], labels[idx_train])
        loss_train.backward()
        grads = [p.grad.clone() for p in model.parameters()]
        optimizer.step()
        model.eval()
        output = model(features, adj)
        loss_val = F.nll_loss(output[idx_val], labels[idx_val])
        acc_val = _accuracy(output[idx_val], labels[idx_val])
        log.append([loss_train, acc_train, loss_val, acc_val] + grads)
    return w0, log, [p.detach() for p in model.parameters()], repr(model.gc1)


@pytest.mark.filterwarnings("ignore:Sparse invariant checks")
@pytest.mark.parametrize("loader", ["numpy", "scipy"])
def test_pygcn_layer_model_and_training_with_dropout_and_adam(f32, loader):
    """pygcn's train(): dropout masks, reset_parameters' uniform_ draws and Adam with weight
    decay, on PyTorch's random stream (so nothing is copied); with pygcn's own scipy loader,
    PyTorch multiplies by its sparse adjacency and zeroin by the dense one."""
    ei, x, labels = _sbm()
    torch_stream()
    out = {lib: _pygcn_train(lib, ei, x, labels, loader) for lib in LIBS}
    for z, t in zip(out[zeroin][0], out[torch][0], strict=True):
        _close(z, t, 0)                                         # the same initial draws
    for zrow, trow in zip(out[zeroin][1], out[torch][1], strict=True):
        for z, t in zip(zrow, trow, strict=True):
            _close(z, t, **F32)
    for z, t in zip(out[zeroin][2], out[torch][2], strict=True):
        _close(z, t, **F32)
    assert out[zeroin][3] == out[torch][3] == "GraphConvolution (5 -> 8)"


@pytest.mark.filterwarnings("ignore:Sparse invariant checks")        # torch's
def test_sparse_adjacency_refused_with_the_dense_way_and_spmm_matches_torchs_sparse():
    ei, x, _ = _sbm()
    n = x.shape[0]
    vals = np.linspace(0.5, 1.5, ei.shape[1])
    with pytest.raises(NotImplementedError, match="no sparse layouts.*index_put_"):
        zeroin.sparse_coo_tensor(zeroin.tensor(ei), zeroin.tensor(vals), (n, n))
    # the fix the message gives: duplicates summed, as torch's coalesce()
    dense = zeroin.zeros(n, n).index_put_(tuple(zeroin.tensor(ei)), zeroin.tensor(vals),
                                          accumulate=True)
    sp = torch.sparse_coo_tensor(torch.tensor(ei), torch.tensor(vals), (n, n))
    _close(dense, sp.to_dense(), 1e-15)
    W = np.random.default_rng(4).standard_normal((x.shape[1], 3))
    zx, tx = zeroin.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    zW, tW = zeroin.tensor(W, requires_grad=True), torch.tensor(W, requires_grad=True)
    zo = zeroin.spmm(dense, zeroin.mm(zx, zW))
    to = torch.spmm(sp, torch.mm(tx, tW))
    zs = zeroin.sparse.mm(dense, zeroin.mm(zx, zW))
    ts = torch.sparse.mm(sp, torch.mm(tx, tW))
    _close(zo, to)
    _close(zs, ts)
    (zo.sin().sum() + zs.sum()).backward()
    (to.sin().sum() + ts.sum()).backward()
    _close(zx.grad, tx.grad)
    _close(zW.grad, tW.grad)
    # learnable edge weights: the gradient reaches the values through the dense matrix
    zv, tv = zeroin.tensor(vals, requires_grad=True), torch.tensor(vals, requires_grad=True)
    zo = zeroin.sparse.mm(zeroin.zeros(n, n).index_put_(tuple(zeroin.tensor(ei)), zv,
                                                        accumulate=True), zeroin.tensor(x))
    to = torch.sparse.mm(torch.sparse_coo_tensor(torch.tensor(ei), tv, (n, n)),
                         torch.tensor(x))
    zo.tanh().sum().backward()
    to.tanh().sum().backward()
    _close(zo, to)
    _close(zv.grad, tv.grad)
    with pytest.raises(NotImplementedError, match="sparse.FloatTensor.*no sparse layouts"):
        zeroin.sparse.FloatTensor(zeroin.tensor(ei), zeroin.tensor(vals), (n, n))
    bias = np.linspace(-1, 1, n * 3).reshape(n, 3)
    _close(zeroin.sparse.addmm(zeroin.tensor(bias), dense, zeroin.mm(zx, zW), beta=0.5, alpha=2),
           torch.sparse.addmm(torch.tensor(bias), sp, torch.mm(tx, tW), beta=0.5, alpha=2))


@pytest.mark.parametrize("bad, match", [([-1, 2], "smallest value -1"),
                                        ([1.0, 2.0], "dtype float"),
                                        ([[1, 2]], r"shape \(1, 2\)")])
def test_bincount_refuses_what_pytorchs_refuses_and_says_why(bad, match):
    with pytest.raises(RuntimeError, match="bincount"):
        torch.bincount(torch.tensor(bad))
    with pytest.raises(RuntimeError, match="bincount: only supports 1-d non-negative.*" + match):
        zeroin.bincount(zeroin.tensor(bad))
    with pytest.raises(RuntimeError, match="same length"):
        torch.bincount(torch.tensor([1, 2]), weights=torch.ones(3))
    with pytest.raises(RuntimeError, match="bincount: weights .* same length.*shape \\(3,\\)"):
        zeroin.bincount(zeroin.tensor([1, 2]), weights=zeroin.ones(3))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")    # NumPy's 0 ** -0.5 and 0 * inf
def test_weighted_degree_gradient_bincount_refuses_index_add_gives():
    """A weighted degree from learnable edge weights: bincount(dst, weights=w) has no
    gradient in PyTorch (backward raises); zeroin raises too, naming index_add, whose
    gradient is PyTorch's."""
    dst, w0 = np.array([1, 0, 2, 1, 1]), np.array([0.5, 1.0, 2.0, -1.0, 3.0])
    for lib in LIBS:
        w = lib.tensor(w0, requires_grad=True)
        deg = lib.bincount(lib.tensor(dst), weights=w, minlength=4)
        _close(deg, [1.0, 2.5, 2.0, 0.0], 0)
        with pytest.raises(RuntimeError, match="bincount"):
            deg.sum().backward()
    grads = {}
    for lib in LIBS:
        w = lib.tensor(w0, requires_grad=True)
        deg = lib.zeros(4, dtype=w.dtype).index_add(0, lib.tensor(dst), w)
        (deg.pow(-0.5).masked_fill(deg == 0, 0) * lib.arange(4.0)).sum().backward()
        grads[lib] = [deg, w.grad]
    for z, t in zip(grads[zeroin], grads[torch], strict=True):
        _close(z, t)
    with pytest.raises(RuntimeError, match="index_add"):
        zeroin.bincount(zeroin.tensor(dst), weights=zeroin.tensor(w0, requires_grad=True),
                        minlength=4).sum().backward()


# --- GAT and GraphSAGE on an edge list --------------------------------------------------------

def _gat(torch, nn, F):
    """A GAT layer from scratch (no PyG): per-head attention logits from the two ends of each
    edge, LeakyReLU(0.2), a softmax over each node's incoming edges by scatter_reduce(amax),
    exp and index_add_, heads concatenated or averaged; a two-layer GAT with ELU."""
    class GATLayer(nn.Module):
        def __init__(self, in_features, out_features, heads=1, concat=True, dropout=0.0):
            super().__init__()
            self.heads, self.out_features, self.concat = heads, out_features, concat
            self.W = nn.Linear(in_features, heads * out_features, bias=False)
            self.a_src = nn.Parameter(torch.empty(1, heads, out_features))
            self.a_dst = nn.Parameter(torch.empty(1, heads, out_features))
            nn.init.xavier_uniform_(self.W.weight)
            nn.init.xavier_uniform_(self.a_src)
            nn.init.xavier_uniform_(self.a_dst)
            self.dropout = dropout

        def forward(self, x, edge_index):
            N = x.size(0)
            src, dst = edge_index
            Wh = self.W(x).view(-1, self.heads, self.out_features)
            e = (Wh[src] * self.a_src).sum(-1) + (Wh[dst] * self.a_dst).sum(-1)   # (E, H)
            e = F.leaky_relu(e, 0.2)
            e_max = torch.full((N, self.heads), float("-inf"), dtype=e.dtype)
            e_max = e_max.scatter_reduce(0, dst.unsqueeze(-1).expand_as(e), e,
                                         reduce="amax", include_self=False)
            alpha = torch.exp(e - e_max[dst])
            denom = torch.zeros(N, self.heads, dtype=e.dtype).index_add_(0, dst, alpha)
            alpha = alpha / (denom[dst] + 1e-16)
            self.last_alpha = alpha.detach()          # kept to look at the attention
            alpha = F.dropout(alpha, p=self.dropout, training=self.training)
            out = torch.zeros_like(Wh).index_add_(0, dst, Wh[src] * alpha.unsqueeze(-1))
            if self.concat:
                return out.reshape(N, self.heads * self.out_features)
            return out.mean(dim=1)

    class GAT(nn.Module):
        def __init__(self, nfeat, nhid, nclass, heads=3):
            super().__init__()
            self.conv1 = GATLayer(nfeat, nhid, heads=heads, concat=True)
            self.conv2 = GATLayer(nhid * heads, nclass, heads=2, concat=False)

        def forward(self, x, edge_index):
            x = F.elu(self.conv1(x, edge_index))
            return F.log_softmax(self.conv2(x, edge_index), dim=-1)

    return GAT


def _sage(torch, nn, F):
    """GraphSAGE's mean aggregator: nn.Linear on [x, mean of neighbours], L2-normalised."""
    class SAGELayer(nn.Module):
        def __init__(self, in_features, out_features):
            super().__init__()
            self.lin = nn.Linear(2 * in_features, out_features)

        def forward(self, x, edge_index):
            src, dst = edge_index
            agg = torch.zeros_like(x).index_add_(0, dst, x[src])
            deg = torch.bincount(dst, minlength=x.size(0)).clamp(min=1).unsqueeze(-1)
            agg = agg / deg
            h = self.lin(torch.cat([x, agg], dim=1))
            return F.normalize(h, p=2, dim=-1)

    class SAGE(nn.Module):
        def __init__(self, nfeat, nhid, nclass):
            super().__init__()
            self.l1, self.l2 = SAGELayer(nfeat, nhid), SAGELayer(nhid, nhid)
            self.out = nn.Linear(nhid, nclass)

        def forward(self, x, edge_index):
            x = F.relu(self.l1(x, edge_index))
            return self.out(self.l2(x, edge_index))

    return SAGE


def _gin(torch, nn, F):
    """GIN (Xu et al.) from scratch: an MLP with BatchNorm1d on (1 + eps) x + the sum of the
    neighbours (scatter_add_ with an expanded index), a learnable eps, and a jumping-knowledge
    head on the layers' outputs concatenated."""
    class GINLayer(nn.Module):
        def __init__(self, in_features, out_features, eps=0.0):
            super().__init__()
            # no bias before BatchNorm: it would cancel it, its gradient is rounding noise
            # (1e-17), and Adam's step on noise differs between any two libraries
            self.mlp = nn.Sequential(nn.Linear(in_features, out_features, bias=False),
                                     nn.BatchNorm1d(out_features), nn.ReLU(),
                                     nn.Linear(out_features, out_features))
            self.eps = nn.Parameter(torch.Tensor([eps]))

        def forward(self, x, edge_index):
            src, dst = edge_index
            index = dst.unsqueeze(-1).expand(-1, x.size(1))
            agg = torch.zeros_like(x).scatter_add_(0, index, x[src])
            return self.mlp((1 + self.eps) * x + agg)

    class GIN(nn.Module):
        def __init__(self, nfeat, nhid, nclass):
            super().__init__()
            self.convs = nn.ModuleList([GINLayer(nfeat, nhid), GINLayer(nhid, nhid)])
            self.head = nn.Linear(2 * nhid, nclass)

        def forward(self, x, edge_index):
            hs = []
            for conv in self.convs:
                x = F.relu(conv(x, edge_index))
                hs.append(x)
            return self.head(torch.cat(hs, dim=1))

    return GIN


def _node_classification(lib, model, ei, x, labels, log_probs, steps=4):
    torch, _, F = _mods(lib)
    x, edge_index, y = torch.tensor(x), torch.tensor(ei), torch.tensor(labels)
    mask = torch.arange(x.size(0)) % 3 != 0
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    log = []
    for _ in range(steps):
        opt.zero_grad()
        out = model(x, edge_index)
        loss = (F.nll_loss if log_probs else F.cross_entropy)(out[mask], y[mask])
        loss.backward()
        log.append([out, loss] + [p.grad.clone() for p in model.parameters()])
        opt.step()
    return log + [[p.detach() for p in model.parameters()] + list(model.buffers())]


@pytest.mark.parametrize("arch", ["gat", "sage", "gin"])
def test_gat_and_graphsage_on_an_edge_list(arch):
    ei, x, labels = _sbm()
    loops = np.tile(np.arange(x.shape[0]), (2, 1))
    ei = np.concatenate([ei, loops], axis=1)      # GAT: each node attends to itself too
    models = {}
    for lib in LIBS:
        lib.manual_seed(0)
        cls = {"gat": _gat, "sage": _sage, "gin": _gin}[arch](*_mods(lib))
        models[lib] = cls(x.shape[1], 4, 3).double()
    _copy(models[torch], models[zeroin])
    log = {lib: _node_classification(lib, models[lib], ei, x, labels, arch == "gat")
           for lib in LIBS}
    for zrow, trow in zip(log[zeroin], log[torch], strict=True):
        for z, t in zip(zrow, trow, strict=True):
            _close(z, t)


def test_gat_heads_concat_and_mean_and_attention_sums_to_one(f32):
    """One layer: concat gives (N, heads * out), mean (N, out); each node's incoming
    attention sums to 1 (the scatter softmax), as torch's."""
    ei, x, _ = _sbm(isolated=False)
    for concat in (True, False):
        layers = {}
        for lib in LIBS:
            layers[lib] = _gat(*_mods(lib))(5, 4, 3).conv1.__class__(5, 4, heads=3,
                                                                     concat=concat)
        _copy(layers[torch], layers[zeroin])
        outs = {}
        for lib in LIBS:
            xt = lib.tensor(x.astype(np.float32), requires_grad=True)
            o = layers[lib](xt, lib.tensor(ei))
            o.pow(2).sum().backward()
            alpha = layers[lib].last_alpha
            sums = lib.zeros(x.shape[0], 3).index_add_(0, lib.tensor(ei[1]), alpha)
            outs[lib] = [o, alpha, sums, xt.grad, layers[lib].a_src.grad,
                         layers[lib].a_dst.grad, layers[lib].W.weight.grad]
        _close(outs[zeroin][2], np.ones((x.shape[0], 3)), **F32)
        assert tuple(outs[zeroin][0].shape) == ((x.shape[0], 12) if concat else (x.shape[0], 4))
        for z, t in zip(outs[zeroin], outs[torch], strict=True):
            _close(z, t, **F32)


# --- link prediction and graph-level readout --------------------------------------------------

def _link_prediction(lib, ei, x, steps=4):
    """A GCN encoder (edge-list propagation), dot-product decoder, negatives from
    torch.randint, BCE with logits on the positive and negative scores."""
    torch, nn, F = _mods(lib)
    torch.manual_seed(0)
    N = x.shape[0]
    x, edge_index = torch.tensor(x, dtype=torch.float32), torch.tensor(ei)
    enc = nn.Sequential(nn.Linear(x.size(1), 8), nn.ReLU(), nn.Linear(8, 8))
    opt = torch.optim.Adam(enc.parameters(), lr=0.05)
    log = []
    for _ in range(steps):
        opt.zero_grad()
        h = enc(x)
        keep = torch.rand(edge_index.size(1)) >= 0.2              # DropEdge
        src, dst = edge_index[:, keep]
        z = torch.zeros_like(h).index_add_(0, dst, h[src]) + h
        neg = torch.randint(0, N, (2, edge_index.size(1)), dtype=torch.long)
        pos_score = (z[src] * z[dst]).sum(dim=-1)
        neg_score = (z[neg[0]] * z[neg[1]]).sum(dim=-1)
        scores = torch.cat([pos_score, neg_score])
        targets = torch.cat([torch.ones(pos_score.size(0)), torch.zeros(neg_score.size(0))])
        loss = F.binary_cross_entropy_with_logits(scores, targets)
        loss.backward()
        auc_like = (pos_score.sigmoid().mean() - neg_score.sigmoid().mean()).item()
        log.append([keep, neg, scores, loss, auc_like] + [p.grad.clone() for p in enc.parameters()])
        opt.step()
    return log


def test_link_prediction_with_negative_sampling(f32):
    ei, x, _ = _sbm()
    torch_stream()                    # torch.randint's negatives and nn.Linear's weights
    log = {lib: _link_prediction(lib, ei, x) for lib in LIBS}
    for zrow, trow in zip(log[zeroin], log[torch], strict=True):
        _close(zrow[0], trow[0], 0)                              # the same dropped edges
        _close(zrow[1], trow[1], 0)                              # and negatives
        for z, t in zip(zrow[2:], trow[2:], strict=True):
            _close(z, t, rtol=1e-4, atol=1e-5)


def _graph_batch(seed=5, sizes=(4, 6, 3, 5)):
    """A batch of small graphs as PyG's DataLoader makes it: edge indices offset by the
    node count before them, a ``batch`` vector, one label per graph."""
    rng = np.random.default_rng(seed)
    eis, batch, off = [], [], 0
    for g, n in enumerate(sizes):
        ei, _, _ = _sbm(n_per=(n,), p_in=0.6, seed=seed + g, isolated=False)
        eis.append(ei + off)
        batch += [g] * n
        off += n
    x = rng.standard_normal((off, 4))
    return np.concatenate(eis, axis=1), x, np.array(batch), np.arange(len(sizes)) % 2


def _graph_classifier(torch, nn, F):
    def global_mean_pool(x, batch, size=None):
        size = int(batch.max().item() + 1) if size is None else size
        out = torch.zeros(size, x.size(1), dtype=x.dtype).index_add_(0, batch, x)
        count = torch.bincount(batch, minlength=size).clamp(min=1).to(x.dtype)
        return out / count.unsqueeze(-1)

    def global_max_pool(x, batch, size=None):
        size = int(batch.max().item() + 1) if size is None else size
        index = batch.unsqueeze(-1).expand_as(x)
        return x.new_zeros(size, x.size(1)).scatter_reduce(0, index, x, "amax",
                                                           include_self=False)

    class GraphNet(nn.Module):
        def __init__(self, nfeat, nhid, nclass):
            super().__init__()
            self.lin1, self.lin2 = nn.Linear(nfeat, nhid), nn.Linear(nhid, nhid)
            self.head = nn.Linear(2 * nhid, nclass)

        def forward(self, x, edge_index, batch):
            src, dst = edge_index
            h = F.relu(self.lin1(x))
            h = F.relu(self.lin2(h + torch.zeros_like(h).index_add(0, dst, h[src])))
            return self.head(torch.cat([global_mean_pool(h, batch),
                                        global_max_pool(h, batch)], dim=1))

    return GraphNet, global_mean_pool


def test_graph_classification_with_global_mean_pool():
    ei, x, batch, y = _graph_batch()
    models, pools = {}, {}
    for lib in LIBS:
        cls, pools[lib] = _graph_classifier(*_mods(lib))
        lib.manual_seed(0)
        models[lib] = cls(4, 6, 2).double()
    _copy(models[torch], models[zeroin])
    res = {}
    for lib in LIBS:
        xt = lib.tensor(x, requires_grad=True)
        pooled = pools[lib](xt, lib.tensor(batch))
        opt = lib.optim.SGD(models[lib].parameters(), lr=0.1, momentum=0.9)
        log = [pooled]
        for _ in range(3):
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(
                models[lib](xt, lib.tensor(ei), lib.tensor(batch)), lib.tensor(y))
            loss.backward()
            log += [loss, xt.grad.clone()] + [p.grad.clone() for p in models[lib].parameters()]
            opt.step()
        res[lib] = log
    _close(res[zeroin][0], np.stack([x[batch == g].mean(0) for g in range(4)]), 1e-14)
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t)


# --- torch_scatter-style helpers, unique / sort / searchsorted ---------------------------------

def _scatter_max(torch, src, index, dim_size):
    """torch_scatter.scatter_max for dim 0: the max per destination and the position of the
    (first) source row that attains it, ``dim_size`` (the row count) where none does."""
    index_e = index.unsqueeze(-1).expand_as(src)
    out = torch.zeros(dim_size, src.size(1), dtype=src.dtype).scatter_reduce(
        0, index_e, src, reduce="amax", include_self=False)
    pos = torch.arange(src.size(0)).unsqueeze(-1).expand_as(src)
    hit = src == out[index]
    cand = torch.where(hit, pos, torch.full_like(pos, src.size(0)))
    arg = torch.full((dim_size, src.size(1)), src.size(0), dtype=torch.long)
    arg = arg.scatter_reduce(0, index_e, cand, reduce="amin", include_self=True)
    return out, arg


def _csr_and_friends(torch, edge_index, N):
    """Edge-list bookkeeping: sort by destination (stable, so the order inside a row is
    kept), CSR row pointers with searchsorted, unique edges with inverse and counts."""
    src, dst = edge_index
    perm = torch.argsort(dst, stable=True)
    dst_sorted, src_sorted = dst[perm], src[perm]
    rowptr = torch.searchsorted(dst_sorted, torch.arange(N + 1))
    rowptr_r = torch.searchsorted(dst_sorted, torch.arange(N), right=True)
    vals, idx = torch.sort(dst, stable=True, descending=True)
    key = src * N + dst
    uniq, inverse, counts = torch.unique(key, return_inverse=True, return_counts=True)
    uniq_e, inv_e, counts_e = torch.unique(edge_index, dim=1, return_inverse=True,
                                           return_counts=True)
    nodes, node_inv = torch.unique(dst, sorted=True, return_inverse=True)
    return [perm, dst_sorted, src_sorted, rowptr, rowptr_r, vals, idx, uniq, inverse, counts,
            uniq_e, inv_e, counts_e, nodes, node_inv, torch.stack([uniq // N, uniq % N])]


def test_scatter_max_unique_sort_argsort_searchsorted():
    ei, x, _ = _sbm()
    N = x.shape[0]
    rng = np.random.default_rng(6)
    msg = np.round(rng.standard_normal((ei.shape[1], 3)))           # ties in the max
    res = {}
    for lib in LIBS:
        m = lib.tensor(msg, requires_grad=True)
        out, arg = _scatter_max(lib, m, lib.tensor(ei[1]), N)
        (out * lib.tensor(np.linspace(-1, 1, 3 * N).reshape(N, 3))).sum().backward()
        res[lib] = [out, arg, m.grad] + _csr_and_friends(lib, lib.tensor(ei), N)
    for k, (z, t) in enumerate(zip(res[zeroin], res[torch], strict=True)):
        assert tuple(z.shape) == tuple(t.shape)
        _close(z, t, 1e-15 if k == 2 else 0)       # the gradient: ties split by division
    out, arg = res[zeroin][:2]
    assert int(arg[-1, 0]) == ei.shape[1]            # the isolated node: no source row
    rows = _np(arg)[:-1]
    np.testing.assert_array_equal(msg[rows, np.arange(3)], _np(out)[:-1])


def test_segment_sums_by_index_add_over_repeat_interleave_match_segment_reduce():
    """docs/gnn.md's replacement for torch.segment_reduce (not in zeroin): segments given by
    their lengths (an empty one included), summed and averaged, with gradients."""
    lengths, data = np.array([2, 0, 3, 1]), np.linspace(-1, 2, 6)
    t = torch.tensor(data, requires_grad=True)
    ref = torch.segment_reduce(t, "sum", lengths=torch.tensor(lengths))
    ref_mean = torch.segment_reduce(t, "mean", lengths=torch.tensor(lengths), unsafe=True)
    (ref * torch.arange(4.0) + ref_mean.nan_to_num()).sum().backward()
    z = zeroin.tensor(data, requires_grad=True)
    seg = zeroin.repeat_interleave(zeroin.tensor(lengths))
    sums = zeroin.zeros(4).index_add_(0, seg, z)
    means = sums / zeroin.tensor(lengths).clamp(min=1)
    (sums * zeroin.arange(4.0) + means).sum().backward()
    _close(sums, ref)
    _close(means, ref_mean.nan_to_num())
    _close(z.grad, t.grad)


# --- pyGAT's sparse layer: a custom autograd.Function around a sparse product ------------------

def _sp_gat(torch, nn, F):
    """pyGAT's SpGAT (Diego999/pyGAT, layers.py / models.py). Its SpecialSpmmFunction makes
    ``torch.sparse_coo_tensor(indices, values, shape)``; the zeroin port makes the dense
    matrix there (the refusal's fix) and reads the indices from ``ctx`` instead of
    ``a._indices()``: the only two lines that differ."""
    def sparse_coo(indices, values, shape):
        if torch is zeroin:
            return torch.zeros(tuple(shape), dtype=values.dtype).index_put_(
                tuple(indices), values, accumulate=True)
        return torch.sparse_coo_tensor(indices, values, shape)

    class SpecialSpmmFunction(torch.autograd.Function):
        """Special function for only sparse region backpropataion layer."""
        @staticmethod
        def forward(ctx, indices, values, shape, b):
            assert indices.requires_grad is False
            a = sparse_coo(indices, values, shape)
            ctx.save_for_backward(a, b)
            ctx.N = shape[0]
            ctx.indices = indices
            return torch.matmul(a, b)

        @staticmethod
        def backward(ctx, grad_output):
            a, b = ctx.saved_tensors
            grad_values = grad_b = None
            if ctx.needs_input_grad[1]:
                grad_a_dense = grad_output.matmul(b.t())
                edge_idx = ctx.indices[0, :] * ctx.N + ctx.indices[1, :]
                grad_values = grad_a_dense.view(-1)[edge_idx]
            if ctx.needs_input_grad[3]:
                grad_b = a.t().matmul(grad_output)
            return None, grad_values, None, grad_b

    class SpecialSpmm(nn.Module):
        def forward(self, indices, values, shape, b):
            return SpecialSpmmFunction.apply(indices, values, shape, b)

    class SpGraphAttentionLayer(nn.Module):
        def __init__(self, in_features, out_features, dropout, alpha, concat=True):
            super().__init__()
            self.in_features, self.out_features = in_features, out_features
            self.alpha, self.concat = alpha, concat
            self.W = nn.Parameter(torch.zeros(size=(in_features, out_features)))
            nn.init.xavier_normal_(self.W.data, gain=1.414)
            self.a = nn.Parameter(torch.zeros(size=(1, 2 * out_features)))
            nn.init.xavier_normal_(self.a.data, gain=1.414)
            self.dropout = nn.Dropout(dropout)
            self.leakyrelu = nn.LeakyReLU(self.alpha)
            self.special_spmm = SpecialSpmm()

        def forward(self, input, adj):
            dv = 'cuda' if input.is_cuda else 'cpu'
            N = input.size()[0]
            edge = adj.nonzero().t()
            h = torch.mm(input, self.W)
            assert not torch.isnan(h).any()
            edge_h = torch.cat((h[edge[0, :], :], h[edge[1, :], :]), dim=1).t()
            edge_e = torch.exp(-self.leakyrelu(self.a.mm(edge_h).squeeze()))
            assert not torch.isnan(edge_e).any()
            e_rowsum = self.special_spmm(edge, edge_e, torch.Size([N, N]),
                                         torch.ones(size=(N, 1), device=dv))
            edge_e = self.dropout(edge_e)
            h_prime = self.special_spmm(edge, edge_e, torch.Size([N, N]), h)
            assert not torch.isnan(h_prime).any()
            h_prime = h_prime.div(e_rowsum)
            assert not torch.isnan(h_prime).any()
            return F.elu(h_prime) if self.concat else h_prime

    class SpGAT(nn.Module):
        def __init__(self, nfeat, nhid, nclass, dropout, alpha, nheads):
            super().__init__()
            self.dropout = dropout
            self.attentions = [SpGraphAttentionLayer(nfeat, nhid, dropout=dropout, alpha=alpha,
                                                     concat=True) for _ in range(nheads)]
            for i, attention in enumerate(self.attentions):
                self.add_module('attention_{}'.format(i), attention)  # noqa: UP032
            self.out_att = SpGraphAttentionLayer(nhid * nheads, nclass, dropout=dropout,
                                                 alpha=alpha, concat=False)

        def forward(self, x, adj):
            x = F.dropout(x, self.dropout, training=self.training)
            x = torch.cat([att(x, adj) for att in self.attentions], dim=1)
            x = F.dropout(x, self.dropout, training=self.training)
            x = F.elu(self.out_att(x, adj))
            return F.log_softmax(x, dim=1)

    return SpGAT


@pytest.mark.filterwarnings("ignore:Sparse invariant checks")        # torch's
def test_pygat_sparse_layer_custom_function_and_training(f32):
    """pyGAT's train(): dropout on features and on the attention values, Adam with weight
    decay, the custom Function's backward giving the edge values' and features' gradients;
    on PyTorch's stream (the xavier_normal_ draws and the masks are PyTorch's)."""
    ei, x, labels = _sbm()
    adj = _row_normalized_adj(ei, x.shape[0]).astype(np.float32)
    torch_stream()
    out = {}
    for lib in LIBS:
        tl, nn, F = _mods(lib)
        tl.manual_seed(72)
        model = _sp_gat(tl, nn, F)(nfeat=x.shape[1], nhid=4, nclass=3, dropout=0.3, alpha=0.2,
                                   nheads=2)
        optimizer = tl.optim.Adam(model.parameters(), lr=0.005, weight_decay=5e-4)
        features, a, y = tl.tensor(x, dtype=tl.float32), tl.tensor(adj), tl.tensor(labels)
        log = [[p.detach().clone() for p in model.parameters()]]
        for _ in range(3):
            model.train()
            optimizer.zero_grad()
            output = model(features, a)
            loss_train = F.nll_loss(output[::2], y[::2])
            loss_train.backward()
            log.append([output, loss_train] + [p.grad.clone() for p in model.parameters()])
            optimizer.step()
        model.eval()
        log.append([model(features, a)] + [p.detach() for p in model.parameters()])
        out[lib] = log
    assert len(out[zeroin][0]) == 6                 # 2 heads + out_att, registered by name
    for zrow, trow in zip(out[zeroin], out[torch], strict=True):
        for z, t in zip(zrow, trow, strict=True):
            _close(z, t, **F32)


# --- sampling: random walks on CSR, neighbour sampling ------------------------------------------

def _walks_and_samples(torch, ei, N, walk_length=4, fanout=3):
    """DeepWalk-style uniform random walks on a CSR built with argsort / bincount / cumsum
    (a node without out-edges stays put), GraphSAGE-style neighbour sampling with
    multinomial, a random node split with randperm and an edge mask with bernoulli."""
    torch.manual_seed(3)
    src, dst = torch.tensor(ei)
    perm = torch.argsort(src, stable=True)
    src, dst = src[perm], dst[perm]
    deg = torch.bincount(src, minlength=N)
    rowptr = torch.cat([torch.zeros(1, dtype=torch.long), deg.cumsum(0)])
    cur = torch.randint(0, N, (6,))
    walks = [cur]
    for _ in range(walk_length):
        d = deg[cur]
        off = (torch.rand(cur.size(0)) * d.float()).long()
        nxt = dst[(rowptr[cur] + off).clamp(max=dst.size(0) - 1)]
        cur = torch.where(d > 0, nxt, cur)
        walks.append(cur)
    adj = torch.zeros(N, N).index_put_((src, dst), torch.ones(src.size(0)), accumulate=True)
    has = adj.sum(1) > 0
    picked = torch.multinomial(adj[has], fanout, replacement=True)
    split = torch.randperm(N)
    edge_mask = torch.bernoulli(torch.full((src.size(0),), 0.7)).bool()
    return [torch.stack(walks, dim=1), rowptr, picked, split, edge_mask]


def test_random_walks_and_neighbour_sampling_on_pytorchs_stream(f32):
    ei, x, _ = _sbm()
    torch_stream()
    res = {lib: _walks_and_samples(lib, ei, x.shape[0]) for lib in LIBS}
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t, 0)
    walks, rowptr = _np(res[zeroin][0]), _np(res[zeroin][1])
    edges = set(zip(*ei))
    for w in walks:                        # each step follows an edge (or stays on a sink)
        for a, b in itertools.pairwise(w):
            assert (a, b) in edges or (a == b and rowptr[a] == rowptr[a + 1])
