"""torchvision's Swin Transformer (V1, V2) and MaxViT in zeroin.vision.models: torchvision's
documented parameter counts, state_dict keys and shapes, a forward and a backward at a small
input, torchvision's initialisation, and the attention / patch merging / partition
attention blocks against the same computation written in PyTorch (float64)."""
import functools
import math

import numpy as np
import pytest

import zeroin
from zeroin.vision import _maxvit, _swin
from zeroin.vision import models as M

# num_params of torchvision's weight enums (torchvision/models/swin_transformer.py, maxvit.py)
NUM_PARAMS = {"swin_t": 28288354, "swin_s": 49606258, "swin_b": 87768224,
              "swin_v2_t": 28351570, "swin_v2_s": 49737442, "swin_v2_b": 87930848,
              "maxvit_t": 30919624}


@functools.lru_cache(maxsize=None)
def _model(name):
    """Each model built once for this file (float32, PyTorch's default dtype)."""
    previous = zeroin.get_default_dtype()
    zeroin.set_default_dtype(zeroin.float32)
    try:
        return getattr(M, name)()
    finally:
        zeroin.set_default_dtype(previous)


@pytest.fixture(scope="module", autouse=True)
def _free_the_models():
    yield
    _model.cache_clear()


def _count(model):
    return sum(p.numel() for p in model.parameters())


def _swin_count(embed_dim, depths, heads, window, v2, num_classes=1000):
    """Swin's parameters by formula (torchvision's layers, counted by hand)."""
    n = 3 * 16 * embed_dim + embed_dim + 2 * embed_dim          # patch conv + LayerNorm
    for stage, (depth, h) in enumerate(zip(depths, heads)):
        d = embed_dim * 2 ** stage
        attn = 3 * d * d + 3 * d + d * d + d
        attn += (h + 2 * 512 + 512 + 512 * h) if v2 else (2 * window - 1) ** 2 * h
        n += depth * (4 * d + attn + 2 * 4 * d * d + 5 * d)  # 2 norms, attention, MLP
        if stage < len(depths) - 1:
            n += 8 * d * d + (4 * d if v2 else 8 * d)         # reduction + its norm
    last = embed_dim * 2 ** (len(depths) - 1)
    return n + 2 * last + last * num_classes + num_classes


@pytest.mark.parametrize("name", ["swin_t", "swin_s", "swin_v2_t", "swin_v2_s", "maxvit_t"])
def test_parameter_count_is_torchvisions(name):
    assert _count(_model(name)) == NUM_PARAMS[name]


def test_swin_b_and_v2_b_counts_by_formula_checked_on_the_built_ones():
    """swin_b / swin_v2_b (88M parameters) are counted by a formula that gives the built
    tiny and small models' counts exactly; the builders' settings are checked by hand."""
    for name, v2 in (("swin_t", False), ("swin_s", False), ("swin_v2_t", True),
                     ("swin_v2_s", True)):
        e, depths, heads, _ = _swin._VARIANTS[name[-1]]
        assert _swin_count(e, depths, heads, 8 if v2 else 7, v2) == _count(_model(name))
    assert _swin._VARIANTS["b"] == (128, [2, 2, 18, 2], [4, 8, 16, 32], 0.5)
    assert _swin_count(128, [2, 2, 18, 2], [4, 8, 16, 32], 7, False) == NUM_PARAMS["swin_b"]
    assert _swin_count(128, [2, 2, 18, 2], [4, 8, 16, 32], 8, True) == NUM_PARAMS["swin_v2_b"]


def _expected_swin_keys(depths, v2):
    """state_dict keys in torchvision's order: a module's parameters, its buffers, then its
    children's (derived from swin_transformer.py's structure)."""
    keys = ["features.0.0.weight", "features.0.0.bias", "features.0.2.weight",
            "features.0.2.bias"]
    attn = (["logit_scale", "relative_coords_table", "relative_position_index"] if v2 else
            ["relative_position_bias_table", "relative_position_index"])
    attn += ["qkv.weight", "qkv.bias", "proj.weight", "proj.bias"]
    attn += ["cpb_mlp.0.weight", "cpb_mlp.0.bias", "cpb_mlp.2.weight"] if v2 else []
    for stage, depth in enumerate(depths):
        for i in range(depth):
            p = f"features.{2 * stage + 1}.{i}."
            keys += [p + k for k in ["norm1.weight", "norm1.bias"] + ["attn." + a for a in attn]
                     + ["norm2.weight", "norm2.bias", "mlp.0.weight", "mlp.0.bias",
                        "mlp.3.weight", "mlp.3.bias"]]
        if stage < len(depths) - 1:
            keys += [f"features.{2 * stage + 2}.{k}" for k in ("reduction.weight",
                                                               "norm.weight", "norm.bias")]
    return keys + ["norm.weight", "norm.bias", "head.weight", "head.bias"]


def test_swin_state_dict_keys_and_shapes():
    state = _model("swin_t").state_dict()
    assert list(state) == _expected_swin_keys([2, 2, 6, 2], v2=False)
    shapes = {"features.0.0.weight": (96, 3, 4, 4),
              "features.1.0.attn.relative_position_bias_table": (169, 3),
              "features.1.0.attn.relative_position_index": (2401,),
              "features.1.1.attn.qkv.weight": (288, 96), "features.2.reduction.weight": (192, 384),
              "features.2.norm.weight": (384,), "features.5.5.mlp.0.weight": (1536, 384),
              "features.7.1.mlp.3.weight": (768, 3072), "head.weight": (1000, 768)}
    for k, shape in shapes.items():
        assert tuple(state[k].shape) == shape, k
    assert state["features.1.0.attn.relative_position_index"].dtype == zeroin.int64
    names = dict(_model("swin_t").named_parameters())
    assert "features.1.0.attn.relative_position_index" not in names     # a buffer
    assert "features.1.0.attn.relative_position_bias_table" in names


def test_swin_v2_state_dict_keys_and_shapes():
    state = _model("swin_v2_t").state_dict()
    assert list(state) == _expected_swin_keys([2, 2, 6, 2], v2=True)
    shapes = {"features.1.0.attn.cpb_mlp.0.weight": (512, 2),
              "features.1.0.attn.cpb_mlp.0.bias": (512,),
              "features.1.0.attn.cpb_mlp.2.weight": (3, 512),
              "features.1.0.attn.logit_scale": (3, 1, 1),
              "features.1.0.attn.relative_coords_table": (1, 15, 15, 2),
              "features.1.0.attn.relative_position_index": (4096,),
              "features.2.reduction.weight": (192, 384), "features.2.norm.weight": (192,),
              "features.7.1.attn.logit_scale": (24, 1, 1)}
    for k, shape in shapes.items():
        assert tuple(state[k].shape) == shape, k
    names = dict(_model("swin_v2_t").named_parameters())
    assert "features.1.0.attn.logit_scale" in names
    assert "features.1.0.attn.relative_coords_table" not in names
    assert "features.1.0.attn.relative_position_bias_table" not in state


def test_maxvit_state_dict_keys_and_shapes():
    state = _model("maxvit_t").state_dict()
    b0 = "blocks.0.layers.0.layers."
    shapes = {"stem.0.0.weight": (64, 3, 3, 3), "stem.1.0.weight": (64, 64, 3, 3),
              "stem.1.0.bias": (64,), b0 + "MBconv.layers.pre_norm.weight": (64,),
              b0 + "MBconv.proj.1.weight": (64, 64, 1, 1),
              b0 + "MBconv.layers.conv_a.0.weight": (256, 64, 1, 1),
              b0 + "MBconv.layers.conv_b.0.weight": (256, 1, 3, 3),
              b0 + "MBconv.layers.squeeze_excitation.fc1.weight": (16, 256, 1, 1),
              b0 + "MBconv.layers.conv_c.weight": (64, 256, 1, 1),
              b0 + "window_attention.attn_layer.1.relative_position_bias_table": (169, 2),
              b0 + "window_attention.attn_layer.1.relative_position_index": (49, 49),
              b0 + "grid_attention.attn_layer.1.to_qkv.weight": (192, 64),
              b0 + "grid_attention.mlp_layer.1.weight": (256, 64),
              "blocks.2.layers.4.layers.grid_attention.attn_layer.1.merge.weight": (256, 256),
              "classifier.2.weight": (512,), "classifier.3.weight": (512, 512),
              "classifier.5.weight": (1000, 512)}
    for k, shape in shapes.items():
        assert tuple(state[k].shape) == shape, k
    assert "stem.0.0.bias" not in state and "classifier.5.bias" not in state
    assert not any(k.startswith("blocks.0.layers.1.layers.MBconv.proj") for k in state)
    assert sum(k.endswith("relative_position_index") for k in state) == 2 * 11
    # stem 8; per layer MBconv 23 (+2 for the projection of a block's first) and two
    # attentions of 14; classifier 5 (torchvision's structure)
    assert len(state) == 8 + 11 * (23 + 2 * 14) + 4 * 2 + 5


# --- forward, backward, errors ------------------------------------------------------------

@pytest.mark.parametrize("name,size", [("swin_t", 4), ("swin_t", 64), ("swin_v2_t", 36),
                                       ("swin_s", 32), ("swin_v2_s", 32), ("maxvit_t", 224)])
def test_eval_forward_at_a_small_input(name, size):
    """Swin takes any size from its 4x4 patch up (padding to windows and to even sizes);
    MaxViT the sizes whose every block map divides by its partition (224 is the smallest
    round one)."""
    model = _model(name).eval()
    with zeroin.no_grad():
        out = model(zeroin.randn(2, 3, size, size, dtype=zeroin.float32))
    assert out.shape == (2, 1000) and out.dtype == zeroin.float32
    assert np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("name,size", [("swin_t", 64), ("swin_v2_t", 64), ("maxvit_t", 224)])
def test_backward_reaches_every_parameter(name, size, f32):
    """At 64x64 Swin's first two stages pad and shift their windows (16 -> 21, 8 -> 14);
    stochastic depth off (it may drop a whole block for both samples; the builders fix
    stochastic_depth_prob, as torchvision's: passing it is a TypeError there too)."""
    from zeroin.vision._efficientnet import StochasticDepth
    model = getattr(M, name)(num_classes=10)
    for m in model.modules():
        if isinstance(m, StochasticDepth):
            m.p = 0.0
    out = model(zeroin.randn(2, 3, size, size))           # training mode
    assert out.shape == (2, 10)
    out.square().mean().backward()
    missing = [n for n, p in model.named_parameters()
               if p.grad is None or not np.isfinite(p.grad.numpy()).all()]
    assert not missing, missing
    # every weight, table and logit scale moves (V2's key biases get an exact zero)
    assert all(p.grad.numpy().any() for n, p in model.named_parameters()
               if not n.endswith("bias")), \
        [n for n, p in model.named_parameters() if not p.grad.numpy().any()]


def test_maxvit_input_size_is_checked_with_a_clear_error(f32):
    with pytest.raises(ValueError, match=r"Input size \(8, 8\) of block 0 is not divisible "
                                         r"by partition size 7"):
        M.maxvit_t(input_size=(32, 32))
    model = M.maxvit_t(input_size=(448, 448), num_classes=3).eval()   # 448: 112 -> 7 ... 14
    with pytest.raises(ValueError, match=r"PartitionAttentionLayer: expected \[B, C, 112, "
                                         r"112\].*got shape \(1, 64, 56, 56\)"):
        model(zeroin.randn(1, 3, 224, 224))


def test_window_attention_input_errors():
    attn = _swin.ShiftedWindowAttention(8, [4, 4], [2, 2], num_heads=2)
    with pytest.raises(ValueError, match=r"expected input \[B, H, W, C\], got shape "
                                         r"\(8, 6, 6\)"):
        attn(zeroin.zeros(8, 6, 6))
    with pytest.raises(ValueError, match=r"C=6 channels but qkv_weight is \(24, 8\)"):
        attn(zeroin.zeros(1, 6, 6, 6))
    with pytest.raises(ValueError, match="window_size and shift_size must be of length 2"):
        _swin.ShiftedWindowAttention(8, [4], [2, 2], num_heads=2)


def test_builder_settings_are_torchvisions():
    t, v2 = _model("swin_t"), _model("swin_v2_t")
    assert t.features[1][0].attn.window_size == [7, 7]
    assert [b.attn.shift_size for b in t.features[5]] == [[0, 0], [3, 3]] * 3
    assert v2.features[1][1].attn.shift_size == [4, 4]
    assert isinstance(v2.features[1][0], _swin.SwinTransformerBlockV2)
    assert isinstance(v2.features[2], _swin.PatchMergingV2)
    assert isinstance(t.features[2], _swin.PatchMerging)
    # stochastic depth "row", linear in the block index up to 0.2 (swin_t)
    probs = [b.stochastic_depth.p for stage in (1, 3, 5, 7) for b in t.features[stage]]
    np.testing.assert_allclose(probs, np.arange(12) * 0.2 / 11)
    assert t.features[7][1].stochastic_depth.mode == "row"
    assert t.features[0][2].eps == 1e-5
    mx = _model("maxvit_t")
    probs = [layer.layers.MBconv.stochastic_depth for block in mx.blocks
             for layer in block.layers]
    assert isinstance(probs[0], zeroin.nn.Identity)          # p = 0: no module, as torchvision
    np.testing.assert_allclose([p.p for p in probs[1:]], np.linspace(0, 0.2, 11)[1:])
    bn = mx.blocks[0].layers[0].layers.MBconv.layers.pre_norm
    assert (bn.eps, bn.momentum) == (1e-3, 0.99)
    grid = mx.blocks[3].layers[1].layers.grid_attention
    assert (grid.p, grid.g, grid.grid_size) == (1, 7, (7, 7))
    assert mx.blocks[0].layers[0].layers.window_attention.p == 7


def test_weights_enums_and_presets():
    presets = {"Swin_T_Weights": (224, 232), "Swin_S_Weights": (224, 246),
               "Swin_B_Weights": (224, 238), "Swin_V2_T_Weights": (256, 260),
               "Swin_V2_S_Weights": (256, 260), "Swin_V2_B_Weights": (256, 272),
               "MaxVit_T_Weights": (224, 224)}
    for name, (crop, resize) in presets.items():
        enum = getattr(M, name)
        assert [w.name for w in enum] == ["IMAGENET1K_V1"] and enum.DEFAULT.name == "IMAGENET1K_V1"
        preset = enum.DEFAULT.transforms()
        assert (preset.crop_size, preset.resize_size) == ([crop], [resize])
        assert preset.interpolation.name == "BICUBIC"
    with pytest.raises(NotImplementedError, match=r"swin_v2_b\(weights=.*swin_v2_b\.safetensors"):
        M.swin_v2_b(weights="DEFAULT")


def test_state_dict_round_trips_through_safetensors(tmp_path, f32):
    """Buffers included (the int64 index, V2's coordinates table)."""
    from zeroin import safetensors
    model = M.swin_v2_t(num_classes=4).eval()
    safetensors.save_file(model.state_dict(), tmp_path / "m.safetensors")
    fresh = M.swin_v2_t(num_classes=4).eval()
    fresh.load_state_dict(safetensors.load_file(tmp_path / "m.safetensors"))
    x = zeroin.randn(2, 3, 40, 40)
    with zeroin.no_grad():
        np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())


# --- initialisation -----------------------------------------------------------------------

def _std(t):
    return float(np.asarray(t.detach().numpy(), dtype=np.float64).std())


def test_init_swin():
    """Every Linear (the blocks' MLPs too: the model's loop runs last) truncated normal with
    std 0.02 and zero bias; the tables truncated normal (std 0.02); LayerNorms (1, 0); the
    patch conv PyTorch's default (uniform, bound 1 / sqrt(fan_in))."""
    for name in ("swin_t", "swin_v2_t"):
        model = _model(name)
        for n, m in model.named_modules():
            if isinstance(m, zeroin.nn.Linear):
                w = m.weight.numpy()
                if w.size >= 4096:
                    assert abs(_std(m.weight) - 0.02) < 0.002, n
                    assert abs(w.mean()) < 0.002, n
                assert m.bias is None or not m.bias.numpy().any(), n
            elif isinstance(m, zeroin.nn.LayerNorm):
                assert (m.weight.numpy() == 1).all() and not m.bias.numpy().any(), n
        conv = model.features[0][0].weight.numpy()
        assert np.abs(conv).max() <= 1 / math.sqrt(48) and conv.std() > 0.8 / math.sqrt(144)
    tables = np.concatenate([b.attn.relative_position_bias_table.numpy().ravel()
                             for stage in (1, 3, 5, 7) for b in _model("swin_t").features[stage]])
    assert abs(tables.std() - 0.02) < 0.001 and np.abs(tables).max() < 0.2
    v2 = _model("swin_v2_t")
    for b in v2.features[1]:
        np.testing.assert_allclose(b.attn.logit_scale.numpy(), math.log(10), rtol=1e-6)


def test_init_of_the_blocks_alone():
    """SwinTransformerBlock's own loop: its MLP xavier uniform, biases normal (std 1e-6);
    ShiftedWindowAttentionV2 zeroes the key third of qkv's bias."""
    block = _swin.SwinTransformerBlock(64, 4, [7, 7], [0, 0])
    w = block.mlp[0].weight.numpy()
    bound = math.sqrt(6 / (64 + 256))
    assert np.abs(w).max() <= bound and w.std() > 0.9 * bound / math.sqrt(3)
    assert 0 < _std(block.mlp[3].bias) < 3e-6
    attn = _swin.ShiftedWindowAttentionV2(16, [4, 4], [0, 0], 2)
    bias = attn.qkv.bias.numpy()
    assert not bias[16:32].any() and bias[:16].all() and bias[32:].all()


def test_init_maxvit():
    """torchvision's loop: conv and Linear weights normal (std 0.02), biases 0, BatchNorm
    (1, 0); the relative position tables truncated normal (std 0.02)."""
    model = _model("maxvit_t")
    convs, linears = [], []
    for n, m in model.named_modules():
        if isinstance(m, (zeroin.nn.Conv2d, zeroin.nn.Linear)):
            (convs if isinstance(m, zeroin.nn.Conv2d) else linears).append(m.weight.numpy().ravel())
            assert m.bias is None or not m.bias.numpy().any(), n
        elif isinstance(m, zeroin.nn.BatchNorm2d):
            assert (m.weight.numpy() == 1).all() and not m.bias.numpy().any(), n
    for ws in (np.concatenate(convs), np.concatenate(linears)):
        assert abs(ws.std() - 0.02) < 0.0005 and abs(ws.mean()) < 0.0005
    tables = np.concatenate([p.numpy().ravel() for n, p in model.named_parameters()
                             if n.endswith("relative_position_bias_table")])
    assert abs(tables.std() - 0.02) < 0.001 and np.abs(tables).max() <= 2.0


# --- blocks against PyTorch (float64) -----------------------------------------------------

def _torch_index(torch, wh, ww):
    """torchvision's relative_position_index, in PyTorch."""
    coords = torch.stack(torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij"))
    flat = torch.flatten(coords, 1)
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += wh - 1
    rel[:, :, 1] += ww - 1
    rel[:, :, 0] *= 2 * ww - 1
    return rel.sum(-1)


def _torch_coords_table(torch, wh, ww):
    """Swin V2's log-spaced relative_coords_table, in PyTorch (float32, as torchvision)."""
    h = torch.arange(-(wh - 1), wh, dtype=torch.float32)
    w = torch.arange(-(ww - 1), ww, dtype=torch.float32)
    table = torch.stack(torch.meshgrid([h, w], indexing="ij")).permute(1, 2, 0).contiguous()
    table = table.unsqueeze(0)
    table[:, :, :, 0] /= wh - 1
    table[:, :, :, 1] /= ww - 1
    table *= 8
    return torch.sign(table) * torch.log2(torch.abs(table) + 1.0) / 3.0


def _torch_window_attention(torch, x, p, bias, ws, shift, heads, v2):
    """torchvision's shifted_window_attention (no dropout), in PyTorch; p: the weights."""
    F = torch.nn.functional
    B, H, W, C = x.shape
    x = F.pad(x, (0, 0, 0, (ws[1] - W % ws[1]) % ws[1], 0, (ws[0] - H % ws[0]) % ws[0]))
    _, pH, pW, _ = x.shape
    shift = [0 if ws[0] >= pH else shift[0], 0 if ws[1] >= pW else shift[1]]
    if sum(shift) > 0:
        x = torch.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))
    nw = (pH // ws[0]) * (pW // ws[1])
    x = x.view(B, pH // ws[0], ws[0], pW // ws[1], ws[1], C).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(B * nw, ws[0] * ws[1], C)
    qkv_bias = p["qkv.bias"]
    if v2:
        qkv_bias = qkv_bias.clone()
        qkv_bias[C:2 * C] = 0.0 * qkv_bias[C:2 * C]
    qkv = F.linear(x, p["qkv.weight"], qkv_bias)
    q, k, v = qkv.reshape(x.size(0), x.size(1), 3, heads, C // heads).permute(2, 0, 3, 1, 4)
    if v2:
        attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
        attn = attn * torch.clamp(p["logit_scale"], max=math.log(100.0)).exp()
    else:
        attn = (q * (C // heads) ** -0.5) @ k.transpose(-2, -1)
    attn = attn + bias
    if sum(shift) > 0:
        mask = x.new_zeros((pH, pW))
        count = 0
        for h in ((0, -ws[0]), (-ws[0], -shift[0]), (-shift[0], None)):
            for w in ((0, -ws[1]), (-ws[1], -shift[1]), (-shift[1], None)):
                mask[h[0]:h[1], w[0]:w[1]] = count
                count += 1
        mask = mask.view(pH // ws[0], ws[0], pW // ws[1], ws[1]).permute(0, 2, 1, 3)
        mask = mask.reshape(nw, ws[0] * ws[1])
        mask = mask.unsqueeze(1) - mask.unsqueeze(2)
        mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)
        attn = attn.view(B, nw, heads, x.size(1), x.size(1)) + mask.unsqueeze(1).unsqueeze(0)
        attn = attn.view(-1, heads, x.size(1), x.size(1))
    x = (F.softmax(attn, dim=-1) @ v).transpose(1, 2).reshape(x.size(0), x.size(1), C)
    x = F.linear(x, p["proj.weight"], p["proj.bias"])
    x = x.view(B, pH // ws[0], pW // ws[1], ws[0], ws[1], C).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(B, pH, pW, C)
    if sum(shift) > 0:
        x = torch.roll(x, shifts=(shift[0], shift[1]), dims=(1, 2))
    return x[:, :H, :W, :]


def _torch_swin_attention(torch, p, ws, shift, heads, v2):
    """The attention module's forward in PyTorch, from its state (p: tensors by name)."""
    n = ws[0] * ws[1]
    index = _torch_index(torch, *ws).flatten()
    if v2:
        F = torch.nn.functional
        hidden = F.relu(F.linear(_torch_coords_table(torch, *ws).double(),
                                 p["cpb_mlp.0.weight"], p["cpb_mlp.0.bias"]))
        table = F.linear(hidden, p["cpb_mlp.2.weight"]).view(-1, heads)
    else:
        table = p["relative_position_bias_table"]
    bias = table[index].view(n, n, -1).permute(2, 0, 1).contiguous().unsqueeze(0)
    if v2:
        bias = 16 * torch.sigmoid(bias)
    return lambda x: _torch_window_attention(torch, x, p, bias, ws, shift, heads, v2)


def _compare(torch, zmodule, make_torch_forward, shape, seed=0, rtol=1e-10, fix=None):
    """zeroin's module and the PyTorch forward on the same random float64 weights (those in
    ``fix`` set) and input: outputs, the input's gradient and every parameter's gradient."""
    rng = np.random.default_rng(seed)
    for name, p in zmodule.named_parameters():
        value = (fix or {}).get(name)
        p.data = zeroin.tensor(rng.normal(0, 0.5, tuple(p.shape)) if value is None else value)
    tparams = {n: torch.tensor(p.numpy(), requires_grad=True)
               for n, p in zmodule.named_parameters()}
    forward = make_torch_forward(tparams)
    x = rng.normal(0, 1, shape)
    zx, tx = zeroin.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    zout, tout = zmodule(zx), forward(tx)
    np.testing.assert_allclose(zout.detach().numpy(), tout.detach().numpy(), rtol=rtol,
                               atol=1e-10)
    r = rng.normal(0, 1, tuple(zout.shape))
    (zout * zeroin.tensor(r)).sum().backward()
    (tout * torch.from_numpy(r)).sum().backward()
    np.testing.assert_allclose(zx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-10)
    for name, p in zmodule.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), rtol=1e-9,
                                   atol=1e-10, err_msg=name)


@pytest.mark.parametrize("v2", [False, True], ids=["v1", "v2"])
@pytest.mark.parametrize("ws,shift,shape", [
    ([4, 4], [2, 2], (2, 8, 8, 8)),          # shifted, no padding
    ([4, 4], [0, 0], (2, 6, 7, 8)),          # not shifted, padded to 8x8
    ([3, 4], [1, 2], (2, 7, 6, 8)),          # shifted, padded to 9x8, non-square windows
    ([4, 4], [2, 2], (1, 3, 9, 8)),          # the window covers H: shifted along W only
], ids=["shift", "pad", "shift_pad_rect", "shift_w_only"])
def test_window_attention_matches_torch(ws, shift, shape, v2):
    """ShiftedWindowAttention(V2) against torchvision's function written in PyTorch,
    float64: outputs and every gradient to ~1e-10 (V2: one head's logit_scale above
    log(100), so the clamp cuts it and its gradient)."""
    torch = pytest.importorskip("torch")
    cls = _swin.ShiftedWindowAttentionV2 if v2 else _swin.ShiftedWindowAttention
    attn = cls(8, ws, shift, num_heads=2)
    assert (attn.relative_position_index.numpy()
            == _torch_index(torch, *ws).flatten().numpy()).all()
    if v2:
        np.testing.assert_array_equal(attn.relative_coords_table.numpy(),
                                      _torch_coords_table(torch, *ws).double().numpy())
    fix = {"logit_scale": np.array([5.0, 1.0]).reshape(2, 1, 1)} if v2 else None
    _compare(torch, attn, lambda p: _torch_swin_attention(torch, p, ws, shift, 2, v2), shape,
             fix=fix)
    if v2:   # the clamped head's scale gets no gradient, the other one does
        grad = attn.logit_scale.grad.numpy().ravel()
        assert grad[0] == 0 and grad[1] != 0


@pytest.mark.parametrize("v2", [False, True], ids=["v1", "v2"])
@pytest.mark.parametrize("shape", [(2, 6, 8, 4), (2, 5, 7, 4)], ids=["even", "odd_padded"])
def test_patch_merging_matches_torch(shape, v2):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional

    def forward(p):
        def run(x):
            H, W = x.shape[-3:-1]
            x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
            x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :],
                           x[..., 1::2, 1::2, :]], -1)
            norm = lambda t: F.layer_norm(t, t.shape[-1:], p["norm.weight"],  # noqa: E731
                                          p["norm.bias"])
            if v2:
                return norm(F.linear(x, p["reduction.weight"]))
            return F.linear(norm(x), p["reduction.weight"])
        return run

    merge = (_swin.PatchMergingV2 if v2 else _swin.PatchMerging)(4)
    _compare(torch, merge, forward, shape)
    assert merge(zeroin.zeros(*shape)).shape == (2, (shape[1] + 1) // 2, (shape[2] + 1) // 2, 8)


def _torch_partition_attention(torch, p, in_channels, head_dim, ps, kind, grid_size):
    """torchvision's PartitionAttentionLayer (eval: no dropout, no stochastic depth) and
    RelativePositionalMultiHeadAttention, in PyTorch."""
    F = torch.nn.functional
    heads, n = in_channels // head_dim, ps * ps
    part = ps if kind == "window" else grid_size[0] // ps
    index = _torch_index(torch, ps, ps).view(-1)
    bias = p["attn_layer.1.relative_position_bias_table"][index].view(n, n, -1)
    bias = bias.permute(2, 0, 1).contiguous().unsqueeze(0)

    def attend(x):
        B, G, P, D = x.shape
        q, k, v = torch.chunk(F.linear(x, p["attn_layer.1.to_qkv.weight"],
                                       p["attn_layer.1.to_qkv.bias"]), 3, dim=-1)
        q, k, v = (t.reshape(B, G, P, heads, head_dim).permute(0, 1, 3, 2, 4) for t in (q, k, v))
        k = k * in_channels ** -0.5
        dots = F.softmax(torch.einsum("B G H I D, B G H J D -> B G H I J", q, k) + bias, dim=-1)
        out = torch.einsum("B G H I J, B G H J D -> B G H I D", dots, v)
        out = out.permute(0, 1, 3, 2, 4).reshape(B, G, P, D)
        return F.linear(out, p["attn_layer.1.merge.weight"], p["attn_layer.1.merge.bias"])

    def run(x):
        B, C, H, W = x.shape
        x = x.reshape(B, C, H // part, part, W // part, part).permute(0, 2, 4, 3, 5, 1)
        x = x.reshape(B, (H // part) * (W // part), part * part, C)
        if kind == "grid":
            x = torch.swapaxes(x, -2, -3)
        ln = lambda t, pre: F.layer_norm(t, (C,), p[pre + ".weight"], p[pre + ".bias"])  # noqa
        x = x + attend(ln(x, "attn_layer.0"))
        h = F.gelu(F.linear(ln(x, "mlp_layer.0"), p["mlp_layer.1.weight"],
                            p["mlp_layer.1.bias"]))
        x = x + F.linear(h, p["mlp_layer.3.weight"], p["mlp_layer.3.bias"])
        if kind == "grid":
            x = torch.swapaxes(x, -2, -3)
        x = x.reshape(B, H // part, W // part, part, part, C).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(B, C, H, W)
    return run


@pytest.mark.parametrize("kind", ["window", "grid"])
def test_maxvit_partition_attention_matches_torch(kind):
    """MaxViT's block ("window") and grid attention on a 6x6 map with partition 2 (windows
    of 2x2; a 3x3-strided grid of 2x2 tokens), float64, outputs and every gradient."""
    torch = pytest.importorskip("torch")
    layer = _maxvit.PartitionAttentionLayer(8, 4, 2, kind, (6, 6), 2, zeroin.nn.GELU,
                                            zeroin.nn.LayerNorm, 0.0, 0.0, 0.0)
    attn = layer.attn_layer[1]
    assert (attn.relative_position_index.numpy() == _torch_index(torch, 2, 2).numpy()).all()
    _compare(torch, layer, lambda p: _torch_partition_attention(torch, p, 8, 4, 2, kind, (6, 6)),
             (2, 8, 6, 6))


@pytest.mark.parametrize("name", ["swin_t", "maxvit_t"])
def test_builders_fix_stochastic_depth_prob_as_torchvisions(name):
    """torchvision's _swin_transformer / _maxvit pass stochastic_depth_prob themselves, so
    the keyword is a TypeError (docs/vision_models.md says so); refused before building."""
    with pytest.raises(TypeError, match="stochastic_depth_prob"):
        getattr(M, name)(stochastic_depth_prob=0.0)


def _torch_swin_model(torch, p, depths, heads, ws, v2):
    """A SwinTransformer's eval forward composed in PyTorch from the pieces above (patch
    conv, LayerNorm, blocks with alternate shifts, patch merging, norm, mean pool, head)."""
    F = torch.nn.functional
    ln = lambda t, pre: F.layer_norm(t, t.shape[-1:], p[pre + ".weight"],  # noqa: E731
                                     p[pre + ".bias"], eps=1e-5)

    def block(x, pre, heads, shift):
        attn = _torch_swin_attention(
            torch, {k[len(pre) + 5:]: v for k, v in p.items() if k.startswith(pre + "attn.")},
            ws, shift, heads, v2)
        mlp = lambda t: F.linear(F.gelu(F.linear(t, p[pre + "mlp.0.weight"],  # noqa: E731
                                                 p[pre + "mlp.0.bias"])),
                                 p[pre + "mlp.3.weight"], p[pre + "mlp.3.bias"])
        if v2:
            x = x + ln(attn(x), pre + "norm1")
            return x + ln(mlp(x), pre + "norm2")
        x = x + attn(ln(x, pre + "norm1"))
        return x + mlp(ln(x, pre + "norm2"))

    def run(x):
        x = F.conv2d(x, p["features.0.0.weight"], p["features.0.0.bias"], stride=4)
        x = ln(x.permute(0, 2, 3, 1), "features.0.2")
        for stage, depth in enumerate(depths):
            for i in range(depth):
                x = block(x, f"features.{2 * stage + 1}.{i}.", heads[stage],
                          [0, 0] if i % 2 == 0 else [w // 2 for w in ws])
            if stage < len(depths) - 1:
                pre = f"features.{2 * stage + 2}."
                H, W = x.shape[1:3]
                x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
                x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :],
                               x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1)
                red = lambda t: F.linear(t, p[pre + "reduction.weight"])  # noqa: E731
                x = ln(red(x), pre + "norm") if v2 else red(ln(x, pre + "norm"))
        x = ln(x, "norm").permute(0, 3, 1, 2).mean((2, 3))
        return F.linear(x, p["head.weight"], p["head.bias"])
    return run


@pytest.mark.parametrize("v2", [False, True], ids=["v1", "v2"])
def test_small_swin_transformer_matches_torch_end_to_end(v2):
    """A 2-stage SwinTransformer (window 3 on 7x7 then 4x4 maps: padded and shifted in both
    stages) against its composition in PyTorch, float64 eval: logits and every gradient."""
    torch = pytest.importorskip("torch")
    kw = dict(block=_swin.SwinTransformerBlockV2, downsample_layer=_swin.PatchMergingV2) \
        if v2 else {}
    model = _swin.SwinTransformer([4, 4], 8, [2, 2], [2, 4], [3, 3], num_classes=5,
                                  **kw).eval()
    _compare(torch, model, lambda p: _torch_swin_model(torch, p, [2, 2], [2, 4], [3, 3], v2),
             (2, 3, 28, 28), rtol=1e-9)


def test_maxvit_mbconv_matches_torch_in_training():
    """MaxViT's MBConv with stride 2 (avg-pool + 1x1 projection, batch norms on batch
    statistics, SiLU squeeze-excitation) against PyTorch, float64: output, every gradient,
    and the running statistics after one step with torchvision's momentum=0.99."""
    torch = pytest.importorskip("torch")
    from functools import partial
    F = torch.nn.functional
    norm = partial(zeroin.nn.BatchNorm2d, eps=1e-3, momentum=0.99)
    block = _maxvit.MBConv(8, 16, 4, 0.25, 2, zeroin.nn.GELU, norm, 0.0)
    running = {}

    def forward(p):
        def bn(t, pre):
            stats = running.setdefault(pre, (torch.zeros(t.shape[1], dtype=torch.float64),
                                             torch.ones(t.shape[1], dtype=torch.float64)))
            return F.batch_norm(t, *stats, p[pre + ".weight"], p[pre + ".bias"], training=True,
                                momentum=0.99, eps=1e-3)

        def run(x):
            res = F.conv2d(F.avg_pool2d(x, 3, 2, 1), p["proj.1.weight"], p["proj.1.bias"])
            h = bn(x, "layers.pre_norm")
            h = F.gelu(bn(F.conv2d(h, p["layers.conv_a.0.weight"]), "layers.conv_a.1"))
            h = F.conv2d(h, p["layers.conv_b.0.weight"], stride=2, padding=1, groups=64)
            h = F.gelu(bn(h, "layers.conv_b.1"))
            se = "layers.squeeze_excitation."
            s = F.silu(F.conv2d(h.mean((2, 3), keepdim=True), p[se + "fc1.weight"],
                                p[se + "fc1.bias"]))
            h = h * torch.sigmoid(F.conv2d(s, p[se + "fc2.weight"], p[se + "fc2.bias"]))
            return res + F.conv2d(h, p["layers.conv_c.weight"], p["layers.conv_c.bias"])
        return run

    _compare(torch, block, forward, (4, 8, 7, 7), rtol=1e-9)
    state = block.state_dict()
    for pre, (mean, var) in running.items():
        np.testing.assert_allclose(state[pre + ".running_mean"].numpy(), mean.numpy(),
                                   rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(state[pre + ".running_var"].numpy(), var.numpy(),
                                   rtol=1e-10, atol=1e-12)
    assert len(running) == 3
