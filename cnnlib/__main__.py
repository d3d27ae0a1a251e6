"""Command line: ``python -m cnnlib {run,doctor} ...``."""
from __future__ import annotations

import argparse
import sys


def _cmd_run(args) -> int:
    from . import report
    records = report.run_notebooks(args.notebooks or None, profile=args.profile, out=args.out,
                                   timeout=args.timeout)
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        print(f"\n{len(failed)} of {len(records)} notebook(s) did not finish: "
              + ", ".join(f"{r['notebook']} ({r['status']})" for r in failed), file=sys.stderr)
        return 1
    return 0


def _cmd_doctor(args) -> int:
    from . import doctor
    return doctor.main()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cnnlib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute notebooks into reports (ipynb, HTML, metrics JSON)")
    run.add_argument("notebooks", nargs="*", help="notebook files or name prefixes (default: all)")
    run.add_argument("--profile", choices=["smoke", "full"], default="full")
    run.add_argument("--out", default="reports", help="output folder (default: reports/)")
    run.add_argument("--timeout", type=float, default=None,
                     help="seconds allowed per notebook (default: 300 smoke, 1800 full)")
    run.set_defaults(func=_cmd_run)

    doc = sub.add_parser("doctor", help="check Python, TensorFlow, the Jupyter kernel and the datasets")
    doc.set_defaults(func=_cmd_doctor)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
