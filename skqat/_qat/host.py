"""Small tensors over numpy memory: constants the host writes, sums the host reads.

A layer's per-neuron constants (the quantizers' ranges at each neuron's
bits) change whenever a level changes, and a backward pass's per-neuron sums
feed host arithmetic (the gates: a few numbers per neuron, numpy's work). A
tensor made once over numpy's memory is rewritten and read by numpy without a
tensor operation on CPU; on another device, a write or a read copies.
"""

import numpy as np
import torch

_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64, torch.int64: np.int64}


def numpy_dtype(dtype):
    """The numpy dtype of a torch dtype (float32, float64 or int64)."""
    return _NUMPY_DTYPES[dtype]


def _on_cpu(device):
    return device is None or torch.device(device).type == "cpu"


def host_constant(values, dtype, device):
    """A tensor of values computed on the host with numpy, in ``dtype`` on ``device``.

    The per-level constants are a few operations on at most a few hundred
    numbers: far cheaper in numpy than as many tensor operations.
    """
    array = np.array(values, dtype=_NUMPY_DTYPES[dtype], order="C")
    if not _on_cpu(device):
        return torch.from_numpy(array).to(device)
    if array.ndim == 1 and array.size:
        # Over the array's memory without an operator dispatch (from_numpy
        # dispatches one).
        return torch.frombuffer(array, dtype=dtype)
    return torch.from_numpy(array)


class HostTensor:
    """A tensor that numpy writes and reads in place on CPU.

    Parameters
    ----------
    shape : tuple of int
    dtype : torch.dtype
    device : torch.device or None
    """

    def __init__(self, shape, dtype, device):
        self.dtype = dtype
        if _on_cpu(device):
            self.array = np.zeros(shape, dtype=_NUMPY_DTYPES[dtype])
            flat = (torch.frombuffer(self.array, dtype=dtype) if self.array.size
                    else torch.from_numpy(self.array.reshape(-1)))
            self.tensor = flat if len(shape) == 1 else flat.view(shape)
        else:
            self.array = None
            self.tensor = torch.zeros(shape, dtype=dtype, device=device)

    def write(self, values):
        """Set the values (broadcast to the shape); returns the tensor."""
        if self.array is not None:
            self.array[...] = values
        else:
            values = np.broadcast_to(np.asarray(values, dtype=_NUMPY_DTYPES[self.dtype]),
                                     tuple(self.tensor.shape))
            self.tensor.copy_(torch.from_numpy(np.ascontiguousarray(values)))
        return self.tensor

    def read(self):
        """The values as a numpy array (the tensor's own memory on CPU)."""
        return self.array if self.array is not None else self.tensor.cpu().numpy()
