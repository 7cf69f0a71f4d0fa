"""Integer inference of fitted NMP-QAT models, with numpy alone (no torch).

``estimator.to_integer()`` returns an :class:`IntegerMLP`: the fully integer
graph that ``predict`` runs. It saves to a compact model file
(:meth:`IntegerMLP.save`, :func:`load`) and exports to portable C99
(:meth:`IntegerMLP.export_c`).
"""

from ._graph import IntegerLayer, IntegerMLP
from ._layer import QuantizedLayer
from ._load import load, load_bytes
from ._model_file import ModelFileError

__all__ = ["IntegerLayer", "IntegerMLP", "ModelFileError", "QuantizedLayer", "load", "load_bytes"]
