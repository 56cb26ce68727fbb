"""numpy -> torch helpers. torch is imported inside the functions, so the numpy parts of
``lstm_lib.data`` work without it."""

from __future__ import annotations

__all__ = ["tensor_dataset", "to_tensors"]


def _as_array(k: int, a):
    import numpy as np

    arr = np.asarray(a)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)
                                   or arr.dtype == np.bool_):
        raise TypeError(f"arrays[{k}] must be a numeric array, got dtype {arr.dtype} "
                        f"({type(a).__name__})")
    return np.require(arr, requirements="C")   # unlike ascontiguousarray, keeps 0-D


def to_tensors(*arrays, device=None) -> tuple:
    """Convert numpy arrays to torch tensors on ``device`` (default: CPU), keeping dtypes
    (float32 stays float32, int64 stays int64). Shares memory with the array on CPU.

    Raises ``TypeError`` naming ``arrays[k]`` for a non-numeric (e.g. object or str) array.
    """
    import torch

    return tuple(torch.from_numpy(_as_array(k, a)).to(device) for k, a in enumerate(arrays))


def tensor_dataset(*arrays):
    """A ``torch.utils.data.TensorDataset`` of the arrays (same first dimension N).

    Raises ``ValueError`` when there are no arrays, an array is 0-D, or the first
    dimensions differ (each array's shape is named).
    """
    from torch.utils.data import TensorDataset

    if not arrays:
        raise ValueError("tensor_dataset needs at least one array")
    tensors = to_tensors(*arrays)
    shapes = [tuple(t.shape) for t in tensors]
    if any(len(s) == 0 for s in shapes) or len({s[0] for s in shapes}) != 1:
        raise ValueError(f"arrays must share their first dimension N (and not be 0-D), got "
                         f"shapes {shapes}")
    return TensorDataset(*tensors)
