"""
From pipeline to microcontroller: the model file and C, checked against predict
===============================================================================

``skqat.to_integer`` turns a whole fitted pipeline (imputation, one-hot
encoding, the NMP-QAT estimator) into one integer model that reads the raw
rows. It saves to a compact model file (no pickle; numpy alone loads and runs
it) and exports to C99 for microcontrollers, with a test program that checks
the C against the rows' expected outputs. Here we check that all of them
compute exactly what ``pipeline.predict`` does, and compare the sizes.
"""

import shutil
import subprocess
import tempfile

# %%
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skqat import NMPQATClassifier, to_integer
from skqat.datasets import fetch_yt_qoe
from skqat.preprocessing import make_tabular_preprocessor
from skqat.runtime import load

# Few epochs on purpose, to keep the example quick.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

qoe = fetch_yt_qoe()
X_train, X_test, y_train, y_test = train_test_split(qoe.data, qoe.target.to_numpy(),
                                                    train_size=3000, stratify=qoe.target,
                                                    random_state=0)
pipe = make_pipeline(make_tabular_preprocessor(),
                     NMPQATClassifier(hidden_layer_sizes=(16, 16), bit_budget=2,
                                      activation_bit_budget=8, max_iter=20, random_state=0))
pipe.fit(X_train, y_train)
expected = pipe.predict(X_test)

# %%
# One integer model for the whole pipeline: it reads the raw DataFrame rows.
model = to_integer(pipe)
print(f"integer model: agreement with pipeline.predict: "
      f"{np.mean(model.predict(X_test) == expected):.2%}")

# %%
# The model file: save, load (numpy only), compare.
out = Path(tempfile.mkdtemp())
file_bytes = model.save(out / "qoe.skqat")
loaded = load(out / "qoe.skqat")
print(f"model file: {file_bytes} bytes; agreement: "
      f"{np.mean(loaded.predict(X_test) == expected):.2%}")

# %%
# The C export, with 500 test rows: ``qoe_test.c`` holds them and the outputs the
# model gives them, and its ``main`` prints how many the C agrees on. Compile it
# with the system's C compiler, when there is one.
header, source, test = model.export_c(out / "c", prefix="qoe", test_rows=X_test.iloc[:500])
cc = shutil.which("cc") or shutil.which("gcc")
if cc:
    exe = out / "c" / "qoe_test"
    subprocess.run([cc, "-std=c99", "-O2", "-o", str(exe), str(source), str(test)], check=True)
    print("C:", subprocess.run([str(exe)], capture_output=True, text=True).stdout.strip())
else:
    print("no C compiler found: the C files are in", out / "c")
print(header.read_text().split("*/", 2)[1][:600])

# %%
# What a microcontroller needs, from the resource report: the integer entry's linked
# Cortex-M0 flash (input codes in), what the float entries and the folded preprocessing
# add beside it, the RAM buffers and the work per row.
report = model.resource_report()
print(f"flash {report.flash_bytes} B ({report.table_bytes} B of tables) + "
      f"{report.float_entry_bytes} B for the float entries, RAM {report.ram_bytes} B, "
      f"{report.macs_per_row} multiply-accumulates per row, "
      f"{report.widest_accumulator_bits}-bit accumulators")

# %%
# What the bits buy: the file against the same network in float32.
clf = pipe[-1]
float32 = 4 * sum(w.size + b.size for w, b in zip(clf.coefs_, clf.intercepts_))
sizes = {"float32 weights": float32, "theoretical (bits + steps)": clf.model_size_bytes_,
         "model file (with the preprocessing)": file_bytes}

fig, ax = plt.subplots(figsize=(6, 2.6))
ax.barh(list(sizes), list(sizes.values()))
for i, v in enumerate(sizes.values()):
    ax.text(v, i, f" {v:,} B", va="center")
ax.set_xlabel("bytes")
ax.set_xlim(0, float32 * 1.25)
ax.set_title(f"{clf.mean_weight_bits_:.2f} mean weight bits: {float32 / file_bytes:.1f}x smaller")
fig.tight_layout()
plt.show()
