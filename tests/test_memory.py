"""cnnlib.memory: R4's loader and the fresh-process measurements of notebook 07 and
bench/input_pipeline.py."""
from pathlib import Path

import numpy as np
import pytest

from cnnlib import memory
from tests.conftest import write_blood_tree


def test_tutorial_loader_is_the_r4_recipe(tmp_path):
    root = write_blood_tree(tmp_path / "cells", per_class=5)
    files = memory.tutorial_files(root / "TRAIN", per_class=None)
    assert len(files) == 20
    x_train, x_test, y_train, y_test = memory.tutorial_load(files, (20, 30))
    # an 80/20 train_test_split of every image, float32 in 0..1, labels from the folders
    assert x_train.shape == (16, 20, 30, 3) and x_test.shape == (4, 20, 30, 3)
    assert x_train.dtype == np.float32 and 0 <= x_train.min() and x_train.max() <= 1
    assert sorted(y_train + y_test) == sorted(Path(f).parent.name for f in files)
    # the same seed gives the same shuffle and split
    again = memory.tutorial_load(files, (20, 30))
    np.testing.assert_array_equal(again[0], x_train)
    assert again[2] == y_train


def test_tutorial_loader_fails_loudly_on_a_bad_file(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    with pytest.raises(OSError):
        memory.tutorial_load([str(bad)], (20, 30))


def test_stream_and_train_measurements_run_in_fresh_processes(tmp_path):
    root = write_blood_tree(tmp_path / "cells", per_class=3) / "TRAIN"
    stream = memory.measure("stream", root, (60, 80), batch_size=4)
    assert stream["images"] == 12 and stream["images_per_second"] > 0
    assert stream["peak_mib"] >= stream["baseline_mib"] > 0
    train = memory.measure("train", root, (60, 80), batch_size=4, steps=2)   # notebook 07's model, crop included
    assert train["images"] == 8 and train["images_per_second"] > 0


def test_tutorial_files_takes_the_first_files_of_each_class(tmp_path):
    root = write_blood_tree(tmp_path / "cells", per_class=5) / "TRAIN"
    files = memory.tutorial_files(root, per_class=2)
    assert len(files) == 8
    assert [Path(f).parent.name for f in files] == sorted(Path(f).parent.name for f in files)


def test_measure_names_a_bad_mode_and_a_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="unknown measurement mode 'bogus'.*stream"):
        memory.measure("bogus", tmp_path)
    with pytest.raises(FileNotFoundError, match="one sub-folder per class"):
        memory.measure("stream", tmp_path / "missing")


def test_a_failing_child_is_reported_with_its_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RuntimeError, match="the tutorial measurement failed"):
        memory.measure("tutorial", tmp_path / "empty")          # no class folders: nothing to stack


def test_peak_memory_is_at_least_the_current_memory():
    assert memory.peak_rss_mib() >= memory.rss_mib() * 0.99 > 0
