"""The integer inference graph of a fitted NMP-QAT network (numpy only).

Arithmetic, layer by layer (``l = 1 .. L``, neuron ``j``):

1. **Input step** (the only floating point before the outputs). Feature
   ``i`` of a row ``x`` becomes the signed code
   ``q_i = floor(clip(x_i * a_i + c_i, -Q, Q) + 1/2)`` with
   ``Q = 2**(input_bits - 1) - 1``: one affine step that folds the
   standardization and the input quantization. NaN maps to code 0.
2. **Accumulation**: ``acc_j = sum_i W_ji * q_i + B_j`` with integer weights
   ``W_ji`` at the neuron's bit-width ``b_j`` (1 bit: ``{-1, +1}``; ``b`` bits:
   ``|W| <= 2**(b-1) - 1``) and an int32 bias ``B_j``.
3. **Requantization** (:mod:`~skqat.runtime._fixed_point`):
   ``r_j = floor((acc_j * M_j + 2**(k_j - 1)) / 2**k_j)``, round half up.
4. **Activation** (hidden layers): ``h_j = clip(r_j, 0, 2**a_j - 1)``, an
   unsigned code at the neuron's activation bit-width ``a_j``. The output
   layer keeps ``r_j`` (a common output step for all outputs, so that the
   arg-max of integers is the class).
5. **Output step**: ``y = r * output_scale + output_offset`` (logits, or the
   regression targets in their units).

Overflow bound, checked when a graph is built: with ``X`` the largest input
code of a layer (``Q`` for the first, ``2**max(a) - 1`` after), and
``n`` the fan-in,

    ``|acc_j| <= n * Wmax(b_j) * X + |B_j| =: A_j``,

and the multiplier is given at most ``61 - bit_length(A_j)`` bits, so
``|acc_j * M_j| + 2**k_j < 2**62``: int64 never overflows.

numpy computes these integers in float64 where that is exact, because BLAS
and float ufuncs are much faster than int64 arithmetic: :data:`MAX_FAN_IN`
keeps every ``A_j`` below ``2**48``, so every partial sum of the matrix
product is an integer float64 represents exactly, whatever the summation
order; and the requantization runs in float64 when ``A_j * M_j + 2**k_j <
2**53`` (see :class:`~skqat.runtime._layer.LayerPlan`), in int64 otherwise. The results equal the
int64 computation bit for bit (the test suite checks them against a plain
integer implementation); the C export computes in int64 throughout.
"""

import numpy as np

from . import _fixed_point as fp
from ._c_export import export_c
from ._layer import (INT32_MAX, MAX_FAN_IN, TASKS, IntegerLayer, LayerPlan, accumulator_bound,
                     layer_size_bytes, prune_zero_bit_neurons)
from ._model_file import dump_bytes
from ._rows import check_rows, input_codes, row_blocks


def quantize_input(X, scale, offset, bits):
    """Signed ``bits``-bit codes ``floor(clip(X * scale + offset, -Q, Q) + 1/2)``.

    The graph's input step (and the codes training sees). Two separate
    roundings, no fused multiply-add, as the C export computes; NaN gives 0.

    Parameters
    ----------
    X : ndarray of float64, shape (n_samples, n_features)
    scale, offset : ndarray of float64, shape (n_features,)
    bits : int

    Returns
    -------
    ndarray of int64, shape (n_samples, n_features)

    Examples
    --------
    >>> import numpy as np
    >>> quantize_input(np.array([[0.5, -0.5, 1e9, np.nan]]), np.ones(4), np.zeros(4), 4)
    array([[1, 0, 7, 0]])
    """
    return input_codes(X, scale, offset, bits).astype(np.int64)


class IntegerMLP:
    """Integer-only inference graph of a quantized ReLU MLP (numpy, no torch).

    Build it with ``estimator.to_integer()`` or :meth:`from_layers`; load it
    with :func:`skqat.runtime.load`. See the module docstring for the
    arithmetic and the overflow bound, checked here at construction.

    Parameters
    ----------
    input_scale, input_offset : ndarray of float64, shape (n_features,)
        The input step ``x * input_scale + input_offset`` before rounding.
    input_bits : int
        Bit-width of the signed input codes, 2 to 16.
    layers : list of IntegerLayer
        Dense layers; all but the last have ``activation_bits``.
    output_scale, output_offset : ndarray of float64, shape (n_outputs,)
        Dequantization of the integer outputs.
    task : {"regression", "binary", "multiclass", "multilabel"}
        How outputs become predictions: values, the sign of the single
        logit, the arg-max, or the sign of every output (one independent
        logit per label).
    classes : ndarray or None
        Class labels (classification); None predicts class indices.

    Examples
    --------
    >>> import numpy as np
    >>> from skqat.runtime import IntegerLayer, IntegerMLP
    >>> layer = IntegerLayer(weights=[[1, -1]], weight_bits=[2], bias=[0],
    ...                      multiplier=[1], shift=[0])
    >>> graph = IntegerMLP(input_scale=[1.0, 1.0], input_offset=[0.0, 0.0], input_bits=8,
    ...                    layers=[layer], output_scale=[0.5], output_offset=[0.0],
    ...                    task="regression")
    >>> graph.predict(np.array([[3.0, 1.0], [0.4, 2.6]]))
    array([ 1. , -1.5])
    """

    def __init__(self, input_scale, input_offset, input_bits, layers, output_scale,
                 output_offset, task, classes=None):
        self.input_scale = np.asarray(input_scale, dtype=np.float64)
        self.input_offset = np.asarray(input_offset, dtype=np.float64)
        self.input_bits = int(input_bits)
        self.layers = list(layers)
        self.output_scale = np.asarray(output_scale, dtype=np.float64)
        self.output_offset = np.asarray(output_offset, dtype=np.float64)
        self.task = task
        self.classes = None if classes is None else np.asarray(classes)
        self._check()
        self._plans = [LayerPlan(layer, bounds)
                       for layer, bounds in zip(self.layers, self.accumulator_bounds())]

    # ------------------------------------------------------------ building
    @classmethod
    def from_layers(cls, *, input_scale, input_offset, input_bits, layers, task,
                    target_scale=None, target_mean=None, classes=None):
        """Build the graph from trained layers in integer codes and real steps.

        The real requantization factor of a hidden neuron is its weight step
        over its layer's activation step; an output neuron's is its weight
        step over the smallest output weight step (the common output step).

        Parameters
        ----------
        input_scale, input_offset, input_bits
            As in :class:`IntegerMLP`.
        layers : list of QuantizedLayer
            The dense layers; all but the last have activation steps and bits.
            Biases are clipped to the int32 range. Hidden neurons at 0 weight
            bits are pruned (:func:`~skqat.runtime._layer.prune_zero_bit_neurons`).
        task : {"regression", "binary", "multiclass", "multilabel"}
        target_scale, target_mean : ndarray or None
            Regression: the output's standardization, undone at the end.
        classes : ndarray or None

        Returns
        -------
        IntegerMLP
        """
        layers = prune_zero_bit_neurons(layers)
        output_step = float(np.min(layers[-1].weight_step))
        built, max_code = [], 2 ** (int(input_bits) - 1) - 1
        for layer in layers:
            hidden = layer.activation_step is not None
            target_step = (layer.activation_step if hidden
                           else np.full(len(layer.weight_step), output_step))
            bias = np.clip(np.asarray(layer.bias, dtype=np.int64), -INT32_MAX, INT32_MAX)
            bounds = accumulator_bound(layer.weight_bits, bias, np.shape(layer.weights)[1],
                                       max_code)
            pairs = [fp.quantize_multiplier(float(s) / float(t), fp.multiplier_bits(b))
                     for s, t, b in zip(layer.weight_step, target_step, bounds)]
            built.append(IntegerLayer(layer.weights, layer.weight_bits, bias,
                                      [m for m, _ in pairs], [k for _, k in pairs],
                                      layer.activation_bits if hidden else None))
            if hidden:
                max_code = built[-1].max_output_code()
        n_out = built[-1].n_out
        scale = np.full(n_out, output_step)
        offset = np.zeros(n_out)
        if target_scale is not None:
            scale = scale * np.asarray(target_scale, dtype=np.float64)
            offset = np.asarray(target_mean, dtype=np.float64) + offset
        return cls(input_scale, input_offset, input_bits, built, scale, offset, task, classes)

    def _check(self):
        n_features = self.input_scale.shape[0] if self.input_scale.ndim == 1 else -1
        if n_features < 1 or self.input_offset.shape != (n_features,):
            raise ValueError("input_scale and input_offset must be 1-D arrays of one length.")
        if not (np.all(np.isfinite(self.input_scale)) and np.all(np.isfinite(self.input_offset))):
            raise ValueError("input_scale and input_offset must be finite.")
        if not 2 <= self.input_bits <= 16:
            raise ValueError(f"input_bits must be in [2, 16], got {self.input_bits}.")
        if not self.layers or not all(isinstance(lay, IntegerLayer) for lay in self.layers):
            raise ValueError("layers must be a non-empty list of IntegerLayer.")
        n_in = n_features
        for i, layer in enumerate(self.layers):
            hidden = i < len(self.layers) - 1
            if layer.n_in != n_in:
                raise ValueError(f"layer {i} has fan-in {layer.n_in}, expected {n_in}.")
            if layer.n_in > MAX_FAN_IN:
                raise ValueError(f"layer {i} has fan-in {layer.n_in}; the widest supported "
                                 f"is {MAX_FAN_IN}.")
            if hidden != (layer.activation_bits is not None):
                raise ValueError("every hidden layer, and only those, has activation_bits.")
            n_in = layer.n_out
        if self.output_scale.shape != (n_in,) or self.output_offset.shape != (n_in,):
            raise ValueError(f"output_scale and output_offset must have shape ({n_in},).")
        if not (np.all(np.isfinite(self.output_scale)) and np.all(np.isfinite(self.output_offset))):
            raise ValueError("output_scale and output_offset must be finite.")
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}.")
        if self.task == "binary" and n_in != 1:
            raise ValueError("a binary graph has a single output (the logit).")
        if self.classes is not None:
            n_classes = 2 if self.task == "binary" else n_in
            if self.task in ("regression", "multilabel") or self.classes.shape != (n_classes,):
                raise ValueError(f"classes must have shape ({n_classes},) for a {self.task} graph.")
        for i, bounds in enumerate(self.accumulator_bounds()):
            layer = self.layers[i]
            for j, (bound, m, k) in enumerate(zip(bounds, layer.multiplier, layer.shift)):
                if bound * int(m) + (1 << int(k)) >= 1 << fp.PRODUCT_BITS:
                    raise ValueError(
                        f"layer {i}, neuron {j}: the accumulator bound {bound} times the "
                        f"multiplier {m} could overflow int64 (see the module docstring)."
                    )

    # ----------------------------------------------------------- inspection
    @property
    def n_features(self):
        """Number of input features."""
        return self.input_scale.shape[0]

    @property
    def n_outputs(self):
        """Number of integer outputs (1 for binary classification)."""
        return self.layers[-1].n_out

    @property
    def layer_sizes(self):
        """``[n_features, hidden..., n_outputs]``."""
        return [self.n_features] + [layer.n_out for layer in self.layers]

    def accumulator_bounds(self):
        """Per layer, the list of per-neuron bounds ``A_j`` on the accumulators."""
        bounds, max_code = [], 2 ** (self.input_bits - 1) - 1
        for layer in self.layers:
            bounds.append(layer.accumulator_bound(max_code))
            if layer.activation_bits is not None:
                max_code = layer.max_output_code()
        return bounds

    def weight_bit_count(self):
        """Total bits of all weight codes, ``sum_j fan_in_j * b_j``."""
        return sum(layer.n_in * int(layer.weight_bits.sum()) for layer in self.layers)

    def theoretical_size_bytes(self):
        """Bytes of the model's content, without any file structure.

        Per layer the packed weight bits (rounded up to bytes), plus per
        neuron an int32 bias, an int32 multiplier and a shift byte, plus per feature the float64 input
        scale and offset, plus per output the float64 output scale and offset.
        """
        return (sum(layer_size_bytes(layer.n_in, layer.weight_bits) for layer in self.layers)
                + 16 * self.n_features + 16 * self.n_outputs)

    def __eq__(self, other):
        if not isinstance(other, IntegerMLP):
            return NotImplemented
        same_classes = ((self.classes is None) == (other.classes is None)
                        and (self.classes is None
                             or np.array_equal(self.classes, other.classes)))
        return (same_classes and self.task == other.task
                and self.input_bits == other.input_bits
                and len(self.layers) == len(other.layers)
                and all(a == b for a, b in zip(self.layers, other.layers))
                and all(np.array_equal(getattr(self, k), getattr(other, k)) for k in
                        ("input_scale", "input_offset", "output_scale", "output_offset")))

    __hash__ = None

    def __repr__(self):
        return f"IntegerMLP(layer_sizes={self.layer_sizes}, task={self.task!r})"

    # ------------------------------------------------------------ inference
    def quantize_input(self, X):
        """Signed input codes (int64) of the rows of ``X`` (the graph's input step).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of int64, shape (n_samples, n_features)
        """
        X = self._check_X(X)
        out = np.empty(X.shape, dtype=np.int64)
        for rows, block in row_blocks(X):
            out[rows] = quantize_input(block, self.input_scale, self.input_offset,
                                       self.input_bits)
        return out

    def forward_codes(self, codes):
        """Integer outputs for integer input codes.

        Parameters
        ----------
        codes : ndarray of int, shape (n_samples, n_features)

        Returns
        -------
        ndarray of int64, shape (n_samples, n_outputs)
        """
        return self._layers_forward(np.asarray(codes, dtype=np.int64)).astype(np.int64)

    def _layers_forward(self, h):
        # Every dense layer in turn; the plans take float64 or int64 integer codes.
        for plan in self._plans:
            h = plan.forward(h)
        return h

    def decision_function(self, X):
        """Integer outputs for the rows of ``X``: the whole graph, input step included.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Sparse rows are densified a block at a time.

        Returns
        -------
        ndarray of int64, shape (n_samples, n_outputs)
        """
        X = self._check_X(X)
        out = np.empty((X.shape[0], self.n_outputs), dtype=np.int64)
        for rows, block in row_blocks(X):
            out[rows] = self._layers_forward(
                input_codes(block, self.input_scale, self.input_offset, self.input_bits))
        return out

    def dequantize(self, outputs):
        """Real-valued outputs: logits, or regression targets in their units."""
        return outputs * self.output_scale + self.output_offset

    def predict(self, X):
        """Predictions: class labels (or indices), label indicators, or regression values.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Multilabel graphs return a 0/1 indicator matrix (int64).
        """
        out = self.decision_function(X)
        if self.task == "regression":
            y = self.dequantize(out)
            return y.ravel() if y.shape[1] == 1 else y
        if self.task == "multilabel":
            return (out > 0).astype(np.int64)
        idx = (out[:, 0] > 0).astype(np.int64) if self.task == "binary" else out.argmax(1)
        return idx if self.classes is None else self.classes[idx]

    def predict_proba(self, X):
        """Class probabilities (classification graphs only).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Multilabel graphs give each label's probability on its own (rows
            do not sum to 1).
        """
        if self.task == "regression":
            raise ValueError("predict_proba needs a classification graph; this one regresses.")
        z = self.dequantize(self.decision_function(X))
        if self.task == "multilabel":
            return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic, without overflow
        if self.task == "binary":
            p = 0.5 * (1.0 + np.tanh(0.5 * z[:, 0]))
            return np.column_stack([1.0 - p, p])
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def _check_X(self, X):
        return check_rows(X, self.n_features)

    # --------------------------------------------------------------- export
    def to_bytes(self):
        """The model file's bytes (see :mod:`skqat.runtime._model_file`)."""
        return dump_bytes(self)

    def save(self, path):
        """Write the model file to ``path`` (no pickle; see :func:`skqat.runtime.load`).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        int
            Bytes written.
        """
        data = self.to_bytes()
        with open(path, "wb") as f:
            f.write(data)
        return len(data)

    def export_c(self, directory, name="skqat_model"):
        """Write a C99 header and source of this graph to ``directory``.

        Parameters
        ----------
        directory : str or path-like
            Created if missing.
        name : str, default="skqat_model"
            C identifier prefix and file stem.

        Returns
        -------
        (pathlib.Path, pathlib.Path)
            The header and the source.
        """

        return export_c(self, directory, name)
