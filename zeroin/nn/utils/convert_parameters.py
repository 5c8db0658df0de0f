"""``torch.nn.utils.convert_parameters``: where PyTorch defines ``parameters_to_vector`` and
``vector_to_parameters`` (``from torch.nn.utils.convert_parameters import ...``)."""
from . import parameters_to_vector, vector_to_parameters

__all__ = ["parameters_to_vector", "vector_to_parameters"]
