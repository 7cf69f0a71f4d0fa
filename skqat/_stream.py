"""Statistics that keep learning along a stream of ``partial_fit`` calls.

A time-ordered stream often starts with a quiet window (a night: a
constant target, counters near zero, or a block logged in other units)
that says nothing about the rest, so the input standardization and the
target scale are running moments, merged block by block (Chan et al.'s
pairwise update, weighted by ``sample_weight``). They forget: before a
block of ``n`` rows is merged, the weight of everything seen before it is
multiplied by ``0.5 ** (n / statistics_halflife)``, and a column whose
spread stays tenfold away from the running one for three blocks restarts
from the third (a first block in other units stops pinning the scale);
where every row must weigh the same (``statistics_halflife=None``) the
moments are those of every row seen, exactly.

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
# A block whose standard deviation differs from the running one by more than
# this factor is another regime; this many such blocks in a row restart the
# column's moments from the last of them.
_WILD_RATIO = 10.0
_RESTART_BLOCKS = 3


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
    wild_blocks : ndarray of int64, shape (n_columns,) or None
        How many blocks in a row, up to the last, had a standard deviation
        more than ``_WILD_RATIO`` times away from the running one (None:
        none yet).
    """

    weight: float
    mean: np.ndarray
    var: np.ndarray
    wild_blocks: np.ndarray = None

    @classmethod
    def of(cls, X, sample_weight):
        """The moments of one block (dense or sparse ``X``)."""
        w = sample_weight if sample_weight.sum() > 0 else np.ones_like(sample_weight)
        mean, var = input_statistics(X, w, raw_variance=True)
        return cls(weight=float(w.sum()), mean=mean, var=var)

    def updated(self, block, *, n_rows, halflife):
        """These moments followed by ``block``'s: the stream's moments after it.

        What came before fades first: its weight is halved every
        ``halflife`` rows of the block's ``n_rows``. Then the block merges,
        except in a column whose spread has differed from the running one by
        more than ``_WILD_RATIO`` times, either way, for ``_RESTART_BLOCKS``
        blocks in a row: that column restarts from the block. A regime (or a
        first block in other units) has ended, and merged, the squared
        distance between the two regimes would outweigh any fading for many
        half-lives. One such block alone may be a lull or a burst, and
        merges. A constant block never counts: an idle window's zeros are
        real values, and their span keeps the load to come from saturating.

        ``halflife=None`` asks for the exact moments of every row seen: no
        fading, no restart.
        """
        if halflife is None:
            return self.merged(block)
        faded = RunningMoments(weight=self.weight * 0.5 ** (n_rows / halflife), mean=self.mean,
                               var=self.var)
        new = faded.merged(block)
        varies = ~is_constant(block.mean, block.var) & ~is_constant(self.mean, self.var)
        ratio = block.scale() / self.scale()
        wild = varies & ((ratio > _WILD_RATIO) | (ratio < 1 / _WILD_RATIO))
        streak = 0 if self.wild_blocks is None else self.wild_blocks
        new.wild_blocks = np.where(wild, streak + 1, 0)
        restart = new.wild_blocks >= _RESTART_BLOCKS
        new.mean[restart], new.var[restart] = block.mean[restart], block.var[restart]
        new.wild_blocks[restart] = 0
        return new

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
    A target the model has only seen constant taught it nothing but a mean,
    which the running mean now holds: its rows keep their scale and its
    output predicts the running mean (no shift), instead of pinning the
    quiet window's value.

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
    shift = np.where(was_constant, 0.0, (old_mean - new_mean) / new_scale)
    return AffineChange(factor=factor, shift=shift)


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

    The moments seen before fade by ``est.statistics_halflife`` first. An
    estimator fitted before the moments were kept has none: its statistics
    stay fixed, as they then were.
    """
    old = getattr(est, "_input_moments", None)
    if old is None:
        return None
    new = old.updated(RunningMoments.of(X, sample_weight), n_rows=X.shape[0],
                      halflife=est.statistics_halflife)
    est._input_moments = new
    # A column is 0/1 while every row seen so far is: one other value ends it.
    est.binary_features_ = est.binary_features_ & binary_columns(X)
    change = input_change(old_mean=est.input_mean_, old_scale=est.input_scale_,
                          was_constant=is_constant(old.mean, old.var), new_mean=new.mean,
                          new_scale=new.scale(), clip=clip)
    if change is not None:
        est.input_mean_, est.input_scale_ = new.mean, new.scale()
    return change
