"""The NMP-QAT training loop (torch), apart from the scikit-learn surface.

``train_network`` runs two phases over at most ``max_iter`` epochs:

1. *Learn*: weights, clipping levels and precision strengths together, with
   the budget penalties driven by :class:`~skqat._qat.budget.BudgetMultiplier`
   (the strengths step on one batch in four, see ``_STRENGTH_EVERY``).
   Checkpoints are kept only when the hard bits are within budget.
2. *Freeze* (with a budget or a price on the bits): the best within-budget
   checkpoint is restored, projected onto the budget (a guarantee), the
   strengths are frozen, and the weights and clipping levels are fine-tuned
   for the last tenth of ``max_iter`` at a fifth of the learning rate. The
   fine-tuning keeps its epoch of lowest training loss (the quantized
   network's, on the rows of the latent loss below; the validation score
   with early stopping).

:func:`train_increment` is one pass of the first phase followed by the
projection: what ``partial_fit`` runs.

Convergence follows scikit-learn's MLP: stop when the training loss (or,
with early stopping, the validation score) has not improved by ``tol`` for
``n_iter_no_change`` consecutive epochs. A quantized network's loss is
piecewise constant in its latent weights: it can sit still for dozens of
epochs while they move towards a sign flip. So there, an epoch also counts
as progress when the loss of the latent float weights (the same network
without quantization, on at most 2,048 evenly spaced training rows)
improves by ``tol``.
"""

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .objectives import batch_loss_and_gradient, batch_mean
from .optim import OptimizerState, adam_moments, adam_step, build_adam, restore_adam
from .penalties import BitCosts
from .projection import enforce_size, project_network, sample_loss
from .size import SizeAccount
from .tape import record_forward


# Training rows the latent-weight loss of the stopping rule is measured on.
_LATENT_ROWS = 2048
# The frozen-bits fine-tuning: its share of max_iter, and its learning rate
# relative to learning_rate_init (measured: a lower rate recovers about a
# point of accuracy at 2 mean weight bits; a longer phase bought nothing).
_FREEZE_FRACTION = 0.1
_FREEZE_LR_FACTOR = 0.2
# The strengths learn on one batch in _STRENGTH_EVERY, from a fit's first:
# an Adam step at that many times strength_learning_rate, with Adam's decay
# rates raised to that power, so that per batch the drift and the memory of
# the gradients are those of a step on every batch; between two of these
# steps every dense layer sums its weight gradients (one operation), and the
# strength step weighs their mean, so that every batch still informs the
# bits; Adam's second moment is rebuilt at one batch's noise (see
# optim.mean_gradient_adam_). The other batches skip the side quantizations,
# the gates, the penalties and the rebuilds of the levels. docs/benchmarks.md
# (training step cost) gives the paired comparison with a step on every batch.
_STRENGTH_EVERY = 4
# The losses are of standardized targets, or of logits of standardized and
# clipped inputs: O(1) for any model that learns. A loss above this one is a
# divergence, even while every number is still finite.
_DIVERGED_LOSS = 1e10


@dataclass
class TrainSettings:
    """Hyperparameters of one training run (taken from the estimator).

    ``size`` is the size budget's :class:`~skqat._qat.size.SizeAccount` (None: no
    size budget); the other names are the estimator's parameters.
    """

    alpha: float
    batch_size: int
    learning_rate_init: float
    strength_learning_rate: float
    max_iter: int
    tol: float
    shuffle: bool
    early_stopping: bool
    n_iter_no_change: float
    verbose: bool
    bit_budget: float | None
    activation_bit_budget: float | None
    bit_price: float
    activation_bit_price: float
    learn_bits: bool
    size: SizeAccount | None = None


@dataclass
class History:
    """What scikit-learn's MLP reports about its training, and a little more."""

    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    best_loss: float = np.inf
    best_validation_score: float = -np.inf
    n_iter: int = 0
    converged: bool = False
    no_improvement_count: int = 0


def _within_budget(costs, mean_w, mean_a):
    return costs.within(mean_w, mean_a)


def _non_finite_error(what, settings):
    return ValueError(
        f"Solver produced non-finite parameter weights ({what}). The input data may contain "
        "large values and need to be preprocessed (a StandardScaler or a log transform in the "
        f"pipeline); otherwise training diverged: lower learning_rate_init (now "
        f"{settings.learning_rate_init:g})."
    )


# Along a stream, the activation steps learn this much slower (see train_increment).
_STREAM_STEP_RATE = 0.1


class _Trainer:
    """One training run's optimizer, budget controllers and epoch loop."""

    def __init__(self, net, train, val, settings, generator, loss_fn, score_fn, step_rate=1.0):
        self.net, self.train, self.val = net, train, val
        self.step_rate = step_rate
        self.s, self.gen = settings, generator
        self.loss_fn, self.score_fn = loss_fn, score_fn
        self.history = History()
        self.costs = BitCosts(net, settings)
        self.opt = self._adam(learn_bits=settings.learn_bits)
        self.params = list(net.parameters())
        self.weights = [lin.weight for lin in net.linears]
        self.strengths = net.weight_strengths() + net.activation_strengths()
        for lin in net.linears:  # a fresh run sums from its own first batch
            lin.gradient_sum.count = 0
        self._saved = None
        self._n_steps = 0

    def _adam(self, learn_bits, lr_factor=1.0):
        return build_adam(self.net, learning_rate=self.s.learning_rate_init * lr_factor,
                          strength_learning_rate=self.s.strength_learning_rate,
                          learn_bits=learn_bits, step_rate=self.step_rate,
                          strength_every=_STRENGTH_EVERY)

    # ------------------------------------------------------------ one epoch
    def _step(self, idx, learn_bits):
        """One optimizer step on the rows ``idx``; returns the batch loss (a 0-d tensor)."""
        d, s, net = self.train, self.s, self.net
        # The strengths learn on one batch in _STRENGTH_EVERY; on the others,
        # nothing computes their gradient, and the dense layers sum theirs.
        strengths_turn = learn_bits and self._n_steps % _STRENGTH_EVERY == 0
        self._n_steps += 1
        if self.strengths and strengths_turn != self.strengths[0].requires_grad:
            for p in self.strengths:
                p.requires_grad_(strengths_turn)
        if net.linears[0].collect_gradients != learn_bits:
            for lin in net.linears:
                lin.collect_gradients = learn_bits
        rows, target = d.rows(idx), d.target.index_select(0, idx)
        weight = None if d.uniform_weight else d.weight.index_select(0, idx)
        for p in self.params:  # the optimizer's zero_grad, without its per-call wrappers
            p.grad = None
        if net.quantized:  # the layers' backward passes chained without the engine
            with torch.no_grad():
                out, tape = record_forward(net, rows, d.in_step)
                data_loss, grad_out = batch_loss_and_gradient(self.loss_fn, out, target, weight)
                tape.backward(grad_out)
        else:
            data_loss = batch_mean(self.loss_fn(net(rows, d.in_step), target), weight)
            data_loss.backward()
            data_loss = data_loss.detach()
        # As MLP: the penalty 0.5 * alpha * ||W||^2 / batch size, its gradient
        # added in one operation rather than through autograd; so is the bits'.
        with torch.no_grad():
            torch._foreach_add_([w.grad for w in self.weights], self.weights,
                                alpha=s.alpha / len(idx))
            if strengths_turn:
                self.costs.add_gradients(data_loss)
            norms = torch.stack(torch._foreach_norm(self.weights))
            loss = torch.add(data_loss, torch.dot(norms, norms), alpha=0.5 * s.alpha / len(idx))
        adam_step(self.opt)
        if strengths_turn:
            # The fused optimizer updates in place without moving the version
            # counter that the layers' memo of their levels is keyed on.
            for p in self.strengths:  # one at a time: torch < 2.6 takes a single tensor
                torch.autograd.graph.increment_version(p)
        net.constrain_(strengths=strengths_turn)
        if learn_bits:  # the controllers follow the batches, as the bits stood
            self.costs.update(bits_moved=strengths_turn)
        return loss

    def epoch(self, learn_bits):
        """One pass over the training data; returns the mean training loss."""
        n, bs = len(self.train), self.s.batch_size
        order = (torch.randperm(n, generator=self.gen) if self.s.shuffle
                 else torch.arange(n)).to(self.train.device)
        # Summed on the device: no host sync per step.
        total = torch.zeros((), device=self.train.device)
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            total.add_(self._step(idx, learn_bits), alpha=len(idx))
        value = total.item() / n
        if not math.isfinite(value):
            raise _non_finite_error(f"the training loss is {value} in epoch "
                                    f"{self.history.n_iter + 1}", self.s)
        if value > _DIVERGED_LOSS:
            raise ValueError(
                f"The training loss reached {value:.3g} in epoch {self.history.n_iter + 1}: "
                f"training diverged. Lower learning_rate_init (now "
                f"{self.s.learning_rate_init:g}), or rescale the inputs before this estimator.")
        if not all(bool(torch.isfinite(p).all()) for p in self.net.parameters()):
            raise _non_finite_error(f"after epoch {self.history.n_iter + 1}", self.s)
        return value

    def _loss_rows(self):
        # Evenly spaced training rows (at most _LATENT_ROWS), as indices.
        n = len(self.train)
        return torch.linspace(0, n - 1, min(n, _LATENT_ROWS), device=self.train.device).long()

    def _latent_loss(self):
        """Loss of the latent float weights on evenly spaced training rows (at most 2,048)."""
        d, idx = self.train, self._loss_rows()
        out = self.net.latent_forward(d.rows(idx), d.in_step)
        return float(self.loss_fn(out, d.target[idx]).mean())

    def _sample_loss(self):
        """Data loss of the quantized network on those rows (sample-weighted)."""
        return sample_loss(self.net, self.train, self._loss_rows(), self.loss_fn)

    def _validation_score(self):
        with torch.no_grad():
            out = torch.cat([self.net(codes, self.val.in_step) for _, codes in self.val.blocks()])
        return self.score_fn(out, self.val.target, self.val.weight)

    # ----------------------------------------------------------- the phases
    def run_phase(self, n_epochs, learn_bits, keep_best=False):
        """Train for up to ``n_epochs``; return the checkpoint to continue from.

        ``keep_best`` (the fine-tuning at frozen bits, without early stopping):
        the checkpoint is the epoch of lowest :meth:`_sample_loss`. With bits
        frozen the loss still swings from epoch to epoch (a code of a low-bit
        row flips), and the last epoch can be worse than one before.
        """
        h, s = self.history, self.s
        best_val, best_loss, no_improvement = -np.inf, np.inf, 0
        best_latent = np.inf
        checkpoint, checkpoint_score = None, -np.inf
        best_sample = np.inf
        converged = False
        for _ in range(n_epochs):
            t0 = time.perf_counter()
            loss = self.epoch(learn_bits)
            h.n_iter += 1
            h.loss_curve.append(loss)
            mean_w, mean_a = self.net.hard_mean_bits()
            if learn_bits:
                self.costs.calibrate()
            # Frozen bits were fitted to the budgets by the projection (the graph
            # is measured again at the end): every frozen epoch is within them.
            fits = _within_budget(self.costs, mean_w, mean_a) if learn_bits else True
            if s.early_stopping:
                score = self._validation_score()
                h.validation_scores.append(score)
                no_improvement = no_improvement + 1 if score < best_val + s.tol else 0
                best_val = max(best_val, score)
                if fits and score > checkpoint_score:
                    checkpoint, checkpoint_score = self._snapshot(), score
            else:
                # Quantized, the loss moves in steps (a sign flips, a level opens)
                # while the latent weights still learn: either improving is progress.
                quantized = self.net.quantized
                latent = self._latent_loss() if quantized else np.inf
                improved = (loss <= best_loss - s.tol
                            or (quantized and latent <= best_latent - s.tol))
                no_improvement = 0 if improved else no_improvement + 1
                best_loss = min(best_loss, loss)
                best_latent = min(best_latent, latent)
                # Restored only when the last epoch ends over budget.
                if fits and learn_bits and self.costs.active:
                    checkpoint = self._snapshot()
                if keep_best:
                    sample_loss = self._sample_loss()
                    if sample_loss < best_sample:
                        checkpoint, best_sample = self._snapshot(), sample_loss
            h.no_improvement_count = no_improvement
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
        # As MLP: the best loss, or the best validation score, of any epoch.
        h.best_loss = min(h.best_loss, best_loss)
        h.best_validation_score = max(h.best_validation_score, best_val)
        return checkpoint, converged

    @torch.no_grad()
    def _snapshot(self):
        # Copied into buffers allocated once: a deepcopy of the state dict
        # costs more than a small network's epoch.
        if self._saved is None:
            self._saved = [p.detach().clone() for p in self.params]
        else:
            torch._foreach_copy_(self._saved, [p.detach() for p in self.params])
        return self._saved

    @torch.no_grad()
    def restore(self, checkpoint):
        if checkpoint is not None:
            torch._foreach_copy_([p.detach() for p in self.params], checkpoint)

    # ------------------------------------------------- state across calls
    def export_state(self):
        """The optimizer, multipliers and generator as an :class:`OptimizerState`."""
        sums = [lin.gradient_sum for lin in self.net.linears]
        return OptimizerState(**adam_moments(self.opt, list(self.net.parameters())),
                              weight_multiplier=float(self.costs.weight.value),
                              activation_multiplier=float(self.costs.activation.value),
                              size_multiplier=float(self.costs.size.value),
                              generator_state=self.gen.get_state().numpy().copy(),
                              gradient_sums=[s.total.cpu().numpy().copy() if s.count else None
                                             for s in sums],
                              gradient_counts=[s.count for s in sums])

    def load_state(self, state):
        """Continue from an :meth:`export_state` (the inverse)."""
        restore_adam(self.opt, list(self.net.parameters()), state)
        self.costs.weight.value = state.weight_multiplier
        self.costs.activation.value = state.activation_multiplier
        self.costs.size.value = getattr(state, "size_multiplier", 0.0)
        self.gen.set_state(torch.as_tensor(state.generator_state, dtype=torch.uint8))
        for lin, total, count in zip(self.net.linears, getattr(state, "gradient_sums", []),
                                     getattr(state, "gradient_counts", [])):
            if total is not None and total.shape == tuple(lin.weight.shape):
                lin.gradient_sum.total = torch.as_tensor(total, device=lin.weight.device).clone()
                lin.gradient_sum.count = count
        # Batches so far (the weights' Adam steps): a stream of one-batch
        # calls learns its strengths on one call in _STRENGTH_EVERY, as one long fit.
        self._n_steps = max(state.steps, default=0)


def train_network(net, train, val, settings, generator, loss_fn, score_fn):
    """Train ``net`` in place with NMP-QAT; return its :class:`History` and final state.

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

    Returns
    -------
    history : History
    state : OptimizerState
        Where a later ``partial_fit`` continues from.
    """
    trainer = _Trainer(net, train, val, settings, generator, loss_fn, score_fn)
    # The frozen-bits fine-tuning repairs what the projection changed, and
    # settles the weights once the price has stopped moving the bits; with
    # neither, the bits learn to the end, as along a stream of partial_fit calls.
    costs = trainer.costs
    n_freeze = (int(settings.max_iter * _FREEZE_FRACTION)
                if settings.learn_bits and (costs.active or costs.priced) else 0)
    checkpoint, converged = trainer.run_phase(settings.max_iter - n_freeze,
                                              learn_bits=settings.learn_bits)
    trainer.history.converged = converged
    if settings.early_stopping or not _within_budget(costs, *net.hard_mean_bits()):
        trainer.restore(checkpoint)
    if not settings.learn_bits:
        return trainer.history, trainer.export_state()
    project_network(net, train, settings, generator, loss_fn)
    if n_freeze:
        trainer.opt = trainer._adam(learn_bits=False, lr_factor=_FREEZE_LR_FACTOR)
        checkpoint, _ = trainer.run_phase(n_freeze, learn_bits=False, keep_best=True)
        trainer.restore(checkpoint)
    # The fine-tuning moved the fields' values (a bias may need a bit more).
    enforce_size(net, train, settings, generator)
    return trainer.history, trainer.export_state()


def train_increment(net, train, settings, generator, loss_fn, state=None):
    """One pass over ``train`` (``partial_fit``), continuing from ``state``.

    The bits are learned during the pass (when ``settings.learn_bits``), and
    the network is projected onto the budgets at its end, so that every call
    returns a model within budget.

    Parameters
    ----------
    net : QuantMLP
    train : TrainData
    settings : TrainSettings
    generator : torch.Generator
        Replaced by ``state``'s generator when a state is given.
    loss_fn : callable
    state : OptimizerState or None
        What the previous call left; None starts a fresh optimizer.

    Returns
    -------
    history : History
        Of this one pass.
    state : OptimizerState
    """
    # Every call's model is the one in use: a step that moves at the weights'
    # rate re-quantizes every hidden code from one block to the next, and the
    # stream's score swings with it (measured by benchmarks.stream_shift).
    trainer = _Trainer(net, train, None, settings, generator, loss_fn, None,
                       step_rate=_STREAM_STEP_RATE)
    if state is not None:
        trainer.load_state(state)
    loss = trainer.epoch(settings.learn_bits)
    h = trainer.history
    h.n_iter, h.loss_curve, h.best_loss = 1, [loss], loss
    if settings.learn_bits:
        project_network(net, train, settings, generator, loss_fn)
    return h, trainer.export_state()
