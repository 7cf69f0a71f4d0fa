"""The integer inference graph of a fitted NMP-QAT network (numpy only).

Arithmetic, layer by layer (``l = 1 .. L``, neuron ``j``):

1. **Input step** (the only floating point before the outputs). Feature
   ``i`` of a row ``x`` becomes the signed code
   ``q_i = floor(clip(x_i * a_i + c_i, -Q, Q) + 1/2)`` with
   ``Q = 2**(input_bits - 1) - 1``, in float32 (each operation rounded to
   float32, as a microcontroller computes it; :func:`~skqat.runtime._rows.input_codes`):
   one affine step that folds the standardization and the input
   quantization. NaN maps to code 0. A graph of a whole pipeline reads raw
   columns first (:mod:`~skqat.runtime._raw_inputs`).
2. **Accumulation**: ``acc_j = sum_i W_ji * q_i + B_j`` with integer weights
   ``W_ji`` at the neuron's bit-width ``b_j`` (1 bit: ``{-1, +1}``; ``b`` bits:
   ``|W| <= 2**(b-1) - 1``) and an integer bias ``B_j`` (int32 range).
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

numpy computes these integers in floating point where that is exact, because
BLAS and float ufuncs are much faster than int64 arithmetic: :data:`MAX_FAN_IN`
keeps every ``A_j`` below ``2**48``, so every partial sum of the matrix
product is an integer float64 represents exactly, whatever the summation
order (in float32 where a tighter bound from the layer's weights is below
``2**24``); and the requantization runs in the same precision where its
product with ``M_j`` stays below ``2**53`` (``2**24``), in int64 otherwise
(see :mod:`~skqat.runtime._folded`). The results equal the int64 computation bit
for bit (the test suite checks them against a plain integer
implementation); the C export computes in 32 bits wherever the bound
proves it fits (:mod:`~skqat.runtime._device_plan`).
"""

import numpy as np

from . import _fixed_point as fp
from ._c_export import export_c
from ._graph_check import check_graph
from ._folded import FoldedLayers
from ._layer import LayerPlan, layer_size_bytes, requantized_layers
from ._model_file import dump_bytes, steps_size_bytes
from ._onnx_export import DEFAULT_OPSET, graph_to_onnx
from ._raw_inputs import encode_raw_rows
from ._raw_inputs_file import dump_raw_inputs
from ._resources import resource_report
from ._rows import check_rows, input_codes, row_blocks


class IntegerMLP:
    """Integer-only inference graph of a quantized ReLU MLP (numpy, no torch).

    Build it with ``estimator.to_integer()`` or :meth:`from_layers`; load it
    with :func:`skqat.runtime.load`. See the module docstring for the
    arithmetic and the overflow bound, checked here at construction.

    Parameters
    ----------
    input_scale, input_offset : ndarray of float32, shape (n_features,)
        The input step ``x * input_scale + input_offset`` before rounding,
        computed in float32 (given as float64, they are rounded to float32).
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
    raw_inputs : RawInputs or None
        A pipeline's preprocessing (``skqat.to_integer``): the graph then
        reads raw rows, a DataFrame with the pipeline's columns. None: rows of
        ``n_features`` numbers.

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
                 output_offset, task, classes=None, raw_inputs=None):
        for name, v in (("input_scale", input_scale), ("input_offset", input_offset)):
            if np.any(np.abs(np.asarray(v, dtype=np.float64)) > np.finfo(np.float32).max):
                raise fp.GraphRangeError(f"{name} must be finite in float32.")
        self.input_scale = np.asarray(input_scale, dtype=np.float64).astype(np.float32)
        self.input_offset = np.asarray(input_offset, dtype=np.float64).astype(np.float32)
        self.input_bits = int(input_bits)
        self.layers = list(layers)
        self.output_scale = np.asarray(output_scale, dtype=np.float64)
        self.output_offset = np.asarray(output_offset, dtype=np.float64)
        self.task = task
        self.classes = None if classes is None else np.asarray(classes)
        self.raw_inputs = raw_inputs
        check_graph(self)
        self._plan()

    def _plan(self):
        # How the layers compute: derived from the layers alone.
        self._plans, max_codes = [], np.full(self.n_features, 2 ** (self.input_bits - 1) - 1)
        for layer, bounds in zip(self.layers, self.accumulator_bounds()):
            self._plans.append(LayerPlan(layer, bounds, max_codes))
            if layer.activation_bits is not None:
                max_codes = (1 << layer.activation_bits.astype(np.int64)) - 1
        self._folded = FoldedLayers(self._plans)

    def __getstate__(self):
        # The plans derive from the layers: rebuilt when unpickled (by the
        # runtime that loads them), not stored twice.
        state = dict(self.__dict__)
        state.pop("_plans", None)
        state.pop("_folded", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._plan()

    # ------------------------------------------------------------ building
    @classmethod
    def from_layers(cls, *, input_scale, input_offset, input_bits, layers, task,
                    target_scale=None, target_mean=None, classes=None, raw_inputs=None):
        """Build the graph from trained layers in integer codes and real steps.

        See :func:`~skqat.runtime._layer.requantized_layers` for the
        requantization factors.

        Parameters
        ----------
        input_scale, input_offset, input_bits
            As in :class:`IntegerMLP`.
        layers : list of QuantizedLayer
            The dense layers; all but the last have activation steps and bits.
        task : {"regression", "binary", "multiclass", "multilabel"}
        target_scale, target_mean : ndarray or None
            Regression: the output's standardization, undone at the end.
        classes : ndarray or None
        raw_inputs : RawInputs or None

        Returns
        -------
        IntegerMLP
        """
        built, output_step = requantized_layers(layers, input_bits)
        scale = np.full(built[-1].n_out, output_step)
        offset = np.zeros(built[-1].n_out)
        if target_scale is not None:
            scale = scale * np.asarray(target_scale, dtype=np.float64)
            offset = np.asarray(target_mean, dtype=np.float64) + offset
        return cls(input_scale, input_offset, input_bits, built, scale, offset, task, classes,
                   raw_inputs)

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

        Per layer the packed weight bits and the per-neuron fields at the
        widths the layer needs (:func:`~skqat.runtime._layer.layer_size_bytes`),
        plus per feature the input scale and offset (two int8 codes, bfloat16 or float32, see
        :func:`steps_size_bytes`), plus the float64 output steps (one common
        scale, or a scale and offset per output).
        """
        return (sum(layer_size_bytes(layer) for layer in self.layers)
                + steps_size_bytes(self.input_scale, self.input_offset, self.output_scale,
                                   self.output_offset))

    def resource_report(self, *, fpga=False, latency_cutoff=None):
        """What the C export needs on a microcontroller: flash, RAM, work per row.

        Parameters
        ----------
        fpga : bool, default=False
            Add da4ml's estimate of :meth:`to_verilog`'s logic (needs
            ``skqat[fpga]``; seconds for a large graph).
        latency_cutoff : float or None
            The pipelining of that estimate, as in :meth:`to_verilog`.

        Returns
        -------
        ResourceReport
            See :func:`~skqat.runtime._resources.resource_report`.
        """
        return resource_report(self, fpga=fpga, latency_cutoff=latency_cutoff)

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
                        ("input_scale", "input_offset", "output_scale", "output_offset"))
                and (self.raw_inputs is None) == (other.raw_inputs is None)
                and (self.raw_inputs is None or dump_raw_inputs(self.raw_inputs)
                     == dump_raw_inputs(other.raw_inputs)))

    __hash__ = None

    def __repr__(self):
        return f"IntegerMLP(layer_sizes={self.layer_sizes}, task={self.task!r})"

    # ------------------------------------------------------------ inference
    def quantize_input(self, X):
        """Signed input codes (int64) of the rows of ``X`` (the graph's input step).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Or, for a graph with ``raw_inputs``, the raw rows: a DataFrame
            (or a mapping of columns) with the pipeline's columns.

        Returns
        -------
        ndarray of int64, shape (n_samples, n_features)
        """
        return np.concatenate([codes for _, codes in self._code_blocks(X)] or
                              [np.empty((0, self.n_features))]).astype(np.int64)

    def _code_blocks(self, X):
        # Input codes (float64 integers) a block of rows at a time.
        if self.raw_inputs is not None:
            yield slice(None), encode_raw_rows(self.raw_inputs, X, scale=self.input_scale,
                                               offset=self.input_offset, bits=self.input_bits)
            return
        X = check_rows(X, self.n_features)
        for rows, block in row_blocks(X):
            yield rows, input_codes(block, self.input_scale, self.input_offset, self.input_bits,
                                    finite=True)

    def forward_codes(self, codes):
        """Integer outputs for integer input codes.

        Parameters
        ----------
        codes : ndarray of int, shape (n_samples, n_features)
            Signed codes within ``+-(2**(input_bits - 1) - 1)``, as
            :meth:`quantize_input` gives them.

        Returns
        -------
        ndarray of int64, shape (n_samples, n_outputs)

        Raises
        ------
        ValueError
            If a code is beyond the input bit-width (the graph's overflow
            bound, and its exactness, assume it is not).
        """
        codes = np.asarray(codes, dtype=np.int64)
        top = 2 ** (self.input_bits - 1) - 1
        if codes.size and np.abs(codes).max() > top:
            raise ValueError(f"Input codes must lie within [-{top}, {top}] (input_bits="
                             f"{self.input_bits}); quantize_input(X) gives them from rows.")
        return self._layers_forward(codes).astype(np.int64)

    def _layers_forward(self, h):
        # Every dense layer in turn: the plans' integers, one product per layer.
        return self._folded.forward(h)

    def decision_function(self, X):
        """Integer outputs for the rows of ``X``: the whole graph, input step included.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Sparse rows are densified a block at a time. With ``raw_inputs``:
            the raw rows (a DataFrame with the pipeline's columns).

        Returns
        -------
        ndarray of int64, shape (n_samples, n_outputs)
        """
        return self._outputs(X).astype(np.int64, copy=False)

    def _outputs(self, X):
        # The integer outputs as the layers leave them (float64 or int64 integers).
        if self.raw_inputs is not None:
            blocks = [(rows, self._layers_forward(codes)) for rows, codes in self._code_blocks(X)]
        else:
            blocks = []
            for rows, block in row_blocks(check_rows(X, self.n_features)):
                # The input codes are written straight into the first layer's input.
                h, codes = self._folded.input_buffer(len(block))
                input_codes(block, self.input_scale, self.input_offset, self.input_bits,
                            finite=True, out=codes)
                blocks.append((rows, self._folded.forward_input(h)))
        if len(blocks) == 1:  # one block holds every row
            return blocks[0][1]
        n = sum(len(out) for _, out in blocks)
        result = np.empty((n, self.n_outputs),
                          dtype=np.result_type(np.int64, *[out for _, out in blocks]))
        for rows, out in blocks:
            result[rows] = out
        return result

    def dequantize(self, outputs):
        """Real-valued outputs: logits, or regression targets in their units."""
        return outputs * self.output_scale + self.output_offset

    def predict(self, X):
        """Predictions: class labels (or indices), label indicators, or regression values.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            With ``raw_inputs``: the raw rows (a DataFrame with the pipeline's columns).

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Multilabel graphs return a 0/1 indicator matrix (int64).
        """
        out = self._outputs(X)   # float64 integers compare and scale as their int64 would
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

    def to_onnx(self, path=None, *, opset=DEFAULT_OPSET):
        """The graph as an ONNX model that onnxruntime runs exactly (needs ``skqat[onnx]``).

        Float64 input ``X``; outputs ``label`` and ``probabilities``
        (classifiers) or ``variable`` (regressors), equal to :meth:`predict`,
        :meth:`predict_proba` and the regression values. See
        :mod:`~skqat.runtime._onnx_export` for the operators and why.

        Parameters
        ----------
        path : str, path-like or None
            Also write the model there.
        opset : int, default=19
            ONNX opset, 13 to 21.

        Returns
        -------
        onnx.ModelProto
        """
        model = graph_to_onnx(self, opset=opset)
        if path is not None:
            with open(path, "wb") as f:
                f.write(model.SerializeToString())
        return model

    def to_verilog(self, directory, *, name="skqat_model", latency_cutoff=None):
        """Write Verilog for FPGAs through da4ml (needs ``skqat[fpga]``).

        The logic reads the input codes (:meth:`quantize_input`) and gives
        the integers of :meth:`forward_codes`, then the class index or the
        0/1 labels (:mod:`~skqat.runtime._fpga_trace`).

        Parameters
        ----------
        directory : str or path-like
            Where da4ml's project is written (created if missing).
        name : str, default="skqat_model"
            The top module's name.
        latency_cutoff : float or None
            None: combinational. Otherwise pipelined: a register wherever the
            delay since the last one would pass this many of da4ml's delay
            units (``resource_report(fpga=True).fpga.depth`` is the whole).

        Returns
        -------
        VerilogExport
            Its estimate, ``emulate`` and ``simulate`` (Verilator).
        """
        from ._fpga import export_verilog

        return export_verilog(self, directory, name=name, latency_cutoff=latency_cutoff)

    def export_c(self, directory, *, prefix="skqat_model", test_rows=None):
        """Write C99 for microcontrollers: ``<prefix>.h`` and ``<prefix>.c`` in ``directory``.

        Single-precision input step, 32-bit integers wherever the overflow
        bound proves they fit, ``const`` tables, no ``malloc``; see
        :mod:`skqat.runtime._c_export`. :meth:`resource_report` gives its
        flash and RAM.

        Parameters
        ----------
        directory : str or path-like
            Created if missing.
        prefix : str, default="skqat_model"
            C identifier prefix and file stem.
        test_rows : array-like, DataFrame or None
            Also write ``<prefix>_test.c``: these rows, the outputs this graph
            gives them, and a ``main`` that returns 0 only if the C agrees on
            every row (and prints how many it agrees on).

        Returns
        -------
        list of pathlib.Path
            The header, the source, and the test program if asked for.
        """
        return export_c(self, directory, prefix=prefix, test_rows=test_rows)
