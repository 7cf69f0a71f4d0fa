"""The NMP-QAT training loop (torch), apart from the scikit-learn surface.

``train_network`` runs two phases over at most ``max_iter`` epochs:

1. *Learn*: weights, clipping levels and precision strengths together, with
   the budget penalties driven by :class:`~skqat._budget.BudgetMultiplier`.
   Checkpoints are kept only when the hard bits are within budget.
2. *Freeze*: the best within-budget checkpoint is restored, projected onto the
   budget (a guarantee), the strengths are frozen, and the weights and
   clipping levels are fine-tuned for the last tenth of ``max_iter``.

Convergence follows scikit-learn's MLP: stop when the training loss (or,
with early stopping, the validation score) has not improved by ``tol`` for
``n_iter_no_change`` consecutive epochs.
"""

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from . import _quantizers as Q
from ._budget import BudgetMultiplier, project_to_budget

_PROJECTION_ROWS = 4096


@dataclass
class TrainSettings:
    """Hyperparameters of one training run (taken from the estimator)."""

    alpha: float
    batch_size: int
    learning_rate_init: float
    strength_learning_rate: float
    max_iter: int
    tol: float
    shuffle: bool
    early_stopping: bool
    n_iter_no_change: int
    verbose: bool
    bit_budget: float | None
    activation_bit_budget: float | None
    learn_bits: bool


@dataclass
class TrainData:
    """Input codes, their steps, targets and sample weights, on the training device."""

    codes: torch.Tensor
    in_step: torch.Tensor
    target: torch.Tensor
    weight: torch.Tensor

    def __len__(self):
        return self.codes.shape[0]


@dataclass
class History:
    """What scikit-learn's MLP reports about its training, and a little more."""

    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    best_loss: float = np.inf
    best_validation_score: float = -np.inf
    n_iter: int = 0
    converged: bool = False


def _within_budget(settings, mean_w, mean_a):
    ok_w = settings.bit_budget is None or mean_w <= settings.bit_budget + 1e-9
    ok_a = settings.activation_bit_budget is None or mean_a <= settings.activation_bit_budget + 1e-9
    return ok_w and ok_a


class _Trainer:
    """One training run's optimizer, budget controllers and epoch loop."""

    def __init__(self, net, train, val, settings, generator, loss_fn, score_fn):
        self.net, self.train, self.val = net, train, val
        self.s, self.gen = settings, generator
        self.loss_fn, self.score_fn = loss_fn, score_fn
        self.history = History()
        self.w_ctrl = BudgetMultiplier(settings.bit_budget)
        self.a_ctrl = BudgetMultiplier(settings.activation_bit_budget)
        self.has_budget = (settings.bit_budget is not None
                           or settings.activation_bit_budget is not None)
        strengths = net.weight_strengths() + net.activation_strengths()
        ids = {id(p) for p in strengths}
        others = [p for p in net.parameters() if id(p) not in ids]
        groups = [{"params": others, "lr": settings.learning_rate_init}]
        if settings.learn_bits:
            groups.append({"params": strengths, "lr": settings.strength_learning_rate})
        self.opt = torch.optim.Adam(groups)
        self.max_w_bits = max(max(lin.candidates) for lin in net.linears)
        self.max_a_bits = max([max(a.candidates) for a in net.activations], default=1)

    # ------------------------------------------------------------ one epoch
    def _objective(self, idx, learn_bits):
        d, s = self.train, self.s
        out = self.net(d.codes[idx], d.in_step)
        w = d.weight[idx]
        data_loss = (self.loss_fn(out, d.target[idx]) * w).sum() / w.sum().clamp_min(1e-12)
        l2 = sum(lin.weight.pow(2).sum() for lin in self.net.linears)
        loss = data_loss + 0.5 * s.alpha * l2 / len(idx)
        objective = loss
        if learn_bits and self.w_ctrl.value > 0:
            objective = objective + self.w_ctrl.value * (
                self.net.expected_mean_weight_bits() / self.max_w_bits)
        if learn_bits and self.a_ctrl.value > 0 and self.net.activations:
            objective = objective + self.a_ctrl.value * (
                self.net.expected_mean_activation_bits() / self.max_a_bits)
        return loss, objective

    def _epoch(self, learn_bits):
        n, bs = len(self.train), self.s.batch_size
        order = (torch.randperm(n, generator=self.gen) if self.s.shuffle
                 else torch.arange(n)).to(self.train.codes.device)
        total = 0.0
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            loss, objective = self._objective(idx, learn_bits)
            self.opt.zero_grad(set_to_none=True)
            objective.backward()
            self.opt.step()
            self.net.constrain_()
            if learn_bits and self.has_budget:
                mean_w, mean_a = self.net.hard_mean_bits()
                self.w_ctrl.update(mean_w)
                self.a_ctrl.update(mean_a)
            total += loss.item() * len(idx)
        return total / n

    def _validation_score(self):
        with torch.no_grad():
            out = self.net(self.val.codes, self.val.in_step)
        return self.score_fn(out, self.val.target, self.val.weight)

    # ----------------------------------------------------------- the phases
    def run_phase(self, n_epochs, learn_bits):
        """Train for up to ``n_epochs``; return the checkpoint to continue from."""
        h, s = self.history, self.s
        best_val, best_loss, no_improvement = -np.inf, np.inf, 0
        checkpoint, checkpoint_score = None, -np.inf
        converged = False
        for _ in range(n_epochs):
            t0 = time.perf_counter()
            loss = self._epoch(learn_bits)
            h.n_iter += 1
            h.loss_curve.append(loss)
            mean_w, mean_a = self.net.hard_mean_bits()
            fits = _within_budget(s, mean_w, mean_a)
            if s.early_stopping:
                score = self._validation_score()
                h.validation_scores.append(score)
                no_improvement = no_improvement + 1 if score < best_val + s.tol else 0
                best_val = max(best_val, score)
                if fits and score > checkpoint_score:
                    checkpoint, checkpoint_score = self._snapshot(), score
            else:
                no_improvement = no_improvement + 1 if loss > best_loss - s.tol else 0
                best_loss = min(best_loss, loss)
                if fits:
                    checkpoint = self._snapshot()
            if s.verbose:
                val = f", validation score = {h.validation_scores[-1]:.5f}" if s.early_stopping else ""
                print(f"Iteration {h.n_iter}, loss = {loss:.8f}{val}, "
                      f"mean weight bits = {mean_w:.3f}, mean activation bits = {mean_a:.3f}, "
                      f"{time.perf_counter() - t0:.2f} s")
            if no_improvement > s.n_iter_no_change:
                converged = True
                if s.verbose:
                    what = "Validation score" if s.early_stopping else "Training loss"
                    print(f"{what} did not improve more than tol={s.tol} for "
                          f"{s.n_iter_no_change} consecutive epochs. Stopping.")
                break
        if not s.early_stopping:
            h.best_loss = min(h.best_loss, best_loss)
        else:
            h.best_validation_score = max(h.best_validation_score, checkpoint_score)
        return checkpoint, converged

    def _snapshot(self):
        return copy.deepcopy(self.net.state_dict())

    def restore(self, checkpoint):
        if checkpoint is not None:
            self.net.load_state_dict(checkpoint)


def _relative_errors_weights(lin, codes, in_step):
    """Output error of each neuron at each candidate, relative to its signal."""
    w = lin.weight.detach() * in_step
    m2 = codes.pow(2).mean(0)
    signal = (w.pow(2) * m2).sum(1).clamp_min(1e-30)
    return np.stack([
        (((Q.quantize_weight(w, b) - w).pow(2) * m2).sum(1) / signal).cpu().numpy()
        for b in lin.candidates
    ], axis=1)


def _relative_errors_activations(act, pre):
    """Error of each neuron's activation at each candidate (clipping included)."""
    a = pre.clamp_min(0.0)
    signal = a.pow(2).mean(0).clamp_min(1e-30)
    step = act.step.detach()
    return np.stack([
        ((Q.quantize_activation_int(pre, step, b) * step - a).pow(2).mean(0) / signal)
        .cpu().numpy()
        for b in act.candidates
    ], axis=1)


def _levels(strengths, candidates, sizes):
    return [np.broadcast_to(Q.strength_to_level(s, len(candidates)).cpu().numpy(),
                            (n,)).astype(np.int64)
            for s, n in zip(strengths, sizes)]


def project_network(net, data, settings, generator):
    """Lower the least harmful neurons' bits until both budgets hold (in place).

    Activations are projected first because their steps change the next
    layer's folded weights, on which the weight errors are measured.
    Returns True if any bit-width changed.
    """
    n = len(data)
    rows = torch.randperm(n, generator=generator)[:_PROJECTION_ROWS].to(data.codes.device)
    codes = data.codes[rows]
    changed = False
    if net.activations and settings.activation_bit_budget is not None:
        cands = net.activations[0].candidates
        sizes = [a.n_neurons for a in net.activations]
        levels = _levels(net.activation_strengths(), cands, sizes)
        _, pre = net.layer_inputs(codes, data.in_step)
        errors = [_relative_errors_activations(a, p) for a, p in zip(net.activations, pre)]
        new = project_to_budget(levels, cands, [np.ones(k) for k in sizes], errors,
                                settings.activation_bit_budget)
        if any((a != b).any() for a, b in zip(levels, new)):
            changed = True
            w_levels = _levels(net.weight_strengths(), net.linears[0].candidates,
                               [lin.weight.shape[0] for lin in net.linears])
            net.set_levels_(w_levels, new)
    if settings.bit_budget is not None:
        cands = net.linears[0].candidates
        sizes = [lin.weight.shape[0] for lin in net.linears]
        levels = _levels(net.weight_strengths(), cands, sizes)
        inputs, _ = net.layer_inputs(codes, data.in_step)
        steps = [data.in_step] + [a.step.detach() for a in net.activations]
        errors = [_relative_errors_weights(lin, x, st)
                  for lin, x, st in zip(net.linears, inputs, steps)]
        fan_in = [np.full(lin.weight.shape[0], float(lin.weight.shape[1])) for lin in net.linears]
        new = project_to_budget(levels, cands, fan_in, errors, settings.bit_budget)
        if any((a != b).any() for a, b in zip(levels, new)):
            changed = True
            a_levels = _levels(net.activation_strengths(), net.activations[0].candidates,
                               [a.n_neurons for a in net.activations]) if net.activations else []
            net.set_levels_(new, a_levels)
    return changed


def train_network(net, train, val, settings, generator, loss_fn, score_fn):
    """Train ``net`` in place with NMP-QAT; return its :class:`History`.

    Parameters
    ----------
    net : QuantMLP
    train : TrainData
    val : TrainData or None
        Held-out data for early stopping.
    settings : TrainSettings
    generator : torch.Generator
        Source of every random draw (shuffling, projection sample).
    loss_fn : callable
        ``loss_fn(output, target)`` -> per-sample loss.
    score_fn : callable
        ``score_fn(output, target, weight)`` -> float, higher is better.
    """
    trainer = _Trainer(net, train, val, settings, generator, loss_fn, score_fn)
    n_freeze = settings.max_iter // 10 if settings.learn_bits else 0
    checkpoint, converged = trainer.run_phase(settings.max_iter - n_freeze,
                                              learn_bits=settings.learn_bits)
    trainer.history.converged = converged
    if settings.early_stopping or not _within_budget(settings, *net.hard_mean_bits()):
        trainer.restore(checkpoint)
    if not settings.learn_bits:
        return trainer.history
    project_network(net, train, settings, generator)
    for p in net.weight_strengths() + net.activation_strengths():
        p.requires_grad_(False)
    if n_freeze:
        trainer.opt = torch.optim.Adam(
            [p for p in net.parameters() if p.requires_grad], lr=settings.learning_rate_init)
        checkpoint, _ = trainer.run_phase(n_freeze, learn_bits=False)
        if settings.early_stopping:
            trainer.restore(checkpoint)
    return trainer.history
