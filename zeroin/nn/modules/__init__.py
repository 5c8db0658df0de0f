"""PyTorch's ``torch.nn.modules`` paths: ``from torch.nn.modules.loss import _Loss`` and
the like run unchanged after ``import zeroin as torch``. Each submodule re-exports zeroin's
own classes (``nn.modules.loss.MSELoss is nn.MSELoss``); the private bases PyTorch code
subclasses (``_Loss``, ``_WeightedLoss``, ``_ConvNd``, ``_NormBase``, ``_BatchNorm``,
``_InstanceNorm``, ``_DropoutNd``, ``_AdaptiveMaxPoolNd``) are the real bases of zeroin's layers. ``utils`` is a
file of its own (``_pair``, ``_ntuple``, ``consume_prefix_in_state_dict_if_present``)."""
import sys as _sys
import types as _types

from .. import (activation as _activation, conv as _conv, layers as _layers, losses as _losses,
                normalization as _normalization, pooling as _pooling)
from . import utils

_PRIVATE = {"_ConvNd": _conv._ConvNd, "_Loss": _losses._Loss,
            "_WeightedLoss": _losses._WeightedLoss, "_NormBase": _layers._NormBase,
            "_BatchNorm": _layers._BatchNorm, "_InstanceNorm": _normalization._InstanceNorm,
            "_DropoutNd": _layers._DropoutNd,
            "_AdaptiveMaxPoolNd": _pooling._AdaptiveMaxPoolNd}

# PyTorch's submodule -> the classes it defines (zeroin has all of them under zeroin.nn)
_SUBMODULES = {
    "module": "Module",
    "linear": "Identity Linear Bilinear LazyLinear NonDynamicallyQuantizableLinear",
    "conv": "Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d ConvTranspose3d LazyConv1d "
            "LazyConv2d LazyConv3d LazyConvTranspose1d LazyConvTranspose2d "
            "LazyConvTranspose3d _ConvNd",
    "loss": "L1Loss MSELoss NLLLoss CrossEntropyLoss BCELoss BCEWithLogitsLoss KLDivLoss "
            "HuberLoss SmoothL1Loss PoissonNLLLoss GaussianNLLLoss CTCLoss MarginRankingLoss "
            "HingeEmbeddingLoss CosineEmbeddingLoss SoftMarginLoss MultiLabelMarginLoss "
            "MultiLabelSoftMarginLoss MultiMarginLoss TripletMarginLoss "
            "TripletMarginWithDistanceLoss LinearCrossEntropyLoss _Loss _WeightedLoss",
    "batchnorm": "BatchNorm1d BatchNorm2d BatchNorm3d LazyBatchNorm1d LazyBatchNorm2d "
                 "LazyBatchNorm3d SyncBatchNorm _BatchNorm _NormBase",
    "instancenorm": "InstanceNorm1d InstanceNorm2d InstanceNorm3d LazyInstanceNorm1d "
                    "LazyInstanceNorm2d LazyInstanceNorm3d _InstanceNorm",
    "normalization": "LayerNorm GroupNorm LocalResponseNorm CrossMapLRN2d RMSNorm",
    "activation": " ".join(_activation.__all__) + " MultiheadAttention",
    "container": "Container Sequential ModuleList ModuleDict ParameterList ParameterDict",
    "pooling": "MaxPool1d MaxPool2d MaxPool3d AvgPool1d AvgPool2d AvgPool3d MaxUnpool1d "
               "MaxUnpool2d MaxUnpool3d LPPool1d LPPool2d LPPool3d AdaptiveMaxPool1d "
               "AdaptiveMaxPool2d AdaptiveMaxPool3d AdaptiveAvgPool1d AdaptiveAvgPool2d "
               "AdaptiveAvgPool3d FractionalMaxPool2d FractionalMaxPool3d _AdaptiveMaxPoolNd",
    "rnn": "RNNBase RNN LSTM GRU RNNCellBase RNNCell LSTMCell GRUCell",
    "dropout": "Dropout Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout "
               "_DropoutNd",
    "sparse": "Embedding EmbeddingBag",
    "transformer": "Transformer TransformerEncoder TransformerDecoder TransformerEncoderLayer "
                   "TransformerDecoderLayer",
    "padding": " ".join(f"{k}Pad{d}d" for k in ("Circular", "Constant", "Reflection",
                                                  "Replication", "Zero") for d in (1, 2, 3)),
    "pixelshuffle": "PixelShuffle PixelUnshuffle",
    "upsampling": "Upsample UpsamplingNearest2d UpsamplingBilinear2d",
    "flatten": "Flatten Unflatten",
    "distance": "PairwiseDistance CosineSimilarity",
    "fold": "Fold Unfold",
    "channelshuffle": "ChannelShuffle",
    "lazy": "LazyModuleMixin",
    "adaptive": "AdaptiveLogSoftmaxWithLoss",
}


def _submodule(sub, names):
    """A module object ``zeroin.nn.modules.<sub>`` holding ``names``, registered so that
    ``import zeroin.nn.modules.<sub>`` and ``from ... import`` find it."""
    nn = _sys.modules[__name__.rpartition(".")[0]]
    mod = _types.ModuleType(f"{__name__}.{sub}",
                            f"PyTorch's ``torch.nn.modules.{sub}``: zeroin's classes.")
    for name in names.split():
        mod.__dict__[name] = _PRIVATE[name] if name in _PRIVATE else getattr(nn, name)
    mod.__all__ = [n for n in names.split() if not n.startswith("_")]
    _sys.modules[mod.__name__] = mod
    return mod


for _sub, _names in _SUBMODULES.items():
    globals()[_sub] = _m = _submodule(_sub, _names)
    globals().update({n: getattr(_m, n) for n in _m.__all__})

# torch.nn.modules.module is zeroin.nn.module itself: the global hooks
# (register_module_*_hook) and their tables live there, rebound flag included.
from .. import module as _module  # noqa: E402

_sys.modules[f"{__name__}.module"] = module = _module
__all__ = sorted({n for _m in _SUBMODULES.values() for n in _m.split() if n[0] != "_"})
del _sub, _names, _m
