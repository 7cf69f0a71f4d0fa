"""Training losses and validation scores of the four tasks, on torch tensors.

A *task* is one of ``"binary"`` (one logit), ``"multiclass"`` (one logit per
class), ``"multilabel"`` (one logit per label) and ``"regression"``
(standardized targets). Losses are per sample, as the training loop weighs
them by ``sample_weight``; scores are weighted and higher is better, as the
estimators' ``score``.
"""

import torch
from torch.nn import functional as F

TASKS = ("binary", "multiclass", "multilabel", "regression")


def _check(task):
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")


def loss_function(task):
    """Per-sample loss ``f(output, target)`` of ``task``.

    Binary and multilabel: logistic loss of the logits (summed over labels);
    multiclass: cross-entropy; regression: half the squared error, averaged
    over outputs (scikit-learn's MLP losses).
    """
    _check(task)
    if task == "binary":
        return lambda out, t: F.binary_cross_entropy_with_logits(out[:, 0], t, reduction="none")
    if task == "multilabel":
        return lambda out, t: F.binary_cross_entropy_with_logits(out, t, reduction="none").sum(1)
    if task == "multiclass":
        return lambda out, t: F.cross_entropy(out, t, reduction="none")
    return lambda out, t: 0.5 * (out - t).pow(2).mean(1)


def _weighted_mean(values, weight):
    return float((values * weight).sum() / weight.sum().clamp_min(1e-12))


def _accuracy(task, out, target, weight):
    # Multilabel: subset accuracy (every label right), as accuracy_score.
    if task == "multilabel":
        right = ((out > 0).to(target.dtype) == target).all(1)
    elif task == "binary":
        right = (out[:, 0] > 0).to(target.dtype) == target
    else:
        right = out.argmax(1) == target
    return _weighted_mean(right, weight)


def _r2(out, target, weight):
    # As r2_score, averaged over outputs: a constant target scores 1 when
    # predicted exactly, else 0.
    w = weight.unsqueeze(1)
    total = w.sum().clamp_min(1e-12)
    mean = (target * w).sum(0) / total
    ss_res = ((target - out).pow(2) * w).sum(0)
    ss_tot = ((target - mean).pow(2) * w).sum(0)
    constant = ss_tot == 0
    r2 = torch.where(constant, (ss_res == 0).to(out.dtype),
                     1 - ss_res / torch.where(constant, 1.0, ss_tot))
    return float(r2.mean())


def score_function(task):
    """Validation score ``f(output, target, weight)`` of ``task``, a float.

    Weighted accuracy for the classification tasks (subset accuracy for
    multilabel), weighted R2 for regression.
    """
    _check(task)
    if task == "regression":
        return _r2
    return lambda out, target, weight: _accuracy(task, out, target, weight)
