"""The skqat model file: a documented binary format, no pickle.

All integers little-endian; "varint" is unsigned LEB128 (7 bits a byte).
Format version 4:

============  ==================  =============================================
offset        type                field
============  ==================  =============================================
0             8 bytes             magic ``b"SKQATMLP"``
8             uint16              format version (4; 2 and 3 are read too)
10            uint8               task: 0 regression, 1 binary, 2 multiclass,
                                  3 multilabel
11            uint8               input bits (2..16)
12            uint8               ``L``, number of dense layers (1..255)
13            uint8               flags: bits 0-1 class labels (0 none,
                                  1 integers, 2 float64, 3 UTF-8); bit 2 one
                                  scale and offset per output (else one
                                  common scale, offsets 0); bit 3 a raw-input
                                  section follows the labels; bit 4 the
                                  input steps are bfloat16; bit 5 some
                                  input steps are int8 codes
14            uint16              number of class labels
16            uint32              length of the whole file in bytes
20            varint x (L + 1)    layer sizes ``[n_features, hidden..., n_outputs]``
..            input steps         per feature the scale ``a_i`` and offset
                                  ``c_i`` of its input code: float32, or
                                  bfloat16 (bit 4), or two int8 codes (bit
                                  5, with a bitmap of those features):
                                  :mod:`~skqat.runtime._input_steps_file`
..            float64 x 1 or 2n   output scale (one common one, or per output),
                                  then per output the offset (bit 2 only)
per layer     uint8               ``P``, the number of bit-width pairs
              uint8 x P           the pairs: ``(w_bits - 1) | (act_bits - 1) << 4``
                                  (activation nibble 0 in the output layer)
              uint8 x 5           ``k0``, then the widths in bits of the four
                                  per-neuron fields: pair index, ``k - k0``,
                                  ``M`` (+ 128: its top bit, always 1, is
                                  not stored), ``B``
              bytes               per neuron the four fields, bit-packed
                                  (:func:`~skqat.runtime._packing.pack_fields`;
                                  ``B`` in two's complement), zero-padded
..            labels              integers: a width byte (1, 2, 4 or 8) and
                                  the values; float64 each; or per label its
                                  UTF-8 text (varint length)
..            raw inputs          :mod:`~skqat.runtime._raw_inputs_file` (bit 3)
..            bytes               packed weights (:mod:`~skqat.runtime._packing`)
end - 4       uint32              CRC-32 (zlib) of every byte before it
============  ==================  =============================================

Each neuron's bias, multiplier and shift take the widths its layer needs, so
a model of ``N`` neurons (with their fields under 40 bits, as trained models
have them) and ``F`` inputs fits in ``ceil(sum(fan_in * bits) / 8) + 5 N +
8 F + 64`` bytes: ``4 F`` less when its input steps are bfloat16 values
(an estimator's always are), and 2 bytes less again for each 0/1 input
column (one-hot, indicators) of an estimator. Reading checks the magic, the
version, the length and the checksum before it parses anything, then every size against the bytes that
are there, so a damaged file raises :class:`ModelFileError` and never
allocates more than its own size. Version 1 files (float64 input steps) are
refused with a version error: export the model again. Version 3 is version
4 without bit 5, and version 2 is version 3 without bit 4.
"""

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from . import _packing
from ._bytes import ModelFileError, Reader, text, varint
from ._input_steps_file import dump_input_steps, input_steps_bytes, read_input_steps
from ._layer import TASKS, IntegerLayer, metadata_widths
from ._raw_inputs_file import dump_raw_inputs, read_raw_inputs

MAGIC = b"SKQATMLP"
VERSION = 4
_READS = (2, 3, 4)
_FIXED = struct.Struct("<8sHBBBBHI")
_LABELS, _PER_OUTPUT, _RAW, _BFLOAT16, _INT8 = 3, 4, 8, 16, 32
_INT_WIDTHS = {1: "<i1", 2: "<i2", 4: "<i4", 8: "<i8"}
_IMPLICIT_TOP = 0x80  # in the multiplier's width byte: its top bit is 1, not stored


def steps_size_bytes(input_scale, input_offset, output_scale, output_offset):
    """Bytes of a graph's input and output steps, as the model file stores them.

    Per feature a scale and an offset: two int8 codes (2 bytes) where both
    codes of a 0/1 column are small integers, as an estimator's are for
    every 0/1 column (a bitmap of those features adds one byte per eight
    features); otherwise 2 bytes each when all of them are bfloat16 values
    (as an estimator's are), else 4 (float32). Then the float64 output
    steps: one common scale, or (when the outputs differ or have offsets) a
    scale and an offset per output.

    Examples
    --------
    >>> steps_size_bytes(np.full(14, 0.5), np.zeros(14), [0.5], [0.0])
    64
    >>> steps_size_bytes(np.full(14, 0.1), np.zeros(14), [0.5], [3.0])
    128
    >>> steps_size_bytes(np.full(14, 40.0), np.full(14, -3.0), [0.5], [0.0])
    38
    """
    scale, offset = np.asarray(output_scale), np.asarray(output_offset)
    per_output = np.any(offset) or np.any(scale != scale.flat[0])
    return (input_steps_bytes(input_scale, input_offset)
            + (16 * scale.size if per_output else 8))


def _label_block(classes):
    if classes is None:
        return 0, b""
    if classes.dtype.kind in "iub":
        values = classes.astype(np.int64)
        width = next(w for w, t in _INT_WIDTHS.items()
                     if np.iinfo(t).min <= values.min() and values.max() <= np.iinfo(t).max)
        return 1, bytes([width]) + values.astype(_INT_WIDTHS[width]).tobytes()
    if classes.dtype.kind == "f":
        return 2, classes.astype("<f8").tobytes()
    if classes.dtype.kind in "UO" and all(isinstance(c, str) for c in classes):
        return 3, b"".join(text(c) for c in classes)
    raise ValueError(
        f"Class labels of dtype {classes.dtype} cannot be stored in a model file: use integer, "
        "float or string labels (e.g. encode them with a LabelEncoder first)."
    )


def _layer_block(layer):
    """A layer's per-neuron metadata at the widths it needs (module docstring)."""
    palette, index, k0, widths, implicit = metadata_widths(layer)
    bias = layer.bias & ((1 << widths[3]) - 1)
    mult = layer.multiplier & ((1 << widths[2]) - 1)  # without an implicit top bit
    fields = _packing.pack_fields(list(zip([index, layer.shift - k0, mult, bias], widths)))
    flagged = widths[:2] + [widths[2] | (_IMPLICIT_TOP if implicit else 0), widths[3]]
    return bytes([len(palette), *palette.tolist(), k0, *flagged]) + fields


def dump_bytes(graph):
    """The model file of an :class:`~skqat.runtime.IntegerMLP`, as bytes."""
    kind, labels = _label_block(graph.classes)
    per_output = not (np.all(graph.output_offset == 0)
                      and np.all(graph.output_scale == graph.output_scale[0]))
    steps = (np.concatenate([graph.output_scale, graph.output_offset]) if per_output
             else graph.output_scale[:1])
    input_steps, half, int8 = dump_input_steps(graph.input_scale, graph.input_offset)
    flags = (kind | (_PER_OUTPUT if per_output else 0) | (_RAW if graph.raw_inputs else 0)
             | (_BFLOAT16 if half else 0) | (_INT8 if int8 else 0))
    body = [b"".join(varint(s) for s in graph.layer_sizes), input_steps,
            steps.astype("<f8").tobytes()]
    body += [_layer_block(layer) for layer in graph.layers]
    body += [labels, dump_raw_inputs(graph.raw_inputs) if graph.raw_inputs else b"",
             _packing.pack_layers(graph.layers)]
    body = b"".join(body)
    n_classes = 0 if graph.classes is None else len(graph.classes)
    if len(graph.layers) > 255 or n_classes > 65535:
        raise ValueError("A model file holds at most 255 layers and 65,535 classes.")
    length = _FIXED.size + len(body) + 4
    head = _FIXED.pack(MAGIC, VERSION, TASKS.index(graph.task), graph.input_bits,
                       len(graph.layers), flags, n_classes, length)
    data = head + body
    return data + struct.pack("<I", zlib.crc32(data))


def _check_envelope(data):
    if len(data) < _FIXED.size + 4:
        raise ModelFileError(f"Not a skqat model file: only {len(data)} bytes.")
    magic, version, *_, length = _FIXED.unpack_from(data)
    if magic != MAGIC:
        raise ModelFileError("Not a skqat model file (wrong magic bytes).")
    if version not in _READS:
        raise ModelFileError(
            f"This model file has format version {version}; this skqat reads versions "
            f"{_READS[0]} to {VERSION}"
            + (" (version 1 had a float64 input step, which version 2 replaced by float32)"
               if version == 1 else "")
            + ". Export the model again with this skqat, or install the skqat that wrote it."
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
    if kind == 0:
        if count:
            raise ModelFileError("Class labels are counted but have no kind.")
        return None
    if kind == 1:
        width = r.take(1)[0]
        if width not in _INT_WIDTHS:
            raise ModelFileError(f"Invalid integer label width {width}.")
        return r.array(_INT_WIDTHS[width], count).astype(np.int64)
    if kind == 2:
        return r.array("<f8", count)
    return np.array([r.text() for _ in range(count)], dtype=str)


def _read_layer(r, n_out, hidden):
    """The per-neuron fields of a layer: (weight bits, activation bits, shift, multiplier, bias)."""
    n_pairs = r.take(1)[0]
    palette = np.frombuffer(r.take(n_pairs), dtype=np.uint8).astype(np.int64)
    k0, *widths = r.take(5)
    implicit = bool(widths[2] & _IMPLICIT_TOP)
    widths[2] &= ~_IMPLICIT_TOP
    if not n_pairs or widths[0] > 8 or widths[1] > 6 or widths[2] > 31 or widths[3] > 32:
        raise ModelFileError("The model file's per-neuron fields have invalid widths.")
    index, dk, mult, bias = _packing.unpack_fields(
        r.take(-(-n_out * sum(widths) // 8)), n_out, widths)
    if index.max() >= n_pairs:
        raise ModelFileError("The model file refers to a bit-width pair it does not hold.")
    if widths[3]:
        bias = np.where(bias >= 1 << (widths[3] - 1), bias - (1 << widths[3]), bias)
    if implicit:
        mult = mult | (1 << widths[2])
    pair = palette[index]
    if not hidden and np.any(pair >> 4):
        raise ModelFileError("The model file's output layer has activation bit-widths.")
    return (pair & 15) + 1, (pair >> 4) + 1 if hidden else None, dk + k0, mult, bias


@dataclass(frozen=True)
class StoredGraph:
    """What a model file holds: the arguments of :class:`~skqat.runtime.IntegerMLP`.

    ``input_scale``, ``input_offset`` (float32, per feature), ``input_bits``,
    ``layers`` (list of IntegerLayer), ``output_scale``, ``output_offset``
    (float64, per output), ``task``, ``classes`` (ndarray or None) and
    ``raw_inputs`` (RawInputs or None), as :class:`~skqat.runtime.IntegerMLP`
    documents them.
    """

    input_scale: np.ndarray
    input_offset: np.ndarray
    input_bits: int
    layers: list
    output_scale: np.ndarray
    output_offset: np.ndarray
    task: str
    classes: np.ndarray | None
    raw_inputs: object = None


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
    _, version, task, input_bits, n_layers, flags, n_classes, _ = _FIXED.unpack_from(data)
    if task >= len(TASKS) or flags >> {2: 4, 3: 5}.get(version, 6) or n_layers < 1:
        raise ModelFileError("The model file's header holds invalid values.")
    r = Reader(data[:-4], _FIXED.size)
    sizes = [r.varint(len(data) * 8) for _ in range(n_layers + 1)]
    if min(sizes) < 1:
        raise ModelFileError("The model file has a layer of size 0.")
    n_features, n_out = sizes[0], sizes[-1]
    input_scale, input_offset = read_input_steps(r, n_features, half=bool(flags & _BFLOAT16),
                                                 int8=bool(flags & _INT8))
    if flags & _PER_OUTPUT:
        output_scale, output_offset = r.array("<f8", n_out), r.array("<f8", n_out)
    else:
        output_scale, output_offset = np.repeat(r.array("<f8", 1), n_out), np.zeros(n_out)
    fields = [_read_layer(r, sizes[i + 1], i < n_layers - 1) for i in range(n_layers)]
    classes = _read_labels(r, flags & _LABELS, n_classes)
    raw_inputs = read_raw_inputs(r) if flags & _RAW else None
    shapes = [(sizes[i + 1], sizes[i]) for i in range(n_layers)]
    w_bits = [f[0] for f in fields]
    n_bits = sum(n_in * int(b.sum()) for (_, n_in), b in zip(shapes, w_bits))
    packed = r.take(-(-n_bits // 8))
    if r.offset != len(r.data):
        raise ModelFileError("The model file has bytes after its packed weights.")
    stream = np.unpackbits(np.frombuffer(packed, dtype=np.uint8), bitorder="little")
    if stream[n_bits:].any():
        raise ModelFileError("The model file's padding bits are not zero.")
    weights = _packing.unpack_layers(packed, shapes, w_bits)
    try:
        layers = [IntegerLayer(w, bits, bias, mult, shift, act)
                  for w, (bits, act, shift, mult, bias) in zip(weights, fields)]
    except ValueError as err:
        raise ModelFileError(f"The model file describes an invalid graph: {err}") from err
    return StoredGraph(input_scale=input_scale, input_offset=input_offset,
                       input_bits=input_bits, layers=layers, output_scale=output_scale,
                       output_offset=output_offset, task=TASKS[task], classes=classes,
                       raw_inputs=raw_inputs)
