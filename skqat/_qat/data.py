"""Training data as the torch loop sees it: input codes by rows, targets, weights.

Dense inputs are encoded once into a tensor. Sparse inputs (scipy CSR) stay
sparse: :class:`SparseRows` densifies and encodes only the rows a mini-batch
(or a block of rows) asks for, so a matrix that would take gigabytes dense
trains in the memory of its non-zeros plus one batch.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from ..runtime._rows import block_rows, encode_rows


@dataclass
class SparseRows:
    """A sparse input matrix and the affine step that turns its rows into codes.

    Parameters
    ----------
    matrix : scipy.sparse CSR matrix or array of shape (n_samples, n_features)
        Raw input rows.
    scale, offset : ndarray of float64, shape (n_features,)
        ``x * scale + offset`` is the input in units of its code.
    bits : int or None
        Signed code bit-width (rounded and clipped codes), or None for the
        float network, whose codes are the standardized inputs themselves.
    """

    matrix: object
    scale: np.ndarray
    offset: np.ndarray
    bits: int | None

    @property
    def shape(self):
        return self.matrix.shape

    def encode(self, idx, device):
        """Codes of the rows ``idx`` (a numpy index array) as a float32 tensor."""
        codes = encode_rows(self.matrix[idx].toarray(), scale=self.scale, offset=self.offset,
                            bits=self.bits)
        return torch.as_tensor(codes, dtype=torch.float32, device=device)


@dataclass
class TrainData:
    """Input codes, their steps, targets and sample weights, on the training device.

    Parameters
    ----------
    codes : torch.Tensor of shape (n_samples, n_features), or SparseRows
        Input codes (integers in the quantized network, standardized inputs
        in the float one); sparse inputs are encoded batch by batch.
    in_step : torch.Tensor of shape (n_features,)
        Value of one input code, in standard deviations.
    target : torch.Tensor of shape (n_samples,) or (n_samples, n_outputs)
        Encoded targets (class indices, 0/1 labels or standardized values).
    weight : torch.Tensor of shape (n_samples,)
        Sample weights.
    uniform_weight : bool, default=False
        All sample weights are equal: a batch's loss is its plain mean.
    """

    codes: object
    in_step: torch.Tensor
    target: torch.Tensor
    weight: torch.Tensor
    uniform_weight: bool = False

    def __len__(self):
        return self.codes.shape[0]

    @property
    def device(self):
        return self.target.device

    def rows(self, idx):
        """Input codes of the rows ``idx`` (an int64 tensor), as a float32 tensor."""
        if isinstance(self.codes, SparseRows):
            return self.codes.encode(idx.cpu().numpy(), self.device)
        # index_select, not indexing: a third of the time on a batch's rows.
        return self.codes.index_select(0, idx)

    def blocks(self):
        """``(rows, codes)`` over the whole data set, in blocks that bound the memory."""
        n, n_features = self.codes.shape
        size = block_rows(n_features)
        for start in range(0, n, size):
            idx = torch.arange(start, min(start + size, n), device=self.device)
            yield idx, self.rows(idx)


def train_data(X, target, sample_weight, *, scale, offset, bits, in_step, device):
    """Training data of the torch loop from validated inputs.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_samples, n_features)
    target : ndarray
        Encoded targets: integer class indices, or float labels and values.
    sample_weight : ndarray of shape (n_samples,)
    scale, offset : ndarray of float64, shape (n_features,)
        ``x * scale + offset`` is the input in units of one code.
    bits : int or None
        Input code bit-width; None for the float network (no rounding).
    in_step : ndarray of shape (n_features,)
        Value of one code in standard deviations.
    device : str

    Returns
    -------
    TrainData
    """
    if sp.issparse(X):
        codes = SparseRows(matrix=sp.csr_matrix(X), scale=scale, offset=offset, bits=bits)
    else:
        codes = torch.as_tensor(encode_rows(X, scale=scale, offset=offset, bits=bits),
                                dtype=torch.float32, device=device)
    target_dtype = torch.int64 if target.dtype.kind in "iu" else torch.float32
    return TrainData(
        codes=codes,
        in_step=torch.as_tensor(in_step, dtype=torch.float32, device=device),
        target=torch.as_tensor(target, dtype=target_dtype, device=device),
        weight=torch.as_tensor(sample_weight, dtype=torch.float32, device=device),
        uniform_weight=bool(np.all(sample_weight == sample_weight[0])),
    )
