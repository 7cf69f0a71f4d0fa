"""The size budget on the estimator's side: candidates, what it counts, its checks.

Training (``skqat._qat``) keeps a network within a :class:`~skqat._qat.size.SizeAccount`;
these functions build that account from a fitted estimator's statistics and
say clearly when a budget cannot be met.
"""

import math

from ._qat.size import SizeAccount
from .runtime._model_file import steps_size_bytes


def weight_candidates(candidates, *, size_budget, granularity):
    """The weight candidates training uses: with a size budget, 0 bits (pruning) too.

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


def size_account(est):
    """The :class:`SizeAccount` of ``est``'s size budget, or None without one."""
    if est.size_budget is None or not est.quantize:
        return None
    return SizeAccount(budget=float(est.size_budget), fixed_bytes=steps_bytes(est),
                       input_step=est.input_steps_, input_bits=est.input_bits)


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
        raise ValueError(
            f"size_budget={account.budget:g} bytes is below {low} bytes, the weights and "
            f"steps of the smallest model these layer sizes allow ({account.fixed_bytes} bytes "
            f"are the input and output steps: 4 per feature). Raise size_budget, or reduce "
            "the features before this estimator (a SelectKBest or a PCA in the pipeline).")


def check_size_met(est):
    """The fitted model within its size budget (the guarantee, checked once more)."""
    if est.size_budget is not None and est.model_size_bytes_ > est.size_budget:
        raise ValueError(
            f"The fitted model takes {est.model_size_bytes_} bytes, over size_budget="
            f"{est.size_budget:g}: its candidates cannot be lowered further (granularity="
            f"{est.granularity!r}, weight_bits={est.weight_bits!r}). Raise size_budget, or "
            "use granularity='neuron', which can prune neurons.")

