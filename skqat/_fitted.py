"""What a fit leaves on an estimator: its training record and its fitted arrays.

The fit flow in ``_base.py`` trains; these two functions turn the result into
scikit-learn's fitted attributes (numpy arrays only) and the integer graph
that ``predict`` runs.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .runtime import GraphRangeError

# Bits of a float network's weights and activations, as the attributes report them.
_FLOAT_BITS = 32


def store_history(est, history, *, first_pass, incremental, n_samples):
    """Set MLP's training attributes (``n_iter_``, ``loss_curve_``, ...) from a :class:`History`.

    ``incremental`` (a ``partial_fit`` call or a step down a budget path)
    never warns that ``max_iter`` was reached.
    """
    # As MLP: n_iter_ counts the epochs of this call, the curves go on
    # across warm-started fits and partial_fit calls.
    est.n_iter_ = history.n_iter
    est.t_ = (0 if first_pass else getattr(est, "t_", 0)) + n_samples * history.n_iter
    est._no_improvement_count = history.no_improvement_count
    est.loss_curve_ = ([] if first_pass else est.loss_curve_) + history.loss_curve
    est.loss_ = est.loss_curve_[-1] if est.loss_curve_ else None
    if est.early_stopping:
        previous = [] if first_pass else (getattr(est, "validation_scores_", None) or [])
        est.validation_scores_ = previous + history.validation_scores
        est.best_validation_score_ = history.best_validation_score
        est.best_loss_ = None
    else:
        previous = np.inf if first_pass or est.best_loss_ is None else est.best_loss_
        est.validation_scores_ = None
        est.best_validation_score_ = None
        est.best_loss_ = min(previous, history.best_loss)
    if (not incremental and not history.converged
            and history.n_iter >= est.max_iter - est.max_iter // 10):
        warnings.warn(
            f"Stochastic Optimizer: Maximum iterations ({est.max_iter}) reached and the "
            "optimization hasn't converged yet.", ConvergenceWarning,
        )



def store_network(est, net, *, dtype):
    """Set the fitted arrays from the trained torch network, and build the integer graph.

    ``dtype`` is that of X: the latent weights are kept in it, as MLP does.
    Nothing of torch is kept (no live objects in a pickle).
    """
    state = net.parameters_numpy()
    # As MLP: the parameters in the dtype of X (torch trains in float32).
    est.coefs_ = [c.astype(dtype) for c in state["coefs"]]
    est.intercepts_ = [b.astype(dtype) for b in state["intercepts"]]
    est.weight_strengths_ = state["weight_strengths"]
    est.activation_strengths_ = state["activation_strengths"]
    est.activation_unit_steps_ = state["activation_unit_steps"]
    est.n_layers_ = len(est.coefs_) + 1
    est.out_activation_ = {"regression": "identity", "multiclass": "softmax"}.get(
        est._task(), "logistic")
    est.hidden_layer_sizes_ = tuple(int(c.shape[1]) for c in est.coefs_[:-1])
    est.n_outputs_ = est.coefs_[-1].shape[1]
    fan_in = np.concatenate([np.full(c.shape[1], c.shape[0]) for c in est.coefs_])
    n_neurons = fan_in.size
    if est.quantize:
        layers = net.export_integer(est.input_steps_)
        est.integer_weights_ = [layer.weights for layer in layers]
        est.weight_steps_ = [layer.weight_step for layer in layers]
        est.integer_biases_ = [layer.bias for layer in layers]
        est.activation_steps_ = [layer.activation_step for layer in layers[:-1]]
        est.weight_bits_ = [layer.weight_bits for layer in layers]
        # A pruned neuron (0 weight bits) stores no activation: 0 bits.
        est.activation_bits_ = [np.where(layer.weight_bits > 0, layer.activation_bits, 0)
                                for layer in layers[:-1]]
        # Built once: predict runs it, and must not rebuild it on every call.
        try:
            est._graph = est.to_integer()
        except GraphRangeError as err:  # not a malformed graph: parameters out of range
            raise ValueError(
                f"The trained network cannot be represented as an integer graph ({err}). "
                "Its parameters have grown out of range: training diverged. Lower "
                f"learning_rate_init (now {est.learning_rate_init:g}), or rescale the "
                "inputs before this estimator."
            ) from err
        est.model_size_bytes_ = est._graph.theoretical_size_bytes()
    else:
        est.integer_weights_ = est._graph = None
        est.weight_steps_ = est.integer_biases_ = est.activation_steps_ = None
        est.weight_bits_ = [np.full(c.shape[1], _FLOAT_BITS) for c in est.coefs_]
        est.activation_bits_ = [np.full(c.shape[1], _FLOAT_BITS) for c in est.coefs_[:-1]]
        est.model_size_bytes_ = int(4 * (fan_in.sum() + n_neurons)
                                    + 8 * (est.n_features_in_ + est.n_outputs_))
    est.active_hidden_layer_sizes_ = tuple(int((b > 0).sum()) for b in est.weight_bits_[:-1])
    est.mean_weight_bits_ = float((np.concatenate(est.weight_bits_) * fan_in).sum()
                                  / fan_in.sum())
    est.mean_activation_bits_ = (float(np.concatenate(est.activation_bits_).mean())
                                 if est.activation_bits_ else 0.0)
