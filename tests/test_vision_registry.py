"""torchvision's model registry and weights metadata in zeroin.vision.models: list_models,
get_model, get_model_builder, get_model_weights, get_weight (torchvision >= 0.14, its results
and error texts), and every weight's url / meta / transforms() against torchvision 0.29.1's
documented values (docs.pytorch.org/vision "Models and pre-trained weights", models/*.py),
meta["num_params"] against zeroin's own builders."""
import math

import numpy as np
import pytest

import zeroin
from zeroin.vision import models as M

BUILDERS = sorted(n for n in M.__all__ if n[0].islower())
ENUMS = [getattr(M, n) for n in M.__all__ if n.endswith("_Weights")]
MEMBERS = [w for enum in ENUMS for w in enum]          # canonical members, no DEFAULT alias

# built here, with meta["num_params"] compared to their parameters (under ~0.5 s each to
# build); the others (tens to hundreds of millions of parameters, 1-4 s each and more) are
# counted against torchvision's numbers in tests/test_vision_models.py
FAST = ["alexnet", "densenet121", "densenet169", "densenet201", "efficientnet_b0",
        "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "efficientnet_b4",
        "googlenet", "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3", "mobilenet_v2",
        "mobilenet_v3_large", "mobilenet_v3_small", "regnet_x_400mf", "regnet_x_800mf",
        "regnet_x_1_6gf", "regnet_x_3_2gf", "regnet_y_400mf", "regnet_y_800mf",
        "regnet_y_1_6gf", "regnet_y_3_2gf", "resnet18", "shufflenet_v2_x0_5",
        "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0", "squeezenet1_0",
        "squeezenet1_1"]
# what torchvision's builder sets for its weights (GoogLeNet drops its auxiliary heads)
WEIGHTS_CONFIG = {"googlenet": {"aux_logits": False}}

# torchvision 0.29.1's presets (crop/resize interpolation) where they are not 224/256 BILINEAR
PRESETS = {
    "224/256 BICUBIC": ["EfficientNet_B0.IMAGENET1K_V1"],
    "240/256 BICUBIC": ["EfficientNet_B1.IMAGENET1K_V1"],
    "240/255 BILINEAR": ["EfficientNet_B1.IMAGENET1K_V2"],
    "288/288 BICUBIC": ["EfficientNet_B2.IMAGENET1K_V1"],
    "300/320 BICUBIC": ["EfficientNet_B3.IMAGENET1K_V1"],
    "380/384 BICUBIC": ["EfficientNet_B4.IMAGENET1K_V1"],
    "456/456 BICUBIC": ["EfficientNet_B5.IMAGENET1K_V1"],
    "528/528 BICUBIC": ["EfficientNet_B6.IMAGENET1K_V1"],
    "600/600 BICUBIC": ["EfficientNet_B7.IMAGENET1K_V1"],
    "384/384 BICUBIC": ["ViT_B_16.IMAGENET1K_SWAG_E2E_V1", "RegNet_Y_16GF.IMAGENET1K_SWAG_E2E_V1",
                        "RegNet_Y_32GF.IMAGENET1K_SWAG_E2E_V1",
                        "RegNet_Y_128GF.IMAGENET1K_SWAG_E2E_V1"],
    "224/224 BICUBIC": ["ViT_B_16.IMAGENET1K_SWAG_LINEAR_V1", "ViT_L_16.IMAGENET1K_SWAG_LINEAR_V1",
                        "ViT_H_14.IMAGENET1K_SWAG_LINEAR_V1",
                        "RegNet_Y_16GF.IMAGENET1K_SWAG_LINEAR_V1",
                        "RegNet_Y_32GF.IMAGENET1K_SWAG_LINEAR_V1",
                        "RegNet_Y_128GF.IMAGENET1K_SWAG_LINEAR_V1", "MaxVit_T.IMAGENET1K_V1"],
    "224/242 BILINEAR": ["ViT_L_16.IMAGENET1K_V1"],
    "512/512 BICUBIC": ["ViT_L_16.IMAGENET1K_SWAG_E2E_V1"],
    "518/518 BICUBIC": ["ViT_H_14.IMAGENET1K_SWAG_E2E_V1"],
    "384/384 BILINEAR": ["EfficientNet_V2_S.IMAGENET1K_V1"],
    "480/480 BILINEAR": ["EfficientNet_V2_M.IMAGENET1K_V1"],
    "480/480 BICUBIC": ["EfficientNet_V2_L.IMAGENET1K_V1"],
    "224/232 BILINEAR": [
        "ResNet50.IMAGENET1K_V2", "ResNet101.IMAGENET1K_V2", "ResNet152.IMAGENET1K_V2",
        "ResNeXt50_32X4D.IMAGENET1K_V2", "ResNeXt101_32X8D.IMAGENET1K_V2",
        "ResNeXt101_64X4D.IMAGENET1K_V1", "Wide_ResNet50_2.IMAGENET1K_V2",
        "Wide_ResNet101_2.IMAGENET1K_V2", "MobileNet_V2.IMAGENET1K_V2",
        "MobileNet_V3_Large.IMAGENET1K_V2", "ShuffleNet_V2_X1_5.IMAGENET1K_V1",
        "ShuffleNet_V2_X2_0.IMAGENET1K_V1", "MNASNet0_75.IMAGENET1K_V1",
        "MNASNet1_3.IMAGENET1K_V1", "ConvNeXt_Base.IMAGENET1K_V1", "ConvNeXt_Large.IMAGENET1K_V1"]
    + [f"RegNet_{v}.IMAGENET1K_V2" for v in ("Y_400MF", "Y_800MF", "Y_1_6GF", "Y_3_2GF", "Y_8GF",
                                              "Y_16GF", "Y_32GF", "X_400MF", "X_800MF",
                                              "X_1_6GF", "X_3_2GF", "X_8GF", "X_16GF",
                                              "X_32GF")],
    "299/342 BILINEAR": ["Inception_V3.IMAGENET1K_V1"],
    "224/236 BILINEAR": ["ConvNeXt_Tiny.IMAGENET1K_V1"],
    "224/230 BILINEAR": ["ConvNeXt_Small.IMAGENET1K_V1"],
    "224/232 BICUBIC": ["Swin_T.IMAGENET1K_V1"],
    "224/246 BICUBIC": ["Swin_S.IMAGENET1K_V1"],
    "224/238 BICUBIC": ["Swin_B.IMAGENET1K_V1"],
    "256/260 BICUBIC": ["Swin_V2_T.IMAGENET1K_V1", "Swin_V2_S.IMAGENET1K_V1"],
    "256/272 BICUBIC": ["Swin_V2_B.IMAGENET1K_V1"]}
# some of torchvision's metadata, as its docs' tables give it
DOCUMENTED = {  # member: (acc@1, acc@5, GFLOPS, file size MB, min_size, url's file)
    "ResNet50_Weights.IMAGENET1K_V1": (76.13, 92.862, 4.089, 97.781, 1,
                                       "resnet50-0676ba61.pth"),
    "ResNet50_Weights.IMAGENET1K_V2": (80.858, 95.434, 4.089, 97.79, 1,
                                       "resnet50-11ad3fa6.pth"),
    "ViT_H_14_Weights.IMAGENET1K_SWAG_E2E_V1": (88.552, 98.694, 1016.717, 2416.643, 518,
                                                "vit_h_14_swag-80465313.pth"),
    "MobileNet_V3_Small_Weights.IMAGENET1K_V1": (67.668, 87.402, 0.057, 9.829, 1,
                                                 "mobilenet_v3_small-047dcff4.pth"),
    "Inception_V3_Weights.IMAGENET1K_V1": (77.294, 93.45, 5.713, 103.903, 75,
                                           "inception_v3_google-0cc3c7bd.pth"),
}


def _count(model):
    return sum(p.numel() for p in model.parameters())


def test_list_models_is_every_builder_sorted_and_filtered_as_torchvision():
    assert M.list_models() == BUILDERS and len(BUILDERS) == 80
    assert M.list_models(module=M) == BUILDERS
    assert M.list_models(module=zeroin.vision) == [] == M.list_models(module=zeroin.nn)
    assert M.list_models(include="vit_*") == ["vit_b_16", "vit_b_32", "vit_h_14", "vit_l_16",
                                              "vit_l_32"]
    # several patterns: the union of include, less any exclude
    assert M.list_models(include=["swin_v2_*", "resnet1??"], exclude="*_b") == [
        "resnet101", "resnet152", "swin_v2_s", "swin_v2_t"]
    assert M.list_models(include=("mnasnet*",), exclude=["*0_5", "*1_?"]) == ["mnasnet0_75"]
    assert M.list_models(exclude="*") == [] and M.list_models(include="nothing*") == []
    assert M.list_models(include="") == BUILDERS          # falsy: no filter, as torchvision


@pytest.mark.parametrize("name", BUILDERS)
def test_builder_and_weights_enum_of_every_model(name):
    builder = getattr(M, name)
    assert M.get_model_builder(name) is builder is M.get_model_builder(name.upper())
    enum = M.get_model_weights(name)
    assert enum is M.get_model_weights(builder) and enum.__name__.lower() == name + "_weights"
    assert getattr(M, enum.__name__) is enum and issubclass(enum, M.WeightsEnum)


def test_every_model_has_its_own_enum():
    """regnet_x_1_6gf / regnet_x_16gf differ only by an underscore: each has its enum."""
    enums = [M.get_model_weights(n) for n in BUILDERS]
    assert len(set(enums)) == len(ENUMS) == 80
    assert M.get_model_weights("regnet_x_1_6gf") is M.RegNet_X_1_6GF_Weights
    assert M.get_model_weights("regnet_x_16gf") is M.RegNet_X_16GF_Weights


def test_get_model_builds_with_the_config():
    model = M.get_model("resnet18", weights=None, num_classes=10)
    assert type(model) is M.ResNet and model.fc.out_features == 10
    assert _count(model) == 11689512 - 990 * 512 - 990    # torchvision's resnet18, 10 classes
    small = M.get_model("MobileNet_V3_Small", width_mult=0.5, num_classes=3)
    assert small.classifier[-1].out_features == 3
    with pytest.raises(NotImplementedError, match="no pretrained weights"):
        M.get_model("resnet50", weights="DEFAULT")
    with pytest.raises(NotImplementedError, match="resnet50"):
        M.get_model("resnet50", weights=M.get_weight("ResNet50_Weights.IMAGENET1K_V2"))


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.__name__)
def test_get_weight_round_trips_every_member(enum):
    for member in enum:
        full = f"{enum.__name__}.{member.name}"
        assert M.get_weight(full) is member and repr(member) == full == str(member)
        assert enum.verify(full) is member is enum.verify(member.name) is enum.verify(member)
    assert M.get_weight(f"{enum.__name__}.DEFAULT") is enum.DEFAULT is enum.verify("DEFAULT")
    assert enum.DEFAULT in list(enum) and enum.verify(None) is None


def test_registry_errors_are_torchvisions_and_name_what_zeroin_has():
    with pytest.raises(ValueError, match=r"Unknown model resnet5\b.*Did you mean resnet50.*"
                                         r"these 80 models: alexnet, "):
        M.get_model("ResNet5")
    with pytest.raises(ValueError, match=r"Unknown model fasterrcnn_resnet50_fpn.*only "
                                         r"torchvision's classification models"):
        M.get_model_builder("fasterrcnn_resnet50_fpn")
    with pytest.raises(ValueError, match=r"Unknown model vit"):
        M.get_model_weights("vit")
    with pytest.raises(ValueError, match=r"Invalid weight name provided: 'ResNet50_Weights'\."):
        M.get_weight("ResNet50_Weights")
    with pytest.raises(ValueError, match=r"Invalid weight name provided: 'a\.b\.c'"):
        M.get_weight("a.b.c")
    with pytest.raises(ValueError, match=r"The weight enum 'Resnet50_Weights' for the specific "
                                         r"method couldn't be retrieved\. Did you mean "
                                         r"ResNet50_Weights"):
        M.get_weight("Resnet50_Weights.DEFAULT")
    with pytest.raises(ValueError, match="The weight enum 'ResNet' "):
        M.get_weight("ResNet.IMAGENET1K_V1")            # a class, not a weights enum
    with pytest.raises(KeyError, match=r"IMAGENET1K_V3.*IMAGENET1K_V1, IMAGENET1K_V2, DEFAULT"):
        M.get_weight("ResNet50_Weights.IMAGENET1K_V3")
    with pytest.raises(ValueError, match=r"^The method is missing the 'weights' argument\.$"):
        M.get_model_weights(M.ResNet)
    with pytest.raises(ValueError, match="The WeightsEnum class for the specific method "
                                         "couldn't be retrieved"):
        M.get_model_weights(lambda *, weights=None: None)
    with pytest.raises(TypeError, match="Invalid Weight class provided; expected "
                                        "ResNet50_Weights but received ResNet18_Weights"):
        M.ResNet50_Weights.verify(M.ResNet18_Weights.DEFAULT)
    with pytest.raises(KeyError):
        M.ResNet50_Weights.verify("IMAGENET1K_V9")


def test_categories_are_imagenets_in_torchvisions_order():
    categories = M.ResNet50_Weights.DEFAULT.meta["categories"]
    assert isinstance(categories, tuple) and len(categories) == 1000
    known = {0: "tench", 1: "goldfish", 207: "golden retriever", 281: "tabby",
             285: "Egyptian cat", 409: "analog clock", 954: "banana", 999: "toilet tissue",
             134: "crane bird", 517: "crane"}           # torchvision tells its two cranes apart
    assert {i: categories[i] for i in known} == known
    assert all(isinstance(c, str) and c for c in categories)
    # one tuple for every ImageNet member; VGG-16's features-only weights have none
    for w in MEMBERS:
        expected = None if w is M.VGG16_Weights.IMAGENET1K_FEATURES else categories
        assert w.meta["categories"] is expected, w


def test_meta_and_url_of_every_member():
    keys = {"min_size", "categories", "num_params", "recipe", "_metrics", "_ops",
            "_file_size", "_docs"}
    assert len(MEMBERS) == 115
    for w in MEMBERS:
        meta = w.meta
        assert meta is w.meta                              # one dict per member
        assert set(meta) == keys | ({"license"} if "SWAG" in w.name else set()), w
        assert w.url.startswith("https://download.pytorch.org/models/") and \
            w.url.endswith((".pth", ".pt")), w
        h, width = meta["min_size"]
        assert h == width and 1 <= h <= 518 and meta["num_params"] > 10 ** 6
        assert meta["recipe"].startswith("https://github.com/") and meta["_docs"].strip()
        acc = meta["_metrics"]["ImageNet-1K"]
        assert set(acc) == {"acc@1", "acc@5"}
        if w is M.VGG16_Weights.IMAGENET1K_FEATURES:      # no classifier: no accuracy
            assert math.isnan(acc["acc@1"]) and math.isnan(acc["acc@5"])
        else:
            assert 50 < acc["acc@1"] < acc["acc@5"] < 100, w
        assert 0 < meta["_ops"] < 1500 and 4 < meta["_file_size"] < 2600
    urls = [w.url for w in MEMBERS]
    assert len(set(urls)) == len(urls)                     # each member its own file
    for name, (acc1, acc5, ops, size, min_size, file) in DOCUMENTED.items():
        w = M.get_weight(name)
        assert w.meta["_metrics"] == {"ImageNet-1K": {"acc@1": acc1, "acc@5": acc5}}
        assert (w.meta["_ops"], w.meta["_file_size"]) == (ops, size)
        assert w.meta["min_size"] == (min_size, min_size)
        assert w.url == "https://download.pytorch.org/models/" + file
    assert "LICENSE" in M.ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1.meta["license"]
    # SWAG end-to-end weights: the model at its crop has more position embeddings
    assert M.ViT_H_14_Weights.IMAGENET1K_SWAG_E2E_V1.meta["num_params"] == 633470440
    assert M.ViT_H_14_Weights.IMAGENET1K_SWAG_LINEAR_V1.meta["num_params"] == 632045800


@pytest.mark.parametrize("name", FAST)
def test_num_params_is_the_built_models(name, f32):
    model = M.get_model(name, **WEIGHTS_CONFIG.get(name, {}))
    count = _count(model)
    for w in M.get_model_weights(name):
        assert w.meta["num_params"] == count, w


def test_presets_of_every_member_are_torchvisions():
    listed = {m: p for p, members in PRESETS.items() for m in members}
    assert len(listed) == sum(len(v) for v in PRESETS.values())
    normalise = {"VGG16_Weights.IMAGENET1K_FEATURES": ([0.48235, 0.45882, 0.40784],
                                                       [1 / 255.0] * 3),
                 "EfficientNet_V2_L_Weights.IMAGENET1K_V1": ([0.5] * 3, [0.5] * 3)}
    for w in MEMBERS:
        key = f"{type(w).__name__}.{w.name}"
        crop, resize, mode = listed.pop(key.replace("_Weights.", "."),
                                        "224/256 BILINEAR").replace("/", " ").split()
        t = w.transforms()
        assert (t.crop_size, t.resize_size, t.interpolation.name) == \
            ([int(crop)], [int(resize)], mode), key
        assert (t.mean, t.std) == normalise.get(key, ([0.485, 0.456, 0.406],
                                                      [0.229, 0.224, 0.225])), key
        assert t.antialias is True
    assert listed == {}                                   # every listed member exists
    assert M.ResNet50_Weights.IMAGENET1K_V2.transforms().resize_size == [232]
    assert M.ResNet50_Weights.IMAGENET1K_V1.transforms().resize_size == [256]
    assert repr(M.ResNet50_Weights.DEFAULT.transforms()) == (   # torchvision 0.29.1's
        "ImageClassification(\n    crop_size=[224]\n    resize_size=[232]\n"
        "    mean=[0.485, 0.456, 0.406]\n    std=[0.229, 0.224, 0.225]\n"
        "    interpolation=InterpolationMode.BILINEAR\n)")
    # torchvision's transforms is a partial: keywords override the preset
    t = M.ResNet50_Weights.DEFAULT.transforms(antialias=False, crop_size=160)
    assert (t.antialias, t.crop_size, t.resize_size) == (False, [160], [232])


def test_the_documented_inference_example_runs(f32):
    """torchvision's "Using the pre-trained models" example, as written (random weights
    here: the class is whatever the untrained model says, one of ImageNet's)."""
    from zeroin.vision.transforms.functional import to_pil_image
    rng = np.random.default_rng(0)
    img = zeroin.tensor(rng.integers(0, 256, (3, 250, 300), dtype=np.uint8))
    weights = M.ResNet50_Weights.DEFAULT
    model = M.resnet50()
    assert _count(model) == weights.meta["num_params"]
    model.eval()
    preprocess = weights.transforms()
    batch = preprocess(img).unsqueeze(0)
    assert batch.shape == (1, 3, 224, 224) and batch.dtype == zeroin.float32
    with zeroin.no_grad():
        prediction = model(batch).squeeze(0).softmax(0)
    class_id = prediction.argmax().item()
    score = prediction[class_id].item()
    category_name = weights.meta["categories"][class_id]
    assert isinstance(class_id, int) and 0 <= class_id < 1000
    assert category_name == weights.meta["categories"][int(np.argmax(prediction.numpy()))]
    assert 0 < score <= 1 and abs(prediction.sum().item() - 1) < 1e-5
    # a PIL image goes through the same preset to the same tensor up to one grey level where
    # PIL's resize rounds otherwise (torchvision 0.29.1 on this image: a fifth of the values,
    # mean difference 0.00336)
    diff = np.abs(preprocess(to_pil_image(img)).numpy() - batch[0].numpy())
    assert diff.max() <= 1.001 / (255 * 0.224) and diff.mean() < 0.005
