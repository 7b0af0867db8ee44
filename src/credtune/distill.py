"""Distillation from the baselines (`distill:`): soft targets for the transformer's training rows.

On a thousand rows the labels are a thin signal; the baselines' PDs say how risky each applicant
looks, not only whether they defaulted. The transformer's target becomes (1 - w) * label +
w * teacher PD (`training.soft_target_loss`), and the saved model is still a plain sequence
classifier. The teachers' PDs on the training rows are cross-fitted: each row is scored by
teachers fitted on the other folds, never by a model that saw its label.

With `synthetic: k`, each training row also gives k new applicants, a share (`swap`) of whose
fields come from other random training rows (MUNGE, Bucila et al. 2006: a student matches its
teacher better on more points); their only target is the teachers' PD, from the teachers of the
fold that held the row they started from, so no teacher scores a near-copy of a row it learned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .config import DistillConfig
from .metrics import logit, sigmoid

log = logging.getLogger(__name__)


@dataclass
class Targets:
    """The training rows' soft labels, and the synthetic rows with their teacher PDs."""

    soft: np.ndarray
    synthetic: pd.DataFrame | None = None
    synthetic_pd: np.ndarray | None = None


def mix_rows(
    frame: pd.DataFrame, columns: list[str], k: int, swap: float, rng: np.random.Generator
) -> pd.DataFrame:
    """k rows per row of `frame`: a copy whose fields are each, with probability `swap`, taken
    from another random row (every field keeps values a real applicant had)."""
    base = np.repeat(np.arange(len(frame)), k)
    out = frame.iloc[base].reset_index(drop=True).copy()
    for column in columns:
        take = rng.random(len(out)) < swap
        donors = rng.integers(0, len(frame), int(take.sum()))
        out.loc[take, column] = frame[column].to_numpy()[donors]
    out["_base"] = base
    return out


def teacher_targets(
    cfg: DistillConfig, frame: pd.DataFrame, y: np.ndarray, prep: Any, seed: int, params: dict | None = None
) -> Targets:
    """Cross-fitted teacher PD (the teachers' log-odds averaged) for every row of `frame`, and
    for `cfg.synthetic` new rows per row; soft labels mix the PD with the label. `params`: the
    recipe's `baseline_params`, so a teacher is the baseline the run reports."""
    from sklearn.model_selection import StratifiedKFold

    from .evaluation import fit_components

    y = np.asarray(y, dtype=int)
    folds = min(cfg.folds, int(np.bincount(y, minlength=2).min()))
    if folds < 2:
        raise ValueError("distill: the training rows hold fewer than 2 rows of a class")
    rng = np.random.default_rng(seed)
    synthetic = (
        mix_rows(frame, prep.serializer.columns, cfg.synthetic, cfg.swap, rng) if cfg.synthetic else None
    )
    teacher, synthetic_pd = np.zeros(len(y)), np.zeros(0 if synthetic is None else len(synthetic))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_idx, held_idx in splitter.split(np.zeros(len(y)), y):
        teachers = list(
            fit_components(list(cfg.teachers), frame.iloc[fit_idx], y[fit_idx], prep, seed, params).values()
        )
        teacher[held_idx] = ensemble_pd(teachers, frame.iloc[held_idx])
        if synthetic is not None:
            rows = np.flatnonzero(np.isin(synthetic["_base"].to_numpy(), held_idx))
            synthetic_pd[rows] = ensemble_pd(teachers, synthetic.iloc[rows])
    from sklearn.metrics import roc_auc_score

    log.info("distill: teachers %s, cross-fitted AUC on the training rows %.4f%s", cfg.teachers,
             roc_auc_score(y, teacher), f"; {len(synthetic_pd)} synthetic rows" if synthetic is not None else "")  # fmt: skip
    soft = (1 - cfg.weight) * y.astype(float) + cfg.weight * teacher
    if synthetic is not None:
        synthetic = synthetic.drop(columns="_base")
    return Targets(soft, synthetic, synthetic_pd if synthetic is not None else None)


def ensemble_pd(teachers: list[Any], rows: pd.DataFrame) -> np.ndarray:
    log_odds = [logit(np.clip(t.predict_proba(rows), 1e-6, 1 - 1e-6)) for t in teachers]
    return sigmoid(np.mean(log_odds, axis=0))


def with_soft_labels(ds: Any, soft: np.ndarray) -> Any:
    """`ds` (tokenized training rows) with float targets in place of its 0/1 labels."""
    return ds.remove_columns("labels").add_column("labels", [float(v) for v in soft])


def distilled_train_set(
    recipe: Any, train_ds: Any, frame: pd.DataFrame, prep: Any, tokenizer: Any, model: Any, cache: Any
) -> tuple[Any, Any]:
    """The tokenized training rows with soft labels, and the synthetic rows appended (their frozen
    states added to a copy of `cache`, which stays as it was for the other folds)."""
    from .training import encode, model_inputs

    y = frame["labels"].to_numpy(dtype=int)
    targets = teacher_targets(recipe.distill, frame, y, prep, recipe.seed, recipe.baseline_params)
    train_ds = with_soft_labels(train_ds, targets.soft)
    if targets.synthetic is None:
        return train_ds, cache
    from datasets import Dataset, concatenate_datasets

    table = Dataset.from_pandas(targets.synthetic, preserve_index=False)
    extra = encode(table, prep.serializer, tokenizer, recipe.model.max_length)
    offset = len(cache.states) if cache is not None else 0
    extra = extra.map(lambda b: {"table_row": [r + offset for r in b["table_row"]]}, batched=True)
    extra = model_inputs(with_soft_labels(extra, targets.synthetic_pd))
    if cache is not None:
        cache = cache.extended(model, extra, tokenizer.pad_token_id)
    train_ds = model_inputs(train_ds)
    return concatenate_datasets([train_ds, extra.cast(train_ds.features)]), cache
