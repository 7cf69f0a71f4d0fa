"""The network as the C export stores it: one bit stream of neuron records (numpy only).

The generated C walks every layer and neuron with one loop over constant
tables, reading each neuron's record from a single stream of bits:

* its four fields, at the widths its layer needs
  (:func:`~skqat.runtime._layer.metadata_widths`, as the model file stores
  them): the index of its bit-width pair, ``k - k0``, the multiplier ``M``
  (without its top bit where the layer's multipliers all share their bit
  length) and the bias ``B`` in two's complement;
* then its ``n_in`` weight codes at its own bit-width
  (:mod:`~skqat.runtime._packing`'s codes: 1 bit is ``-1``/``+1``).

Bits fill bytes from their least significant bit; two zero bytes follow the
stream, so that the reader can always load three bytes. The records of a
layer take at most the bytes of its weights and fields in the model file
(:func:`~skqat.runtime._layer.layer_size_bytes`): the stream rounds once,
at its end, where the file rounds each layer's two parts.
"""

from dataclasses import dataclass

import numpy as np

from ._layer import metadata_widths
from ._packing import pack_bits

#: Zero bytes after the stream: the C reader loads three bytes at any bit position.
STREAM_PADDING = 2
#: The widest field the C reader takes in one load (7 bits of offset + 16 < 24).
READ_BITS = 16


@dataclass(frozen=True)
class LayerHeader:
    """One layer's constants in the C export's ``layer_info`` table.

    Attributes
    ----------
    n_in, n_out : int
        Fan-in and neurons.
    first_pair : int
        Index of the layer's first bit-width pair in the ``pairs`` table.
    k0 : int
        The smallest shift of the layer; each record stores ``k - k0``.
    widths : tuple of int
        Bits of the four fields of a record: pair index, ``k - k0``, ``M``, ``B``.
    implicit_top : bool
        Whether ``M``'s top bit (at position ``widths[2]``) is 1 and not stored.
    """

    n_in: int
    n_out: int
    first_pair: int
    k0: int
    widths: tuple
    implicit_top: bool


@dataclass(frozen=True)
class NeuronStream:
    """The stream and its tables (module docstring).

    Attributes
    ----------
    data : bytes
        The records, padded with :data:`STREAM_PADDING` zero bytes.
    headers : tuple of LayerHeader
    pairs : ndarray of uint8
        Every layer's bit-width pairs, ``(w_bits - 1) | (act_bits - 1) << 4``
        (activation nibble 0 in the output layer).
    """

    data: bytes
    headers: tuple
    pairs: np.ndarray


def _field_bits(values, width):
    """The low ``width`` bits of each value, least significant first: (n, width) of 0/1."""
    v = np.asarray(values, dtype=np.int64).astype(np.uint64)
    return ((v[:, None] >> np.arange(width, dtype=np.uint64)) & 1).astype(np.uint8)


def neuron_stream(layers):
    """The :class:`NeuronStream` of a graph's layers.

    Parameters
    ----------
    layers : list of IntegerLayer

    Returns
    -------
    NeuronStream

    Examples
    --------
    >>> from skqat.runtime import IntegerLayer
    >>> layer = IntegerLayer(weights=[[1, -1]], weight_bits=[2], bias=[-3],
    ...                      multiplier=[5], shift=[2])
    >>> s = neuron_stream([layer])
    >>> s.headers[0].widths, len(s.data)  # 0 + 0 + 2 + 3 field bits, 4 weight bits
    ((0, 0, 2, 3), 4)
    """
    headers, pairs, parts = [], [], []
    for layer in layers:
        layer_pairs, index, k0, widths, implicit = metadata_widths(layer)
        mult = layer.multiplier - (implicit << np.int64(widths[2]))
        fields = np.concatenate([_field_bits(v, w) for v, w in zip(
            (index, layer.shift - k0, mult, layer.bias), widths)], axis=1)
        weights = pack_bits(layer.weights, layer.weight_bits)
        cuts = np.cumsum(layer.n_in * layer.weight_bits)[:-1]
        for record, row in zip(fields, np.split(weights, cuts)):
            parts += [record, row]
        headers.append(LayerHeader(n_in=layer.n_in, n_out=layer.n_out, first_pair=len(pairs),
                                   k0=k0, widths=tuple(int(w) for w in widths),
                                   implicit_top=bool(implicit)))
        pairs += [int(p) for p in layer_pairs]
    bits = np.concatenate(parts) if parts else np.zeros(0, np.uint8)
    data = np.packbits(bits, bitorder="little").tobytes() + bytes(STREAM_PADDING)
    return NeuronStream(data=data, headers=tuple(headers), pairs=np.array(pairs, np.uint8))
