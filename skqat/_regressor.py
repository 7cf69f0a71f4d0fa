"""NMPQATRegressor: the scikit-learn regressor."""

import numpy as np
from sklearn.base import RegressorMixin

from ._base import BaseNMPQAT
from ._inputs import is_constant, rounding_free_variance
from ._sklearn_private import _fit_context
from ._stream import RunningMoments, target_change


class NMPQATRegressor(RegressorMixin, BaseNMPQAT):
    """ReLU MLP regressor trained with neuron-level mixed-precision QAT.

    Every neuron learns its own discrete bit-width for its incoming weights
    and its output activation (NMP-QAT, arXiv:2605.25054), within optional bit
    budgets. Inputs and targets are standardized inside the estimator (the
    statistics are part of the model); the squared error is minimized.

    Parameters
    ----------
    hidden_layer_sizes : "auto" or array-like of shape (n_layers - 2,), default="auto"
        The ith element is the number of neurons in the ith hidden layer.
        "auto" is (100,), as in ``MLPClassifier``; with a ``size_budget`` or a
        ``flash_budget``, one layer as wide as the budget holds at 2 bits per weight
        (:func:`skqat.model_selection.starting_width`), which training prunes.
    alpha : float, default=0.0001
        Strength of the L2 penalty on the (latent) weights.
    batch_size : int or "auto", default="auto"
        Mini-batch size; "auto" is ``min(200, n_samples)``.
    learning_rate_init : float, default=0.001
        Adam learning rate of the weights, biases and clipping levels.
    max_iter : int, default=200
        Maximum number of epochs. With a budget, the last tenth fine-tunes the
        weights with the bit-widths frozen, after the budget projection, and
        keeps its epoch of lowest training loss.
    shuffle : bool, default=True
        Whether to shuffle samples in each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialization, shuffling and validation split.
    tol : float, default=1e-4
        Tolerance for the optimization (as in ``MLPRegressor``).
    verbose : bool, default=False
        Print one line per epoch: loss, validation score, mean weight and
        activation bits, seconds.
    warm_start : bool, default=False
        Continue from the previous fit's network and input (and target)
        statistics, as ``MLPClassifier`` does: ``n_iter_`` counts the epochs of
        the new fit; the classes (or outputs) must be those of the first fit.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` and stop when its R2 stops improving.
    validation_fraction : float, default=0.1
        Held-out fraction for early stopping.
    n_iter_no_change : int or np.inf, default=10
        Epochs without ``tol`` improvement before stopping; ``np.inf`` never
        stops early.
    bit_budget : float or None, default=None
        Largest mean weight bit-width (each neuron weighted by its fan-in) the
        fitted model may have: a hard cap, within which the weights pay no
        price (the best model within the cap). ``None`` sets no cap: the
        price decides. Must be at least ``min(weight_bits)``.
    activation_bit_budget : float or None, default=None
        Largest mean activation bit-width over hidden neurons.
    size_budget : float or None, default=None
        Largest ``model_size_bytes_`` the fitted model may have, in bytes: a
        hard cap, never exceeded (a budget below the smallest model these
        layer sizes allow is an error at fit). It counts the integer graph's
        content (packed weights, each neuron's fields, the input and output
        steps), not the model file's header and checksum (a few dozen bytes
        more in ``to_integer().to_bytes()``) nor a C export's code. With it, training
        adds a 0-bit candidate to ``weight_bits`` (a pruned neuron costs
        nothing) and trades neurons for bits; the weights pay no
        ``bit_price``. Combines with ``bit_budget`` and ``activation_bit_budget``.
        Training prunes neurons but never adds any: ``hidden_layer_sizes="auto"``
        (the default) starts as wide as the budget can spend.
    flash_budget : float or None, default=None
        Largest flash, in bytes, that the C export's integer entry
        (``<prefix>_predict_class_codes``, ``<prefix>_predict_labels_codes``
        or ``<prefix>_predict_codes``) adds to a Cortex-M0 firmware when it
        is linked alone (``-Os``, newlib-nano, ``--gc-sections``): its code,
        the layers' weights and fields and its small tables, as
        ``to_integer().resource_report().flash_bytes`` gives it (within 5%
        of the compiled and linked figure; the code part is calibrated on
        arm-none-eabi-gcc 12). A hard cap on that figure, as ``size_budget``
        is on the model's bytes, and used the same way (0-bit candidate,
        ``"auto"`` width); the two cannot be set together. The input step
        (float32) is not counted: the device passes input codes.
    bit_price : float, default=0.02
        Price of one mean weight bit in the training objective, relative to
        the data loss, when ``bit_budget`` is None: a neuron's weights get
        more bits only where that cuts the loss by more than ``bit_price``
        (2%) per mean bit it adds, so that precision grows only where the
        data needs it. 0 lets it grow for any gain of the loss. See the user
        guide for how the default was chosen.
    activation_bit_price : float, default=0.002
        The same price for one mean activation bit, when
        ``activation_bit_budget`` is None.
    weight_bits : tuple of int, default=(1, 2, 4, 8)
        Candidate weight bit-widths. A single value is uniform QAT. A 0 lets
        training prune hidden neurons (0 bits: their row and their output are
        removed from the integer model).
    activation_bits : tuple of int, default=(4, 8, 16)
        Candidate activation bit-widths.
    input_bits : int, default=8
        Bit-width of the (standardized) inputs.
    input_clip : "auto" or float, default="auto"
        Standardized inputs are clipped at ``+-input_clip`` standard
        deviations before they are rounded to ``input_bits`` codes (one input
        code is worth ``input_clip / (2 ** (input_bits - 1) - 1)`` standard
        deviations). The clip keeps a column's rare extreme values from
        dominating its neurons; raise it when the extremes carry the signal.
        "auto" is 3 for ``fit`` and 6 for a stream (set by the first
        ``partial_fit`` call): the first block's statistics may be far from
        the rest of the stream, and the inputs need room to move.
    granularity : {"neuron", "layer"}, default="neuron"
        One learned bit-width per neuron (NMP-QAT) or per layer (baseline).
    quantize : bool, default=True
        False trains the same network in float: the reference to compare with.
    strength_learning_rate : float, default=0.01
        Adam learning rate of the precision strengths. They take a step on
        one mini-batch in four, at four times this rate: the same drift per
        batch.
    gate_temperature : float, default=0.1
        Temperature of the soft gates behind the strengths' gradient.
    device : {"cpu", "cuda", "auto"}, default="cpu"
        Where torch trains; "auto" takes a GPU when there is one.
    n_threads : int or None, default=1
        Threads torch trains with on the CPU. 1 makes a fit's result the
        same on every machine and in every worker (joblib, Dask). More
        threads speed up large networks on many cores, but then the result
        may depend on the thread count (the order of float sums changes);
        None trains with torch's current setting. Fits running at once in
        one process share torch's thread count safely: one that asks for
        another count waits for the others to end.
    statistics_halflife : float or None, default=5000
        How fast ``partial_fit``'s running input and target statistics
        forget, in rows: before a block of ``n`` rows is merged, the weight
        of everything seen before it is multiplied by ``0.5 ** (n /
        statistics_halflife)``. A stream that drifts, or starts with a
        window in other units, then sets its scale by its recent rows; a
        column whose spread differs more than tenfold from the running one
        for 3 blocks in a row restarts from the last of them.
        None weighs every row the same and never restarts (the exact moments
        of every row seen). ``fit`` computes its statistics over all its
        rows, unaffected.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names seen during fit, when ``X`` has string column names.
    n_iter_, t_, loss_, loss_curve_, best_loss_, validation_scores_, best_validation_score_
        As in :class:`NMPQATClassifier` (validation scores are R2).
    weight_bits_, activation_bits_, mean_weight_bits_, mean_activation_bits_
        Learned bit-widths, as in :class:`NMPQATClassifier`.
    hidden_layer_sizes_, active_hidden_layer_sizes_ : tuple of int
        The widths before and after pruning, as in :class:`NMPQATClassifier`.
    weight_candidates_ : tuple of int
        Candidate weight bit-widths training used: ``weight_bits``, with 0
        added by a ``size_budget`` or a ``flash_budget``.
    model_size_bytes_ : int
        Size of the model, as in :class:`NMPQATClassifier`.
    integer_weights_, weight_steps_, integer_biases_, activation_steps_
        The integer graph, as in :class:`NMPQATClassifier`.
    input_mean_, input_scale_, input_steps_, binary_features_ : ndarray of shape (`n_features_in_`,)
        Input standardization and quantization, and the 0/1 columns, as in
        :class:`NMPQATClassifier`.
    target_mean_, target_scale_ : ndarray of shape (`n_outputs_`,)
        Target standardization (weighted by ``sample_weight``).
    coefs_, intercepts_, weight_strengths_, activation_strengths_, activation_unit_steps_
        Latent float parameters that training updates.
    out_activation_ : str
        ``"identity"``, as ``MLPRegressor``.
    n_layers_, n_outputs_ : int
        Layer and output counts.
    device_ : str
        The device training ran on.

    See Also
    --------
    NMPQATClassifier : The classifier.
    sklearn.neural_network.MLPRegressor : The float MLP this mirrors.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skqat import NMPQATRegressor
    >>> X, y = make_regression(n_samples=300, n_features=5, random_state=0)
    >>> reg = NMPQATRegressor(hidden_layer_sizes=(32,), bit_budget=2.0,
    ...                       max_iter=50, random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    >>> reg.mean_weight_bits_ <= 2.0
    True
    """

    def __init__(
        self,
        hidden_layer_sizes="auto",
        *,
        alpha=0.0001,
        batch_size="auto",
        learning_rate_init=0.001,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        bit_budget=None,
        activation_bit_budget=None,
        size_budget=None,
        flash_budget=None,
        bit_price=0.02,
        activation_bit_price=0.002,
        weight_bits=(1, 2, 4, 8),
        activation_bits=(4, 8, 16),
        input_bits=8,
        input_clip="auto",
        granularity="neuron",
        quantize=True,
        strength_learning_rate=0.01,
        gate_temperature=0.1,
        device="cpu",
        n_threads=1,
        statistics_halflife=5000,
    ):
        super().__init__(
            hidden_layer_sizes, alpha=alpha, batch_size=batch_size,
            learning_rate_init=learning_rate_init, max_iter=max_iter, shuffle=shuffle,
            random_state=random_state, tol=tol, verbose=verbose, warm_start=warm_start,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change, bit_budget=bit_budget, activation_bit_budget=activation_bit_budget,
            size_budget=size_budget,
            flash_budget=flash_budget,
            bit_price=bit_price, activation_bit_price=activation_bit_price,
            weight_bits=weight_bits, activation_bits=activation_bits, input_bits=input_bits,
            input_clip=input_clip,
            granularity=granularity, quantize=quantize,
            strength_learning_rate=strength_learning_rate, gate_temperature=gate_temperature,
            device=device,
            n_threads=n_threads,
            statistics_halflife=statistics_halflife,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the quantized network to data X and targets y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data; numeric, without missing values (put a
            ``SimpleImputer`` before the estimator in a pipeline). Sparse
            matrices stay sparse: each mini-batch is densified on its own.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : NMPQATRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one pass over the given data.

        The input and target standardization keeps learning (running
        statistics of the rows seen, the older ones fading as
        ``statistics_halflife`` says; when they move, the first and output
        layers are rescaled to keep the model's function, as Pop-Art does).
        A block the model predicts more than 3 target standard deviations
        off (root mean squared) first refits the output layer in closed form.
        Later calls continue the training where the previous one stopped
        (weights, strengths, optimizer state and budget multipliers).
        The precision strengths keep learning, and each call ends with the
        budget projection, so the model is within budget after every call.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : NMPQATRegressor
            The updated estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import make_regression
        >>> from skqat import NMPQATRegressor
        >>> X, y = make_regression(n_samples=600, n_features=5, random_state=0)
        >>> reg = NMPQATRegressor(hidden_layer_sizes=(16,), bit_budget=2, random_state=0)
        >>> for chunk in np.array_split(np.arange(600), 6):
        ...     reg = reg.partial_fit(X[chunk], y[chunk])
        >>> reg.mean_weight_bits_ <= 2
        True
        """
        return self._fit(X, y, sample_weight, incremental=True)

    @staticmethod
    def _targets_2d(y):
        y = np.asarray(y, dtype=np.float64)
        return y.reshape(-1, 1) if y.ndim == 1 else y

    @staticmethod
    def _target_moments_of(y2, sample_weight):
        # Weighted as the inputs are: a row of weight k counts as k copies.
        w = sample_weight if sample_weight.sum() > 0 else np.ones(len(y2))
        uniform = np.all(w == w[0])
        with np.errstate(over="ignore", invalid="ignore"):
            mean = y2.mean(axis=0) if uniform else np.average(y2, axis=0, weights=w)
            var = y2.var(axis=0) if uniform else np.average((y2 - mean) ** 2, axis=0, weights=w)
        if not np.all(np.isfinite(var)):
            raise ValueError("The standard deviation of y overflows float64: rescale the "
                             "target (for example with a TransformedTargetRegressor).")
        return RunningMoments(weight=float(w.sum()), mean=mean,
                              var=rounding_free_variance(mean, var, len(y2)))

    def _encode_targets(self, y, first_pass, incremental, sample_weight):
        y2 = self._targets_2d(y)
        if first_pass:
            moments = self._target_moments_of(y2, sample_weight)
            self._target_moments = moments
            self.target_mean_ = moments.mean
            self.target_scale_ = moments.scale()
        elif y2.shape[1] != self.target_mean_.size:
            raise ValueError(
                f"The fitted model has {self.target_mean_.size} outputs, but y has "
                f"{y2.shape[1]}. Refit with warm_start=False for another target."
            )
        return ((y2 - self.target_mean_) / self.target_scale_).astype(np.float32)

    def _decode_targets(self, target):
        y = target * self.target_scale_ + self.target_mean_
        return y.ravel() if y.shape[1] == 1 else y

    def _update_target_statistics(self, y, sample_weight):
        old = getattr(self, "_target_moments", None)
        y2 = self._targets_2d(y)
        if old is None or y2.shape[1] != old.mean.size:
            return None  # fitted before the moments were kept, or refused by _encode_targets
        new = old.updated(self._target_moments_of(y2, sample_weight), n_rows=len(y2),
                          halflife=self.statistics_halflife)
        self._target_moments = new
        change = target_change(old_mean=self.target_mean_, old_scale=self.target_scale_,
                               was_constant=is_constant(old.mean, old.var), new_mean=new.mean,
                               new_scale=new.scale())
        if change is not None:
            self.target_mean_, self.target_scale_ = new.mean, new.scale()
        return change

    def _constant_target(self):
        moments = self._target_moments
        return bool(np.any(is_constant(moments.mean, moments.var)))

    def _n_outputs(self):
        return self.target_mean_.size

    def _y_numeric(self):
        return True

    def _task(self):
        return "regression"

    def predict(self, X):
        """Predict targets with the quantized network.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions, in the dtype of ``X`` (float32 or float64); 1-D when
            the model has one output.
        """
        return self._predict_validated(self._validate_predict_input(X))

    def _predict_validated(self, X):
        if self.quantize:
            y = self._graph.predict(X)
        else:
            y = self._float_forward(X) * self.target_scale_ + self.target_mean_
            y = y.ravel() if y.shape[1] == 1 else y
        return y.astype(X.dtype, copy=False)

    def _graph_task(self):
        return {"task": "regression", "target_scale": self.target_scale_,
                "target_mean": self.target_mean_}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
