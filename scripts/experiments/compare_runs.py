"""Fold-paired difference of one model in one cv run against a model in another run on the same
folds (or the same run: pass `-`), with the corrected resampled t interval `credtune cv` reports
(`metrics.comparison.paired_interval`): how the lab notebook compares a round with the last one.

    python scripts/experiments/compare_runs.py NEW/cv.json OLD/cv.json transformer transformer
    python scripts/experiments/compare_runs.py NEW/cv.json - transformer lightgbm
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from credtune.metrics.comparison import paired_interval


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("new", type=Path)
    parser.add_argument("old", help="the other run's cv.json, or - for the same run")
    parser.add_argument("model")
    parser.add_argument("other")
    cli = parser.parse_args()
    new = json.loads(cli.new.read_text())
    old = new if cli.old == "-" else json.loads(Path(cli.old).read_text())
    pairs = list(zip(new["per_fold"], old["per_fold"], strict=True))
    if any((a["seed"], a["fold"]) != (b["seed"], b["fold"]) for a, b in pairs):
        raise SystemExit("the two runs' folds differ: compare runs made with the same seeds and --folds")
    diffs = np.array([a[f"{cli.model}_auc"] - b[f"{cli.other}_auc"] for a, b in pairs])
    paired = paired_interval(diffs, new["folds"])
    low, high = paired["ci95"]
    print(
        f"{cli.model} - {cli.other}: {paired['mean']:+.4f} [{low:+.4f}, {high:+.4f}], "
        f"{int((diffs > 0).sum())} of {paired['n']} folds up"
    )


if __name__ == "__main__":
    main()
