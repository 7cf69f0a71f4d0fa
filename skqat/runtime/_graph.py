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
2**53`` (see :class:`_LayerPlan`), in int64 otherwise. The results equal the
int64 computation bit for bit (the test suite checks them against a plain
integer implementation); the C export computes in int64 throughout.
"""

import numpy as np

from . import _fixed_point as fp
from ._rows import check_rows, input_codes, row_blocks

TASKS = ("regression", "binary", "multiclass", "multilabel")
#: The widest fan-in: at 16-bit weights and codes the accumulator bound is then
#: below 2**48, which leaves a multiplier at least 13 bits.
MAX_FAN_IN = 2**16
_INT32_MAX = 2**31 - 1


def weight_qmax(bits):
    """Largest magnitude of a weight code at ``bits`` bits (1 for 1 bit), elementwise."""
    bits = np.asarray(bits, dtype=np.int64)
    return np.where(bits == 1, 1, (1 << np.maximum(bits - 1, 0)) - 1)


def _as_int(name, a, shape, low, high):
    a = np.asarray(a)
    if a.shape != shape:
        raise ValueError(f"{name} has shape {a.shape}, expected {shape}.")
    if a.size and (a.dtype.kind not in "iub" or a.min() < low or a.max() > high):
        raise ValueError(f"{name} must hold integers in [{low}, {high}].")
    return a.astype(np.int64)


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


def layer_size_bytes(n_in, weight_bits):
    """Bytes of a layer's content: packed weights, and a bias, multiplier and shift per neuron.

    Parameters
    ----------
    n_in : int
        Fan-in.
    weight_bits : array-like of int, shape (n_out,)

    Returns
    -------
    int

    Examples
    --------
    >>> layer_size_bytes(10, [2, 2, 4])
    37
    """
    n_bits = int(n_in) * int(np.sum(weight_bits))
    return -(-n_bits // 8) + 9 * len(weight_bits)


def accumulator_bound(weight_bits, bias, n_in, max_input_code):
    """Bound ``A_j = n_in * Wmax(b_j) * X + |B_j|`` on each neuron's accumulator.

    Parameters
    ----------
    weight_bits, bias : array-like of int, shape (n_out,)
    n_in : int
        Fan-in.
    max_input_code : int
        Largest magnitude ``X`` of the layer's input codes.

    Returns
    -------
    list of int
        Python integers, which cannot overflow.
    """
    return [int(n_in) * int(q) * int(max_input_code) + abs(int(b))
            for q, b in zip(weight_qmax(weight_bits), bias)]


class IntegerLayer:
    """One dense layer of the integer graph.

    Parameters
    ----------
    weights : ndarray of int, shape (n_out, n_in)
        Weight codes; row ``j`` at ``weight_bits[j]`` bits.
    weight_bits : ndarray of int, shape (n_out,)
        Bit-width of each neuron's weights, 1 to 16.
    bias : ndarray of int, shape (n_out,)
        Integer biases (int32 range), in units of the accumulator.
    multiplier, shift : ndarray of int, shape (n_out,)
        Fixed-point requantization factor ``multiplier * 2**-shift``.
    activation_bits : ndarray of int, shape (n_out,), or None
        Bit-width of each hidden neuron's unsigned output code; None for the
        output layer.

    Examples
    --------
    A 2-input output layer: 3-bit weights, requantized by ``3 * 2**-1``.

    >>> import numpy as np
    >>> from skqat.runtime import IntegerLayer
    >>> layer = IntegerLayer(weights=[[3, -2]], weight_bits=[3], bias=[1],
    ...                      multiplier=[3], shift=[1])
    >>> layer.weight_bits
    array([3])
    """

    def __init__(self, weights, weight_bits, bias, multiplier, shift, activation_bits=None):
        weights = np.asarray(weights)
        if weights.ndim != 2 or 0 in weights.shape:
            raise ValueError(f"weights must be a non-empty 2-D array, got shape {weights.shape}.")
        n_out = weights.shape[0]
        self.weight_bits = _as_int("weight_bits", weight_bits, (n_out,), 1, 16)
        qmax = weight_qmax(self.weight_bits)[:, None]
        w = _as_int("weights", weights, weights.shape, -(2**15), 2**15)
        one_bit = (self.weight_bits == 1)[:, None]
        if np.any(np.abs(w) > qmax) or np.any(one_bit & (w == 0)):
            raise ValueError("weights exceed their neuron's bit-width (1-bit weights are -1 or +1).")
        self.weights = w.astype(np.int8 if self.weight_bits.max() <= 8 else np.int16)
        self.bias = _as_int("bias", bias, (n_out,), -_INT32_MAX, _INT32_MAX)
        self.multiplier = _as_int("multiplier", multiplier, (n_out,), 0, _INT32_MAX)
        self.shift = _as_int("shift", shift, (n_out,), 0, fp.MAX_SHIFT)
        self.activation_bits = (None if activation_bits is None else
                                _as_int("activation_bits", activation_bits, (n_out,), 1, 16))

    @property
    def n_in(self):
        """Fan-in."""
        return self.weights.shape[1]

    @property
    def n_out(self):
        """Number of neurons."""
        return self.weights.shape[0]

    def accumulator_bound(self, max_input_code):
        """Per-neuron bounds ``A_j`` on ``|acc_j|`` (see :func:`accumulator_bound`)."""
        return accumulator_bound(self.weight_bits, self.bias, self.n_in, max_input_code)

    def max_output_code(self):
        """Largest code this layer passes on (hidden layers only)."""
        return (1 << int(self.activation_bits.max())) - 1

    def __eq__(self, other):
        if not isinstance(other, IntegerLayer):
            return NotImplemented
        same_act = ((self.activation_bits is None) == (other.activation_bits is None)
                    and (self.activation_bits is None
                         or np.array_equal(self.activation_bits, other.activation_bits)))
        return same_act and all(np.array_equal(getattr(self, k), getattr(other, k))
                                for k in ("weights", "weight_bits", "bias", "multiplier", "shift"))

    __hash__ = None


class _LayerPlan:
    """How a layer computes its integers fast, and exactly (module docstring).

    The accumulation runs in float64 BLAS (every bound is below ``2**48``).
    The requantization runs in float64 when every
    ``A_j * M_j + 2**k_j`` is below ``2**53``: then ``acc * (M 2**-k) +
    (B M + 2**(k-1)) 2**-k`` is computed without any rounding (each term and
    the sum are multiples of ``2**-k`` below ``2**53 * 2**-k``), so its floor
    is the int64 result. Otherwise it runs in int64.
    """

    def __init__(self, layer, bounds):
        self.layer = layer
        self.weights = np.ascontiguousarray(layer.weights.T, dtype=np.float64)
        self.in_float = all(fp.exact_in_float64(b, m, k) for b, m, k
                            in zip(bounds, layer.multiplier, layer.shift))
        k = layer.shift
        half = np.where(k > 0, np.left_shift(1, np.maximum(k - 1, 0)), 0)
        self.scale = np.ldexp(layer.multiplier.astype(np.float64), -k)
        self.const = np.ldexp((layer.bias * layer.multiplier + half).astype(np.float64), -k)
        self.qmax = (None if layer.activation_bits is None
                     else ((1 << layer.activation_bits) - 1).astype(np.float64))

    def forward(self, h):
        """Output codes (float64 or int64 integers) for input codes ``h``."""
        if not self.in_float:
            acc = (h.astype(self.weights.dtype, copy=False) @ self.weights).astype(np.int64)
            r = fp.requantize(acc + self.layer.bias, self.layer.multiplier, self.layer.shift)
            return r if self.qmax is None else np.clip(r, 0, self.qmax.astype(np.int64))
        r = h.astype(np.float64, copy=False) @ self.weights
        r *= self.scale
        r += self.const
        np.floor(r, out=r)
        if self.qmax is not None:
            np.maximum(r, 0.0, out=r)
            np.minimum(r, self.qmax, out=r)
        return r


class IntegerMLP:
    """Integer-only inference graph of a quantized ReLU MLP (numpy, no torch).

    Build it with ``estimator.to_integer()`` or :meth:`from_steps`; load it
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
        self._plans = [_LayerPlan(layer, bounds)
                       for layer, bounds in zip(self.layers, self.accumulator_bounds())]

    # ------------------------------------------------------------ building
    @classmethod
    def from_steps(cls, input_scale, input_offset, input_bits, weights, weight_bits,
                   weight_steps, biases, activation_steps, activation_bits, task,
                   target_scale=None, target_mean=None, classes=None):
        """Build the graph from a network's integer codes and real-valued steps.

        The real requantization factor of a hidden neuron is its weight step
        over its layer's activation step; an output neuron's is its weight
        step over the smallest output weight step (the common output step).

        Parameters
        ----------
        input_scale, input_offset, input_bits
            As in :class:`IntegerMLP`.
        weights, weight_bits, biases : list of ndarray
            Per dense layer: integer codes (n_out, n_in), bit-widths and
            integer biases (in units of the weight step; clipped to int32).
        weight_steps : list of ndarray
            Per dense layer, the real value of one accumulator unit.
        activation_steps, activation_bits : list of ndarray
            Per hidden layer, the real value of one activation code and the
            bit-widths.
        task : {"regression", "binary", "multiclass", "multilabel"}
        target_scale, target_mean : ndarray or None
            Regression: the output's standardization, undone at the end.
        classes : ndarray or None

        Returns
        -------
        IntegerMLP
        """
        output_step = float(np.min(weight_steps[-1]))
        layers, max_code = [], 2 ** (int(input_bits) - 1) - 1
        for i, (w, bits, step, bias) in enumerate(zip(weights, weight_bits, weight_steps, biases)):
            hidden = i < len(weights) - 1
            target_step = activation_steps[i] if hidden else np.full(len(step), output_step)
            bias = np.clip(np.asarray(bias, dtype=np.int64), -_INT32_MAX, _INT32_MAX)
            bounds = accumulator_bound(bits, bias, np.shape(w)[1], max_code)
            pairs = [fp.quantize_multiplier(float(s) / float(t), fp.multiplier_bits(b))
                     for s, t, b in zip(step, target_step, bounds)]
            layer = IntegerLayer(w, bits, bias, [m for m, _ in pairs], [k for _, k in pairs],
                                 activation_bits[i] if hidden else None)
            layers.append(layer)
            if hidden:
                max_code = layer.max_output_code()
        n_out = layers[-1].n_out
        scale = np.full(n_out, output_step)
        offset = np.zeros(n_out)
        if target_scale is not None:
            scale = scale * np.asarray(target_scale, dtype=np.float64)
            offset = np.asarray(target_mean, dtype=np.float64) + offset
        return cls(input_scale, input_offset, input_bits, layers, scale, offset, task, classes)

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
        from ._model_file import dump_bytes

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
        from ._c_export import export_c

        return export_c(self, directory, name)
