"""torchvision's classification models in zeroin.vision.models (resnet50, densenet121,
mobilenet_v3_large, inception_v3, convnext_tiny, regnet_y_400mf, ...): torchvision's
documented parameter counts, state_dict keys and shapes, a forward and a backward at a
small input, torchvision's initialisation, and single blocks against the same block built
in PyTorch by hand with the same weights (float64)."""
import functools
import math

import numpy as np
import pytest

import zeroin
from zeroin.vision import models as M

# num_params of torchvision's weight enums (docs.pytorch.org/vision, models/*.py meta)
NUM_PARAMS = {
    "resnet50": 25557032, "resnet101": 44549160, "resnet152": 60192808,
    "resnext50_32x4d": 25028904, "resnext101_32x8d": 88791336,
    "resnext101_64x4d": 83455272, "wide_resnet50_2": 68883240,
    "wide_resnet101_2": 126886696, "mobilenet_v2": 3504872,
    "mobilenet_v3_large": 5483032, "mobilenet_v3_small": 2542856, "alexnet": 61100840,
    "densenet121": 7978856, "densenet161": 28681000, "densenet169": 14149480,
    "densenet201": 20013928, "squeezenet1_0": 1248424, "squeezenet1_1": 1235496,
    "shufflenet_v2_x0_5": 1366792, "shufflenet_v2_x1_0": 2278604,
    "shufflenet_v2_x1_5": 3503624, "shufflenet_v2_x2_0": 7393996,
    "googlenet": 6624904, "inception_v3": 27161264, "mnasnet0_5": 2218512,
    "mnasnet0_75": 3170208, "mnasnet1_0": 4383312, "mnasnet1_3": 6282256,
    "convnext_tiny": 28589128, "convnext_small": 50223688, "convnext_base": 88591464,
    "convnext_large": 197767336, "regnet_y_400mf": 4344144, "regnet_y_800mf": 6432512,
    "regnet_y_1_6gf": 11202430, "regnet_y_3_2gf": 19436338, "regnet_y_8gf": 39381472,
    "regnet_y_16gf": 83590140, "regnet_y_32gf": 145046770, "regnet_y_128gf": 644812894,
    "regnet_x_400mf": 5495976, "regnet_x_800mf": 7259656, "regnet_x_1_6gf": 9190136,
    "regnet_x_3_2gf": 15296552, "regnet_x_8gf": 39572648, "regnet_x_16gf": 54278536,
    "regnet_x_32gf": 107811560, "efficientnet_v2_s": 21458488,
    "efficientnet_v2_m": 54139356, "efficientnet_v2_l": 118515272,
    "vit_h_14": 632045800}
# over 100M parameters: counted in float32 without a forward (vit_h_14 and regnet_y_128gf,
# 2.5 GB each, by formula only)
BIG = {"wide_resnet101_2", "convnext_large", "regnet_y_32gf", "regnet_x_32gf",
       "efficientnet_v2_l"}
BY_FORMULA = {"vit_h_14", "regnet_y_128gf"}
# the smallest input each accepts (torchvision's meta min_size where it is above 32)
MIN_SIZE = {"alexnet": 63, "inception_v3": 75}


def _count(model):
    return sum(p.numel() for p in model.parameters())


def _build(name, **kwargs):
    """A model in float32 (PyTorch's default dtype)."""
    previous = zeroin.get_default_dtype()
    zeroin.set_default_dtype(zeroin.float32)
    try:
        return getattr(M, name)(**kwargs)
    finally:
        zeroin.set_default_dtype(previous)


_small = functools.lru_cache(maxsize=None)(_build)   # built once for this file's tests
# the models several tests look at (about 150M parameters in all)
CACHED = {"resnet50", "mobilenet_v2", "mobilenet_v3_large", "mnasnet1_0", "squeezenet1_0",
          "densenet121", "shufflenet_v2_x1_0", "googlenet", "inception_v3", "convnext_tiny",
          "regnet_y_400mf", "regnet_x_400mf", "efficientnet_v2_s"}


@pytest.fixture(scope="module", autouse=True)
def _free_the_cached_models():
    yield
    _small.cache_clear()


@pytest.mark.parametrize("name", sorted(set(NUM_PARAMS) - BIG - BY_FORMULA))
def test_torchvision_parameter_count_keys_and_a_forward(name):
    """torchvision's parameter count, its state_dict keys and shapes (KEYS below), and an
    eval forward at the smallest input to (2, 1000)."""
    kwargs = {"aux_logits": False} if name == "googlenet" else {}   # its weights' count
    model = _small(name, **kwargs) if name in CACHED else _build(name, **kwargs)
    assert _count(model) == NUM_PARAMS[name]
    if name in KEYS and name != "googlenet":
        _check_keys(name, model.state_dict())
    size = MIN_SIZE.get(name, 32)
    model.eval()
    with zeroin.no_grad():
        out = model(zeroin.randn(2, 3, size, size, dtype=zeroin.float32))
    assert out.shape == (2, 1000) and np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("name", sorted(BIG))
def test_torchvision_parameter_count_of_the_big_ones(name, f32):
    assert _count(getattr(M, name)()) == NUM_PARAMS[name]


def _vit_count(patch, layers, heads, hidden, mlp, image_size=224, num_classes=1000):
    seq = (image_size // patch) ** 2 + 1
    block = 4 * hidden + 4 * hidden * hidden + 4 * hidden + 2 * hidden * mlp + mlp + hidden
    return (3 * patch * patch * hidden + hidden + hidden + seq * hidden + layers * block
            + 2 * hidden + hidden * num_classes + num_classes)


def test_vit_h_14_config_and_count_by_formula():
    """ViT-H/14 (632M parameters) is not built: its config is torchvision's and the count
    formula, checked on a built ViT, gives torchvision's number."""
    from zeroin.vision._vit import _VARIANTS
    assert _VARIANTS["vit_h_14"] == (14, 32, 16, 1280, 5120)
    assert _vit_count(*_VARIANTS["vit_b_16"]) == 86567656           # torchvision's vit_b_16
    tiny = M.VisionTransformer(image_size=28, patch_size=14, num_layers=2, num_heads=2,
                               hidden_dim=8, mlp_dim=12, num_classes=5)
    assert _count(tiny) == _vit_count(14, 2, 2, 8, 12, image_size=28, num_classes=5)
    assert _vit_count(*_VARIANTS["vit_h_14"]) == NUM_PARAMS["vit_h_14"]
    assert M.ViT_H_14_Weights.DEFAULT.name == "IMAGENET1K_SWAG_E2E_V1"
    assert M.ViT_H_14_Weights.DEFAULT.transforms().crop_size == [518]


def test_vit_swag_weights_members_presets_and_counts():
    """torchvision's SWAG members of ViT_B_16_Weights / ViT_L_16_Weights (DEFAULT stays
    IMAGENET1K_V1): end-to-end ones at 384 / 512 (BICUBIC, no resize margin), linear ones at
    224; the models built at the E2E size have its num_params (86,859,496 and 305,174,504,
    counted by the formula above: the position embedding grows)."""
    from zeroin.vision._vit import _VARIANTS
    for enum, e2e, count in ((M.ViT_B_16_Weights, 384, 86859496),
                             (M.ViT_L_16_Weights, 512, 305174504)):
        assert [w.name for w in enum] == ["IMAGENET1K_V1", "IMAGENET1K_SWAG_E2E_V1",
                                          "IMAGENET1K_SWAG_LINEAR_V1"]
        assert enum.DEFAULT.name == "IMAGENET1K_V1"
        for member, size in (("IMAGENET1K_SWAG_E2E_V1", e2e), ("IMAGENET1K_SWAG_LINEAR_V1", 224)):
            preset = enum[member].transforms()
            assert (preset.crop_size, preset.resize_size) == ([size], [size])
            assert preset.interpolation.name == "BICUBIC"
        name = "vit_b_16" if enum is M.ViT_B_16_Weights else "vit_l_16"
        assert _vit_count(*_VARIANTS[name], image_size=e2e) == count
    assert [w.name for w in M.ViT_B_32_Weights] == ["IMAGENET1K_V1"]   # no SWAG weights
    with pytest.raises(NotImplementedError, match="IMAGENET1K_SWAG_E2E_V1"):
        M.vit_b_16(weights=M.ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1)


def _regnet_count(params, stem=32, num_classes=1000):
    """RegNet's parameters from its BlockParams (convs without bias, batch norms 2 each)."""
    total, w_in = 3 * stem * 9 + 2 * stem, stem
    for w_out, _, depth, g, b in params._get_expanded_params():
        for i in range(depth):
            w_b, w0 = int(round(w_out * b)), (w_in if i == 0 else w_out)
            total += w0 * w_b + 2 * w_b + w_b * g * 9 + 2 * w_b + w_b * w_out + 2 * w_out
            if params.se_ratio:
                se = int(round(params.se_ratio * w0))
                total += 2 * w_b * se + se + w_b
            if i == 0:
                total += w0 * w_out + 2 * w_out
        w_in = w_out
    return total + w_in * num_classes + num_classes


def test_regnet_y_128gf_count_by_formula():
    """RegNetY-128GF (645M) is not built: the count from its block parameters, checked on
    two built RegNets, is torchvision's."""
    from zeroin.vision._regnet import _PRESETS, BlockParams

    def params(name):
        depth, w_0, w_a, w_m, gw, se = _PRESETS[name]
        return BlockParams.from_init_params(depth, w_0, w_a, w_m, gw, se_ratio=se)
    for name in ("regnet_y_400mf", "regnet_x_400mf"):
        assert _regnet_count(params(name)) == _count(_small(name)) == NUM_PARAMS[name]
    assert _regnet_count(params("regnet_y_128gf")) == NUM_PARAMS["regnet_y_128gf"]


# --- state_dict keys and shapes, read off torchvision's source -----------------------------

KEYS = {
    "resnet50": {"conv1.weight": (64, 3, 7, 7), "layer1.0.conv3.weight": (256, 64, 1, 1),
                 "layer1.0.downsample.0.weight": (256, 64, 1, 1),
                 "layer1.0.downsample.1.running_var": (256,),
                 "layer2.0.conv2.weight": (128, 128, 3, 3),
                 "layer4.2.bn3.num_batches_tracked": (), "fc.weight": (1000, 2048)},
    "resnext50_32x4d": {"layer1.0.conv2.weight": (128, 4, 3, 3),
                        "layer4.0.conv2.weight": (1024, 32, 3, 3),
                        "layer4.0.conv3.weight": (2048, 1024, 1, 1)},
    "wide_resnet50_2": {"layer1.0.conv1.weight": (128, 64, 1, 1),
                        "layer4.0.conv3.weight": (2048, 1024, 1, 1)},
    "mobilenet_v2": {"features.0.0.weight": (32, 3, 3, 3),
                     "features.1.conv.0.0.weight": (32, 1, 3, 3),
                     "features.1.conv.1.weight": (16, 32, 1, 1),
                     "features.1.conv.2.running_mean": (16,),
                     "features.2.conv.0.0.weight": (96, 16, 1, 1),
                     "features.18.0.weight": (1280, 320, 1, 1),
                     "classifier.1.weight": (1000, 1280)},
    "mobilenet_v3_large": {"features.1.block.0.0.weight": (16, 1, 3, 3),
                           "features.4.block.2.fc1.weight": (24, 72, 1, 1),
                           "features.4.block.2.fc2.bias": (72,),
                           "features.16.0.weight": (960, 160, 1, 1),
                           "classifier.0.weight": (1280, 960),
                           "classifier.3.weight": (1000, 1280)},
    "mobilenet_v3_small": {"features.1.block.1.fc1.weight": (8, 16, 1, 1),
                           "features.12.0.weight": (576, 96, 1, 1),
                           "classifier.0.weight": (1024, 576)},
    "alexnet": {"features.0.weight": (64, 3, 11, 11), "features.10.weight": (256, 256, 3, 3),
                "classifier.1.weight": (4096, 9216), "classifier.6.weight": (1000, 4096)},
    "densenet121": {"features.conv0.weight": (64, 3, 7, 7),
                    "features.denseblock1.denselayer1.norm1.weight": (64,),
                    "features.denseblock1.denselayer6.conv1.weight": (128, 224, 1, 1),
                    "features.transition1.conv.weight": (128, 256, 1, 1),
                    "features.denseblock4.denselayer16.conv2.weight": (32, 128, 3, 3),
                    "features.norm5.running_mean": (1024,), "classifier.weight": (1000, 1024)},
    "densenet161": {"features.conv0.weight": (96, 3, 7, 7),
                    "classifier.weight": (1000, 2208)},
    "squeezenet1_0": {"features.0.weight": (96, 3, 7, 7),
                      "features.3.squeeze.weight": (16, 96, 1, 1),
                      "features.3.expand3x3.weight": (64, 16, 3, 3),
                      "features.12.expand1x1.weight": (256, 64, 1, 1),
                      "classifier.1.weight": (1000, 512, 1, 1)},
    "squeezenet1_1": {"features.0.weight": (64, 3, 3, 3), "features.12.expand3x3.bias": (256,)},
    "shufflenet_v2_x1_0": {"conv1.0.weight": (24, 3, 3, 3),
                           "stage2.0.branch1.0.weight": (24, 1, 3, 3),
                           "stage2.0.branch1.2.weight": (58, 24, 1, 1),
                           "stage2.0.branch2.0.weight": (58, 24, 1, 1),
                           "stage2.1.branch2.0.weight": (58, 58, 1, 1),
                           "stage4.3.branch2.6.running_var": (232,),
                           "conv5.0.weight": (1024, 464, 1, 1), "fc.weight": (1000, 1024)},
    "googlenet": {"conv1.conv.weight": (64, 3, 7, 7), "conv1.bn.running_var": (64,),
                  "inception3a.branch1.conv.weight": (64, 192, 1, 1),
                  "inception3a.branch3.1.conv.weight": (32, 16, 3, 3),
                  "inception3a.branch4.1.conv.weight": (32, 192, 1, 1),
                  "aux1.conv.conv.weight": (128, 512, 1, 1), "aux1.fc1.weight": (1024, 2048),
                  "aux2.fc2.weight": (1000, 1024), "fc.weight": (1000, 1024)},
    "inception_v3": {"Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
                     "Mixed_5b.branch1x1.conv.weight": (64, 192, 1, 1),
                     "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
                     "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
                     "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
                     "Mixed_7b.branch3x3_2b.conv.weight": (384, 384, 3, 1),
                     "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
                     "AuxLogits.conv0.conv.weight": (128, 768, 1, 1),
                     "AuxLogits.conv1.conv.weight": (768, 128, 5, 5),
                     "AuxLogits.fc.weight": (1000, 768), "fc.weight": (1000, 2048)},
    "mnasnet1_0": {"layers.0.weight": (32, 3, 3, 3), "layers.3.weight": (32, 1, 3, 3),
                   "layers.6.weight": (16, 32, 1, 1), "layers.8.0.layers.0.weight": (48, 16, 1, 1),
                   "layers.8.0.layers.3.weight": (48, 1, 3, 3),
                   "layers.9.0.layers.3.weight": (72, 1, 5, 5),
                   "layers.14.weight": (1280, 320, 1, 1), "layers.15.running_var": (1280,),
                   "classifier.1.weight": (1000, 1280)},
    "convnext_tiny": {"features.0.0.weight": (96, 3, 4, 4), "features.0.1.weight": (96,),
                      "features.1.0.layer_scale": (96, 1, 1),
                      "features.1.0.block.0.weight": (96, 1, 7, 7),
                      "features.1.0.block.2.weight": (96,),
                      "features.1.0.block.3.weight": (384, 96),
                      "features.1.0.block.5.weight": (96, 384), "features.2.0.weight": (96,),
                      "features.2.1.weight": (192, 96, 2, 2),
                      "features.7.2.block.5.bias": (768,), "classifier.0.weight": (768,),
                      "classifier.2.weight": (1000, 768)},
    "regnet_y_400mf": {"stem.0.weight": (32, 3, 3, 3), "stem.1.running_var": (32,),
                       "trunk_output.block1.block1-0.proj.0.weight": (48, 32, 1, 1),
                       "trunk_output.block1.block1-0.f.a.0.weight": (48, 32, 1, 1),
                       "trunk_output.block1.block1-0.f.b.0.weight": (48, 8, 3, 3),
                       "trunk_output.block1.block1-0.f.se.fc1.weight": (8, 48, 1, 1),
                       "trunk_output.block1.block1-0.f.c.0.weight": (48, 48, 1, 1),
                       "trunk_output.block4.block4-5.f.c.1.running_mean": (440,),
                       "fc.weight": (1000, 440)},
    "regnet_x_400mf": {"trunk_output.block4.block4-11.f.b.0.weight": (400, 16, 3, 3),
                       "trunk_output.block2.block2-1.f.a.1.weight": (64,),
                       "fc.weight": (1000, 400)},
    "efficientnet_v2_s": {"features.0.0.weight": (24, 3, 3, 3),
                          "features.1.0.block.0.0.weight": (24, 24, 3, 3),
                          "features.2.0.block.0.0.weight": (96, 24, 3, 3),
                          "features.2.0.block.1.0.weight": (48, 96, 1, 1),
                          "features.4.0.block.0.0.weight": (256, 64, 1, 1),
                          "features.4.0.block.2.fc1.weight": (16, 256, 1, 1),
                          "features.7.0.weight": (1280, 256, 1, 1),
                          "classifier.1.weight": (1000, 1280)},
}
# keys torchvision's state dict has none of (the RegNetX has no squeeze-excite, the first
# MobileNetV2 block no expansion, a ShuffleNet stride-1 unit no branch1, ...)
ABSENT = {"regnet_x_400mf": "trunk_output.block1.block1-0.f.se.fc1.weight",
          "mobilenet_v2": "features.1.conv.3.weight",
          "shufflenet_v2_x1_0": "stage2.1.branch1.0.weight",
          "mobilenet_v3_large": "features.1.block.1.fc1.weight"}


def _check_keys(name, state):
    for key, shape in KEYS[name].items():
        assert key in state, (name, key)
        assert tuple(state[key].shape) == shape, (name, key)
    assert ABSENT.get(name, "no.such.key") not in state


def test_state_dict_keys_of_googlenet_with_its_aux_heads():
    _check_keys("googlenet", _small("googlenet").state_dict())


def test_googlenet_and_inception_without_aux_drop_the_aux_keys():
    assert not any(k.startswith("aux") for k in M.googlenet(aux_logits=False).state_dict())
    state = M.inception_v3(aux_logits=False).state_dict()
    assert not any(k.startswith("AuxLogits") for k in state) and "fc.weight" in state


# --- a backward reaches every parameter ----------------------------------------------------

BACKWARD = [("resnet50", 32, {}), ("resnext50_32x4d", 32, {}), ("mobilenet_v2", 32, {}),
            ("mobilenet_v3_small", 32, {}), ("alexnet", 63, {}), ("squeezenet1_1", 32, {}),
            ("shufflenet_v2_x0_5", 32, {}), ("densenet121", 32, {}), ("googlenet", 32, {}),
            ("inception_v3", 75, {"aux_logits": False}), ("mnasnet0_5", 32, {}),
            ("convnext_tiny", 32, {"stochastic_depth_prob": 0.0}), ("regnet_y_400mf", 32, {}),
            ("regnet_x_400mf", 32, {}), ("efficientnet_v2_s", 32, {"stochastic_depth_prob": 0.0})]
# (stochastic depth off: in training it may drop a whole block for both samples)


@pytest.mark.parametrize("name,size,kwargs", BACKWARD, ids=[b[0] for b in BACKWARD])
def test_backward_reaches_every_parameter(name, size, kwargs, f32):
    model = getattr(M, name)(num_classes=10, **kwargs)
    out = model(zeroin.randn(2, 3, size, size))          # training mode: batch statistics
    outs = list(out) if isinstance(out, tuple) else [out]
    assert all(o.shape == (2, 10) for o in outs) and len(outs) == (3 if name == "googlenet"
                                                                   else 1)
    sum(o.square().mean() for o in outs).backward()
    missing = [n for n, p in model.named_parameters()
               if p.grad is None or not np.isfinite(p.grad.numpy()).all()]
    assert not missing, missing
    # a batch norm's bias followed by a conv and a batch norm gets an exactly-zero gradient
    # (the next mean cancels it); every weight gets a nonzero one
    assert all(p.grad.numpy().any() for n, p in model.named_parameters()
               if n.endswith("weight"))


def test_inception_v3_training_returns_logits_and_aux_at_299(f32):
    """In training with aux_logits, InceptionOutputs(logits, aux_logits) (at 299x299, the
    size the auxiliary head needs); in eval only the logits."""
    model = M.inception_v3(num_classes=3)
    model.AuxLogits.train()
    aux_in = zeroin.randn(2, 768, 17, 17)
    assert model.AuxLogits(aux_in).shape == (2, 3)
    with pytest.raises(Exception, match="larger than"):
        model.AuxLogits(zeroin.randn(2, 768, 16, 16))
    model.eval()
    with zeroin.no_grad():
        assert model(zeroin.randn(1, 3, 75, 75)).shape == (1, 3)
    assert M.InceptionOutputs._fields == ("logits", "aux_logits")
    assert M.GoogLeNetOutputs._fields == ("logits", "aux_logits2", "aux_logits1")


# --- torchvision's initialisation -----------------------------------------------------------

def _std(t):
    return float(t.detach().numpy().std())


def _close(value, expected, rel=0.05):
    return abs(value / expected - 1) < rel


def test_init_resnet_family():
    model = _small("resnet50")
    assert _close(_std(model.layer3[0].conv2.weight), math.sqrt(2 / (256 * 9)))   # fan_out
    assert (model.layer2[1].bn2.weight.numpy() == 1).all()
    assert not model.layer2[1].bn2.bias.numpy().any()
    w = model.fc.weight.numpy()                   # PyTorch's default Linear init
    assert np.abs(w).max() <= 1 / math.sqrt(2048) and _close(w.std(), 1 / math.sqrt(3 * 2048))
    zero = M.resnet50(zero_init_residual=True, num_classes=2)
    assert not zero.layer1[0].bn3.weight.numpy().any() and zero.layer1[0].bn2.weight.numpy().all()


def test_init_mobilenets_mnasnet_and_efficientnet_v2():
    v3 = _small("mobilenet_v3_large")
    assert _close(_std(v3.features[16][0].weight), math.sqrt(2 / 960))          # fan_out
    assert _close(_std(v3.classifier[0].weight), 0.01)
    assert not v3.classifier[0].bias.numpy().any()
    assert not v3.features[4].block[2].fc1.bias.numpy().any()
    v2 = _small("mobilenet_v2")
    assert _close(_std(v2.features[18][0].weight), math.sqrt(2 / 1280))
    mnas = _small("mnasnet1_0")                   # kaiming_uniform, fan_out, sigmoid: gain 1
    w = mnas.classifier[1].weight.numpy()
    assert np.abs(w).max() <= math.sqrt(3 / 1000) and _close(w.std(), 1 / math.sqrt(1000))
    assert _close(_std(mnas.layers[14].weight), math.sqrt(2 / 1280))
    assert mnas.layers[1].momentum == pytest.approx(0.0003)
    eff = _small("efficientnet_v2_s")             # uniform +-1/sqrt(out_features)
    w = eff.classifier[1].weight.numpy()
    assert np.abs(w).max() <= 1 / math.sqrt(1000) and _close(w.std(), 1 / math.sqrt(3000))
    assert eff.features[0][1].eps == 1e-3


def test_init_squeezenet_densenet_alexnet_shufflenet():
    sq = _small("squeezenet1_0")
    assert _close(_std(sq.classifier[1].weight), 0.01)
    w = sq.features[0].weight.numpy()             # kaiming_uniform: bound sqrt(6 / fan_in)
    assert np.abs(w).max() <= math.sqrt(6 / 147) and _close(w.std(), math.sqrt(2 / 147), 0.1)
    assert not sq.features[3].expand3x3.bias.numpy().any()
    dn = _small("densenet121")                    # kaiming_normal_, fan_in
    conv = dn.features.denseblock4.denselayer16.conv2.weight
    assert _close(_std(conv), math.sqrt(2 / (128 * 9)))
    assert not dn.classifier.bias.numpy().any()
    alex = _build("alexnet")                      # no init loop: PyTorch's default
    w = alex.classifier[1].weight.numpy()
    assert np.abs(w).max() <= 1 / math.sqrt(9216) and _close(w.std(), 1 / math.sqrt(3 * 9216))
    sh = _small("shufflenet_v2_x1_0")
    w = sh.conv5[0].weight.numpy()
    assert np.abs(w).max() <= 1 / math.sqrt(464) and _close(w.std(), 1 / math.sqrt(3 * 464))


def test_init_inception_googlenet_convnext_regnet():
    inc = _small("inception_v3")
    assert _close(_std(inc.Mixed_7c.branch3x3dbl_2.conv.weight), 0.1)
    assert _close(_std(inc.AuxLogits.fc.weight), 0.001)
    # torchvision sets stddev = 0.01 on the BasicConv2d, which its loop never reads
    assert _close(_std(inc.AuxLogits.conv1.conv.weight), 0.1)
    assert inc.Mixed_5b.branch1x1.bn.eps == 0.001
    g = _small("googlenet")
    assert _close(_std(g.inception4e.branch2[1].conv.weight), 0.01)
    assert _close(_std(g.aux1.fc1.weight), 0.01)
    bias = g.fc.bias.numpy()                      # the loop leaves biases at PyTorch's default
    assert bias.any() and np.abs(bias).max() <= 1 / math.sqrt(1024)
    cn = _small("convnext_tiny")
    w = cn.features[7][0].block[3].weight
    assert _close(_std(w), 0.02) and not cn.features[7][0].block[3].bias.numpy().any()
    assert np.allclose(cn.features[3][1].layer_scale.numpy(), 1e-6)
    rg = _small("regnet_y_400mf")
    assert _close(_std(rg.trunk_output.block4[1].f.c[0].weight), math.sqrt(2 / 440))
    assert _close(_std(rg.fc.weight), 0.01) and not rg.fc.bias.numpy().any()


# --- single blocks against the same block built by hand in PyTorch ------------------------

def _torch_helpers(torch):
    """A Conv2dNormActivation (``cna``) and torchvision.ops' SqueezeExcitation in PyTorch."""
    tnn = torch.nn

    def cna(cin, cout, k=3, stride=1, groups=1, act=tnn.ReLU, eps=1e-5, padding=None):
        layers = [tnn.Conv2d(cin, cout, k, stride, (k - 1) // 2 if padding is None else padding,
                             groups=groups, bias=False), tnn.BatchNorm2d(cout, eps=eps)]
        return tnn.Sequential(*layers, *([act()] if act else []))

    class SE(tnn.Module):
        def __init__(self, c, s, act=tnn.ReLU, scale=tnn.Sigmoid):
            super().__init__()
            self.avgpool, self.fc1, self.fc2 = tnn.AdaptiveAvgPool2d(1), tnn.Conv2d(c, s, 1), \
                tnn.Conv2d(s, c, 1)
            self.activation, self.scale_activation = act(), scale()

        def forward(self, x):
            return self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x))))) * x

    return cna, SE


def _torch_blocks_cnn(torch):
    """ResNeXt bottleneck, MobileNetV3 block, DenseLayer, Fire, ShuffleNet unit."""
    tnn = torch.nn
    cna, SE = _torch_helpers(torch)

    class Bottleneck(tnn.Module):
        def __init__(self, cin, planes, stride, groups, base_width):
            super().__init__()
            w = int(planes * (base_width / 64.0)) * groups
            self.conv1, self.bn1 = tnn.Conv2d(cin, w, 1, bias=False), tnn.BatchNorm2d(w)
            self.conv2 = tnn.Conv2d(w, w, 3, stride, 1, groups=groups, bias=False)
            self.bn2 = tnn.BatchNorm2d(w)
            self.conv3 = tnn.Conv2d(w, planes * 4, 1, bias=False)
            self.bn3, self.relu = tnn.BatchNorm2d(planes * 4), tnn.ReLU()
            self.downsample = tnn.Sequential(tnn.Conv2d(cin, planes * 4, 1, stride, bias=False),
                                             tnn.BatchNorm2d(planes * 4))

        def forward(self, x):
            out = self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))
            return self.relu(self.bn3(self.conv3(out)) + self.downsample(x))

    class V3Block(tnn.Module):   # mobilenetv3.InvertedResidual(16 -> 72 -> 16, 5x5, SE, HS)
        def __init__(self):
            super().__init__()
            bn = lambda c: tnn.BatchNorm2d(c, eps=0.001)  # noqa: E731
            self.block = tnn.Sequential(
                tnn.Sequential(tnn.Conv2d(16, 72, 1, bias=False), bn(72), tnn.Hardswish()),
                tnn.Sequential(tnn.Conv2d(72, 72, 5, 1, 2, groups=72, bias=False), bn(72),
                               tnn.Hardswish()),
                SE(72, 24, scale=tnn.Hardsigmoid),
                tnn.Sequential(tnn.Conv2d(72, 16, 1, bias=False), bn(16)))

        def forward(self, x):
            return self.block(x) + x

    class DenseLayer(tnn.Module):
        def __init__(self, cin, growth, bn_size):
            super().__init__()
            self.norm1, self.relu1 = tnn.BatchNorm2d(cin), tnn.ReLU()
            self.conv1 = tnn.Conv2d(cin, bn_size * growth, 1, bias=False)
            self.norm2, self.relu2 = tnn.BatchNorm2d(bn_size * growth), tnn.ReLU()
            self.conv2 = tnn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

        def forward(self, inputs):
            x = self.conv1(self.relu1(self.norm1(torch.cat(inputs, 1))))
            return self.conv2(self.relu2(self.norm2(x)))

    class Fire(tnn.Module):
        def __init__(self, cin, s, e1, e3):
            super().__init__()
            self.squeeze, self.expand1x1 = tnn.Conv2d(cin, s, 1), tnn.Conv2d(s, e1, 1)
            self.expand3x3 = tnn.Conv2d(s, e3, 3, padding=1)

        def forward(self, x):
            x = torch.relu(self.squeeze(x))
            return torch.cat([torch.relu(self.expand1x1(x)), torch.relu(self.expand3x3(x))], 1)

    class Shuffle(tnn.Module):
        def __init__(self, inp, oup, stride):
            super().__init__()
            b, self.stride = oup // 2, stride
            dw = lambda c: tnn.Conv2d(c, c, 3, stride, 1, groups=c, bias=False)  # noqa: E731
            self.branch1 = tnn.Sequential() if stride == 1 else tnn.Sequential(
                dw(inp), tnn.BatchNorm2d(inp), tnn.Conv2d(inp, b, 1, bias=False),
                tnn.BatchNorm2d(b), tnn.ReLU())
            self.branch2 = tnn.Sequential(
                tnn.Conv2d(inp if stride > 1 else b, b, 1, bias=False), tnn.BatchNorm2d(b),
                tnn.ReLU(), dw(b), tnn.BatchNorm2d(b), tnn.Conv2d(b, b, 1, bias=False),
                tnn.BatchNorm2d(b), tnn.ReLU())

        def forward(self, x):
            if self.stride == 1:
                x1, x2 = x.chunk(2, dim=1)
                out = torch.cat((x1, self.branch2(x2)), 1)
            else:
                out = torch.cat((self.branch1(x), self.branch2(x)), 1)
            n, c, h, w = out.shape
            return out.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, -1, h, w)

    return dict(Bottleneck=Bottleneck, V3Block=V3Block, DenseLayer=DenseLayer, Fire=Fire,
                Shuffle=Shuffle)


def _torch_blocks_modern(torch):
    """ConvNeXt block, RegNetY block, FusedMBConv."""
    tnn = torch.nn
    cna, SE = _torch_helpers(torch)

    class Permute(tnn.Module):
        def __init__(self, dims):
            super().__init__()
            self.dims = dims

        def forward(self, x):
            return x.permute(*self.dims)

    class CNBlock(tnn.Module):
        def __init__(self, dim):
            super().__init__()
            self.block = tnn.Sequential(
                tnn.Conv2d(dim, dim, 7, padding=3, groups=dim), Permute([0, 2, 3, 1]),
                tnn.LayerNorm(dim, eps=1e-6), tnn.Linear(dim, 4 * dim), tnn.GELU(),
                tnn.Linear(4 * dim, dim), Permute([0, 3, 1, 2]))
            self.layer_scale = tnn.Parameter(torch.ones(dim, 1, 1))

        def forward(self, x):
            return self.layer_scale * self.block(x) + x

    class RegNetBlock(tnn.Module):    # ResBottleneckBlock(16 -> 32, stride 2, gw 8, SE 0.25)
        def __init__(self):
            super().__init__()
            self.proj = cna(16, 32, 1, 2, act=None)
            self.f = tnn.Sequential()
            self.f.add_module("a", cna(16, 32, 1))
            self.f.add_module("b", cna(32, 32, 3, 2, groups=4))
            self.f.add_module("se", SE(32, 4))
            self.f.add_module("c", cna(32, 32, 1, act=None))
            self.activation = tnn.ReLU()

        def forward(self, x):
            return self.activation(self.proj(x) + self.f(x))

    class Fused(tnn.Module):          # FusedMBConv(16 -> 64 -> 16, 3x3), eps 1e-3
        def __init__(self):
            super().__init__()
            self.block = tnn.Sequential(cna(16, 64, 3, act=tnn.SiLU, eps=1e-3),
                                        cna(64, 16, 1, act=None, eps=1e-3))

        def forward(self, x):
            return self.block(x) + x

    return dict(CNBlock=CNBlock, RegNetBlock=RegNetBlock, Fused=Fused)


def _torch_blocks_inception(torch):
    """Inception v3's InceptionE, an MNASNet block."""
    tnn = torch.nn
    cna, SE = _torch_helpers(torch)

    class BasicConv2d(tnn.Module):
        def __init__(self, cin, cout, **kwargs):
            super().__init__()
            self.conv = tnn.Conv2d(cin, cout, bias=False, **kwargs)
            self.bn = tnn.BatchNorm2d(cout, eps=0.001)

        def forward(self, x):
            return torch.relu(self.bn(self.conv(x)))

    class InceptionE(tnn.Module):     # Inception v3's 8x8 block, widths as torchvision's
        def __init__(self, cin):
            super().__init__()
            self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
            self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
            self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
            self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
            self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
            self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
            self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
            self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
            self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

        def forward(self, x):
            b3 = self.branch3x3_1(x)
            b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
            bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
            bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
            pool = self.branch_pool(tnn.functional.avg_pool2d(x, 3, stride=1, padding=1))
            return torch.cat([self.branch1x1(x), b3, bd, pool], 1)

    class MnasBlock(tnn.Module):      # mnasnet._InvertedResidual(16 -> 48 -> 16, 5x5)
        def __init__(self):
            super().__init__()
            self.layers = tnn.Sequential(
                tnn.Conv2d(16, 48, 1, bias=False), tnn.BatchNorm2d(48, momentum=0.0003),
                tnn.ReLU(), tnn.Conv2d(48, 48, 5, padding=2, groups=48, bias=False),
                tnn.BatchNorm2d(48, momentum=0.0003), tnn.ReLU(),
                tnn.Conv2d(48, 16, 1, bias=False), tnn.BatchNorm2d(16, momentum=0.0003))

        def forward(self, x):
            return self.layers(x) + x

    return dict(InceptionE=InceptionE, MnasBlock=MnasBlock)


def _torch_blocks(torch):
    """torchvision's blocks written out in PyTorch (torchvision is not installed), with its
    attribute names, so zeroin's state dict loads into them strictly."""
    return {**_torch_blocks_cnn(torch), **_torch_blocks_modern(torch),
            **_torch_blocks_inception(torch)}


def _blocks():
    """(name, zeroin block, torch block factory name, its args, input shape, input is a list)"""
    from functools import partial

    from zeroin.vision import _convnext, _densenet, _efficientnet, _inception, _mnasnet
    from zeroin.vision import _mobilenet, _regnet, _resnet, _small_nets
    v3 = _mobilenet.InvertedResidualConfig(16, 5, 72, 16, True, "HS", 1, 1, 1.0)
    bn3 = partial(zeroin.nn.BatchNorm2d, eps=0.001)
    fused = _efficientnet.FusedMBConvConfig(4, 3, 1, 16, 16, 1)
    return [
        ("resnext_bottleneck", lambda: _resnet.Bottleneck(
            16, 8, 2, zeroin.nn.Sequential(_resnet.conv1x1(16, 32, 2), zeroin.nn.BatchNorm2d(32)),
            groups=2, base_width=32), "Bottleneck", (16, 8, 2, 2, 32), (2, 16, 9, 9), False),
        ("mobilenet_v3_se_hardswish", lambda: _mobilenet.InvertedResidualV3(v3, bn3),
         "V3Block", (), (2, 16, 7, 7), False),
        ("dense_layer", lambda: _densenet._DenseLayer(12, 4, 2, 0.0), "DenseLayer",
         (12, 4, 2), (2, 6, 5, 5), True),
        ("fire", lambda: _small_nets.Fire(6, 3, 4, 5), "Fire", (6, 3, 4, 5), (2, 6, 5, 5),
         False),
        ("shuffle_stride1", lambda: _small_nets.ShuffleUnit(8, 8, 1), "Shuffle", (8, 8, 1),
         (2, 8, 5, 5), False),
        ("shuffle_stride2", lambda: _small_nets.ShuffleUnit(6, 8, 2), "Shuffle", (6, 8, 2),
         (2, 6, 6, 6), False),
        ("convnext_block", lambda: _convnext.CNBlock(8, 0.5, 0.3).eval(), "CNBlock", (8,),
         (2, 8, 9, 9), False),
        ("regnet_y_block", lambda: _regnet.ResBottleneckBlock(
            16, 32, 2, zeroin.nn.BatchNorm2d, zeroin.nn.ReLU, 8, 1.0, 0.25), "RegNetBlock", (),
         (2, 16, 6, 6), False),
        ("fused_mbconv", lambda: _efficientnet.FusedMBConv(fused, 0.0, bn3), "Fused", (),
         (2, 16, 5, 5), False),
        ("inception_e", lambda: _inception.InceptionE(8), "InceptionE", (8,), (2, 8, 3, 3),
         False),
        ("mnasnet_block", lambda: _mnasnet._InvertedResidual(16, 16, 5, 1, 3, 0.0003),
         "MnasBlock", (), (2, 16, 5, 5), False),
    ]


@pytest.mark.parametrize("case", _blocks(), ids=[b[0] for b in _blocks()])
def test_block_matches_torch_by_hand_outputs_and_gradients(case):
    """The block's forward and every gradient agree with PyTorch's (float64, training mode
    but stochastic depth in eval) to ~1e-10, after a strict load of zeroin's state dict."""
    torch = pytest.importorskip("torch")
    _, make, tname, targs, shape, as_list = case
    rng = np.random.default_rng(0)
    zblock = make()
    for p in zblock.parameters():                      # random, so no symmetry hides a bug
        p.data = zeroin.tensor(rng.normal(0, 0.5, tuple(p.shape)))
    tblock = _torch_blocks(torch)[tname](*targs).double()
    tblock.train(zblock.training)
    state = {k: torch.from_numpy(np.array(v.numpy())) for k, v in zblock.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    tblock.load_state_dict(state, strict=False)
    missing = set(tblock.state_dict()) - set(state)
    assert all(k.endswith("num_batches_tracked") for k in missing), missing
    x = rng.normal(0, 1, shape)
    if as_list:
        zx = [zeroin.tensor(x, requires_grad=True), zeroin.tensor(x[:, ::-1].copy(),
                                                                  requires_grad=True)]
        tx = [torch.tensor(t.numpy(), requires_grad=True) for t in zx]
    else:
        zx = zeroin.tensor(x, requires_grad=True)
        tx = torch.tensor(x, requires_grad=True)
    zout, tout = zblock(zx), tblock(tx)
    np.testing.assert_allclose(zout.detach().numpy(), tout.detach().numpy(), rtol=1e-10,
                               atol=1e-10)
    r = rng.normal(0, 1, tuple(zout.shape))
    (zout * zeroin.tensor(r)).sum().backward()
    (tout * torch.from_numpy(r)).sum().backward()
    zins, tins = (zx, tx) if as_list else ([zx], [tx])
    for a, b in zip(zins, tins):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-10)
    tparams = dict(tblock.named_parameters())
    for name, p in zblock.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), rtol=1e-9,
                                   atol=1e-10, err_msg=name)


# --- weights enums, refusals, builder settings -------------------------------------------

BUILDERS = [n for n in M.__all__ if n[0].islower()]


def _enum_name(builder):
    """torchvision's enum name of a builder (ResNet50_Weights, MobileNet_V3_Large_Weights...)."""
    special = {"resnext50_32x4d": "ResNeXt50_32X4D", "resnext101_32x8d": "ResNeXt101_32X8D",
               "resnext101_64x4d": "ResNeXt101_64X4D", "wide_resnet50_2": "Wide_ResNet50_2",
               "wide_resnet101_2": "Wide_ResNet101_2", "mobilenet_v2": "MobileNet_V2",
               "mobilenet_v3_large": "MobileNet_V3_Large",
               "mobilenet_v3_small": "MobileNet_V3_Small", "googlenet": "GoogLeNet",
               "inception_v3": "Inception_V3", "alexnet": "AlexNet", "vit_h_14": "ViT_H_14",
               "maxvit_t": "MaxVit_T"}
    if builder in special:
        return special[builder] + "_Weights"
    for prefix, cls in (("vgg", "VGG"), ("efficientnet_b", "EfficientNet_B"), ("vit_", "ViT_")):
        if builder.startswith(prefix):
            return cls + builder[len(prefix):].upper() + "_Weights"
    for prefix, cls in (("resnet", "ResNet"), ("densenet", "DenseNet"),
                        ("squeezenet", "SqueezeNet"), ("mnasnet", "MNASNet")):
        if builder.startswith(prefix):
            return cls + builder[len(prefix):] + "_Weights"
    for prefix, cls in (("shufflenet_v2_", "ShuffleNet_V2_"), ("convnext_", "ConvNeXt_"),
                        ("regnet_", "RegNet_"), ("efficientnet_v2_", "EfficientNet_V2_"),
                        ("swin_", "Swin_")):
        if builder.startswith(prefix):
            rest = builder[len(prefix):]
            rest = rest.capitalize() if prefix == "convnext_" else rest.upper()
            return cls + rest + "_Weights"
    raise AssertionError(builder)


@pytest.mark.parametrize("name", BUILDERS)
def test_weights_refused_with_the_conversion_recipe(name):
    """Every builder takes torchvision's keyword-only (weights, progress) and refuses
    weights (no download) before building anything; its enum has torchvision's name."""
    import inspect
    builder = getattr(M, name)
    params = inspect.signature(builder).parameters
    assert list(params)[:2] == ["weights", "progress"]
    assert params["weights"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["weights"].default is None and params["progress"].default is True
    enum = getattr(M, _enum_name(name))
    assert enum.__module__ == "zeroin.vision.models" and enum.DEFAULT in list(enum)
    for weights in (enum.DEFAULT, "DEFAULT"):
        with pytest.raises(NotImplementedError, match=rf"(?s){name}\(weights=.*no pretrained"
                                                      rf".*save_file.*{name}\.safetensors"):
            builder(weights=weights)
    with pytest.warns(UserWarning), pytest.raises(NotImplementedError, match=name):
        builder(pretrained=True)


def test_weights_enum_names_defaults_and_presets():
    assert len(BUILDERS) == 80
    assert M.ResNet18_Weights.DEFAULT.transforms().resize_size == [256]   # had no transforms()
    features = M.VGG16_Weights.IMAGENET1K_FEATURES.transforms()
    assert features.mean == [0.48235, 0.45882, 0.40784] and features.std == [1 / 255.0] * 3
    assert M.VGG16_Weights.DEFAULT is M.VGG16_Weights.IMAGENET1K_V1
    assert M.ResNet50_Weights.DEFAULT is M.ResNet50_Weights.IMAGENET1K_V2
    assert M.ResNet50_Weights.IMAGENET1K_V1.transforms().resize_size == [256]
    assert M.ResNet50_Weights.DEFAULT.transforms().resize_size == [232]
    assert [w.name for w in M.ResNeXt101_64X4D_Weights] == ["IMAGENET1K_V1"]
    assert M.MobileNet_V3_Small_Weights.DEFAULT.name == "IMAGENET1K_V1"
    assert M.Inception_V3_Weights.DEFAULT.transforms().crop_size == [299]
    assert M.ConvNeXt_Tiny_Weights.DEFAULT.transforms().resize_size == [236]
    assert M.RegNet_Y_16GF_Weights.IMAGENET1K_SWAG_E2E_V1.transforms().crop_size == [384]
    assert M.RegNet_Y_128GF_Weights.DEFAULT.name == "IMAGENET1K_SWAG_E2E_V1"
    assert M.RegNet_X_400MF_Weights.DEFAULT.name == "IMAGENET1K_V2"
    preset = M.EfficientNet_V2_L_Weights.DEFAULT.transforms()
    assert preset.mean == [0.5] * 3 and preset.std == [0.5] * 3 and preset.crop_size == [480]
    out = M.EfficientNet_V2_S_Weights.DEFAULT.transforms()(zeroin.zeros(3, 400, 500,
                                                                        dtype=zeroin.uint8))
    assert out.shape == (3, 384, 384)


def test_builder_settings_are_torchvisions():
    with pytest.raises(ValueError, match=r"resnext50_32x4d: the parameter 'groups' expected "
                                         r"value 32 but got 4"):
        M.resnext50_32x4d(groups=4)
    assert M.resnext50_32x4d(groups=32, num_classes=3).fc.out_features == 3
    with pytest.raises(ValueError, match="BasicBlock only supports groups=1"):
        M.ResNet(M.BasicBlock, [1, 1, 1, 1], groups=2)
    with pytest.raises(ValueError, match="replace_stride_with_dilation"):
        M.ResNet(M.Bottleneck, [1, 1, 1, 1], replace_stride_with_dilation=[True])
    dilated = M.ResNet(M.Bottleneck, [1, 1, 1, 2], replace_stride_with_dilation=[False, True,
                                                                                    True])
    # a layer's first block keeps the previous dilation (torchvision's previous_dilation)
    assert dilated.layer4[0].conv2.dilation == (2, 2) and dilated.layer4[0].conv2.stride == (1, 1)
    assert dilated.layer4[1].conv2.dilation == (4, 4)
    small = M.mobilenet_v3_small(width_mult=0.75, reduced_tail=True, num_classes=4)
    # last block 96 // 2 * 0.75 -> 40 channels, x 6 = 240; hidden 1024 // 2 * 0.75 = 384
    assert small.classifier[3].out_features == 4
    assert (small.classifier[0].in_features, small.classifier[0].out_features) == (240, 384)
    # the 15th of 18 blocks (3 + 3 + 9th): 0.1 * 14 / 17
    assert M.convnext_tiny().features[5][8].stochastic_depth.p == pytest.approx(0.1 * 14 / 17)
    assert M.efficientnet_v2_s(dropout=0.1).classifier[0].p == 0.1
    with pytest.raises(ValueError, match="Unsupported SqueezeNet version 2_0"):
        M.SqueezeNet("2_0")
    with pytest.raises(ValueError, match="alpha should be greater than 0.0"):
        M.MNASNet(0.0)


def test_googlenet_transform_input_as_torchvision():
    """transform_input maps ImageNet-normalised channels to (x - 0.5) / 0.5 of the pixel."""
    from zeroin.vision._inception import _transform_input
    rng = np.random.default_rng(1)
    pixel = rng.uniform(0, 1, (2, 3, 4, 4))
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    normalised = (pixel - mean[:, None, None]) / std[:, None, None]
    out = _transform_input(zeroin.tensor(normalised)).numpy()
    np.testing.assert_allclose(out, (pixel - 0.5) / 0.5, rtol=1e-12, atol=1e-12)


def test_googlenet_aux_heads_add_torchvisions_aux_parameters():
    """Without weights torchvision's googlenet() has aux_logits=True: two InceptionAux heads
    (1x1 conv to 128 + its batch norm, fc1 2048->1024, fc2 1024->1000) on top of the
    weights' 6624904."""
    aux = lambda cin: cin * 128 + 2 * 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000  # noqa
    assert _count(_small("googlenet")) == NUM_PARAMS["googlenet"] + aux(512) + aux(528)


def test_state_dict_round_trips_through_safetensors(tmp_path, f32):
    """The documented path: a state dict in a .safetensors file loads strictly into a fresh
    model and gives the same output."""
    from zeroin import safetensors
    model = M.mobilenet_v3_small(num_classes=5).eval()
    safetensors.save_file(model.state_dict(), tmp_path / "m.safetensors")
    fresh = M.mobilenet_v3_small(num_classes=5).eval()
    fresh.load_state_dict(safetensors.load_file(tmp_path / "m.safetensors"))
    x = zeroin.randn(2, 3, 32, 32)
    with zeroin.no_grad():
        np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())


@pytest.mark.parametrize("name", ["resnet18", "vgg11", "mobilenet_v2", "efficientnet_b0"])
def test_legacy_pretrained_warns_as_torchvision_and_false_builds_the_model(name):
    """torchvision warns twice on ``pretrained=`` (deprecated since 0.13); zeroin took it
    silently. ``pretrained=False`` then builds the model; ``True`` is refused as weights are."""
    build = getattr(M, name)
    with pytest.warns(UserWarning) as got:
        model = build(pretrained=False)
    said = [str(w.message) for w in got]
    assert said == [
        "The parameter 'pretrained' is deprecated since 0.13 and may be removed in the "
        "future, please use 'weights' instead.",
        "Arguments other than a weight enum or `None` for 'weights' are deprecated since 0.13 "
        "and may be removed in the future. The current behavior is equivalent to passing "
        "`weights=None`."]
    assert sum(p.numel() for p in model.parameters()) > 0
    with pytest.warns(UserWarning), pytest.raises(NotImplementedError, match="no pretrained"):
        build(pretrained=True)
