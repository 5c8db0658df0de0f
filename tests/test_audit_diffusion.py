"""Audit against the denoising-diffusion models a practitioner trains first: dome272's
Diffusion-Models-pytorch (modules.py's UNet with DoubleConv / GroupNorm / GELU,
SelfAttention through nn.MultiheadAttention and LayerNorm, the sinusoidal time encoding,
bilinear ``nn.Upsample(align_corners=True)``, the EMA class; ddpm_conditional.py's linear
schedule, noise_images, training step and classifier-free-guided sampling with
``torch.lerp``) and lucidrains' denoising-diffusion-pytorch (the Unet's ResnetBlock with
weight-standardised convs, RMSNorm via ``F.normalize``, linear attention with einsum, full
attention, the cosine schedule, ``extract`` via ``gather``, p_losses with l1 / l2, DDPM and
DDIM sampling). Shrunk to 16x16 one-channel images with two resolutions; written once and
run with ``torch`` and with ``zeroin`` on the same weights (copied from torch's model) and the
same noise (NumPy's, or the recipe's own ``randn_like`` on zeroin's torch stream): float64
to ~1e-10, float32 to float resolution. See docs/diffusion.md."""
import copy
import math
from functools import partial

import numpy as np
import pytest

import zeroin
import zeroin.nn as znn
from zeroin.nn import functional as ZF
from _audit import close, copy_weights, np_of, torch_stream

torch = pytest.importorskip("torch")
LIBS = {"torch": (torch, torch.nn, torch.nn.functional), "zeroin": (zeroin, znn, ZF)}
F64 = dict(rtol=1e-10, atol=1e-11)
F32 = dict(rtol=2e-5, atol=2e-6)


@pytest.fixture(autouse=True)
def _restore():
    yield
    torch.set_default_dtype(torch.float32)
    zeroin.random.use_torch_stream(False)


def _close(z, t, tol):
    """``close`` with float32's absolute tolerance scaled by the largest value: a gradient
    summed over a batch of 16x16 images cancels to well below its size."""
    if tol is F32:
        tol = dict(rtol=tol["rtol"], atol=tol["atol"] * max(1.0, np.abs(np_of(t)).max()) * 5)
    close(z, t, **tol)


def _dtype(name):
    torch.set_default_dtype(getattr(torch, name))
    zeroin.set_default_dtype(getattr(zeroin, name))
    return F64 if name == "float64" else F32


# --- dome272/Diffusion-Models-pytorch, modules.py (channels 16 / 32, one Down and one Up) ----

def _dome_unet(torch, nn, F):
    class SelfAttention(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.channels = channels
            self.mha = nn.MultiheadAttention(channels, 4, batch_first=True)
            self.ln = nn.LayerNorm([channels])
            self.ff_self = nn.Sequential(nn.LayerNorm([channels]), nn.Linear(channels, channels),
                                         nn.GELU(), nn.Linear(channels, channels))

        def forward(self, x):
            size = x.shape[-1]
            x = x.view(-1, self.channels, size * size).swapaxes(1, 2)
            x_ln = self.ln(x)
            attention_value, _ = self.mha(x_ln, x_ln, x_ln)
            attention_value = attention_value + x
            attention_value = self.ff_self(attention_value) + attention_value
            return attention_value.swapaxes(2, 1).view(-1, self.channels, size, size)

    class DoubleConv(nn.Module):
        def __init__(self, in_channels, out_channels, mid_channels=None, residual=False):
            super().__init__()
            self.residual = residual
            mid_channels = mid_channels or out_channels
            self.double_conv = nn.Sequential(
                nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1, bias=False),
                nn.GroupNorm(1, mid_channels), nn.GELU(),
                nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False),
                nn.GroupNorm(1, out_channels))

        def forward(self, x):
            if self.residual:
                return F.gelu(x + self.double_conv(x))
            return self.double_conv(x)

    class Down(nn.Module):
        def __init__(self, in_channels, out_channels, emb_dim):
            super().__init__()
            self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2),
                                              DoubleConv(in_channels, in_channels, residual=True),
                                              DoubleConv(in_channels, out_channels))
            self.emb_layer = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, out_channels))

        def forward(self, x, t):
            x = self.maxpool_conv(x)
            emb = self.emb_layer(t)[:, :, None, None].repeat(1, 1, x.shape[-2], x.shape[-1])
            return x + emb

    class Up(nn.Module):
        def __init__(self, in_channels, out_channels, emb_dim):
            super().__init__()
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = nn.Sequential(DoubleConv(in_channels, in_channels, residual=True),
                                      DoubleConv(in_channels, out_channels, in_channels // 2))
            self.emb_layer = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, out_channels))

        def forward(self, x, skip_x, t):
            x = self.up(x)
            x = torch.cat([skip_x, x], dim=1)
            x = self.conv(x)
            emb = self.emb_layer(t)[:, :, None, None].repeat(1, 1, x.shape[-2], x.shape[-1])
            return x + emb

    class UNet(nn.Module):
        def __init__(self, c_in=1, c_out=1, time_dim=32, num_classes=None):
            super().__init__()
            self.time_dim = time_dim
            self.inc = DoubleConv(c_in, 16)
            self.down1 = Down(16, 32, time_dim)
            self.sa1 = SelfAttention(32)
            self.bot1 = DoubleConv(32, 32)
            self.up1 = Up(48, 16, time_dim)
            self.outc = nn.Conv2d(16, c_out, kernel_size=1)
            if num_classes is not None:
                self.label_emb = nn.Embedding(num_classes, time_dim)

        def pos_encoding(self, t, channels):
            inv_freq = 1.0 / (10000 ** (torch.arange(0, channels, 2).float() / channels))
            pos_enc_a = torch.sin(t.repeat(1, channels // 2) * inv_freq)
            pos_enc_b = torch.cos(t.repeat(1, channels // 2) * inv_freq)
            return torch.cat([pos_enc_a, pos_enc_b], dim=-1)

        def forward(self, x, t, y=None):
            # the repo's .type(torch.float), as x's dtype so that float64 runs too
            t = t.unsqueeze(-1).type(x.dtype)
            t = self.pos_encoding(t, self.time_dim)
            if y is not None:
                t += self.label_emb(y)
            x1 = self.inc(x)
            x2 = self.sa1(self.down1(x1, t))
            x = self.bot1(x2)
            x = self.up1(x, x1, t)
            return self.outc(x)
    return UNet


class _EMA:
    """modules.py's EMA: ``.data`` assignment, and load_state_dict before step_start_ema."""
    def __init__(self, beta):
        self.beta, self.step = beta, 0

    def update_model_average(self, ma_model, current_model):
        for current_params, ma_params in zip(current_model.parameters(), ma_model.parameters()):
            old_weight, up_weight = ma_params.data, current_params.data
            ma_params.data = old_weight * self.beta + (1 - self.beta) * up_weight

    def step_ema(self, ema_model, model, step_start_ema=1):
        if self.step < step_start_ema:
            ema_model.load_state_dict(model.state_dict())
        else:
            self.update_model_average(ema_model, model)
        self.step += 1


def _dome_schedule(torch, noise_steps=1000, beta_start=1e-4, beta_end=0.02):
    beta = torch.linspace(beta_start, beta_end, noise_steps)
    alpha = 1. - beta
    return beta, alpha, torch.cumprod(alpha, dim=0)


def _noise_images(torch, alpha_hat, x, t, randn_like):
    sqrt_alpha_hat = torch.sqrt(alpha_hat[t])[:, None, None, None]
    sqrt_one_minus_alpha_hat = torch.sqrt(1 - alpha_hat[t])[:, None, None, None]
    eps = randn_like(x)
    return sqrt_alpha_hat * x + sqrt_one_minus_alpha_hat * eps, eps


# --- lucidrains/denoising-diffusion-pytorch (dim 8, dim_mults (1, 2), 4 groups) -------------

def _luci_blocks(torch, nn, F):
    class RMSNorm(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.scale = dim ** 0.5
            self.g = nn.Parameter(torch.ones(1, dim, 1, 1))

        def forward(self, x):
            return F.normalize(x, dim=1) * self.g * self.scale

    class WeightStandardizedConv2d(nn.Conv2d):
        def forward(self, x):
            eps = 1e-5 if x.dtype == torch.float32 else 1e-3
            weight = self.weight
            mean = weight.mean(dim=(1, 2, 3), keepdim=True)      # reduce 'o ... -> o 1 1 1'
            var = torch.var(weight, dim=(1, 2, 3), unbiased=False, keepdim=True)
            normalized_weight = (weight - mean) * (var + eps).rsqrt()
            return F.conv2d(x, normalized_weight, self.bias, self.stride, self.padding,
                            self.dilation, self.groups)

    class SinusoidalPosEmb(nn.Module):
        def __init__(self, dim, theta=10000):
            super().__init__()
            self.dim, self.theta = dim, theta

        def forward(self, x):
            half_dim = self.dim // 2
            emb = math.log(self.theta) / (half_dim - 1)
            emb = torch.exp(torch.arange(half_dim, device=x.device) * -emb)
            emb = x[:, None] * emb[None, :]
            return torch.cat((emb.sin(), emb.cos()), dim=-1)

    class Block(nn.Module):
        def __init__(self, dim, dim_out, groups):
            super().__init__()
            self.proj = WeightStandardizedConv2d(dim, dim_out, 3, padding=1)
            self.norm = nn.GroupNorm(groups, dim_out)
            self.act = nn.SiLU()

        def forward(self, x, scale_shift=None):
            x = self.norm(self.proj(x))
            if scale_shift is not None:
                scale, shift = scale_shift
                x = x * (scale + 1) + shift
            return self.act(x)

    class ResnetBlock(nn.Module):
        def __init__(self, dim, dim_out, *, time_emb_dim, groups):
            super().__init__()
            self.mlp = nn.Sequential(nn.SiLU(), nn.Linear(time_emb_dim, dim_out * 2))
            self.block1 = Block(dim, dim_out, groups)
            self.block2 = Block(dim_out, dim_out, groups)
            self.res_conv = nn.Conv2d(dim, dim_out, 1) if dim != dim_out else nn.Identity()

        def forward(self, x, time_emb):
            time_emb = self.mlp(time_emb)
            time_emb = time_emb.view(*time_emb.shape, 1, 1)      # 'b c -> b c 1 1'
            h = self.block1(x, scale_shift=time_emb.chunk(2, dim=1))
            return self.block2(h) + self.res_conv(x)
    return RMSNorm, SinusoidalPosEmb, ResnetBlock


def _luci_attention(torch, nn, F, RMSNorm):
    class LinearAttention(nn.Module):
        def __init__(self, dim, heads=2, dim_head=8):
            super().__init__()
            self.scale, self.heads = dim_head ** -0.5, heads
            hidden_dim = dim_head * heads
            self.norm = RMSNorm(dim)
            self.to_qkv = nn.Conv2d(dim, hidden_dim * 3, 1, bias=False)
            self.to_out = nn.Sequential(nn.Conv2d(hidden_dim, dim, 1), RMSNorm(dim))

        def forward(self, x):
            b, c, h, w = x.shape
            qkv = self.to_qkv(self.norm(x)).chunk(3, dim=1)
            # rearrange 'b (h c) x y -> b h c (x y)'
            q, k, v = map(lambda t: t.reshape(b, self.heads, -1, h * w), qkv)
            q = q.softmax(dim=-2) * self.scale
            k = k.softmax(dim=-1)
            context = torch.einsum("b h d n, b h e n -> b h d e", k, v)
            out = torch.einsum("b h d e, b h d n -> b h e n", context, q)
            return self.to_out(out.reshape(b, -1, h, w))

    class Attention(nn.Module):
        def __init__(self, dim, heads=2, dim_head=8):
            super().__init__()
            self.heads = heads
            self.norm = RMSNorm(dim)
            self.to_qkv = nn.Conv2d(dim, dim_head * heads * 3, 1, bias=False)
            self.to_out = nn.Conv2d(dim_head * heads, dim, 1)

        def forward(self, x):
            b, c, h, w = x.shape
            qkv = self.to_qkv(self.norm(x)).chunk(3, dim=1)
            # rearrange 'b (h d) x y -> b h (x y) d'
            q, k, v = map(lambda t: t.view(b, self.heads, -1, h * w).permute(0, 1, 3, 2), qkv)
            out = F.scaled_dot_product_attention(q, k, v)
            return self.to_out(out.permute(0, 1, 3, 2).reshape(b, -1, h, w))
    return LinearAttention, Attention


def _luci_unet(torch, nn, F):
    RMSNorm, SinusoidalPosEmb, ResnetBlock = _luci_blocks(torch, nn, F)
    LinearAttention, Attention = _luci_attention(torch, nn, F, RMSNorm)

    class Unet(nn.Module):
        def __init__(self, dim=8, channels=1, dim_mults=(1, 2), groups=4):
            super().__init__()
            self.channels = channels
            self.init_conv = nn.Conv2d(channels, dim, 7, padding=3)
            dims = [dim, *map(lambda m: dim * m, dim_mults)]
            in_out = list(zip(dims[:-1], dims[1:]))
            time_dim = dim * 4
            self.time_mlp = nn.Sequential(SinusoidalPosEmb(dim), nn.Linear(dim, time_dim),
                                          nn.GELU(), nn.Linear(time_dim, time_dim))
            block = partial(ResnetBlock, time_emb_dim=time_dim, groups=groups)
            self.downs, self.ups = nn.ModuleList([]), nn.ModuleList([])
            for ind, (dim_in, dim_out) in enumerate(in_out):
                last = ind >= len(in_out) - 1
                self.downs.append(nn.ModuleList([
                    block(dim_in, dim_in), block(dim_in, dim_in), LinearAttention(dim_in),
                    nn.Conv2d(dim_in, dim_out, 3, padding=1) if last
                    else nn.Conv2d(dim_in, dim_out, 4, 2, 1)]))
            self.mid_block1 = block(dims[-1], dims[-1])
            self.mid_attn = Attention(dims[-1])
            self.mid_block2 = block(dims[-1], dims[-1])
            for ind, (dim_in, dim_out) in enumerate(reversed(in_out)):
                last = ind == len(in_out) - 1
                self.ups.append(nn.ModuleList([
                    block(dim_out + dim_in, dim_out), block(dim_out + dim_in, dim_out),
                    LinearAttention(dim_out),
                    nn.Conv2d(dim_out, dim_in, 3, padding=1) if last
                    else nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                       nn.Conv2d(dim_out, dim_in, 3, padding=1))]))
            self.final_res_block = block(dim * 2, dim)
            self.final_conv = nn.Conv2d(dim, channels, 1)

        def forward(self, x, time):
            x = self.init_conv(x)
            r = x.clone()
            t = self.time_mlp(time)
            h = []
            for block1, block2, attn, downsample in self.downs:
                x = block1(x, t)
                h.append(x)
                x = block2(x, t)
                x = attn(x) + x
                h.append(x)
                x = downsample(x)
            x = self.mid_block1(x, t)
            x = self.mid_attn(x) + x
            x = self.mid_block2(x, t)
            for block1, block2, attn, upsample in self.ups:
                x = block1(torch.cat((x, h.pop()), dim=1), t)
                x = block2(torch.cat((x, h.pop()), dim=1), t)
                x = attn(x) + x
                x = upsample(x)
            x = self.final_res_block(torch.cat((x, r), dim=1), t)
            return self.final_conv(x)
    return Unet


def _extract(a, t, x_shape):
    b, *_ = t.shape
    out = a.gather(-1, t)
    return out.reshape(b, *((1,) * (len(x_shape) - 1)))


def _linear_beta_schedule(torch, timesteps):
    scale = 1000 / timesteps
    return torch.linspace(scale * 0.0001, scale * 0.02, timesteps, dtype=torch.float64)


def _cosine_beta_schedule(torch, timesteps, s=0.008):
    x = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64)
    alphas_cumprod = torch.cos(((x / timesteps) + s) / (1 + s) * math.pi * 0.5) ** 2
    alphas_cumprod = alphas_cumprod / alphas_cumprod[0]
    betas = 1 - (alphas_cumprod[1:] / alphas_cumprod[:-1])
    return torch.clip(betas, 0, 0.999)


def _gaussian_diffusion(torch, nn, F):
    class GaussianDiffusion(nn.Module):
        """GaussianDiffusion's buffers and loops (pred_noise); ``randn_like`` is the recipe's
        ``torch.randn_like`` unless a test passes NumPy's noise in."""
        def __init__(self, model, timesteps=1000, beta_schedule="cosine", loss_type="l1",
                     p2_loss_weight_gamma=0.5, sampling_timesteps=None, eta=1.,
                     buffer_dtype=torch.float32):
            super().__init__()
            self.model, self.loss_type, self.eta = model, loss_type, eta
            self.randn_like = torch.randn_like
            betas = (_linear_beta_schedule if beta_schedule == "linear"
                     else _cosine_beta_schedule)(torch, timesteps)
            alphas = 1. - betas
            alphas_cumprod = torch.cumprod(alphas, dim=0)
            alphas_cumprod_prev = F.pad(alphas_cumprod[:-1], (1, 0), value=1.)
            self.num_timesteps = int(betas.shape[0])
            self.sampling_timesteps = sampling_timesteps or timesteps
            reg = lambda name, val: self.register_buffer(name, val.to(buffer_dtype))  # noqa
            reg("betas", betas)
            reg("alphas_cumprod", alphas_cumprod)
            reg("alphas_cumprod_prev", alphas_cumprod_prev)
            reg("sqrt_alphas_cumprod", torch.sqrt(alphas_cumprod))
            reg("sqrt_one_minus_alphas_cumprod", torch.sqrt(1. - alphas_cumprod))
            reg("log_one_minus_alphas_cumprod", torch.log(1. - alphas_cumprod))
            reg("sqrt_recip_alphas_cumprod", torch.sqrt(1. / alphas_cumprod))
            reg("sqrt_recipm1_alphas_cumprod", torch.sqrt(1. / alphas_cumprod - 1))
            posterior_variance = betas * (1. - alphas_cumprod_prev) / (1. - alphas_cumprod)
            reg("posterior_variance", posterior_variance)
            reg("posterior_log_variance_clipped",
                torch.log(posterior_variance.clamp(min=1e-20)))
            reg("posterior_mean_coef1",
                betas * torch.sqrt(alphas_cumprod_prev) / (1. - alphas_cumprod))
            reg("posterior_mean_coef2",
                (1. - alphas_cumprod_prev) * torch.sqrt(alphas) / (1. - alphas_cumprod))
            reg("p2_loss_weight", (1 + alphas_cumprod / (1 - alphas_cumprod))
                ** -p2_loss_weight_gamma)

        def q_sample(self, x_start, t, noise):
            return (_extract(self.sqrt_alphas_cumprod, t, x_start.shape) * x_start +
                    _extract(self.sqrt_one_minus_alphas_cumprod, t, x_start.shape) * noise)

        def p_losses(self, x_start, t, noise):
            x = self.q_sample(x_start=x_start, t=t, noise=noise)
            model_out = self.model(x, t)
            loss_fn = F.l1_loss if self.loss_type == "l1" else F.mse_loss
            loss = loss_fn(model_out, noise, reduction="none")
            loss = loss.reshape(loss.shape[0], -1).mean(-1)     # reduce 'b ... -> b', 'mean'
            loss = loss * _extract(self.p2_loss_weight, t, loss.shape)
            return loss.mean()

        def model_predictions(self, x, t):
            pred_noise = self.model(x, t)
            x_start = (_extract(self.sqrt_recip_alphas_cumprod, t, x.shape) * x -
                       _extract(self.sqrt_recipm1_alphas_cumprod, t, x.shape) * pred_noise)
            return pred_noise, torch.clamp(x_start, min=-1., max=1.)

        @torch.no_grad()
        def p_sample(self, x, t: int):
            batched_times = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
            _, x_start = self.model_predictions(x, batched_times)
            x_start.clamp_(-1., 1.)
            model_mean = (_extract(self.posterior_mean_coef1, batched_times, x.shape) * x_start
                          + _extract(self.posterior_mean_coef2, batched_times, x.shape) * x)
            log_var = _extract(self.posterior_log_variance_clipped, batched_times, x.shape)
            noise = self.randn_like(x) if t > 0 else 0.
            return model_mean + (0.5 * log_var).exp() * noise, x_start

        @torch.no_grad()
        def ddim_sample(self, img):
            times = torch.linspace(-1, self.num_timesteps - 1, steps=self.sampling_timesteps + 1)
            times = list(reversed(times.int().tolist()))
            for time, time_next in zip(times[:-1], times[1:]):
                time_cond = torch.full((img.shape[0],), time, device=img.device,
                                       dtype=torch.long)
                pred_noise, x_start = self.model_predictions(img, time_cond)
                if time_next < 0:
                    img = x_start
                    continue
                alpha = self.alphas_cumprod[time]
                alpha_next = self.alphas_cumprod[time_next]
                sigma = self.eta * ((1 - alpha / alpha_next) * (1 - alpha_next)
                                    / (1 - alpha)).sqrt()
                c = (1 - alpha_next - sigma ** 2).sqrt()
                img = x_start * alpha_next.sqrt() + c * pred_noise + sigma * self.randn_like(img)
            return (img + 1) * 0.5                           # unnormalize_to_zero_to_one
    return GaussianDiffusion


def _numpy_noise(lib, draws):
    """A ``randn_like`` that hands out NumPy's draws in order, the same in both libraries."""
    it = iter(draws)
    return lambda x: lib.tensor(next(it).astype(np_of(x).dtype))


# --- the schedules and the forward process ----------------------------------------------------

def test_schedules_are_torchs_bit_for_bit():
    """dome272's float32 ``linspace`` + ``cumprod`` over 1000 steps and lucidrains' float64
    linear and cosine schedules, registered as float32 buffers: the same numbers as torch's
    (the float32 cumprod was 10 ulps off before zeroin accumulated it in double as PyTorch's
    CPU kernel does)."""
    _dtype("float32")
    for zt, tt in zip(_dome_schedule(zeroin), _dome_schedule(torch)):
        assert zt.dtype == zeroin.float32
        np.testing.assert_array_equal(np_of(zt), np_of(tt))
    for schedule in ("linear", "cosine"):
        bufs = {}
        for name, (lib, nn, F) in LIBS.items():
            gd = _gaussian_diffusion(lib, nn, F)(nn.Identity(), timesteps=1000,
                                                 beta_schedule=schedule)
            bufs[name] = gd.state_dict()
        assert list(bufs["zeroin"]) == list(bufs["torch"]) and len(bufs["torch"]) == 13
        for key, tv in bufs["torch"].items():
            zv = bufs["zeroin"][key]
            assert zv.dtype == zeroin.float32 and tuple(zv.shape) == (1000,), key
            np.testing.assert_array_equal(np_of(zv), np_of(tv), err_msg=f"{schedule} {key}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_noising_and_losses(dtype):
    """noise_images (``alpha_hat[t]`` indexing), q_sample (``extract`` via ``gather``) and
    p_losses' l1 / l2 ``reduction='none'`` with the p2 weights, on NumPy's noise."""
    tol = _dtype(dtype)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (4, 1, 16, 16)).astype(dtype)
    noise = rng.standard_normal(x.shape).astype(dtype)
    t = np.array([0, 17, 500, 999])
    out = {}
    for name, (lib, nn, F) in LIBS.items():
        _, _, alpha_hat = _dome_schedule(lib)
        x_t, eps = _noise_images(lib, alpha_hat, lib.tensor(x), lib.tensor(t),
                                 _numpy_noise(lib, [noise]))
        gd = _gaussian_diffusion(lib, nn, F)(lambda x, t: x * 0.5, loss_type="l1")
        q = gd.q_sample(lib.tensor(x), lib.tensor(t), lib.tensor(noise))
        l1 = gd.p_losses(lib.tensor(x), lib.tensor(t), lib.tensor(noise))
        gd.loss_type = "l2"
        l2 = gd.p_losses(lib.tensor(x), lib.tensor(t), lib.tensor(noise))
        out[name] = (x_t, eps, q, l1, l2)
    for z, tt in zip(out["zeroin"], out["torch"]):
        assert z.dtype == getattr(zeroin, dtype) and tuple(z.shape) == tuple(tt.shape)
        close(z, tt, **tol)
    np.testing.assert_array_equal(np_of(out["zeroin"][1]), noise)
    assert out["zeroin"][3].item() != out["zeroin"][4].item()


# --- the UNets ----------------------------------------------------------------------------------

def _pair(maker, **kw):
    torch.manual_seed(0)
    tm = maker(*LIBS["torch"])(**kw)
    return tm, copy_weights(tm, maker(*LIBS["zeroin"])(**kw))


def _grads_close(zm, tm, tol):
    tg = dict(tm.named_parameters())
    names = [n for n, _ in zm.named_parameters()]
    assert names == list(tg)
    for n, p in zm.named_parameters():
        assert p.grad is not None and p.grad.dtype == p.dtype, n
        _close(p.grad, tg[n].grad, tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("which", ["dome272", "lucidrains"])
def test_unet_output_and_gradients(which, dtype):
    """Both UNets on 16x16 one-channel images: the output, every parameter's gradient and
    the input's, for the same weights and inputs (float64 to ~1e-10)."""
    tol = _dtype(dtype)
    tm, zm = _pair(_dome_unet if which == "dome272" else _luci_unet)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 1, 16, 16)).astype(dtype)
    t = np.array([1, 250, 999])
    w = rng.standard_normal((3, 1, 16, 16)).astype(dtype)
    outs = {}
    for name, m in (("torch", tm), ("zeroin", zm)):
        lib = LIBS[name][0]
        xi = lib.tensor(x, requires_grad=True)
        out = m(xi, lib.tensor(t))
        (out * lib.tensor(w)).sum().backward()
        outs[name] = (out, xi.grad)
    assert outs["zeroin"][0].dtype == getattr(zeroin, dtype)
    for z, tt in zip(outs["zeroin"], outs["torch"]):
        _close(z, tt, tol)      # float32: to the largest value's scale, as the gradients (the
    _grads_close(zm, tm, tol)   # convolutions' sums round as the BLAS in use does)


def test_unet_gradients_against_finite_differences():
    """lucidrains' Unet (weight standardisation, RMSNorm, both attentions, GroupNorm)
    through zeroin.gradcheck in float64: the input, a weight-standardised conv's weight and
    the full attention's RMSNorm gain."""
    _dtype("float64")
    torch.manual_seed(0)
    m = _luci_unet(*LIBS["zeroin"])(dim=4, groups=2)
    rng = np.random.default_rng(2)
    x = zeroin.tensor(rng.standard_normal((1, 1, 4, 4)), requires_grad=True)
    t = zeroin.tensor([7])
    names = ("downs.0.0.block1.proj.weight", "mid_attn.norm.g")
    params = dict(m.named_parameters())
    ws = [(params[n].detach() * (1 + 0.1 * rng.standard_normal(tuple(params[n].shape))))
          .requires_grad_() for n in names]

    def f(x, *ws):
        return zeroin.func.functional_call(m, dict(zip(names, ws)), (x, t))
    assert zeroin.gradcheck(f, (x, *ws))


# --- training ---------------------------------------------------------------------------------

def _train_dome(lib, nn, F, model, batches, steps_per_epoch=3):
    """ddpm_conditional.py's one_epoch: AdamW + OneCycleLR, MSE on the noise, labels dropped
    (None) for classifier-free guidance, clip_grad_norm_, modules.py's EMA on a deepcopy."""
    _, _, alpha_hat = _dome_schedule(lib, noise_steps=50)
    ema_model = copy.deepcopy(model).eval().requires_grad_(False)
    ema = _EMA(0.9)
    optimizer = lib.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.001)
    scheduler = lib.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, epochs=1,
                                                  steps_per_epoch=steps_per_epoch)
    mse = nn.MSELoss()
    losses = []
    for images, labels, t, noise, drop in batches:
        images, labels, t = lib.tensor(images), lib.tensor(labels), lib.tensor(t)
        x_t, noise = _noise_images(lib, alpha_hat, images, t, _numpy_noise(lib, [noise]))
        predicted_noise = model(x_t, t, None if drop else labels)
        loss = mse(noise, predicted_noise)
        optimizer.zero_grad()
        loss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if scheduler.last_epoch < steps_per_epoch:
            scheduler.step()
        ema.step_ema(ema_model, model)
        losses.append((loss.item(), norm.item()))
    return losses, ema_model


def _train_luci(lib, nn, F, model, batches):
    """lucidrains' Trainer: Adam(betas=(0.9, 0.99)), p_losses (l1, p2 weights), and an EMA
    kept by ``lerp_`` under ``torch.no_grad()`` (ema_pytorch's update) on a deepcopy, then the
    ``mul_().add_()`` form of the same update."""
    diffusion = _gaussian_diffusion(lib, nn, F)(model, timesteps=50)
    ema_model = copy.deepcopy(model)
    ema_model.requires_grad_(False)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
    losses = []
    for i, (images, _, t, noise, _) in enumerate(batches):
        loss = diffusion.p_losses(lib.tensor(images) * 2 - 1, lib.tensor(t), lib.tensor(noise))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        with lib.no_grad():
            for ema_p, p in zip(ema_model.parameters(), model.parameters()):
                if i % 2:
                    ema_p.mul_(0.9).add_(p, alpha=0.1)
                else:
                    ema_p.lerp_(p, 1 - 0.9)
        losses.append(loss.item())
    return losses, ema_model


def _batches(dtype, n=3):
    rng = np.random.default_rng(3)
    return [(rng.uniform(-1, 1, (4, 1, 16, 16)).astype(dtype), rng.integers(0, 3, 4),
             rng.integers(1, 50, 4), rng.standard_normal((4, 1, 16, 16)).astype(dtype),
             i == 1) for i in range(n)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("which", ["dome272", "lucidrains"])
def test_training_steps_and_ema(which, dtype):
    """Three training steps: losses, gradient norms, the weights and the EMA weights as
    torch's (float64 to ~1e-10; float32 to float resolution of the Adam updates, which
    divide tiny gradients by their own size)."""
    tol = _dtype(dtype)
    batches = _batches(dtype)
    if which == "dome272":
        tm, zm = _pair(_dome_unet, num_classes=3)
        train = _train_dome
    else:
        tm, zm = _pair(_luci_unet)
        train = _train_luci
    tl, te = train(*LIBS["torch"], tm, batches)
    zl, ze = train(*LIBS["zeroin"], zm, batches)
    np.testing.assert_allclose(zl, tl, **(tol if tol is F64 else dict(rtol=1e-4, atol=1e-6)))
    wtol = tol if tol is F64 else dict(rtol=1e-3, atol=2e-5)
    for zmod, tmod in ((zm, tm), (ze, te)):
        tp = dict(tmod.named_parameters())
        for n, p in zmod.named_parameters():
            close(p, tp[n], **wtol)
    assert all(not p.requires_grad for p in ze.parameters())
    assert all(p.requires_grad for p in zm.parameters())
    if which == "dome272":
        assert not ze.training and zm.training
        # after step_start_ema the EMA is a real average: between the start and the weights
        assert not np.allclose(np_of(ze.outc.weight), np_of(zm.outc.weight))


# --- sampling ---------------------------------------------------------------------------------

def _sample_dome(lib, model, x, steps, labels, randn_like, cfg_scale=3, noise_steps=50):
    """ddpm_conditional.py's sample: the DDPM update with classifier-free guidance by
    ``torch.lerp``, under ``torch.inference_mode()``, then ``clamp`` and ``uint8``."""
    beta_all, alpha_all, alpha_hat_all = _dome_schedule(lib, noise_steps=noise_steps)
    n = x.shape[0]
    model.eval()
    with lib.inference_mode():
        for i in steps:
            t = (lib.ones(n) * i).long()
            predicted_noise = model(x, t, labels)
            if cfg_scale > 0:
                uncond_predicted_noise = model(x, t, None)
                predicted_noise = lib.lerp(uncond_predicted_noise, predicted_noise, cfg_scale)
            alpha = alpha_all[t][:, None, None, None]
            alpha_hat = alpha_hat_all[t][:, None, None, None]
            beta = beta_all[t][:, None, None, None]
            noise = randn_like(x) if i > 1 else lib.zeros_like(x)
            x = 1 / lib.sqrt(alpha) * (x - ((1 - alpha) / (lib.sqrt(1 - alpha_hat)))
                                       * predicted_noise) + lib.sqrt(beta) * noise
    img = (x.clamp(-1, 1) + 1) / 2
    return x, (img * 255).type(lib.uint8)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dome_sampling_with_guidance(dtype):
    """Three guided DDPM steps (t = 3, 2, 1: the last without noise) from the same x_T and
    noise: x as torch's, and the uint8 images equal (in float64; in float32 a value on a
    rounding boundary could differ by one level, at most)."""
    tol = _dtype(dtype)
    tm, zm = _pair(_dome_unet, num_classes=3)
    rng = np.random.default_rng(4)
    x_T = rng.standard_normal((2, 1, 16, 16)).astype(dtype)
    draws = [rng.standard_normal(x_T.shape).astype(dtype) for _ in range(2)]
    out = {}
    for name, m in (("torch", tm), ("zeroin", zm)):
        lib = LIBS[name][0]
        out[name] = _sample_dome(lib, m, lib.tensor(x_T), [3, 2, 1], lib.tensor([0, 2]),
                                 _numpy_noise(lib, draws))
    (zx, zimg), (tx, timg) = out["zeroin"], out["torch"]
    assert not zx.requires_grad and zimg.dtype == zeroin.uint8 and not zm.training
    close(zx, tx, **tol)
    diff = np.abs(np_of(zimg).astype(int) - np_of(timg).astype(int))
    assert diff.max() <= (0 if dtype == "float64" else 1)
    assert np_of(zimg).min() < 100 < np_of(zimg).max()


def _luci_sampling(name, m, x_T, draws):
    lib, nn, F = LIBS[name]
    dtype = getattr(lib, str(x_T.dtype))
    res = []
    for eta in (1., 0.):
        gd = _gaussian_diffusion(lib, nn, F)(m, timesteps=50, sampling_timesteps=5, eta=eta,
                                             buffer_dtype=dtype)
        gd.randn_like = _numpy_noise(lib, draws)
        res.append(gd.ddim_sample(lib.tensor(x_T)))
    gd.randn_like = _numpy_noise(lib, draws)
    img = lib.tensor(x_T)
    for t in (2, 1, 0):
        img, x_start = gd.p_sample(img, t)
    return res + [img, x_start]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lucidrains_ddpm_and_ddim_sampling(dtype):
    """p_sample (posterior mean and clipped log variance, ``x_start.clamp_``, no noise at
    t = 0) for the last three steps, and ddim_sample over 5 of 50 steps with eta = 1 and 0,
    from the same x_T and noise; the schedule's buffers in the run's dtype (the repo
    registers float32). DDIM's first step is ill-conditioned in float32: x_start =
    (x - sqrt(1 - a) * eps) / sqrt(a) with a = alphas_cumprod[49] = 1e-6 multiplies the
    model's rounding by 1000, and at eta = 1 ``c = (1 - a_next - sigma ** 2).sqrt()``
    cancels (0.906 - 0.906), where PyTorch's CPU ``sqrt`` is not correctly rounded (up to
    0.75 ulp; NumPy's is). So in float32 the DDIM images (in [0, 1]) are compared to
    2000 float32 epsilons, 2.4e-4: they differ by 3.5e-5 and 1.0e-4 on the earlier boxes, by
    up to 1.4e-4 on a 2-core AMD EPYC where torch's CPU capability is AVX512."""
    tol = _dtype(dtype)
    tm, zm = _pair(_luci_unet)
    rng = np.random.default_rng(5)
    x_T = rng.standard_normal((2, 1, 16, 16)).astype(dtype)
    draws = [rng.standard_normal(x_T.shape).astype(dtype) for _ in range(8)]
    zs, ts = _luci_sampling("zeroin", zm, x_T, draws), _luci_sampling("torch", tm, x_T, draws)
    for i, (z, t) in enumerate(zip(zs, ts)):
        assert z.dtype == getattr(zeroin, dtype) and not z.requires_grad and z.grad_fn is None
        if i < 2 and dtype == "float32":
            close(z, t, rtol=0, atol=2000 * np.finfo(np.float32).eps)
        else:
            _close(z, t, tol)
    assert not np.allclose(np_of(zs[0]), np_of(zs[1]), atol=1e-2)        # eta matters
    assert np_of(zs[1]).min() >= 0 and np_of(zs[1]).max() <= 1


def test_sampling_on_the_torch_stream_uses_the_recipes_own_randn_like():
    """With ``zeroin.random.use_torch_stream(True)`` and ``manual_seed``, the recipe's own
    ``torch.randn`` / ``torch.randn_like`` / ``torch.randint`` draw PyTorch's numbers: the
    DDIM loop from ``torch.randn(shape)`` is torch's to float32 resolution times DDIM's
    first-step amplification (see above), unchanged."""
    _dtype("float32")
    torch_stream()
    tm, zm = _pair(_luci_unet)
    out = {}
    for name, m in (("torch", tm), ("zeroin", zm)):
        lib, nn, F = LIBS[name]
        lib.manual_seed(7)
        t = lib.randint(0, 50, (2,)).long()
        img = lib.randn((2, 1, 16, 16))
        out[name] = (t, img, _gaussian_diffusion(lib, nn, F)(m, timesteps=50,
                                                            sampling_timesteps=4).ddim_sample(img))
    (zt, zimg, zs), (tt, timg, ts) = out["zeroin"], out["torch"]
    np.testing.assert_array_equal(np_of(zt), np_of(tt))
    np.testing.assert_array_equal(np_of(zimg), np_of(timg))
    close(zs, ts, rtol=0, atol=1000 * np.finfo(np.float32).eps)
