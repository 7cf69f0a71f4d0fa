"""Integer inference of fitted NMP-QAT models, with numpy alone (no torch).

``estimator.to_integer()`` returns an :class:`IntegerMLP`: the fully integer
graph that ``predict`` runs; ``skqat.to_integer(pipeline)`` one that also
carries a fitted pipeline's preprocessing (:class:`RawInputs`) and reads raw
rows. It saves to a compact model file (:meth:`IntegerMLP.save`,
:func:`load`), exports to C99 for microcontrollers
(:meth:`IntegerMLP.export_c`) and reports what that C needs
(:meth:`IntegerMLP.resource_report`); with the ``fpga`` extra it writes
Verilog through da4ml (:meth:`IntegerMLP.to_verilog`).
"""

from ._bytes import ModelFileError
from ._fixed_point import GraphRangeError
from ._fpga import FPGAEstimate, RTLOutputs, VerilogExport
from ._graph import IntegerMLP
from ._layer import IntegerLayer, QuantizedLayer
from ._load import load, load_bytes
from ._raw_inputs import CategoricalInput, NumericInput, RawInputs, Step
from ._resources import ResourceReport

__all__ = ["CategoricalInput", "FPGAEstimate", "GraphRangeError", "IntegerLayer", "IntegerMLP",
           "ModelFileError", "NumericInput", "QuantizedLayer", "RawInputs", "RTLOutputs",
           "ResourceReport", "Step", "VerilogExport", "load", "load_bytes"]
