"""The graph's dense layers as BLAS products, requantization folded in.

**Precision.** A neuron's *reach* ``R_j = sum_i |W_ji| X_i + |B_j|`` (``X_i``
the largest code of input ``i``; :class:`~skqat.runtime._layer.LayerPlan`)
bounds every partial sum of its accumulation, in any order, and never
exceeds the graph's bound ``A_j < 2**48``. A layer's product runs in float32
when every ``R_j`` of the layer is below ``2**24``, in float64 otherwise: each
partial sum is then an integer the precision holds exactly, so BLAS computes
the accumulators without rounding. float32 halves the memory every pass
reads and doubles BLAS's throughput.

**Folded neurons.** Where a neuron's requantization
``floor(acc * M 2**-k + (B M + 2**(k-1)) 2**-k)`` is exact in that precision
too (``R_j M_j + 2**k_j`` below ``2**24`` or ``2**53``,
:func:`~skqat.runtime._fixed_point.exact_in_float`), it is folded into the
product: the scale into the neuron's weights and the constant into one more
weight column, which a row of ones in the input multiplies. Each product,
partial sum and total is a multiple of ``2**-k`` below ``2**24 * 2**-k`` (or
``2**53 * 2**-k``), so the product gives its value unrounded.

**The other neurons** (the widest weights or the largest multipliers: few,
typically). In a float32 hidden layer they are folded into a second, float64
product beside the first (:class:`SideRows`), whose codes join the layer's;
it reads the layer's input in float64, so it is used where that costs less
than running the whole layer in float64 (:func:`fold_layer`). Elsewhere
(float64 layers, the output layer) they keep ``W`` and ``B``: the product
leaves their accumulators, which are requantized in int64 after it
(:class:`Requantization`). The output layer runs in float32 only after a
hidden layer that does (or on the input codes): converting its input of
hidden codes would cost more than its few neurons' product saves.

**Layout.** The codes run neuron by row (``(n_neurons, n_samples)``, the
transpose of the graph's rows), so that a group of neurons is one contiguous
block. A hidden layer's rows are its product's neurons grouped by activation
bit-width, then the ones row the next layer reads (one more weight row of
the product), then the side neurons; the next layer's weight columns follow
that order. The groups make the clip one pass per group with scalar bounds
rather than one with a bound per neuron. The clip comes before the floor:
the bounds are integers, so the codes are the same. Codes (at most 16 bits)
are exact in either precision, so a layer casts its input when the previous
one ran in the other.

What leaves :meth:`FoldedLayers.forward` is the output layer's integers in
the graph's own order and layout (float64, or int64 where some output neuron
is requantized in int64), exactly what the plans compute one by one.
"""

from dataclasses import dataclass

import numpy as np

from . import _fixed_point as fp


@dataclass(frozen=True)
class Requantization:
    """A layer's neurons whose product is the accumulator, requantized in int64 after it.

    Attributes
    ----------
    rows : ndarray of int64, shape (n,)
        Their rows in the layer's output order.
    multiplier, shift : ndarray of int64, shape (n, 1)
        Their requantization (see :func:`~skqat.runtime._fixed_point.requantize`).
    qmax : ndarray of int64, shape (n, 1), or None
        Their largest code (hidden layers), or None (the output layer).
    """

    rows: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    qmax: np.ndarray | None


@dataclass(frozen=True)
class SideRows:
    """A float32 hidden layer's neurons folded into a float64 product beside its own.

    Attributes
    ----------
    weights : ndarray of float64, shape (n, n_in + 1)
        Their folded weights and constants, columns as the layer's.
    qmax : ndarray of float64, shape (n, 1)
        Their largest code.
    """

    weights: np.ndarray
    qmax: np.ndarray


@dataclass(frozen=True)
class FoldedLayer:
    """One dense layer as one product (and, beside it, a small float64 one).

    Attributes
    ----------
    weights : ndarray of float32 or float64, shape (n_main [+ 1], n_in + 1)
        Columns in the previous layer's output order (the constant column
        where its ones row is): ``W M 2**-k`` and ``(B M + 2**(k-1)) 2**-k``
        for a folded neuron, ``W`` and ``B`` for one in ``requantization``. A
        hidden layer has one more row, the next layer's ones. Its dtype is
        the precision of the product.
    clip_groups : tuple of (int, int, float)
        ``(start, stop, qmax)``: the product's rows clipped to ``[0, qmax]``
        (a hidden layer's codes); empty for the output layer.
    requantization : Requantization or None
        The neurons the product leaves as accumulators.
    side : SideRows or None
        The neurons of a float32 hidden layer computed in float64; their
        rows follow the product's.
    """

    weights: np.ndarray
    clip_groups: tuple
    requantization: Requantization | None = None
    side: SideRows | None = None


def fold_layer(plan, columns, input_float32):
    """The :class:`FoldedLayer` of a :class:`~skqat.runtime._layer.LayerPlan`.

    Parameters
    ----------
    plan : LayerPlan
    columns : ndarray of int
        The previous layer's output order, as indices into the layer's inputs
        (``n_in``: the ones row, which multiplies the constant column).
    input_float32 : bool
        Whether the layer's input comes in float32 (the first layer's input
        codes are written in either precision).

    Returns
    -------
    (FoldedLayer, ndarray of int)
        The layer and its own output order (``n_out``: its ones row).
    """
    hidden, n_in, n_out = plan.qmax is not None, *plan.weights.shape
    folds32, folds64 = (_folds(plan, bits)
                        for bits in (fp.FLOAT32_EXACT_BITS, fp.FLOAT_EXACT_BITS))
    fits32 = int(plan.reach.max()) < 1 << fp.FLOAT32_EXACT_BITS
    side = ~folds32 & folds64 if hidden else np.zeros(n_out, dtype=bool)
    if hidden:
        # The side product reads the input again and writes its rows, in
        # float64; float32 saves half the bytes of every pass over the layer.
        # Measured on one thread and 4,096 rows, the side pays up to about a
        # third of the neurons (20 inputs, 100 neurons; fewer on wider inputs).
        in_float32 = (fits32 and folds64.all()
                      and n_in + 6 * np.count_nonzero(side) <= 3 * n_out)
    else:
        in_float32 = fits32 and input_float32
    if not in_float32:
        side[:] = False
    folds = folds32 | side if in_float32 else folds64
    matrix = _matrix(plan, folds, columns)
    main = np.flatnonzero(~side)
    if hidden:
        main = main[np.argsort(plan.qmax[main], kind="stable")]
    weights = matrix[main]
    groups = ()
    if hidden:  # the product yields the next layer's ones row
        ones = np.zeros((1, n_in + 1))
        ones[0, np.flatnonzero(columns == n_in)] = 1.0
        weights = np.vstack([weights, ones])
        groups = _runs(plan.qmax[main])
        start, _, top = groups[-1]
        groups = (*groups[:-1], (start, len(main) + 1, top))  # qmax >= 1 keeps the ones at 1
    requantization = None
    if not folds[main].all():
        at = np.flatnonzero(~folds[main])
        neuron = main[at]
        layer = plan.layer
        requantization = Requantization(
            at, layer.multiplier[neuron, None].astype(np.int64),
            layer.shift[neuron, None].astype(np.int64),
            plan.qmax[neuron, None].astype(np.int64) if hidden else None)
    side_rows = None
    if side.any():
        side_rows = SideRows(np.ascontiguousarray(matrix[side]), plan.qmax[side, None])
    dtype = np.float32 if in_float32 else np.float64
    order = np.concatenate([main, [n_out], np.flatnonzero(side)]) if hidden else main
    return FoldedLayer(np.ascontiguousarray(weights, dtype=dtype), groups, requantization,
                       side_rows), order


class FoldedLayers:
    """Every layer of a graph as its products (module docstring).

    Parameters
    ----------
    plans : list of LayerPlan
    """

    def __init__(self, plans):
        self.layers = []
        columns = np.arange(plans[0].weights.shape[0] + 1)  # the input codes, then the ones
        for plan in plans:
            layer, columns = fold_layer(plan, columns, input_float32=not self.layers
                                        or self.layers[-1].weights.dtype == np.float32)
            self.layers.append(layer)

    def forward(self, codes):
        """Output integers (float64 or int64) for input codes (n_samples, n_features)."""
        h, inputs = self.input_buffer(len(codes))
        inputs[:] = codes.T
        return self.forward_input(h)

    def input_buffer(self, n_samples):
        """The first layer's input for ``n_samples`` rows, its ones row set.

        Returns ``(h, codes)``: ``h`` of shape (n_features + 1, n_samples),
        in the first product's precision, for :meth:`forward_input`, and
        ``codes``, its first ``n_features`` rows, where the input codes are
        written feature by feature.
        """
        first = self.layers[0].weights
        h = np.empty((first.shape[1], n_samples), dtype=first.dtype)
        h[-1] = 1.0
        return h, h[:-1]

    def forward_input(self, h):
        """Output integers for a first-layer input ``h`` (see :meth:`input_buffer`)."""
        for layer in self.layers:
            h = _layer_forward(layer, h)
        return h.T.astype(np.float64, copy=False) if h.dtype == np.float32 else h.T


def _layer_forward(layer, h):
    """One layer's output rows (its codes, or the output integers) for its input ``h``."""
    weights, requantization, side = layer.weights, layer.requantization, layer.side
    x = h.astype(weights.dtype, copy=False)
    if side is None:
        out = weights @ x
        rows = out
    else:
        out = np.empty((len(weights) + len(side.weights), h.shape[1]), dtype=weights.dtype)
        rows = out[:len(weights)]
        np.matmul(weights, x, out=rows)
        out[len(weights):] = _side_codes(side, h)
    if not layer.clip_groups:  # the output layer
        np.floor(out, out=out)  # the accumulator rows are integers already
        if requantization is not None:
            out = out.astype(np.int64)
            out[requantization.rows] = fp.requantize(
                out[requantization.rows], requantization.multiplier, requantization.shift)
        return out
    if requantization is not None:
        rows[requantization.rows] = _requantized_codes(rows, requantization)
    for start, stop, qmax in layer.clip_groups:
        block = rows[start:stop]
        np.clip(block, 0, qmax, out=block)
    np.floor(rows, out=rows)
    return out


def _side_codes(side, h):
    """The codes of a layer's side neurons: their float64 product, clipped and floored."""
    codes = side.weights @ h.astype(np.float64, copy=False)
    np.minimum(codes, side.qmax, out=codes)
    np.maximum(codes, 0.0, out=codes)
    return np.floor(codes, out=codes)


def _requantized_codes(h, requantization):
    """The codes of a hidden layer's int64 neurons, from their accumulators in ``h``."""
    acc = h[requantization.rows].astype(np.int64)
    codes = fp.requantize(acc, requantization.multiplier, requantization.shift)
    return np.clip(codes, 0, requantization.qmax, out=codes)


def _matrix(plan, folds, columns):
    """``[W | B]`` of the plan's neurons, folded where ``folds``, columns in the input's order."""
    weights = plan.weights.T
    folded = np.where(folds[:, None], weights * plan.scale[:, None], weights)
    const = np.where(folds, plan.const, plan.layer.bias.astype(np.float64))
    return np.hstack([folded, const[:, None]])[:, columns]


def _folds(plan, significand_bits):
    """Per neuron, whether its requantization is exact in that precision."""
    return np.array([fp.exact_in_float(b, m, k, significand_bits=significand_bits)
                     for b, m, k in zip(plan.reach, plan.layer.multiplier, plan.layer.shift)],
                    dtype=bool)


def _runs(qmax):
    """Contiguous runs of equal ``qmax``, as ``(start, stop, qmax)``."""
    edges = [0, *(np.flatnonzero(np.diff(qmax)) + 1).tolist(), len(qmax)]
    return tuple((a, b, float(qmax[a])) for a, b in zip(edges[:-1], edges[1:]))
