"""Constants of the symmetric weight quantizer, per row, at given bit-widths.

A dense layer's rows (neurons) each have a bit-width; what the quantizer needs
of it (the largest code, the clipping ratio, the 1-bit flag, the bias mask)
depends on the bits alone. :func:`weight_rows` builds them as a
:class:`WeightRows`, as new tensors or written into a layer's own
(:class:`RowsMemory`); ``quantizers.py`` computes with them.
"""

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .host import HostTensor, host_constant

# Mean-squared-error optimal clipping level, in units of the root mean square,
# for a symmetric uniform quantizer of a Gaussian with 2^(b-1) - 1 positive
# levels (computed numerically; beyond 12 bits the max |w| always wins).
_GAUSSIAN_CLIP_RATIO = {
    2: 1.22, 3: 1.95, 4: 2.47, 5: 2.90, 6: 3.27, 7: 3.62,
    8: 3.93, 9: 4.25, 10: 4.53, 11: 4.87, 12: 5.14,
}
# Indexed by bit-width: the largest weight code, and the clipping ratio (1 bit
# does not use it; beyond 12 bits max |w| wins, hence a large finite ratio,
# since inf * 0 would be NaN for an all-zero row).
_QMAX = np.array([0.0, 1.0] + [2.0 ** (b - 1) - 1 for b in range(2, 17)])
_CLIP = np.array([0.0] + [_GAUSSIAN_CLIP_RATIO.get(b, 1e30) for b in range(1, 17)])
# A 0-bit row (a pruned neuron) has only the code 0; its step, which then
# multiplies nothing, is the 2-bit one (a positive number, not 0 / 0).
_STEP_QMAX = np.where(np.arange(17) == 0, _QMAX[2], _QMAX)
_STEP_CLIP = np.where(np.arange(17) == 0, _CLIP[2], _CLIP)


@dataclass(frozen=True)
class WeightRows:
    """Constants of the symmetric weight quantizer of rows at given bit-widths.

    They depend on the bits alone: a layer builds them once per change of
    its neurons' bits (``levels.py``), and every step reuses them.

    Attributes
    ----------
    bits : torch.Tensor of int64, shape S
        One bit-width per row (S = ``(n_out,)``), or per candidate and row
        (S = ``(K, n_out)``).
    qmax, neg_qmax : torch.Tensor of shape S + (1,)
        Largest code magnitude (1 for 1 bit, 0 for 0 bits), as a float
        column, and its negative.
    inv_qmax : torch.Tensor of shape S
        What the clipping level of a multi-bit row is multiplied by to give
        its step (``1 / qmax``; a 0-bit row, whose step is arbitrary, takes
        the 2-bit one), 0 for a 1-bit row.
    clip : ndarray of shape S
        Clipping level in units of the row's root mean square (multi-bit rows).
    one_bit : ndarray of bool, shape S
        Whether each row is at 1 bit.
    kept : torch.Tensor of shape S
        0.0 for a 0-bit (pruned) row, else 1.0: it multiplies the bias.
    one_bit_column : torch.Tensor of shape S + (1,)
        1.0 for a 1-bit row, else 0.0, as a column.
    any_zero, any_one_bit, all_one_bit : bool
        Whether some rows are at 0 bits, and whether some, or all, rows
        are at 1 bit (the sign quantizer).
    same_qmax : float or None
        The largest code when every row has the same bits above 1 (one
        clamp with scalar bounds, the fast kernel), else None.
    """

    bits: torch.Tensor
    qmax: torch.Tensor
    neg_qmax: torch.Tensor
    inv_qmax: torch.Tensor
    clip: np.ndarray
    one_bit: np.ndarray
    kept: torch.Tensor
    one_bit_column: torch.Tensor
    any_zero: bool
    any_one_bit: bool
    all_one_bit: bool
    same_qmax: float | None
    _per_fan_in: dict = field(default_factory=dict, compare=False, repr=False)

    def scales(self, fan_in):
        """``(clip / sqrt(fan_in), 1 / fan_in at the 1-bit rows)``, tensors of shape S.

        What a row's norm and its sum of magnitudes are multiplied by for
        the step (the root mean square's and the mean's divisions folded
        in). Built on first use for a fan-in and kept (a layer's fan-in
        never changes).
        """
        scales = self._per_fan_in.get(fan_in)
        if scales is None:
            like = self.inv_qmax
            scales = tuple(host_constant(v, like.dtype, like.device)
                           for v in _fan_in_scales(self.clip, self.one_bit, fan_in))
            self._per_fan_in[fan_in] = scales
        return scales


def _fan_in_scales(clip, one_bit, fan_in):
    return clip / math.sqrt(fan_in), one_bit / float(fan_in)


# Per bit-width (0 to 16), the constants of a row: what WeightRows holds besides
# the fan-in's scales, in this order (the first three are used as columns).
_ROW_NAMES = ("qmax", "neg_qmax", "one_bit_column", "kept", "inv_qmax")
_COLUMNS = ("qmax", "neg_qmax", "one_bit_column")
_ROW_TABLE = np.stack([_QMAX, -_QMAX, np.arange(17) == 1, np.arange(17) > 0,
                       np.where(np.arange(17) == 1, 0.0, 1.0 / _STEP_QMAX)])


class RowsMemory:
    """The tensors a :class:`WeightRows` of ``n`` rows is written into, made once.

    One block of rows over numpy's memory, written in one assignment; a
    layer rewrites it whenever its levels change (see ``levels.py``): the
    :class:`WeightRows` built over it before are then out of date.
    """

    def __init__(self, n, dtype, device):
        self.block = HostTensor((len(_ROW_NAMES) + 2, n), dtype, device)
        rows = self.block.tensor.unbind(0)
        self.tensors = {name: row.unsqueeze(1) if name in _COLUMNS else row
                        for name, row in zip(_ROW_NAMES, rows)}
        self.scales = rows[len(_ROW_NAMES):]


def weight_rows(bits, dtype=torch.float32, device=None, memory=None, fan_in=None):
    """The :class:`WeightRows` of bit-widths ``bits`` (any shape).

    Parameters
    ----------
    bits : ndarray or torch.Tensor of int64
        A tensor gives its device to the result.
    dtype : torch.dtype, default=torch.float32
    device : torch.device, default=None
        Where the constants go when ``bits`` is an array.
    memory : RowsMemory, default=None
        Write the constants into these tensors (``bits`` of shape (n,) only)
        instead of making new ones.
    fan_in : int, default=None
        With ``memory``: the fan-in whose :meth:`WeightRows.scales` to write too.
    """
    if isinstance(bits, torch.Tensor):
        device, bits = bits.device, bits.cpu().numpy()
    bits = np.asarray(bits, dtype=np.int64)
    one_bit, clip = bits == 1, _STEP_CLIP[bits]
    per_fan_in = {}
    if memory is None:
        tensors = {name: host_constant(v[..., None] if name in _COLUMNS else v, dtype, device)
                   for name, v in zip(_ROW_NAMES, _ROW_TABLE[:, bits])}
    else:  # one gather from a table per bit-width, one write (a layer's levels changed)
        memory.block.write(_block_table(fan_in)[:, bits])
        if fan_in is not None:
            per_fan_in[fan_in] = memory.scales
        tensors = memory.tensors
    # How many rows have each bit-width: every flag below in one pass.
    counts = np.bincount(bits.reshape(-1), minlength=_QMAX.size)
    same = bits.size and counts.max() == bits.size and bits.flat[0] > 1
    return WeightRows(
        bits=host_constant(bits, torch.int64, device), clip=clip, one_bit=one_bit,
        any_zero=bool(counts[0]), any_one_bit=bool(counts[1]),
        all_one_bit=bool(counts[1] == bits.size),
        same_qmax=float(_QMAX[bits.flat[0]]) if same else None,
        _per_fan_in=per_fan_in, **tensors)


@functools.lru_cache(maxsize=None)
def _block_table(fan_in):
    # Per bit-width (a column), what RowsMemory's block holds: the constants
    # of _ROW_TABLE, then the fan-in's scales (zeros without a fan-in).
    table = np.zeros((len(_ROW_NAMES) + 2, _QMAX.size))
    table[:len(_ROW_NAMES)] = _ROW_TABLE
    if fan_in is not None:
        table[len(_ROW_NAMES):] = _fan_in_scales(_STEP_CLIP, np.arange(_QMAX.size) == 1, fan_in)
    table.flags.writeable = False  # cached: shared by every layer of this fan-in
    return table
