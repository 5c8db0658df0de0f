"""Neural-network building blocks: modules, layers, activations, losses, initialisers.

>>> from zeroin import nn
>>> model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
>>> loss_fn = nn.MSELoss()
"""
from . import functional, init, utils
from .adaptive import AdaptiveLogSoftmaxWithLoss
from .fractional import FractionalMaxPool2d, FractionalMaxPool3d
from .linear_cross_entropy import LinearCrossEntropyLoss
from .activation import (CELU, ELU, GELU, GLU, SELU, Hardshrink, Hardsigmoid, Hardswish,
                         Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6,
                         RReLU,
                         Sigmoid, SiLU, Softmax, Softmax2d, Softmin, Softplus, Softshrink,
                         Softsign, Tanh, Tanhshrink, Threshold)
from .container import Container, ModuleDict, ModuleList, ParameterDict, ParameterList
from .distance import CosineSimilarity, PairwiseDistance
from .layers import (BatchNorm1d, Bilinear, Dropout, Flatten, Fold, Identity, Linear,
                     Sequential, Unflatten, Unfold)
from .losses import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, CTCLoss,
                     GaussianNLLLoss, HingeEmbeddingLoss, HuberLoss, KLDivLoss, L1Loss,
                     MarginRankingLoss, MSELoss, MultiLabelMarginLoss, MultiLabelSoftMarginLoss,
                     MultiMarginLoss,
                     NLLLoss, PoissonNLLLoss, SmoothL1Loss, SoftMarginLoss, TripletMarginLoss,
                     TripletMarginWithDistanceLoss)
from .module import (Buffer, Module, Parameter, StateDictError, UninitializedBuffer,
                     UninitializedParameter)
from .normalization import (Embedding, EmbeddingBag, GroupNorm, InstanceNorm1d, InstanceNorm2d,
                            InstanceNorm3d, LayerNorm, RMSNorm)
from .padding import (ChannelShuffle, CircularPad1d, CircularPad2d, ConstantPad1d,
                      ConstantPad2d, PixelShuffle, PixelUnshuffle, ReflectionPad1d,
                      ReflectionPad2d, ReplicationPad1d, ReplicationPad2d, ZeroPad1d, ZeroPad2d,
                      CircularPad3d, ConstantPad3d, ReflectionPad3d, ReplicationPad3d,
                      ZeroPad3d)
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d,
                      AdaptiveMaxPool2d, AlphaDropout, AvgPool1d, AvgPool2d, BatchNorm2d,
                      Dropout1d, Dropout2d, FeatureAlphaDropout,
                      LocalResponseNorm, MaxPool1d, MaxPool2d, MaxUnpool1d, MaxUnpool2d,
                      Upsample, UpsamplingBilinear2d, UpsamplingNearest2d, MaxPool3d,
                      AvgPool3d, AdaptiveAvgPool3d, AdaptiveMaxPool3d, LPPool1d, LPPool2d,
                      LPPool3d, BatchNorm3d, CrossMapLRN2d, Dropout3d, MaxUnpool3d,
                      SyncBatchNorm)
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .lazy import (LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, LazyConv1d, LazyConv2d,
                   LazyConv3d, LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d,
                   LazyLinear, LazyModuleMixin, LazyInstanceNorm1d, LazyInstanceNorm2d,
                   LazyInstanceNorm3d)
from .attention import MultiheadAttention, NonDynamicallyQuantizableLinear
from .transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer,
                          TransformerEncoder, TransformerEncoderLayer)

__all__ = ["Module", "Parameter", "Buffer", "Linear", "Sequential", "ModuleList", "ModuleDict",
           "ParameterList", "ParameterDict", "Identity", "Flatten", "Unflatten", "Dropout",
           "BatchNorm1d", "LayerNorm", "GroupNorm", "Embedding", "ReLU", "LeakyReLU",
           "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Softmin", "Softplus", "GELU", "SiLU",
           "ELU", "CELU", "SELU", "Mish", "ReLU6", "Hardtanh", "LogSigmoid", "Softsign",
           "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss",
           "HuberLoss", "SmoothL1Loss", "KLDivLoss", "StateDictError", "functional", "init",
           "utils", "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d",
           "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "AdaptiveMaxPool2d", "Upsample", "Dropout2d", "BatchNorm2d",
           "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell",
           "MultiheadAttention", "NonDynamicallyQuantizableLinear", "TransformerEncoderLayer",
           "TransformerEncoder", "TransformerDecoderLayer", "TransformerDecoder", "Transformer",
           "CosineSimilarity", "PairwiseDistance", "PReLU", "Hardswish", "Hardsigmoid", "GLU",
           "Tanhshrink", "Softshrink", "Hardshrink", "Threshold", "InstanceNorm1d",
           "InstanceNorm2d", "RMSNorm", "Bilinear", "ZeroPad2d", "ConstantPad1d",
           "ConstantPad2d", "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d",
           "ReplicationPad2d", "PixelShuffle", "PixelUnshuffle", "MarginRankingLoss",
           "TripletMarginLoss", "CosineEmbeddingLoss", "HingeEmbeddingLoss", "SoftMarginLoss",
           "MultiLabelSoftMarginLoss", "MultiMarginLoss", "GaussianNLLLoss", "PoissonNLLLoss",
           "CTCLoss", "Softmax2d", "ZeroPad1d", "CircularPad1d", "CircularPad2d",
           "ChannelShuffle", "AdaptiveMaxPool1d", "UpsamplingNearest2d", "UpsamplingBilinear2d",
           "Dropout1d", "RReLU", "MultiLabelMarginLoss", "Unfold", "Fold",
           "EmbeddingBag", "MaxUnpool1d", "MaxUnpool2d", "LocalResponseNorm",
           "TripletMarginWithDistanceLoss", "AlphaDropout", "FeatureAlphaDropout", "Conv3d",
           "ConvTranspose3d", "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d",
           "AdaptiveMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d", "BatchNorm3d",
           "InstanceNorm3d", "UninitializedParameter", "UninitializedBuffer", "LazyModuleMixin",
           "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
           "LazyBatchNorm3d", "ZeroPad3d", "ConstantPad3d", "ReflectionPad3d",
           "ReplicationPad3d", "CircularPad3d", "Dropout3d", "MaxUnpool3d", "CrossMapLRN2d",
           "SyncBatchNorm", "Container", "AdaptiveLogSoftmaxWithLoss", "LinearCrossEntropyLoss",
           "FractionalMaxPool2d",
           "FractionalMaxPool3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]
from . import modules, parameter  # noqa: E402  (PyTorch's paths to the classes above)
from . import parallel  # noqa: E402
from .parallel import DataParallel  # noqa: E402
__all__ += ["DataParallel", "modules", "parameter", "parallel"]
