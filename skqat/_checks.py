"""Checks of the estimators' parameters that the parameter constraints cannot express."""

from numbers import Integral

import numpy as np

from .runtime._layer import MAX_FAN_IN


def check_candidates(name, values, low):
    try:
        arr = np.asarray(values)
        ok = arr.ndim == 1 and arr.size > 0 and np.all(arr == np.round(arr))
    except (TypeError, ValueError):
        ok = False
    if not ok or arr.min() < low or arr.max() > 16 or len(set(arr.tolist())) != arr.size:
        raise ValueError(
            f"{name} must be a non-empty sequence of distinct integers between {low} and 16 "
            f"(candidate bit-widths), got {values!r}."
        )
    return tuple(sorted(int(v) for v in arr))


def check_budget(name, budget, candidates, candidates_name):
    if budget is not None and budget < candidates[0]:
        raise ValueError(
            f"{name}={budget} is below the smallest candidate bit-width "
            f"{candidates_name}[0]={candidates[0]}: no network can meet it. Raise {name} "
            f"to at least {candidates[0]}, add a smaller bit-width to {candidates_name}, "
            f"or set {name}=None for no budget."
        )


def check_budgets(*, quantize, bit_budget, activation_bit_budget, weight_candidates,
                  activation_candidates, size_budget=None, flash_budget=None):
    """The budgets against the candidates; a float network (``quantize=False``) has none."""
    if not quantize and (bit_budget is not None or activation_bit_budget is not None
                         or size_budget is not None or flash_budget is not None):
        raise ValueError(
            "quantize=False trains the float reference network, which has no bit, size or "
            "flash budget: set bit_budget=None, activation_bit_budget=None, size_budget=None "
            "and flash_budget=None with it (or choose its hidden_layer_sizes for the size "
            "you need)."
        )
    if size_budget is not None and flash_budget is not None:
        raise ValueError(
            f"size_budget={size_budget:g} and flash_budget={flash_budget:g} are both set: "
            "choose one. size_budget caps the model's bytes (the model file, the numpy "
            "runtime); flash_budget caps the linked flash of the C export's integer entry on "
            "a Cortex-M0 (its code included).")
    check_budget("bit_budget", bit_budget, weight_candidates, "weight_bits")
    check_budget("activation_bit_budget", activation_bit_budget, activation_candidates,
                 "activation_bits")


def check_weight_candidates(values):
    """Candidate weight bit-widths: 0 (pruning) is allowed beside at least one other."""
    candidates = check_candidates("weight_bits", values, 0)
    if candidates[-1] == 0:
        raise ValueError("weight_bits=(0,) prunes every neuron: 0 bits needs at least one "
                         "other candidate, for example weight_bits=(0, 1, 2, 4, 8).")
    return candidates


def check_reachable_bit_budget(bit_budget, candidates, layer_sizes):
    """The weight budget against the smallest network: every neuron at its lowest bits.

    With a 0-bit candidate the hidden neurons can be pruned, but the output
    layer keeps its lowest non-zero bit-width.
    """
    if bit_budget is None or candidates[0] > 0:
        return
    n_weights = [a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])]
    lowest = n_weights[-1] * candidates[1] / sum(n_weights)
    if bit_budget < lowest:
        raise ValueError(
            f"bit_budget={bit_budget} is below {lowest:.4g}, the mean weight bits of this "
            f"network with every hidden neuron pruned and the output layer at "
            f"{candidates[1]} bits: no network of these layer sizes can meet it. Raise "
            "bit_budget, or widen hidden_layer_sizes."
        )


def check_hidden_layer_sizes(hidden_layer_sizes):
    """The hidden layer sizes as a list of positive ints (an int is one layer)."""
    hidden = ([hidden_layer_sizes] if isinstance(hidden_layer_sizes, Integral)
              else list(hidden_layer_sizes))
    if any(not isinstance(h, Integral) or h < 1 for h in hidden):
        raise ValueError(
            f"hidden_layer_sizes must contain positive integers, got {hidden_layer_sizes!r}."
        )
    return [int(h) for h in hidden]


def check_fan_in(fan_ins, *, quantize):
    """Every neuron's fan-in within the integer graph's limit, checked before training.

    ``fan_ins`` is ``[n_features, *hidden_layer_sizes]``.
    """
    if not quantize or max(fan_ins) <= MAX_FAN_IN:
        return
    if fan_ins[0] > MAX_FAN_IN:
        raise ValueError(
            f"X has {fan_ins[0]:,} features, but a neuron of the integer graph takes at "
            f"most {MAX_FAN_IN:,} inputs (its accumulator must not overflow). Reduce the "
            "features before this estimator: fewer hashed features (FeatureHasher or "
            "HashingVectorizer with a smaller n_features), a SelectKBest, or a TruncatedSVD "
            "in the pipeline.")
    raise ValueError(
        f"hidden_layer_sizes has a layer of {max(fan_ins):,} neurons, but a neuron of the next "
        f"layer takes at most {MAX_FAN_IN:,} inputs. Use narrower hidden layers.")


def check_warm_start_shapes(fitted, requested):
    """``warm_start`` continues a network only with the same layer sizes."""
    if fitted != requested:
        raise ValueError(
            f"warm_start=True continues the fitted network of layer sizes {fitted}, "
            f"but the parameters now ask for {requested}. Refit with warm_start=False."
        )
