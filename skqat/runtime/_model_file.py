"""The skqat model file: a documented binary format, no pickle.

All integers little-endian. Format version 1:

============  ==================  =============================================
offset        type                field
============  ==================  =============================================
0             8 bytes             magic ``b"SKQATMLP"``
8             uint16              format version (1)
10            uint8               task: 0 regression, 1 binary, 2 multiclass,
                                  3 multilabel (no class labels)
11            uint8               input bits (2..16)
12            uint16              ``L``, number of dense layers
14            uint8               class labels: 0 none, 1 int64, 2 float64, 3 UTF-8
15            uint8               reserved, 0
16            uint32              number of class labels (0 with none)
20            uint32              length of the whole file in bytes
24            uint32 x (L + 1)    layer sizes ``[n_features, hidden..., n_outputs]``
..            float64 x n_feat    input scale (``a_i``)
..            float64 x n_feat    input offset (``c_i``)
..            float64 x n_out     output scale
..            float64 x n_out     output offset
per layer     uint8 x n           bit-widths: ``(w_bits - 1) | (act_bits - 1) << 4``
                                  (activation nibble 0 in the output layer)
              uint8 x n           requantization shift ``k``
              int32 x n           requantization multiplier ``M``
              int32 x n           bias ``B``
..            labels              int64 or float64 each, or per label a uint32
                                  length and its UTF-8 bytes
..            bytes               packed weights (:mod:`~skqat.runtime._packing`)
end - 4       uint32              CRC-32 (zlib) of every byte before it
============  ==================  =============================================

The header (the first ``24 + 4 (L + 1)`` bytes) is at most 256 bytes for
up to 57 layers. Reading checks the magic, the version, the length and the
checksum before it parses anything, then every size against the bytes that
are there, so a damaged file raises :class:`ModelFileError` and never
allocates more than its own size.
"""

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from . import _packing
from ._layer import TASKS, IntegerLayer

MAGIC = b"SKQATMLP"
VERSION = 1
_FIXED = struct.Struct("<8sHBBHBBII")
_LABEL_KINDS = {0: None, 1: "<i8", 2: "<f8", 3: "utf-8"}


class ModelFileError(ValueError):
    """A model file that cannot be read: not a model file, damaged, or from another version.

    Examples
    --------
    >>> from skqat.runtime import ModelFileError, load_bytes
    >>> try:
    ...     load_bytes(b"not a model")
    ... except ModelFileError as exc:
    ...     print("refused")
    refused
    """


def _label_block(classes):
    if classes is None:
        return 0, b""
    if classes.dtype.kind in "iub":
        return 1, classes.astype("<i8").tobytes()
    if classes.dtype.kind == "f":
        return 2, classes.astype("<f8").tobytes()
    if classes.dtype.kind in "UO" and all(isinstance(c, str) for c in classes):
        parts = [struct.pack("<I", len(e)) + e for e in (c.encode("utf-8") for c in classes)]
        return 3, b"".join(parts)
    raise ValueError(
        f"Class labels of dtype {classes.dtype} cannot be stored in a model file: use integer, "
        "float or string labels (e.g. encode them with a LabelEncoder first)."
    )


def dump_bytes(graph):
    """The model file of an :class:`~skqat.runtime.IntegerMLP`, as bytes."""
    kind, labels = _label_block(graph.classes)
    n_classes = 0 if graph.classes is None else len(graph.classes)
    sizes = graph.layer_sizes
    body = [
        np.asarray(sizes, dtype="<u4").tobytes(),
        graph.input_scale.astype("<f8").tobytes(),
        graph.input_offset.astype("<f8").tobytes(),
        graph.output_scale.astype("<f8").tobytes(),
        graph.output_offset.astype("<f8").tobytes(),
    ]
    for layer in graph.layers:
        act = 0 if layer.activation_bits is None else layer.activation_bits - 1
        body += [
            ((layer.weight_bits - 1) | (act << 4)).astype(np.uint8).tobytes(),
            layer.shift.astype(np.uint8).tobytes(),
            layer.multiplier.astype("<i4").tobytes(),
            layer.bias.astype("<i4").tobytes(),
        ]
    body += [labels, _packing.pack_layers(graph.layers)]
    body = b"".join(body)
    length = _FIXED.size + len(body) + 4
    head = _FIXED.pack(MAGIC, VERSION, TASKS.index(graph.task), graph.input_bits,
                       len(graph.layers), kind, 0, n_classes, length)
    data = head + body
    return data + struct.pack("<I", zlib.crc32(data))


class _Reader:
    """Sequential reads that refuse to run past the end."""

    def __init__(self, data, offset):
        self.data, self.offset = data, offset

    def take(self, n):
        if n < 0 or self.offset + n > len(self.data):
            raise ModelFileError("The model file is truncated or its sizes are inconsistent.")
        chunk = self.data[self.offset:self.offset + n]
        self.offset += n
        return chunk

    def array(self, dtype, count):
        dtype = np.dtype(dtype)
        return np.frombuffer(self.take(dtype.itemsize * count), dtype=dtype).astype(
            dtype.newbyteorder("="))


def _check_envelope(data):
    if len(data) < _FIXED.size + 4:
        raise ModelFileError(f"Not a skqat model file: only {len(data)} bytes.")
    magic, version, *_, length = _FIXED.unpack_from(data)
    if magic != MAGIC:
        raise ModelFileError("Not a skqat model file (wrong magic bytes).")
    if version != VERSION:
        raise ModelFileError(
            f"This model file has format version {version}; this skqat reads version {VERSION}. "
            "Export the model again with this skqat, or install the skqat that wrote it."
        )
    if length != len(data):
        raise ModelFileError(
            f"The model file is truncated or has extra bytes: its header says {length} bytes, "
            f"it has {len(data)}."
        )
    stored, = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) != stored:
        raise ModelFileError("The model file is corrupted: its checksum does not match.")


def _read_labels(r, kind, count):
    if kind not in _LABEL_KINDS:
        raise ModelFileError(f"Unknown class-label kind {kind}.")
    if kind == 0:
        if count:
            raise ModelFileError("Class labels are counted but have no kind.")
        return None
    if kind in (1, 2):
        return r.array(_LABEL_KINDS[kind], count)
    labels = []
    for _ in range(count):
        n, = struct.unpack("<I", r.take(4))
        try:
            labels.append(r.take(n).decode("utf-8"))
        except UnicodeDecodeError as err:
            raise ModelFileError("The model file's class labels are not valid UTF-8.") from err
    return np.array(labels, dtype=str)


@dataclass(frozen=True)
class StoredGraph:
    """What a model file holds: the arguments of :class:`~skqat.runtime.IntegerMLP`.

    ``input_scale``, ``input_offset`` (float64, per feature), ``input_bits``,
    ``layers`` (list of IntegerLayer), ``output_scale``, ``output_offset``
    (float64, per output), ``task`` and ``classes`` (ndarray or None), as
    :class:`~skqat.runtime.IntegerMLP` documents them.
    """

    input_scale: np.ndarray
    input_offset: np.ndarray
    input_bits: int
    layers: list
    output_scale: np.ndarray
    output_offset: np.ndarray
    task: str
    classes: np.ndarray | None


def read_graph(data):
    """The :class:`StoredGraph` of model-file bytes, every field checked.

    Raises
    ------
    ModelFileError
        If the bytes are not a model file of this version, are truncated or
        corrupted, or describe invalid layers.
    """
    data = bytes(data)
    _check_envelope(data)
    _, _, task, input_bits, n_layers, kind, reserved, n_classes, _ = _FIXED.unpack_from(data)
    if task >= len(TASKS) or reserved or n_layers < 1:
        raise ModelFileError("The model file's header holds invalid values.")
    r = _Reader(data[:-4], _FIXED.size)
    sizes = r.array("<u4", n_layers + 1).astype(np.int64)
    if sizes.min() < 1:
        raise ModelFileError("The model file has a layer of size 0.")
    n_features, n_out = int(sizes[0]), int(sizes[-1])
    input_scale, input_offset = r.array("<f8", n_features), r.array("<f8", n_features)
    output_scale, output_offset = r.array("<f8", n_out), r.array("<f8", n_out)
    fields = []
    for i in range(n_layers):
        n = int(sizes[i + 1])
        code = r.array("u1", n).astype(np.int64)
        fields.append((code, r.array("u1", n), r.array("<i4", n), r.array("<i4", n)))
    classes = _read_labels(r, kind, n_classes)
    shapes = [(int(sizes[i + 1]), int(sizes[i])) for i in range(n_layers)]
    w_bits = [(code & 15) + 1 for code, *_ in fields]
    n_bits = sum(n_in * int(b.sum()) for (_, n_in), b in zip(shapes, w_bits))
    packed = r.take(-(-n_bits // 8))
    if r.offset != len(r.data):
        raise ModelFileError("The model file has bytes after its packed weights.")
    stream = np.unpackbits(np.frombuffer(packed, dtype=np.uint8), bitorder="little")
    if stream[n_bits:].any():
        raise ModelFileError("The model file's padding bits are not zero.")
    weights = _packing.unpack_layers(packed, shapes, w_bits)
    try:
        layers = []
        for i, ((code, shift, mult, bias), w, bits) in enumerate(zip(fields, weights, w_bits)):
            hidden = i < n_layers - 1
            if not hidden and np.any(code >> 4):
                raise ValueError("the output layer has activation bit-widths.")
            layers.append(IntegerLayer(w, bits, bias, mult, shift,
                                       (code >> 4) + 1 if hidden else None))
    except ValueError as err:
        raise ModelFileError(f"The model file describes an invalid graph: {err}") from err
    return StoredGraph(input_scale=input_scale, input_offset=input_offset,
                       input_bits=input_bits, layers=layers, output_scale=output_scale,
                       output_offset=output_offset, task=TASKS[task], classes=classes)


