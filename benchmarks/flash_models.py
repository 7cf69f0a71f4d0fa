"""The models an edge engineer would flash instead, fitted and measured on a Cortex-M0.

Each family is fitted on a split of :mod:`benchmarks.tasks`, scored on its
test rows by the code that runs on the device (or, where noted, by the
library whose arithmetic that code reproduces), and measured by compiling and
linking its C (:mod:`benchmarks.mcu_flash`):

* ``nmp_flash``: NMP-QAT at a ``flash_budget``; ``uniform4``/``uniform8``:
  skqat's uniform 4- and 8-bit networks (8-bit activations). Both through the
  C export's integer entry (``<prefix>_predict_class_codes``: input codes in);
  scored by ``predict``, which the C computes bit for bit.
* ``tree``/``forest``: scikit-learn's ``DecisionTree*`` and ``RandomForest*``
  exported by emlearn with int16 inputs (each feature min-max scaled to int16
  on the training rows, as emlearn asks), the smaller of its two code styles
  (``inline``: each tree as nested ``if``s; ``loadable``: a node table and
  one loop), hard vote for classifiers as its C does; scored by emlearn's own
  compiled C.
* ``emlearn_mlp``: scikit-learn's float MLP exported by emlearn (float32, on
  inputs scaled to [-1, 1]); scored by emlearn's compiled C.
* ``lightgbm``: LightGBM compiled to C by TL2cgen (the DMLC project behind
  Treelite) with ``quantize=1``: every split is a compare-and-branch in the
  code, on the input's threshold index (a binary search over the model's
  float64 thresholds per feature), and the leaves add float64 constants, so
  the code grows with the nodes where LightGBM's own model stores about 9
  bytes each; scored by LightGBM, whose float64 sums the C repeats.
"""

import contextlib
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from .mcu_flash import measure_flash, skqat_flash

_INT16 = 32767


def int16_inputs(X_train, X):
    """``X`` min-max scaled to int16 on the training rows' range (emlearn's integer inputs)."""
    lo, hi = X_train.min(axis=0), X_train.max(axis=0)
    scale = 2 * _INT16 / np.where(hi > lo, hi - lo, 1.0)
    return np.clip(np.rint((X - lo) * scale - _INT16), -_INT16, _INT16).astype(np.int16)


def _skqat(split, seed, params, workdir):
    from skqat import NMPQATClassifier, NMPQATRegressor

    cls = NMPQATClassifier if split.kind == "classification" else NMPQATRegressor
    est = cls(random_state=seed, **params).fit(split.X_train, split.y_train)
    graph = est.to_integer()
    flash = skqat_flash(graph, workdir)
    report = graph.resource_report()
    return dict(score=est.score(split.X_test, split.y_test), linked=flash.linked,
                objects=flash.objects, ram=report.ram_bytes, ops=report.macs_per_row,
                helpers=len(flash.helpers), report_flash=report.flash_bytes,
                model_bytes=est.model_size_bytes_)


def _emlearn_flash(model, kind, n_features, workdir, returns):
    """The smaller flash of an emlearn model's code styles (a fresh convert per style)."""
    import emlearn

    best = None
    for method in ("inline", "loadable"):
        try:
            c = model(method)
        except (ValueError, NotImplementedError):  # a style this model does not support
            continue
        header = Path(workdir) / f"{method}.h"
        c.save(name="m", file=str(header))
        source = Path(workdir) / f"{method}.c"
        source.write_text(f'#include "{header.name}"\n')
        dtype = "float" if kind == "mlp" else "int16_t"
        flash = measure_flash(
            [source], call=f"m_predict(in, {n_features})",
            declarations=f"#include <stdint.h>\n{returns} m_predict(const {dtype} *, int32_t);\n"
                         f"{dtype} in[{n_features}];\n",
            baseline_call="in[0]", include_dirs=[workdir, emlearn.includedir])
        if best is None or flash.linked < best[0].linked:
            best = (flash, c)
    return best


def _tree(split, seed, params, workdir, forest):
    import emlearn
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    classify = split.kind == "classification"
    if forest:
        cls = RandomForestClassifier if classify else RandomForestRegressor
    else:
        cls = DecisionTreeClassifier if classify else DecisionTreeRegressor
    X_tr, X_te = (int16_inputs(split.X_train, X) for X in (split.X_train, split.X_test))
    est = cls(random_state=seed, **params).fit(X_tr, split.y_train)
    flash, c = _emlearn_flash(lambda m: emlearn.convert(est, method=m, dtype="int16_t"),
                              "tree", X_tr.shape[1], workdir,
                              "int32_t" if classify else "float")
    pred = c.predict(X_te.astype(np.float64))
    if classify:
        score = float(np.mean(est.classes_[np.asarray(pred, dtype=int)] == split.y_test))
    else:
        score = _r2(split.y_test, pred)
    trees = est.estimators_ if forest else [est]
    visited = sum(float(t.decision_path(X_te).sum()) / len(X_te) for t in trees)
    return dict(score=score, linked=flash.linked, objects=flash.objects, ram=2 * X_tr.shape[1],
                ops=int(round(visited)), helpers=len(flash.helpers))


def _r2(y, pred):
    y, pred = np.asarray(y, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    return float(1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))


def _emlearn_mlp(split, seed, params, workdir):
    import emlearn
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    classify = split.kind == "classification"
    X_tr, X_te = (int16_inputs(split.X_train, X) / _INT16 for X in (split.X_train, split.X_test))
    if classify:
        est = MLPClassifier(random_state=seed, **params).fit(X_tr, split.y_train)
        kw = {}
    else:
        mean, std = split.y_train.mean(), split.y_train.std()
        est = MLPRegressor(random_state=seed, **params).fit(X_tr, (split.y_train - mean) / std)
        kw = dict(return_type="regressor")
    flash, c = _emlearn_flash(lambda m: emlearn.convert(est, method=m, **kw), "mlp",
                              X_tr.shape[1], workdir, "int32_t" if classify else "float")
    pred = np.asarray(c.predict(X_te) if classify else c.regress(X_te) if hasattr(
        c, "regress") else c.predict(X_te))
    if classify:
        score = float(np.mean(est.classes_[pred.astype(int)] == split.y_test))
    else:
        score = _r2(split.y_test, pred * std + mean)
    macs = sum(w.size for w in est.coefs_)
    return dict(score=score, linked=flash.linked, objects=flash.objects,
                ram=4 * (X_tr.shape[1] + max(params["hidden_layer_sizes"])), ops=macs,
                helpers=len(flash.helpers))


def _lightgbm(split, seed, params, workdir):
    import lightgbm
    import tl2cgen
    import treelite

    classify = split.kind == "classification"
    cls = lightgbm.LGBMClassifier if classify else lightgbm.LGBMRegressor
    est = cls(random_state=seed, verbose=-1, n_jobs=1, **params).fit(split.X_train,
                                                                     split.y_train)
    out = Path(workdir) / "lgbm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tl2cgen.generate_c_code(treelite.frontend.from_lightgbm(est.booster_), str(out),
                                params={"quantize": 1})
    n_out = max(1, len(getattr(est, "classes_", [])) if classify else 1)
    n_out = 1 if n_out == 2 else n_out
    sources = sorted(out.glob("*.c"))
    flash = measure_flash(
        sources, call="(predict(in, 1, res), res[0] > 0.0)",
        declarations=f'#include "header.h"\nunion Entry in[{split.X_train.shape[1]}];\n'
                     f"double res[{n_out}];\n", baseline_call="in[0].missing",
        include_dirs=[out])
    n_nodes = sum(t["num_leaves"] - 1 for t in est.booster_.dump_model()["tree_info"])
    return dict(score=est.score(split.X_test, split.y_test), linked=flash.linked,
                objects=flash.objects, ram=8 * split.X_train.shape[1], ops=n_nodes,
                helpers=len(flash.helpers))


def fit_and_measure(family, split, seed, params):
    """Fit one configuration of ``family`` on ``split`` and measure it on a Cortex-M0.

    Returns
    -------
    dict
        ``score`` (accuracy or R2 on the test rows), ``linked`` and ``objects``
        (flash bytes, :class:`benchmarks.mcu_flash.Flash`), ``ram`` (bytes of
        input and stack buffers), ``ops`` (multiply-accumulates per row for
        networks, nodes visited or held for trees), ``helpers`` (C library
        float, double and 64-bit helpers linked), ``fit_seconds``.
    """
    start = time.perf_counter()
    # emlearn compiles its host-side C under ./tmp: each fit in a folder of its own.
    with tempfile.TemporaryDirectory() as workdir, contextlib.chdir(workdir), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if family in ("nmp_flash", "uniform4", "uniform8"):
            row = _skqat(split, seed, params, workdir)
        elif family in ("tree", "forest"):
            row = _tree(split, seed, params, workdir, forest=family == "forest")
        elif family == "emlearn_mlp":
            row = _emlearn_mlp(split, seed, params, workdir)
        elif family == "lightgbm":
            row = _lightgbm(split, seed, params, workdir)
        else:
            raise ValueError(f"unknown family {family!r}")
    row["fit_seconds"] = time.perf_counter() - start
    return row
