"""Multiclass and regression baselines, and the notes-only baseline: shapes, skill, refusals, files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from baseline_data import CATEGORICAL, NUMERIC, TEXT, make_data, names, odd_rows
from sklearn.metrics import roc_auc_score

from credtune.baselines import BaselineError, fit_component, load_component, run_baselines
from credtune.baselines.trees import CATBOOST_PARAMS

N_CLASSES = 4  # the synthetic grades use 0..2; class 3 never occurs, as a rare grade may not in training


def targets(df: pd.DataFrame, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A rate-like number driven by income, debt, housing and the note's payment flag, and its grade."""
    rng = np.random.default_rng(seed)
    income = np.nan_to_num(np.log(df["income"].to_numpy(dtype=float)), nan=10.0)
    debt = np.nan_to_num(df["debt_ratio"].to_numpy(dtype=float), nan=0.5, posinf=0.5)
    flag = df["note"].fillna("").str.contains("payment").to_numpy()
    rate = -1.5 * (income - 10) / 0.4 + 3.0 * (debt - 0.5) + (df["housing"] == "rent") + 3.0 * flag
    rate = rate.to_numpy(dtype=float) + rng.normal(0, 0.3, len(df))
    return rate, np.digitize(rate, [0.5, 2.0])


TRAIN, Y_BINARY = make_data(500, 30, notes=True)
TEST, Y_TEST_BINARY = make_data(300, 31, notes=True)
RATE, GRADE = targets(TRAIN, 30)
TEST_RATE, TEST_GRADE = targets(TEST, 31)
LABELS = {"multiclass": GRADE, "regression": RATE, "binary": Y_BINARY}
FITTED: dict[tuple[str, str], Any] = {}


def fit(name: str, task: str, y: np.ndarray, n_classes: int = N_CLASSES) -> Any:
    """CatBoost with fewer rounds than its real settings, to keep the tests fast."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(CATBOOST_PARAMS, "iterations", 60)
        return fit_component(
            name, TRAIN, y, NUMERIC, CATEGORICAL, TEXT, seed=1, task=task, n_classes=n_classes
        )


def fitted(name: str, task: str) -> Any:
    """Fit once per (name, task) for the module: the tests only read the models."""
    if (name, task) not in FITTED:
        FITTED[name, task] = fit(name, task, LABELS[task])
    return FITTED[name, task]


def skill(task: str, predicted: np.ndarray) -> float:
    """1 - loss / loss of the training prior (log-loss) or training mean (squared error)."""
    if task == "regression":
        return 1 - np.mean((predicted - TEST_RATE) ** 2) / np.mean((RATE.mean() - TEST_RATE) ** 2)
    prior = np.bincount(GRADE, minlength=N_CLASSES) / len(GRADE)
    rows = np.arange(len(TEST_GRADE))
    return 1 - np.mean(np.log(predicted[rows, TEST_GRADE])) / np.mean(np.log(prior[TEST_GRADE]))


MIN_SKILL = {"notes": 0.05}  # the notes see only the payment flag; the others the table too (0.3)


@pytest.mark.parametrize("task", ["multiclass", "regression"])
@pytest.mark.parametrize("name", names(["logistic", "lightgbm", "catboost", "notes", "kernel"]))
def test_predictions_have_the_shape_and_the_signal(name: str, task: str) -> None:
    model = fitted(name, task)
    shape = (N_CLASSES,) if task == "multiclass" else ()
    for frame in (TEST, odd_rows(TEST), TEST.iloc[:0]):
        p = model.predict(frame)
        assert p.shape == (len(frame), *shape) and p.dtype == np.float64 and np.all(np.isfinite(p))
        if task == "multiclass":
            assert np.all(p >= 0) and np.allclose(p.sum(axis=1), 1.0, atol=1e-12)
            assert np.all(p[:, 3] < 1e-5)  # absent from training: ~0, the rest renormalized
    assert skill(task, model.predict(TEST)) > MIN_SKILL.get(name, 0.3)


@pytest.mark.parametrize("name", names(["logistic", "lightgbm", "catboost", "kernel"]))
def test_two_classes_seen_still_give_every_class(name: str) -> None:
    model = fit(name, "multiclass", np.where(GRADE == 1, 2, GRADE), n_classes=3)  # grade 1 never seen
    p = model.predict(TEST)
    assert p.shape == (len(TEST), 3) and np.allclose(p.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(p[:, 1] < 1e-5) and np.ptp(p[:, 2]) > 0.5


def _fit(**kwargs: object) -> None:
    args = {"name": "logistic", "task": "multiclass", "y": GRADE, "text": TEXT, "n_classes": N_CLASSES}
    args.update(kwargs)
    fit_component(args.pop("name"), TRAIN, args.pop("y"), NUMERIC, CATEGORICAL, args.pop("text"), **args)


def _run(**kwargs: object) -> None:
    args = {"names": ["logistic"], "task": "multiclass", "y": GRADE, "text": TEXT, "n_classes": N_CLASSES}
    args.update(kwargs)
    run_baselines(
        args.pop("names"), TRAIN, args.pop("y"), {"t": TEST}, NUMERIC, CATEGORICAL, n_jobs=1, **args
    )


SCORECARD = "the scorecard baseline is for binary targets (task: {}); leave it out of baselines"
NOTES = "the notes baseline needs note columns (data.text)"


@pytest.mark.parametrize(
    ("call", "kwargs", "message"),
    [
        (_fit, {"name": "scorecard"}, SCORECARD.format("multiclass")),
        (_fit, {"name": "scorecard", "task": "regression", "y": RATE}, SCORECARD.format("regression")),
        (_run, {"names": ["logistic", "scorecard"]}, SCORECARD.format("multiclass")),
        (_fit, {"name": "notes", "text": ()}, NOTES),
        (_fit, {"name": "notes", "text": (), "task": "binary", "y": Y_BINARY}, NOTES),
        (_run, {"names": ["notes"], "text": (), "task": "regression", "y": RATE}, NOTES),
        (_fit, {"task": "ordinal"}, "unknown task 'ordinal'; expected one of binary, multiclass, regression"),
        (_fit, {"n_classes": 1}, "n_classes must be a whole number of 2 or more, got 1"),
        (_fit, {"n_classes": 2}, "y_train must contain class indexes 0..1, two or more of them"),
        (_fit, {"y": np.zeros(len(GRADE))}, "y_train must contain class indexes 0..3, two or more of them"),
        (_run, {"y": GRADE + 0.5}, "y_train must contain class indexes 0..3"),
        (
            _fit,
            {"task": "regression", "y": np.where(GRADE == 1, np.nan, RATE)},
            "y_train must contain finite numbers",
        ),
    ],
)
def test_refused_with_one_line(call: Callable[..., None], kwargs: dict, message: str) -> None:
    with pytest.raises(BaselineError) as error:
        call(**kwargs)
    assert str(error.value).startswith(message), str(error.value)
    assert isinstance(error.value, ValueError) and "\n" not in str(error.value)


def test_non_binary_fits_are_not_saved(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="used within a run only and cannot be saved"):
        fitted("logistic", "multiclass").save(tmp_path)
    assert not any(tmp_path.iterdir())


def test_notes_binary_saves_beside_logistic_and_reloads_identically(tmp_path: Path) -> None:
    models = {name: fitted(name, "binary") for name in ("logistic", "notes")}
    assert models["notes"].columns.text == tuple(TEXT)
    assert not (models["notes"].columns.numeric or models["notes"].columns.categorical)
    assert roc_auc_score(Y_TEST_BINARY, models["notes"].predict_proba(TEST)) > 0.6
    metas = {name: m.save(tmp_path) for name, m in models.items()}
    assert [metas[n]["kind"] for n in models] == ["logistic", "notes"]
    assert not set(metas["logistic"]["files"].values()) & set(metas["notes"]["files"].values())
    for name, model in models.items():
        loaded = load_component(tmp_path, metas[name])
        assert loaded.name == name and loaded.columns == model.columns
        for frame in (TEST, odd_rows(TEST)):
            np.testing.assert_array_equal(loaded.predict(frame), model.predict_proba(frame))
    with pytest.raises(BaselineError, match="kind is 'logistic', expected 'notes'"):
        load_component(tmp_path, {**metas["logistic"], "kind": "notes"})


@pytest.mark.parametrize(
    ("task", "shape"), [("binary", (300,)), ("multiclass", (300, N_CLASSES)), ("regression", (300,))]
)
def test_run_baselines_gives_predict_per_split(task: str, shape: tuple[int, ...]) -> None:
    out = run_baselines(
        ["logistic", "notes"], TRAIN, LABELS[task], {"test": TEST, "odd": odd_rows(TEST)},
        NUMERIC, CATEGORICAL, seed=1, n_jobs=1, text=TEXT, task=task, n_classes=N_CLASSES,
    )  # fmt: skip
    for name in ("logistic", "notes"):
        assert out[name]["test"].shape == shape and out[name]["odd"].shape == (5, *shape[1:])
        np.testing.assert_array_equal(out[name]["test"], fitted(name, task).predict(TEST))
