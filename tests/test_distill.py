"""Distillation from the baselines: the loss mixes label and teacher as promised, the teachers'
PDs on the training rows are cross-fitted, and bad settings are one clear line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import RECIPES
from credtune import load_recipe
from credtune.config import DistillConfig
from credtune.data import prepare
from credtune.distill import mix_rows, teacher_targets
from credtune.errors import ConfigError
from credtune.training import soft_target_loss


def test_soft_target_loss_is_the_mix_of_two_cross_entropies() -> None:
    logits = torch.tensor([[0.3, -0.2], [1.0, 2.0], [-0.5, 0.5]])
    y = torch.tensor([0.0, 1.0, 1.0])
    teacher = torch.tensor([0.2, 0.7, 0.4])
    w = 0.3
    ce = torch.nn.functional.cross_entropy
    expected = (1 - w) * ce(logits, y.long()) + w * ce(logits, torch.stack([1 - teacher, teacher], 1))
    got = soft_target_loss({"logits": logits}, (1 - w) * y + w * teacher)
    torch.testing.assert_close(got, expected)
    hard = soft_target_loss({"logits": logits}, y.long())  # evaluation batches carry 0/1 labels
    torch.testing.assert_close(hard, ce(logits, y.long()))


@pytest.fixture(scope="module")
def german_train():
    recipe = load_recipe(RECIPES / "german_credit.yaml", ["data.sample=300"])
    prep = prepare(recipe)
    frame = prep.split("train").to_pandas()
    return prep, frame, frame["labels"].to_numpy(dtype=int)


def test_teacher_pds_are_cross_fitted(german_train) -> None:
    prep, frame, y = german_train
    crossed = teacher_targets(
        DistillConfig(teachers=["lightgbm"], weight=1.0, folds=3), frame, y, prep, 0
    ).soft
    from sklearn.metrics import roc_auc_score

    from credtune.evaluation import fit_components

    in_sample = fit_components(["lightgbm"], frame, y, prep, 0)["lightgbm"].predict_proba(frame)
    assert roc_auc_score(y, in_sample) > roc_auc_score(y, crossed) + 0.05  # in-sample would just echo y
    soft = teacher_targets(DistillConfig(teachers=["logistic"], weight=0.25, folds=3), frame, y, prep, 0).soft
    assert soft.min() >= 0 and soft.max() <= 1
    assert np.all(soft[y == 1] >= 0.75) and np.all(soft[y == 0] <= 0.25)


def test_synthetic_rows_mix_real_values_and_get_teacher_targets(german_train) -> None:
    prep, frame, y = german_train
    columns = prep.serializer.columns
    mixed = mix_rows(frame, columns, 2, 0.3, np.random.default_rng(0))
    assert len(mixed) == 2 * len(frame)
    base = frame.iloc[mixed["_base"]].reset_index(drop=True)
    changed = (mixed[columns].astype(str) != base[columns].astype(str)).to_numpy().mean()
    assert 0.1 < changed < 0.3  # about `swap` of the fields, less the draws that picked the same value
    for column in columns:  # every value is one a real applicant had
        assert set(mixed[column].astype(str)) <= set(frame[column].astype(str)), column
    cfg = DistillConfig(teachers=["logistic"], folds=3, synthetic=2)
    targets = teacher_targets(cfg, frame, y, prep, 0)
    assert len(targets.synthetic) == 2 * len(frame) and "_base" not in targets.synthetic
    assert targets.synthetic_pd.shape == (2 * len(frame),)
    assert targets.synthetic_pd.min() > 0 and targets.synthetic_pd.max() < 1


@pytest.mark.parametrize(
    "override, message",
    [
        ("distill.teachers=[]", "name at least one baseline"),
        ("distill.teachers=[xgboost]", "unknown baseline 'xgboost'"),
        ("distill.weight=1.5", "between 0 and 1"),
        ("distill.folds=1", "cross-fitting the teachers needs 2 or more"),
        ("distill.temperature=2", "unknown key 'distill.temperature'"),
        ("train_loss=weighted", "cannot be combined with train_loss: weighted"),
        ("model.train_layers=-1", "model.train_layers: must be 0 or more"),
        ("lora.r=4 model.train_layers=0", "leaves no layer for LoRA to adapt"),
        ("distill.swap=0", "swap a share in"),
        ("distill.synthetic=-1", "synthetic must be 0 or more"),
    ],
)
def test_bad_distill_settings_are_refused(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_recipe(RECIPES / "german_credit.yaml", ["distill.weight=0.5", *override.split()])
