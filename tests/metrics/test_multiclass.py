"""Multiclass metrics agree with sklearn, temperature scaling recovers a known distortion, and bad
inputs or damaged calibrator files fail with one clear ValueError."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score, log_loss, roc_auc_score

from credtune.metrics import (
    CLASS_METHODS,
    apply_class_calibrator,
    confusion,
    fit_class_calibrator,
    multiclass_block,
    multiclass_metrics,
    validate_class_calibrator,
)

K = 4


@pytest.fixture(scope="module")
def overconfident() -> tuple[np.ndarray, np.ndarray]:
    """Logits twice too large: the true probabilities are softmax(logits / 2), so T = 2 is right."""
    rng = np.random.default_rng(3)
    z_true = rng.normal(0.0, 1.5, size=(8000, K)) + np.linspace(0, 1, K)
    p_true = softmax(z_true, axis=1)
    y = np.array([rng.choice(K, p=row) for row in p_true])
    return 2.0 * z_true, y


@pytest.fixture(scope="module")
def scored(overconfident: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    z, y = overconfident
    return y, softmax(z / 2.0, axis=1)


def top_label_ece(y: np.ndarray, proba: np.ndarray, bins: int = 10) -> float:
    """Reference ECE written as the textbook loop over equal-width confidence bins."""
    conf, correct = proba.max(axis=1), proba.argmax(axis=1) == y
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = (conf >= lo) & ((conf < hi) if b < bins - 1 else (conf <= hi))
        if inside.any():
            total += inside.sum() * abs(correct[inside].mean() - conf[inside].mean())
    return total / y.size


REFERENCES = {
    "accuracy": lambda y, p: accuracy_score(y, p.argmax(1)),
    "macro_f1": lambda y, p: f1_score(y, p.argmax(1), average="macro", labels=range(K), zero_division=0),
    "auc": lambda y, p: roc_auc_score(y, p, multi_class="ovr", average="macro"),
    "log_loss": lambda y, p: log_loss(y, p, labels=range(K)),
    "ece": top_label_ece,
    "qwk": lambda y, p: cohen_kappa_score(y, p.argmax(1), weights="quadratic"),
    "mae_grade": lambda y, p: np.mean(np.abs(p.argmax(1) - y)),
}


@pytest.mark.parametrize("key", list(REFERENCES))
def test_metrics_match_reference(scored: tuple[np.ndarray, np.ndarray], key: str) -> None:
    y, proba = scored
    got = multiclass_metrics(y, proba, ordered=True)
    assert isinstance(got[key], float)
    assert got[key] == pytest.approx(float(REFERENCES[key](y, proba)), rel=1e-9, abs=1e-12)
    assert got["n"] == y.size


def test_unordered_has_no_grade_metrics(scored: tuple[np.ndarray, np.ndarray]) -> None:
    y, proba = scored
    assert not {"qwk", "mae_grade"} & set(multiclass_metrics(y, proba))
    assert {"qwk", "mae_grade"} <= set(multiclass_metrics(y, proba, ordered=True))


def test_auc_uses_only_classes_present(scored: tuple[np.ndarray, np.ndarray]) -> None:
    y, proba = scored
    keep = y < 2  # classes 2 and 3 never occur
    per_class = [roc_auc_score(y[keep] == c, proba[keep, c]) for c in (0, 1)]
    assert multiclass_metrics(y[keep], proba[keep])["auc"] == pytest.approx(np.mean(per_class))


def test_single_class_gives_none_not_error(scored: tuple[np.ndarray, np.ndarray]) -> None:
    _, proba = scored
    y = np.zeros(5, dtype=int)
    p = np.tile(np.eye(K)[0], (5, 1))  # always predicts class 0: kappa is 0/0
    got = multiclass_metrics(y, p, ordered=True)
    assert got["auc"] is None and got["qwk"] is None
    assert got["accuracy"] == 1.0 and got["mae_grade"] == 0.0


def test_confusion_rows_are_actual() -> None:
    rng = np.random.default_rng(0)
    y, pred = rng.integers(0, K, 300), rng.integers(0, K - 1, 300)  # class K-1 never predicted
    expected = np.zeros((K, K), dtype=int)
    np.add.at(expected, (y, pred), 1)
    got = confusion(y, pred, K)
    assert got == expected.tolist()
    assert all(type(c) is int for row in got for c in row)
    assert [row[-1] for row in got] == [0] * K


def test_temperature_recovers_two(overconfident: tuple[np.ndarray, np.ndarray]) -> None:
    z, y = overconfident
    cal = fit_class_calibrator("temperature", z, y)
    assert cal["method"] == "temperature"
    assert cal["temperature"] == pytest.approx(2.0, rel=0.05)
    after = apply_class_calibrator(cal, z)
    assert log_loss(y, after) < log_loss(y, softmax(z, axis=1))
    np.testing.assert_array_equal(after.argmax(1), z.argmax(1))  # one T never changes the ranking


@pytest.mark.parametrize("method", CLASS_METHODS)
def test_json_round_trip_is_exact(overconfident: tuple[np.ndarray, np.ndarray], method: str) -> None:
    z, y = overconfident
    cal = fit_class_calibrator(method, z[:2000], y[:2000])
    loaded = json.loads(json.dumps(cal))
    assert validate_class_calibrator(loaded) == cal
    np.testing.assert_array_equal(apply_class_calibrator(loaded, z), apply_class_calibrator(cal, z))


def test_none_is_softmax_and_apply_is_stable() -> None:
    z = np.array([[1000.0, 0.0, -1000.0], [-3.0, 0.5, 2.0]])
    np.testing.assert_allclose(apply_class_calibrator({"method": "none"}, z), softmax(z, axis=1))
    p = apply_class_calibrator({"method": "temperature", "temperature": 0.01}, z)
    assert np.all(np.isfinite(p)) and np.allclose(p.sum(1), 1.0)
    assert apply_class_calibrator({"method": "none"}, z[:1]).shape == (1, 3)  # one applicant is fine


def test_single_class_gives_identity() -> None:
    z = np.array([[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]])
    with pytest.warns(UserWarning, match="at least 2 classes"):
        cal = fit_class_calibrator("temperature", z, [1, 1, 1])
    np.testing.assert_allclose(apply_class_calibrator(cal, z), softmax(z, axis=1))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([], "must be a JSON object"),
        ({}, "no 'method'"),
        ({"method": "temprature"}, "did you mean 'temperature'"),
        ({"method": "platt", "a": 1}, "allowed: none, temperature"),
        ({"method": "temperature"}, "missing 'temperature'"),
        ({"method": "temperature", "temperature": "2"}, "finite number"),
        ({"method": "temperature", "temperature": float("nan")}, "finite number"),
        ({"method": "temperature", "temperature": True}, "finite number"),
        ({"method": "temperature", "temperature": 0.0}, "must be > 0"),
    ],
)
def test_damaged_calibrator_is_rejected(bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_class_calibrator(bad)
    with pytest.raises(ValueError, match=message):
        apply_class_calibrator(bad, np.zeros((2, 2)))  # type: ignore[arg-type]


UNIFORM = np.full((3, 3), 1 / 3)


@pytest.mark.parametrize(
    ("y", "proba", "message"),
    [
        ([0, 1, 2], UNIFORM[0], "2-D array"),
        ([0], UNIFORM[:1], "at least 2"),
        ([0, 1, 2], np.ones((3, 1)), "at least 2 classes"),
        ([0, 1, 2], np.where(np.eye(3) > 0, np.nan, 0.5), "NaN"),
        ([0, 1, 2], np.full((3, 3), 0.5), "sum to 1"),
        ([0, 1, 2], np.eye(3) * 2 - 0.5, r"\[0, 1\]"),
        ([0, 1], UNIFORM, "2 values but the scores have 3 rows"),
        ([0, 1, 3], UNIFORM, r"indices 0..2, found \[3\]"),
        ([0, 1, -1], UNIFORM, r"found \[-1\]"),
        ([0, 1, 1.5], UNIFORM, r"found \[1.5\]"),
        (["a", "b", "c"], UNIFORM, "integer class indices"),
        ([0, 1, 2], [["x", "y", "z"]] * 3, "proba must hold numbers"),
        ([0, 1, 2], [[0.5, 0.5], [1.0], [0.2, 0.8]], "proba must hold numbers"),
    ],
    ids=[
        "1-d",
        "one-row",
        "one-class",
        "nan",
        "row-sum",
        "range",
        "length",
        "high",
        "negative",
        "fraction",
        "text",
        "text-proba",
        "ragged",
    ],
)
def test_bad_inputs_fail_clearly(y: object, proba: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        multiclass_metrics(y, proba)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: fit_class_calibrator("beta", np.zeros((3, 2)), [0, 1, 0]), "allowed: none, temperature"),
        (lambda: fit_class_calibrator("temperature", np.zeros((1, 2)), [0]), "at least 2"),
        (lambda: fit_class_calibrator("temperature", np.zeros((3, 2)), [0, 1, 2]), "indices 0..1"),
        (lambda: apply_class_calibrator({"method": "none"}, np.array([[np.inf, 0.0]])), "NaN or infinite"),
        (lambda: confusion([0, 1], [0, 5], 3), r"pred must hold .* found \[5\]"),
        (lambda: confusion([0, 1], [0, 1], 1), "integer >= 2"),
    ],
    ids=["method", "one-row", "label", "inf", "pred-range", "k"],
)
def test_bad_calibration_inputs_fail_clearly(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_block_shape(scored: tuple[np.ndarray, np.ndarray]) -> None:
    y, proba = scored
    raw = softmax(2 * np.log(proba), axis=1)
    probas = {"transformer": proba, "logistic": softmax(np.log(proba) * 0.5, axis=1)}
    classes = list("ABCD")
    cal = {"method": "temperature", "temperature": 2.0}
    block = multiclass_block(
        y, probas, main="transformer", classes=classes, ordered=True, raw=raw, calibration=cal
    )
    assert json.loads(json.dumps(block, allow_nan=False)) == block  # plain JSON, no NaN
    assert block["task"] == "multiclass" and block["classes"] == classes and block["ordered"] is True
    assert block["shipped"] == "transformer"
    assert {k: block[k] for k in block["models"]["transformer"]} == block["models"]["transformer"]
    assert block["models"]["logistic"] == multiclass_metrics(y, probas["logistic"], ordered=True)
    before, after = multiclass_metrics(y, raw), block["models"]["transformer"]
    assert block["calibration"] == {
        "method": "temperature",
        "model": "transformer",
        "before": {"log_loss": before["log_loss"], "ece": before["ece"]},
        "after": {"log_loss": after["log_loss"], "ece": after["ece"]},
    }
    assert block["confusion"] == confusion(y, proba.argmax(1), K)
    assert [r["class"] for r in block["per_class"]] == classes
    assert [r["n"] for r in block["per_class"]] == np.bincount(y, minlength=K).tolist()
    recall = np.diag(block["confusion"]) / np.bincount(y, minlength=K)
    assert [r["recall"] for r in block["per_class"]] == pytest.approx(recall.tolist())


def test_block_without_raw_and_bad_blocks(scored: tuple[np.ndarray, np.ndarray]) -> None:
    y, proba = scored
    block = multiclass_block(y, {"t": proba}, main="t", classes=list("ABCD"), ordered=False)
    assert "calibration" not in block and "qwk" not in block
    with pytest.raises(ValueError, match="3 class names given but proba has 4 columns"):
        multiclass_block(y, {"t": proba}, main="t", classes=list("ABC"), ordered=False)
    with pytest.raises(ValueError, match="main model 'x' has no probabilities"):
        multiclass_block(y, {"t": proba}, main="x", classes=list("ABCD"), ordered=False)
