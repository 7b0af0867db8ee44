"""Which calibrator for the transformer? Every method refitted on a `credtune cv` run's folds.

Each line of folds.jsonl holds the validation rows' transformer margins (what the fold's
calibrator was fitted on) and the held-out rows' margins. Here each method of
`metrics.calibration` is fitted on every fold's validation rows, applied to its held-out rows, and
pooled per repeat: the pooled out-of-fold AUC (different folds' calibrators put their PDs on
slightly different scales, which costs pooled AUC though no single model's ranking changes), the
Brier score, log loss and calibration error of the pooled PDs, mean over the repeats.

    python scripts/experiments/calibrators.py runs/german_credit-cv
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from credtune.metrics import apply_calibrator, expected_calibration_error, fit_calibrator

METHODS = ("none", "temperature", "platt", "isotonic")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cv_dir", type=Path, help="a `credtune cv` output folder (folds.jsonl, oof.csv)")
    args = parser.parse_args()
    y = pd.read_csv(args.cv_dir / "oof.csv").sort_values("row")["label"].to_numpy(dtype=int)
    repeats: dict[int, list[dict]] = {}
    for line in (args.cv_dir / "folds.jsonl").read_text(encoding="utf-8").splitlines():
        fold = json.loads(line)
        repeats.setdefault(fold["seed"], []).append(fold)
    print(f"{args.cv_dir}: {len(repeats)} repeats, {len(y)} rows")
    print(f"{'method':12s} {'pooled AUC':>10s} {'Brier':>8s} {'log loss':>9s} {'ECE':>7s}")
    for method in METHODS:
        scores = []
        for folds in repeats.values():
            pd_oof = np.full(len(y), np.nan)
            for fold in folds:
                v = fold["validation"]
                calibrator = fit_calibrator(method, v["margin"], y[v["rows"]])
                pd_oof[fold["rows"]] = apply_calibrator(calibrator, v["test_margin"])
            seen = ~np.isnan(pd_oof)
            p, t = np.clip(pd_oof[seen], 1e-7, 1 - 1e-7), y[seen]
            scores.append(
                (
                    roc_auc_score(t, p),
                    brier_score_loss(t, p),
                    log_loss(t, p),
                    expected_calibration_error(t, p),
                )
            )
        auc, brier, loss, ece = np.mean(scores, axis=0)
        print(f"{method:12s} {auc:10.4f} {brier:8.4f} {loss:9.4f} {ece:7.4f}")


if __name__ == "__main__":
    main()
