"""Neural-network building blocks: modules, layers, activations, losses, initialisers.

>>> from zeroin import nn
>>> model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
>>> loss_fn = nn.MSELoss()
"""
from . import functional, init, utils
from .activation import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .layers import BatchNorm1d, Dropout, Flatten, Identity, Linear, Sequential
from .losses import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss,
                     NLLLoss)
from .module import Module, Parameter, StateDictError
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool1d,
                      AvgPool2d, BatchNorm2d, Dropout2d, MaxPool1d, MaxPool2d, Upsample)

__all__ = ["Module", "Parameter", "Linear", "Sequential", "Identity", "Flatten", "Dropout",
           "BatchNorm1d", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
           "Softplus", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss",
           "CrossEntropyLoss", "NLLLoss", "StateDictError", "functional", "init", "utils",
           "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d",
           "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "AdaptiveMaxPool2d", "Upsample", "Dropout2d", "BatchNorm2d"]
