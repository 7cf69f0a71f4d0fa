"""Loading model files into integer graphs (numpy only)."""

from ._graph import IntegerMLP
from ._bytes import ModelFileError
from ._model_file import read_graph


def load_bytes(data):
    """An :class:`IntegerMLP` from model-file bytes.

    Parameters
    ----------
    data : bytes-like
        What :meth:`IntegerMLP.to_bytes` wrote.

    Returns
    -------
    IntegerMLP

    Raises
    ------
    ModelFileError
        As :func:`load`.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skqat import NMPQATClassifier
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> clf = NMPQATClassifier(hidden_layer_sizes=(8,), bit_budget=2, max_iter=5,
    ...                        random_state=0).fit(X, y)
    >>> from skqat.runtime import load_bytes
    >>> graph = load_bytes(clf.to_integer().to_bytes())
    >>> bool((graph.predict(X) == clf.predict(X)).all())
    True
    """
    stored = read_graph(data)
    try:
        return IntegerMLP(stored.input_scale, stored.input_offset, stored.input_bits,
                          stored.layers, stored.output_scale, stored.output_offset,
                          stored.task, stored.classes, stored.raw_inputs)
    except ValueError as err:
        raise ModelFileError(f"The model file describes an invalid graph: {err}") from err


def load(path):
    """Read a model file written by :meth:`IntegerMLP.save`.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    IntegerMLP

    Raises
    ------
    ModelFileError
        If the file is not a skqat model file, is truncated or corrupted, or
        has another format version. Loading never runs code from the file.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skqat import NMPQATClassifier
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> clf = NMPQATClassifier(hidden_layer_sizes=(8,), bit_budget=2, max_iter=5,
    ...                        random_state=0).fit(X, y)
    >>> import os, tempfile
    >>> from skqat.runtime import load
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skqat")
    >>> n_bytes = clf.to_integer().save(path)
    >>> bool((load(path).predict(X) == clf.predict(X)).all())
    True
    """
    with open(path, "rb") as f:
        return load_bytes(f.read())
