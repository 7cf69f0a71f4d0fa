"""What a flash budget counts: the integer entry's linked bytes, from the layers alone.

Training measures a network against a flash budget with these (numpy only);
the figure is :attr:`ResourceReport.flash_bytes
<skqat.runtime._resources.ResourceReport>` of the graph.
"""

import numpy as np

from ._device_plan import device_plan
from ._graph import IntegerMLP
from ._resources import (CODE_BYTES_NARROW, CODE_BYTES_TASK, core_table_bytes,
                         integer_entry_code_bytes)


def integer_entry_flash_bytes(layers, *, input_bits, task):
    """The linked flash of a graph's integer entry (``ResourceReport.flash_bytes``).

    It depends on the layers, the input bits and the task alone (not on the
    input steps, which the integer entry does not hold): what a flash budget
    counts while training.

    Parameters
    ----------
    layers : list of IntegerLayer
    input_bits : int
    task : {"regression", "binary", "multiclass", "multilabel"}

    Returns
    -------
    int
    """
    n_in, n_out = layers[0].n_in, layers[-1].n_out
    classes = {"binary": np.arange(2), "multiclass": np.arange(n_out)}.get(task)
    graph = IntegerMLP(input_scale=np.ones(n_in), input_offset=np.zeros(n_in),
                       input_bits=input_bits, layers=layers, output_scale=np.ones(n_out),
                       output_offset=np.zeros(n_out), task=task, classes=classes)
    return core_table_bytes(graph) + integer_entry_code_bytes(graph, device_plan(graph))


def flash_fixed_bytes(*, n_layers, task):
    """What a flash budget spends beside the layers' weights and fields (an estimate).

    The integer entry's smallest code (32-bit requantization), its layer table
    (up to 12 bytes a layer), a few bit-width pairs per layer and the stream's
    padding; training measures the exact figure on the graph
    (:func:`integer_entry_flash_bytes`) and corrects for the difference.
    """
    return CODE_BYTES_NARROW + CODE_BYTES_TASK[task][0] + 16 * n_layers + 2
