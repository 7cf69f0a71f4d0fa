"""The graph's dense layers as one float64 product each, requantization folded in.

Where a layer computes its integers exactly in float64 (its
:class:`~skqat.runtime._layer.LayerPlan` is ``in_float``), its requantization
``floor(acc * M 2**-k + (B M + 2**(k-1)) 2**-k)`` is one product: the scale
folds into the weights and the constant into one more weight row, which a
column of ones in the input multiplies. Each product, partial sum and total
is a multiple of ``2**-k`` below ``2**53 * 2**-k`` (the plan's bound), so BLAS
computes it without rounding, in any order. A layer whose requantization
needs int64 folds only its bias row: the accumulator is exact in float64 (its
bound is below ``2**48``), and the multiplier and shift then run in int64.

The codes run neuron by row (``(n_neurons, n_samples)``, the transpose of
the graph's rows), so that a group of neurons is one contiguous block. A
hidden layer appends the ones row the next layer reads (a ReLU clip leaves 1
at 1), and its neurons are grouped by activation bit-width, so that its clip
is one pass per group with scalar bounds rather than one with a bound per
neuron; the next layer's weight columns follow the same order. The clip
comes before the floor: the bounds are integers, so the codes are the same.
What leaves :meth:`FoldedLayers.forward` is the output layer's integers in
the graph's own order and layout, exactly what the plans compute one by one.
"""

from dataclasses import dataclass

import numpy as np

from . import _fixed_point as fp


@dataclass(frozen=True)
class FoldedLayer:
    """One dense layer as a single float64 product.

    Attributes
    ----------
    weights : ndarray of float64, shape (n_out [+ 1], n_in + 1)
        Columns in the previous layer's output order, then the constant
        column: ``W M 2**-k`` and ``(B M + 2**(k-1)) 2**-k`` (float
        requantization), or ``W`` and ``B`` (int64 requantization,
        ``multiplier`` set). A hidden layer in float has one more row, the
        next layer's ones.
    clip_groups : tuple of (int, int, float)
        ``(start, stop, qmax)``: output rows clipped to ``[0, qmax]`` (a
        hidden layer's codes); empty for the output layer.
    multiplier, shift : ndarray of int64 or None
        The int64 requantization's (in the output order), or None.
    """

    weights: np.ndarray
    clip_groups: tuple
    multiplier: np.ndarray | None = None
    shift: np.ndarray | None = None

    @property
    def needs_ones(self):
        """Whether the next layer's ones row must be appended to this one's codes."""
        return bool(self.clip_groups) and self.multiplier is not None


class FoldedLayers:
    """Every layer of a graph as one product (module docstring).

    Parameters
    ----------
    plans : list of LayerPlan
    """

    def __init__(self, plans):
        self.layers = []
        rows = None  # the previous layer's output order
        for plan in plans:
            hidden = plan.qmax is not None
            n_out = plan.weights.shape[1]
            order = np.argsort(plan.qmax, kind="stable") if hidden else np.arange(n_out)
            if plan.in_float:
                weights, const = plan.weights * plan.scale, plan.const  # W M 2**-k, exact
                multiplier = shift = None
            else:
                weights, const = plan.weights, plan.layer.bias.astype(np.float64)
                multiplier, shift = plan.layer.multiplier[order], plan.layer.shift[order]
            if rows is not None:
                weights = weights[rows]
            folded = np.hstack([weights[:, order].T, const[order, None]])
            groups = _runs(plan.qmax[order]) if hidden else ()
            if hidden and plan.in_float:  # the product yields the next layer's ones row
                ones = np.zeros((1, folded.shape[1]))
                ones[0, -1] = 1.0
                folded = np.vstack([folded, ones])
                start, _, top = groups[-1]
                groups = (*groups[:-1], (start, n_out + 1, top))  # qmax >= 1 keeps the 1
            self.layers.append(FoldedLayer(np.ascontiguousarray(folded), groups,
                                           multiplier, shift))
            rows = order

    def forward(self, codes):
        """Output integers (float64 or int64) for input codes (n_samples, n_features)."""
        return self.forward_input(_with_ones(codes.T))

    def input_buffer(self, n_samples):
        """The first layer's input for ``n_samples`` rows, its ones row set.

        Returns ``(h, codes)``: ``h`` of shape (n_features + 1, n_samples)
        for :meth:`forward_input`, and ``codes``, its first ``n_features``
        rows, where the input codes are written feature by feature.
        """
        h = np.empty((self.layers[0].weights.shape[1], n_samples))
        h[-1] = 1.0
        return h, h[:-1]

    def forward_input(self, h):
        """Output integers for a first-layer input ``h`` (see :meth:`input_buffer`)."""
        for layer in self.layers:
            h = layer.weights @ h
            if layer.multiplier is not None:
                h = fp.requantize(h.astype(np.int64), layer.multiplier[:, None],
                                  layer.shift[:, None])
            for start, stop, qmax in layer.clip_groups:
                block = h[start:stop]
                np.clip(block, 0, qmax if h.dtype.kind == "f" else int(qmax), out=block)
            if layer.multiplier is None:
                np.floor(h, out=h)
            if layer.needs_ones:
                h = _with_ones(h)
        return h.T


def _with_ones(codes):
    """``codes`` (n_neurons, n_samples) as float64, with a row of ones after them."""
    width, n = codes.shape
    h = np.empty((width + 1, n))
    h[:width] = codes
    h[width] = 1.0
    return h


def _runs(qmax):
    """Contiguous runs of equal ``qmax``, as ``(start, stop, qmax)``."""
    edges = [0, *(np.flatnonzero(np.diff(qmax)) + 1).tolist(), len(qmax)]
    return tuple((a, b, float(qmax[a])) for a, b in zip(edges[:-1], edges[1:]))
