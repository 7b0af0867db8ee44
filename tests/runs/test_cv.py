"""`credtune cv` end to end on the tiny model: every row gets exactly one out-of-fold prediction
from every model, and the stacked blend never sees the labels of the fold it scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import RECIPES, run_cli
from credtune import cross_validate
from credtune.errors import ConfigError, CredtuneError
from credtune.metrics import credit_metrics
from credtune.runs.cv import _cross_fitted_stack, _rank01

MODELS = ("hybrid", "transformer", "logistic", "scorecard", "lightgbm", "kernel", "blend", "blend_stacked")


@pytest.fixture(scope="module")
def cv_dir(tmp_path_factory: pytest.TempPathFactory, tiny_overrides: list[str]) -> Path:
    out = tmp_path_factory.mktemp("cv") / "german-cv"
    args = ["--folds", "2", "-o", str(out), *tiny_overrides, "train.max_steps=4", "data.sample=200",
            "distill.folds=2", "distill.synthetic=1"]  # fmt: skip
    result = run_cli("cv", str(RECIPES / "german_credit.yaml"), *args, "model.blend=lightgbm")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "out-of-fold" in result.stdout
    return out


def test_cv_json_has_pooled_and_per_fold_figures(cv_dir: Path):
    cv = json.loads((cv_dir / "cv.json").read_text())
    assert {"models", "per_fold", "per_seed", "blend", "wall_seconds", "command", "folds", "n"} <= set(cv)
    assert cv["folds"] == 2 and cv["n"] == 200 and cv["wall_seconds"] > 0
    assert cv["command"].startswith("credtune cv ") and "--folds 2" in cv["command"]
    assert set(cv["models"]) == set(MODELS)
    for name in ("transformer", "logistic", "lightgbm"):
        model = cv["models"][name]
        assert all(model[k] is not None for k in ("auc", "ks", "brier"))
        assert len(model["folds"]["auc"]["values"]) == 2 and model["folds"]["auc"]["std"] >= 0
    assert 0 <= cv["blend"]["rank_average"]["auc"] <= 1
    assert len(cv["blend"]["stacked"]["weights"]) == 2
    assert cv["models"]["blend"]["brier"] is None  # a rank average is no probability


def test_every_row_has_exactly_one_oof_prediction(cv_dir: Path):
    cv = json.loads((cv_dir / "cv.json").read_text())
    oof = pd.read_csv(cv_dir / "oof.csv")
    assert len(oof) == cv["n"] and oof["row"].is_unique and set(oof["fold"]) == {1, 2}
    assert oof[list(MODELS)].notna().all().all()
    assert sum(f["test_rows"] for f in cv["per_fold"]) == cv["n"]
    for fold in cv["per_fold"]:  # baselines were fitted and scored in every fold
        assert fold["train_rows"] + fold["valid_rows"] + fold["test_rows"] == cv["n"]
        assert fold["logistic_auc"] is not None and fold["lightgbm_auc"] is not None
    auc = cv["models"]["transformer"]["auc"]
    assert credit_metrics(oof["label"], oof["transformer"])["auc"] == pytest.approx(auc)


def test_the_hybrid_learns_its_weights_from_every_training_row_cross_fitted(cv_dir: Path):
    """`model.hybrid_fit: auto` after a fitted head: each fold's parts train on all its training
    rows, and the stacker learns from those rows' predictions by parts that never saw them."""
    for line in map(json.loads, (cv_dir / "folds.jsonl").read_text().splitlines()):
        assert line["hybrid_fit"] == "crossfit" and line["valid_rows"] == 0
        held = line["validation"]
        assert len(held["rows"]) == line["train_rows"] and not set(held["rows"]) & set(line["rows"])
        assert len(held["margin"]) == line["train_rows"] and np.isfinite(held["margin"]).all()
        assert set(held["pd"]) == {"scorecard", "lightgbm", "kernel"}  # the hybrid's parts


def test_cv_report_and_refusal_to_overwrite(cv_dir: Path):
    html = (cv_dir / "report.html").read_text(encoding="utf-8")
    assert "Per fold" in html and "ROC curves" in html and "data:image/png;base64," in html
    assert not (cv_dir / ".cv-checkpoints").exists()
    with pytest.raises(CredtuneError, match="--overwrite"):
        cross_validate(RECIPES / "german_credit.yaml", folds=2, output_dir=cv_dir)


@pytest.mark.parametrize(
    ("folds", "seeds", "message"), [(1, 1, "at least 2 folds"), (2, 0, "at least 1 repeat")]
)
def test_bad_fold_arguments(tmp_path, folds, seeds, message):
    with pytest.raises(ConfigError, match=message):
        cross_validate(RECIPES / "german_credit.yaml", folds=folds, seeds=seeds, output_dir=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_stacked_blend_is_cross_fitted():
    """Changing the labels of fold 1 must not move fold 1's stacked predictions."""
    rng = np.random.default_rng(0)
    y = rng.binomial(1, 0.3, 200)
    p_text, p_gbm = rng.random(200), np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    fold = np.repeat([0, 1], 100)
    first, _ = _cross_fitted_stack(y, p_text, p_gbm, fold)
    flipped = y.copy()
    flipped[fold == 0] = 1 - flipped[fold == 0]
    second, _ = _cross_fitted_stack(flipped, p_text, p_gbm, fold)
    np.testing.assert_allclose(first[fold == 0], second[fold == 0])
    assert not np.allclose(first[fold == 1], second[fold == 1])
    assert _rank01(np.array([0.3, 0.1, 0.2])).tolist() == [1.0, 0.0, 0.5]


def test_seeds_are_averaged_and_reported_one_by_one():
    from credtune.config import load_recipe
    from credtune.runs.cv import summarize

    rng = np.random.default_rng(1)
    y = rng.binomial(1, 0.3, 120)
    runs = {
        name: [np.clip(y * 0.3 + rng.random(120) * 0.7, 0, 1) for _ in range(2)]
        for name in ("transformer", "lightgbm")
    }
    fold_of = np.tile(np.arange(120) % 3, (2, 1))
    per_fold = [{"transformer_auc": 0.7, "lightgbm_auc": 0.6} for _ in range(6)]
    recipe = load_recipe(RECIPES / "german_credit.yaml", ["model.blend=lightgbm"])
    out = summarize(recipe, y, runs, fold_of, per_fold)
    assert [s["seed"] for s in out["per_seed"]] == [recipe.seed, recipe.seed + 1]
    mean = credit_metrics(y, np.mean(runs["transformer"], axis=0))["auc"]
    assert out["models"]["transformer"]["auc"] == pytest.approx(mean)
    assert out["models"]["transformer"]["folds"]["auc"]["values"] == [0.7] * 6
    assert out["folds"] == 3 and out["seeds"] == 2 and len(out["blend"]["stacked"]["weights"]) == 3
