"""A quantized network's training pass without the autograd engine.

The training step runs every batch through the same two functions
(``ste.py``) in the same order, and their backward passes are written out:
the engine only chains them and hands each parameter its gradient, and on a
small network its bookkeeping (a graph node per call, one per parameter)
costs as much as a layer. :func:`record_forward` runs the network with a
:class:`Tape`, on which each layer calls its function's ``forward``
directly and keeps what it saved; :meth:`Tape.backward` calls
their ``backward`` passes in reverse and sets the parameters' gradients.
The results are those of autograd, bit for bit (the same operations).
"""


class _Context:
    """What ``torch.autograd.Function`` hands its ``forward`` and ``backward``."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors


class Tape:
    """The functions a forward pass ran, their contexts and their inputs, in order.

    The pass is a chain: the first function reads data, each later one the
    output of the one before (a layer's input), and its other inputs that
    require a gradient are parameters (leaves).
    """

    def __init__(self):
        self._entries = []

    def run(self, function, inputs):
        """``function.forward`` on ``inputs``, recorded; returns its output."""
        needs = (bool(self._entries),
                 *(getattr(a, "requires_grad", False) for a in inputs[1:]))
        ctx = _Context(needs)
        self._entries.append((function, ctx, inputs))
        return function.forward(ctx, *inputs)

    def backward(self, grad_out):
        """Backward through every recorded function; sets the parameters' ``grad``.

        Run without a graph (under ``torch.no_grad``), once, after the
        gradients were set to None: every parameter is an input of one function.
        """
        grad = grad_out
        for function, ctx, inputs in reversed(self._entries):
            grads = function.backward(ctx, grad)
            grad = grads[0]
            for p, needs, g in zip(inputs[1:], ctx.needs_input_grad[1:], grads[1:]):
                if needs and g is not None:
                    p.grad = g
        self._entries.clear()


def record_forward(net, codes, in_step):
    """``net(codes, in_step)`` of a quantized :class:`QuantMLP`, and its :class:`Tape`.

    Run under ``torch.no_grad`` (as autograd runs a function's forward).
    """
    if not net.quantized:  # its plain torch layers would record nothing
        raise ValueError("record_forward runs a quantized network; a float one trains "
                         "through autograd.")
    tape = Tape()
    return net(codes, in_step, tape=tape), tape
