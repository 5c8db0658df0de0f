"""Audit of vision-transformer training code as practitioners copy it from timm, DeiT and
MAE into their scripts (no timm import): ``PatchEmbed``, ``drop_path`` / ``DropPath``,
``LayerScale``, ``Attention`` (fused and manual), ``Mlp``, ``Block``, the ViT with its cls
token, ``pos_embed`` and ``_init_weights``, pos-embed resizing, MAE's random masking,
decoder, ``patchify`` and loss with the NumPy sin-cos embedding, DeiT's distillation token,
and the recipe around them (layer-wise lr decay groups, AdamW with a warm-up cosine schedule
set by hand, gradient accumulation, ``clip_grad_norm_``, soft-target and label-smoothing
losses, model EMA, disabled autocast / GradScaler). Written with ``torch = L``, ``nn = L.nn``,
``F = L.nn.functional`` for L = PyTorch and L = zeroin, on the same seeded inputs and copied
weights (or the same draws on ``use_torch_stream``): float64 to ~1e-10, float32 to float
resolution. 16x16 images, patch 4, dim 32, depth 2. See docs/vit.md."""
import argparse
import copy
import math
import random

import numpy as np
import pytest

import zeroin
from _audit import close, copy_weights, np_of, torch_stream
from _audit import torch_defaults_back  # noqa: F401  (autouse: torch's defaults back)

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)
F64 = dict(rtol=1e-10, atol=1e-10)
F32 = dict(rtol=2e-5, atol=2e-6)


def _dtype(dtype):
    for L in LIBS:
        L.set_default_dtype(getattr(L, dtype))
    return F32 if dtype == "float32" else F64


def _same(res, tol):
    assert len(res[zeroin]) == len(res[torch])
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(np.shape(np_of(z))) == tuple(np.shape(np_of(t)))
        close(z, t, **tol)


def _images(n=4, seed=0):
    dt = np.float32 if torch.get_default_dtype() == torch.float32 else np.float64
    return np.random.default_rng(seed).standard_normal((n, 3, 16, 16)).astype(dt)


# --- timm's building blocks, as copied ------------------------------------------------------

def _timm(L):
    """timm's layers (timm/layers/*.py and models/vision_transformer.py, trimmed)."""
    torch, nn, F = L, L.nn, L.nn.functional

    def to_2tuple(x):
        return tuple(x) if isinstance(x, (tuple, list)) else (x, x)

    def trunc_normal_tf_(tensor, mean=0., std=1., a=-2., b=2.):
        # timm's _trunc_normal_: inverse-CDF sampling by uniform_ and erfinv_
        def norm_cdf(x):
            return (1. + math.erf(x / math.sqrt(2.))) / 2.
        with torch.no_grad():
            lo, up = norm_cdf((a - mean) / std), norm_cdf((b - mean) / std)
            tensor.uniform_(2 * lo - 1, 2 * up - 1)
            tensor.erfinv_()
            tensor.mul_(std * math.sqrt(2.))
            tensor.add_(mean)
            tensor.clamp_(min=a, max=b)
            return tensor

    class PatchEmbed(nn.Module):
        def __init__(self, img_size=16, patch_size=4, in_chans=3, embed_dim=32, flatten=True):
            super().__init__()
            self.img_size, self.patch_size = to_2tuple(img_size), to_2tuple(patch_size)
            self.grid_size = tuple(s // p for s, p in zip(self.img_size, self.patch_size,
                                                          strict=True))
            self.num_patches = self.grid_size[0] * self.grid_size[1]
            self.flatten = flatten
            self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size,
                                  stride=patch_size)
            self.norm = nn.Identity()

        def forward(self, x):
            B, C, H, W = x.shape
            assert H == self.img_size[0] and W == self.img_size[1]
            x = self.proj(x)
            if self.flatten:
                x = x.flatten(2).transpose(1, 2)  # NCHW -> NLC
            return self.norm(x)

    def drop_path(x, drop_prob: float = 0., training: bool = False, scale_by_keep=True):
        if drop_prob == 0. or not training:
            return x
        keep_prob = 1 - drop_prob
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        random_tensor = x.new_empty(shape).bernoulli_(keep_prob)
        if keep_prob > 0.0 and scale_by_keep:
            random_tensor.div_(keep_prob)
        return x * random_tensor

    class DropPath(nn.Module):
        def __init__(self, drop_prob: float = 0., scale_by_keep: bool = True):
            super().__init__()
            self.drop_prob, self.scale_by_keep = drop_prob, scale_by_keep

        def forward(self, x):
            return drop_path(x, self.drop_prob, self.training, self.scale_by_keep)

        def extra_repr(self):
            return f'drop_prob={round(self.drop_prob, 3):0.3f}'

    class LayerScale(nn.Module):
        def __init__(self, dim, init_values=1e-5, inplace=False):
            super().__init__()
            self.inplace = inplace
            self.gamma = nn.Parameter(init_values * torch.ones(dim))

        def forward(self, x):
            return x.mul_(self.gamma) if self.inplace else x * self.gamma

    class Attention(nn.Module):
        def __init__(self, dim, num_heads=8, qkv_bias=False, attn_drop=0., proj_drop=0.,
                     fused_attn=True):
            super().__init__()
            assert dim % num_heads == 0, 'dim should be divisible by num_heads'
            self.num_heads = num_heads
            self.head_dim = dim // num_heads
            self.scale = self.head_dim ** -0.5
            self.fused_attn = fused_attn
            self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
            self.q_norm, self.k_norm = nn.Identity(), nn.Identity()
            self.attn_drop = nn.Dropout(attn_drop)
            self.proj = nn.Linear(dim, dim)
            self.proj_drop = nn.Dropout(proj_drop)

        def forward(self, x):
            B, N, C = x.shape
            qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3,
                                                                                     1, 4)
            q, k, v = qkv.unbind(0)
            q, k = self.q_norm(q), self.k_norm(k)
            if self.fused_attn:
                x = F.scaled_dot_product_attention(
                    q, k, v, dropout_p=self.attn_drop.p if self.training else 0.)
            else:
                q = q * self.scale
                attn = q @ k.transpose(-2, -1)
                attn = attn.softmax(dim=-1)
                attn = self.attn_drop(attn)
                x = attn @ v
            x = x.transpose(1, 2).reshape(B, N, C)
            x = self.proj(x)
            x = self.proj_drop(x)
            return x

    class Mlp(nn.Module):
        def __init__(self, in_features, hidden_features=None, out_features=None,
                     act_layer=nn.GELU, bias=True, drop=0.):
            super().__init__()
            out_features = out_features or in_features
            hidden_features = hidden_features or in_features
            bias, drop_probs = to_2tuple(bias), to_2tuple(drop)
            self.fc1 = nn.Linear(in_features, hidden_features, bias=bias[0])
            self.act = act_layer()
            self.drop1 = nn.Dropout(drop_probs[0])
            self.norm = nn.Identity()
            self.fc2 = nn.Linear(hidden_features, out_features, bias=bias[1])
            self.drop2 = nn.Dropout(drop_probs[1])

        def forward(self, x):
            x = self.drop1(self.act(self.fc1(x)))
            return self.drop2(self.fc2(self.norm(x)))

    class Block(nn.Module):
        def __init__(self, dim, num_heads, mlp_ratio=4., qkv_bias=False, proj_drop=0.,
                     attn_drop=0., init_values=None, drop_path=0., act_layer=nn.GELU,
                     norm_layer=nn.LayerNorm, fused_attn=True, inplace_ls=False):
            super().__init__()
            self.norm1 = norm_layer(dim)
            self.attn = Attention(dim, num_heads=num_heads, qkv_bias=qkv_bias,
                                  attn_drop=attn_drop, proj_drop=proj_drop,
                                  fused_attn=fused_attn)
            self.ls1 = LayerScale(dim, init_values, inplace_ls) if init_values else nn.Identity()
            self.drop_path1 = DropPath(drop_path) if drop_path > 0. else nn.Identity()
            self.norm2 = norm_layer(dim)
            self.mlp = Mlp(in_features=dim, hidden_features=int(dim * mlp_ratio),
                           act_layer=act_layer, drop=proj_drop)
            self.ls2 = LayerScale(dim, init_values, inplace_ls) if init_values else nn.Identity()
            self.drop_path2 = DropPath(drop_path) if drop_path > 0. else nn.Identity()

        def forward(self, x):
            x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x))))
            x = x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))
            return x

    def _init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.LayerNorm):
            nn.init.constant_(m.bias, 0)
            nn.init.constant_(m.weight, 1.0)

    class VisionTransformer(nn.Module):
        def __init__(self, img_size=16, patch_size=4, in_chans=3, num_classes=10,
                     global_pool='token', embed_dim=32, depth=2, num_heads=4, mlp_ratio=4.,
                     qkv_bias=True, init_values=None, drop_rate=0., attn_drop_rate=0.,
                     drop_path_rate=0., fused_attn=True, inplace_ls=False):
            super().__init__()
            self.num_classes, self.global_pool = num_classes, global_pool
            self.num_features = self.embed_dim = embed_dim
            self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
            num_patches = self.patch_embed.num_patches
            self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
            self.pos_embed = nn.Parameter(torch.randn(1, num_patches + 1, embed_dim) * .02)
            self.pos_drop = nn.Dropout(p=drop_rate)
            dpr = [x.item() for x in torch.linspace(0, drop_path_rate, depth)]
            self.blocks = nn.Sequential(*[
                Block(embed_dim, num_heads, mlp_ratio, qkv_bias=qkv_bias,
                      init_values=init_values, proj_drop=drop_rate, attn_drop=attn_drop_rate,
                      drop_path=dpr[i], fused_attn=fused_attn, inplace_ls=inplace_ls)
                for i in range(depth)])
            self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
            self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
            nn.init.trunc_normal_(self.pos_embed, std=.02)
            nn.init.normal_(self.cls_token, std=1e-6)
            self.apply(_init_weights)

        def no_weight_decay(self):
            return {'pos_embed', 'cls_token', 'dist_token'}

        def forward_features(self, x):
            x = self.patch_embed(x)
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
            x = self.pos_drop(x + self.pos_embed)
            x = self.blocks(x)
            return self.norm(x)

        def forward_head(self, x, pre_logits: bool = False):
            if self.global_pool:
                x = x[:, 1:].mean(dim=1) if self.global_pool == 'avg' else x[:, 0]
            return x if pre_logits else self.head(x)

        def forward(self, x):
            return self.forward_head(self.forward_features(x))

    return dict(drop_path=drop_path, DropPath=DropPath, LayerScale=LayerScale,
                Attention=Attention, Block=Block, PatchEmbed=PatchEmbed,
                VisionTransformer=VisionTransformer, trunc_normal_tf_=trunc_normal_tf_,
                _init_weights=_init_weights)


def _both(make):
    torch.manual_seed(0)
    t = make(torch)
    return {torch: t, zeroin: copy_weights(t, make(zeroin))}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_patch_embed_attention_fused_and_manual_block_and_vit(dtype):
    tol = _dtype(dtype)
    x = _images()
    res = {}
    for fused in (True, False):
        models = _both(lambda L, fused=fused: _timm(L)["VisionTransformer"](
            fused_attn=fused, init_values=1e-2))
        for L, m in models.items():
            xt = L.tensor(x, requires_grad=True)
            tokens = m.patch_embed(xt)
            assert tuple(tokens.shape) == (4, 16, 32)
            feats = m.forward_features(xt)
            out = m(xt)
            loss = (out ** 2).sum() + feats.pow(2).mean()
            loss.backward()
            res.setdefault(L, []).extend(
                [tokens, feats, out, loss, xt.grad] +
                [p.grad for _, p in m.named_parameters()])
            m.global_pool = 'avg'
            res[L].append(m(xt))
    _same(res, tol)
    # fused and manual attention agree with each other too
    n = len(res[zeroin]) // 2
    for a, b in zip(res[zeroin][:n], res[zeroin][n:], strict=True):
        close(a, b, **(tol if dtype == "float64" else dict(rtol=1e-4, atol=1e-5)))


def test_init_on_the_torch_stream_trunc_normal_apply_and_linspace_drop_path_rates(f32):
    torch_stream()
    res = {}
    for L in LIBS:
        L.manual_seed(0)
        T = _timm(L)
        m = T["VisionTransformer"](drop_path_rate=0.1, depth=3)
        rates = [b.drop_path1.drop_prob if hasattr(b.drop_path1, "drop_prob") else 0.
                 for b in m.blocks]
        assert rates == [x.item() for x in torch.linspace(0, 0.1, 3)]
        assert "drop_prob=0.050" in repr(m)
        t = T["trunc_normal_tf_"](L.empty(64, 32), std=.02, a=-.04, b=.04)
        res[L] = list(m.state_dict().values())
        res[L, "tf"] = [t]
        assert float(t.abs().max()) <= .04
    _same(res, {"rtol": 0, "atol": 0})   # bit for bit
    close(res[zeroin, "tf"][0], res[torch, "tf"][0], rtol=2e-7, atol=0)   # erfinv_: an ulp


@pytest.mark.parametrize("scale_by_keep", [True, False])
def test_drop_path_bernoulli_mask_on_the_torch_stream(f32, scale_by_keep):
    torch_stream()
    x = _images(8)
    res = {}
    for L in LIBS:
        L.manual_seed(3)
        T = _timm(L)
        xt = L.tensor(x, requires_grad=True)
        y = T["drop_path"](xt, 0.25, training=True, scale_by_keep=scale_by_keep)
        y.sum().backward()
        dp = T["DropPath"](0.25)
        dp.eval()
        assert dp(xt) is xt
        res[L] = [y, xt.grad]
        for fused in (False, True):        # attn_drop's Dropout, or SDPA's dropout_p
            m = T["VisionTransformer"](drop_path_rate=0.2, drop_rate=0.1, attn_drop_rate=0.1,
                                       fused_attn=fused)
            m.train()
            res[L].append(m(L.tensor(x)))
    _same(res, F32)


def test_layer_scale_in_place_and_out_of_place():
    _dtype("float64")
    res = {}
    x = np.random.default_rng(1).standard_normal((2, 5, 32))
    for L in LIBS:
        LS = _timm(L)["LayerScale"]
        ls, ls_in = LS(32, 0.1), LS(32, 0.1, inplace=True)
        xt = L.tensor(x, requires_grad=True)
        h = xt * 2
        y = ls(h)
        y2 = ls_in(h * 1)          # in place on a non-leaf keeps the graph
        (y * y2).sum().backward()
        res[L] = [y, y2, xt.grad, ls.gamma.grad, ls_in.gamma.grad]
        leaf = L.tensor(x, requires_grad=True)
        with pytest.raises(RuntimeError):
            ls_in(leaf)            # a leaf that requires grad cannot be changed in place
    _same(res, F64)


def test_vit_in_place_layer_scale_and_gradient_checkpointed_blocks():
    """LayerScale(inplace=True) on the attention's and MLP's outputs inside the model, and
    timm's set_grad_checkpointing path: each block through
    ``torch.utils.checkpoint.checkpoint(blk, x, use_reentrant=False)``."""
    _dtype("float64")
    x = _images(3, seed=6)
    models = _both(lambda L: _timm(L)["VisionTransformer"](init_values=0.1, inplace_ls=True))
    res = {}
    for L, m in models.items():
        xt = L.tensor(x, requires_grad=True)
        out = m(xt)
        out.pow(2).sum().backward()
        res[L] = [out, xt.grad] + [p.grad for p in m.parameters()]
        m.zero_grad()
        h = L.cat((m.cls_token.expand(3, -1, -1), m.patch_embed(xt)), dim=1) + m.pos_embed
        for blk in m.blocks:
            h = L.utils.checkpoint.checkpoint(blk, h, use_reentrant=False)
        out2 = m.head(m.norm(h)[:, 0])
        out2.pow(2).sum().backward()
        res[L] += [out2] + [p.grad for p in m.parameters()]
    _same(res, F64)


def test_pos_embed_resize_bicubic_of_the_grid():
    """timm's resample_abs_pos_embed / MAE's interpolate_pos_embed: 4x4 grid to 6x6."""
    rng = np.random.default_rng(2)
    pe = rng.standard_normal((1, 1 + 16, 32))
    res = {}
    for L in LIBS:
        F = L.nn.functional
        pos_embed = L.tensor(pe, requires_grad=True)
        num_extra_tokens, embedding_size = 1, pos_embed.shape[-1]
        orig_size = int((pos_embed.shape[-2] - num_extra_tokens) ** 0.5)
        new_size = 6
        extra_tokens = pos_embed[:, :num_extra_tokens]
        pos_tokens = pos_embed[:, num_extra_tokens:]
        pos_tokens = pos_tokens.reshape(-1, orig_size, orig_size, embedding_size).permute(0, 3,
                                                                                          1, 2)
        pos_tokens = L.nn.functional.interpolate(
            pos_tokens, size=(new_size, new_size), mode='bicubic', align_corners=False)
        pos_tokens = pos_tokens.permute(0, 2, 3, 1).flatten(1, 2)
        new_pos_embed = L.cat((extra_tokens, pos_tokens), dim=1)
        # timm: F.interpolate(..., size=new_size, mode='bicubic', antialias=True) too
        aa = F.interpolate(pos_embed[:, 1:].reshape(1, 4, 4, -1).permute(0, 3, 1, 2),
                           size=(3, 3), mode='bicubic', antialias=True)
        (new_pos_embed.sin().sum() + aa.sum()).backward()
        res[L] = [new_pos_embed, aa, pos_embed.grad]
    _same(res, F64)


# --- MAE -----------------------------------------------------------------------------------

def get_1d_sincos_pos_embed_from_grid(embed_dim, pos):
    omega = np.arange(embed_dim // 2, dtype=np.float64)
    omega /= embed_dim / 2.
    omega = 1. / 10000**omega
    pos = pos.reshape(-1)
    out = np.einsum('m,d->md', pos, omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def get_2d_sincos_pos_embed(embed_dim, grid_size, cls_token=False):
    grid_h = np.arange(grid_size, dtype=np.float32)
    grid_w = np.arange(grid_size, dtype=np.float32)
    grid = np.meshgrid(grid_w, grid_h)
    grid = np.stack(grid, axis=0).reshape([2, 1, grid_size, grid_size])
    emb_h = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[0])
    emb_w = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[1])
    pos_embed = np.concatenate([emb_h, emb_w], axis=1)
    if cls_token:
        pos_embed = np.concatenate([np.zeros([1, embed_dim]), pos_embed], axis=0)
    return pos_embed


def _mae(L):
    """MAE's models_mae.py (facebookresearch/mae), with timm's blocks."""
    torch, nn = L, L.nn
    T = _timm(L)

    class MaskedAutoencoderViT(nn.Module):
        def __init__(self, img_size=16, patch_size=4, in_chans=3, embed_dim=32, depth=2,
                     num_heads=4, decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2,
                     mlp_ratio=4., norm_layer=nn.LayerNorm, norm_pix_loss=False):
            super().__init__()
            self.patch_embed = T["PatchEmbed"](img_size, patch_size, in_chans, embed_dim)
            num_patches = self.patch_embed.num_patches
            self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
            self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim),
                                          requires_grad=False)
            self.blocks = nn.ModuleList([
                T["Block"](embed_dim, num_heads, mlp_ratio, qkv_bias=True,
                           norm_layer=norm_layer) for i in range(depth)])
            self.norm = norm_layer(embed_dim)
            self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim, bias=True)
            self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
            self.decoder_pos_embed = nn.Parameter(
                torch.zeros(1, num_patches + 1, decoder_embed_dim), requires_grad=False)
            self.decoder_blocks = nn.ModuleList([
                T["Block"](decoder_embed_dim, decoder_num_heads, mlp_ratio, qkv_bias=True,
                           norm_layer=norm_layer) for i in range(decoder_depth)])
            self.decoder_norm = norm_layer(decoder_embed_dim)
            self.decoder_pred = nn.Linear(decoder_embed_dim, patch_size**2 * in_chans,
                                          bias=True)
            self.norm_pix_loss = norm_pix_loss
            self.initialize_weights()

        def initialize_weights(self):
            pos_embed = get_2d_sincos_pos_embed(self.pos_embed.shape[-1],
                                                int(self.patch_embed.num_patches**.5),
                                                cls_token=True)
            self.pos_embed.data.copy_(torch.from_numpy(pos_embed).float().unsqueeze(0))
            decoder_pos_embed = get_2d_sincos_pos_embed(self.decoder_pos_embed.shape[-1],
                                                        int(self.patch_embed.num_patches**.5),
                                                        cls_token=True)
            self.decoder_pos_embed.data.copy_(
                torch.from_numpy(decoder_pos_embed).float().unsqueeze(0))
            w = self.patch_embed.proj.weight.data
            torch.nn.init.xavier_uniform_(w.view([w.shape[0], -1]))
            torch.nn.init.normal_(self.cls_token, std=.02)
            torch.nn.init.normal_(self.mask_token, std=.02)
            self.apply(self._init_weights)

        def _init_weights(self, m):
            if isinstance(m, nn.Linear):
                torch.nn.init.xavier_uniform_(m.weight)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.LayerNorm):
                nn.init.constant_(m.bias, 0)
                nn.init.constant_(m.weight, 1.0)

        def patchify(self, imgs):
            p = self.patch_embed.patch_size[0]
            assert imgs.shape[2] == imgs.shape[3] and imgs.shape[2] % p == 0
            h = w = imgs.shape[2] // p
            x = imgs.reshape(shape=(imgs.shape[0], 3, h, p, w, p))
            x = torch.einsum('nchpwq->nhwpqc', x)
            return x.reshape(shape=(imgs.shape[0], h * w, p**2 * 3))

        def unpatchify(self, x):
            p = self.patch_embed.patch_size[0]
            h = w = int(x.shape[1]**.5)
            assert h * w == x.shape[1]
            x = x.reshape(shape=(x.shape[0], h, w, p, p, 3))
            x = torch.einsum('nhwpqc->nchpwq', x)
            return x.reshape(shape=(x.shape[0], 3, h * p, h * p))

        def random_masking(self, x, mask_ratio):
            N, L, D = x.shape  # batch, length, dim
            len_keep = int(L * (1 - mask_ratio))
            noise = torch.rand(N, L, device=x.device)  # noise in [0, 1]
            ids_shuffle = torch.argsort(noise, dim=1)
            ids_restore = torch.argsort(ids_shuffle, dim=1)
            ids_keep = ids_shuffle[:, :len_keep]
            x_masked = torch.gather(x, dim=1, index=ids_keep.unsqueeze(-1).repeat(1, 1, D))
            mask = torch.ones([N, L], device=x.device)
            mask[:, :len_keep] = 0
            mask = torch.gather(mask, dim=1, index=ids_restore)
            return x_masked, mask, ids_restore

        def forward_encoder(self, x, mask_ratio):
            x = self.patch_embed(x)
            x = x + self.pos_embed[:, 1:, :]
            x, mask, ids_restore = self.random_masking(x, mask_ratio)
            cls_token = self.cls_token + self.pos_embed[:, :1, :]
            cls_tokens = cls_token.expand(x.shape[0], -1, -1)
            x = torch.cat((cls_tokens, x), dim=1)
            for blk in self.blocks:
                x = blk(x)
            return self.norm(x), mask, ids_restore

        def forward_decoder(self, x, ids_restore):
            x = self.decoder_embed(x)
            mask_tokens = self.mask_token.repeat(x.shape[0],
                                                 ids_restore.shape[1] + 1 - x.shape[1], 1)
            x_ = torch.cat([x[:, 1:, :], mask_tokens], dim=1)  # no cls token
            x_ = torch.gather(x_, dim=1, index=ids_restore.unsqueeze(-1).repeat(1, 1,
                                                                                 x.shape[2]))
            x = torch.cat([x[:, :1, :], x_], dim=1)  # append cls token
            x = x + self.decoder_pos_embed
            for blk in self.decoder_blocks:
                x = blk(x)
            x = self.decoder_norm(x)
            x = self.decoder_pred(x)
            return x[:, 1:, :]

        def forward_loss(self, imgs, pred, mask):
            target = self.patchify(imgs)
            if self.norm_pix_loss:
                mean = target.mean(dim=-1, keepdim=True)
                var = target.var(dim=-1, keepdim=True)
                target = (target - mean) / (var + 1.e-6)**.5
            loss = (pred - target) ** 2
            loss = loss.mean(dim=-1)  # [N, L], mean loss per patch
            return (loss * mask).sum() / mask.sum()  # mean loss on removed patches

        def forward(self, imgs, mask_ratio=0.75):
            latent, mask, ids_restore = self.forward_encoder(imgs, mask_ratio)
            pred = self.forward_decoder(latent, ids_restore)
            loss = self.forward_loss(imgs, pred, mask)
            return loss, pred, mask

    return MaskedAutoencoderViT


def test_mae_sincos_init_on_the_torch_stream(f32):
    torch_stream()
    res = {}
    for L in LIBS:
        L.manual_seed(0)
        m = _mae(L)()
        assert not m.pos_embed.requires_grad
        res[L] = list(m.state_dict().values())
    _same(res, {"rtol": 0, "atol": 0})   # bit for bit
    pe = get_2d_sincos_pos_embed(32, 4, cls_token=True)
    close(res[zeroin][1][0], pe.astype(np.float32), 0)


@pytest.mark.parametrize("norm_pix_loss", [False, True])
def test_mae_masking_decoder_patchify_loss_and_steps(norm_pix_loss):
    # float64: the key's bias gets a zero gradient but for rounding (softmax ignores a shift),
    # which AdamW turns into steps of lr: float32 rounding noise made visible
    _dtype("float64")
    torch_stream()
    x = _images(4)
    torch.manual_seed(0)
    models = _both(lambda L: _mae(L)(norm_pix_loss=norm_pix_loss))
    res = {}
    for L, m in models.items():
        L.manual_seed(5)
        imgs = L.tensor(x)
        p = m.patchify(imgs)
        assert tuple(p.shape) == (4, 16, 48)
        assert L.equal(m.unpatchify(p), imgs)
        opt = L.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05)
        res[L] = [p]
        for _ in range(3):
            loss, pred, mask = m(imgs, mask_ratio=0.75)
            assert float(mask.sum()) == 4 * 12
            opt.zero_grad()
            loss.backward()
            opt.step()
            res[L] += [loss, pred, mask, m.mask_token.grad, m.patch_embed.proj.weight.grad]
        assert m.pos_embed.grad is None
        res[L] += list(m.state_dict().values())
    _same(res, dict(rtol=1e-9, atol=1e-9))


# --- the fine-tuning recipe ------------------------------------------------------------------

def get_layer_id_for_vit(name, num_layers):
    if name in ['cls_token', 'pos_embed']:
        return 0
    elif name.startswith('patch_embed'):
        return 0
    elif name.startswith('blocks'):
        return int(name.split('.')[1]) + 1
    else:
        return num_layers


def param_groups_lrd(model, weight_decay=0.05, no_weight_decay_list=(), layer_decay=.75):
    param_group_names, param_groups = {}, {}
    num_layers = len(model.blocks) + 1
    layer_scales = list(layer_decay ** (num_layers - i) for i in range(num_layers + 1))
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim == 1 or n in no_weight_decay_list:
            g_decay, this_decay = "no_decay", 0.
        else:
            g_decay, this_decay = "decay", weight_decay
        layer_id = get_layer_id_for_vit(n, num_layers)
        group_name = "layer_%d_%s" % (layer_id, g_decay)
        if group_name not in param_group_names:
            this_scale = layer_scales[layer_id]
            param_group_names[group_name] = {"lr_scale": this_scale,
                                             "weight_decay": this_decay, "params": []}
            param_groups[group_name] = {"lr_scale": this_scale, "weight_decay": this_decay,
                                        "params": []}
        param_group_names[group_name]["params"].append(n)
        param_groups[group_name]["params"].append(p)
    return list(param_groups.values())


def adjust_learning_rate(optimizer, epoch, lr_base, min_lr, warmup_epochs, epochs):
    if epoch < warmup_epochs:
        lr = lr_base * epoch / warmup_epochs
    else:
        lr = min_lr + (lr_base - min_lr) * 0.5 * \
            (1. + math.cos(math.pi * (epoch - warmup_epochs) / (epochs - warmup_epochs)))
    for param_group in optimizer.param_groups:
        if "lr_scale" in param_group:
            param_group["lr"] = lr * param_group["lr_scale"]
        else:
            param_group["lr"] = lr
    return lr


def _losses(L):
    torch, nn, F = L, L.nn, L.nn.functional

    class SoftTargetCrossEntropy(nn.Module):
        def forward(self, x, target):
            loss = torch.sum(-target * F.log_softmax(x, dim=-1), dim=-1)
            return loss.mean()

    class LabelSmoothingCrossEntropy(nn.Module):
        def __init__(self, smoothing=0.1):
            super().__init__()
            assert smoothing < 1.0
            self.smoothing, self.confidence = smoothing, 1. - smoothing

        def forward(self, x, target):
            logprobs = F.log_softmax(x, dim=-1)
            nll_loss = -logprobs.gather(dim=-1, index=target.unsqueeze(1))
            nll_loss = nll_loss.squeeze(1)
            smooth_loss = -logprobs.mean(dim=-1)
            loss = self.confidence * nll_loss + self.smoothing * smooth_loss
            return loss.mean()

    def one_hot(x, num_classes, on_value=1., off_value=0.):
        x = x.long().view(-1, 1)
        return torch.full((x.size()[0], num_classes), off_value,
                          device=x.device).scatter_(1, x, on_value)

    def mixup_target(target, num_classes, lam=1., smoothing=0.0):
        off_value = smoothing / num_classes
        on_value = 1. - smoothing + off_value
        y1 = one_hot(target, num_classes, on_value=on_value, off_value=off_value)
        y2 = one_hot(target.flip(0), num_classes, on_value=on_value, off_value=off_value)
        return y1 * lam + y2 * (1. - lam)

    class ModelEmaV2(nn.Module):
        def __init__(self, model, decay=0.9999, device=None):
            super().__init__()
            self.module = copy.deepcopy(model)
            self.module.eval()
            self.decay, self.device = decay, device

        def _update(self, model, update_fn):
            with torch.no_grad():
                for ema_v, model_v in zip(self.module.state_dict().values(),
                                          model.state_dict().values(), strict=True):
                    ema_v.copy_(update_fn(ema_v, model_v))

        def update(self, model):
            self._update(model, update_fn=lambda e, m: self.decay * e + (1. - self.decay) * m)

        def set(self, model):
            self._update(model, update_fn=lambda e, m: m)

    return dict(SoftTargetCrossEntropy=SoftTargetCrossEntropy, mixup_target=mixup_target,
                LabelSmoothingCrossEntropy=LabelSmoothingCrossEntropy, ModelEmaV2=ModelEmaV2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_finetune_recipe_lrd_groups_cosine_accumulation_clip_mixup_ema(dtype):
    tol = _dtype(dtype)
    if dtype == "float32":
        tol = dict(rtol=1e-4, atol=1e-5)   # a few AdamW steps amplify rounding
    x = _images(8, seed=4)
    y = np.random.default_rng(5).integers(0, 10, 8)
    models = _both(lambda L: _timm(L)["VisionTransformer"](init_values=1e-1))
    res = {}
    for L, model in models.items():
        Ls = _losses(L)
        param_groups = param_groups_lrd(model, 0.05, model.no_weight_decay(), 0.75)
        assert sorted(len(g["params"]) for g in param_groups) == \
            sorted(len(g["params"]) for g in param_groups_lrd(models[torch], 0.05,
                                                                ["pos_embed", "cls_token"]))
        optimizer = L.optim.AdamW(param_groups, lr=1e-3, betas=(0.9, 0.95))
        ema = Ls["ModelEmaV2"](model, decay=0.9)
        ema_lerp, ema_v3 = copy.deepcopy(model), copy.deepcopy(model)
        with pytest.warns(FutureWarning):        # deprecated in both, still in MAE's code
            scaler = L.cuda.amp.GradScaler(enabled=False)
        criterion = Ls["SoftTargetCrossEntropy"]()
        accum_iter, steps, res[L] = 2, 8, []
        imgs, target = L.tensor(x), L.tensor(y)
        for it in range(steps):
            if it % accum_iter == 0:
                lr = adjust_learning_rate(optimizer, it / steps * 4, 1e-3, 1e-6, 1, 4)
            lam = 0.7
            samples = imgs * lam + imgs.flip(0) * (1. - lam)
            targets = Ls["mixup_target"](target, 10, lam=lam, smoothing=0.1)
            with L.amp.autocast("cpu", enabled=False):
                outputs = model(samples)
                loss = criterion(outputs, targets)
            loss_value = loss.item()
            assert math.isfinite(loss_value)
            loss = loss / accum_iter
            scaler.scale(loss).backward()
            if (it + 1) % accum_iter == 0:
                scaler.unscale_(optimizer)
                norm = L.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad()
                ema.update(model)
                with L.no_grad():
                    for e, p in zip(ema_lerp.state_dict().values(),
                                    model.state_dict().values(), strict=True):
                        e.lerp_(p, 1. - 0.9)
                    ema_p = [p for p in ema_v3.parameters()]
                    L._foreach_lerp_(ema_p, list(model.parameters()), weight=1. - 0.9)
                res[L] += [norm]
            else:     # MAE's get_grad_norm_ (NativeScaler without clipping)
                res[L] += [L.norm(L.stack([L.norm(p.grad.detach(), 2.0)
                                           for p in model.parameters()]), 2.0)]
            res[L] += [loss, lr] + [g["lr"] for g in optimizer.param_groups]
        ls = Ls["LabelSmoothingCrossEntropy"](0.1)
        out = ema.module(imgs)
        res[L] += [ls(out, target), L.nn.functional.cross_entropy(out, target,
                                                                  label_smoothing=0.1)]
        res[L] += list(model.state_dict().values()) + list(ema.module.state_dict().values())
        res[L] += list(ema_lerp.state_dict().values()) + list(ema_v3.parameters())
    _same(res, tol)


def _mix_batch(torch, x, target, mixup_alpha=0.8, cutmix_alpha=1.0, switch_prob=0.5,
               smoothing=0.1, num_classes=10):
    """timm's Mixup.__call__ in 'batch' mode (timm/data/mixup.py, trimmed): lam from
    np.random.beta (a NumPy float64), CutMix's box by np.random.randint, written into x in
    place; the targets by mixup_target."""
    use_cutmix = np.random.rand() < switch_prob
    lam = np.random.beta(cutmix_alpha, cutmix_alpha) if use_cutmix else \
        np.random.beta(mixup_alpha, mixup_alpha)
    if use_cutmix:
        ratio = np.sqrt(1 - lam)
        img_h, img_w = x.shape[-2:]
        cut_h, cut_w = int(img_h * ratio), int(img_w * ratio)
        cy, cx = np.random.randint(0, img_h), np.random.randint(0, img_w)
        yl, yh = np.clip(cy - cut_h // 2, 0, img_h), np.clip(cy + cut_h // 2, 0, img_h)
        xl, xh = np.clip(cx - cut_w // 2, 0, img_w), np.clip(cx + cut_w // 2, 0, img_w)
        lam = 1. - (yh - yl) * (xh - xl) / float(img_h * img_w)   # correct_lam
        x[:, :, yl:yh, xl:xh] = x.flip(0)[:, :, yl:yh, xl:xh]
    else:
        x_flipped = x.flip(0).mul_(1. - lam)
        x.mul_(lam).add_(x_flipped)
    return x, _losses(torch)["mixup_target"](target, num_classes, lam, smoothing)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_timm_mixup_and_cutmix_in_place_with_numpy_lam(f32, seed):
    x = _images(6, seed=seed)
    y = np.random.default_rng(seed).integers(0, 10, 6)
    res = {}
    for L in LIBS:
        np.random.seed(seed)
        xt = L.tensor(x.copy())
        mixed, target = _mix_batch(L, xt, L.tensor(y))
        assert mixed is xt and mixed.dtype == target.dtype == L.float32
        res[L] = [mixed, target]
    close(res[zeroin][0], res[torch][0], 0)
    close(res[zeroin][1], res[torch][1], rtol=2e-7, atol=1e-7)


def _ra_sampler_indices(torch, n, epoch, num_replicas=2, rank=1, num_repeats=3):
    """DeiT's RASampler.__iter__ (samplers.py): repeated augmentation's indices."""
    num_samples = int(math.ceil(n * num_repeats / num_replicas))
    total_size = num_samples * num_replicas
    num_selected_samples = int(math.floor(n // 256 * 256 / num_replicas))
    g = torch.Generator()
    g.manual_seed(epoch)
    indices = torch.randperm(n, generator=g)
    indices = torch.repeat_interleave(indices, repeats=num_repeats, dim=0).tolist()
    padding_size = total_size - len(indices)
    if padding_size > 0:
        indices += indices[:padding_size]
    indices = indices[rank:total_size:num_replicas]
    assert len(indices) == num_samples
    return indices[:num_selected_samples]


def _random_erasing(torch, img, probability=1., min_area=0.02, max_area=1 / 3,
                    min_aspect=0.3, mode='pixel'):
    """timm's RandomErasing._erase (timm/data/random_erasing.py) on one CHW image."""
    if random.random() > probability:
        return img
    chan, img_h, img_w = img.shape
    area = img_h * img_w
    log_aspect_ratio = (math.log(min_aspect), math.log(1 / min_aspect))
    for _ in range(10):
        target_area = random.uniform(min_area, max_area) * area
        aspect_ratio = math.exp(random.uniform(*log_aspect_ratio))
        h = int(round(math.sqrt(target_area * aspect_ratio)))
        w = int(round(math.sqrt(target_area / aspect_ratio)))
        if w < img_w and h < img_h:
            top = random.randint(0, img_h - h)
            left = random.randint(0, img_w - w)
            patch_size = (chan, h, w) if mode == 'pixel' else (chan, 1, 1)
            img[:, top:top + h, left:left + w] = torch.empty(
                patch_size, dtype=img.dtype, device='cpu').normal_()
            break
    return img


@pytest.mark.parametrize("mode", ["pixel", "rand"])
def test_deit_ra_sampler_and_timm_random_erasing_on_the_torch_stream(f32, mode):
    torch_stream()
    res = {}
    for L in LIBS:
        L.manual_seed(0)
        random.seed(0)
        imgs = [_random_erasing(L, L.zeros(3, 16, 16), mode=mode) for _ in range(4)]
        res[L] = [_ra_sampler_indices(L, 600, epoch) for epoch in (0, 1)] + imgs
        assert all(float((img != 0).float().mean()) > 0 for img in imgs)
    assert res[torch][0] != res[torch][1] and len(res[torch][0]) == 256
    _same(res, {"rtol": 0, "atol": 0})


# --- DeiT -----------------------------------------------------------------------------------

def _deit(L):
    torch, nn, F = L, L.nn, L.nn.functional
    VisionTransformer = _timm(L)["VisionTransformer"]
    init = _timm(L)["_init_weights"]

    class DistilledVisionTransformer(VisionTransformer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.dist_token = nn.Parameter(torch.zeros(1, 1, self.embed_dim))
            num_patches = self.patch_embed.num_patches
            self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 2, self.embed_dim))
            self.head_dist = nn.Linear(self.embed_dim, self.num_classes) \
                if self.num_classes > 0 else nn.Identity()
            nn.init.trunc_normal_(self.dist_token, std=.02)
            nn.init.trunc_normal_(self.pos_embed, std=.02)
            self.head_dist.apply(init)

        def forward_features(self, x):
            B = x.shape[0]
            x = self.patch_embed(x)
            cls_tokens = self.cls_token.expand(B, -1, -1)
            dist_token = self.dist_token.expand(B, -1, -1)
            x = torch.cat((cls_tokens, dist_token, x), dim=1)
            x = x + self.pos_embed
            x = self.pos_drop(x)
            for blk in self.blocks:
                x = blk(x)
            x = self.norm(x)
            return x[:, 0], x[:, 1]

        def forward(self, x):
            x, x_dist = self.forward_features(x)
            x = self.head(x)
            x_dist = self.head_dist(x_dist)
            if self.training:
                return x, x_dist
            return (x + x_dist) / 2

    class DistillationLoss(nn.Module):
        def __init__(self, base_criterion, teacher_model, distillation_type, alpha, tau):
            super().__init__()
            self.base_criterion, self.teacher_model = base_criterion, teacher_model
            self.distillation_type, self.alpha, self.tau = distillation_type, alpha, tau

        def forward(self, inputs, outputs, labels):
            outputs_kd = None
            if not isinstance(outputs, torch.Tensor):
                outputs, outputs_kd = outputs
            base_loss = self.base_criterion(outputs, labels)
            if self.distillation_type == 'none':
                return base_loss
            with torch.no_grad():
                teacher_outputs = self.teacher_model(inputs)
            if self.distillation_type == 'soft':
                T = self.tau
                distillation_loss = F.kl_div(
                    F.log_softmax(outputs_kd / T, dim=1), F.log_softmax(teacher_outputs / T,
                                                                        dim=1),
                    reduction='sum', log_target=True) * (T * T) / outputs_kd.numel()
            else:
                distillation_loss = F.cross_entropy(outputs_kd, teacher_outputs.argmax(dim=1))
            return base_loss * (1 - self.alpha) + distillation_loss * self.alpha

    return DistilledVisionTransformer, DistillationLoss


@pytest.mark.parametrize("kind", ["hard", "soft"])
def test_deit_distillation_token_and_loss(kind):
    _dtype("float64")
    x = _images(6, seed=7)
    y = np.random.default_rng(8).integers(0, 10, 6)
    models = _both(lambda L: _deit(L)[0]())
    teachers = _both(lambda L: L.nn.Sequential(L.nn.Flatten(), L.nn.Linear(768, 10)))
    res = {}
    for L, model in models.items():
        teacher = teachers[L].eval()
        crit = _deit(L)[1](L.nn.CrossEntropyLoss(), teacher, kind, 0.5, 3.0)
        opt = L.optim.AdamW(model.parameters(), lr=1e-3)
        imgs, labels = L.tensor(x), L.tensor(y)
        res[L] = []
        for _ in range(2):
            outputs = model(imgs)
            assert isinstance(outputs, tuple)
            loss = crit(imgs, outputs, labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            res[L] += [loss, outputs[0], outputs[1], model.dist_token.grad]
        assert all(p.grad is None for p in teacher.parameters())
        model.eval()
        res[L] += [model(imgs)]
    _same(res, F64)


def interpolate_pos_embed(model, checkpoint_model, torch):
    """MAE's util/pos_embed.py: the checkpoint's pos_embed resized to the model's grid
    (``torch``, the module-level import there, passed in here)."""
    if 'pos_embed' in checkpoint_model:
        pos_embed_checkpoint = checkpoint_model['pos_embed']
        embedding_size = pos_embed_checkpoint.shape[-1]
        num_patches = model.patch_embed.num_patches
        num_extra_tokens = model.pos_embed.shape[-2] - num_patches
        orig_size = int((pos_embed_checkpoint.shape[-2] - num_extra_tokens) ** 0.5)
        new_size = int(num_patches ** 0.5)
        if orig_size != new_size:
            extra_tokens = pos_embed_checkpoint[:, :num_extra_tokens]
            pos_tokens = pos_embed_checkpoint[:, num_extra_tokens:]
            pos_tokens = pos_tokens.reshape(-1, orig_size, orig_size,
                                            embedding_size).permute(0, 3, 1, 2)
            pos_tokens = torch.nn.functional.interpolate(
                pos_tokens, size=(new_size, new_size), mode='bicubic', align_corners=False)
            pos_tokens = pos_tokens.permute(0, 2, 3, 1).flatten(1, 2)
            checkpoint_model['pos_embed'] = torch.cat((extra_tokens, pos_tokens), dim=1)


def test_mae_checkpoint_to_finetune_and_linear_probe(tmp_path):
    """main_finetune.py / main_linprobe.py: save the pre-trained MAE, load it with
    ``strict=False`` into a ViT for 24x24 images (pos_embed resized), re-initialise the
    head, and the linear probe's frozen encoder with a BatchNorm head."""
    _dtype("float64")
    torch_stream()
    x = np.random.default_rng(9).standard_normal((4, 3, 24, 24))
    y = np.array([1, 0, 3, 2])
    mae = _both(lambda L: _mae(L)())
    res = {}
    for L, m in mae.items():
        path = str(tmp_path / f"{L.__name__}-checkpoint.pth")
        optimizer = L.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.9, 0.95))
        args = argparse.Namespace(model='mae_vit_tiny', mask_ratio=0.75, input_size=16)
        # misc.save_model: the run's args too (PyTorch: weights_only=False to load them)
        to_save = {'model': m.state_dict(), 'optimizer': optimizer.state_dict(), 'epoch': 3,
                   'scaler': L.amp.GradScaler(enabled=False).state_dict(), 'args': args}
        L.save(to_save, path)
        checkpoint = L.load(path, map_location='cpu', weights_only=False)
        assert checkpoint['args'] == args and checkpoint['scaler'] == {}
        optimizer.load_state_dict(checkpoint['optimizer'])
        L.manual_seed(1)
        model = _timm(L)["VisionTransformer"](img_size=24, global_pool='avg')
        checkpoint_model = checkpoint['model']
        state_dict = model.state_dict()
        for k in ['head.weight', 'head.bias']:
            if k in checkpoint_model and checkpoint_model[k].shape != state_dict[k].shape:
                del checkpoint_model[k]
        interpolate_pos_embed(model, checkpoint_model, L)
        msg = model.load_state_dict(checkpoint_model, strict=False)
        assert set(msg.missing_keys) == {'head.weight', 'head.bias'}
        assert checkpoint['epoch'] == 3 and len(msg.unexpected_keys) > 10
        L.nn.init.trunc_normal_(model.head.weight, std=2e-5)
        out = model(L.tensor(x))
        model.head = L.nn.Sequential(
            L.nn.BatchNorm1d(model.head.in_features, affine=False, eps=1e-6), model.head)
        for _, p in model.named_parameters():
            p.requires_grad = False
        for _, p in model.head.named_parameters():
            p.requires_grad = True
        opt = L.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
        loss = L.nn.functional.cross_entropy(model(L.tensor(x)), L.tensor(y))
        loss.backward()
        opt.step()
        assert model.blocks[0].attn.qkv.weight.grad is None
        res[L] = [sorted(msg.unexpected_keys) == sorted(mae[torch].state_dict().keys() -
                                                        model.state_dict().keys()),
                  model.pos_embed, out, loss, model.head[1].weight,
                  model.head[0].running_mean]
    assert res[zeroin][0] and res[torch][0]
    _same(res, F64)
