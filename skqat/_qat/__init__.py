"""Torch training of the NMP-QAT network: the middle of the three layers.

The scikit-learn surface (``skqat/``) validates, encodes and keeps numpy
arrays; this subpackage builds and trains the torch network; the integer
runtime (``skqat/runtime/``) runs the exported graph with numpy alone.

* ``quantizers``: the quantizer math, small pure functions;
* ``rows``: the weight quantizer's constants per row at given bit-widths;
* ``levels``: what a layer's discrete levels fix, rebuilt when a level changes;
* ``host``: small tensors over numpy's memory (constants the host writes, sums
  it reads, without a tensor operation on CPU);
* ``ste``: the hard-forward, surrogate-backward autograd functions (a fused
  dense layer and quantized ReLU, their backward passes written out);
* ``tape``: a training step's pass through those functions without the
  autograd engine (the same operations, bit for bit);
* ``layers`` and ``network``: the quantized MLP and its numpy export;
* ``budget`` and ``projection``: the budget controller and the final projection;
* ``size``: a network's bytes (exact, estimated, expected) for the size budget;
* ``penalties``: what the budgets and prices add to the objective;
* ``data``: the training rows as the loop sees them;
* ``objectives``: the losses (with a batch's gradient written out) and the
  validation scores of the tasks;
* ``training``: the two-phase training loop and ``partial_fit``'s increment;
* ``optim``: Adam (its groups and their rates), its step without
  ``torch.optim``'s wrappers (the strengths' with one batch's noise), and its state;
* ``refine``: one step down a budget path (projection, frozen fine-tuning);
* ``rescale``: the layers next to statistics that moved along a stream, and the
  output layer refitted where a stream's block finds it far off;
* ``device``: device, thread count and random generator.
"""

from .data import train_data
from .device import make_generator, resolve_device, torch_threads
from .network import ACTIVATION_STEP_FLOOR, QuantMLP
from .objectives import loss_function, score_function
from .refine import refine_network
from .rescale import calibrate_outputs_, rescale_network_
from .training import TrainSettings, train_increment, train_network

__all__ = ["ACTIVATION_STEP_FLOOR", "QuantMLP", "TrainSettings", "calibrate_outputs_",
           "loss_function", "make_generator", "refine_network", "rescale_network_",
           "resolve_device", "score_function", "torch_threads", "train_data", "train_increment",
           "train_network"]
