"""Bit packing of weight codes, each neuron's row at its own bit-width.

Layout: one bit stream, neuron after neuron (layer by layer), within a
neuron input after input, each code least significant bit first; the stream
fills bytes from their least significant bit, and the last byte is padded
with zero bits. A ``b``-bit code (``b >= 2``) is the two's complement of the
weight in ``b`` bits; a 1-bit code is 1 for ``+1`` and 0 for ``-1``.
"""

import numpy as np

_MAX_BITS = 16
# Rows per chunk, so that the (rows, n_in, 16) bit array stays small.
_CHUNK_ELEMENTS = 1 << 22


def _unsigned_codes(w, bits):
    b = bits[:, None]
    return np.where(b == 1, (w > 0).astype(np.int64), w.astype(np.int64) & ((1 << b) - 1))


def pack_bits(rows, bits):
    """The bit stream of weight rows (no padding), as an array of 0/1 uint8.

    Parameters
    ----------
    rows : ndarray of int, shape (n_out, n_in)
    bits : ndarray of int, shape (n_out,)

    Returns
    -------
    ndarray of uint8, shape (n_in * bits.sum(),)
    """
    rows = np.asarray(rows)
    bits = np.asarray(bits, dtype=np.int64)
    chunk = max(1, _CHUNK_ELEMENTS // (rows.shape[1] * _MAX_BITS))
    planes = np.arange(_MAX_BITS)
    parts = []
    for start in range(0, rows.shape[0], chunk):
        u = _unsigned_codes(rows[start:start + chunk], bits[start:start + chunk])
        stream = (u[:, :, None] >> planes) & 1
        keep = np.broadcast_to(planes < bits[start:start + chunk, None, None], stream.shape)
        parts.append(stream[keep].astype(np.uint8))
    return np.concatenate(parts)


def unpack_bits(stream, n_in, bits):
    """Inverse of :func:`pack_bits`: weight rows from their bit stream.

    Parameters
    ----------
    stream : ndarray of 0/1 uint8, shape (n_in * bits.sum(),)
    n_in : int
    bits : ndarray of int, shape (n_out,)

    Returns
    -------
    ndarray of int64, shape (n_out, n_in)
    """
    bits = np.asarray(bits, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(bits * n_in)[:-1]])
    rows = np.empty((bits.size, n_in), dtype=np.int64)
    for b in np.unique(bits):
        which = np.flatnonzero(bits == b)
        pos = starts[which, None, None] + np.arange(n_in)[:, None] * b + np.arange(b)
        u = (stream[pos].astype(np.int64) << np.arange(b)).sum(-1)
        if b == 1:
            rows[which] = 2 * u - 1
        else:
            rows[which] = np.where(u >= 1 << (b - 1), u - (1 << b), u)
    return rows


def pack_layers(layers):
    """Packed bytes of every layer's weights, in graph order, zero-padded."""
    stream = np.concatenate([pack_bits(layer.weights, layer.weight_bits) for layer in layers])
    return np.packbits(stream, bitorder="little").tobytes()


def unpack_layers(data, layer_shapes, layer_bits):
    """Weight rows of every layer from :func:`pack_layers`' bytes.

    Parameters
    ----------
    data : bytes
        Exactly ``ceil(total_bits / 8)`` bytes.
    layer_shapes : list of (n_out, n_in)
    layer_bits : list of ndarray of int, shape (n_out,)

    Returns
    -------
    list of ndarray of int64
    """
    stream = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
    rows, offset = [], 0
    for (_, n_in), bits in zip(layer_shapes, layer_bits):
        n = int(n_in * np.sum(bits))
        rows.append(unpack_bits(stream[offset:offset + n], n_in, bits))
        offset += n
    return rows


def pack_fields(fields):
    """Per-row records of unsigned bit fields, packed into one zero-padded byte string.

    Parameters
    ----------
    fields : list of (ndarray of int, int)
        Each field's values (non-negative, one per record) and its width in
        bits (0 stores nothing). Record after record, within a record field
        after field, each value least significant bit first.

    Returns
    -------
    bytes
        ``ceil(n_records * sum(widths) / 8)`` bytes.
    """
    columns = [(np.asarray(v, dtype=np.uint64)[:, None] >> np.arange(w, dtype=np.uint64)) & 1
               for v, w in fields if w]
    if not columns:
        return b""
    stream = np.concatenate(columns, axis=1).astype(np.uint8).ravel()
    return np.packbits(stream, bitorder="little").tobytes()


def unpack_fields(data, n_records, widths):
    """Inverse of :func:`pack_fields`: one int64 array per width.

    Parameters
    ----------
    data : bytes
        At least ``ceil(n_records * sum(widths) / 8)`` bytes.
    n_records : int
    widths : list of int
    """
    total = int(sum(widths))
    stream = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
    bits = stream[:n_records * total].reshape(n_records, total).astype(np.int64)
    out, start = [], 0
    for w in widths:
        out.append((bits[:, start:start + w] << np.arange(w)).sum(axis=1))
        start += w
    return out
