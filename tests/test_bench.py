"""The benchmark scripts' own logic, on generated fixtures (the benchmarks themselves run on
demand, never as tests)."""
import importlib.util
from pathlib import Path

import pytest


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


def test_blood_seeds_summary_and_report():
    seeds = _load("blood_seeds")
    runs = [{"seed": s, "test_accuracy": a, "test_simple_accuracy": 0.9, "val_accuracy": 0.94, "fit_seconds": 240.0}
            for s, a in enumerate((0.887, 0.843, 0.884))]
    summary = seeds.summary(runs)
    assert summary["test_accuracy"]["median"] == 0.884
    assert round(summary["test_accuracy"]["spread"], 3) == 0.044
    study = {"runs": runs, "summary": summary, "epochs": 32, "image_size": [240, 320], "train_per_class": 800,
             "cpu": "a CPU", "tensorflow": "2.21.0", "keras": "3.15.1", "date": "2026-12-05"}
    text = seeds.markdown(study)
    assert "| 1 | 84.3% | - | - | 90.0% |" in text and "median 88.4%" in text
    assert "pass(es) over the training set" not in text
    assert "1 pass(es) over the training set before each fit" in seeds.markdown({**study, "passes_before_fit": 1})


def test_blood_seeds_rejects_bad_arguments(capsys):
    seeds = _load("blood_seeds")
    for argv in (["--passes-before-fit", "-1"], ["--seeds", "0"]):
        with pytest.raises(SystemExit):
            seeds.main(argv)
        assert "must be" in capsys.readouterr().err
    with pytest.raises(SystemExit):                   # a variant never overwrites the notebook's study
        seeds.main(["--passes-before-fit", "1"])
    assert "give --out DIR" in capsys.readouterr().err


def test_time_to_accuracy_table_shows_the_range_over_seeds():
    tta = _load("time_to_accuracy")
    med = {"classic": (0.70, 220.0, 2700.0, 15)}
    rows = [("cifar10", 40000, {"classic": 15}, med, {"classic": [0.645, 0.70, 0.708]})]
    line = tta.table(rows, ["classic"]).splitlines()[-1]
    assert line == "| cifar10 | 40,000 | classic | 15 | 0.7000 | 0.6450 - 0.7080 | 3 | 220.0 | 2,700 |"
    one = tta.table([rows[0][:4]], ["classic"]).splitlines()[-1]
    assert "| 0.7000 | 0.7000 - 0.7000 | 1 |" in one


def test_time_to_accuracy_keras_feed_needs_the_whole_training_set(capsys):
    tta = _load("time_to_accuracy")
    with pytest.raises(SystemExit):
        tta.main(["--dataset", "cifar10", "--classic-feed", "keras", "--n-train", "1000"])
    assert "drop --n-train" in capsys.readouterr().err
