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

__all__ = ["Module", "Parameter", "Linear", "Sequential", "Identity", "Flatten", "Dropout",
           "BatchNorm1d", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
           "Softplus", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss",
           "CrossEntropyLoss", "NLLLoss", "StateDictError", "functional", "init", "utils"]
