"""Statistics that keep learning along a stream of ``partial_fit`` calls.

The first call of a stream used to fix the input standardization and the
target scale. A time-ordered stream often starts with a quiet window (a
night: a constant target, counters near zero) that says nothing about the
rest, so here they are running moments of every row seen so far, merged
block by block (Chan et al.'s pairwise update, weighted by
``sample_weight``).

When they move, the layers next to them are rescaled so that the network's
function is preserved (Pop-Art, van Hasselt et al. 2016, does this for a
target's scale):

* the target: the output layer is rescaled exactly (old and new outputs
  are the same affine function of the last hidden layer);
* the inputs: the quantized network clips every standardized input at
  ``+-clip`` standard deviations. Where a column's statistics move a
  little, preserving its contribution exactly is possible and is done.
  Where they move by orders of magnitude (a counter that was near zero),
  the old model's dependence on the column is a step below the resolution
  of the new input codes; no linear weight reproduces it, and the exact
  rescaling would multiply the weight by the ratio of the scales and ruin
  the row's quantization step. So the new weight and bias are the
  least-squares best match of the old clipped contribution over the
  distribution the new statistics describe (a normal one): exactly the
  Pop-Art rescaling when the change is small, a weight that fades to 0
  (the constant it contributed moving into the bias) when the old range
  covers none of the new one. A column that was constant contributed
  nothing and learned nothing: its weights are kept as they are.
"""

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from ._inputs import binary_columns, input_statistics, is_constant, scale_of

# Changes below this (relative) leave the statistics as they are: repeated
# blocks of the same rows then change nothing, and partial_fit over the same
# data stays fit, epoch by epoch.
_CHANGE_TOL = 1e-9


@dataclass
class RunningMoments:
    """Weighted running mean and variance of columns, merged block by block.

    Attributes
    ----------
    weight : float
        Total sample weight seen (a row of weight 1 counts 1).
    mean : ndarray of float64, shape (n_columns,)
        In the columns' units.
    var : ndarray of float64, shape (n_columns,)
        Population variance, in squared units.
    """

    weight: float
    mean: np.ndarray
    var: np.ndarray

    @classmethod
    def of(cls, X, sample_weight):
        """The moments of one block (dense or sparse ``X``)."""
        w = sample_weight if sample_weight.sum() > 0 else np.ones_like(sample_weight)
        mean, var = input_statistics(X, w, raw_variance=True)
        return cls(weight=float(w.sum()), mean=mean, var=var)

    def merged(self, other):
        """The moments of both blocks together (Chan et al.)."""
        total = self.weight + other.weight
        share = other.weight / total
        delta = other.mean - self.mean
        mean = self.mean + delta * share
        var = (self.var * self.weight + other.var * other.weight
               + delta**2 * self.weight * share) / total
        return RunningMoments(weight=total, mean=mean, var=np.maximum(var, 0.0))

    def scale(self):
        """Standard deviations, 1 for a constant column (as ``input_statistics``)."""
        return scale_of(self.mean, self.var)


@dataclass(frozen=True)
class AffineChange:
    """How one layer's side moves when its statistics move.

    For the inputs, the first layer's weights ``W`` (n_out, n_in) become
    ``W * factor`` and its bias ``b`` becomes ``b + W @ shift``. For the
    targets, the output layer's rows are multiplied by ``factor`` and
    ``shift`` is added to its bias. Both are in standardized units
    (dimensionless).

    Attributes
    ----------
    factor : ndarray of float64
    shift : ndarray of float64
    """

    factor: np.ndarray
    shift: np.ndarray


def _moved(old_mean, old_scale, new_mean, new_scale):
    return (np.any(np.abs(new_scale / old_scale - 1.0) > _CHANGE_TOL)
            or np.any(np.abs(new_mean - old_mean) > _CHANGE_TOL * old_scale))


def _normal_pdf(x):
    return np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)


def input_change(*, old_mean, old_scale, was_constant, new_mean, new_scale, clip):
    """The first layer's :class:`AffineChange` when the input statistics move.

    The old layer sees ``u = clip((x - old_mean) / old_scale, -clip, clip)``;
    in new units ``z = (x - new_mean) / new_scale``, ``u = clip(r z + d)``
    with ``r = new_scale / old_scale`` and ``d = (new_mean - old_mean) /
    old_scale``. Over ``z ~ N(0, 1)`` the least-squares line through it has
    slope ``r P(|r z + d| < clip)`` (Stein's lemma) and intercept
    ``E[clip(r z + d)]``: exactly ``r`` and ``d`` when the clip is never
    reached.

    Parameters
    ----------
    old_mean, old_scale, new_mean, new_scale : ndarray of float64, shape (n_features,)
        The statistics before and after the block, in the inputs' units.
    was_constant : ndarray of bool, shape (n_features,)
        Columns the model has only seen constant.
    clip : float
        Where standardized inputs saturate, in standard deviations (``inf``
        for the float network, which does not clip: then exactly Pop-Art).

    Returns
    -------
    AffineChange or None
        None when nothing moved (beyond a relative ``1e-9``).
    """
    if not _moved(old_mean, old_scale, new_mean, new_scale):
        return None
    r = new_scale / old_scale
    d = (new_mean - old_mean) / old_scale
    if np.isinf(clip):
        factor, shift = r.copy(), d.copy()
    else:
        lo, hi = (-clip - d) / r, (clip - d) / r  # where r z + d reaches the clip
        inside = ndtr(hi) - ndtr(lo)
        mean_inside = d * inside + r * (_normal_pdf(lo) - _normal_pdf(hi))
        factor = r * inside
        shift = mean_inside + clip * (ndtr(-hi) - ndtr(lo))
    # A column the model saw constant taught it nothing: its weights stay.
    factor[was_constant], shift[was_constant] = 1.0, 0.0
    return AffineChange(factor=factor, shift=shift)


def target_change(*, old_mean, old_scale, was_constant, new_mean, new_scale):
    """The output layer's :class:`AffineChange` when the target statistics move (Pop-Art).

    The prediction ``out * old_scale + old_mean`` is kept: the new outputs
    are ``out * old_scale / new_scale + (old_mean - new_mean) / new_scale``.
    A target that was constant taught the rows nothing but its mean: they
    keep their scale, and the bias keeps the mean.

    Parameters
    ----------
    old_mean, old_scale, new_mean, new_scale : ndarray of float64, shape (n_outputs,)
        The target statistics before and after the block, in the target's units.
    was_constant : ndarray of bool, shape (n_outputs,)

    Returns
    -------
    AffineChange or None
    """
    if not _moved(old_mean, old_scale, new_mean, new_scale):
        return None
    factor = np.where(was_constant, 1.0, old_scale / new_scale)
    return AffineChange(factor=factor, shift=(old_mean - new_mean) / new_scale)


def warn_constant_first_block(*, constant_columns, constant_target=False):
    """The warning of a stream's first block that says little about the rest."""
    what = []
    if constant_target:
        what.append("a constant target")
    if constant_columns.size:
        cols = constant_columns[:10].tolist()
        more = "" if constant_columns.size <= 10 else f" and {constant_columns.size - 10} more"
        what.append(f"constant feature(s) {cols}{more}")
    if what:
        warnings.warn(
            f"The first partial_fit block has {' and '.join(what)}: its statistics are "
            "provisional. They keep learning from the next blocks (the layers next to them "
            "are rescaled so that the model's function is preserved).", UserWarning)


def start_input_statistics(est, X, sample_weight, *, stream):
    """The first call's input statistics: running moments, mean and scale on ``est``.

    ``stream`` (a first ``partial_fit`` call) warns about constant columns:
    the next blocks will move their statistics.
    """
    moments = RunningMoments.of(X, sample_weight)
    est._input_moments = moments
    est.input_mean_, est.input_scale_ = moments.mean, moments.scale()
    est.binary_features_ = binary_columns(X)
    if stream:
        return np.flatnonzero(is_constant(moments.mean, moments.var))
    return np.array([], dtype=np.int64)


def update_input_statistics(est, X, sample_weight, *, clip):
    """Merge a block into ``est``'s input moments; the first layer's change (or None).

    An estimator fitted before the moments were kept has none: its
    statistics stay fixed, as they then were.
    """
    old = getattr(est, "_input_moments", None)
    if old is None:
        return None
    new = old.merged(RunningMoments.of(X, sample_weight))
    est._input_moments = new
    # A column is 0/1 while every row seen so far is: one other value ends it.
    est.binary_features_ = est.binary_features_ & binary_columns(X)
    change = input_change(old_mean=est.input_mean_, old_scale=est.input_scale_,
                          was_constant=is_constant(old.mean, old.var), new_mean=new.mean,
                          new_scale=new.scale(), clip=clip)
    if change is not None:
        est.input_mean_, est.input_scale_ = new.mean, new.scale()
    return change
