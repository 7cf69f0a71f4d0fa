"""The benchmark's rows: one estimator factory per method, same network and training budget.

scikit-learn's MLP runs behind a ``StandardScaler``, and its regressor on a
standardized target: the NMP-QAT estimators do both inside.

Every method trains ``hidden`` for exactly ``epochs`` epochs (``tol=0`` and
``n_iter_no_change=epochs`` turn the convergence stop off), batch size 200,
Adam at scikit-learn's default learning rate.
"""

from sklearn.compose import TransformedTargetRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skqat import NMPQATClassifier, NMPQATRegressor

NMP_BUDGETS = (1.0, 1.5, 2.0, 3.0, 4.0, None)
ACTIVATION_BUDGETS = (8.0, None)
UNIFORM_BITS = (1, 2, 4, 8)


def _label(budget):
    return "none" if budget is None else f"{budget:g}"


def method_table():
    """Ordered ``{name: (family, skqat keyword arguments or None)}`` of every row.

    The family groups rows into one line of the frontier plot.
    """
    rows = {"sklearn_mlp": ("sklearn MLP", None), "skqat_float": ("skqat float", {"quantize": False})}
    for b in UNIFORM_BITS:
        rows[f"uniform_w{b}"] = ("uniform QAT", {"weight_bits": (b,), "activation_bits": (8,)})
    rows["layer_b2_a8"] = ("layer-level", {"granularity": "layer", "bit_budget": 2.0,
                                           "activation_bit_budget": 8.0})
    for a in ACTIVATION_BUDGETS:
        for b in NMP_BUDGETS:
            rows[f"nmp_b{_label(b)}_a{_label(a)}"] = (
                f"NMP-QAT (act. budget {_label(a)})",
                {"bit_budget": b, "activation_bit_budget": a})
    return rows


def make_estimator(method, kind, hidden, epochs, seed):
    """A fresh estimator of ``method`` for a ``kind`` task."""
    family, params = method_table()[method]
    common = dict(hidden_layer_sizes=tuple(hidden), max_iter=epochs, tol=0.0,
                  n_iter_no_change=epochs, random_state=seed)
    if params is None:
        # skqat standardizes its inputs (and regression targets) itself;
        # scikit-learn's MLP gets the same from scalers around it.
        if kind == "classification":
            return make_pipeline(StandardScaler(), MLPClassifier(**common))
        return TransformedTargetRegressor(make_pipeline(StandardScaler(), MLPRegressor(**common)),
                                          transformer=StandardScaler())
    cls = NMPQATClassifier if kind == "classification" else NMPQATRegressor
    return cls(**common, **params)
