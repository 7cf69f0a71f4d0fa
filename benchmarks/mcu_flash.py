"""Flash of C models on a Cortex-M0, measured by compiling and linking.

One call of a model's entry point in a minimal ``main``, linked with
newlib-nano and ``--gc-sections``, less the same ``main`` without the call:
what the model adds to a firmware, its C library helpers included
(``arm-none-eabi-gcc -mcpu=cortex-m0 -mthumb -Os``). The object flash is the
model's own sections (``text + data`` of its objects), without the helpers.
"""

import pathlib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

CC = "arm-none-eabi-gcc"
CFLAGS = ("-mcpu=cortex-m0", "-mthumb", "-Os", "-std=c99", "-ffunction-sections",
          "-fdata-sections")
LDFLAGS = ("-Wl,--gc-sections", "--specs=nano.specs", "--specs=nosys.specs", "-lm")
# Soft float and double, and 64-bit integer helpers of libgcc.
FLOAT_OR_WIDE_HELPER = re.compile(r"__aeabi_(f|d|l|ui?l|i2f|ui2f|i2d|ui2d)|__(mul|div|add|sub)"
                                  r"[sd]f3|__(fix|float)\w*[sd]f|__ashldi3|__lshrdi3|__ashrdi3"
                                  r"|__muldi3")


@dataclass(frozen=True)
class Flash:
    """What one entry point adds to a Cortex-M0 firmware, in bytes.

    Attributes
    ----------
    linked : int
        The linked increment (``text + data`` of the firmware with the call,
        less without it): the model's code and tables and every helper it pulls.
    objects : int
        The linked increment less the C library's code in it: the model's own
        code and tables that the firmware keeps.
    ram : int
        ``bss + data`` of the increment (static RAM; the stack is not counted).
    helpers : tuple of str
        The C library's float, double and 64-bit helpers linked for it.
    """

    linked: int
    objects: int
    ram: int
    helpers: tuple


def have_toolchain():
    """Whether the cross compiler and binutils are installed."""
    return all(shutil.which(t) for t in (CC, "arm-none-eabi-size", "arm-none-eabi-nm"))


def _size(path):
    out = subprocess.run(["arm-none-eabi-size", str(path)], capture_output=True, text=True,
                         check=True).stdout.splitlines()[1].split()
    return int(out[0]), int(out[1]), int(out[2])


def _symbols(path):
    """Defined symbols of an object or firmware: ``{name: (address, bytes)}`` (0 if unsized)."""
    out = subprocess.run(["arm-none-eabi-nm", "-S", "--defined-only", str(path)],
                         capture_output=True, text=True, check=True).stdout
    symbols = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            symbols[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
        elif len(parts) == 3:
            symbols.setdefault(parts[2], (int(parts[0], 16), 0))
    return symbols


def _main(call, declarations):
    return (f"{declarations}\nvolatile int sink;\n"
            f"int main(void)\n{{\n    sink = (int)({call});\n    return 0;\n}}\n")


def measure_flash(sources, *, call, declarations, baseline_call="0", include_dirs=()):
    """The :class:`Flash` of one call into C ``sources``.

    Parameters
    ----------
    sources : list of path-like
        The model's C files (compiled each with :data:`CFLAGS`).
    call : str
        A C expression calling the entry point (its value is kept).
    declarations : str
        C text before ``main``: includes and the non-constant input buffers.
    baseline_call : str
        The expression of the ``main`` without the model (reads the same inputs).
    include_dirs : list of path-like
    """
    incs = [f"-I{d}" for d in include_dirs]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        objs = []
        for i, src in enumerate(sources):
            obj = tmp / f"m{i}.o"
            subprocess.run([CC, *CFLAGS, *incs, "-c", str(src), "-o", str(obj)], check=True)
            objs.append(obj)
        sizes = []
        for name, expr, extra in (("with", call, objs), ("base", baseline_call, [])):
            main = tmp / f"{name}.c"
            main.write_text(_main(expr, declarations))
            elf = tmp / f"{name}.elf"
            done = subprocess.run([CC, *CFLAGS, *incs, str(main), *map(str, extra), *LDFLAGS,
                                   "-o", str(elf)], capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"linking {name}.c failed:\n{done.stderr}")
            sizes.append(_size(elf))
        added = _symbols(tmp / "with.elf")
        for name in _symbols(tmp / "base.elf"):
            added.pop(name, None)
        own = set().union(*(_symbols(o) for o in objs), {"main"})
        library = {name: size for name, size in added.items() if name not in own}
    (t1, d1, b1), (t0, d0, b0) = sizes
    linked = (t1 + d1) - (t0 + d0)
    # Aliases (__gtsf2 and __gesf2, ...) share their code: counted once, by address.
    return Flash(linked=linked, objects=linked - sum(dict(library.values()).values()),
                 ram=(d1 + b1) - (d0 + b0),
                 helpers=tuple(sorted(s for s in library if FLOAT_OR_WIDE_HELPER.search(s))))


def skqat_flash(graph, directory, *, entry="codes"):
    """The :class:`Flash` of a graph's C export: its integer entry, or (``"float"``) float one.

    The class entry of a classifier, the labels entry of a multilabel model,
    the outputs of a regressor.
    """
    _, source = graph.export_c(directory, prefix="model")
    n_out = graph.n_outputs
    if entry == "codes":
        decl = (f'#include "model.h"\nint16_t in[{graph.n_features}];\n'
                f"model_output_t q[{n_out}];\nuint8_t lab[{n_out}];\n")
        call = {"regression": "model_predict_codes(in, q)",
                "multilabel": "model_predict_labels_codes(in, lab)"}.get(
                    graph.task, "model_predict_class_codes(in)")
        base = "in[0]"
    else:
        n_cat = 0 if graph.raw_inputs is None else len(graph.raw_inputs.categorical)
        decl = (f'#include "model.h"\nfloat in[{max(graph.n_features, 1)}];\n'
                f"int32_t cats[{max(n_cat, 1)}];\nmodel_output_t q[{n_out}];\n"
                f"uint8_t lab[{n_out}];\n")
        args = "in, cats" if graph.raw_inputs is not None else "in"
        call = {"regression": f"model_predict({args}, q)",
                "multilabel": f"model_predict_labels({args}, lab)"}.get(
                    graph.task, f"model_predict_class({args})")
        base = "(int)in[0]"
    return measure_flash([source], call=call, declarations=decl, baseline_call=base,
                         include_dirs=[directory])
