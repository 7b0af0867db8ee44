"""Do supervised risk words help a frozen MiniLM? A linear probe on the mean of its states, 3 x 5 folds.

Each structured field's value is followed by the risk of its optbinning bin, fitted on the fold's
training rows only ("checking: < 0 DM (much higher risk)"; five words from the bin's weight of
evidence: below -0.5, -0.15, 0.15, 0.5), so the encoder reads the scorecard's binning as words.
Every fold's rows are serialized and encoded again (the words depend on the fold), and an L2
logistic regression (C by inner 3-fold AUC) on the mean of the top layer's states predicts the
held-out rows; beside it the same probe on today's text, and a logistic regression on the WoE
columns themselves. StratifiedKFold random_state 42, 43, 44 (the baselines' protocol), labels only.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/risk_words_probe.py german_credit
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd
import torch
from optbinning import BinningProcess
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from credtune.config import load_recipe
from credtune.data import prepare
from credtune.serialize import TEMPLATES

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from pooling_probe import features, probe_fold  # noqa: E402

WORDS = ("much higher risk", "higher risk", "average risk", "lower risk", "much lower risk")


def risk_word(woe: float) -> str:
    """optbinning's WoE is ln(good share / bad share): negative where bads are over-represented."""
    return WORDS[int(np.searchsorted([-0.5, -0.15, 0.15 + 1e-12, 0.5 + 1e-12], woe, side="right"))]


def main(recipe_name: str) -> None:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(2)
    prep = prepare(load_recipe(recipe_name))
    ser, records = prep.serializer, [dict(r) for r in prep.table]
    y = np.asarray(prep.table["labels"])
    names = [f.name for f in ser.fields if f.kind != "text"]
    cats = [f.name for f in ser.fields if f.kind == "categorical"]
    frame = pd.DataFrame(records)[names].astype({c: str for c in cats})
    prefix, kv, suffix, sep = TEMPLATES[ser.template]

    def render(woe: np.ndarray) -> list[str]:
        rows = []
        for i, record in enumerate(records):
            parts = [(s.label, v + (f" ({risk_word(woe[i, names.index(s.name)])})" if s.name in names else ""))
                     for s, v in ser.parts(record)]  # fmt: skip
            rows.append(sep.join(f"{prefix}{label}{kv}{value}{suffix}" for label, value in parts))
        return rows

    plain = features([ser(r) for r in records])["mean, layer 6"]
    results: dict[str, list[float]] = {"today's text": [], "risk words": [], "WoE logistic": []}
    started = time.perf_counter()
    for random_state in (42, 43, 44):
        oof = {name: np.zeros(len(y)) for name in results}
        for fit, test in StratifiedKFold(5, shuffle=True, random_state=random_state).split(frame, y):
            binning = BinningProcess(names, categorical_variables=cats, n_jobs=1).fit(frame.iloc[fit], y[fit])
            woe = binning.transform(frame, metric="woe").to_numpy()
            worded = features(render(woe))["mean, layer 6"]
            oof["today's text"][test] = probe_fold(plain[fit], y[fit], plain[test])
            oof["risk words"][test] = probe_fold(worded[fit], y[fit], worded[test])
            clf = LogisticRegression(max_iter=2000).fit(woe[fit], y[fit])
            oof["WoE logistic"][test] = clf.predict_proba(woe[test])[:, 1]
        for name in results:
            results[name].append(roc_auc_score(y, oof[name]))
        print(random_state, {k: round(v[-1], 4) for k, v in results.items()},
              f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    print(render(woe)[0])
    for name, aucs in results.items():
        print(f"{name:14s} {np.mean(aucs):.4f} ± {np.std(aucs):.4f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "german_credit")
