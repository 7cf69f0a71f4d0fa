"""Trees and boosted ensembles on the accuracy-per-byte splits, sized by a formula.

What an edge engineer would ship instead of a network, counted generously to
the trees: no code and no input scaling charged, and per node only

* a split: 1 byte of feature index, 2 bytes of int16 threshold and 2 bytes
  of child link;
* a leaf: 1 byte of class index (a classifier's tree, or each tree of a
  forest voting by class), or 2 bytes of value (a regressor's leaves, and
  every LightGBM leaf, which holds a raw score).

The inputs are int16: each feature min-max scaled on the training rows, as
emlearn takes them and as ``make bench-flash`` fits its trees, so that a
threshold is an int16. The decision trees (4 to 512 leaves) and forests (3
or 10 trees) are those of ``make bench-flash``; LightGBM gets a finer grid
(5 to 100 trees of 4, 8 or 16 leaves, learning rates 0.1 to 0.5), so that
every size has its best.
"""

import numpy as np

from .flash_models import int16_inputs
from .report import paired_difference

TREE_FAMILIES = ("tree", "forest", "lightgbm")
SPLIT_BYTES = 5  # feature index, int16 threshold, child link
CLASS_LEAF_BYTES, VALUE_LEAF_BYTES = 1, 2


def configs():
    """(family, name, parameters) of every tree configuration."""
    out = [("tree", f"leaves_{n}", dict(max_leaf_nodes=n))
           for n in (4, 8, 16, 32, 64, 128, 256, 512)]
    out += [("forest", f"trees_{t}_leaves_{n}", dict(n_estimators=t, max_leaf_nodes=n))
            for t in (3, 10) for n in (8, 32, 128)]
    # A small ensemble needs a larger learning rate than LightGBM's 0.1: on
    # California, 30 trees of 8 leaves score 0.70 at 0.1 and 0.78 at 0.3.
    out += [("lightgbm", f"lgbm_{t}x{n}_lr{lr}", dict(n_estimators=t, num_leaves=n,
                                                       learning_rate=lr))
            for t in (5, 10, 20, 30, 50, 100) for n in (4, 8, 16) for lr in (0.1, 0.2, 0.3, 0.5)]
    return out


def formula_bytes(n_splits, n_leaves, leaf_bytes):
    """Bytes of a model with ``n_splits`` splits and ``n_leaves`` leaves (module docstring)."""
    return SPLIT_BYTES * int(n_splits) + leaf_bytes * int(n_leaves)


def _sklearn_nodes(est):
    """(splits, leaves) of a scikit-learn tree or forest."""
    trees = [t.tree_ for t in getattr(est, "estimators_", [est])]
    leaves = sum(int((t.children_left == -1).sum()) for t in trees)
    return sum(t.node_count for t in trees) - leaves, leaves


def _lightgbm_nodes(est):
    """(splits, leaves) of a fitted LightGBM model: every tree, every class."""
    leaves = sum(t["num_leaves"] for t in est.booster_.dump_model()["tree_info"])
    n_trees = est.booster_.num_trees()
    return leaves - n_trees, leaves


def fit(family, split, seed, params):
    """Fit one tree configuration on ``split``; its test score, formula bytes and leaves."""
    classify = split.kind == "classification"
    X_train = int16_inputs(split.X_train, split.X_train)
    X_test = int16_inputs(split.X_train, split.X_test)
    if family == "lightgbm":
        import lightgbm

        cls = lightgbm.LGBMClassifier if classify else lightgbm.LGBMRegressor
        est = cls(random_state=seed, n_jobs=1, verbose=-1, **params).fit(X_train, split.y_train)
        splits, leaves = _lightgbm_nodes(est)
        leaf_bytes = VALUE_LEAF_BYTES
    else:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        if family == "forest":
            cls = RandomForestClassifier if classify else RandomForestRegressor
            est = cls(random_state=seed, n_jobs=1, **params)
        else:
            cls = DecisionTreeClassifier if classify else DecisionTreeRegressor
            est = cls(random_state=seed, **params)
        est.fit(X_train, split.y_train)
        splits, leaves = _sklearn_nodes(est)
        leaf_bytes = CLASS_LEAF_BYTES if classify else VALUE_LEAF_BYTES
    return dict(score=est.score(X_test, split.y_test),
                size_bytes=formula_bytes(splits, leaves, leaf_bytes), leaves=leaves)


def best_tree(front, task, size, families=TREE_FAMILIES):
    """The frontier row of the best tree family at ``size`` on ``task``, or None."""
    g = front[(front.task == task) & (front["size"] == size) & front.family.isin(families)]
    return None if g.empty else g.loc[g.score.idxmax()]


def tree_targets(front, runs, sizes, family="nmp_size"):
    """NMP-QAT against the trees: the best tree up to 2 KB, LightGBM above, bigger budgets.

    ``family`` is the NMP-QAT family fitted at each size budget (``nmp_size``:
    the defaults; ``nmp_cv``: the penalty chosen by cross-validation).
    """
    out = []
    for task in dict.fromkeys(front.task):
        for size in sizes:
            families = TREE_FAMILIES if size <= 2048 else ("lightgbm",)
            other = best_tree(front, task, size, families)
            nmp = front[(front.task == task) & (front["size"] == size)
                        & (front.family == family)]
            if other is None or nmp.empty:
                continue
            mean, std, n = paired_difference(runs, task, nmp.iloc[0].config, other.config)
            rival = "tree" if size <= 2048 else "LightGBM"
            out.append(dict(task=task, size=size, family=family,
                            target=f"at or above the best {rival}",
                            nmp=nmp.iloc[0].score, other=other.score, other_config=other.config,
                            paired_difference=mean, paired_std=std, pairs=n,
                            met="yes" if mean >= 0 else "no"))
        sized = runs[(runs.task == task) & (runs.family == family)]
        means = sized.groupby("budget").score.mean().sort_index()
        drops = -np.diff(means.to_numpy())
        worst = float(drops.max()) if len(drops) else 0.0
        out.append(dict(task=task, size=int(means.index.max()), family=family,
                        target="a larger size budget never below a smaller one",
                        nmp=means.iloc[-1], other=means.max(), other_config="best budget",
                        paired_difference=min(-worst, 0.0) + 0.0, paired_std=np.nan,
                        pairs=len(means), met="yes" if worst <= 0 else "no"))
    return out
