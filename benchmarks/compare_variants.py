"""Validation curves of several training runs on one plot, and their figures side by side.

    python benchmarks/compare_variants.py AdaLN-A=runs/a AdaLN-B=runs/b Seq2Seq=runs/s Hybrid=runs/h \
        --out docs/variants.png [--up-to 300]

Reads each RUN/log.csv (written by ``maskvat train``); prints, per run, the validation
masked-token accuracy at each evaluation up to ``--up-to`` and the mean training throughput.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from maskvat.train.runlog import plot_runs, read_log


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", metavar="LABEL=RUN", help="a label and a run folder holding log.csv")
    ap.add_argument("--out", required=True, help="PNG to write")
    ap.add_argument("--up-to", type=int, default=None, help="only steps up to this one (compare equal budgets)")
    args = ap.parse_args()
    runs = {}
    for item in args.runs:
        label, _, folder = item.partition("=")
        if not folder:
            raise SystemExit(f"{item}: expected LABEL=RUN_FOLDER")
        log = read_log(Path(folder) / "log.csv")
        runs[label] = [r for r in log if args.up_to is None or r["step"] <= args.up_to]
    plot_runs(runs, Path(args.out), loss_key="ce", series_key="val_acc", loss_label="masked-token cross-entropy",
              series_label="masked-token accuracy (all levels)")
    report = {}
    for label, log in runs.items():
        evals = [r for r in log if "val_acc" in r]
        report[label] = {
            "steps": log[-1]["step"] if log else 0,
            "val_acc": {r["step"]: round(r["val_acc"], 4) for r in evals},
            "val_acc_level_1": round(evals[-1].get("val_acc_1", float("nan")), 4) if evals else None,
            # the log's tokens_per_s is the running mean since the (last) start of the run
            "tokens_per_s": round(float(log[-1]["tokens_per_s"]), 1) if log and "tokens_per_s" in log[-1] else None,
        }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
