"""The size and flash budgets on the estimator's side: candidates, what they count, checks, width.

Training (``skqat._qat``) keeps a network within a :class:`~skqat._qat.size.SizeAccount`;
these functions build that account from a fitted estimator's statistics and
say clearly when a budget cannot be met.
"""

import math

from ._qat.size import SizeAccount
from .runtime._flash import flash_fixed_bytes
from .runtime._model_file import steps_size_bytes


def byte_budget(est):
    """The estimator's budget in bytes, of model size or of flash (None without one)."""
    return est.size_budget if est.size_budget is not None else est.flash_budget


def weight_candidates(candidates, *, size_budget, granularity):
    """The weight candidates training uses: with a size (or flash) budget, 0 bits too.

    A pruned neuron costs no byte, so a size budget needs the 0-bit
    candidate to trade neurons for bits. Layer-level strengths keep the
    user's candidates (a 0 would prune whole layers).
    """
    if size_budget is None or granularity != "neuron" or candidates[0] == 0:
        return candidates
    return (0, *candidates)


def steps_bytes(est):
    """Bytes of the input and output steps of ``est``'s graph (input statistics known)."""
    task = est._graph_task()
    scale, offset = est._input_affine()
    return steps_size_bytes(scale, offset, task.get("target_scale", [1.0]),
                            task.get("target_mean", [0.0]))


def size_account(est, n_layers):
    """The :class:`SizeAccount` of ``est``'s size or flash budget, or None without one.

    ``n_layers`` is the number of dense layers (a flash budget's fixed part
    counts a row of the layer table for each).
    """
    if byte_budget(est) is None or not est.quantize:
        return None
    if est.size_budget is not None:
        return SizeAccount(budget=float(est.size_budget), fixed_bytes=steps_bytes(est),
                           input_step=est.input_steps_, input_bits=est.input_bits)
    return SizeAccount(budget=float(est.flash_budget),
                       fixed_bytes=flash_fixed_bytes(n_layers=n_layers, task=est._task()),
                       input_step=est.input_steps_, input_bits=est.input_bits,
                       flash_task=est._task())


def smallest_bytes(layer_sizes, candidates, fixed_bytes):
    """A lower bound on the bytes of any network of these layer sizes.

    Its weights only: one living neuron per hidden layer when 0 bits is a
    candidate (every neuron otherwise), each at the lowest non-zero
    candidate, plus the steps; the per-neuron fields add a few bytes more.
    """
    low = min(c for c in candidates if c > 0)
    total, fan_in = fixed_bytes, layer_sizes[0]
    for i, n_out in enumerate(layer_sizes[1:]):
        alive = 1 if candidates[0] == 0 and i < len(layer_sizes) - 2 else n_out
        total += math.ceil(fan_in * alive * low / 8)
        fan_in = alive
    return total


def check_reachable_size(account, layer_sizes, candidates):
    """Refuse before training a size budget no network of these layer sizes can meet."""
    if account is None:
        return
    low = smallest_bytes(layer_sizes, candidates, account.fixed_bytes)
    if account.budget < low:
        fixed = ("are the input and output steps: 4 per feature, 2 per 0/1 column"
                 if account.flash_task is None else
                 "are about the integer entry's code and layer table")
        raise ValueError(
            f"{account.parameter}={account.budget:g} bytes is below {low} bytes, the weights "
            f"and fixed part of the smallest model these layer sizes allow "
            f"({account.fixed_bytes} bytes {fixed}). Raise {account.parameter}, or reduce the "
            "features before this estimator (a SelectKBest or a PCA in the pipeline).")


def check_size_met(est):
    """The fitted model within its size or flash budget (the guarantee, checked once more)."""
    if est.size_budget is not None:
        name, budget, used = "size_budget", est.size_budget, est.model_size_bytes_
    elif est.flash_budget is not None and est.quantize:
        name, budget = "flash_budget", est.flash_budget
        used = est.to_integer().resource_report().flash_bytes
    else:
        return
    if used > budget:
        raise ValueError(
            f"The fitted model takes {used} bytes, over {name}={budget:g}: its candidates "
            f"cannot be lowered further (granularity={est.granularity!r}, weight_bits="
            f"{est.weight_bits!r}). Raise {name}, or use granularity='neuron', which can "
            "prune neurons.")


def starting_width(size_budget, *, n_features, n_outputs=1, weight_bits=2, min_width=8,
                   input_steps_bytes=None, fixed_bytes=None):
    """A hidden width to start a size-budgeted fit from: the budget held at 2 bits per weight.

    A size budget prunes and lowers neurons, but it cannot add any: a (100,)
    network on 14 features holds about 1 KB at 8 bits, so a 2 KB budget would
    go unspent. Nor should the start be much wider than the budget: pruning
    a (100,) network down to 512 B on Covertype (50 features) kept 20 to 22
    of its neurons, and scored 0.033 below a start at (10,)
    (``benchmarks/results/width_rule.md``). This width holds the budget at
    ``weight_bits`` per weight, with 4 bytes of fields per neuron and the
    input and output steps (``input_steps_bytes``, 16 per output); training
    then chooses which neurons to keep and at what precision. The
    estimators' default ``hidden_layer_sizes="auto"`` starts every size
    budget from it, as the accuracy-per-byte benchmark
    (``benchmarks/results/bytes.md``) does.

    Parameters
    ----------
    size_budget : float
        The budget, in bytes.
    n_features : int
        Input features the estimator sees (after the preprocessing).
    n_outputs : int, default=1
        Network outputs: 1 for regression or binary classification, the
        number of classes otherwise.
    weight_bits : float, default=2
        Bits per weight the width is sized at.
    min_width : int, default=8
        Never narrower than this (where the steps leave little of a budget).
    input_steps_bytes : int or None, default=None
        Bytes of the input steps in the model file; None counts 4 per
        feature (each 0/1 column takes 2: an estimator passes the exact
        count).
    fixed_bytes : int or None, default=None
        Bytes the budget spends beside the layers; None: the input steps and
        16 bytes of output steps per output (a model's size). A flash budget
        passes the integer entry's code and tables instead.

    Returns
    -------
    int

    Examples
    --------
    >>> from skqat.model_selection import starting_width
    >>> starting_width(2048, n_features=14), starting_width(512, n_features=14)
    (254, 56)
    >>> starting_width(512, n_features=50, n_outputs=7)
    10
    """
    if fixed_bytes is None:
        steps = 4 * n_features if input_steps_bytes is None else input_steps_bytes
        fixed_bytes = steps + 16 * n_outputs
    free = size_budget - fixed_bytes
    per_neuron = (n_features + n_outputs) * weight_bits / 8 + 4
    return max(int(min_width), int(free // per_neuron))


def auto_hidden_layer_sizes(*, size_budget, quantize, n_features, n_outputs,
                            input_steps_bytes=None, flash_task=None):
    """What ``hidden_layer_sizes="auto"`` builds a new network with.

    One layer of 100 neurons, as in ``MLPClassifier``, or, with a size (or
    flash) budget, one layer as wide as :func:`starting_width` gives: a
    (100,) start can leave a large budget unspent on a narrow table, and one
    far wider than a small budget prunes to a worse model. ``flash_task``
    (the task's name) says that ``size_budget`` is a flash budget.
    """
    if size_budget is None or not quantize:
        return [100]
    fixed = None if flash_task is None else flash_fixed_bytes(n_layers=2, task=flash_task)
    return [starting_width(size_budget, n_features=n_features, n_outputs=n_outputs,
                           input_steps_bytes=input_steps_bytes, fixed_bytes=fixed)]
