"""Why does the closed-form head read less in `credtune cv` than in `linear_head_probe.py`? Two
differences, checked on the seed-42 folds with the probe's `teachers` head (ridge regression on the
log-odds of the baselines' cross-fitted PD, `distill.folds: 3`, weight 1.0):

- the rows: the probe fits on all of a fold's training rows, `credtune cv` on them less a
  stratified 15% held for calibration and stacking;
- the vector: the probe reads the mean of the top layer's states, the shipped model the output of
  the pooling layer, a LayerNorm of that mean.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/linear_head_rows.py
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import RidgeCV
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parent))
from pooling_probe import features  # noqa: E402

from credtune.config import DistillConfig, load_recipe  # noqa: E402
from credtune.data import prepare  # noqa: E402
from credtune.distill import teacher_targets  # noqa: E402
from credtune.metrics import logit  # noqa: E402


def main() -> None:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(2)
    prep = prepare(load_recipe("german_credit"))
    frame = prep.table.to_pandas()
    y = frame["labels"].to_numpy(dtype=int)
    x = features([prep.serializer(r) for r in prep.table])["mean, layer 6"]
    normed = torch.nn.functional.layer_norm(torch.as_tensor(x), (x.shape[1],)).numpy()
    cfg = DistillConfig(weight=1.0, folds=3, synthetic=0)
    for name, feats, held in [("mean, all rows", x, False), ("LayerNorm of the mean, all rows", normed, False),
                              ("mean, 85% of rows", x, True), ("LayerNorm of the mean, 85% of rows", normed, True)]:  # fmt: skip
        oof = np.zeros(len(y))
        for fit, test in StratifiedKFold(5, shuffle=True, random_state=42).split(x, y):
            if held:
                fit, _ = train_test_split(fit, test_size=0.15, stratify=y[fit], random_state=42)
            soft = teacher_targets(cfg, frame.iloc[fit], y[fit], prep, 42).soft
            scaler = StandardScaler().fit(feats[fit])
            ridge = RidgeCV(alphas=np.logspace(-1, 5, 13))
            ridge.fit(scaler.transform(feats[fit]), logit(np.clip(soft, 1e-6, 1 - 1e-6)))
            oof[test] = ridge.predict(scaler.transform(feats[test]))
        print(f"{name:36s} {roc_auc_score(y, oof):.4f}", flush=True)


if __name__ == "__main__":
    main()
