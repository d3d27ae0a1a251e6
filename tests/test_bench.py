"""The benchmark scripts' own logic, on generated fixtures (the benchmarks themselves run on
demand, never as tests)."""
import importlib.util
from pathlib import Path


BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_profile_step_ablation_builder_defaults_to_the_course_model():
    profile = _load("profile_step")
    from cnnlib import models
    from tests.page_models import signature
    assert signature(profile.build()) == signature(models.fast_cifar10())
    assert profile.forward_flops(profile.build()) > profile.forward_flops(profile.build(widths=(8, 8, 8)))
    no_bn = profile.build(bn=None)
    assert not any("BatchNorm" in type(l).__name__ for l in no_bn.layers)
    assert no_bn.count_params() < profile.build().count_params()
    import numpy as np
    x = np.random.default_rng(0).random((20, 32, 32, 3), dtype=np.float32)
    whitened = profile.build(augment=False, whiten=x)
    assert signature(whitened) == signature(models.fast_cifar10(augment=False, whitening=models.patch_whitening(x)))
    assert profile.forward_flops(whitened) < profile.forward_flops(profile.build())


def test_cifar_trials_table():
    trials = _load("cifar_trials")
    row = {"trial": "whiten", "train_images": 40000, "minutes": 4.0, "seed": 0, "epochs_seen": 3.2,
           "images_per_second": 612.3, "fit_seconds": 241.0, "test_accuracy": 0.81, "test_accuracy_flip": 0.82,
           "test_accuracy_tta6": 0.83, "machine": "Linux x86_64, 2 CPUs (AMD EPYC, AVX-512), AVX-512"}
    line = trials.table([row]).splitlines()[-1]
    assert "| whiten | 40,000 | 4 min | 0 | 3.2 | 612 | 241 | 81.00% | 82.00% | 83.00% |" in line



def test_profile_step_table_reports_medians_and_the_fastest_round():
    profile = _load("profile_step")
    results = {("full", "0"): [2.0, 2.0, 1.3], ("full", "1"): [0.62, 1.03, 0.63],
               ("custom loop", "0"): [1.4, 1.3, 1.4], ("custom loop", "1"): [0.60, 0.61, 0.60]}
    text = profile.table(results, {"full": 76.8e6, "custom loop": 76.8e6}, peak=190.0)
    full = next(l for l in text.splitlines() if l.startswith("| full |"))
    loop = next(l for l in text.splitlines() if l.startswith("| custom loop |"))
    assert "| 2000 | 630 | 3.17x |" in full and full.rstrip().endswith("| 620 |  |")
    assert "| 1400 | 600 | 2.33x | +30 ms |" in loop and loop.rstrip().endswith("| 600 | +20 ms |")
    assert "of it" in text
