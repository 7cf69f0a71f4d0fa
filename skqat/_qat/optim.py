"""Adam's fused update without ``torch.optim``'s wrappers.

``torch.optim.Adam(fused=True)`` updates a parameter group in one kernel,
but each ``step()`` first runs its Python wrapper (hooks, profiling records,
grouping by device and dtype, lazy state checks): about 0.1 ms on the 2-core
machine, a twentieth of a training step on a small table; and its
constructor imports torch's compiler stack on first use (about 1.7 s, once in
every process: a user's first fit, every ``GridSearchCV`` worker).
:class:`AdamGroups` holds the same parameter groups and state as
``torch.optim.Adam`` (``param_groups``, ``state``), and :func:`adam_step`
runs the same kernel on them, bit for bit; the strengths, which step on the
mean gradient of several batches, take Adam's step with one batch's noise
(:func:`mean_gradient_adam_`). The training loop uses no AMSGrad and no
gradient scaling, on parameters of one device and dtype: the only case it
handles.

:func:`build_adam` builds the groups and their rates; :class:`OptimizerState`
is the state as numpy, between ``partial_fit`` calls.
"""

from dataclasses import dataclass, field

import numpy as np
import torch


# torch's Adam defaults, which every group but the strengths' keeps.
_ADAM_BETAS = (0.9, 0.999)
# Activation steps that start below this value learn at a rate relative to it.
_STEP_RELATIVE_FROM = 0.25


def build_adam(net, *, learning_rate, strength_learning_rate, learn_bits, step_rate=1.0,
               strength_every=1):
    """The Adam of ``net``: weights and biases, strengths, activation steps.

    Parameters
    ----------
    net : QuantMLP
    learning_rate : float
        Of the weights, biases and (scaled) activation steps.
    strength_learning_rate : float
        Of the precision strengths, which learn only with ``learn_bits``
        (otherwise they compute no gradient).
    learn_bits : bool
    step_rate : float, default=1.0
        The activation steps' rate relative to the weights' (a stream's is lower).
    strength_every : int, default=1
        The strengths step on one batch in this many, on the mean gradient
        of those batches: their rate is multiplied by it, Adam's decay rates
        raised to its power (per batch, the drift and the memory of a step on
        every batch), and the noise in their second moment scaled back to one
        batch's (see :func:`adam_step`).

    Returns
    -------
    AdamGroups
        Its groups carry a ``kind``: "weights" (with the activation steps when
        they learn at the weights' rate), "strengths" or "activation_steps".
    """
    strengths = net.weight_strengths() + net.activation_strengths()
    steps = [act.step for act in net.activations] if net.quantized else []
    ids = {id(p) for p in strengths + steps}
    others = [p for p in net.parameters() if id(p) not in ids]
    groups = [{"params": others, "lr": learning_rate, "kind": "weights"}]
    for p in strengths:
        p.requires_grad_(learn_bits)
    if learn_bits:
        beta1, beta2 = _ADAM_BETAS
        groups.append({"params": strengths, "lr": strength_learning_rate * strength_every,
                       "betas": (beta1 ** strength_every, beta2 ** strength_every),
                       "batches_per_step": strength_every, "kind": "strengths"})
    if steps:
        # Adam moves a parameter by about its learning rate per step whatever
        # its size: right for the steps the default candidates start from
        # (4 / 15), but one that starts at 4 / 255 (8-bit activations only)
        # would random-walk to its floor in a few dozen steps. Steps that
        # start below _STEP_RELATIVE_FROM learn at a rate in proportion.
        start = min(act.initial_step for act in net.activations)
        rate = learning_rate * step_rate * min(1.0, start / _STEP_RELATIVE_FROM)
        if rate == learning_rate:  # one group, one kernel call fewer per step
            groups[0]["params"] = others + steps
        else:
            groups.append({"params": steps, "kind": "activation_steps", "lr": rate})
    # The fused kernel updates every group's parameters in one call each.
    return AdamGroups(groups)


class AdamGroups:
    """Adam's parameter groups and per-parameter state, laid out as ``torch.optim.Adam``'s.

    Parameters
    ----------
    groups : list of dict
        Each with ``params`` and ``lr``, and optionally ``betas`` (default
        (0.9, 0.999)), ``eps`` (1e-8), ``weight_decay`` (0) and any other key.
    """

    def __init__(self, groups):
        self.param_groups = [{"betas": _ADAM_BETAS, "eps": 1e-8, "weight_decay": 0.0, **g,
                              "params": list(g["params"])} for g in groups]
        self.state = {}


def adam_step(opt):
    """One Adam step of ``opt`` (:class:`AdamGroups`, or a ``torch.optim.Adam``).

    Bit for bit what ``torch.optim.Adam(fused=True).step()`` computes;
    parameters without a gradient are left as they are, their state untouched.
    A group with ``batches_per_step`` k > 1 (the strengths, whose gradient is
    the mean of k batches' gradients) divides by a second moment whose
    noise is scaled back to one batch's (:func:`mean_gradient_adam_`).

    Parameters
    ----------
    opt : AdamGroups or torch.optim.Adam
    """
    for group in opt.param_groups:
        params = [p for p in group["params"] if p.grad is not None]
        if not params:
            continue
        states = []
        for p in params:
            state = opt.state.setdefault(p, {})
            if not state:  # as Adam's lazy initialization for the fused kernel
                state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            states.append(state)
        steps = [s["step"] for s in states]
        torch._foreach_add_(steps, 1)
        if group.get("batches_per_step", 1) > 1:
            mean_gradient_adam_(params, states, group)
            continue
        beta1, beta2 = group["betas"]
        torch._fused_adam_(params, [p.grad for p in params], [s["exp_avg"] for s in states],
                           [s["exp_avg_sq"] for s in states], [], steps, amsgrad=False,
                           lr=group["lr"], beta1=beta1, beta2=beta2,
                           weight_decay=group["weight_decay"], eps=group["eps"],
                           maximize=False, grad_scale=None, found_inf=None)


def mean_gradient_adam_(params, states, group):
    """Adam's step on gradients that are each the mean of k batches' gradients.

    Adam divides a step by the root of its second moment. A mean of k
    batches holds 1/k of one batch's gradient noise, so where the noise
    outweighs the mean gradient (a strength near where it settles, through
    most of a long fit) Adam on the means would move a parameter up to
    sqrt(k) times as far per batch as a step on every batch does (in long
    fits at tight budgets, a point of accuracy: the benchmarks page, training
    step cost). The second moment is rebuilt as one batch's: the means' plus
    k - 1 times their noise, measured as half the squared difference of two
    consecutive means (``grad_noise``, averaged at Adam's second decay rate),
    which a gradient that moves slowly between two steps does not inflate.
    Where the gradient is all signal the step is Adam's.

    Parameters
    ----------
    params : list of torch.Tensor
        The group's parameters that have a gradient (updated in place).
    states : list of dict
        Their Adam states: ``step`` (this step included), ``exp_avg`` and
        ``exp_avg_sq`` as Adam's, ``previous_grad`` and ``grad_noise``
        (created here on a first step); all updated in place.
    group : dict
        ``lr``, ``betas``, ``eps`` and ``batches_per_step`` (k).
    """
    k = group["batches_per_step"]
    beta1, beta2 = group["betas"]
    grads = [p.grad for p in params]
    t = torch.stack([s["step"] for s in states]).tolist()  # one read, not one per tensor
    with torch.no_grad():
        m, v = [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states]
        torch._foreach_lerp_(m, grads, 1 - beta1)
        torch._foreach_mul_(v, beta2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - beta2)
        for s, g in zip(states, grads):  # a first step has no difference yet
            if "grad_noise" not in s:
                s["grad_noise"], s["previous_grad"] = torch.zeros_like(g), g.clone()
        noise, previous = [s["grad_noise"] for s in states], [s["previous_grad"] for s in states]
        diff = torch._foreach_sub(grads, previous)
        torch._foreach_mul_(noise, beta2)
        torch._foreach_addcmul_(noise, diff, diff, value=(1 - beta2) / 2)
        torch._foreach_copy_(previous, grads)
        # Bias-corrected, as Adam's: the noise has one update fewer than v.
        second = torch._foreach_div(v, [1 - beta2 ** n for n in t])
        noise_hat = torch._foreach_div(noise, [1 - beta2 ** max(n - 1, 1) for n in t])
        torch._foreach_add_(second, noise_hat, alpha=k - 1)
        torch._foreach_sqrt_(second)
        torch._foreach_add_(second, group["eps"])
        torch._foreach_addcdiv_(params, m, second, [-group["lr"] / (1 - beta1 ** n) for n in t])


@dataclass
class OptimizerState:
    """What ``partial_fit`` needs to continue a training where it stopped, as numpy.

    Attributes
    ----------
    exp_avg, exp_avg_sq : list of (ndarray or None)
        Adam's first and second moments, one entry per network parameter (in
        ``net.parameters()`` order); None for a parameter Adam has not updated.
    steps : list of int
        Adam's step count per parameter (0 where the moments are None).
    weight_multiplier, activation_multiplier, size_multiplier : float
        Values of the three budget multipliers (dimensionless).
    generator_state : ndarray of uint8
        State of the torch generator that shuffles the batches.
    size_multiplier : float
    gradient_sums : list of (ndarray or None)
        Per dense layer, the weight gradients summed since the strengths last
        learned (None: nothing summed); the strengths' next step weighs their
        mean (see ``training.py``).
    gradient_counts : list of int
        How many batches each sum holds.
    grad_noise, previous_grad : list of (ndarray or None)
        Per parameter, what the strengths' step keeps beside Adam's moments
        (:func:`mean_gradient_adam_`): the noise of their mean gradients and
        the last of these; None for the other parameters.
    """

    exp_avg: list
    exp_avg_sq: list
    steps: list
    weight_multiplier: float
    activation_multiplier: float
    generator_state: np.ndarray
    size_multiplier: float = 0.0
    gradient_sums: list = field(default_factory=list)
    gradient_counts: list = field(default_factory=list)
    grad_noise: list = field(default_factory=list)
    previous_grad: list = field(default_factory=list)


def adam_moments(opt, params):
    """Adam's moments and step counts of ``params`` as numpy: :class:`OptimizerState`'s fields.

    Returns
    -------
    dict
        ``exp_avg``, ``exp_avg_sq``, ``steps``, ``grad_noise`` and
        ``previous_grad``, one entry per parameter.
    """
    out = {key: [] for key in ("exp_avg", "exp_avg_sq", "steps", "grad_noise", "previous_grad")}
    for p in params:
        st = opt.state.get(p, {})
        for key in ("exp_avg", "exp_avg_sq", "grad_noise", "previous_grad"):
            out[key].append(st[key].detach().cpu().numpy().copy() if key in st else None)
        out["steps"].append(int(st["step"]) if "exp_avg" in st else 0)
    return out


def restore_adam(opt, params, state):
    """Put an :class:`OptimizerState`'s moments back into ``opt`` (the inverse)."""
    n = len(state.steps)
    noise = getattr(state, "grad_noise", None) or [None] * n  # states pickled without them
    previous = getattr(state, "previous_grad", None) or [None] * n
    for p, m, v, step, g2, g in zip(params, state.exp_avg, state.exp_avg_sq, state.steps,
                                    noise, previous):
        if m is None or not p.requires_grad:
            continue
        opt.state[p] = {
            "step": torch.tensor(float(step), dtype=torch.float32, device=p.device),
            "exp_avg": torch.as_tensor(m, device=p.device).clone(),
            "exp_avg_sq": torch.as_tensor(v, device=p.device).clone(),
        }
        if g2 is not None and g is not None:
            opt.state[p]["grad_noise"] = torch.as_tensor(g2, device=p.device).clone()
            opt.state[p]["previous_grad"] = torch.as_tensor(g, device=p.device).clone()
