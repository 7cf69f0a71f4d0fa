"""Shared scikit-learn surface of the NMP-QAT estimators.

The fit flow, top to bottom: validate the parameters and data, encode the
targets, standardize and quantize the inputs, build (or warm-start) the
network, train it, and keep the result as numpy arrays. ``predict`` runs the
integer graph of :mod:`skqat.runtime` (numpy only): what a user deploys is
what ``predict`` computed.
"""

from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._checks import (check_budgets, check_candidates, check_fan_in, check_hidden_layer_sizes,
                      check_reachable_bit_budget, check_warm_start_shapes,
                      check_weight_candidates)
from ._fitted import store_history, store_network
from ._guards import warn_useless_fit
from ._inputs import float_forward
from ._qat import (QuantMLP, calibrate_outputs_, loss_function, make_generator,
                   refine_network, rescale_network_, resolve_device, score_function,
                   torch_threads, train_data, train_increment, train_network)
from ._report import quantization_report
from ._settings import train_settings
from ._size_budget import (auto_hidden_layer_sizes, byte_budget, check_reachable_size,
                           check_size_met, size_account, weight_candidates)
from ._sklearn_private import Interval, Options, StrOptions, _check_sample_weight
from ._stream import start_input_statistics, update_input_statistics, warn_constant_first_block
from .runtime import IntegerMLP, QuantizedLayer
from .runtime._input_steps_file import input_steps_bytes
from .runtime._rows import binary_input_steps, encode_rows, round_to_bfloat16

# A stream block whose root mean squared error is beyond this many target
# standard deviations refits the output layer in closed form (see calibrate_outputs_).
_CALIBRATE_LIMIT_STD = 3.0


def _auto_input_clip(*, stream):
    # In standard deviations, measured against each other in
    # benchmarks/results/input_clip: 3 scores higher in fits, and a stream keeps
    # 6, as its first block's statistics may be far from the later blocks',
    # whose inputs would then saturate (bench-stream's streams lost up to 0.7 of R2).
    return 6.0 if stream else 3.0


class BaseNMPQAT(BaseEstimator, metaclass=ABCMeta):
    """Base class of :class:`NMPQATClassifier` and :class:`NMPQATRegressor`.

    Not for direct use: see the two estimators for the parameters.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [StrOptions({"auto"}), "array-like",
                               Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"),
                             Options(Real, {np.inf})],
        "bit_budget": [Interval(Real, 0, None, closed="neither"), None],
        "activation_bit_budget": [Interval(Real, 0, None, closed="neither"), None],
        "size_budget": [Interval(Real, 0, None, closed="neither"), None],
        "flash_budget": [Interval(Real, 0, None, closed="neither"), None],
        "weight_bits": ["array-like"],
        "activation_bits": ["array-like"],
        "input_bits": [Interval(Integral, 2, 16, closed="both")],
        "input_clip": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "granularity": [StrOptions({"neuron", "layer"})],
        "quantize": ["boolean"],
        "bit_price": [Interval(Real, 0, None, closed="left")],
        "activation_bit_price": [Interval(Real, 0, None, closed="left")],
        "strength_learning_rate": [Interval(Real, 0, None, closed="neither")],
        "gate_temperature": [Interval(Real, 0, None, closed="neither")],
        "device": [StrOptions({"cpu", "cuda", "auto"})],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "statistics_halflife": [Interval(Real, 0, None, closed="neither"), None],
    }

    @abstractmethod
    def __init__(
        self,
        hidden_layer_sizes,
        *,
        alpha,
        batch_size,
        learning_rate_init,
        max_iter,
        shuffle,
        random_state,
        tol,
        verbose,
        warm_start,
        early_stopping,
        validation_fraction,
        n_iter_no_change,
        bit_budget,
        activation_bit_budget,
        size_budget,
        flash_budget,
        bit_price,
        activation_bit_price,
        weight_bits,
        activation_bits,
        input_bits,
        input_clip,
        granularity,
        quantize,
        strength_learning_rate,
        gate_temperature,
        device,
        n_threads,
        statistics_halflife,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.bit_budget = bit_budget
        self.activation_bit_budget = activation_bit_budget
        self.size_budget = size_budget
        self.flash_budget = flash_budget
        self.bit_price = bit_price
        self.activation_bit_price = activation_bit_price
        self.weight_bits = weight_bits
        self.activation_bits = activation_bits
        self.input_bits = input_bits
        self.input_clip = input_clip
        self.granularity = granularity
        self.quantize = quantize
        self.strength_learning_rate = strength_learning_rate
        self.gate_temperature = gate_temperature
        self.device = device
        self.n_threads = n_threads
        self.statistics_halflife = statistics_halflife

    # ----------------------------------------------------- task-specific hooks
    @abstractmethod
    def _encode_targets(self, y, first_pass, incremental, sample_weight):
        """Targets as a float32/int64 array the loss takes; sets target attributes."""

    @abstractmethod
    def _task(self):
        """The training task: "binary", "multiclass", "multilabel" or "regression"."""

    @abstractmethod
    def _n_outputs(self):
        """Number of network outputs."""

    @abstractmethod
    def _predict_validated(self, X):
        """``predict`` of rows ``validate_data`` has already checked."""

    @abstractmethod
    def _decode_targets(self, target):
        """The user's labels or values back from ``_encode_targets``' encoding."""

    def _update_target_statistics(self, y, sample_weight):
        """Merge a stream block's targets into the running target statistics.

        Returns the output layer's ``AffineChange``, or None (classifiers,
        whose targets are labels, have none).
        """
        return None

    def _constant_target(self):
        """Whether the targets of the first call were constant (regression)."""
        return False

    # ----------------------------------------------------------------- fit
    def _fit(self, X, y, sample_weight, incremental, refine_epochs=None, split_seed=None):
        with torch_threads(self.n_threads):
            return self._fit_one_thread(X, y, sample_weight, incremental, refine_epochs,
                                        split_seed)

    def _fit_one_thread(self, X, y, sample_weight, incremental, refine_epochs, split_seed):
        # Three ways in: fit; partial_fit (incremental: one pass, no held-out
        # rows); and a step down a budget path (refine_epochs: project the
        # fitted network onto the current budgets and fine-tune it). A path
        # passes split_seed so that every point holds out the same rows.
        act_cands = check_candidates("activation_bits", self.activation_bits, 1)
        auto_width = isinstance(self.hidden_layer_sizes, str)  # "auto", the only string
        if not auto_width:  # an error before the data are read
            hidden = check_hidden_layer_sizes(self.hidden_layer_sizes)
        asked = check_weight_candidates(self.weight_bits)
        check_budgets(quantize=self.quantize, bit_budget=self.bit_budget,
                      activation_bit_budget=self.activation_bit_budget,
                      size_budget=self.size_budget, flash_budget=self.flash_budget,
                      weight_candidates=asked, activation_candidates=act_cands)
        # A size (or flash) budget prunes: training adds the 0-bit candidate.
        weight_cands = weight_candidates(asked, size_budget=byte_budget(self),
                                         granularity=self.granularity)
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True: it makes one "
                             "pass over the rows it is given, with nothing held out. Set "
                             "early_stopping=False, or use fit.")
        stream = incremental or refine_epochs is not None
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not stream)

        X, y = validate_data(self, X, y, reset=first_pass, accept_sparse=["csr", "csc"],
                             dtype=(np.float64, np.float32), multi_output=True,
                             y_numeric=self._y_numeric())
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                             ensure_non_negative=True)
        # A stream's statistics keep learning: the target's move before it is encoded.
        out_change = (self._update_target_statistics(y, sample_weight)
                      if incremental and not first_pass else None)
        target = self._encode_targets(y, first_pass=first_pass, incremental=stream,
                                      sample_weight=sample_weight)
        # Refused before any state is set ("auto" widths are checked once resolved).
        check_fan_in([X.shape[1], *([] if auto_width else hidden)], quantize=self.quantize)
        self.device_ = resolve_device(self.device)

        rng = check_random_state(self.random_state)
        generator = make_generator(rng)
        val = None
        if not incremental:
            split_rng = rng if split_seed is None else np.random.RandomState(split_seed)
            X, target, sample_weight, val = self._split_validation(X, target, sample_weight,
                                                                   split_rng)
        in_change = None
        if first_pass:
            constant = start_input_statistics(self, X, sample_weight, stream=incremental)
            warn_constant_first_block(constant_columns=constant,
                                      constant_target=incremental and self._constant_target())
            # Every feature gets the same step, for the reason ``QuantReLU`` gives.
            clip = _auto_input_clip(stream=incremental) if self.input_clip == "auto" \
                else self.input_clip
            self.input_steps_ = np.full(X.shape[1], clip / (2 ** (self.input_bits - 1) - 1))
        elif incremental:
            clip = self._trained_input_clip() if self.quantize else np.inf
            in_change = update_input_statistics(self, X, sample_weight, clip=clip)
        # A fitted network keeps its widths ("auto" may resolve differently
        # now: a path's lower size budget, a warm start).
        if auto_width and first_pass:
            hidden = auto_hidden_layer_sizes(
                size_budget=byte_budget(self), quantize=self.quantize, n_features=X.shape[1],
                n_outputs=self._n_outputs(), input_steps_bytes=input_steps_bytes(
                    *self._input_affine()),
                flash_task=None if self.flash_budget is None else self._task())
        elif auto_width:
            hidden = [c.shape[1] for c in self.coefs_[:-1]]
        if auto_width:
            check_fan_in([X.shape[1], *hidden], quantize=self.quantize)
        layer_sizes = [X.shape[1], *hidden, self._n_outputs()]
        check_reachable_bit_budget(self.bit_budget, weight_cands, layer_sizes)
        size = size_account(self, n_layers=len(layer_sizes) - 1)
        check_reachable_size(size, layer_sizes, weight_cands)
        net = QuantMLP(layer_sizes=layer_sizes, weight_bits=weight_cands,
                       activation_bits=act_cands, per_neuron=self.granularity == "neuron",
                       temperature=self.gate_temperature, quantized=self.quantize,
                       generator=generator)
        if not first_pass:
            check_warm_start_shapes([self.coefs_[0].shape[0]] + [c.shape[1] for c in self.coefs_],
                                    layer_sizes)
            net.load_parameters_numpy(self._trainable_state(), weight_candidates=getattr(
                self, "weight_candidates_", weight_cands))
            if in_change is not None or out_change is not None:
                self._optimizer_state = rescale_network_(
                    net, getattr(self, "_optimizer_state", None), inputs=in_change,
                    outputs=out_change)
        net.to(self.device_)

        settings = train_settings(self, n_samples=len(target), weight_candidates=weight_cands,
                                  activation_candidates=act_cands, size=size)
        train = self._train_data(X, target, sample_weight)
        val = None if val is None else self._train_data(*val)
        if incremental and not first_pass and self._task() == "regression":
            self._optimizer_state, _ = calibrate_outputs_(
                net, getattr(self, "_optimizer_state", None), train, limit=_CALIBRATE_LIMIT_STD)
        if refine_epochs is not None:
            history, state = refine_network(net, train, val, settings, generator,
                                            loss_function(self._task()),
                                            score_function(self._task()), refine_epochs)
        elif incremental:
            state = None if first_pass else getattr(self, "_optimizer_state", None)
            history, state = train_increment(net, train, settings, generator,
                                             loss_function(self._task()), state)
        else:
            history, state = train_network(net, train, val, settings, generator,
                                           loss_function(self._task()),
                                           score_function(self._task()))
        self._optimizer_state = state
        store_history(self, history, first_pass=first_pass, incremental=stream,
                      n_samples=len(target))
        self.weight_candidates_ = weight_cands
        store_network(self, net.cpu(), dtype=X.dtype)
        check_size_met(self)
        if not stream:
            warn_useless_fit(self, X, self._decode_targets(target), sample_weight)
        return self

    def _split_validation(self, X, target, sample_weight, rng):
        if not self.early_stopping:
            return X, target, sample_weight, None
        stratify = self._stratify_labels(target)
        n_samples = len(target)
        X, X_val, t, t_val, w, w_val = train_test_split(
            X, target, sample_weight, test_size=self.validation_fraction,
            random_state=rng, stratify=stratify,
        )
        if len(t_val) < 2:
            raise ValueError(
                f"The validation set is too small: early_stopping=True holds out "
                f"validation_fraction={self.validation_fraction} of {n_samples} samples, which "
                "leaves fewer than 2 validation samples. Increase validation_fraction or the "
                "size of your dataset, or set early_stopping=False."
            )
        return X, t, w, (X_val, t_val, w_val)

    def _input_step(self):
        # The value of one input code in standard deviations, and its bit-width
        # (None: the float network takes the standardized inputs unrounded).
        if self.quantize:
            return self.input_steps_, self.input_bits
        return np.ones_like(self.input_scale_), None

    def _trained_input_clip(self):
        # The clip the network learned with, in standard deviations: a stream
        # keeps its first call's input steps whatever input_clip says now.
        return float(self.input_steps_[0]) * (2 ** (self.input_bits - 1) - 1)

    def _input_affine(self):
        # Standardization (and quantization) folded: code = x * a + c (then rounded).
        # a and c are bfloat16 values, 2 bytes each in the model file instead of
        # 4; training sees the same codes, so the graph stays exact.
        scale = round_to_bfloat16(1.0 / (self.input_scale_ * self._input_step()[0]))
        offset = round_to_bfloat16(-self.input_mean_ * scale)
        if not self.quantize:
            return scale, offset
        # A 0/1 column's steps become its two codes (the same codes for 0 and
        # 1): 2 bytes in the model file instead of 4. (A model fitted before
        # the columns were marked keeps its steps.)
        binary = getattr(self, "binary_features_", np.zeros(len(scale), dtype=bool))
        return binary_input_steps(scale, offset, binary, self.input_bits)

    def _input_codes(self, X):
        """Input codes of dense rows ``X``: what the network's first layer takes."""
        scale, offset = self._input_affine()
        return encode_rows(X, scale=scale, offset=offset, bits=self._input_step()[1])

    def _train_data(self, X, target, sample_weight):
        scale, offset = self._input_affine()
        step, bits = self._input_step()
        return train_data(X, target, sample_weight, scale=scale, offset=offset, bits=bits,
                          in_step=step, device=self.device_)

    def _trainable_state(self):
        return {
            "coefs": self.coefs_, "intercepts": self.intercepts_,
            "weight_strengths": self.weight_strengths_,
            "activation_strengths": self.activation_strengths_,
            "activation_unit_steps": self.activation_unit_steps_,
        }

    # ------------------------------------------------------------- predict
    def to_integer(self):
        """The fitted network as an integer-only inference graph (numpy, no torch).

        ``predict`` runs exactly this graph, so its outputs are what a deployed
        model file or C export computes. See :mod:`skqat.runtime`.

        Returns
        -------
        skqat.runtime.IntegerMLP

        Raises
        ------
        ValueError
            If the estimator was fitted with ``quantize=False`` (a float network).
        """
        check_is_fitted(self)
        if not self.quantize:
            raise ValueError("This estimator was fitted with quantize=False: a float network "
                             "has no integer graph. Refit with quantize=True.")
        scale, offset = self._input_affine()
        n_hidden = len(self.integer_weights_) - 1
        layers = [
            QuantizedLayer(weights=w, weight_bits=b, weight_step=step, bias=bias,
                           activation_step=self.activation_steps_[i] if i < n_hidden else None,
                           activation_bits=self.activation_bits_[i] if i < n_hidden else None)
            for i, (w, b, step, bias) in enumerate(zip(
                self.integer_weights_, self.weight_bits_, self.weight_steps_,
                self.integer_biases_))
        ]
        return IntegerMLP.from_layers(input_scale=scale, input_offset=offset,
                                      input_bits=self.input_bits, layers=layers,
                                      **self._graph_task())

    def quantization_report(self):
        """Bits and bytes per layer, with a total row and the compression against float32.

        Returns
        -------
        pandas.DataFrame
            One row per dense layer, a row for the input and output steps and
            a total row; see :func:`skqat._report.quantization_report` for the
            columns.

        Examples
        --------
        >>> from sklearn.datasets import make_classification
        >>> from skqat import NMPQATClassifier
        >>> X, y = make_classification(n_samples=200, random_state=0)
        >>> clf = NMPQATClassifier(hidden_layer_sizes=(16,), bit_budget=2, max_iter=5,
        ...                        random_state=0).fit(X, y)
        >>> report = clf.quantization_report()
        >>> list(report.index)
        ['hidden_1', 'output', 'input_output_steps', 'total']
        >>> int(report.loc["total", "bytes"]) == clf.model_size_bytes_
        True
        """
        check_is_fitted(self)
        return quantization_report(self)

    def _float_forward(self, X):
        """Output of the float network (``quantize=False``) for validated ``X``."""
        scale, offset = self._input_affine()
        return float_forward(X, coefs=self.coefs_, intercepts=self.intercepts_, scale=scale,
                             offset=offset)

    def _validate_predict_input(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, accept_sparse=["csr", "csc"],
                             dtype=(np.float64, np.float32))

    # -------------------------------------------------------------- pickle
    def __getstate__(self):
        # The integer graph derives from the fitted arrays: rebuilt when
        # unpickled (as IsotonicRegression rebuilds its function), not stored twice.
        state = dict(super().__getstate__())  # a copy: the base may hand out __dict__ itself
        state.pop("_graph", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if getattr(self, "integer_weights_", None) is not None:
            self._graph = self.to_integer()
        elif hasattr(self, "integer_weights_"):
            self._graph = None

    # ---------------------------------------------------------------- tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    @abstractmethod
    def _graph_task(self):
        """Keyword arguments of ``IntegerMLP.from_layers`` that describe the task."""

    def _y_numeric(self):
        return False

    def _stratify_labels(self, target):
        """Labels to stratify the early-stopping split by (None: not stratified)."""
        return None
