"""
Exporting to the model file and to C, and checking agreement
============================================================

``predict`` runs the fitted model's integer graph. The same graph saves to a
compact model file (no pickle; numpy alone loads and runs it) and exports to
dependency-free C99. Here we check that all three compute exactly what
``predict`` does, and compare the sizes.
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

from skqat import NMPQATClassifier
from skqat.datasets import fetch_yt_qoe
from skqat.preprocessing import make_tabular_preprocessor
from skqat.runtime import load

# Few epochs on purpose, to keep the example quick.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

qoe = fetch_yt_qoe()
prep = make_tabular_preprocessor()
X = prep.fit_transform(qoe.data)
X_train, X_test, y_train, y_test = train_test_split(X, qoe.target.to_numpy(), train_size=3000,
                                                    stratify=qoe.target, random_state=0)
clf = NMPQATClassifier(hidden_layer_sizes=(16, 16), bit_budget=2, activation_bit_budget=8,
                       max_iter=20, random_state=0).fit(X_train, y_train)
expected = clf.predict(X_test)

# %%
# The model file: save, load (numpy only), compare.
out = Path(tempfile.mkdtemp())
graph = clf.to_integer()
file_bytes = graph.save(out / "qoe.skqat")
loaded = load(out / "qoe.skqat")
print(f"model file: {file_bytes} bytes; agreement with predict: "
      f"{np.mean(loaded.predict(X_test) == expected):.2%}")

# %%
# The C export: compile it with the system's C compiler (when there is one),
# feed it the same rows, and compare its classes with ``predict``.
graph.export_c(out / "c", name="qoe")
main = r"""
#include <stdio.h>
#include "qoe.h"
int main(void) {
    double x[QOE_N_FEATURES];
    for (;;) {
        for (int i = 0; i < QOE_N_FEATURES; i++)
            if (scanf("%lf", &x[i]) != 1) return 0;
        printf("%d\n", (int)qoe_predict_class(x));
    }
}
"""
(out / "c" / "main.c").write_text(main)
cc = shutil.which("cc") or shutil.which("gcc")
if cc:
    exe = out / "c" / "qoe"
    subprocess.run([cc, "-std=c99", "-O2", "-o", str(exe), str(out / "c" / "main.c"),
                    str(out / "c" / "qoe.c")], check=True)
    rows = "\n".join(" ".join(repr(float(v)) for v in row) for row in X_test)
    result = subprocess.run([str(exe)], input=rows, capture_output=True, text=True, check=True)
    c_classes = clf.classes_[np.array(result.stdout.split(), dtype=int)]
    print(f"C: agreement with predict: {np.mean(c_classes == expected):.2%}")
else:
    print("no C compiler found: the C files are in", out / "c")

# %%
# What the bits buy: the file against the same network in float32.
float32 = 4 * sum(w.size + b.size for w, b in zip(clf.coefs_, clf.intercepts_))
sizes = {"float32 weights": float32, "theoretical (bits + scales)": graph.theoretical_size_bytes(),
         "model file": file_bytes}

fig, ax = plt.subplots(figsize=(6, 2.6))
ax.barh(list(sizes), list(sizes.values()))
for i, v in enumerate(sizes.values()):
    ax.text(v, i, f" {v:,} B", va="center")
ax.set_xlabel("bytes")
ax.set_xlim(0, float32 * 1.25)
ax.set_title(f"{clf.mean_weight_bits_:.2f} mean weight bits: {float32 / file_bytes:.1f}x smaller")
fig.tight_layout()
plt.show()
