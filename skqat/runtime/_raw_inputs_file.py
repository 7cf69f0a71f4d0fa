"""The raw-input section of a model file (a pipeline's folded preprocessing; numpy only).

Layout (varint: unsigned LEB128; text: varint length and UTF-8 bytes):

* varint ``C`` and ``C`` texts: the raw column names, in order.
* varint, then per numeric input: varint column index, varint graph input,
  uint8 number of steps, per step uint8 operation (the index in
  :data:`~skqat.runtime._raw_inputs.STEP_OPS`) and float64 ``a``, ``b``.
* varint, then per categorical input: varint column index, uint8 category
  kind (0 text, 1 float64), varint ``n`` and the ``n`` categories, varint
  ``w`` and ``w`` varint graph inputs, int16 codes (``(n + 2) x w``, row by
  row: the categories, unknown, missing), and the ``n + 2`` valid flags
  bit-packed.
"""

import numpy as np

from ._bytes import ModelFileError, text, varint
from ._raw_inputs import STEP_OPS, CategoricalInput, NumericInput, RawInputs, Step


def dump_raw_inputs(raw):
    """The section's bytes for a :class:`RawInputs`."""
    index = {name: i for i, name in enumerate(raw.columns)}
    out = [varint(len(raw.columns))] + [text(c) for c in raw.columns]
    out.append(varint(len(raw.numeric)))
    for num in raw.numeric:
        out += [varint(index[num.column]), varint(num.feature), bytes([len(num.steps)])]
        out += [bytes([STEP_OPS.index(s.op)]) + np.array([s.a, s.b], "<f8").tobytes()
                for s in num.steps]
    out.append(varint(len(raw.categorical)))
    for cat in raw.categorical:
        is_text = cat.categories.dtype.kind in "UO"
        out += [varint(index[cat.column]), bytes([0 if is_text else 1]),
                varint(len(cat.categories))]
        out += ([text(c) for c in cat.categories] if is_text
                else [cat.categories.astype("<f8").tobytes()])
        out += [varint(len(cat.features))]
        out += [varint(f) for f in cat.features]
        out += [cat.codes.astype("<i2").tobytes(),
                np.packbits(cat.valid.astype(np.uint8), bitorder="little").tobytes()]
    return b"".join(out)


def read_raw_inputs(r):
    """A :class:`RawInputs` read from a :class:`~skqat.runtime._bytes.Reader`."""
    limit = len(r.data)
    columns = tuple(r.text() for _ in range(r.varint(limit)))

    def column():
        i = r.varint(limit)
        if i >= len(columns):
            raise ModelFileError("The model file's raw inputs name a column it does not hold.")
        return columns[i]

    numeric = []
    for _ in range(r.varint(limit)):
        name, feature, n_steps = column(), r.varint(limit), r.take(1)[0]
        steps = []
        for _ in range(n_steps):
            op = r.take(1)[0]
            a, b = r.array("<f8", 2)
            if op >= len(STEP_OPS):
                raise ModelFileError(f"Unknown raw-input step {op}.")
            steps.append(Step(STEP_OPS[op], float(a), float(b)))
        numeric.append(NumericInput(column=name, feature=feature, steps=tuple(steps)))
    categorical = []
    for _ in range(r.varint(limit)):
        name, kind, n = column(), r.take(1)[0], r.varint(limit)
        if kind > 1:
            raise ModelFileError(f"Unknown category kind {kind}.")
        categories = (np.array([r.text() for _ in range(n)], dtype=object) if kind == 0
                      else r.array("<f8", n))
        width = r.varint(limit)
        features = np.array([r.varint(limit) for _ in range(width)], dtype=np.int64)
        codes = r.array("<i2", (n + 2) * width).astype(np.int64).reshape(n + 2, width)
        valid = np.unpackbits(np.frombuffer(r.take(-(-(n + 2) // 8)), np.uint8),
                              bitorder="little")[:n + 2].astype(bool)
        categorical.append(CategoricalInput(column=name, categories=categories,
                                            features=features, codes=codes, valid=valid))
    return RawInputs(columns=columns, numeric=tuple(numeric), categorical=tuple(categorical))
