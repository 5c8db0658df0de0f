"""torchvision's transforms that a CIFAR / ImageNet training script adds to the basics:
``RandomAffine``, ``RandomPerspective``, the random colour ops (``RandomInvert``,
``RandomPosterize``, ``RandomAdjustSharpness``, ``RandomAutocontrast``, ``RandomEqualize``),
``FiveCrop`` / ``TenCrop``, ``PILToTensor``, ``LinearTransformation``, ``ElasticTransform``
and the learned
policies ``AutoAugment``, ``RandAugment`` and ``AugMix`` (sharing TrivialAugmentWide's op
table and ``_apply_op``). Random parameters are drawn in torchvision's order with its
calls, so on the torch stream (``zeroin.random.use_torch_stream``) they are torchvision's.
"""
from __future__ import annotations

import enum
import numbers

import numpy as np

from ..._tensor import Tensor
from ...random import get_rng, torch_stream
from . import (
    _apply_op,
    _aug_space,
    _degrees,
    _draws,
    _fill_arg,
    _negate,
    _p_arg,
    _uniform,
    functional,
)
from .functional import InterpolationMode, _chw, _kind, _mode, _size

__all__ = ["AugMix", "AutoAugment", "AutoAugmentPolicy", "ElasticTransform", "FiveCrop",
           "LinearTransformation",
           "PILToTensor", "RandAugment", "RandomAdjustSharpness", "RandomAffine",
           "RandomAutocontrast", "RandomEqualize", "RandomInvert", "RandomPerspective",
           "RandomPosterize", "TenCrop"]


def _pair_range(value, op, name, sizes=(2,)):
    """A sequence of ``sizes`` numbers, torchvision's ``_check_sequence_input``."""
    if not (isinstance(value, (tuple, list)) and len(value) in sizes
            and all(isinstance(v, numbers.Real) for v in value)):
        want = " or ".join(str(n) for n in sizes)
        raise TypeError(f"{op}: {name} should be a sequence of length {want} numbers, got "
                        f"{value!r}")
    return [float(v) for v in value]


class RandomAffine:
    """A random affine map about the centre (or ``center``): angle from ``degrees`` (d:
    [-d, d]), translation up to ``translate`` (fractions (a, b) of width and height),
    ``scale`` from (min, max), shear from ``shear`` (s: x in [-s, s]; (min, max): x;
    4 numbers: x and y ranges); outside pixels are ``fill``, as torchvision."""

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation=InterpolationMode.NEAREST, fill=0, center=None):
        self.degrees = _degrees(degrees, "RandomAffine")
        if translate is not None:
            translate = _pair_range(translate, "RandomAffine", "translate")
            if not all(0.0 <= t <= 1.0 for t in translate):
                raise ValueError(f"RandomAffine: translation values should be between 0 and "
                                 f"1 (fractions of the width and height), got {translate}")
        if scale is not None:
            scale = _pair_range(scale, "RandomAffine", "scale")
            if min(scale) <= 0:
                raise ValueError(f"RandomAffine: scale values should be positive, got {scale}")
        if shear is not None:
            if isinstance(shear, numbers.Real) and not isinstance(shear, bool):
                shear = list(_degrees(shear, "RandomAffine: shear"))
            else:
                shear = _pair_range(shear, "RandomAffine", "shear", (2, 4))
        if center is not None:
            center = _pair_range(center, "RandomAffine", "center")
        self.translate, self.scale, self.shear, self.center = translate, scale, shear, center
        self.interpolation = _mode(interpolation, "RandomAffine")
        self.fill = _fill_arg(fill, "RandomAffine")

    @staticmethod
    def get_params(degrees, translate, scale_ranges, shears, img_size):
        """(angle, (tx, ty), scale, (shear x, shear y)) for an image of ``img_size``
        (width, height), drawn as torchvision's (angle, tx, ty, scale, shears)."""
        rng = _draws()
        angle = float(rng.uniform(float(degrees[0]), float(degrees[1])))
        tx = ty = 0
        if translate is not None:
            max_dx, max_dy = float(translate[0] * img_size[0]), float(translate[1] * img_size[1])
            tx = round(float(rng.uniform(-max_dx, max_dx)))
            ty = round(float(rng.uniform(-max_dy, max_dy)))
        scale = 1.0 if scale_ranges is None else float(rng.uniform(scale_ranges[0],
                                                                   scale_ranges[1]))
        shear_x = shear_y = 0.0
        if shears is not None:
            shear_x = float(rng.uniform(shears[0], shears[1]))
            if len(shears) == 4:
                shear_y = float(rng.uniform(shears[2], shears[3]))
        return angle, (tx, ty), scale, (shear_x, shear_y)

    def __call__(self, img):
        h, w = _size(img, _kind(img, "RandomAffine"))
        angle, t, scale, shear = self.get_params(self.degrees, self.translate, self.scale,
                                                 self.shear, [w, h])
        return functional.affine(img, angle, list(t), scale, list(shear), self.interpolation,
                                 self.fill, self.center)

    def __repr__(self):
        return (f"RandomAffine(degrees={self.degrees}, translate={self.translate}, "
                f"scale={self.scale}, shear={self.shear}, interpolation="
                f"{self.interpolation.value}, fill={self.fill}, center={self.center})")


class RandomPerspective:
    """With probability ``p``, a random perspective warp: each corner moves inwards by up
    to ``distortion_scale`` of half the width / height (torchvision's draws)."""

    def __init__(self, distortion_scale=0.5, p=0.5, interpolation=InterpolationMode.BILINEAR,
                 fill=0):
        if not 0 <= distortion_scale <= 1:
            raise ValueError(f"RandomPerspective: distortion_scale should be between 0 and 1, "
                             f"got {distortion_scale!r}")
        self.distortion_scale, self.p = distortion_scale, _p_arg(p, "RandomPerspective")
        self.interpolation = _mode(interpolation, "RandomPerspective")
        self.fill = _fill_arg(fill, "RandomPerspective")

    @staticmethod
    def get_params(width, height, distortion_scale):
        """(startpoints, endpoints): the corners [x, y] (top-left, top-right, bottom-right,
        bottom-left) and where they go, drawn as torchvision's (x then y, corner by corner)."""
        rng = _draws()
        dx, dy = int(distortion_scale * (width // 2)), int(distortion_scale * (height // 2))
        lo_x, hi_x = (0, dx + 1), (width - dx - 1, width)
        lo_y, hi_y = (0, dy + 1), (height - dy - 1, height)
        end = [[int(rng.integers(*xr)), int(rng.integers(*yr))]
               for xr, yr in ((lo_x, lo_y), (hi_x, lo_y), (hi_x, hi_y), (lo_x, hi_y))]
        start = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]
        return start, end

    def __call__(self, img):
        h, w = _size(img, _kind(img, "RandomPerspective"))
        if _uniform() < self.p:            # torchvision's torch.rand(1) < p
            start, end = self.get_params(w, h, self.distortion_scale)
            return functional.perspective(img, start, end, self.interpolation, self.fill)
        return img

    def __repr__(self):
        return f"RandomPerspective(p={self.p})"


class _RandomOp:
    """A functional op applied with probability ``p`` (torchvision's ``torch.rand(1).item()
    < p``), else the image unchanged."""

    _name = ""

    def __init__(self, p=0.5):
        self.p = _p_arg(p, self._name)

    def _op(self, img):
        raise NotImplementedError

    def __call__(self, img):
        _kind(img, self._name)
        return self._op(img) if _uniform() < self.p else img

    def __repr__(self):
        return f"{self._name}(p={self.p})"


class RandomInvert(_RandomOp):
    """:func:`functional.invert` with probability ``p``."""
    _name = "RandomInvert"

    def _op(self, img):
        return functional.invert(img)


class RandomAutocontrast(_RandomOp):
    """:func:`functional.autocontrast` with probability ``p``."""
    _name = "RandomAutocontrast"

    def _op(self, img):
        return functional.autocontrast(img)


class RandomEqualize(_RandomOp):
    """:func:`functional.equalize` (PIL or uint8 images) with probability ``p``."""
    _name = "RandomEqualize"

    def _op(self, img):
        return functional.equalize(img)


class RandomPosterize(_RandomOp):
    """:func:`functional.posterize` to ``bits`` bits (PIL or uint8) with probability ``p``."""
    _name = "RandomPosterize"

    def __init__(self, bits, p=0.5):
        super().__init__(p)
        self.bits = bits

    def _op(self, img):
        return functional.posterize(img, self.bits)

    def __repr__(self):
        return f"RandomPosterize(bits={self.bits},p={self.p})"


class RandomAdjustSharpness(_RandomOp):
    """:func:`functional.adjust_sharpness` by ``sharpness_factor`` with probability ``p``."""
    _name = "RandomAdjustSharpness"

    def __init__(self, sharpness_factor, p=0.5):
        super().__init__(p)
        if sharpness_factor < 0:
            raise ValueError(f"RandomAdjustSharpness: sharpness_factor ({sharpness_factor!r}) "
                             f"must be non-negative")
        self.sharpness_factor = sharpness_factor

    def _op(self, img):
        return functional.adjust_sharpness(img, self.sharpness_factor)

    def __repr__(self):
        return f"RandomAdjustSharpness(sharpness_factor={self.sharpness_factor},p={self.p})"


class FiveCrop:
    """The four corner crops and the central crop of ``size``, as a tuple of 5 images
    (stack them in a ``Lambda`` for a test-time batch, as torchvision's docs show)."""

    def __init__(self, size):
        self.size = functional._pair(size, "FiveCrop")

    def __call__(self, img):
        return functional.five_crop(img, self.size)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size})"


class TenCrop(FiveCrop):
    """:class:`FiveCrop` of the image and of its mirror (``vertical_flip``: top-bottom,
    else left-right): a tuple of 10 images."""

    def __init__(self, size, vertical_flip=False):
        self.size = functional._pair(size, "TenCrop")
        self.vertical_flip = vertical_flip

    def __call__(self, img):
        return functional.ten_crop(img, self.size, self.vertical_flip)

    def __repr__(self):
        return f"TenCrop(size={self.size}, vertical_flip={self.vertical_flip})"


class PILToTensor:
    """A PIL image as a tensor (C, H, W) of its dtype, not rescaled (``ToTensor`` scales
    uint8 to [0, 1])."""

    def __call__(self, pic):
        return functional.pil_to_tensor(pic)

    def __repr__(self):
        return "PILToTensor()"


class LinearTransformation:
    """``(x.flatten() - mean_vector) @ transformation_matrix`` per image of a (..., C, H, W)
    tensor, reshaped back: ZCA whitening, as torchvision (the matrix is D x D, D = C*H*W)."""

    def __init__(self, transformation_matrix, mean_vector):
        m, v = transformation_matrix, mean_vector
        if not isinstance(m, Tensor) or not isinstance(v, Tensor):
            raise TypeError(f"LinearTransformation: transformation_matrix and mean_vector "
                            f"should be tensors, got {type(m).__name__} and "
                            f"{type(v).__name__}")
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ValueError(f"LinearTransformation: transformation_matrix should be square, "
                             f"got {tuple(m.shape)} rectangular matrix")
        if v.shape[0] != m.shape[0]:
            raise ValueError(f"LinearTransformation: mean_vector should have the same length "
                             f"{v.shape[0]} as any one of the dimensions of the "
                             f"transformation_matrix [{tuple(m.shape)}]")
        if m.dtype != v.dtype:
            raise ValueError(f"LinearTransformation: input tensors should have the same "
                             f"dtype, got {m.dtype} and {v.dtype}")
        self.transformation_matrix, self.mean_vector = m, v

    def __call__(self, tensor):
        shape = tuple(tensor.shape)
        n = int(np.prod(shape[-3:])) if len(shape) >= 3 else -1
        if n != self.transformation_matrix.shape[0]:
            raise ValueError(f"LinearTransformation: input tensor and transformation matrix "
                             f"have incompatible shape: {shape} gives C*H*W = {n} != "
                             f"{self.transformation_matrix.shape[0]}")
        flat = tensor.reshape(-1, n) - self.mean_vector
        m = self.transformation_matrix
        if m.dtype != flat.dtype:
            m = Tensor(np.asarray(m.data).astype(flat.dtype))
        return (flat @ m).reshape(shape)

    def __repr__(self):
        m, v = self.transformation_matrix.tolist(), self.mean_vector.tolist()
        return f"LinearTransformation(transformation_matrix={m}, mean_vector={v})"


class AutoAugmentPolicy(enum.Enum):
    """AutoAugment's policies learned on ImageNet, CIFAR10 and SVHN (torchvision's)."""
    IMAGENET = "imagenet"
    CIFAR10 = "cifar10"
    SVHN = "svhn"


_POLICIES = {  # torchvision's autoaugment.py: ((op, probability, magnitude bin), x2) each
    AutoAugmentPolicy.IMAGENET: (
        "Posterize .4 8 Rotate .6 9|Solarize .6 5 AutoContrast .6 -|Equalize .8 - Equalize .6 -|"
        "Posterize .6 7 Posterize .6 6|Equalize .4 - Solarize .2 4|Equalize .4 - Rotate .8 8|"
        "Solarize .6 3 Equalize .6 -|Posterize .8 5 Equalize 1 -|Rotate .2 3 Solarize .6 8|"
        "Equalize .6 - Posterize .4 6|Rotate .8 8 Color .4 0|Rotate .4 9 Equalize .6 -|"
        "Equalize 0 - Equalize .8 -|Invert .6 - Equalize 1 -|Color .6 4 Contrast 1 8|"
        "Rotate .8 8 Color 1 2|Color .8 8 Solarize .8 7|Sharpness .4 7 Invert .6 -|"
        "ShearX .6 5 Equalize 1 -|Color .4 0 Equalize .6 -|Equalize .4 - Solarize .2 4|"
        "Solarize .6 5 AutoContrast .6 -|Invert .6 - Equalize 1 -|Color .6 4 Contrast 1 8|"
        "Equalize .8 - Equalize .6 -"),
    AutoAugmentPolicy.CIFAR10: (
        "Invert .1 - Contrast .2 6|Rotate .7 2 TranslateX .3 9|Sharpness .8 1 Sharpness .9 3|"
        "ShearY .5 8 TranslateY .7 9|AutoContrast .5 - Equalize .9 -|ShearY .2 7 Posterize .3 7|"
        "Color .4 3 Brightness .6 7|Sharpness .3 9 Brightness .7 9|Equalize .6 - Equalize .5 -|"
        "Contrast .6 7 Sharpness .6 5|Color .7 7 TranslateX .5 8|Equalize .3 - AutoContrast .4 -|"
        "TranslateY .4 3 Sharpness .2 6|Brightness .9 6 Color .2 8|Solarize .5 2 Invert 0 -|"
        "Equalize .2 - AutoContrast .6 -|Equalize .2 - Equalize .6 -|Color .9 9 Equalize .6 -|"
        "AutoContrast .8 - Solarize .2 8|Brightness .1 3 Color .7 0|"
        "Solarize .4 5 AutoContrast .9 -|TranslateY .9 9 TranslateY .7 9|"
        "AutoContrast .9 - Solarize .8 3|Equalize .8 - Invert .1 -|"
        "TranslateY .7 9 AutoContrast .9 -"),
    AutoAugmentPolicy.SVHN: (
        "ShearX .9 4 Invert .2 -|ShearY .9 8 Invert .7 -|Equalize .6 - Solarize .6 6|"
        "Invert .9 - Equalize .6 -|Equalize .6 - Rotate .9 3|ShearX .9 4 AutoContrast .8 -|"
        "ShearY .9 8 Invert .4 -|ShearY .9 5 Solarize .2 6|Invert .9 - AutoContrast .8 -|"
        "Equalize .6 - Rotate .9 3|ShearX .9 4 Solarize .3 3|ShearY .8 8 Invert .7 -|"
        "Equalize .9 - TranslateY .6 6|Invert .9 - Equalize .6 -|Contrast .3 3 Rotate .8 4|"
        "Invert .8 - TranslateY 0 2|ShearY .7 6 Solarize .4 8|Invert .6 - Rotate .8 4|"
        "ShearY .3 7 TranslateX .9 3|ShearX .1 6 Invert .6 -|Solarize .7 2 TranslateY .6 7|"
        "ShearY .8 4 Invert .8 -|ShearX .7 9 TranslateY .8 3|ShearY .8 5 AutoContrast .7 -|"
        "ShearX .7 2 Invert .1 -"),
}


def _policy(text):
    """The compact table above as torchvision's list of ((name, p, magnitude id), x2)."""
    out = []
    for row in text.split("|"):
        w = row.split()
        out.append(tuple((w[k], float(w[k + 1]), None if w[k + 2] == "-" else int(w[k + 2]))
                         for k in (0, 3)))
    return out


def _tensor_fill(img, fill):
    """torchvision's fill for a tensor image: a number becomes one per channel."""
    if fill is None or not isinstance(img, Tensor):
        return fill
    chans = img.shape[-3] if img.ndim >= 3 else 1
    return [float(fill)] * chans if isinstance(fill, numbers.Real) else [float(f) for f in fill]


class AutoAugment:
    """AutoAugment (Cubuk et al., 2019): one of the ``policy``'s 25 sub-policies drawn,
    each of its two ops applied with its probability at its magnitude (torchvision's
    tables; PIL or uint8 images, as there)."""

    _v2_draws = False       # v2: each op's torch.rand(()) <= p, then its sign, as drawn

    def __init__(self, policy=AutoAugmentPolicy.IMAGENET,
                 interpolation=InterpolationMode.NEAREST, fill=None):
        if not isinstance(policy, AutoAugmentPolicy):      # torchvision's ValueError
            raise ValueError(  # noqa: TRY004
                f"AutoAugment: the provided policy {policy!r} is not recognized; give "
                f"AutoAugmentPolicy.IMAGENET, .CIFAR10 or .SVHN")
        self.policy, self.fill = policy, fill
        self.interpolation = _mode(interpolation, "AutoAugment")
        self.policies = _policy(_POLICIES[policy])

    @staticmethod
    def _augmentation_space(num_bins, image_size, v2=False):
        """op name: (magnitudes, signed) for an image of ``image_size`` (height, width)."""
        return _aug_space(num_bins, 0.3, (150.0 / 331.0 * image_size[1],
                                          150.0 / 331.0 * image_size[0]), 30.0, 0.9, (8, 4),
                          tail=("Invert",), v2=v2)

    @staticmethod
    def get_params(transform_num):
        """(sub-policy index, two float32 probabilities, two signs in {0, 1}) as torchvision
        draws them."""
        rng = _draws()
        policy_id = int(rng.integers(transform_num))
        probs = np.asarray(rng.random(2), np.float32)
        signs = np.asarray(rng.integers(0, 2, size=2), np.int64)
        return policy_id, Tensor(probs), Tensor(signs)

    def __call__(self, img):
        h, w = _size(img, _kind(img, "AutoAugment"))
        fill = _tensor_fill(img, self.fill)
        op_meta = self._augmentation_space(10, (h, w), self._v2_draws)
        if self._v2_draws:
            return self._call_v2(img, op_meta, fill)
        transform_id, probs, signs = self.get_params(len(self.policies))
        probs, signs = np.asarray(probs.data), np.asarray(signs.data)
        for i, (name, p, mag_id) in enumerate(self.policies[transform_id]):
            if probs[i] <= p:
                mags, signed = op_meta[name]
                mag = float(mags[mag_id]) if mag_id is not None else 0.0
                if signed and signs[i] == 0:
                    mag = -mag
                img = _apply_op(img, name, mag, self.interpolation, fill)
        return img

    def _call_v2(self, img, op_meta, fill):
        """torchvision v2's order: the sub-policy, then per op ``torch.rand(()) <= p`` and,
        for an applied signed op, its sign."""
        rng = _draws()
        for name, p, mag_id in self.policies[int(rng.integers(len(self.policies)))]:
            if not rng.random() <= p:
                continue
            mags, signed = op_meta[name]
            mag = 0.0 if mags is None else float(mags[mag_id])
            if mags is not None and signed and _negate(rng, True):
                mag = -mag
            img = _apply_op(img, name, mag, self.interpolation, fill, True)
        return img

    def __repr__(self):
        return f"AutoAugment(policy={self.policy}, fill={self.fill})"


class RandAugment:
    """RandAugment (Cubuk et al., 2020): ``num_ops`` ops drawn uniformly from torchvision's
    14, each at bin ``magnitude`` of ``num_magnitude_bins`` and a drawn sign."""

    _v2_draws = False       # v2's sign: torch.rand(()) <= 0.5

    def __init__(self, num_ops=2, magnitude=9, num_magnitude_bins=31,
                 interpolation=InterpolationMode.NEAREST, fill=None):
        if not isinstance(num_ops, int) or num_ops < 0:
            raise ValueError(f"RandAugment: num_ops should be a non-negative integer, got "
                             f"{num_ops!r}")
        if not isinstance(magnitude, int) or not 0 <= magnitude < num_magnitude_bins:
            raise ValueError(f"RandAugment: magnitude ({magnitude!r}) must be an integer in "
                             f"[0, num_magnitude_bins) = [0, {num_magnitude_bins})")
        self.num_ops, self.magnitude = num_ops, magnitude
        self.num_magnitude_bins, self.fill = num_magnitude_bins, fill
        self.interpolation = _mode(interpolation, "RandAugment")

    @staticmethod
    def _augmentation_space(num_bins, image_size, v2=False):
        """op name: (magnitudes, signed) for an image of ``image_size`` (height, width)."""
        return _aug_space(num_bins, 0.3, (150.0 / 331.0 * image_size[1],
                                          150.0 / 331.0 * image_size[0]), 30.0, 0.9, (8, 4),
                          head=("Identity",), v2=v2)

    def __call__(self, img):
        h, w = _size(img, _kind(img, "RandAugment"))
        fill = _tensor_fill(img, self.fill)
        v2 = self._v2_draws
        op_meta = self._augmentation_space(self.num_magnitude_bins, (h, w), v2)
        names, rng = list(op_meta), _draws()
        for _ in range(self.num_ops):
            name = names[int(rng.integers(len(names)))]
            mags, signed = op_meta[name]
            mag = 0.0 if mags is None else float(mags[self.magnitude])
            if mags is not None and signed and _negate(rng, v2):
                mag = -mag
            img = _apply_op(img, name, mag, self.interpolation, fill, v2)
        return img

    def __repr__(self):
        return (f"RandAugment(num_ops={self.num_ops}, magnitude={self.magnitude}, "
                f"num_magnitude_bins={self.num_magnitude_bins}, interpolation="
                f"{self.interpolation}, fill={self.fill})")


class AugMix:
    """AugMix (Hendrycks et al., 2020): ``mixture_width`` chains of 1-3 (or
    ``chain_depth``) ops at severities below ``severity``, mixed with Dirichlet(``alpha``)
    weights and blended with the image by a Beta(``alpha``) weight; torchvision's tables
    and order. Its Dirichlet draws (``torch._sample_dirichlet``) have no bit-exact copy
    here: on the torch stream it refuses unless ``_sample_dirichlet`` is overridden (as
    torchvision's own tests do)."""

    _PARAMETER_MAX = 10
    _v2_draws = False       # v2's sign: torch.rand(()) <= 0.5

    def __init__(self, severity=3, mixture_width=3, chain_depth=-1, alpha=1.0, all_ops=True,
                 interpolation=InterpolationMode.BILINEAR, fill=None):
        if not 1 <= severity <= self._PARAMETER_MAX:
            raise ValueError(f"AugMix: the severity must be between [1, "
                             f"{self._PARAMETER_MAX}], got {severity!r}")
        if not alpha > 0:
            raise ValueError(f"AugMix: alpha ({alpha!r}) must be positive (a Dirichlet "
                             f"concentration)")
        self.severity, self.mixture_width, self.chain_depth = severity, mixture_width, chain_depth
        self.alpha, self.all_ops, self.fill = alpha, all_ops, fill
        self.interpolation = _mode(interpolation, "AugMix")

    def _augmentation_space(self, num_bins, image_size):
        """op name: (magnitudes, signed) for an image of ``image_size`` (height, width)."""
        return _aug_space(num_bins, 0.3, (image_size[1] / 3.0, image_size[0] / 3.0), 30.0,
                          0.9 if self.all_ops else None, (4, 4), enhance_last=True,
                          v2=self._v2_draws)

    def _sample_dirichlet(self, params):
        """One Dirichlet draw per row of ``params`` (B, k), float32 (NumPy's generator)."""
        if torch_stream() is not None:
            from ..._torch_rng import refuse
            raise refuse("AugMix (torch._sample_dirichlet)")
        rng = get_rng()
        p = np.asarray(params.data, np.float64)
        return Tensor(np.stack([rng.dirichlet(row) for row in p]).astype(np.float32))

    def __call__(self, orig_img):
        kind = _kind(orig_img, "AugMix")
        img = (np.asarray(functional.pil_to_tensor(orig_img).data) if kind == "pil"
               else _chw(orig_img, kind))
        img = img[None] if img.ndim == 2 else img
        fill = _tensor_fill(Tensor(img), self.fill)
        op_meta = self._augmentation_space(self._PARAMETER_MAX, img.shape[-2:])
        batch = img.reshape((1,) * max(4 - img.ndim, 0) + img.shape)
        b = batch.shape[0]
        bdims = (b,) + (1,) * (batch.ndim - 1)

        def dirichlet(k):
            return np.asarray(self._sample_dirichlet(
                Tensor(np.full((b, k), self.alpha, np.float32))).data)
        m = dirichlet(2)
        weights = dirichlet(self.mixture_width) * m[:, 1].reshape(b, -1)
        mix = m[:, 0].reshape(bdims) * batch
        names, rng = list(op_meta), _draws()
        for i in range(self.mixture_width):
            aug = Tensor(batch)
            depth = self.chain_depth if self.chain_depth > 0 else int(rng.integers(1, 4))
            for _ in range(depth):
                name = names[int(rng.integers(len(names)))]
                mags, signed = op_meta[name]
                mag = 0.0 if mags is None else float(mags[int(rng.integers(self.severity))])
                if mags is not None and signed and _negate(rng, self._v2_draws):
                    mag = -mag
                aug = _apply_op(aug, name, mag, self.interpolation, fill, self._v2_draws)
            mix += weights[:, i].reshape(bdims) * np.asarray(aug.data)
        out = mix.reshape(img.shape).astype(img.dtype)
        if kind == "pil":
            return functional.to_pil_image(Tensor(out))
        return functional._back(out[0] if _chw(orig_img, kind).ndim == 2 else out, kind)

    def __repr__(self):
        return (f"AugMix(severity={self.severity}, mixture_width={self.mixture_width}, "
                f"chain_depth={self.chain_depth}, alpha={self.alpha}, all_ops={self.all_ops}, "
                f"interpolation={self.interpolation}, fill={self.fill})")


def _float_pair(value, op, name):
    """torchvision's ElasticTransform argument: a float or a sequence of 1 or 2 floats."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return [float(value)] * 2
    if isinstance(value, (tuple, list)) and len(value) in (1, 2) and all(
            isinstance(v, numbers.Real) for v in value):
        return [float(v) for v in value] * (3 - len(value))
    raise TypeError(f"{op}: {name} should be a float or a sequence of 1 or 2 floats, got "
                    f"{value!r}")


class ElasticTransform:
    """Elastic distortion (Simard et al., 2003): random displacements in [-1, 1], blurred
    by a Gaussian of ``sigma`` (kernel ``int(8 sigma + 1)``, made odd) and scaled by
    ``alpha`` / size, moving each pixel; torchvision's draws (``torch.rand`` of dx, then
    of dy)."""

    def __init__(self, alpha=50.0, sigma=5.0, interpolation=InterpolationMode.BILINEAR,
                 fill=0):
        self.alpha = _float_pair(alpha, "ElasticTransform", "alpha")
        self.sigma = _float_pair(sigma, "ElasticTransform", "sigma")
        self.interpolation = _mode(interpolation, "ElasticTransform")
        self.fill = _fill_arg(fill, "ElasticTransform")

    @staticmethod
    def get_params(alpha, sigma, size):
        """The displacement, a float32 tensor (1, H, W, 2), for an image of ``size`` (h, w)."""
        rng, out = _draws(), []
        for k in (0, 1):
            u = np.asarray(rng.random(size[0] * size[1]), np.float32)   # torch.rand, float32
            d = u.reshape(1, 1, *size) * np.float32(2) - np.float32(1)
            if sigma[k] > 0.0:
                ks = int(8 * sigma[k] + 1)
                ks += ks % 2 == 0
                d = np.asarray(functional.gaussian_blur(Tensor(d), [ks, ks], sigma).data)
            out.append(d * alpha[k] / size[k])
        return Tensor(np.ascontiguousarray(np.concatenate(out, 1).transpose(0, 2, 3, 1)))

    def __call__(self, img):
        h, w = _size(img, _kind(img, "ElasticTransform"))
        d = self.get_params(self.alpha, self.sigma, [h, w])
        return functional.elastic_transform(img, d, self.interpolation, self.fill)

    def __repr__(self):
        return (f"ElasticTransform(alpha={self.alpha}, sigma={self.sigma}, interpolation="
                f"{self.interpolation}, fill={self.fill})")
