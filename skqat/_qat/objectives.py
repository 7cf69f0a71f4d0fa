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
    """Per-sample loss of ``task``: a :class:`TaskLoss`, ``f(output, target)``.

    Binary and multilabel: logistic loss of the logits (summed over labels);
    multiclass: cross-entropy; regression: half the squared error, averaged
    over outputs (scikit-learn's MLP losses).
    """
    _check(task)
    return TaskLoss(task)


class TaskLoss:
    """The training loss of one task: per-sample values, and a batch's with its gradient.

    Calling it gives the per-sample loss (an autograd graph when the output
    requires a gradient). :meth:`batch` gives the batch's (weighted) mean and
    its gradient with respect to the output, written out: the training step
    runs its network's backward passes without the autograd engine
    (``tape.py``), and these are the operations autograd's backward runs,
    in the same order, so the gradients are the same bit for bit.

    Parameters
    ----------
    task : str
        One of :data:`TASKS`.
    """

    def __init__(self, task):
        _check(task)
        self.task = task

    def __call__(self, out, target):
        if self.task == "binary":
            return F.binary_cross_entropy_with_logits(out[:, 0], target, reduction="none")
        if self.task == "multilabel":
            return F.binary_cross_entropy_with_logits(out, target, reduction="none").sum(1)
        if self.task == "multiclass":
            return F.cross_entropy(out, target, reduction="none")
        return 0.5 * (out - target).pow(2).mean(1)

    @torch.no_grad()
    def batch(self, out, target, weight=None):
        """The batch's loss and its gradient with respect to ``out``.

        Parameters
        ----------
        out : torch.Tensor of shape (n_samples, n_outputs)
            The network's output.
        target : torch.Tensor
            Encoded targets of the rows.
        weight : torch.Tensor of shape (n_samples,) or None
            Sample weights: the loss is ``sum(w * l) / sum(w)``; None is the
            plain mean.

        Returns
        -------
        loss : torch.Tensor
            0-d.
        grad : torch.Tensor of the shape of ``out``
        """
        task = self.task
        if task == "multiclass":
            # cross_entropy is log_softmax then nll_loss: the backward needs the first.
            log_p = torch.log_softmax(out, 1)
            per_sample = F.nll_loss(log_p, target, reduction="none")
        elif task == "regression":  # the backward needs the difference
            diff = out - target
            per_sample = 0.5 * diff.pow(2).mean(1)
        else:
            per_sample = self(out, target)
        # d loss / d per-sample loss: 1 / n, or w / sum(w) (autograd's order).
        one = torch.ones((), dtype=out.dtype, device=out.device)
        if weight is None:
            loss, dl = per_sample.mean(), one / len(out)
        else:
            total = weight.sum().clamp_min(1e-12)
            loss, dl = (per_sample * weight).sum() / total, (one / total).mul(weight)
        if task == "binary":
            grad = (out.sigmoid() - target.unsqueeze(1)).mul_(
                dl.unsqueeze(1) if dl.dim() else dl)
        elif task == "multilabel":
            grad = (out.sigmoid() - target).mul_(dl.unsqueeze(1) if dl.dim() else dl)
        elif task == "multiclass":
            grad_log_p = torch.ops.aten.nll_loss_backward(
                dl.expand(len(out)), log_p, target, None, 0, -100, one)
            grad = torch.ops.aten._log_softmax_backward_data(grad_log_p, log_p, 1, out.dtype)
        else:
            per_output = (dl * 0.5).div_(out.shape[1])
            grad = diff.mul_(2).mul_(per_output.unsqueeze(1) if per_output.dim() else per_output)
        return loss, grad


def batch_mean(per_sample, weight):
    """A batch's loss: the mean of ``per_sample``, weighted by ``weight`` unless it is None."""
    if weight is None:
        return per_sample.mean()
    return (per_sample * weight).sum() / weight.sum().clamp_min(1e-12)


def batch_loss_and_gradient(loss_fn, out, target, weight=None):
    """A batch's loss (detached, 0-d) and its gradient with respect to ``out``.

    Written out for a :class:`TaskLoss`; any other per-sample ``loss_fn``
    goes through autograd on the output alone. ``weight`` as in :func:`batch_mean`.
    """
    if isinstance(loss_fn, TaskLoss):
        return loss_fn.batch(out, target, weight)
    with torch.enable_grad():
        out = out.detach().requires_grad_()
        loss = batch_mean(loss_fn(out, target), weight)
        grad, = torch.autograd.grad(loss, out)
    return loss.detach(), grad


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
