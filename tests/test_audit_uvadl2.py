"""Audit against more of the UvA Deep Learning course's PyTorch tutorials (Phillip Lippe's
uvadlc-notebooks): Tutorial 5 "Inception, ResNet and DenseNet", 15 "Vision Transformers" and 9
"Deep Autoencoders". Each notebook's models are written once, as the notebook writes them, and
built with ``torch`` and with ``zeroin`` (``import zeroin as torch``, ``from zeroin import nn``,
``zeroin.nn.functional as F``); the same synthetic "CIFAR" batches (made here) and the weights
copied from torch go through both, and outputs, losses, gradients, a few optimiser and
scheduler steps and the updated weights are compared: to 1e-10 in float64, to float resolution
in float32 (the notebooks' dtype). PyTorch Lightning and torchvision are not used: the training
steps are plain loops. See docs/uvadl.md."""

from types import SimpleNamespace

import numpy as np
import pytest

import zeroin
import zeroin.nn as znn
import zeroin.nn.functional as ZF
import zeroin.optim as zoptim
from _audit import close, np_of as _np, torch_stream
from _audit import torch_defaults_back  # noqa: F401  (autouse: torch's defaults back)

torch = pytest.importorskip("torch")

LIBS = {
    "torch": (torch, torch.nn, torch.nn.functional, torch.optim),
    "zeroin": (zeroin, znn, ZF, zoptim),
}
F32 = dict(rtol=2e-5, atol=2e-6)
F64 = dict(rtol=1e-10, atol=1e-12)


def _cifar(n=4, seed=0, dtype=np.float32):
    """A synthetic normalised "CIFAR" batch (n x 3 x 16 x 16) and its labels."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3, 16, 16)).astype(dtype), rng.integers(0, 10, n)


def _state(model):
    return {k: _np(v).copy() for k, v in model.state_dict().items()}


def _load(torch, model, state):
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    return model


# --- Tutorial 5: Inception, ResNet and DenseNet -----------------------------------------------


def _t5(torch, nn, F):
    act_fn_by_name = {"tanh": nn.Tanh, "relu": nn.ReLU, "leakyrelu": nn.LeakyReLU, "gelu": nn.GELU}

    class InceptionBlock(nn.Module):
        def __init__(self, c_in, c_red: dict, c_out: dict, act_fn):
            super().__init__()
            self.conv_1x1 = nn.Sequential(
                nn.Conv2d(c_in, c_out["1x1"], kernel_size=1), nn.BatchNorm2d(c_out["1x1"]), act_fn()
            )
            self.conv_3x3 = nn.Sequential(
                nn.Conv2d(c_in, c_red["3x3"], kernel_size=1),
                nn.BatchNorm2d(c_red["3x3"]),
                act_fn(),
                nn.Conv2d(c_red["3x3"], c_out["3x3"], kernel_size=3, padding=1),
                nn.BatchNorm2d(c_out["3x3"]),
                act_fn(),
            )
            self.conv_5x5 = nn.Sequential(
                nn.Conv2d(c_in, c_red["5x5"], kernel_size=1),
                nn.BatchNorm2d(c_red["5x5"]),
                act_fn(),
                nn.Conv2d(c_red["5x5"], c_out["5x5"], kernel_size=5, padding=2),
                nn.BatchNorm2d(c_out["5x5"]),
                act_fn(),
            )
            self.max_pool = nn.Sequential(
                nn.MaxPool2d(kernel_size=3, padding=1, stride=1),
                nn.Conv2d(c_in, c_out["max"], kernel_size=1),
                nn.BatchNorm2d(c_out["max"]),
                act_fn(),
            )

        def forward(self, x):
            x_1x1 = self.conv_1x1(x)
            x_3x3 = self.conv_3x3(x)
            x_5x5 = self.conv_5x5(x)
            x_max = self.max_pool(x)
            x_out = torch.cat([x_1x1, x_3x3, x_5x5, x_max], dim=1)
            return x_out

    class ResNetBlock(nn.Module):
        def __init__(self, c_in, act_fn, subsample=False, c_out=-1):
            super().__init__()
            if not subsample:
                c_out = c_in
            self.net = nn.Sequential(
                nn.Conv2d(
                    c_in,
                    c_out,
                    kernel_size=3,
                    padding=1,
                    stride=1 if not subsample else 2,
                    bias=False,
                ),
                nn.BatchNorm2d(c_out),
                act_fn(),
                nn.Conv2d(c_out, c_out, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
            )
            self.downsample = nn.Conv2d(c_in, c_out, kernel_size=1, stride=2) if subsample else None
            self.act_fn = act_fn()

        def forward(self, x):
            z = self.net(x)
            if self.downsample is not None:
                x = self.downsample(x)
            out = z + x
            out = self.act_fn(out)
            return out

    class PreActResNetBlock(nn.Module):
        def __init__(self, c_in, act_fn, subsample=False, c_out=-1):
            super().__init__()
            if not subsample:
                c_out = c_in
            self.net = nn.Sequential(
                nn.BatchNorm2d(c_in),
                act_fn(),
                nn.Conv2d(
                    c_in,
                    c_out,
                    kernel_size=3,
                    padding=1,
                    stride=1 if not subsample else 2,
                    bias=False,
                ),
                nn.BatchNorm2d(c_out),
                act_fn(),
                nn.Conv2d(c_out, c_out, kernel_size=3, padding=1, bias=False),
            )
            self.downsample = (
                nn.Sequential(
                    nn.BatchNorm2d(c_in),
                    act_fn(),
                    nn.Conv2d(c_in, c_out, kernel_size=1, stride=2, bias=False),
                )
                if subsample
                else None
            )

        def forward(self, x):
            z = self.net(x)
            if self.downsample is not None:
                x = self.downsample(x)
            out = z + x
            return out

    resnet_blocks_by_name = {"ResNetBlock": ResNetBlock, "PreActResNetBlock": PreActResNetBlock}

    class ResNet(nn.Module):
        def __init__(
            self,
            num_classes=10,
            num_blocks=(1, 1),
            c_hidden=(4, 8),
            act_fn_name="relu",
            block_name="ResNetBlock",
            **kwargs,
        ):
            super().__init__()
            self.hparams = SimpleNamespace(
                num_classes=num_classes,
                c_hidden=c_hidden,
                num_blocks=num_blocks,
                act_fn_name=act_fn_name,
                act_fn=act_fn_by_name[act_fn_name],
                block_class=resnet_blocks_by_name[block_name],
            )
            self._create_network()
            self._init_params()

        def _create_network(self):
            c_hidden = self.hparams.c_hidden
            if self.hparams.block_class == PreActResNetBlock:
                self.input_net = nn.Sequential(
                    nn.Conv2d(3, c_hidden[0], kernel_size=3, padding=1, bias=False)
                )
            else:
                self.input_net = nn.Sequential(
                    nn.Conv2d(3, c_hidden[0], kernel_size=3, padding=1, bias=False),
                    nn.BatchNorm2d(c_hidden[0]),
                    self.hparams.act_fn(),
                )
            blocks = []
            for block_idx, block_count in enumerate(self.hparams.num_blocks):
                for bc in range(block_count):
                    subsample = bc == 0 and block_idx > 0
                    blocks.append(
                        self.hparams.block_class(
                            c_in=c_hidden[block_idx if not subsample else (block_idx - 1)],
                            act_fn=self.hparams.act_fn,
                            subsample=subsample,
                            c_out=c_hidden[block_idx],
                        )
                    )
            self.blocks = nn.Sequential(*blocks)
            self.output_net = nn.Sequential(
                nn.AdaptiveAvgPool2d((1, 1)),
                nn.Flatten(),
                nn.Linear(c_hidden[-1], self.hparams.num_classes),
            )

        def _init_params(self):
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(
                        m.weight, mode="fan_out", nonlinearity=self.hparams.act_fn_name
                    )
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

        def forward(self, x):
            x = self.input_net(x)
            x = self.blocks(x)
            x = self.output_net(x)
            return x

    class GoogleNet(nn.Module):
        def __init__(self, num_classes=10, act_fn_name="relu", **kwargs):
            super().__init__()
            self.hparams = SimpleNamespace(
                num_classes=num_classes, act_fn_name=act_fn_name, act_fn=act_fn_by_name[act_fn_name]
            )
            self._create_network()
            self._init_params()

        def _create_network(self):
            act = self.hparams.act_fn
            self.input_net = nn.Sequential(
                nn.Conv2d(3, 8, kernel_size=3, padding=1), nn.BatchNorm2d(8), act()
            )
            self.inception_blocks = nn.Sequential(
                InceptionBlock(
                    8,
                    c_red={"3x3": 4, "5x5": 2},
                    c_out={"1x1": 4, "3x3": 4, "5x5": 2, "max": 2},
                    act_fn=act,
                ),
                nn.MaxPool2d(3, stride=2, padding=1),
                InceptionBlock(
                    12,
                    c_red={"3x3": 4, "5x5": 2},
                    c_out={"1x1": 4, "3x3": 6, "5x5": 2, "max": 4},
                    act_fn=act,
                ),
            )
            self.output_net = nn.Sequential(
                nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(16, self.hparams.num_classes)
            )

        def _init_params(self):
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, nonlinearity=self.hparams.act_fn_name)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

        def forward(self, x):
            x = self.input_net(x)
            x = self.inception_blocks(x)
            x = self.output_net(x)
            return x

    class DenseLayer(nn.Module):
        def __init__(self, c_in, bn_size, growth_rate, act_fn):
            super().__init__()
            self.net = nn.Sequential(
                nn.BatchNorm2d(c_in),
                act_fn(),
                nn.Conv2d(c_in, bn_size * growth_rate, kernel_size=1, bias=False),
                nn.BatchNorm2d(bn_size * growth_rate),
                act_fn(),
                nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False),
            )

        def forward(self, x):
            out = self.net(x)
            out = torch.cat([out, x], dim=1)
            return out

    class DenseBlock(nn.Module):
        def __init__(self, c_in, num_layers, bn_size, growth_rate, act_fn):
            super().__init__()
            layers = []
            for layer_idx in range(num_layers):
                layers.append(
                    DenseLayer(
                        c_in=c_in + layer_idx * growth_rate,
                        bn_size=bn_size,
                        growth_rate=growth_rate,
                        act_fn=act_fn,
                    )
                )
            self.block = nn.Sequential(*layers)

        def forward(self, x):
            out = self.block(x)
            return out

    class TransitionLayer(nn.Module):
        def __init__(self, c_in, c_out, act_fn):
            super().__init__()
            self.transition = nn.Sequential(
                nn.BatchNorm2d(c_in),
                act_fn(),
                nn.Conv2d(c_in, c_out, kernel_size=1, bias=False),
                nn.AvgPool2d(kernel_size=2, stride=2),
            )

        def forward(self, x):
            return self.transition(x)

    class DenseNet(nn.Module):
        def __init__(
            self,
            num_classes=10,
            num_layers=(2, 2),
            bn_size=2,
            growth_rate=4,
            act_fn_name="relu",
            **kwargs,
        ):
            super().__init__()
            self.hparams = SimpleNamespace(
                num_classes=num_classes,
                num_layers=num_layers,
                bn_size=bn_size,
                growth_rate=growth_rate,
                act_fn_name=act_fn_name,
                act_fn=act_fn_by_name[act_fn_name],
            )
            self._create_network()
            self._init_params()

        def _create_network(self):
            c_hidden = self.hparams.growth_rate * self.hparams.bn_size
            self.input_net = nn.Sequential(nn.Conv2d(3, c_hidden, kernel_size=3, padding=1))
            blocks = []
            for block_idx, num_layers in enumerate(self.hparams.num_layers):
                blocks.append(
                    DenseBlock(
                        c_in=c_hidden,
                        num_layers=num_layers,
                        bn_size=self.hparams.bn_size,
                        growth_rate=self.hparams.growth_rate,
                        act_fn=self.hparams.act_fn,
                    )
                )
                c_hidden = c_hidden + num_layers * self.hparams.growth_rate
                if block_idx < len(self.hparams.num_layers) - 1:
                    blocks.append(
                        TransitionLayer(
                            c_in=c_hidden, c_out=c_hidden // 2, act_fn=self.hparams.act_fn
                        )
                    )
                    c_hidden = c_hidden // 2
            self.blocks = nn.Sequential(*blocks)
            self.output_net = nn.Sequential(
                nn.BatchNorm2d(c_hidden),
                self.hparams.act_fn(),
                nn.AdaptiveAvgPool2d((1, 1)),
                nn.Flatten(),
                nn.Linear(c_hidden, self.hparams.num_classes),
            )

        def _init_params(self):
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, nonlinearity=self.hparams.act_fn_name)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

        def forward(self, x):
            x = self.input_net(x)
            x = self.blocks(x)
            x = self.output_net(x)
            return x

    return dict(
        GoogleNet=GoogleNet,
        ResNet=ResNet,
        DenseNet=DenseNet,
        act_fn_by_name=act_fn_by_name,
        InceptionBlock=InceptionBlock,
        ResNetBlock=ResNetBlock,
        PreActResNetBlock=PreActResNetBlock,
        DenseBlock=DenseBlock,
        TransitionLayer=TransitionLayer,
    )


# --- Tutorial 15: Vision Transformers ---------------------------------------------------------


def _t15(torch, nn, F):
    def img_to_patch(x, patch_size, flatten_channels=True):
        B, C, H, W = x.shape
        x = x.reshape(B, C, H // patch_size, patch_size, W // patch_size, patch_size)
        x = x.permute(0, 2, 4, 1, 3, 5)
        x = x.flatten(1, 2)
        if flatten_channels:
            x = x.flatten(2, 4)
        return x

    class AttentionBlock(nn.Module):
        def __init__(self, embed_dim, hidden_dim, num_heads, dropout=0.0):
            super().__init__()
            self.layer_norm_1 = nn.LayerNorm(embed_dim)
            self.attn = nn.MultiheadAttention(embed_dim, num_heads, dropout=dropout)
            self.layer_norm_2 = nn.LayerNorm(embed_dim)
            self.linear = nn.Sequential(
                nn.Linear(embed_dim, hidden_dim),
                nn.GELU(),
                nn.Dropout(dropout),
                nn.Linear(hidden_dim, embed_dim),
                nn.Dropout(dropout),
            )

        def forward(self, x):
            inp_x = self.layer_norm_1(x)
            x = x + self.attn(inp_x, inp_x, inp_x)[0]
            x = x + self.linear(self.layer_norm_2(x))
            return x

    class VisionTransformer(nn.Module):
        def __init__(
            self,
            embed_dim,
            hidden_dim,
            num_channels,
            num_heads,
            num_layers,
            num_classes,
            patch_size,
            num_patches,
            dropout=0.0,
        ):
            super().__init__()
            self.patch_size = patch_size
            self.input_layer = nn.Linear(num_channels * (patch_size**2), embed_dim)
            self.transformer = nn.Sequential(
                *(
                    AttentionBlock(embed_dim, hidden_dim, num_heads, dropout=dropout)
                    for _ in range(num_layers)
                )
            )
            self.mlp_head = nn.Sequential(
                nn.LayerNorm(embed_dim), nn.Linear(embed_dim, num_classes)
            )
            self.dropout = nn.Dropout(dropout)
            self.cls_token = nn.Parameter(torch.randn(1, 1, embed_dim))
            self.pos_embedding = nn.Parameter(torch.randn(1, 1 + num_patches, embed_dim))

        def forward(self, x):
            x = img_to_patch(x, self.patch_size)
            B, T, _ = x.shape
            x = self.input_layer(x)
            cls_token = self.cls_token.repeat(B, 1, 1)
            x = torch.cat([cls_token, x], dim=1)
            x = x + self.pos_embedding[:, : T + 1]
            x = self.dropout(x)
            x = x.transpose(0, 1)
            x = self.transformer(x)
            cls = x[0]
            out = self.mlp_head(cls)
            return out

    return dict(
        img_to_patch=img_to_patch,
        AttentionBlock=AttentionBlock,
        VisionTransformer=VisionTransformer,
    )


# --- Tutorial 9: Deep Autoencoders ------------------------------------------------------------


def _t9(torch, nn, F):
    class Encoder(nn.Module):
        def __init__(self, num_input_channels, base_channel_size, latent_dim, act_fn=nn.GELU):
            super().__init__()
            c_hid = base_channel_size
            self.net = nn.Sequential(
                nn.Conv2d(
                    num_input_channels, c_hid, kernel_size=3, padding=1, stride=2
                ),  # 16x16 => 8x8
                act_fn(),
                nn.Conv2d(c_hid, c_hid, kernel_size=3, padding=1),
                act_fn(),
                nn.Conv2d(c_hid, 2 * c_hid, kernel_size=3, padding=1, stride=2),  # 8x8 => 4x4
                act_fn(),
                nn.Flatten(),
                nn.Linear(2 * 16 * c_hid, latent_dim),
            )

        def forward(self, x):
            return self.net(x)

    class Decoder(nn.Module):
        def __init__(self, num_input_channels, base_channel_size, latent_dim, act_fn=nn.GELU):
            super().__init__()
            c_hid = base_channel_size
            self.linear = nn.Sequential(nn.Linear(latent_dim, 2 * 16 * c_hid), act_fn())
            self.net = nn.Sequential(
                nn.ConvTranspose2d(
                    2 * c_hid, c_hid, kernel_size=3, output_padding=1, padding=1, stride=2
                ),  # 4 => 8
                act_fn(),
                nn.Conv2d(c_hid, c_hid, kernel_size=3, padding=1),
                act_fn(),
                nn.ConvTranspose2d(
                    c_hid, num_input_channels, kernel_size=3, output_padding=1, padding=1, stride=2
                ),  # 8 => 16
                nn.Tanh(),
            )

        def forward(self, x):
            x = self.linear(x)
            x = x.reshape(x.shape[0], -1, 4, 4)
            x = self.net(x)
            return x

    class Autoencoder(nn.Module):
        def __init__(
            self, base_channel_size, latent_dim, num_input_channels=3, width=16, height=16
        ):
            super().__init__()
            self.encoder = Encoder(num_input_channels, base_channel_size, latent_dim)
            self.decoder = Decoder(num_input_channels, base_channel_size, latent_dim)
            self.example_input_array = torch.zeros(2, num_input_channels, width, height)

        def forward(self, x):
            z = self.encoder(x)
            x_hat = self.decoder(z)
            return x_hat

        def _get_reconstruction_loss(self, batch):
            x, _ = batch
            x_hat = self.forward(x)
            loss = F.mse_loss(x, x_hat, reduction="none")
            loss = loss.sum(dim=[1, 2, 3]).mean(dim=[0])
            return loss

    return dict(Encoder=Encoder, Decoder=Decoder, Autoencoder=Autoencoder)


# --- Tutorial 5's tests ------------------------------------------------------------------------


def _t5_blocks(name, state=None):
    """Each building block in float64 on one batch in train mode (batch statistics):
    outputs, the input's gradient and every parameter's gradient."""
    torch, nn, F, optim = LIBS[name]
    torch.set_default_dtype(torch.float64)
    M = _t5(torch, nn, F)
    blocks = nn.ModuleDict(
        dict(
            inception=M["InceptionBlock"](
                3,
                c_red={"3x3": 4, "5x5": 2},
                c_out={"1x1": 4, "3x3": 4, "5x5": 2, "max": 2},
                act_fn=nn.ReLU,
            ),
            resnet=M["ResNetBlock"](3, act_fn=nn.ReLU, subsample=True, c_out=6),
            preact=M["PreActResNetBlock"](3, act_fn=nn.LeakyReLU, subsample=True, c_out=6),
            dense=M["DenseBlock"](3, num_layers=2, bn_size=2, growth_rate=4, act_fn=nn.GELU),
            transition=M["TransitionLayer"](3, 2, act_fn=nn.Tanh),
        )
    )
    if state is not None:
        _load(torch, blocks, state)
    init = _state(blocks)
    x = torch.from_numpy(_cifar(2, seed=1, dtype=np.float64)[0]).requires_grad_()
    outs = {k: b(x) for k, b in blocks.items()}
    sum(
        (o * torch.arange(o.numel()).reshape(o.shape).sin()).sum() for o in outs.values()
    ).backward()
    grads = {k: _np(p.grad) for k, p in blocks.named_parameters()}
    return init, _state(blocks), {k: _np(o) for k, o in outs.items()}, _np(x.grad), grads


def test_t5_blocks_forward_and_gradients_float64():
    tinit, tstate, tout, tgx, tgrads = _t5_blocks("torch")
    _, zstate, zout, zgx, zgrads = _t5_blocks("zeroin", tinit)
    assert (
        {k: v.shape for k, v in zout.items()}
        == {k: v.shape for k, v in tout.items()}
        == {
            "inception": (2, 12, 16, 16),
            "resnet": (2, 6, 8, 8),
            "preact": (2, 6, 8, 8),
            "dense": (2, 11, 16, 16),
            "transition": (2, 2, 8, 8),
        }
    )
    for k in tout:
        close(zout[k], tout[k], **F64)
    close(zgx, tgx, **F64)
    assert zgrads.keys() == tgrads.keys()
    for k in tgrads:
        close(zgrads[k], tgrads[k], **F64)
    for k in tstate:  # running statistics after one train-mode batch
        close(zstate[k], tstate[k], **F64)


def test_t5_act_fn_by_name():
    x = np.linspace(-4, 4, 41)
    for key in ("tanh", "relu", "leakyrelu", "gelu"):
        out = {}
        for name in LIBS:
            torch, nn, F, _ = LIBS[name]
            xt = torch.tensor(x, requires_grad=True)
            y = _t5(torch, nn, F)["act_fn_by_name"][key]()(xt)
            (y * y).sum().backward()
            out[name] = (y, xt.grad)
        close(out["zeroin"][0], out["torch"][0], **F64)
        close(out["zeroin"][1], out["torch"][1], **F64)


NETS = [
    ("GoogleNet", {}),
    ("ResNet", {}),
    ("ResNet", dict(block_name="PreActResNetBlock")),
    ("DenseNet", {}),
]


def _t5_train(name, net, kwargs, state=None, steps=4):
    """The notebook's configure_optimizers (SGD, momentum 0.9, weight decay 1e-4, MultiStepLR,
    milestones scaled down to steps 2 and 3) and a few training steps by hand, then eval."""
    torch, nn, F, optim = LIBS[name]
    torch.manual_seed(0)
    model = _t5(torch, nn, F)[net](**kwargs)
    if state is not None:
        _load(torch, model, state)
    init = _state(model)
    x, y = (torch.from_numpy(a) for a in _cifar())
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    scheduler = optim.lr_scheduler.MultiStepLR(optimizer, milestones=[2, 3], gamma=0.1)
    loss_module = nn.CrossEntropyLoss()
    log = []
    model.train()
    for _ in range(steps):
        preds = model(x)
        loss = loss_module(preds, y)
        acc = (preds.argmax(dim=-1) == y).float().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        log.append((loss.item(), acc.item(), optimizer.param_groups[0]["lr"]))
    model.eval()
    with torch.no_grad():
        preds = model(x)
    return init, log, _np(preds), _state(model)


@pytest.mark.parametrize("net,kwargs", NETS, ids=["googlenet", "resnet", "preact", "densenet"])
def test_t5_networks_train_with_sgd_and_multisteplr_then_eval(f32, net, kwargs):
    tinit, tlog, tpred, tstate = _t5_train("torch", net, kwargs)
    _, zlog, zpred, zstate = _t5_train("zeroin", net, kwargs, tinit)
    assert [lr for *_, lr in tlog] == pytest.approx([0.1, 0.01, 0.001, 0.001])
    np.testing.assert_allclose(zlog, tlog, rtol=1e-5, atol=1e-6)
    close(zpred, tpred, **F32)  # eval mode: the running statistics
    assert zstate.keys() == tstate.keys()
    for k in tstate:
        close(zstate[k], tstate[k], **F32)


def test_t5_init_params_from_the_torch_stream(f32):
    """_init_params (kaiming_normal_ with nonlinearity "relu", fan_out for ResNet; constant_
    for BatchNorm): on the torch stream zeroin draws PyTorch's weights, nothing copied."""
    torch_stream()
    states = {}
    for name in LIBS:
        torch, nn, F, _ = LIBS[name]
        torch.manual_seed(42)
        states[name] = _state(_t5(torch, nn, F)["ResNet"](block_name="PreActResNetBlock"))
    for k, v in states["torch"].items():
        close(states["zeroin"][k], v, **F32)
    w = states["zeroin"]["blocks.1.net.2.weight"]  # 8 x 4 x 3 x 3, fan_out 72
    assert 0.7 < w.std() * np.sqrt(72 / 2) < 1.3
    # the notebook's names outside calculate_gain's list fail in both, as the notebook's own
    # ResNet with act_fn_name="leakyrelu" would
    for name in LIBS:
        torch, nn, F, _ = LIBS[name]
        with pytest.raises(ValueError, match="(?i)nonlinearity.*leakyrelu"):
            _t5(torch, nn, F)["ResNet"](act_fn_name="leakyrelu")


# --- Tutorial 15's tests -----------------------------------------------------------------------


def test_t15_img_to_patch():
    x = _cifar(2, seed=2, dtype=np.float64)[0]
    out = {n: (LIBS[n][0], _t15(*LIBS[n][:3])["img_to_patch"]) for n in LIBS}
    for flat, shape in ((True, (2, 16, 48)), (False, (2, 16, 3, 4, 4))):
        z, t = (f(T.from_numpy(x.copy()), 4, flatten_channels=flat) for T, f in out.values())
        assert tuple(z.shape) == tuple(t.shape) == shape
        np.testing.assert_array_equal(_np(z), _np(t))
    # patch 5 of image 1 is the block at row 1, column 1 (4 patches a row)
    np.testing.assert_array_equal(_np(z)[1, 5], x[1, :, 4:8, 4:8])


def test_t15_patch_grid_with_make_grid():
    """The notebook's patch picture, make_grid(patches, nrow=64, normalize=True,
    pad_value=0.9), against torchvision's rule written in NumPy (torchvision is not
    installed): one row, 2-pixel padding, scaled by the min and max of all patches."""
    from zeroin.vision.utils import make_grid

    x = _cifar(1, seed=8, dtype=np.float64)[0]
    patches = _t15(*LIBS["zeroin"][:3])["img_to_patch"](zeroin.tensor(x), 4, False)
    grid = make_grid(patches[0], nrow=64, normalize=True, pad_value=0.9)
    grid = _np(grid.permute(1, 2, 0))
    want = np.full((8, 98, 3), 0.9)
    p = _np(patches[0])
    p = (p - p.min()) / (p.max() - p.min())
    for i in range(16):
        want[2:6, 2 + 6 * i : 6 + 6 * i] = p[i].transpose(1, 2, 0)
    close(grid, want, **F64)


VIT = dict(
    embed_dim=16,
    hidden_dim=32,
    num_channels=3,
    num_heads=2,
    num_layers=2,
    num_classes=10,
    patch_size=4,
    num_patches=16,
    dropout=0.0,
)


def _t15_block(name, state):
    """One AttentionBlock in float64 on a sequence-first input (17 tokens, batch 2)."""
    torch, nn, F, _ = LIBS[name]
    torch.set_default_dtype(torch.float64)
    block = _load(torch, _t15(torch, nn, F)["AttentionBlock"](16, 32, num_heads=2), state)
    x = torch.from_numpy(np.random.default_rng(3).standard_normal((17, 2, 16))).requires_grad_()
    out = block(x)
    (out * out.detach().cos()).sum().backward()
    return out, x.grad, {k: _np(p.grad) for k, p in block.named_parameters()}


def test_t15_attention_block_sequence_first_float64():
    torch.set_default_dtype(torch.float64)
    tblock = _t15(torch, torch.nn, torch.nn.functional)["AttentionBlock"](16, 32, num_heads=2)
    with torch.no_grad():
        tblock.attn.in_proj_bias.normal_()  # zero at init: give it values to check
        tblock.attn.out_proj.bias.normal_()
    state = _state(tblock)
    (zo, zgx, zg), (to, tgx, tg) = (_t15_block(n, state) for n in ("zeroin", "torch"))
    assert tuple(zo.shape) == (17, 2, 16)
    close(zo, to, **F64)
    close(zgx, tgx, **F64)
    assert zg.keys() == tg.keys() and "attn.in_proj_weight" in zg
    for k in tg:
        close(zg[k], tg[k], **F64)


def _t15_train(name, state=None, steps=4):
    """The notebook's ViT trained a few steps as its LightningModule does: AdamW and
    MultiStepLR (milestones scaled down), cross entropy and accuracy; then the attention
    maps of the first block via need_weights=True."""
    torch, nn, F, optim = LIBS[name]
    torch.manual_seed(0)
    M = _t15(torch, nn, F)
    model = M["VisionTransformer"](**VIT)
    if state is not None:
        _load(torch, model, state)
    init = _state(model)
    imgs, labels = (torch.from_numpy(a) for a in _cifar(4, seed=4))
    optimizer = optim.AdamW(model.parameters(), lr=3e-4)
    lr_scheduler = optim.lr_scheduler.MultiStepLR(optimizer, milestones=[2, 3], gamma=0.1)
    log = []
    model.train()
    for _ in range(steps):
        preds = model(imgs)
        loss = F.cross_entropy(preds, labels)
        acc = (preds.argmax(dim=-1) == labels).float().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        lr_scheduler.step()
        log.append((loss.item(), acc.item(), optimizer.param_groups[0]["lr"]))
    model.eval()
    with torch.no_grad():
        x = model.input_layer(M["img_to_patch"](imgs[:2], 4))
        x = torch.cat([model.cls_token.repeat(2, 1, 1), x], dim=1) + model.pos_embedding
        x = model.transformer[0].layer_norm_1(x.transpose(0, 1))
        attn = model.transformer[0].attn
        _, avg = attn(x, x, x, need_weights=True)
        _, heads = attn(x, x, x, need_weights=True, average_attn_weights=False)
        out = model(imgs)
    return init, log, _state(model), _np(avg), _np(heads), _np(out)


def test_t15_vision_transformer_adamw_multisteplr_and_attention_maps(f32):
    tinit, tlog, tstate, tavg, theads, tout = _t15_train("torch")
    assert tinit.keys() >= {"cls_token", "pos_embedding", "transformer.0.attn.in_proj_weight"}
    _, zlog, zstate, zavg, zheads, zout = _t15_train("zeroin", tinit)
    np.testing.assert_allclose(zlog, tlog, rtol=1e-5, atol=1e-6)
    assert [lr for *_, lr in tlog] == pytest.approx([3e-4, 3e-5, 3e-6, 3e-6])
    assert zavg.shape == tavg.shape == (2, 17, 17) and zheads.shape == (2, 2, 17, 17)
    close(zavg, tavg, rtol=1e-4, atol=1e-6)
    close(zheads, theads, rtol=1e-4, atol=1e-6)
    close(zout, tout, rtol=1e-4, atol=1e-5)
    # The key projection's bias has no gradient but rounding noise (softmax ignores a shift
    # common to all keys), which AdamW turns into steps of +-lr of either sign: compared apart
    for k in ("transformer.0.attn.in_proj_bias", "transformer.1.attn.in_proj_bias"):
        assert np.abs(zstate[k][16:32]).max() <= 4 * 3e-4
        zstate[k][16:32] = tstate[k][16:32] = 0
    for k in tstate:
        close(zstate[k], tstate[k], rtol=1e-4, atol=1e-6)


# --- Tutorial 9's tests ------------------------------------------------------------------------


def _t9_grads(name, state):
    """Encoder and Decoder in float64: the latent, the reconstruction, the notebook's
    summed-per-image loss and every gradient."""
    torch, nn, F, _ = LIBS[name]
    torch.set_default_dtype(torch.float64)
    model = _load(torch, _t9(torch, nn, F)["Autoencoder"](base_channel_size=4, latent_dim=8), state)
    x = np.tanh(_cifar(3, seed=5, dtype=np.float64)[0])
    z = model.encoder(torch.from_numpy(x))
    x_hat = model.decoder(z)
    loss = model._get_reconstruction_loss((torch.from_numpy(x), None))
    loss.backward()
    return z, x_hat, loss, {k: _np(p.grad) for k, p in model.named_parameters()}


def test_t9_encoder_decoder_and_reconstruction_loss_float64():
    torch.set_default_dtype(torch.float64)
    tmodel = _t9(torch, torch.nn, torch.nn.functional)["Autoencoder"](4, 8)
    assert tuple(tmodel(tmodel.example_input_array).shape) == (2, 3, 16, 16)
    state = _state(tmodel)
    (zz, zx, zl, zg), (tz, tx, tl, tg) = (_t9_grads(n, state) for n in ("zeroin", "torch"))
    assert tuple(zz.shape) == (3, 8) and tuple(zx.shape) == (3, 3, 16, 16) and zl.shape == ()
    for a, b in ((zz, tz), (zx, tx), (zl, tl)):
        close(a, b, **F64)
    assert zg.keys() == tg.keys() and "decoder.net.0.weight" in zg  # ConvTranspose2d
    for k in tg:
        close(zg[k], tg[k], **F64)


def _t9_train(name, state=None, steps=9):
    """Adam and ReduceLROnPlateau(mode="min", factor=0.2, patience=20, min_lr=5e-5) as the
    notebook configures them (patience scaled down to 2), stepped on a validation loss that
    stops improving after three steps; then the retrieval of the nearest images by their
    embeddings (torch.cdist, torch.sort, torch.topk)."""
    torch, nn, F, optim = LIBS[name]
    torch.manual_seed(0)
    model = _t9(torch, nn, F)["Autoencoder"](base_channel_size=4, latent_dim=8)
    if state is not None:
        _load(torch, model, state)
    init = _state(model)
    x = torch.from_numpy(np.tanh(_cifar(6, seed=6)[0]))
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    scheduler = optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=0.2, patience=2, min_lr=5e-5
    )
    log = []
    for step in range(steps):
        model.train()
        loss = model._get_reconstruction_loss((x, None))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        val_loss = loss.item() if step < 3 else 1e3
        scheduler.step(val_loss)
        log.append((loss.item(), optimizer.param_groups[0]["lr"]))
    model.eval()
    with torch.no_grad():
        embeds = model.encoder(x)
    dist = torch.cdist(embeds[None, :1], embeds[None, :])
    dist = dist.squeeze(dim=0).squeeze(dim=0)
    dist, indices = torch.sort(dist)
    near = torch.topk(-torch.cdist(embeds, embeds), k=3, dim=1)
    return init, log, _state(model), dist, indices, near.values, near.indices


def test_t9_autoencoder_adam_reduce_on_plateau_and_retrieval(f32):
    tinit, tlog, tstate, *tret = _t9_train("torch")
    _, zlog, zstate, *zret = _t9_train("zeroin", tinit)
    assert [lr for _, lr in tlog] == pytest.approx([1e-3] * 5 + [2e-4] * 3 + [5e-5])  # min_lr
    np.testing.assert_allclose(zlog, tlog, rtol=1e-5, atol=1e-6)
    for k in tstate:
        close(zstate[k], tstate[k], **F32)
    close(zret[0], tret[0], **F32)
    np.testing.assert_array_equal(_np(zret[1]), _np(tret[1]))
    assert _np(zret[1])[0] == 0 and _np(zret[3])[:, 0].tolist() == list(range(6))
    close(zret[2], tret[2], rtol=1e-5, atol=1e-5)  # 0 on the diagonal: sqrt's rounding
    np.testing.assert_array_equal(_np(zret[3]), _np(tret[3]))


def test_t9_reduce_on_plateau_floor_and_cdist_gradient():
    """min_lr is a floor; cdist's gradient (the notebook's distances, differentiated) agrees
    with torch's away from zero distance."""
    lrs = {}
    for name in LIBS:
        torch, nn, _, optim = LIBS[name]
        opt = optim.Adam(nn.Linear(2, 1).parameters(), lr=1e-3)
        sch = optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=0.2, patience=0, min_lr=5e-5
        )
        lrs[name] = []
        for v in (1.0, 2.0, 3.0, 4.0, 5.0):
            sch.step(v)
            lrs[name].append(opt.param_groups[0]["lr"])
    assert lrs["zeroin"] == pytest.approx(lrs["torch"]) and lrs["torch"][-1] == 5e-5
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((5, 8)), rng.standard_normal((4, 8))
    out = {}
    for name in LIBS:
        torch = LIBS[name][0]
        ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
        d = torch.cdist(ta, tb)
        (d * d.detach().sin()).sum().backward()
        out[name] = (d, ta.grad, tb.grad)
    for zz, tt in zip(out["zeroin"], out["torch"]):
        close(zz, tt, **F64)
