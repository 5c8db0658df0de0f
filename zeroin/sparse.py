"""``zeroin.sparse``: zeroin has no sparse layouts (its tensors are dense NumPy arrays), so
graph code written with ``torch.sparse`` keeps its adjacency dense. ``mm`` of a dense
adjacency gives the values and gradients of PyTorch's ``torch.sparse.mm`` on the sparse one;
the legacy constructors (``torch.sparse.FloatTensor(indices, values, size)``, pygcn's
``sparse_mx_to_torch_sparse_tensor``) are refused with the dense way to build the tensor."""
from ._inplace_names import _no_sparse

__all__ = ["addmm", "mm"]


def mm(mat1, mat2):
    """The matrix product ``mat1 @ mat2`` of two 2-D tensors, as ``torch.sparse.mm`` of a
    sparse ``mat1`` gives it (its dense values; gradients to both)."""
    from ._inplace_names import spmm
    return spmm(mat1, mat2)


def addmm(mat, mat1, mat2, *, beta=1.0, alpha=1.0):
    """``beta * mat + alpha * (mat1 @ mat2)``, as ``torch.sparse.addmm`` of a sparse
    ``mat1`` gives it."""
    from ._api_names import addmm as dense_addmm
    return dense_addmm(mat, mat1, mat2, beta=beta, alpha=alpha)


def _refuse(name):
    def constructor(*args, **kwargs):
        raise _no_sparse(f"sparse.{name}", "Build the dense tensor: zeroin.zeros(size, "
                         "dtype=...).index_put_(tuple(indices), values, accumulate=True) "
                         "(accumulate=True sums repeated indices, as coalesce() does)")
    constructor.__name__ = constructor.__qualname__ = name
    constructor.__doc__ = f"Refused: ``torch.sparse.{name}`` makes a sparse tensor; zeroin " \
                          "has none (the error gives the dense equivalent)."
    return constructor


for _name in ("FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "HalfTensor",
              "BFloat16Tensor", "ByteTensor", "CharTensor", "ShortTensor"):
    globals()[_name] = _refuse(_name)
