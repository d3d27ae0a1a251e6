"""The benchmark scripts' own logic, on generated fixtures (the benchmarks themselves run on
demand, never as tests)."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import write_blood_tree

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tutorial_loader_is_the_r4_recipe(tmp_path):
    pipeline = _load("input_pipeline")
    root = write_blood_tree(tmp_path / "cells", per_class=5)
    files = pipeline._files(root / "TRAIN", per_class=None)
    assert len(files) == 20
    x_train, x_test, y_train, y_test = pipeline.tutorial_load(files, (20, 30))
    # an 80/20 train_test_split of every image, float32 in 0..1, labels from the folders
    assert x_train.shape == (16, 20, 30, 3) and x_test.shape == (4, 20, 30, 3)
    assert x_train.dtype == np.float32 and 0 <= x_train.min() and x_train.max() <= 1
    assert sorted(y_train + y_test) == sorted(Path(f).parent.name for f in files)
    # the same seed gives the same shuffle and split
    again = pipeline.tutorial_load(files, (20, 30))
    np.testing.assert_array_equal(again[0], x_train)
    assert again[2] == y_train


def test_tutorial_loader_fails_loudly_on_a_bad_file(tmp_path):
    pipeline = _load("input_pipeline")
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    with pytest.raises(OSError):
        pipeline.tutorial_load([str(bad)], (20, 30))


def test_stream_and_train_measurements_run_in_fresh_processes(tmp_path):
    pipeline = _load("input_pipeline")
    root = write_blood_tree(tmp_path / "cells", per_class=3) / "TRAIN"
    stream = pipeline.measure("stream", root, (60, 80), batch_size=4)
    assert stream["images"] == 12 and stream["images_per_second"] > 0
    assert stream["peak_mib"] >= stream["baseline_mib"] > 0
    train = pipeline.measure("train", root, (60, 80), batch_size=4, steps=2)   # notebook 06's model, crop included
    assert train["images"] == 8 and train["images_per_second"] > 0


def test_profile_step_ablation_builder_defaults_to_the_course_model():
    profile = _load("profile_step")
    from cnnlib import models
    from tests.page_models import signature
    assert signature(profile.build()) == signature(models.fast_cifar10())
    assert profile.forward_flops(profile.build()) > profile.forward_flops(profile.build(widths=(8, 8, 8)))
    no_bn = profile.build(bn=None)
    assert not any("BatchNorm" in type(l).__name__ for l in no_bn.layers)
    assert no_bn.count_params() < profile.build().count_params()


def test_onednn_bench_sets_the_variable_per_fresh_process():
    bench = _load("onednn")
    assert bench.matmul_gflops(n=64, repeats=2) > 0
    for on in (False, True):        # the child checks that TensorFlow took the setting
        rec = bench.measure("classic_mnist", on, steps=1, warmup=1)
        assert rec["onednn"] is on and rec["images_per_second"] > 0 and rec["cpu_ms_per_image"] > 0
