"""Command line: ``python -m cnnlib {run,student,doctor,train,predict} ...``."""
from __future__ import annotations

import argparse
import sys


def _cmd_run(args) -> int:
    from . import report
    records = report.run_notebooks(args.notebooks or None, profile=args.profile, out=args.out,
                                   timeout=args.timeout, save=args.save_outputs)
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        print(f"\n{len(failed)} of {len(records)} notebook(s) did not finish: "
              + ", ".join(f"{r['notebook']} ({r['status']})" for r in failed), file=sys.stderr)
        return 1
    return 0


def _cmd_student(args) -> int:
    from . import report
    from .exercises.student import write_student_edition
    paths = [report._resolve_notebook(n) for n in args.notebooks] if args.notebooks else report.list_notebooks()
    written = write_student_edition(paths, args.out)
    print(f"Student edition: {len(written)} notebook(s) in {args.out}/ (solutions removed, outputs cleared)")
    return 0


def _cmd_guide(args) -> int:
    from . import guide
    path = guide.write(args.out) if args.out else guide.write()
    print(f"Instructor guide written: {path}")
    return 0


def _cmd_doctor(args) -> int:
    from . import doctor
    return doctor.main()


def _cmd_train(args) -> int:
    from . import classify
    report = classify.train(args.data_dir, args.out, image_size=tuple(args.image_size),
                            epochs=args.epochs, batch_size=args.batch_size, val_split=args.val_split,
                            test_dir=args.test_dir, seed=args.seed)
    print(report.text())
    return 0


def _cmd_predict(args) -> int:
    import pandas as pd
    from . import classify
    frame = classify.predict(args.model, args.images)
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 120):
        print(frame.to_string())
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value:g} must be a positive number of seconds, e.g. 3600")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{value} must be at least 0 and below 1 (e.g. 0.2)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cnnlib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute notebooks into reports (ipynb, HTML, metrics JSON)")
    run.add_argument("notebooks", nargs="*", help="notebook files or name prefixes (default: all)")
    run.add_argument("--profile", choices=["smoke", "full"], default="full")
    run.add_argument("--out", default="reports", help="output folder (default: reports/)")
    run.add_argument("--timeout", type=_positive_seconds, default=None,
                     help="seconds allowed per notebook (default: smoke 300; full: 1.5 x the "
                          "notebook's declared budget, more on a slower machine, else 1800)")
    run.add_argument("--save-outputs", action="store_true",
                     help="maintainers: write each executed notebook back into notebooks/ "
                          "(commit real-run outputs)")
    run.set_defaults(func=_cmd_run)

    st = sub.add_parser("student", help="write the student edition: solution cells removed, outputs cleared")
    st.add_argument("notebooks", nargs="*", help="notebook files or name prefixes (default: all)")
    st.add_argument("--out", default="student", help="output folder (default: student/)")
    st.set_defaults(func=_cmd_student)

    gd = sub.add_parser("guide", help="maintainers: regenerate docs/instructor.md from the committed runs")
    gd.add_argument("--out", default=None, help="file to write (default: docs/instructor.md)")
    gd.set_defaults(func=_cmd_guide)

    doc = sub.add_parser("doctor", help="check Python, TensorFlow, the Jupyter kernel and the datasets")
    doc.set_defaults(func=_cmd_doctor)

    tr = sub.add_parser("train", help="train a classifier on a folder-per-class image dataset")
    tr.add_argument("data_dir", help="folder with one sub-folder of images per class")
    tr.add_argument("--out", required=True, help="model file to write, ending in .keras")
    tr.add_argument("--image-size", nargs=2, type=_positive_int, default=[120, 160],
                    metavar=("H", "W"), help="resize every image to H x W (default: 120 160)")
    tr.add_argument("--epochs", type=_positive_int, default=10, help="default: 10")
    tr.add_argument("--batch-size", type=_positive_int, default=32, help="default: 32")
    tr.add_argument("--val-split", type=_fraction, default=0.2,
                    help="fraction of DATA_DIR held out at random for validation (default: 0.2)")
    tr.add_argument("--test-dir", default=None,
                    help="a separate folder (same class folders) to score the final report on")
    tr.add_argument("--seed", type=int, default=0, help="default: 0")
    tr.set_defaults(func=_cmd_train)

    pr = sub.add_parser("predict", help="print class probabilities of images with a trained model")
    pr.add_argument("model", help="a .keras file written by `train`")
    pr.add_argument("images", nargs="+", help="image files")
    pr.set_defaults(func=_cmd_predict)
    return parser


def main(argv=None) -> int:
    from .cpu import enable_onednn
    enable_onednn()  # TF_ENABLE_ONEDNN_OPTS=1 unless you set it; TensorFlow reads it at import
    parser = build_parser()
    args = parser.parse_args(argv)
    from .errors import CnnlibError
    try:
        if args.command in ("train", "predict"):
            from . import import_tensorflow_quietly
            import_tensorflow_quietly()  # no CUDA-stub or oneDNN notices on the terminal
        return args.func(args)
    except (CnnlibError, ValueError, FileNotFoundError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"{parser.prog} {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
