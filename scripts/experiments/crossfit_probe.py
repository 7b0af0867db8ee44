"""Where should the hybrid's stacking weights come from: the validation slice, or every training row cross-fitted?

Today's protocol (`model.hybrid_fit: validation`): each fold's training rows less a stratified
15% (the recipe's `data.split.valid`) fit the parts (the baselines; the transformer, here a ridge
student on the frozen MiniLM's top-layer mean taught by the recipe's `distill:` teachers, as the
shipped head is fitted); `hybrid.fit_stacker` learns the weights on the 15%. The candidate
(`crossfit`): every training row is scored by parts fitted on the other 4 of 5 inner folds, the
stacker learns from those predictions, and every part is refitted on all the training rows.
Each baseline is reported both ways too (fitted on 85% and on 100% of the training rows): on
the folds of `credtune cv`, the fair comparison gives every model all the training rows.
Folds: StratifiedKFold random_state 42, 43, 44; pooled out-of-fold AUC. Synthetic rows are left out.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/crossfit_probe.py german_credit \
        --features /tmp/german_layers.npz --extra catboost
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

sys.path.insert(0, str(Path(__file__).parent))
from pooling_probe import print_summary, record_repeat  # noqa: E402
from student_head_probe import ridge  # noqa: E402
from student_target_probe import layer_views  # noqa: E402

from credtune.config import DistillConfig  # noqa: E402
from credtune.distill import teacher_targets  # noqa: E402
from credtune.evaluation import fit_components  # noqa: E402
from credtune.hybrid import fit_stacker  # noqa: E402
from credtune.metrics import logit  # noqa: E402


def main() -> None:
    extra = sys.argv[sys.argv.index("--extra") + 1 :] if "--extra" in sys.argv else []  # baselines to add
    if extra:
        del sys.argv[sys.argv.index("--extra") :]
    recipe, prep, frame, y, views, started = layer_views()
    x = views["top layer"]
    base = list(dict.fromkeys(["logistic", "scorecard", "lightgbm", *extra]))
    shipped = list(recipe.model.hybrid or ["logistic", "scorecard", "lightgbm"])
    stacks = {
        "shipped": shipped,
        "all": base,
        **({"shipped+catboost": [*shipped, "catboost"]} if extra else {}),
    }
    cfg = recipe.distill or DistillConfig(weight=1.0, folds=3)
    cfg = DistillConfig(teachers=cfg.teachers, weight=1.0, folds=cfg.folds, synthetic=0)

    def parts(fit: np.ndarray, pred_sets: list[np.ndarray], seed: int) -> list[tuple]:
        """The student's margin and each baseline's PD, fitted on `fit`, on each of `pred_sets`."""
        soft = teacher_targets(cfg, frame.iloc[fit], y[fit], prep, seed, recipe.baseline_params).soft
        margin = ridge(x[fit], logit(np.clip(soft, 1e-4, 1 - 1e-4)), x[np.concatenate(pred_sets)])
        fitted = fit_components(base, frame.iloc[fit], y[fit], prep, seed, recipe.baseline_params)
        out, start = [], 0
        for idx in pred_sets:
            pds = {n: c.predict_proba(frame.iloc[idx]) for n, c in fitted.items()}
            out.append((margin[start : start + len(idx)], pds))
            start += len(idx)
        return out

    names = ["transformer 85%", "transformer 100%", *[f"{b} {s}" for s in ("85%", "100%") for b in base]]
    names += [f"hybrid {k} {how}" for how in ("split", "crossfit") for k in stacks]
    aucs: dict[str, list[float]] = {name: [] for name in names}
    weights = recipe.model.hybrid_weights
    for seed in (42, 43, 44):
        oof = {name: np.zeros(len(y)) for name in names}
        for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(y, y):
            fit, valid = train_test_split(
                train, test_size=recipe.data.split.valid, stratify=y[train], random_state=seed
            )
            (m_valid, p_valid), (m_test, p_test) = parts(fit, [valid, test], seed)
            oof["transformer 85%"][test] = m_test
            for k, s in stacks.items():
                stacker = fit_stacker(m_valid, p_valid, y[valid], s, weights)
                oof[f"hybrid {k} split"][test] = stacker.predict(m_test, p_test)
            m_held, p_held = np.zeros(len(train)), {b: np.zeros(len(train)) for b in base}
            for inner, held in StratifiedKFold(5, shuffle=True, random_state=seed).split(train, y[train]):
                [(m, p)] = parts(train[inner], [train[held]], seed)
                m_held[held] = m
                for b in base:
                    p_held[b][held] = p[b]
            [(m_all, p_all)] = parts(train, [test], seed)
            oof["transformer 100%"][test] = m_all
            for b in base:
                oof[f"{b} 85%"][test], oof[f"{b} 100%"][test] = p_test[b], p_all[b]
            for k, s in stacks.items():
                stacker = fit_stacker(m_held, p_held, y[train], s, weights)
                oof[f"hybrid {k} crossfit"][test] = stacker.predict(m_all, p_all)
            print(f"    fold done, {time.perf_counter() - started:.0f} s", flush=True)
        record_repeat(aucs, oof, y, seed)
    print_summary(aucs, time.perf_counter() - started)


if __name__ == "__main__":
    main()
