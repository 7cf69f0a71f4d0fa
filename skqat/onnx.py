"""ONNX for fitted skqat models: an exact export, and converters for skl2onnx.

Two routes (``docs/onnx.md`` compares them):

* :func:`to_onnx`: a fitted estimator, or a fitted pipeline ending in one,
  as the ONNX model of its integer graph (:func:`skqat.to_integer`), front
  end included. onnxruntime computes exactly what ``predict`` does.
* :func:`register_converters`: skl2onnx converters for the four estimators,
  so that ``skl2onnx.to_onnx(pipeline, X[:1])`` converts a pipeline that
  ends in one. The preprocessing is then skl2onnx's own, in float32 by
  default, and a few rows may differ from ``pipeline.predict``.

Both need the ``onnx`` extra: ``pip install 'skqat[onnx]'``.
"""

import numpy as np

from ._classifier import NMPQATClassifier
from ._cv import NMPQATClassifierCV, NMPQATRegressorCV
from ._fold import to_integer
from ._regressor import NMPQATRegressor
from .runtime import IntegerMLP
from .runtime._onnx_export import DEFAULT_OPSET, OPSETS, graph_to_onnx
from .runtime._onnx_front import onnx_feeds

__all__ = ["frame_inputs", "onnx_inputs", "register_converters", "to_onnx"]

_CLASSIFIERS = (NMPQATClassifier, NMPQATClassifierCV)
_REGRESSORS = (NMPQATRegressor, NMPQATRegressorCV)


def to_onnx(model, path=None, *, opset=DEFAULT_OPSET):
    """A fitted estimator or pipeline as an ONNX model that onnxruntime runs exactly.

    Parameters
    ----------
    model : estimator, Pipeline or skqat.runtime.IntegerMLP
        A fitted NMP-QAT estimator, a fitted pipeline whose last step is one
        (its supported preprocessing becomes the model's front end, see
        :func:`skqat.to_integer`), or an integer graph.
    path : str, path-like or None
        Also write the model there.
    opset : int, default=19
        ONNX opset, 13 to 21 (text categories need 19 or later).

    Returns
    -------
    onnx.ModelProto
        A graph of numeric rows reads one float64 input ``X``; a pipeline
        reads one input per raw column (:func:`onnx_inputs` builds them).
        Classifiers output ``label`` and ``probabilities``, regressors
        ``variable``.

    Examples
    --------
    >>> import numpy as np, onnxruntime as ort
    >>> from sklearn.datasets import make_classification
    >>> from skqat import NMPQATClassifier
    >>> from skqat.onnx import onnx_inputs, to_onnx
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> clf = NMPQATClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    >>> session = ort.InferenceSession(to_onnx(clf).SerializeToString(),
    ...                                providers=["CPUExecutionProvider"])
    >>> label, proba = session.run(None, onnx_inputs(clf, X))
    >>> bool(np.all(label == clf.predict(X)))
    True
    """
    graph = model if isinstance(model, IntegerMLP) else to_integer(model)
    return graph.to_onnx(path, opset=opset)


def onnx_inputs(model, X):
    """The inputs :func:`to_onnx`'s model takes for rows ``X``, as ``session.run`` wants them.

    Parameters
    ----------
    model : estimator, Pipeline or skqat.runtime.IntegerMLP
        As for :func:`to_onnx`.
    X : array-like, or a DataFrame of the pipeline's raw columns

    Returns
    -------
    dict of str to ndarray
        ``{"X": float64 rows}``, or per raw column an ``(n_samples, 1)``
        array: float64 (NaN when missing) or strings (``""`` when missing).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.compose import make_column_transformer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import OneHotEncoder
    >>> from skqat import NMPQATRegressor
    >>> df = pd.DataFrame({"band": ["n1", "n78", None, "n1"] * 25,
    ...                    "load": [0.1, 0.5, 0.9, float("nan")] * 25})
    >>> pipe = make_pipeline(
    ...     make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["band"]),
    ...                             remainder="passthrough"),
    ...     NMPQATRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0))
    >>> pipe = pipe.fit(df.fillna({"load": 0.0}), range(100))
    >>> feeds = onnx_inputs(pipe, df.head(2))
    >>> feeds["band"].tolist(), feeds["load"].ravel().tolist()
    ([['n1'], ['n78']], [0.1, 0.5])
    """
    graph = model if isinstance(model, IntegerMLP) else to_integer(model)
    return onnx_feeds(graph, X)


def frame_inputs(model, frame):
    """Inputs of any ONNX model with one ``(N, 1)`` input per DataFrame column (skl2onnx's way).

    Each input takes the column of its name, as the element type the model
    declares for it (float32, float64, int64 or string).

    Parameters
    ----------
    model : onnx.ModelProto
    frame : pandas.DataFrame

    Returns
    -------
    dict of str to ndarray

    Examples
    --------
    >>> import pandas as pd
    >>> from onnx import TensorProto, helper
    >>> x = helper.make_tensor_value_info("load", TensorProto.FLOAT, [None, 1])
    >>> y = helper.make_tensor_value_info("out", TensorProto.FLOAT, [None, 1])
    >>> model = helper.make_model(helper.make_graph(
    ...     [helper.make_node("Identity", ["load"], ["out"])], "g", [x], [y]))
    >>> frame_inputs(model, pd.DataFrame({"load": [0.5, 1.0]}))["load"].dtype
    dtype('float32')
    """
    from onnx import TensorProto

    kinds = {TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64,
             TensorProto.INT64: np.int64, TensorProto.STRING: str}
    return {i.name: frame[[i.name]].to_numpy().astype(kinds[i.type.tensor_type.elem_type])
            for i in model.graph.input}


def register_converters():
    """Register skl2onnx converters for the NMP-QAT estimators and their CV versions.

    After this call ``skl2onnx.to_onnx(pipeline, X[:1])`` converts a
    pipeline that ends in one. Classifiers take skl2onnx's ``zipmap``
    (True, False or ``"columns"``) and ``nocl`` options. The estimator's part
    is its exact integer graph; the outputs are float32 unless the input is
    float64, as skl2onnx's own.

    Examples
    --------
    >>> import numpy as np, onnxruntime as ort
    >>> from skl2onnx import to_onnx
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skqat import NMPQATClassifier
    >>> from skqat.onnx import register_converters
    >>> register_converters()
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> X = X.astype(np.float32)
    >>> pipe = make_pipeline(StandardScaler(), NMPQATClassifier(
    ...     hidden_layer_sizes=(8,), max_iter=5, random_state=0)).fit(X, y)
    >>> onx = to_onnx(pipe, X[:1], options={"zipmap": False})
    >>> session = ort.InferenceSession(onx.SerializeToString(),
    ...                                providers=["CPUExecutionProvider"])
    >>> label, proba = session.run(None, {"X": X})
    >>> proba.dtype, proba.shape
    (dtype('float32'), (300, 2))
    """
    try:
        from skl2onnx import update_registered_converter
        from skl2onnx.common.shape_calculator import (
            calculate_linear_classifier_output_shapes, calculate_linear_regressor_output_shapes)
    except ImportError as err:
        raise ImportError("The skl2onnx converters need skl2onnx: "
                          "pip install 'skqat[onnx]'.") from err
    for cls in _CLASSIFIERS:
        update_registered_converter(
            cls, f"Skqat{cls.__name__}", calculate_linear_classifier_output_shapes, _convert,
            options={"zipmap": [True, False, "columns"], "nocl": [True, False]})
    for cls in _REGRESSORS:
        update_registered_converter(cls, f"Skqat{cls.__name__}",
                                    calculate_linear_regressor_output_shapes, _convert)


def _convert(scope, operator, container):
    """skl2onnx converter: the estimator's integer graph, renamed into the scope."""
    import onnx
    from onnx import helper

    est = operator.raw_operator
    graph = est.to_integer()
    classify = graph.task != "regression"
    if graph.task == "multilabel":
        raise NotImplementedError("skl2onnx has no output convention for a multilabel "
                                  "NMP-QAT classifier: use skqat.onnx.to_onnx.")
    if classify and container.get_options(est, dict(nocl=False))["nocl"]:
        graph = _without_classes(graph)
    opset = container.target_opset
    if opset < OPSETS.start:
        raise ValueError(f"The NMP-QAT converter needs target_opset {OPSETS.start} or later.")
    proto = graph_to_onnx(graph, opset=min(opset, OPSETS.stop - 1)).graph
    names = {"X": operator.inputs[0].full_name}
    if classify:
        names["label"] = operator.outputs[0].full_name
    for tensor in proto.initializer:
        names[tensor.name] = scope.get_unique_variable_name(tensor.name)
        if tensor.data_type == onnx.TensorProto.STRING:
            container.add_initializer(names[tensor.name], tensor.data_type, list(tensor.dims),
                                      list(tensor.string_data))
        else:
            container.add_initializer(names[tensor.name], tensor.data_type, list(tensor.dims),
                                      tensor)

    def rename(name):
        if name not in names:
            names[name] = scope.get_unique_variable_name(name)
        return names[name]

    for node in proto.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        container.add_node(node.op_type, [rename(n) for n in node.input],
                           [rename(n) for n in node.output],
                           name=scope.get_unique_operator_name(f"Skqat{node.op_type}"), **attrs)
    # The float64 probabilities or values, in the type skl2onnx declared for them.
    out = operator.outputs[1 if classify else 0]
    double = type(out.type).__name__ == "DoubleTensorType"
    container.add_node("Cast", [rename("probabilities" if classify else "variable")],
                       [out.full_name], name=scope.get_unique_operator_name("SkqatCast"),
                       to=onnx.TensorProto.DOUBLE if double else onnx.TensorProto.FLOAT)


def _without_classes(graph):
    """The same graph predicting class indices (skl2onnx's ``nocl`` option)."""
    return IntegerMLP(graph.input_scale, graph.input_offset, graph.input_bits, graph.layers,
                      graph.output_scale, graph.output_offset, graph.task)
