"""What the bits add to the training objective: their prices and the budget penalties.

:class:`BitCosts` holds the three budget controllers (mean weight bits, mean
activation bits, bytes), adds their penalties and the prices to the loss,
and says whether the hard network is within every budget.
"""

import torch

from .budget import BudgetMultiplier
from .host import host_constant
from .size import expected_bytes_gradients, field_bytes, hard_bytes, initial_field_bytes

# Relative change of the size multiplier per step (at 0.1 the living neurons
# of a tight budget swung widely from epoch to epoch).
_SIZE_RATE = 0.01


class BitCosts:
    """The budgets and prices of one training run.

    Parameters
    ----------
    net : QuantMLP
    settings : TrainSettings
    """

    def __init__(self, net, settings):
        self.net, self.s = net, settings
        self.weight = BudgetMultiplier(settings.bit_budget)
        self.activation = BudgetMultiplier(settings.activation_bit_budget)
        self.size = BudgetMultiplier(None if settings.size is None else settings.size.budget,
                                     rate=_SIZE_RATE)
        self.active = any(c.budget is not None for c in (self.weight, self.activation, self.size))
        # Budgeted bits pay no price: the best model within the cap is wanted.
        weights_capped = settings.bit_budget is not None or settings.size is not None
        self.weight_price = 0.0 if weights_capped else settings.bit_price
        self.activation_price = (0.0 if settings.activation_bit_budget is not None
                                 else settings.activation_bit_price)
        self.priced = self.weight_price > 0 or self.activation_price > 0
        self.max_w_bits = max(max(lin.candidates) for lin in net.linears)
        self.max_a_bits = max([max(a.candidates) for a in net.activations], default=1)
        self.fields = initial_field_bytes(net)
        self._hard = None  # the hard (mean weight bits, mean activation bits, bytes) last measured

    def add_gradients(self, data_loss):
        """Add the gradient of the bits' term of the objective to the strengths' gradients.

        The term is ``w_mult * E[mean weight bits] + a_mult * E[mean activation
        bits] + size_mult * E[bytes]`` (nothing when nothing is priced or
        binding). The price is relative to the data loss (a mean bit must cut
        the loss by ``bit_price`` of itself): the same value means the same
        trade-off whatever the loss's scale. The budget multipliers are in
        their own units (the controllers adapt them); the size penalty is
        relative to the budget. Its gradient is written out and added after
        the backward pass, as the L2 term's is: a few operations per layer
        instead of an autograd graph over every gate.

        Parameters
        ----------
        data_loss : torch.Tensor
            The batch's data loss, detached (0-d); read only when a price is set.
        """
        net, scaled = self.net, []
        w_on = self.weight_price > 0 or self.weight.value > 0
        a_on = bool(net.activations) and (self.activation_price > 0 or self.activation.value > 0)
        # The multipliers and the gates are a few numbers: on the host.
        loss = float(data_loss) if self.priced else 0.0
        if w_on or a_on:
            weight, activation = net.expected_bits_gradients()
            if w_on:
                w_mult = self.weight_price * loss + self.weight.value / self.max_w_bits
                scaled += [(lin.strength, g * w_mult) for lin, g in zip(net.linears, weight)]
            if a_on:
                a_mult = self.activation_price * loss + self.activation.value / self.max_a_bits
                scaled += [(act.strength, g * a_mult)
                           for act, g in zip(net.activations, activation)]
        if self.size.value > 0:
            mult = self.size.value / self.s.size.budget
            scaled += [(lin.strength, g * mult)
                       for lin, g in zip(net.linears, expected_bytes_gradients(net, self.fields))]
        total = {}
        for strength, grad in scaled:
            previous = total.get(strength)
            total[strength] = grad if previous is None else previous + grad
        grads, added = [], []
        for strength, grad in total.items():
            tensor = host_constant(grad, strength.dtype, strength.device)
            if strength.grad is None:
                strength.grad = tensor
            else:
                grads.append(strength.grad)
                added.append(tensor)
        if grads:  # one operation for every layer
            torch._foreach_add_(grads, added)

    def update(self, bits_moved=True):
        """Adapt the multipliers to the hard network after an optimizer step.

        ``bits_moved=False`` (the strengths did not step) reuses the hard
        values measured last: the controllers still follow every batch.
        """
        if not self.active:
            return
        if bits_moved or self._hard is None:
            self._hard = (*self.net.hard_mean_bits(),
                          self.hard_bytes() if self.s.size is not None else None)
        mean_w, mean_a, size = self._hard
        self.weight.update(mean_w)
        self.activation.update(mean_a)
        if size is not None:
            self.size.update(size)

    def calibrate(self):
        """Measure each layer's field bytes per neuron on the integer graph (once an epoch)."""
        if self.s.size is not None and self.net.quantized:
            self.fields = field_bytes(self.net, self.s.size)
            self._hard = None  # the bytes are estimated with the fields

    def hard_bytes(self):
        """Estimated size of the hard network, in bytes."""
        return hard_bytes(self.net, self.fields, self.s.size.fixed_bytes)

    def within(self, mean_w, mean_a):
        """Whether the hard network is within every budget (the size estimated)."""
        s = self.s
        return ((s.bit_budget is None or mean_w <= s.bit_budget + 1e-9)
                and (s.activation_bit_budget is None or mean_a <= s.activation_bit_budget + 1e-9)
                and (s.size is None or self.hard_bytes() <= s.size.budget))
