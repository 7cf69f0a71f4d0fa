"""An estimator's parameters as the training layer's :class:`~skqat._qat.TrainSettings`."""

import warnings

import numpy as np

from ._qat import TrainSettings


def train_settings(est, *, n_samples, weight_candidates, activation_candidates, size):
    """The :class:`TrainSettings` of one fit of ``est``.

    Parameters
    ----------
    est : NMPQATClassifier or NMPQATRegressor
    n_samples : int
        Training rows (the batch size is clipped to them, as MLP does).
    weight_candidates, activation_candidates : tuple of int
        The candidate bit-widths training uses.
    size : SizeAccount or None
        The size budget, if any.
    """
    if est.batch_size == "auto":
        batch_size = min(200, n_samples)
    else:
        if est.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                          "It is going to be clipped")
        batch_size = int(np.clip(est.batch_size, 1, n_samples))
    return TrainSettings(
        alpha=est.alpha, batch_size=batch_size, learning_rate_init=est.learning_rate_init,
        strength_learning_rate=est.strength_learning_rate, max_iter=est.max_iter, tol=est.tol,
        shuffle=est.shuffle, early_stopping=est.early_stopping,
        n_iter_no_change=est.n_iter_no_change, verbose=bool(est.verbose),
        bit_budget=est.bit_budget, activation_bit_budget=est.activation_bit_budget,
        bit_price=est.bit_price, activation_bit_price=est.activation_bit_price,
        learn_bits=est.quantize and (len(weight_candidates) > 1
                                     or len(activation_candidates) > 1),
        size=size,
    )
