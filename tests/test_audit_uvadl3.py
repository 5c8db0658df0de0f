"""Audit against four more of the UvA Deep Learning course's PyTorch tutorials (Phillip Lippe's
uvadlc-notebooks): Tutorial 7 "Graph Neural Networks", 8 "Deep Energy-Based Generative
Models", 10 "Autoregressive Image Modeling" and 11 "Normalizing Flows for image modeling".
Each notebook's code is written once, as the notebook writes it, and built with ``torch`` and
with ``zeroin`` (``import zeroin as torch``, ``from zeroin import nn``, ``zeroin.nn.functional
as F``, ``zeroin.optim as optim``); the same synthetic inputs (made here) and the weights copied
from torch go through both, and outputs, losses, gradients, a few optimiser steps and the
samples (on ``zeroin.random.use_torch_stream(True)`` with the same seeds) are compared. The
Lightning modules' ``training_step`` is a plain loop. See docs/uvadl.md."""

import random

import numpy as np
import pytest
from _audit import (
    close,
    torch_defaults_back,  # noqa: F401  (autouse: torch's defaults back)
    torch_stream,
)
from _audit import np_of as _np

import zeroin
import zeroin.nn as znn
import zeroin.nn.functional as ZF
import zeroin.optim as zoptim

torch = pytest.importorskip("torch")

LIBS = {
    "torch": (torch, torch.nn, torch.nn.functional, torch.optim),
    "zeroin": (zeroin, znn, ZF, zoptim),
}
F32 = {"rtol": 2e-5, "atol": 2e-6}
F64 = {"rtol": 1e-10, "atol": 1e-12}


def _state(model):
    return {k: _np(v).copy() for k, v in model.state_dict().items()}


def _load(torch, model, state):
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    return model


def _both(build, state=None):
    """The notebook's module built by ``build(torch, nn, F)`` in both libraries, zeroin's with
    torch's weights (or both with ``state``); torch's draw is seeded, so that the weights do
    not depend on the order the tests run in."""
    torch.manual_seed(0)
    t = build(*LIBS["torch"][:3])
    z = build(*LIBS["zeroin"][:3])
    state = _state(t) if state is None else state
    return _load(torch, t, state), _load(zeroin, z, state)


# --- Tutorial 7: Graph Neural Networks --------------------------------------------------------


def _t7(torch, nn, F):
    class GCNLayer(nn.Module):
        def __init__(self, c_in, c_out):
            super().__init__()
            self.projection = nn.Linear(c_in, c_out)

        def forward(self, node_feats, adj_matrix):
            num_neighbours = adj_matrix.sum(dim=-1, keepdims=True)
            node_feats = self.projection(node_feats)
            node_feats = torch.bmm(adj_matrix, node_feats)
            node_feats = node_feats / num_neighbours
            return node_feats

    class GATLayer(nn.Module):
        def __init__(self, c_in, c_out, num_heads=1, concat_heads=True, alpha=0.2):
            super().__init__()
            self.num_heads = num_heads
            self.concat_heads = concat_heads
            if self.concat_heads:
                assert c_out % num_heads == 0, "Number of output features must be a multiple of the count of heads."
                c_out = c_out // num_heads
            self.projection = nn.Linear(c_in, c_out * num_heads)
            self.a = nn.Parameter(torch.Tensor(num_heads, 2 * c_out))
            self.leakyrelu = nn.LeakyReLU(alpha)
            nn.init.xavier_uniform_(self.projection.weight.data, gain=1.414)
            nn.init.xavier_uniform_(self.a.data, gain=1.414)

        def forward(self, node_feats, adj_matrix, print_attn_probs=False):
            batch_size, num_nodes = node_feats.size(0), node_feats.size(1)
            node_feats = self.projection(node_feats)
            node_feats = node_feats.view(batch_size, num_nodes, self.num_heads, -1)
            edges = adj_matrix.nonzero(as_tuple=False)
            node_feats_flat = node_feats.view(batch_size * num_nodes, self.num_heads, -1)
            edge_indices_row = edges[:, 0] * num_nodes + edges[:, 1]
            edge_indices_col = edges[:, 0] * num_nodes + edges[:, 2]
            a_input = torch.cat(
                [
                    torch.index_select(input=node_feats_flat, index=edge_indices_row, dim=0),
                    torch.index_select(input=node_feats_flat, index=edge_indices_col, dim=0),
                ],
                dim=-1,
            )
            attn_logits = torch.einsum("bhc,hc->bh", a_input, self.a)
            attn_logits = self.leakyrelu(attn_logits)
            attn_matrix = attn_logits.new_zeros(adj_matrix.shape + (self.num_heads,)).fill_(-9e15)
            attn_matrix[adj_matrix[..., None].repeat(1, 1, 1, self.num_heads) == 1] = attn_logits.reshape(-1)
            attn_probs = F.softmax(attn_matrix, dim=2)
            if print_attn_probs:
                self.last_attn = attn_probs
            node_feats = torch.einsum("bijh,bjhc->bihc", attn_probs, node_feats)
            if self.concat_heads:
                node_feats = node_feats.reshape(batch_size, num_nodes, -1)
            else:
                node_feats = node_feats.mean(dim=2)
            return node_feats

    return GCNLayer, GATLayer


def _graph(torch, dtype):
    """The notebook's example graph: ``torch.Tensor`` adjacency (self-loops included)."""
    node_feats = torch.arange(8, dtype=dtype).view(1, 4, 2)
    adj_matrix = torch.Tensor([[[1, 1, 0, 0], [1, 1, 1, 1], [0, 1, 1, 1], [0, 1, 1, 1]]])
    return node_feats, adj_matrix.to(dtype)


def test_t7_gcn_layer_notebook_example(f32):
    """The notebook's GCN example (identity projection: the mean of the neighbours' features),
    and a random projection with gradients, against torch."""
    outs = {}
    for name, (lib, nn, F, _) in LIBS.items():
        GCNLayer, _gat = _t7(lib, nn, F)
        node_feats, adj_matrix = _graph(lib, lib.float32)
        layer = GCNLayer(c_in=2, c_out=2)
        layer.projection.weight.data = lib.Tensor([[1.0, 0.0], [0.0, 1.0]])
        layer.projection.bias.data = lib.Tensor([0.0, 0.0])
        with lib.no_grad():
            outs[name] = layer(node_feats, adj_matrix)
    close(outs["zeroin"], outs["torch"], **F32)
    close(outs["torch"][0, 0], [1.0, 2.0], **F32)      # the mean of nodes 0 and 1

    tl, zl = _both(lambda torch, nn, F: _t7(torch, nn, F)[0](2, 3))
    x = np.random.default_rng(0).standard_normal((3, 4, 2)).astype(np.float32)
    adj = np.broadcast_to(_np(_graph(torch, torch.float32)[1]), (3, 4, 4)).copy()
    res = {}
    for name, (lib, layer) in {"torch": (torch, tl), "zeroin": (zeroin, zl)}.items():
        xi = lib.tensor(x, requires_grad=True)
        out = layer(xi, lib.tensor(adj))
        (out ** 2).sum().backward()
        res[name] = (out, xi.grad, layer.projection.weight.grad)
    for a, b in zip(res["zeroin"], res["torch"]):
        close(a, b, **F32)


def test_t7_gat_notebook_example(f32):
    """The notebook's GAT example: two heads on the 4-node graph with the weights it sets
    (``projection.weight.data = torch.Tensor(...)``, ``a.data = torch.Tensor(...)``): the
    attention probabilities and outputs are torch's."""
    outs = {}
    for name, (lib, nn, F, _) in LIBS.items():
        node_feats, adj_matrix = _graph(lib, lib.float32)
        layer = _t7(lib, nn, F)[1](2, 2, num_heads=2)
        layer.projection.weight.data = lib.Tensor([[1.0, 0.0], [0.0, 1.0]])
        layer.projection.bias.data = lib.Tensor([0.0, 0.0])
        layer.a.data = lib.Tensor([[-0.2, 0.3], [0.1, -0.1]])
        with lib.no_grad():
            out_feats = layer(node_feats, adj_matrix, print_attn_probs=True)
        outs[name] = (out_feats, layer.last_attn.permute(0, 3, 1, 2))
    for a, b in zip(outs["zeroin"], outs["torch"]):
        close(a, b, **F32)
    assert abs(float(outs["torch"][1][0, 0, 0, 1]) - 0.5) > 0.01   # not uniform


@pytest.mark.parametrize("concat_heads", [True, False])
def test_t7_gat_layer_outputs_attention_and_grads(concat_heads):
    """GATLayer in float64: nonzero edges, index_select, einsum, the boolean-mask assignment into
    ``new_zeros(...).fill_(-9e15)``, softmax and the second einsum: the attention
    probabilities, the output and every gradient are torch's."""
    torch.set_default_dtype(torch.float64)
    zeroin.set_default_dtype(zeroin.float64)
    tl, zl = _both(lambda torch, nn, F: _t7(torch, nn, F)[1](2, 4, num_heads=2, concat_heads=concat_heads))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 2))
    adj = np.stack([_np(_graph(torch, torch.float64)[1])[0], np.eye(4) + np.eye(4, k=1) + np.eye(4, k=-1)])
    res = {}
    for name, (lib, layer) in {"torch": (torch, tl), "zeroin": (zeroin, zl)}.items():
        xi = lib.tensor(x, requires_grad=True)
        out = layer(xi, lib.tensor(adj), print_attn_probs=True)
        out.sin().sum().backward()
        res[name] = (out, layer.last_attn, xi.grad, layer.a.grad, layer.projection.weight.grad)
    for a, b in zip(res["zeroin"], res["torch"]):
        close(a, b, **F64)
    # no attention to non-neighbours: the -9e15 logits vanish after the softmax
    assert np.all(_np(res["zeroin"][1])[np.broadcast_to(adj[..., None] == 0, (2, 4, 4, 2))] == 0)


def test_t7_gat_init_on_the_torch_stream(f32):
    """``nn.Parameter(torch.Tensor(h, 2c))`` then ``xavier_uniform_(..., gain=1.414)``: from the
    same seed on the torch stream, zeroin's initial GAT weights are PyTorch's."""
    torch_stream()
    params = {}
    for name, (lib, nn, F, _) in LIBS.items():
        lib.manual_seed(42)
        layer = _t7(lib, nn, F)[1](2, 4, num_heads=2)
        params[name] = (layer.projection.weight, layer.projection.bias, layer.a)
    for a, b in zip(params["zeroin"], params["torch"]):
        close(a, b, rtol=0, atol=0)


# --- Tutorial 8: Deep Energy-Based Generative Models ------------------------------------------


def _t8(torch, nn, F):
    class Swish(nn.Module):
        def forward(self, x):
            return x * torch.sigmoid(x)

    class CNNModel(nn.Module):
        def __init__(self, hidden_features=32, out_dim=1, **kwargs):
            super().__init__()
            c_hid1 = hidden_features // 2
            c_hid2 = hidden_features
            c_hid3 = hidden_features * 2
            self.cnn_layers = nn.Sequential(
                nn.Conv2d(1, c_hid1, kernel_size=5, stride=2, padding=4),
                Swish(),
                nn.Conv2d(c_hid1, c_hid2, kernel_size=3, stride=2, padding=1),
                Swish(),
                nn.Conv2d(c_hid2, c_hid3, kernel_size=3, stride=2, padding=1),
                Swish(),
                nn.Conv2d(c_hid3, c_hid3, kernel_size=3, stride=2, padding=1),
                Swish(),
                nn.Flatten(),
                nn.Linear(c_hid3 * 4, c_hid3),
                Swish(),
                nn.Linear(c_hid3, out_dim),
            )

        def forward(self, x):
            x = self.cnn_layers(x).squeeze(dim=-1)
            return x

    class Sampler:
        def __init__(self, model, img_shape, sample_size, max_len=8192):
            super().__init__()
            self.model = model
            self.img_shape = img_shape
            self.sample_size = sample_size
            self.max_len = max_len
            self.examples = [(torch.rand((1,) + img_shape) * 2 - 1) for _ in range(self.sample_size)]

        def sample_new_exmps(self, steps=60, step_size=10):
            n_new = np.random.binomial(self.sample_size, 0.05)
            rand_imgs = torch.rand((n_new,) + self.img_shape) * 2 - 1
            old_imgs = torch.cat(random.choices(self.examples, k=self.sample_size - n_new), dim=0)
            inp_imgs = torch.cat([rand_imgs, old_imgs], dim=0).detach()
            inp_imgs = Sampler.generate_samples(self.model, inp_imgs, steps=steps, step_size=step_size)
            self.examples = list(inp_imgs.to(torch.device("cpu")).chunk(self.sample_size, dim=0)) + self.examples
            self.examples = self.examples[: self.max_len]
            return inp_imgs

        @staticmethod
        def generate_samples(model, inp_imgs, steps=60, step_size=10, return_img_per_step=False):
            is_training = model.training
            model.eval()
            for p in model.parameters():
                p.requires_grad = False
            inp_imgs.requires_grad = True
            had_gradients_enabled = torch.is_grad_enabled()
            torch.set_grad_enabled(True)
            noise = torch.randn(inp_imgs.shape, device=inp_imgs.device)
            imgs_per_step = []
            for _ in range(steps):
                noise.normal_(0, 0.005)
                inp_imgs.data.add_(noise.data)
                inp_imgs.data.clamp_(min=-1.0, max=1.0)
                out_imgs = -model(inp_imgs)
                out_imgs.sum().backward()
                inp_imgs.grad.data.clamp_(-0.03, 0.03)
                inp_imgs.data.add_(-step_size * inp_imgs.grad.data)
                inp_imgs.grad.detach_()
                inp_imgs.grad.zero_()
                inp_imgs.data.clamp_(min=-1.0, max=1.0)
                if return_img_per_step:
                    imgs_per_step.append(inp_imgs.clone().detach())
            for p in model.parameters():
                p.requires_grad = True
            model.train(is_training)
            torch.set_grad_enabled(had_gradients_enabled)
            if return_img_per_step:
                return torch.stack(imgs_per_step, dim=0)
            return inp_imgs

    def training_step(cnn, sampler, real_imgs, alpha=0.1, steps=3):
        small_noise = torch.randn_like(real_imgs) * 0.005
        real_imgs.add_(small_noise).clamp_(min=-1.0, max=1.0)
        fake_imgs = sampler.sample_new_exmps(steps=steps, step_size=10)
        inp_imgs = torch.cat([real_imgs, fake_imgs], dim=0)
        real_out, fake_out = cnn(inp_imgs).chunk(2, dim=0)
        reg_loss = alpha * (real_out ** 2 + fake_out ** 2).mean()
        cdiv_loss = fake_out.mean() - real_out.mean()
        loss = reg_loss + cdiv_loss
        return loss, reg_loss, cdiv_loss, fake_imgs

    return CNNModel, Sampler, training_step


def test_t8_energy_model_training_loop_on_the_torch_stream(f32):
    """Tutorial 8's training: the Sampler's buffer (``torch.rand``, ``random.choices``,
    ``np.random.binomial``), Langevin sampling with ``.data`` updates and clamped input
    gradients, the contrastive-divergence loss with its regulariser, Adam and
    ``StepLR(optimizer, 1, gamma=0.97)``: from the same seeds, zeroin's samples, losses,
    weights and learning rates are torch's, and the model's ``requires_grad`` flags, training
    mode and grad mode come back."""
    torch_stream()
    rng = np.random.default_rng(3)
    batches = [rng.uniform(-1, 1, (4, 1, 16, 16)).astype(np.float32) for _ in range(3)]
    res = {}
    for name, (lib, nn, F, optim) in LIBS.items():
        CNNModel, Sampler, training_step = _t8(lib, nn, F)
        lib.manual_seed(42)
        random.seed(0)
        np.random.seed(0)
        cnn = CNNModel(hidden_features=8)
        sampler = Sampler(cnn, img_shape=(1, 16, 16), sample_size=4, max_len=6)
        optimizer = optim.Adam(cnn.parameters(), lr=1e-3, betas=(0.0, 0.999))
        scheduler = optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.97)
        trace = []
        for real in batches:
            loss, reg, cdiv, fake = training_step(cnn, sampler, lib.tensor(real))
            assert cnn.training and lib.is_grad_enabled()
            assert all(p.requires_grad for p in cnn.parameters())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            trace.append((loss, reg, cdiv, fake.detach(), optimizer.param_groups[0]["lr"]))
        res[name] = (trace, _state(cnn), len(sampler.examples))
    (zt, zs, zn), (tt, ts, tn) = res["zeroin"], res["torch"]
    assert zn == tn == 6
    for z, t in zip(zt, tt):
        for a, b in zip(z[:4], t[:4]):
            close(a, b, **F32)
        assert z[4] == pytest.approx(t[4], rel=1e-12)
    for k in ts:
        close(zs[k], ts[k], **F32)


def test_t8_generate_samples_under_no_grad_and_per_step(f32):
    """``generate_samples`` called under ``torch.no_grad()`` (as the notebook's callback does)
    switches grad mode on for the loop and off again; ``return_img_per_step`` stacks each
    step; the energies of the samples and the model's weights agree with torch."""
    torch_stream()
    out = {}
    for name, (lib, nn, F, _) in LIBS.items():
        CNNModel, Sampler, _ = _t8(lib, nn, F)
        lib.manual_seed(7)
        cnn = CNNModel(hidden_features=8)
        cnn.train()
        start = lib.rand((3, 1, 16, 16)) * 2 - 1
        with lib.no_grad():
            steps = Sampler.generate_samples(cnn, start, steps=4, step_size=10, return_img_per_step=True)
            assert not lib.is_grad_enabled()
        assert cnn.training and steps.shape == (4, 3, 1, 16, 16)
        assert float(steps.min()) >= -1 and float(steps.max()) <= 1
        cnn.eval()
        with lib.no_grad():
            out[name] = (steps, cnn(steps[-1]))
    for a, b in zip(out["zeroin"], out["torch"]):
        close(a, b, **F32)


# --- Tutorial 10: Autoregressive Image Modeling -----------------------------------------------


def _t10(torch, nn, F):
    class MaskedConvolution(nn.Module):
        def __init__(self, c_in, c_out, mask, **kwargs):
            super().__init__()
            kernel_size = (mask.shape[0], mask.shape[1])
            dilation = 1 if "dilation" not in kwargs else kwargs["dilation"]  # noqa: SIM401 (as written)
            padding = tuple([dilation * (kernel_size[i] - 1) // 2 for i in range(2)])
            self.conv = nn.Conv2d(c_in, c_out, kernel_size, padding=padding, **kwargs)
            self.register_buffer("mask", mask[None, None])

        def forward(self, x):
            self.conv.weight.data *= self.mask
            return self.conv(x)

    class VerticalStackConvolution(MaskedConvolution):
        def __init__(self, c_in, c_out, kernel_size=3, mask_center=False, **kwargs):
            mask = torch.ones(kernel_size, kernel_size)
            mask[kernel_size // 2 + 1:, :] = 0
            if mask_center:
                mask[kernel_size // 2, :] = 0
            super().__init__(c_in, c_out, mask, **kwargs)

    class HorizontalStackConvolution(MaskedConvolution):
        def __init__(self, c_in, c_out, kernel_size=3, mask_center=False, **kwargs):
            mask = torch.ones(1, kernel_size)
            mask[0, kernel_size // 2 + 1:] = 0
            if mask_center:
                mask[0, kernel_size // 2] = 0
            super().__init__(c_in, c_out, mask, **kwargs)

    class GatedMaskedConv(nn.Module):
        def __init__(self, c_in, **kwargs):
            super().__init__()
            self.conv_vert = VerticalStackConvolution(c_in, c_out=2 * c_in, **kwargs)
            self.conv_horiz = HorizontalStackConvolution(c_in, c_out=2 * c_in, **kwargs)
            self.conv_vert_to_horiz = nn.Conv2d(2 * c_in, 2 * c_in, kernel_size=1, padding=0)
            self.conv_horiz_1x1 = nn.Conv2d(c_in, c_in, kernel_size=1, padding=0)

        def forward(self, v_stack, h_stack):
            v_stack_feat = self.conv_vert(v_stack)
            v_val, v_gate = v_stack_feat.chunk(2, dim=1)
            v_stack_out = torch.tanh(v_val) * torch.sigmoid(v_gate)
            h_stack_feat = self.conv_horiz(h_stack)
            h_stack_feat = h_stack_feat + self.conv_vert_to_horiz(v_stack_feat)
            h_val, h_gate = h_stack_feat.chunk(2, dim=1)
            h_stack_feat = torch.tanh(h_val) * torch.sigmoid(h_gate)
            h_stack_out = self.conv_horiz_1x1(h_stack_feat)
            h_stack_out = h_stack_out + h_stack
            return v_stack_out, h_stack_out

    class PixelCNN(nn.Module):
        def __init__(self, c_in, c_hidden):
            super().__init__()
            self.conv_vstack = VerticalStackConvolution(c_in, c_hidden, mask_center=True)
            self.conv_hstack = HorizontalStackConvolution(c_in, c_hidden, mask_center=True)
            self.conv_layers = nn.ModuleList(
                [
                    GatedMaskedConv(c_hidden),
                    GatedMaskedConv(c_hidden, dilation=2),
                    GatedMaskedConv(c_hidden),
                    GatedMaskedConv(c_hidden, dilation=4),
                    GatedMaskedConv(c_hidden),
                    GatedMaskedConv(c_hidden, dilation=2),
                    GatedMaskedConv(c_hidden),
                ]
            )
            self.conv_out = nn.Conv2d(c_hidden, c_in * 256, kernel_size=1, padding=0)

        def forward(self, x):
            x = (x.float() / 255.0) * 2 - 1
            v_stack = self.conv_vstack(x)
            h_stack = self.conv_hstack(x)
            for layer in self.conv_layers:
                v_stack, h_stack = layer(v_stack, h_stack)
            out = self.conv_out(F.elu(h_stack))
            out = out.reshape(out.shape[0], 256, out.shape[1] // 256, out.shape[2], out.shape[3])
            return out

        def calc_likelihood(self, x):
            pred = self.forward(x)
            nll = F.cross_entropy(pred, x, reduction="none")
            bpd = nll.mean(dim=[1, 2, 3]) * np.log2(np.exp(1))
            return bpd.mean()

        @torch.no_grad()
        def sample(self, img_shape, img=None):
            if img is None:
                img = torch.zeros(img_shape, dtype=torch.long) - 1
            for h in range(img_shape[2]):
                for w in range(img_shape[3]):
                    for c in range(img_shape[1]):
                        if (img[:, c, h, w] != -1).all().item():
                            continue
                        pred = self.forward(img[:, :, : h + 1, :])
                        probs = F.softmax(pred[:, :, c, h, w], dim=-1)
                        img[:, c, h, w] = torch.multinomial(probs, num_samples=1).squeeze(dim=-1)
            return img

    return MaskedConvolution, VerticalStackConvolution, HorizontalStackConvolution, PixelCNN


def _show_center_recep_field(img, out):
    loss = out[0, :, img.shape[2] // 2, img.shape[3] // 2].sum()
    loss.backward(retain_graph=True)
    img_grads = img.grad.abs()
    img.grad.fill_(0)
    return (img_grads.squeeze() > 0).float()


def test_t10_receptive_fields_of_the_masked_stacks(f32):
    """The notebook's receptive-field pictures: ``inp.grad.abs()`` of the centre output pixel
    through the horizontal stack, the vertical stack, and the stacked layers with
    ``mask_center=False`` (weights ``fill_(1)``): the same pixels as torch, and the blind
    spot-free shape the notebook shows (nothing right of or below the centre)."""
    grads = {}
    for name, (lib, nn, F, _) in LIBS.items():
        _, Vert, Horiz, _ = _t10(lib, nn, F)
        inp_img = lib.zeros(1, 1, 11, 11)
        inp_img.requires_grad_()
        horiz_conv = Horiz(c_in=1, c_out=1, kernel_size=3, mask_center=True)
        horiz_conv.conv.weight.data.fill_(1)
        horiz_conv.conv.bias.data.fill_(0)
        horiz_img = horiz_conv(inp_img)
        g = [_show_center_recep_field(inp_img, horiz_img)]
        vert_conv = Vert(c_in=1, c_out=1, kernel_size=3, mask_center=True)
        vert_conv.conv.weight.data.fill_(1)
        vert_conv.conv.bias.data.fill_(0)
        vert_img = vert_conv(inp_img) + 1e-5      # as in the notebook: nonzero for abs()
        g.append(_show_center_recep_field(inp_img, vert_img))
        horiz_conv2 = Horiz(c_in=1, c_out=1, kernel_size=3, mask_center=False)
        horiz_conv2.conv.weight.data.fill_(1)
        horiz_conv2.conv.bias.data.fill_(0)
        vert_conv2 = Vert(c_in=1, c_out=1, kernel_size=3, mask_center=False)
        vert_conv2.conv.weight.data.fill_(1)
        vert_conv2.conv.bias.data.fill_(0)
        for _ in range(4):
            vert_img = vert_conv2(vert_img)
            horiz_img = horiz_conv2(horiz_img) + vert_img
        g.append(_show_center_recep_field(inp_img, horiz_img))
        grads[name] = g
    for a, b in zip(grads["zeroin"], grads["torch"]):
        close(a, b, rtol=0, atol=0)
    last = _np(grads["zeroin"][2])
    assert last[5, :5].all() and not last[5, 5:].any() and not last[6:].any()
    assert _np(grads["zeroin"][0])[5].tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]


def test_t10_masked_conv_functional_variant_with_dilation(f32):
    """The other way the notebook's text writes the masked convolution,
    ``F.conv2d(x, self.conv.weight * self.mask, self.conv.bias, padding=..., dilation=...)``:
    output and gradients are torch's, and the masked-out weights get a zero gradient."""
    def build(torch, nn, F):
        Vert = _t10(torch, nn, F)[1]

        class FunctionalMasked(Vert):
            def forward(self, x):
                c = self.conv
                return F.conv2d(x, c.weight * self.mask, c.bias, padding=c.padding, dilation=c.dilation)

        return FunctionalMasked(2, 4, kernel_size=3, dilation=2)

    tm, zm = _both(build)
    x = np.random.default_rng(9).standard_normal((2, 2, 8, 8)).astype(np.float32)
    res = {}
    for name, (lib, model) in {"torch": (torch, tm), "zeroin": (zeroin, zm)}.items():
        xi = lib.tensor(x, requires_grad=True)
        out = model(xi)
        out.tanh().sum().backward()
        res[name] = (out, xi.grad, model.conv.weight.grad, model.conv.bias.grad)
    for a, b in zip(res["zeroin"], res["torch"]):
        close(a, b, **F32)
    assert not _np(res["zeroin"][2])[:, :, 2].any() and _np(res["zeroin"][2])[:, :, :2].any()


def test_t10_pixelcnn_bpd_gradients_and_adam_steps(f32):
    """PixelCNN on 8 x 8 integer images: the (N, 256, C, H, W) logits, ``F.cross_entropy`` with
    (N, C, H, W) targets and ``reduction='none'``, the bits per dimension, its gradients and
    three Adam steps (the masks re-applied through ``weight.data *= mask``) are torch's."""
    imgs = np.random.default_rng(4).integers(0, 256, (2, 1, 8, 8))
    tm, zm = _both(lambda torch, nn, F: _t10(torch, nn, F)[3](c_in=1, c_hidden=8))
    res = {}
    for name, (lib, model) in {"torch": (torch, tm), "zeroin": (zeroin, zm)}.items():
        optimizer = LIBS[name][3].Adam(model.parameters(), lr=1e-3)
        x = lib.tensor(imgs)
        trace = []
        for _ in range(3):
            loss = model.calc_likelihood(x)
            optimizer.zero_grad()
            loss.backward()
            trace.append((loss, model.conv_vstack.conv.weight.grad.clone(), model.conv_out.bias.grad.clone()))
            optimizer.step()
        res[name] = (trace, _state(model))
    for z, t in zip(res["zeroin"][0], res["torch"][0]):
        for a, b in zip(z, t):
            close(a, b, rtol=1e-4, atol=1e-6)
    for k, v in res["torch"][1].items():
        close(res["zeroin"][1][k], v, rtol=1e-4, atol=1e-6)
    # an untrained model is close to uniform: 8 bits per dimension
    assert abs(float(res["torch"][0][0][0].detach()) - 8) < 0.5


def test_t10_cross_entropy_takes_int32_images_where_torch_takes_long(f32):
    """A difference kept: zeroin's ``F.cross_entropy`` on (N, 256, C, H, W) logits also takes
    int32 images (Tutorial 11's ``discretize`` casts to int32), giving what torch gives for
    the same labels as int64; torch itself refuses int32 class targets."""
    rng = np.random.default_rng(10)
    logits = rng.standard_normal((2, 256, 1, 4, 4)).astype(np.float32)
    labels = rng.integers(0, 256, (2, 1, 4, 4))
    t = torch.tensor(logits, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(t, torch.tensor(labels), reduction="none")
    tl.sum().backward()
    z = zeroin.tensor(logits, requires_grad=True)
    zl = ZF.cross_entropy(z, zeroin.tensor(labels.astype(np.int32)), reduction="none")
    zl.sum().backward()
    close(zl, tl, **F32)
    close(z.grad, t.grad, **F32)
    with pytest.raises(RuntimeError, match="Long"):
        torch.nn.functional.cross_entropy(t, torch.tensor(labels.astype(np.int32)))


def test_t10_pixelcnn_sampling_on_the_torch_stream(f32):
    """``@torch.no_grad() sample`` pixel by pixel with ``torch.multinomial``, completing the
    lower half of given images: from the same seed on the torch stream, zeroin draws torch's
    pixels, and leaves the given ones alone."""
    torch_stream()
    imgs = np.random.default_rng(5).integers(0, 256, (2, 1, 6, 6))
    imgs[:, :, 4:] = -1
    tm, zm = _both(lambda torch, nn, F: _t10(torch, nn, F)[3](c_in=1, c_hidden=4))
    out = {}
    for name, (lib, model) in {"torch": (torch, tm), "zeroin": (zeroin, zm)}.items():
        lib.manual_seed(1)
        out[name] = _np(model.sample(img_shape=imgs.shape, img=lib.tensor(imgs.copy())))
    assert out["zeroin"].dtype == out["torch"].dtype == np.int64
    np.testing.assert_array_equal(out["zeroin"], out["torch"])
    np.testing.assert_array_equal(out["zeroin"][:, :, :4], imgs[:, :, :4])
    assert (out["zeroin"] >= 0).all()


# --- Tutorial 11: Normalizing Flows for image modeling ----------------------------------------


def _t11(torch, nn, F):
    class ImageFlow(nn.Module):
        def __init__(self, flows, import_samples=8):
            super().__init__()
            self.flows = nn.ModuleList(flows)
            self.import_samples = import_samples
            self.prior = torch.distributions.normal.Normal(loc=0.0, scale=1.0)

        def forward(self, imgs):
            return self._get_likelihood(imgs)

        def encode(self, imgs):
            z, ldj = imgs, torch.zeros(imgs.shape[0])
            for flow in self.flows:
                z, ldj = flow(z, ldj, reverse=False)
            return z, ldj

        def _get_likelihood(self, imgs, return_ll=False):
            z, ldj = self.encode(imgs)
            log_pz = self.prior.log_prob(z).sum(dim=[1, 2, 3])
            log_px = ldj + log_pz
            nll = -log_px
            bpd = nll * np.log2(np.exp(1)) / np.prod(imgs.shape[1:])
            return bpd.mean() if not return_ll else log_px

        @torch.no_grad()
        def sample(self, img_shape, z_init=None):
            if z_init is None:
                z = self.prior.sample(sample_shape=img_shape)
            else:
                z = z_init
            ldj = torch.zeros(img_shape[0])
            for flow in reversed(self.flows):
                z, ldj = flow(z, ldj, reverse=True)
            return z

        @torch.no_grad()
        def test_step(self, imgs):
            samples = []
            for _ in range(self.import_samples):
                img_ll = self._get_likelihood(imgs, return_ll=True)
                samples.append(img_ll)
            img_ll = torch.stack(samples, dim=-1)
            img_ll = torch.logsumexp(img_ll, dim=-1) - np.log(self.import_samples)
            bpd = -img_ll * np.log2(np.exp(1)) / np.prod(imgs.shape[1:])
            return bpd.mean()

    class Dequantization(nn.Module):
        def __init__(self, alpha=1e-5, quants=256):
            super().__init__()
            self.alpha = alpha
            self.quants = quants

        def forward(self, z, ldj, reverse=False):
            if not reverse:
                z, ldj = self.dequant(z, ldj)
                z, ldj = self.sigmoid(z, ldj, reverse=True)
            else:
                z, ldj = self.sigmoid(z, ldj, reverse=False)
                z = z * self.quants
                ldj += np.log(self.quants) * np.prod(z.shape[1:])
                z = torch.floor(z).clamp(min=0, max=self.quants - 1).to(torch.int32)
            return z, ldj

        def sigmoid(self, z, ldj, reverse=False):
            if not reverse:
                ldj += (-z - 2 * F.softplus(-z)).sum(dim=[1, 2, 3])
                z = torch.sigmoid(z)
            else:
                z = z * (1 - self.alpha) + 0.5 * self.alpha
                ldj += np.log(1 - self.alpha) * np.prod(z.shape[1:])
                ldj += (-torch.log(z) - torch.log(1 - z)).sum(dim=[1, 2, 3])
                z = torch.log(z) - torch.log(1 - z)
            return z, ldj

        def dequant(self, z, ldj):
            z = z.to(torch.float32)
            z = z + torch.rand_like(z).detach()
            z = z / self.quants
            ldj -= np.log(self.quants) * np.prod(z.shape[1:])
            return z, ldj

    class VariationalDequantization(Dequantization):
        def __init__(self, var_flows, alpha=1e-5):
            super().__init__(alpha=alpha)
            self.flows = nn.ModuleList(var_flows)

        def dequant(self, z, ldj):
            z = z.to(torch.float32)
            img = (z / 255.0) * 2 - 1
            deq_noise = torch.rand_like(z).detach()
            deq_noise, ldj = self.sigmoid(deq_noise, ldj, reverse=True)
            for flow in self.flows:
                deq_noise, ldj = flow(deq_noise, ldj, reverse=False, orig_img=img)
            deq_noise, ldj = self.sigmoid(deq_noise, ldj, reverse=False)
            z = (z + deq_noise) / 256.0
            ldj -= np.log(256.0) * np.prod(z.shape[1:])
            return z, ldj

    class CouplingLayer(nn.Module):
        def __init__(self, network, mask, c_in):
            super().__init__()
            self.network = network
            self.scaling_factor = nn.Parameter(torch.zeros(c_in))
            self.register_buffer("mask", mask)

        def forward(self, z, ldj, reverse=False, orig_img=None):
            z_in = z * self.mask
            if orig_img is None:
                nn_out = self.network(z_in)
            else:
                nn_out = self.network(torch.cat([z_in, orig_img], dim=1))
            s, t = nn_out.chunk(2, dim=1)
            s_fac = self.scaling_factor.exp().view(1, -1, 1, 1)
            s = torch.tanh(s / s_fac) * s_fac
            s = s * (1 - self.mask)
            t = t * (1 - self.mask)
            if not reverse:
                z = (z + t) * torch.exp(s)
                ldj += s.sum(dim=[1, 2, 3])
            else:
                z = (z * torch.exp(-s)) - t
                ldj -= s.sum(dim=[1, 2, 3])
            return z, ldj

    def create_checkerboard_mask(h, w, invert=False):
        x, y = torch.arange(h, dtype=torch.int32), torch.arange(w, dtype=torch.int32)
        xx, yy = torch.meshgrid(x, y, indexing="ij")
        mask = torch.fmod(xx + yy, 2)
        mask = mask.to(torch.float32).view(1, 1, h, w)
        if invert:
            mask = 1 - mask
        return mask

    def create_channel_mask(c_in, invert=False):
        mask = torch.cat(
            [torch.ones(c_in // 2, dtype=torch.float32), torch.zeros(c_in - c_in // 2, dtype=torch.float32)]
        )
        mask = mask.view(1, c_in, 1, 1)
        if invert:
            mask = 1 - mask
        return mask

    class ConcatELU(nn.Module):
        def forward(self, x):
            return torch.cat([F.elu(x), F.elu(-x)], dim=1)

    class LayerNormChannels(nn.Module):
        def __init__(self, c_in, eps=1e-5):
            super().__init__()
            self.gamma = nn.Parameter(torch.ones(1, c_in, 1, 1))
            self.beta = nn.Parameter(torch.zeros(1, c_in, 1, 1))
            self.eps = eps

        def forward(self, x):
            mean = x.mean(dim=1, keepdim=True)
            var = x.var(dim=1, unbiased=False, keepdim=True)
            y = (x - mean) / torch.sqrt(var + self.eps)
            y = y * self.gamma + self.beta
            return y

    class GatedConv(nn.Module):
        def __init__(self, c_in, c_hidden):
            super().__init__()
            self.net = nn.Sequential(
                ConcatELU(),
                nn.Conv2d(2 * c_in, c_hidden, kernel_size=3, padding=1),
                ConcatELU(),
                nn.Conv2d(2 * c_hidden, 2 * c_in, kernel_size=1),
            )

        def forward(self, x):
            out = self.net(x)
            val, gate = out.chunk(2, dim=1)
            return x + val * torch.sigmoid(gate)

    class GatedConvNet(nn.Module):
        def __init__(self, c_in, c_hidden=32, c_out=-1, num_layers=3):
            super().__init__()
            c_out = c_out if c_out > 0 else 2 * c_in
            layers = []
            layers += [nn.Conv2d(c_in, c_hidden, kernel_size=3, padding=1)]
            for layer_index in range(num_layers):
                layers += [GatedConv(c_hidden, c_hidden), LayerNormChannels(c_hidden)]
            layers += [ConcatELU(), nn.Conv2d(2 * c_hidden, c_out, kernel_size=3, padding=1)]
            self.nn = nn.Sequential(*layers)
            self.nn[-1].weight.data.zero_()
            self.nn[-1].bias.data.zero_()

        def forward(self, x):
            return self.nn(x)

    class SqueezeFlow(nn.Module):
        def forward(self, z, ldj, reverse=False):
            B, C, H, W = z.shape
            if not reverse:
                z = z.reshape(B, C, H // 2, 2, W // 2, 2)
                z = z.permute(0, 1, 3, 5, 2, 4)
                z = z.reshape(B, 4 * C, H // 2, W // 2)
            else:
                z = z.reshape(B, C // 4, 2, 2, H, W)
                z = z.permute(0, 1, 4, 2, 5, 3)
                z = z.reshape(B, C // 4, H * 2, W * 2)
            return z, ldj

    class SplitFlow(nn.Module):
        def __init__(self):
            super().__init__()
            self.prior = torch.distributions.normal.Normal(loc=0.0, scale=1.0)

        def forward(self, z, ldj, reverse=False):
            if not reverse:
                z, z_split = z.chunk(2, dim=1)
                ldj += self.prior.log_prob(z_split).sum(dim=[1, 2, 3])
            else:
                z_split = self.prior.sample(sample_shape=z.shape)
                z = torch.cat([z, z_split], dim=1)
                ldj -= self.prior.log_prob(z_split).sum(dim=[1, 2, 3])
            return z, ldj

    def create_multiscale_flow(h=8, c=(4, 6, 8)):
        """The notebook's multiscale flow at 8 x 8 with small widths (28 and 32/48/64 there)."""
        flow_layers = []
        vardeq_layers = [
            CouplingLayer(
                network=GatedConvNet(c_in=2, c_out=2, c_hidden=c[0]),
                mask=create_checkerboard_mask(h=h, w=h, invert=(i % 2 == 1)),
                c_in=1,
            )
            for i in range(4)
        ]
        flow_layers += [VariationalDequantization(vardeq_layers)]
        flow_layers += [
            CouplingLayer(
                network=GatedConvNet(c_in=1, c_hidden=c[0]),
                mask=create_checkerboard_mask(h=h, w=h, invert=(i % 2 == 1)),
                c_in=1,
            )
            for i in range(2)
        ]
        flow_layers += [SqueezeFlow()]
        for i in range(2):
            flow_layers += [
                CouplingLayer(
                    network=GatedConvNet(c_in=4, c_hidden=c[1]),
                    mask=create_channel_mask(c_in=4, invert=(i % 2 == 1)),
                    c_in=4,
                )
            ]
        flow_layers += [SplitFlow(), SqueezeFlow()]
        for i in range(4):
            flow_layers += [
                CouplingLayer(
                    network=GatedConvNet(c_in=8, c_hidden=c[2]),
                    mask=create_channel_mask(c_in=8, invert=(i % 2 == 1)),
                    c_in=8,
                )
            ]
        return ImageFlow(flow_layers)

    def create_simple_flow(h=8, use_vardeq=True):
        flow_layers = []
        if use_vardeq:
            vardeq_layers = [
                CouplingLayer(
                    network=GatedConvNet(c_in=2, c_out=2, c_hidden=4),
                    mask=create_checkerboard_mask(h=h, w=h, invert=(i % 2 == 1)),
                    c_in=1,
                )
                for i in range(2)
            ]
            flow_layers += [VariationalDequantization(var_flows=vardeq_layers)]
        else:
            flow_layers += [Dequantization()]
        for i in range(4):
            flow_layers += [
                CouplingLayer(
                    network=GatedConvNet(c_in=1, c_hidden=4),
                    mask=create_checkerboard_mask(h=h, w=h, invert=(i % 2 == 1)),
                    c_in=1,
                )
            ]
        return ImageFlow(flow_layers)

    return create_multiscale_flow, create_simple_flow, SqueezeFlow, Dequantization


def _flow_state(model, seed):
    """The model's state with the zero-initialised output convolutions and the scaling factors
    made random (small), so that every coupling layer does something."""
    rng = np.random.default_rng(seed)
    state = _state(model)
    for k, v in state.items():
        if k.startswith("flows.") and (".nn.8." in k or "scaling_factor" in k):
            state[k] = (0.1 * rng.standard_normal(v.shape)).astype(v.dtype)
    return state


def _close_f32(z, t, rtol=1e-4):
    """Agreement to float32 resolution after a deep float32 chain: relative, with an absolute
    floor at ``rtol`` times the largest magnitude (sums of cancelling terms)."""
    t = _np(t)
    close(z, t, rtol=rtol, atol=rtol * max(float(np.abs(t).max()), 1e-6))


def _mnist8(n=2, seed=6):
    """Synthetic 8 x 8 "MNIST" images as the notebook's ``discretize`` gives them:
    ``(sample * 255).to(torch.int32)``."""
    return np.random.default_rng(seed).integers(0, 256, (n, 1, 8, 8)).astype(np.int32)


def test_t11_squeeze_flow_and_masks():
    """SqueezeFlow's reshape/permute and its inverse are torch's (and undo each other); the
    checkerboard (``torch.arange``, ``meshgrid``, ``fmod``) and channel masks are torch's."""
    x = np.arange(2 * 3 * 4 * 6, dtype=np.float64).reshape(2, 3, 4, 6)
    out = {}
    for name, (lib, nn, F, _) in LIBS.items():
        sq = _t11(lib, nn, F)[2]()
        z, _ = sq(lib.tensor(x), None)
        back, _ = sq(z, None, reverse=True)
        out[name] = (z, back)
    close(out["zeroin"][0], out["torch"][0], rtol=0, atol=0)
    close(out["zeroin"][1], x, rtol=0, atol=0)
    assert tuple(out["zeroin"][0].shape) == (2, 12, 2, 3)
    tf, zf = (_t11(*LIBS[n][:3])[0](h=4, c=(2, 2, 2)) for n in ("torch", "zeroin"))
    for k, v in tf.state_dict().items():
        if k.endswith("mask"):
            close(zf.state_dict()[k], v, rtol=0, atol=0)


def test_t11_multiscale_flow_bpd_gradients_and_adam_on_the_torch_stream(f32):
    """The multiscale flow (variational dequantization with ``torch.rand_like``, checkerboard and
    channel couplings, squeeze, split with the Normal prior): from the same seed on the torch
    stream the bits per dimension, the gradients and two Adam steps are torch's, and the
    importance-sampled ``test_step`` bpd too."""
    torch_stream()
    imgs = _mnist8()
    builder = _t11(*LIBS["torch"][:3])[0]
    torch.manual_seed(0)
    state = _flow_state(builder(), 0)
    tm, zm = _both(lambda torch, nn, F: _t11(torch, nn, F)[0](), state)
    res = {}
    for name, (lib, model) in {"torch": (torch, tm), "zeroin": (zeroin, zm)}.items():
        lib.manual_seed(0)
        optimizer = LIBS[name][3].Adam(model.parameters(), lr=1e-3)
        scheduler = LIBS[name][3].lr_scheduler.StepLR(optimizer, 1, gamma=0.99)
        trace = []
        for _ in range(2):
            loss = model(lib.tensor(imgs))
            optimizer.zero_grad()
            loss.backward()
            grads = [model.flows[0].flows[0].network.nn[0].weight.grad.clone(),
                     model.flows[-1].scaling_factor.grad.clone(), model.flows[4].network.nn[8].weight.grad.clone()]
            optimizer.step()
            scheduler.step()
            trace.append([loss] + grads)
        model.import_samples = 3      # 8 in the notebook
        trace.append([model.test_step(lib.tensor(imgs))])
        res[name] = (trace, _state(model))
    for z, t in zip(res["zeroin"][0], res["torch"][0]):
        for a, b in zip(z, t):
            _close_f32(a, b)
    for k, v in res["torch"][1].items():
        _close_f32(res["zeroin"][1][k], v)


def test_t11_sampling_reverse_pass_on_the_torch_stream(f32):
    """``sample`` under ``torch.no_grad()``: the prior's ``sample(sample_shape=...)``, the reverse
    couplings, the split's new half and the dequantization's ``floor(...).clamp(...).to(int32)``:
    from the same seed on the torch stream zeroin draws torch's images."""
    torch_stream()
    builder = _t11(*LIBS["torch"][:3])[0]
    torch.manual_seed(1)
    state = _flow_state(builder(), 1)
    tm, zm = _both(lambda torch, nn, F: _t11(torch, nn, F)[0](), state)
    out = {}
    for name, (lib, model) in {"torch": (torch, tm), "zeroin": (zeroin, zm)}.items():
        lib.manual_seed(3)
        out[name] = model.sample(img_shape=[3, 8, 2, 2])
    assert str(out["zeroin"].dtype).endswith("int32") and tuple(out["zeroin"].shape) == (3, 1, 8, 8)
    z, t = _np(out["zeroin"]), _np(out["torch"])
    # a pixel sitting on an integer boundary may round either way in float32
    assert np.abs(z.astype(int) - t.astype(int)).max() <= 1 and (z == t).mean() > 0.95
    assert t.min() >= 0 and t.max() <= 255 and len(np.unique(t)) > 5


@pytest.mark.parametrize("use_vardeq", [False, True])
def test_t11_simple_flow_likelihood_and_inverse(f32, use_vardeq):
    """The simple flow (plain or variational dequantization) on the same uniform noise
    (``torch.rand_like`` on the torch stream): ``encode``, the log-likelihood and its gradients
    are torch's, and the reverse pass from ``z_init=z`` gives the integer images back.
    (``dequant`` casts to float32 itself, so the notebook's flows are float32 only.)"""
    torch_stream()
    imgs = _mnist8(seed=7)
    builder = _t11(*LIBS["torch"][:3])[1]
    torch.manual_seed(2)
    state = _flow_state(builder(use_vardeq=use_vardeq), 2)
    tm, zm = _both(lambda torch, nn, F: _t11(torch, nn, F)[1](use_vardeq=use_vardeq), state)
    res = {}
    for name, (lib, model) in {"torch": (torch, tm), "zeroin": (zeroin, zm)}.items():
        x = lib.tensor(imgs)
        lib.manual_seed(5)
        z, ldj = model.encode(x)
        lib.manual_seed(5)
        log_px = model._get_likelihood(x, return_ll=True)
        log_px.sum().backward()
        back = model.sample(img_shape=list(z.shape), z_init=z.detach())
        res[name] = (z, ldj, log_px, model.flows[-1].network.nn[0].weight.grad, back)
    for a, b in zip(res["zeroin"][:4], res["torch"][:4]):
        _close_f32(a, b)
    for name in ("zeroin", "torch"):       # float32 round trip: a noise draw near 0 or 1 may
        back = _np(res[name][4]).astype(int)  # land on the neighbouring integer
        assert np.abs(back - imgs).max() <= 1 and (back == imgs).mean() > 0.95


def test_t11_dequantization_picture_and_interpolation_on_the_torch_stream(f32):
    """``visualize_dequantization``'s pass (``torch.arange(-4, 4, 0.01).view(-1, 1, 1, 1)``
    through ``Dequantization(quants=8)`` in reverse, ``ldj.exp()``) and ``interpolate``
    (``torch.stack``, ``encode``, ``torch.linspace(0, 1, steps=...).view(-1, 1, 1, 1)``, the
    blended latents through ``sample(interpolations.shape[:1] + imgs.shape[1:], z_init=...)``):
    torch's values and images."""
    torch_stream()
    builder = _t11(*LIBS["torch"][:3])[0]
    torch.manual_seed(4)
    state = _flow_state(builder(), 4)
    tm, zm = _both(lambda torch, nn, F: _t11(torch, nn, F)[0](), state)
    imgs = _mnist8(seed=11)
    res = {}
    for name, (lib, model) in {"torch": (torch, tm), "zeroin": (zeroin, zm)}.items():
        Dequantization = _t11(*LIBS[name][:3])[3]
        inp = lib.arange(-4, 4, 0.01).view(-1, 1, 1, 1)
        ldj = lib.zeros(inp.shape[0], dtype=lib.float32)
        out, ldj = Dequantization(quants=8).forward(inp, ldj, reverse=True)
        prob = ldj.exp()
        lib.manual_seed(6)
        with lib.no_grad():
            x = lib.tensor(imgs)
            pair = lib.stack([x[0], x[1]], dim=0)
            z, _ = model.encode(pair)
            alpha = lib.linspace(0, 1, steps=4).view(-1, 1, 1, 1)
            interpolations = z[0:1] * alpha + z[1:2] * (1 - alpha)
            interp_imgs = model.sample(interpolations.shape[:1] + pair.shape[1:], z_init=interpolations)
        res[name] = (out, prob, z, interp_imgs)
    close(res["zeroin"][0], res["torch"][0], rtol=0, atol=0)
    for i in (1, 2):
        _close_f32(res["zeroin"][i], res["torch"][i])
    z, t = _np(res["zeroin"][3]).astype(int), _np(res["torch"][3]).astype(int)
    assert z.shape == t.shape == (4, 1, 8, 8)
    assert np.abs(z - t).max() <= 1 and (z == t).mean() > 0.95
