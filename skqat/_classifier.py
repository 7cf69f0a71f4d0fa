"""NMPQATClassifier: the scikit-learn classifier."""

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d

from ._base import BaseNMPQAT
from ._sklearn_private import _check_partial_fit_first_call, _fit_context


class NMPQATClassifier(ClassifierMixin, BaseNMPQAT):
    """ReLU MLP classifier trained with neuron-level mixed-precision QAT.

    Every neuron learns its own discrete bit-width for its incoming weights
    and for its output activation (NMP-QAT, arXiv:2605.25054): training starts
    at the lowest candidate bit-width and a neuron's precision grows only when
    the loss asks for it, within the optional bit budgets. The fitted model is
    fully discrete: integer weights, integer activations and a per-neuron
    step, and ``predict`` computes with those integers.

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
        Tolerance for the optimization (as in ``MLPClassifier``).
    verbose : bool, default=False
        Print one line per epoch: loss, validation score, mean weight and
        activation bits, seconds.
    warm_start : bool, default=False
        Continue from the previous fit's network and input (and target)
        statistics, as ``MLPClassifier`` does: ``n_iter_`` counts the epochs of
        the new fit; the classes (or outputs) must be those of the first fit.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified) and stop when
        its accuracy stops improving; the best within-budget epoch is kept.
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
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_iter_ : int
        Epochs run by the last call of ``fit`` (1 after ``partial_fit``).
    t_ : int
        Training samples seen, over every call since the model was first fitted.
    loss_ : float
        Training loss (with the L2 term) of the last epoch, as ``MLPClassifier``.
    loss_curve_ : list of float
        Training loss (with the L2 term) after each epoch.
    best_loss_ : float or None
        Lowest training loss (None with early stopping).
    validation_scores_ : list of float or None
        Validation accuracy after each epoch (early stopping only).
    best_validation_score_ : float or None
        Best validation accuracy of the last fit (early stopping only); the model
        kept is the best epoch within budget.
    hidden_layer_sizes_ : tuple of int
        The hidden layers' widths training used: ``hidden_layer_sizes``, or
        the widths ``"auto"`` chose, before any pruning.
    active_hidden_layer_sizes_ : tuple of int
        The hidden neurons left after pruning (those with more than 0 weight
        bits) in each layer; what the integer graph computes.
    weight_candidates_ : tuple of int
        Candidate weight bit-widths training used: ``weight_bits``, with 0
        added by a ``size_budget`` or a ``flash_budget``.
    weight_bits_ : list of ndarray of int
        Weight bit-width of every neuron, one array per dense layer.
    activation_bits_ : list of ndarray of int
        Activation bit-width of every hidden neuron, one array per hidden layer.
    mean_weight_bits_ : float
        Mean weight bits, each neuron weighted by its fan-in (32 in float).
    mean_activation_bits_ : float
        Mean activation bits over hidden neurons (32 in float).
    model_size_bytes_ : int
        Content of the integer graph as the model file stores it: per layer
        the packed weight bits and each neuron's bias, multiplier, shift and
        bit-widths at the widths the layer needs; per feature a scale and an
        offset, 2 bytes each (bfloat16); the float64 output steps. In float (``quantize=False``): float32
        weights and biases and a float32 mean and scale per feature and output.
    integer_weights_ : list of ndarray of int8 or int16, or None
        Integer weight codes, shape (n_out, n_in) per layer (None in float).
    weight_steps_ : list of ndarray or None
        Per-neuron value of one weight code, in units of the input codes.
    integer_biases_ : list of ndarray of int64 or None
        Biases in units of the neuron's weight step.
    activation_steps_ : list of ndarray or None
        Per hidden neuron, the value of one activation code (shared by a layer).
    input_mean_, input_scale_ : ndarray of shape (`n_features_in_`,)
        Standardization statistics (weighted by ``sample_weight``).
    input_steps_ : ndarray of shape (`n_features_in_`,)
        Step of one input code, in standard deviations.
    binary_features_ : ndarray of bool, shape (`n_features_in_`,)
        Columns whose every training value is 0 or 1 (one-hot, indicators;
        along a stream, every value so far): their input step is their two
        codes, stored in 2 bytes instead of 4 (see "How it works" in the
        documentation: the integer graph's arithmetic).
    coefs_, intercepts_ : list of ndarray
        Latent float weights and biases that training updates.
    weight_strengths_, activation_strengths_, activation_unit_steps_ : list of ndarray
        Learned precision strengths and the step of each hidden layer's codes.
    out_activation_ : str
        ``"logistic"`` for two classes or several labels, ``"softmax"`` for
        more classes (the network's outputs are their logits), as ``MLPClassifier``.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of network outputs (1 for binary problems).
    device_ : str
        The device training ran on.

    See Also
    --------
    NMPQATRegressor : The regressor.
    sklearn.neural_network.MLPClassifier : The float MLP this mirrors.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skqat import NMPQATClassifier
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> clf = NMPQATClassifier(hidden_layer_sizes=(32,), bit_budget=2.0,
    ...                        max_iter=30, random_state=0).fit(X, y)
    >>> clf.mean_weight_bits_ <= 2.0
    True
    >>> clf.predict(X[:3]).shape
    (3,)
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
        """Fit the quantized network to data X and labels y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data; numeric, without missing values (put a
            ``SimpleImputer`` before the estimator in a pipeline). Sparse
            matrices stay sparse: each mini-batch is densified on its own.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multilabel
            classification.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights: each sample's loss and its share of the input
            statistics are scaled by its weight.

        Returns
        -------
        self : NMPQATClassifier
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Update the model with one pass over the given data.

        The first call fixes the classes; the input standardization keeps
        learning (running statistics of the rows seen, the older ones fading
        as ``statistics_halflife`` says; the first layer rescaled to keep the
        model's function when they move). Later calls
        continue the training where the previous one stopped (weights,
        strengths, optimizer state and budget multipliers).
        The precision strengths keep learning, and each call ends with the
        budget projection, so the model is within budget after every call.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix.
        classes : array-like of shape (n_classes,), default=None
            Every class of the whole stream, for example ``np.unique(y_all)``.
            Required on the first call, ignored (and checked) afterwards.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : NMPQATClassifier
            The updated estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import make_classification
        >>> from skqat import NMPQATClassifier
        >>> X, y = make_classification(n_samples=600, random_state=0)
        >>> clf = NMPQATClassifier(hidden_layer_sizes=(16,), bit_budget=2, random_state=0)
        >>> for chunk in np.array_split(np.arange(600), 6):
        ...     clf = clf.partial_fit(X[chunk], y[chunk], classes=[0, 1])
        >>> clf.mean_weight_bits_ <= 2
        True
        """
        if _check_partial_fit_first_call(self, classes) and \
                type_of_target(y) == "multilabel-indicator":
            self.classes_ = np.arange(np.shape(y)[1])
        return self._fit(X, y, sample_weight, incremental=True)

    def _is_multilabel(self):
        return getattr(self, "_multilabel", False)

    def _encode_targets(self, y, first_pass, incremental, sample_weight):
        if type_of_target(y) == "multilabel-indicator":
            return self._encode_multilabel(y, first_pass, incremental)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        classes = unique_labels(y)
        if first_pass:
            self._multilabel = False
        if first_pass and not incremental:
            # One class is allowed, as in MLP: the model then always predicts it.
            self.classes_ = classes
        elif self._is_multilabel():
            raise ValueError("This model was fitted on a multilabel indicator matrix; y must "
                             "be one too. Refit with warm_start=False for another target.")
        elif self.warm_start and not incremental:
            if set(classes) != set(self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                )
        elif np.setdiff1d(classes, self.classes_).size:
            raise ValueError(
                f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                f"'y' has {classes}."
            )
        codes = np.searchsorted(self.classes_, y)
        return codes.astype(np.float32) if self.classes_.size <= 2 else codes.astype(np.int64)

    def _decode_targets(self, target):
        if self._is_multilabel():
            return target.astype(np.int64)
        return self.classes_[target.astype(np.int64)]

    def _encode_multilabel(self, y, first_pass, incremental):
        y = y.toarray() if hasattr(y, "toarray") else np.asarray(y)
        if first_pass:
            self.classes_ = np.arange(y.shape[1])
            self._multilabel = True
        elif not self._is_multilabel() or y.shape[1] != self.classes_.size:
            raise ValueError(
                f"y is a multilabel indicator matrix of {y.shape[1]} labels, but the model was "
                f"fitted on {self.classes_.size} " + ("labels." if self._is_multilabel() else
                                                      "classes.") +
                " Refit with warm_start=False for another target."
            )
        return y.astype(np.float32)

    def _n_outputs(self):
        if self._is_multilabel():
            return self.classes_.size
        return 1 if self.classes_.size <= 2 else self.classes_.size

    def _stratify_labels(self, target):
        if self._is_multilabel():
            return None  # as MLP: no stratified split of multilabel targets
        return target.astype(bool) if self.classes_.size <= 2 else target

    def _task(self):
        if self._is_multilabel():
            return "multilabel"
        return "binary" if self.classes_.size <= 2 else "multiclass"

    def predict_proba(self, X):
        """Probability estimates of the quantized network.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Class probabilities, columns in the order of ``classes_``; for
            multilabel targets each label's own probability.
        """
        X = self._validate_predict_input(X)
        if self.classes_.size == 1:
            return np.ones((X.shape[0], 1))
        if self.quantize:
            return self._graph.predict_proba(X)
        out = self._float_forward(X)
        if self._is_multilabel():
            return expit(out)
        if self.classes_.size == 2:
            p = expit(out[:, 0])
            return np.column_stack([1.0 - p, p])
        return softmax(out, axis=1)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predict class labels with the quantized network.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
            Predicted labels, or a 0/1 indicator matrix for multilabel targets.
        """
        return self._predict_validated(self._validate_predict_input(X))

    def _predict_validated(self, X):
        if self.quantize:
            return self._graph.predict(X)
        out = self._float_forward(X)
        if self._is_multilabel():
            return (out > 0).astype(np.int64)
        if self.classes_.size <= 2:
            return self._binary_classes()[(out[:, 0] > 0).astype(np.int64)]
        return self.classes_[out.argmax(1)]

    def _binary_classes(self):
        # The labels of a negative and a positive logit (one class: both are it).
        return np.resize(self.classes_, 2)

    def _graph_task(self):
        if self._is_multilabel():
            return {"task": "multilabel"}
        if self.classes_.size <= 2:
            return {"task": "binary", "classes": self._binary_classes()}
        return {"task": "multiclass", "classes": self.classes_}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


