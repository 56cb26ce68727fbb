"""numpy -> torch helpers. torch is imported inside the functions, so the numpy parts of
``lstm_lib.data`` work without it."""

from __future__ import annotations

__all__ = ["tensor_dataset", "to_tensors"]


def to_tensors(*arrays, device=None) -> tuple:
    """Convert numpy arrays to torch tensors on ``device`` (default: CPU), keeping dtypes
    (float32 stays float32, int64 stays int64). Shares memory with the array on CPU."""
    import numpy as np
    import torch

    return tuple(torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in arrays)


def tensor_dataset(*arrays):
    """A ``torch.utils.data.TensorDataset`` of the arrays (same first dimension N)."""
    from torch.utils.data import TensorDataset

    return TensorDataset(*to_tensors(*arrays))
