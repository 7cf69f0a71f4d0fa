"""Training on a CUDA device; skipped where torch finds none (the CPU path is tested everywhere)."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

from skqat import NMPQATClassifier

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.fixture(scope="module")
def fits():
    X, y = make_classification(n_samples=2000, n_features=12, n_informative=8, random_state=0)
    params = dict(hidden_layer_sizes=(64, 64), bit_budget=2, activation_bit_budget=6,
                  max_iter=15, random_state=0)
    gpu = NMPQATClassifier(device="cuda", **params).fit(X, y)
    cpu = NMPQATClassifier(device="cpu", **params).fit(X, y)
    return X, y, gpu, cpu


def test_a_gpu_fit_keeps_the_budget_and_the_cpu_fit_quality(fits):
    X, y, gpu, cpu = fits
    assert gpu.device_ == "cuda"
    assert gpu.mean_weight_bits_ <= 2 and gpu.mean_activation_bits_ <= 6
    # Float reductions differ between devices: the same quality, not the same bits.
    assert abs(gpu.score(X, y) - cpu.score(X, y)) < 0.03


def test_a_gpu_fit_predicts_the_same_on_a_machine_without_cuda(fits, tmp_path):
    X, _, gpu, _ = fits
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(gpu))
    np.save(tmp_path / "X.npy", X)
    script = (
        "import pickle, sys, numpy as np, torch\n"
        "assert not torch.cuda.is_available()\n"
        f"est = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        f"np.save({str(tmp_path / 'pred.npy')!r}, est.predict_proba(np.load({str(tmp_path / 'X.npy')!r})))\n"
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=300)
    np.testing.assert_array_equal(np.load(tmp_path / "pred.npy"), gpu.predict_proba(X))
