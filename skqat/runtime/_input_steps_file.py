"""The input steps section of the model file: each feature's scale and offset (numpy only).

A feature's input code is ``round(clip(x * a + c))``. The section stores
``a`` and ``c`` in the fewest bytes that give them back exactly:

* **int8 codes** (2 bytes): where ``c`` and ``a + c`` are both integers in
  ``[-128, 127]`` (and the bitmap below costs less than they save), the
  section stores those two codes: ``c``, the code of ``x = 0``, and
  ``a + c``, the code of ``x = 1``. An estimator's input steps are so for
  every 0/1 column (a one-hot or indicator column):
  :func:`~skqat.runtime._rows.binary_input_steps`.
* **bfloat16** (4 bytes): ``a`` and ``c`` as the top 16 bits of their float32,
  where every other feature's steps are bfloat16 values (an estimator's are).
* **float32** (8 bytes) otherwise.

Layout (format version 4, flag bit 5 set when any feature is int8): a bitmap
of ``ceil(F / 8)`` bytes (bit ``i % 8`` of byte ``i // 8`` set for an int8
feature ``i``), then the other features' scales, then their offsets (bfloat16
or float32, flag bit 4), then the int8 features' codes of 0, then their
codes of 1. Without flag bit 5 there is no bitmap and every feature is in
the second form or the third, as in versions 2 and 3.
"""

import numpy as np

from ._bytes import ModelFileError
from ._rows import fits_bfloat16


def int8_features(scale, offset):
    """Which features' steps are two int8 codes: ``c`` and ``a + c`` integers in [-128, 127].

    Examples
    --------
    >>> int8_features([42.0, 0.1, 1.0], [-3.0, 0.0, 0.5]).tolist()
    [True, False, False]
    """
    a = np.asarray(scale, dtype=np.float32)
    c = np.asarray(offset, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        one = a + c
    return ((c == np.round(c)) & (one == np.round(one)) & (np.abs(c + 0.5) <= 128)
            & (np.abs(one + 0.5) <= 128) & (one - c == a))


def _floats_layout(scale, offset, small):
    """Whether the features outside ``small`` are bfloat16, and the section's bytes."""
    half = fits_bfloat16(np.asarray(scale)[~small]) and fits_bfloat16(np.asarray(offset)[~small])
    n_small = int(small.sum())
    bitmap = -(-small.size // 8) if n_small else 0
    return half, bitmap + 2 * n_small + (4 if half else 8) * (small.size - n_small)


def _layout(scale, offset):
    """The int8 features, whether the others are bfloat16, and the section's bytes.

    The int8 codes are used only where they make the section smaller (a
    single 0/1 column among many saves less than its bitmap costs).
    """
    small = int8_features(scale, offset)
    none = np.zeros_like(small)
    half, size = _floats_layout(scale, offset, small)
    plain_half, plain_size = _floats_layout(scale, offset, none)
    return (small, half, size) if size < plain_size else (none, plain_half, plain_size)


def input_steps_bytes(scale, offset):
    """Bytes of the section for these steps (the bitmap included when any feature is int8).

    Examples
    --------
    >>> input_steps_bytes(np.full(14, 0.1), np.zeros(14))   # float32: 8 bytes a feature
    112
    >>> input_steps_bytes(np.full(14, 0.5), np.zeros(14))   # bfloat16: 4 bytes a feature
    56
    >>> input_steps_bytes(np.full(14, 40.0), np.full(14, -3.0))  # int8: 2 + a 2-byte bitmap
    30
    >>> input_steps_bytes([40.0] + [0.5] * 13, [-3.0] + [0.0] * 13)  # a bitmap would cost more
    56
    """
    return _layout(scale, offset)[2]


def dump_input_steps(scale, offset):
    """The section's bytes and its two header flags: ``(data, bfloat16, int8)``."""
    scale = np.asarray(scale, dtype=np.float32)
    offset = np.asarray(offset, dtype=np.float32)
    small, half, _ = _layout(scale, offset)
    parts = []
    if small.any():
        parts.append(np.packbits(small, bitorder="little").tobytes())
    for values in (scale[~small], offset[~small]):
        values = values.astype("<f4")
        parts.append((values.view("<u4") >> 16).astype("<u2").tobytes() if half
                     else values.tobytes())
    if small.any():
        parts += [offset[small].astype("<i1").tobytes(),
                  (scale[small] + offset[small]).astype("<i1").tobytes()]
    return b"".join(parts), half, bool(small.any())


def _floats(r, count, half):
    if not half:
        return r.array("<f4", count)
    return (r.array("<u2", count).astype(np.uint32) << 16).view(np.float32)


def read_input_steps(r, n_features, *, half, int8):
    """Read the section from the :class:`~skqat.runtime._bytes.Reader` ``r``: (scale, offset)."""
    small = np.zeros(n_features, dtype=bool)
    if int8:
        bitmap = np.frombuffer(r.take(-(-n_features // 8)), dtype=np.uint8)
        bits = np.unpackbits(bitmap, bitorder="little")
        if bits[n_features:].any() or not bits.any():
            raise ModelFileError("The model file's bitmap of int8 input steps is invalid.")
        small = bits[:n_features].astype(bool)
    scale = np.empty(n_features, dtype=np.float32)
    offset = np.empty(n_features, dtype=np.float32)
    n_other = int((~small).sum())
    scale[~small] = _floats(r, n_other, half)
    offset[~small] = _floats(r, n_other, half)
    zero = r.array("<i1", int(small.sum())).astype(np.float32)
    one = r.array("<i1", int(small.sum())).astype(np.float32)
    scale[small], offset[small] = one - zero, zero
    return scale, offset
