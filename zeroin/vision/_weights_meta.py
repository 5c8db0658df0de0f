"""torchvision's weights metadata (its ``Weights.url`` and ``meta``) for every member of
zeroin's weight enums, as data: torchvision 0.29.1's values (models/*.py), so that
``ResNet50_Weights.IMAGENET1K_V2.meta["_metrics"]`` reads as there. zeroin has no weights:
the URLs are where torchvision downloads from (see docs/vision_models.md to convert).
Loaded on the first ``.url`` / ``.meta``.
"""

NAN = float("nan")
URL = "https://download.pytorch.org/models/"
SWAG_LICENSE = "https://github.com/facebookresearch/SWAG/blob/main/LICENSE"

# torchvision's ``_docs`` texts (as written there, indentation included), by index
DOCS = (
    'These weights reproduce closely the results of the paper using a simple training recipe.',
    'These weights were trained from scratch by using a simplified training recipe.',
    "\n                These weights can't be used for classification because they are missing values in the `classifier`\n                module. Only the `features` module has valid values and can be used for feature extraction. The weights\n                were trained using the original input standardization method as described in the paper.\n            ",
    'These weights are ported from the original paper.',
    "\n                These weights improve upon the results of the original paper by using a modified version of TorchVision's\n                `new training recipe\n                <https://pytorch.org/blog/how-to-train-state-of-the-art-models-using-torchvision-latest-primitives/>`_.\n            ",
    "\n                These weights were trained from scratch by using a modified version of `DeIT\n                <https://arxiv.org/abs/2012.12877>`_'s training recipe.\n            ",
    '\n                These weights are learnt via transfer learning by end-to-end fine-tuning the original\n                `SWAG <https://arxiv.org/abs/2201.08371>`_ weights on ImageNet-1K data.\n            ',
    '\n                These weights are composed of the original frozen `SWAG <https://arxiv.org/abs/2201.08371>`_ trunk\n                weights and a linear classifier learnt on top of them trained on ImageNet-1K data.\n            ',
    "\n                These weights were trained from scratch by using a modified version of TorchVision's\n                `new training recipe\n                <https://pytorch.org/blog/how-to-train-state-of-the-art-models-using-torchvision-latest-primitives/>`_.\n            ",
    "\n                These weights improve upon the results of the original paper by using TorchVision's `new training recipe\n                <https://pytorch.org/blog/how-to-train-state-of-the-art-models-using-torchvision-latest-primitives/>`_.\n            ",
    "\n                These weights were trained from scratch by using TorchVision's `new training recipe\n                <https://pytorch.org/blog/how-to-train-state-of-the-art-models-using-torchvision-latest-primitives/>`_.\n            ",
    'These weights were trained from scratch by using a simple training recipe.',
    "\n                These weights improve marginally upon the results of the original paper by using a modified version of\n                TorchVision's `new training recipe\n                <https://pytorch.org/blog/how-to-train-state-of-the-art-models-using-torchvision-latest-primitives/>`_.\n            ",
    '\n                These weights improve upon the results of the original paper by using a simple training recipe.\n            ',
    '\n                These weights reproduce closely the results of the paper using a simplified training recipe.\n            ',
    'These weights were trained from scratch to reproduce closely the results of the paper.',
    'These weights are ported from LuaTorch.',
    'These weights reproduce closely the results of the paper.',
    "\n        These weights improve upon the results of the original paper by using a modified version of TorchVision's\n        `new training recipe\n        <https://pytorch.org/blog/how-to-train-state-of-the-art-models-using-torchvision-latest-primitives/>`_.\n    ",
    'These weights reproduce closely the results of the paper using a similar training recipe.',
    'These weights reproduce closely the results of the paper using a similar training recipe.\n            They were trained with a BatchNorm2D momentum of 0.99 instead of the more correct 0.01.',
)

# "Enum.MEMBER": (file under URL, num_params, min_size (square), recipe,
#                 ImageNet-1K acc@1, acc@5, _ops (GFLOPS), _file_size (MB), DOCS index)
WEIGHTS = {
    'ResNet18_Weights.IMAGENET1K_V1': (
        'resnet18-f37072fd.pth', 11689512, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#resnet',
        69.758, 89.078, 1.814, 44.661, 0),
    'ResNet34_Weights.IMAGENET1K_V1': (
        'resnet34-b627a593.pth', 21797672, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#resnet',
        73.314, 91.42, 3.664, 83.275, 0),
    'VGG11_Weights.IMAGENET1K_V1': (
        'vgg11-8a719046.pth', 132863336, 32,
        'https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg',
        69.02, 88.628, 7.609, 506.84, 1),
    'VGG11_BN_Weights.IMAGENET1K_V1': (
        'vgg11_bn-6002323d.pth', 132868840, 32,
        'https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg',
        70.37, 89.81, 7.609, 506.881, 1),
    'VGG13_Weights.IMAGENET1K_V1': (
        'vgg13-19584684.pth', 133047848, 32,
        'https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg',
        69.928, 89.246, 11.308, 507.545, 1),
    'VGG13_BN_Weights.IMAGENET1K_V1': (
        'vgg13_bn-abd245e5.pth', 133053736, 32,
        'https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg',
        71.586, 90.374, 11.308, 507.59, 1),
    'VGG16_Weights.IMAGENET1K_V1': (
        'vgg16-397923af.pth', 138357544, 32,
        'https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg',
        71.592, 90.382, 15.47, 527.796, 1),
    'VGG16_Weights.IMAGENET1K_FEATURES': (
        'vgg16_features-amdegroot-88682ab5.pth', 138357544, 32,
        'https://github.com/amdegroot/ssd.pytorch#training-ssd',
        NAN, NAN, 15.47, 527.802, 2),
    'VGG16_BN_Weights.IMAGENET1K_V1': (
        'vgg16_bn-6c64b313.pth', 138365992, 32,
        'https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg',
        73.36, 91.516, 15.47, 527.866, 1),
    'VGG19_Weights.IMAGENET1K_V1': (
        'vgg19-dcbb9e9d.pth', 143667240, 32,
        'https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg',
        72.376, 90.876, 19.632, 548.051, 1),
    'VGG19_BN_Weights.IMAGENET1K_V1': (
        'vgg19_bn-c79401a0.pth', 143678248, 32,
        'https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg',
        74.218, 91.842, 19.632, 548.143, 1),
    'EfficientNet_B0_Weights.IMAGENET1K_V1': (
        'efficientnet_b0_rwightman-7f5810bc.pth', 5288548, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v1',
        77.692, 93.532, 0.386, 20.451, 3),
    'EfficientNet_B1_Weights.IMAGENET1K_V1': (
        'efficientnet_b1_rwightman-bac287d4.pth', 7794184, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v1',
        78.642, 94.186, 0.687, 30.134, 3),
    'EfficientNet_B1_Weights.IMAGENET1K_V2': (
        'efficientnet_b1-c27df63c.pth', 7794184, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe-with-lr-wd-crop-tuning',
        79.838, 94.934, 0.687, 30.136, 4),
    'EfficientNet_B2_Weights.IMAGENET1K_V1': (
        'efficientnet_b2_rwightman-c35c1473.pth', 9109994, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v1',
        80.608, 95.31, 1.088, 35.174, 3),
    'EfficientNet_B3_Weights.IMAGENET1K_V1': (
        'efficientnet_b3_rwightman-b3899882.pth', 12233232, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v1',
        82.008, 96.054, 1.827, 47.184, 3),
    'EfficientNet_B4_Weights.IMAGENET1K_V1': (
        'efficientnet_b4_rwightman-23ab8bcd.pth', 19341616, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v1',
        83.384, 96.594, 4.394, 74.489, 3),
    'EfficientNet_B5_Weights.IMAGENET1K_V1': (
        'efficientnet_b5_lukemelas-1a07897c.pth', 30389784, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v1',
        83.444, 96.628, 10.266, 116.864, 3),
    'EfficientNet_B6_Weights.IMAGENET1K_V1': (
        'efficientnet_b6_lukemelas-24a108a5.pth', 43040704, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v1',
        84.008, 96.916, 19.068, 165.362, 3),
    'EfficientNet_B7_Weights.IMAGENET1K_V1': (
        'efficientnet_b7_lukemelas-c5b4e57e.pth', 66347960, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v1',
        84.122, 96.908, 37.746, 254.675, 3),
    'ViT_B_16_Weights.IMAGENET1K_V1': (
        'vit_b_16-c867db91.pth', 86567656, 224,
        'https://github.com/pytorch/vision/tree/main/references/classification#vit_b_16',
        81.072, 95.318, 17.564, 330.285, 5),
    'ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1': (
        'vit_b_16_swag-9ac1b537.pth', 86859496, 384,
        'https://github.com/facebookresearch/SWAG',
        85.304, 97.65, 55.484, 331.398, 6),
    'ViT_B_16_Weights.IMAGENET1K_SWAG_LINEAR_V1': (
        'vit_b_16_lc_swag-4e70ced5.pth', 86567656, 224,
        'https://github.com/pytorch/vision/pull/5793',
        81.886, 96.18, 17.564, 330.285, 7),
    'ViT_B_32_Weights.IMAGENET1K_V1': (
        'vit_b_32-d86f8d99.pth', 88224232, 224,
        'https://github.com/pytorch/vision/tree/main/references/classification#vit_b_32',
        75.912, 92.466, 4.409, 336.604, 5),
    'ViT_L_16_Weights.IMAGENET1K_V1': (
        'vit_l_16-852ce7e3.pth', 304326632, 224,
        'https://github.com/pytorch/vision/tree/main/references/classification#vit_l_16',
        79.662, 94.638, 61.555, 1161.023, 8),
    'ViT_L_16_Weights.IMAGENET1K_SWAG_E2E_V1': (
        'vit_l_16_swag-4f3808c9.pth', 305174504, 512,
        'https://github.com/facebookresearch/SWAG',
        88.064, 98.512, 361.986, 1164.258, 6),
    'ViT_L_16_Weights.IMAGENET1K_SWAG_LINEAR_V1': (
        'vit_l_16_lc_swag-4d563306.pth', 304326632, 224,
        'https://github.com/pytorch/vision/pull/5793',
        85.146, 97.422, 61.555, 1161.023, 7),
    'ViT_L_32_Weights.IMAGENET1K_V1': (
        'vit_l_32-c7638314.pth', 306535400, 224,
        'https://github.com/pytorch/vision/tree/main/references/classification#vit_l_32',
        76.972, 93.07, 15.378, 1169.449, 5),
    'ViT_H_14_Weights.IMAGENET1K_SWAG_E2E_V1': (
        'vit_h_14_swag-80465313.pth', 633470440, 518,
        'https://github.com/facebookresearch/SWAG',
        88.552, 98.694, 1016.717, 2416.643, 6),
    'ViT_H_14_Weights.IMAGENET1K_SWAG_LINEAR_V1': (
        'vit_h_14_lc_swag-c1eb923e.pth', 632045800, 224,
        'https://github.com/pytorch/vision/pull/5793',
        85.708, 97.73, 167.295, 2411.209, 7),
    'EfficientNet_V2_S_Weights.IMAGENET1K_V1': (
        'efficientnet_v2_s-dd5fe13b.pth', 21458488, 33,
        'https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v2',
        84.228, 96.878, 8.366, 82.704, 4),
    'EfficientNet_V2_M_Weights.IMAGENET1K_V1': (
        'efficientnet_v2_m-dc08266a.pth', 54139356, 33,
        'https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v2',
        85.112, 97.156, 24.582, 208.01, 4),
    'EfficientNet_V2_L_Weights.IMAGENET1K_V1': (
        'efficientnet_v2_l-59c71312.pth', 118515272, 33,
        'https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v2',
        85.808, 97.788, 56.08, 454.573, 3),
    'ResNet50_Weights.IMAGENET1K_V1': (
        'resnet50-0676ba61.pth', 25557032, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#resnet',
        76.13, 92.862, 4.089, 97.781, 0),
    'ResNet50_Weights.IMAGENET1K_V2': (
        'resnet50-11ad3fa6.pth', 25557032, 1,
        'https://github.com/pytorch/vision/issues/3995#issuecomment-1013906621',
        80.858, 95.434, 4.089, 97.79, 9),
    'ResNet101_Weights.IMAGENET1K_V1': (
        'resnet101-63fe2227.pth', 44549160, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#resnet',
        77.374, 93.546, 7.801, 170.511, 0),
    'ResNet101_Weights.IMAGENET1K_V2': (
        'resnet101-cd907fc2.pth', 44549160, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe',
        81.886, 95.78, 7.801, 170.53, 9),
    'ResNet152_Weights.IMAGENET1K_V1': (
        'resnet152-394f9c45.pth', 60192808, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#resnet',
        78.312, 94.046, 11.514, 230.434, 0),
    'ResNet152_Weights.IMAGENET1K_V2': (
        'resnet152-f82ba261.pth', 60192808, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe',
        82.284, 96.002, 11.514, 230.474, 9),
    'ResNeXt50_32X4D_Weights.IMAGENET1K_V1': (
        'resnext50_32x4d-7cdf4587.pth', 25028904, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#resnext',
        77.618, 93.698, 4.23, 95.789, 0),
    'ResNeXt50_32X4D_Weights.IMAGENET1K_V2': (
        'resnext50_32x4d-1a0047aa.pth', 25028904, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe',
        81.198, 95.34, 4.23, 95.833, 9),
    'ResNeXt101_32X8D_Weights.IMAGENET1K_V1': (
        'resnext101_32x8d-8ba56ff5.pth', 88791336, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#resnext',
        79.312, 94.526, 16.414, 339.586, 0),
    'ResNeXt101_32X8D_Weights.IMAGENET1K_V2': (
        'resnext101_32x8d-110c445d.pth', 88791336, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe-with-fixres',
        82.834, 96.228, 16.414, 339.673, 9),
    'ResNeXt101_64X4D_Weights.IMAGENET1K_V1': (
        'resnext101_64x4d-173b62eb.pth', 83455272, 1,
        'https://github.com/pytorch/vision/pull/5935',
        83.246, 96.454, 15.46, 319.318, 10),
    'Wide_ResNet50_2_Weights.IMAGENET1K_V1': (
        'wide_resnet50_2-95faca4d.pth', 68883240, 1,
        'https://github.com/pytorch/vision/pull/912#issue-445437439',
        78.468, 94.086, 11.398, 131.82, 0),
    'Wide_ResNet50_2_Weights.IMAGENET1K_V2': (
        'wide_resnet50_2-9ba9bcbe.pth', 68883240, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe-with-fixres',
        81.602, 95.758, 11.398, 263.124, 9),
    'Wide_ResNet101_2_Weights.IMAGENET1K_V1': (
        'wide_resnet101_2-32ee1156.pth', 126886696, 1,
        'https://github.com/pytorch/vision/pull/912#issue-445437439',
        78.848, 94.284, 22.753, 242.896, 0),
    'Wide_ResNet101_2_Weights.IMAGENET1K_V2': (
        'wide_resnet101_2-d733dc28.pth', 126886696, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe',
        82.51, 96.02, 22.753, 484.747, 9),
    'MobileNet_V2_Weights.IMAGENET1K_V1': (
        'mobilenet_v2-b0353104.pth', 3504872, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#mobilenetv2',
        71.878, 90.286, 0.301, 13.555, 0),
    'MobileNet_V2_Weights.IMAGENET1K_V2': (
        'mobilenet_v2-7ebf99e0.pth', 3504872, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe-with-reg-tuning',
        72.154, 90.822, 0.301, 13.598, 4),
    'MobileNet_V3_Large_Weights.IMAGENET1K_V1': (
        'mobilenet_v3_large-8738ca79.pth', 5483032, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#mobilenetv3-large--small',
        74.042, 91.34, 0.217, 21.114, 11),
    'MobileNet_V3_Large_Weights.IMAGENET1K_V2': (
        'mobilenet_v3_large-5c1a4163.pth', 5483032, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe-with-reg-tuning',
        75.274, 92.566, 0.217, 21.107, 12),
    'MobileNet_V3_Small_Weights.IMAGENET1K_V1': (
        'mobilenet_v3_small-047dcff4.pth', 2542856, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#mobilenetv3-large--small',
        67.668, 87.402, 0.057, 9.829, 13),
    'AlexNet_Weights.IMAGENET1K_V1': (
        'alexnet-owt-7be5be79.pth', 61100840, 63,
        'https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg',
        56.522, 79.066, 0.714, 233.087, 14),
    'SqueezeNet1_0_Weights.IMAGENET1K_V1': (
        'squeezenet1_0-b66bff10.pth', 1248424, 21,
        'https://github.com/pytorch/vision/pull/49#issuecomment-277560717',
        58.092, 80.42, 0.819, 4.778, 0),
    'SqueezeNet1_1_Weights.IMAGENET1K_V1': (
        'squeezenet1_1-b8a52dc0.pth', 1235496, 17,
        'https://github.com/pytorch/vision/pull/49#issuecomment-277560717',
        58.178, 80.624, 0.349, 4.729, 0),
    'ShuffleNet_V2_X0_5_Weights.IMAGENET1K_V1': (
        'shufflenetv2_x0.5-f707e7126e.pth', 1366792, 1,
        'https://github.com/ericsun99/Shufflenet-v2-Pytorch',
        60.552, 81.746, 0.04, 5.282, 15),
    'ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1': (
        'shufflenetv2_x1-5666bf0f80.pth', 2278604, 1,
        'https://github.com/ericsun99/Shufflenet-v2-Pytorch',
        69.362, 88.316, 0.145, 8.791, 15),
    'ShuffleNet_V2_X1_5_Weights.IMAGENET1K_V1': (
        'shufflenetv2_x1_5-3c479a10.pth', 3503624, 1,
        'https://github.com/pytorch/vision/pull/5906',
        72.996, 91.086, 0.296, 13.557, 10),
    'ShuffleNet_V2_X2_0_Weights.IMAGENET1K_V1': (
        'shufflenetv2_x2_0-8be3c8ee.pth', 7393996, 1,
        'https://github.com/pytorch/vision/pull/5906',
        76.23, 93.006, 0.583, 28.433, 10),
    'DenseNet121_Weights.IMAGENET1K_V1': (
        'densenet121-a639ec97.pth', 7978856, 29,
        'https://github.com/pytorch/vision/pull/116',
        74.434, 91.972, 2.834, 30.845, 16),
    'DenseNet161_Weights.IMAGENET1K_V1': (
        'densenet161-8d451a50.pth', 28681000, 29,
        'https://github.com/pytorch/vision/pull/116',
        77.138, 93.56, 7.728, 110.369, 16),
    'DenseNet169_Weights.IMAGENET1K_V1': (
        'densenet169-b2777c0a.pth', 14149480, 29,
        'https://github.com/pytorch/vision/pull/116',
        75.6, 92.806, 3.36, 54.708, 16),
    'DenseNet201_Weights.IMAGENET1K_V1': (
        'densenet201-c1103571.pth', 20013928, 29,
        'https://github.com/pytorch/vision/pull/116',
        76.896, 93.37, 4.291, 77.373, 16),
    'GoogLeNet_Weights.IMAGENET1K_V1': (
        'googlenet-1378be20.pth', 6624904, 15,
        'https://github.com/pytorch/vision/tree/main/references/classification#googlenet',
        69.778, 89.53, 1.498, 49.731, 3),
    'Inception_V3_Weights.IMAGENET1K_V1': (
        'inception_v3_google-0cc3c7bd.pth', 27161264, 75,
        'https://github.com/pytorch/vision/tree/main/references/classification#inception-v3',
        77.294, 93.45, 5.713, 103.903, 3),
    'MNASNet0_5_Weights.IMAGENET1K_V1': (
        'mnasnet0.5_top1_67.823-3ffadce67e.pth', 2218512, 1,
        'https://github.com/1e100/mnasnet_trainer',
        67.734, 87.49, 0.104, 8.591, 17),
    'MNASNet0_75_Weights.IMAGENET1K_V1': (
        'mnasnet0_75-7090bc5f.pth', 3170208, 1,
        'https://github.com/pytorch/vision/pull/6019',
        71.18, 90.496, 0.215, 12.303, 10),
    'MNASNet1_0_Weights.IMAGENET1K_V1': (
        'mnasnet1.0_top1_73.512-f206786ef8.pth', 4383312, 1,
        'https://github.com/1e100/mnasnet_trainer',
        73.456, 91.51, 0.314, 16.915, 17),
    'MNASNet1_3_Weights.IMAGENET1K_V1': (
        'mnasnet1_3-a4c69d6f.pth', 6282256, 1,
        'https://github.com/pytorch/vision/pull/6019',
        76.506, 93.522, 0.526, 24.246, 10),
    'ConvNeXt_Tiny_Weights.IMAGENET1K_V1': (
        'convnext_tiny-983f1562.pth', 28589128, 32,
        'https://github.com/pytorch/vision/tree/main/references/classification#convnext',
        82.52, 96.146, 4.456, 109.119, 18),
    'ConvNeXt_Small_Weights.IMAGENET1K_V1': (
        'convnext_small-0c510722.pth', 50223688, 32,
        'https://github.com/pytorch/vision/tree/main/references/classification#convnext',
        83.616, 96.65, 8.684, 191.703, 18),
    'ConvNeXt_Base_Weights.IMAGENET1K_V1': (
        'convnext_base-6075fbad.pth', 88591464, 32,
        'https://github.com/pytorch/vision/tree/main/references/classification#convnext',
        84.062, 96.87, 15.355, 338.064, 18),
    'ConvNeXt_Large_Weights.IMAGENET1K_V1': (
        'convnext_large-ea097f82.pth', 197767336, 32,
        'https://github.com/pytorch/vision/tree/main/references/classification#convnext',
        84.414, 96.976, 34.361, 754.537, 18),
    'RegNet_Y_400MF_Weights.IMAGENET1K_V1': (
        'regnet_y_400mf-c65dace8.pth', 4344144, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#small-models',
        74.046, 91.716, 0.402, 16.806, 0),
    'RegNet_Y_400MF_Weights.IMAGENET1K_V2': (
        'regnet_y_400mf-e6988f5f.pth', 4344144, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe',
        75.804, 92.742, 0.402, 16.806, 4),
    'RegNet_Y_800MF_Weights.IMAGENET1K_V1': (
        'regnet_y_800mf-1b27b58c.pth', 6432512, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#small-models',
        76.42, 93.136, 0.834, 24.774, 0),
    'RegNet_Y_800MF_Weights.IMAGENET1K_V2': (
        'regnet_y_800mf-58fc7688.pth', 6432512, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe',
        78.828, 94.502, 0.834, 24.774, 4),
    'RegNet_Y_1_6GF_Weights.IMAGENET1K_V1': (
        'regnet_y_1_6gf-b11a554e.pth', 11202430, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#small-models',
        77.95, 93.966, 1.612, 43.152, 0),
    'RegNet_Y_1_6GF_Weights.IMAGENET1K_V2': (
        'regnet_y_1_6gf-0d7bc02a.pth', 11202430, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe',
        80.876, 95.444, 1.612, 43.152, 4),
    'RegNet_Y_3_2GF_Weights.IMAGENET1K_V1': (
        'regnet_y_3_2gf-b5a9779c.pth', 19436338, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#medium-models',
        78.948, 94.576, 3.176, 74.567, 0),
    'RegNet_Y_3_2GF_Weights.IMAGENET1K_V2': (
        'regnet_y_3_2gf-9180c971.pth', 19436338, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe',
        81.982, 95.972, 3.176, 74.567, 4),
    'RegNet_Y_8GF_Weights.IMAGENET1K_V1': (
        'regnet_y_8gf-d0d0e4a8.pth', 39381472, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#medium-models',
        80.032, 95.048, 8.473, 150.701, 0),
    'RegNet_Y_8GF_Weights.IMAGENET1K_V2': (
        'regnet_y_8gf-dc2b1b54.pth', 39381472, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe',
        82.828, 96.33, 8.473, 150.701, 4),
    'RegNet_Y_16GF_Weights.IMAGENET1K_V1': (
        'regnet_y_16gf-9e6ed7dd.pth', 83590140, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#large-models',
        80.424, 95.24, 15.912, 319.49, 0),
    'RegNet_Y_16GF_Weights.IMAGENET1K_V2': (
        'regnet_y_16gf-3e4a00f9.pth', 83590140, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe',
        82.886, 96.328, 15.912, 319.49, 4),
    'RegNet_Y_16GF_Weights.IMAGENET1K_SWAG_E2E_V1': (
        'regnet_y_16gf_swag-43afe44d.pth', 83590140, 1,
        'https://github.com/facebookresearch/SWAG',
        86.012, 98.054, 46.735, 319.49, 6),
    'RegNet_Y_16GF_Weights.IMAGENET1K_SWAG_LINEAR_V1': (
        'regnet_y_16gf_lc_swag-f3ec0043.pth', 83590140, 1,
        'https://github.com/pytorch/vision/pull/5793',
        83.976, 97.244, 15.912, 319.49, 7),
    'RegNet_Y_32GF_Weights.IMAGENET1K_V1': (
        'regnet_y_32gf-4dee3f7a.pth', 145046770, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#large-models',
        80.878, 95.34, 32.28, 554.076, 0),
    'RegNet_Y_32GF_Weights.IMAGENET1K_V2': (
        'regnet_y_32gf-8db6d4b5.pth', 145046770, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe',
        83.368, 96.498, 32.28, 554.076, 4),
    'RegNet_Y_32GF_Weights.IMAGENET1K_SWAG_E2E_V1': (
        'regnet_y_32gf_swag-04fdfa75.pth', 145046770, 1,
        'https://github.com/facebookresearch/SWAG',
        86.838, 98.362, 94.826, 554.076, 6),
    'RegNet_Y_32GF_Weights.IMAGENET1K_SWAG_LINEAR_V1': (
        'regnet_y_32gf_lc_swag-e1583746.pth', 145046770, 1,
        'https://github.com/pytorch/vision/pull/5793',
        84.622, 97.48, 32.28, 554.076, 7),
    'RegNet_Y_128GF_Weights.IMAGENET1K_SWAG_E2E_V1': (
        'regnet_y_128gf_swag-c8ce3e52.pth', 644812894, 1,
        'https://github.com/facebookresearch/SWAG',
        88.228, 98.682, 374.57, 2461.564, 6),
    'RegNet_Y_128GF_Weights.IMAGENET1K_SWAG_LINEAR_V1': (
        'regnet_y_128gf_lc_swag-cbe8ce12.pth', 644812894, 1,
        'https://github.com/pytorch/vision/pull/5793',
        86.068, 97.844, 127.518, 2461.564, 7),
    'RegNet_X_400MF_Weights.IMAGENET1K_V1': (
        'regnet_x_400mf-adf1edd5.pth', 5495976, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#small-models',
        72.834, 90.95, 0.414, 21.258, 0),
    'RegNet_X_400MF_Weights.IMAGENET1K_V2': (
        'regnet_x_400mf-62229a5f.pth', 5495976, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe-with-fixres',
        74.864, 92.322, 0.414, 21.257, 4),
    'RegNet_X_800MF_Weights.IMAGENET1K_V1': (
        'regnet_x_800mf-ad17e45c.pth', 7259656, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#small-models',
        75.212, 92.348, 0.8, 27.945, 0),
    'RegNet_X_800MF_Weights.IMAGENET1K_V2': (
        'regnet_x_800mf-94a99ebd.pth', 7259656, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe-with-fixres',
        77.522, 93.826, 0.8, 27.945, 4),
    'RegNet_X_1_6GF_Weights.IMAGENET1K_V1': (
        'regnet_x_1_6gf-e3633e7f.pth', 9190136, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#small-models',
        77.04, 93.44, 1.603, 35.339, 0),
    'RegNet_X_1_6GF_Weights.IMAGENET1K_V2': (
        'regnet_x_1_6gf-a12f2b72.pth', 9190136, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe-with-fixres',
        79.668, 94.922, 1.603, 35.339, 4),
    'RegNet_X_3_2GF_Weights.IMAGENET1K_V1': (
        'regnet_x_3_2gf-f342aeae.pth', 15296552, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#medium-models',
        78.364, 93.992, 3.177, 58.756, 0),
    'RegNet_X_3_2GF_Weights.IMAGENET1K_V2': (
        'regnet_x_3_2gf-7071aa85.pth', 15296552, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe',
        81.196, 95.43, 3.177, 58.756, 4),
    'RegNet_X_8GF_Weights.IMAGENET1K_V1': (
        'regnet_x_8gf-03ceed89.pth', 39572648, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#medium-models',
        79.344, 94.686, 7.995, 151.456, 0),
    'RegNet_X_8GF_Weights.IMAGENET1K_V2': (
        'regnet_x_8gf-2b70d774.pth', 39572648, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe',
        81.682, 95.678, 7.995, 151.456, 4),
    'RegNet_X_16GF_Weights.IMAGENET1K_V1': (
        'regnet_x_16gf-2007eb11.pth', 54278536, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#medium-models',
        80.058, 94.944, 15.941, 207.627, 0),
    'RegNet_X_16GF_Weights.IMAGENET1K_V2': (
        'regnet_x_16gf-ba3796d7.pth', 54278536, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe',
        82.716, 96.196, 15.941, 207.627, 4),
    'RegNet_X_32GF_Weights.IMAGENET1K_V1': (
        'regnet_x_32gf-9d47f8d0.pth', 107811560, 1,
        'https://github.com/pytorch/vision/tree/main/references/classification#large-models',
        80.622, 95.248, 31.736, 412.039, 0),
    'RegNet_X_32GF_Weights.IMAGENET1K_V2': (
        'regnet_x_32gf-6eb8fdc6.pth', 107811560, 1,
        'https://github.com/pytorch/vision/issues/3995#new-recipe',
        83.014, 96.288, 31.736, 412.039, 4),
    'Swin_T_Weights.IMAGENET1K_V1': (
        'swin_t-704ceda3.pth', 28288354, 224,
        'https://github.com/pytorch/vision/tree/main/references/classification#swintransformer',
        81.474, 95.776, 4.491, 108.19, 19),
    'Swin_S_Weights.IMAGENET1K_V1': (
        'swin_s-5e29d889.pth', 49606258, 224,
        'https://github.com/pytorch/vision/tree/main/references/classification#swintransformer',
        83.196, 96.36, 8.741, 189.786, 19),
    'Swin_B_Weights.IMAGENET1K_V1': (
        'swin_b-68c6b09e.pth', 87768224, 224,
        'https://github.com/pytorch/vision/tree/main/references/classification#swintransformer',
        83.582, 96.64, 15.431, 335.364, 19),
    'Swin_V2_T_Weights.IMAGENET1K_V1': (
        'swin_v2_t-b137f0e2.pth', 28351570, 256,
        'https://github.com/pytorch/vision/tree/main/references/classification#swintransformer-v2',
        82.072, 96.132, 5.94, 108.626, 19),
    'Swin_V2_S_Weights.IMAGENET1K_V1': (
        'swin_v2_s-637d8ceb.pth', 49737442, 256,
        'https://github.com/pytorch/vision/tree/main/references/classification#swintransformer-v2',
        83.712, 96.816, 11.546, 190.675, 19),
    'Swin_V2_B_Weights.IMAGENET1K_V1': (
        'swin_v2_b-781e5279.pth', 87930848, 256,
        'https://github.com/pytorch/vision/tree/main/references/classification#swintransformer-v2',
        84.112, 96.864, 20.325, 336.372, 19),
    'MaxVit_T_Weights.IMAGENET1K_V1': (
        'maxvit_t-bc5ab103.pth', 30919624, 224,
        'https://github.com/pytorch/vision/tree/main/references/classification#maxvit',
        83.7, 96.722, 5.558, 118.769, 20),
}
