"""torchvision's first tools for images: ``transforms`` (Compose, ToTensor, Normalize, flips,
crops, Resize, ...), ``datasets`` (ImageFolder, MNIST, ...), ``io.decode_image`` and
``models.resnet18``, ``ops.box_iou`` / ``nms`` / ``roi_align``, ``utils.make_grid`` /
``save_image`` / ``draw_bounding_boxes`` ...
Loaded on first use; Pillow only when an image file is opened or an image drawn on.

>>> from zeroin.vision import transforms as T
>>> import numpy as np
>>> T.Compose([T.ToTensor(), T.Normalize([0.5], [0.5])])(np.zeros((2, 3, 1), np.uint8)).shape
zeroin.Size([1, 2, 3])
"""
from . import datasets, io, models, ops, transforms, utils

__all__ = ["datasets", "io", "models", "ops", "transforms", "utils"]
