"""``python -m cnnlib train`` / ``predict`` end to end on a tiny generated dataset, and
the errors a learner sees for bad arguments."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cnnlib import __main__ as cli
from cnnlib import classify

from .conftest import write_jpeg

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_dataset(root, classes=("circle", "square"), n=12, size=(24, 20)):
    """Easy classes: each class a different dominant colour, with a little noise."""
    rng = np.random.default_rng(0)
    colours = [(220, 40, 40), (40, 40, 220), (40, 200, 40)]
    for c, cls in enumerate(classes):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img = np.clip(np.array(colours[c]) + rng.normal(0, 20, (size[1], size[0], 3)), 0, 255)
            Image.fromarray(img.astype(np.uint8)).save(root / cls / f"{i}.png")
    (root / classes[0] / "notes.txt").write_text("junk the scan must skip")
    return root


def run_cli(*args, cwd=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "cnnlib", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd or REPO, env=env, timeout=300)


@pytest.mark.slow
def test_train_then_predict_end_to_end(tmp_path):
    data = tiny_dataset(tmp_path / "data", classes=("blue", "green", "red"))
    model = tmp_path / "out" / "model.keras"
    res = run_cli("train", data, "--out", model, "--image-size", 16, 16, "--epochs", 3,
                  "--val-split", 0.25, "--batch-size", 8)
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout
    assert "skipped 1 file(s)" in out and "notes.txt" in out          # the scan is shown
    assert "epoch 1/3" in out and "epoch 3/3" in out                    # progress
    assert "accuracy" in out and "recall" in out and "confusion matrix" in out
    assert model.is_file()
    assert (tmp_path / "out" / "model.confusion.png").is_file()
    meta = json.loads((tmp_path / "out" / "model.classes.json").read_text())
    assert meta == {"class_names": ["blue", "green", "red"], "image_size": [16, 16], "binary": False}

    res = run_cli("predict", model, data / "red" / "0.png", data / "blue" / "1.png")
    assert res.returncode == 0, res.stderr[-2000:]
    lines = res.stdout.strip().splitlines()
    assert lines[0].split() == ["blue", "green", "red", "predicted"]
    rows = {ln.split()[0]: ln.split()[1:] for ln in lines[2:]}
    assert set(rows) == {"0.png", "1.png"}
    for probs in rows.values():
        assert abs(sum(float(p) for p in probs[:3]) - 1) < 0.01


@pytest.mark.slow
def test_binary_training_in_process_uses_a_sigmoid_and_a_test_folder(tmp_path):
    data = tiny_dataset(tmp_path / "train", n=16)
    test = tiny_dataset(tmp_path / "test", n=6)
    report = classify.train(data, tmp_path / "m.keras", image_size=(16, 16), epochs=4,
                            batch_size=8, val_split=0, test_dir=test, log_every=0)
    assert report.binary and report.class_names == ["circle", "square"]
    assert "test folder" in report.evaluated_on
    assert report.evaluation.confusion.sum() == 12           # every test image scored
    model, meta = classify.load(report.model_path)
    assert model.output_shape == (None, 1) and meta["binary"]
    frame = classify.predict(report.model_path, [test / "square" / "0.png"])
    assert list(frame.columns) == ["circle", "square", "predicted"]
    assert frame.iloc[0, :2].sum() == pytest.approx(1, abs=1e-5)
    assert "accuracy" in report.text()


@pytest.mark.parametrize("args, message", [
    (["train", "{tmp}/nope", "--out", "{tmp}/m.keras"], "is not a folder"),
    (["train", "{flat}", "--out", "{tmp}/m.keras"], "no class sub-folders"),
    (["train", "{data}", "--out", "{tmp}/m.h5"], "must end in .keras"),
    (["predict", "{tmp}/missing.keras", "{data}/circle/0.png"], "no model file"),
])
def test_bad_input_gives_one_clear_error_line(tmp_path, capsys, args, message):
    data = tiny_dataset(tmp_path / "data", n=2)
    flat = tmp_path / "flat"
    write_jpeg(flat / "a.jpg")
    fill = {"tmp": tmp_path, "data": data, "flat": flat}
    code = cli.main([a.format(**fill) for a in args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["train", "d", "--out", "m.keras", "--image-size", "0", "32"], "must be at least 1"),
    (["train", "d", "--out", "m.keras", "--image-size", "32"], "expected 2 arguments"),
    (["train", "d", "--out", "m.keras", "--image-size", "big", "32"], "not a whole number"),
    (["train", "d", "--out", "m.keras", "--val-split", "1.5"], "below 1"),
    (["train", "d", "--out", "m.keras", "--epochs", "0"], "must be at least 1"),
    (["train", "d"], "--out"),
    (["predict", "m.keras"], "the following arguments are required: images"),
])
def test_bad_arguments_are_rejected_by_the_parser(capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_predict_errors_name_the_bad_file(tmp_path, capsys, monkeypatch):
    model = tmp_path / "m.keras"
    model.write_bytes(b"not a model")
    assert cli.main(["predict", str(model), "x.png"]) == 2
    assert "m.classes.json" in capsys.readouterr().err            # the sidecar is missing
    classify.sidecar_path(model).write_text(json.dumps(
        {"class_names": ["a", "b"], "image_size": [8, 8], "binary": True}))
    assert cli.main(["predict", str(model), "x.png"]) == 2
    assert "cannot be loaded as a Keras model" in capsys.readouterr().err


@pytest.mark.slow
def test_predict_rejects_an_unreadable_image(tmp_path, capsys):
    data = tiny_dataset(tmp_path / "data", n=4)
    model = tmp_path / "m.keras"
    classify.train(data, model, image_size=(16, 16), epochs=1, batch_size=4, val_split=0.25,
                   log_every=0)
    capsys.readouterr()
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xffnot really")
    assert cli.main(["predict", str(model), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.jpg" in err and "unreadable" in err
    assert cli.main(["predict", str(model), str(tmp_path / "gone.png")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_run_with_an_unknown_notebook_is_one_line_not_a_traceback(capsys):
    assert cli.main(["run", "99_nothing", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert "python -m cnnlib run: error: No notebook '99_nothing'. Known:" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("value, message", [("-5", "must be a positive number of seconds"),
                                            ("soon", "is not a number of seconds")])
def test_run_rejects_a_bad_timeout(capsys, value, message):
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "01", "--timeout", value])
    assert exc.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("args", [("train", "{missing}", "--out", "{tmp}/m.keras"),
                                  ("predict", "{tmp}/not_a_model.keras", "{tmp}/x.png"),
                                  ("doctor",)])
def test_cli_prints_no_tensorflow_log_lines_and_no_traceback(tmp_path, args):
    (tmp_path / "not_a_model.keras").write_bytes(b"this is not a zip file")
    (tmp_path / "not_a_model.classes.json").write_text(
        json.dumps({"class_names": ["a", "b"], "image_size": [8, 8], "binary": True}))
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "x.png")
    argv = [a.format(tmp=tmp_path, missing=tmp_path / "missing") for a in args]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    res = subprocess.run([sys.executable, "-m", "cnnlib", *argv], capture_output=True, text=True,
                         cwd=REPO, env=env, timeout=300)
    output = res.stdout + res.stderr
    for noise in ("cuda", "oneDNN custom operations", "absl::InitializeLog", "I0000", "E0000", "Traceback"):
        assert noise not in output, f"{argv[0]} printed {noise!r}:\n{output[-1500:]}"
    if argv[0] != "doctor":
        assert res.returncode == 2 and output.strip().splitlines()[-1].startswith(
            f"python -m cnnlib {argv[0]}: error: ")


@pytest.mark.slow
def test_run_prints_no_tensorflow_log_lines_and_no_traceback(tmp_path):
    """`run` on two tiny notebooks whose kernels import TensorFlow, one of them failing: the
    terminal shows progress and the failure's one-line cause, never TensorFlow's log lines."""
    from .test_report import make_notebook
    ok = make_notebook(tmp_path / "20_tf_ok.ipynb",
                       "import tensorflow as tf\nprint(float(tf.reduce_sum(tf.ones((2, 2)))))")
    bad = make_notebook(tmp_path / "21_tf_bad.ipynb",
                        "import tensorflow as tf\nraise ValueError('the data is missing')")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    res = subprocess.run([sys.executable, "-m", "cnnlib", "run", str(ok), str(bad), "--profile", "smoke",
                          "--out", str(tmp_path / "reports")], capture_output=True, text=True, cwd=REPO,
                         env=env, timeout=300)
    output = res.stdout + res.stderr
    for noise in ("cuda", "oneDNN custom operations", "absl::InitializeLog", "I0000", "E0000", "W0000",
                  "Traceback"):
        assert noise not in output, f"run printed {noise!r}:\n{output[-1500:]}"
    assert res.returncode == 1
    assert "20_tf_ok.ipynb ... ok in" in output
    assert "ValueError: the data is missing" in output and "21_tf_bad.ipynb (failed)" in output


def test_run_with_an_unknown_notebook_prints_one_line_in_a_fresh_process():
    res = run_cli("run", "99_nothing", "--profile", "smoke")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip().splitlines() == [res.stderr.strip()]          # one line
    assert res.stderr.startswith("python -m cnnlib run: error: No notebook '99_nothing'")
