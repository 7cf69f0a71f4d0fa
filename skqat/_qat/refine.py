"""One step down a budget path: project a trained network onto lower budgets, then fine-tune.

Budgets order models: the model at a lower budget is the one at a higher
budget with some neurons lowered. So a path of budgets needs one full
training, at the largest; every lower point starts from the point above it,
projects onto its budgets (:func:`~skqat._qat.projection.project_network`)
and fine-tunes the weights and clipping levels with the bits frozen, as the
frozen phase that ends a training does.
"""

from .projection import enforce_size, project_network
from .training import _FREEZE_LR_FACTOR, _Trainer


def refine_network(net, train, val, settings, generator, loss_fn, score_fn, n_epochs):
    """Project ``net`` onto ``settings``' budgets and fine-tune it for ``n_epochs`` (in place).

    Parameters
    ----------
    net : QuantMLP
        A trained network, within budgets at least as large as ``settings``'.
    train : TrainData
    val : TrainData or None
        Held-out rows of early stopping (the same as the fit's): the
        fine-tuning keeps its epoch of best validation score.
    settings : TrainSettings
        The new, lower budgets; its stopping rule applies to the fine-tuning.
    generator : torch.Generator
        Shuffling and the projection's sample.
    loss_fn : callable
    score_fn : callable
        ``score_fn(output, target, weight)`` -> float, higher is better.
    n_epochs : int
        Epochs of the frozen-bits fine-tuning, at a fifth of the learning rate.

    Returns
    -------
    history : History
        Of the fine-tuning.
    state : OptimizerState
    """
    trainer = _Trainer(net, train, val, settings, generator, loss_fn, score_fn)
    if settings.learn_bits:
        project_network(net, train, settings, generator, loss_fn)
    trainer.opt = trainer._adam(learn_bits=False, lr_factor=_FREEZE_LR_FACTOR)
    checkpoint, converged = trainer.run_phase(n_epochs, learn_bits=False, keep_best=True)
    trainer.restore(checkpoint)  # frozen bits: every epoch is within budget
    trainer.history.converged = converged
    enforce_size(net, train, settings, generator)
    return trainer.history, trainer.export_state()
