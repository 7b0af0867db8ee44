"""Calibrators: recover known distortions, stay monotone, survive a JSON round trip, reject bad dicts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import log_loss

from credtune.metrics import METHODS, apply_calibrator, fit_calibrator, validate_calibrator


@pytest.fixture(scope="module")
def overconfident() -> tuple[np.ndarray, np.ndarray]:
    """Margins twice too large: the true PD is sigmoid(margin / 2), so temperature 2 is right."""
    rng = np.random.default_rng(1)
    z_true = rng.normal(0.0, 2.0, size=20000)
    y = (rng.random(z_true.size) < expit(z_true)).astype(int)
    return 2.0 * z_true, y


def test_temperature_recovers_two(overconfident: tuple[np.ndarray, np.ndarray]) -> None:
    margin, y = overconfident
    cal = fit_calibrator("temperature", margin, y)
    assert cal["method"] == "temperature"
    assert cal["temperature"] == pytest.approx(2.0, rel=0.05)


def test_platt_recovers_half_slope(overconfident: tuple[np.ndarray, np.ndarray]) -> None:
    margin, y = overconfident
    cal = fit_calibrator("platt", margin, y)
    assert cal["a"] == pytest.approx(0.5, rel=0.05)
    assert abs(cal["b"]) < 0.1


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic"])
def test_calibration_lowers_log_loss(overconfident: tuple[np.ndarray, np.ndarray], method: str) -> None:
    margin, y = overconfident
    cal = fit_calibrator(method, margin, y)
    p = apply_calibrator(cal, margin)
    assert log_loss(y, np.clip(p, 1e-15, 1 - 1e-15)) < log_loss(y, expit(margin))


def test_isotonic_is_monotone_and_bounded(overconfident: tuple[np.ndarray, np.ndarray]) -> None:
    margin, y = overconfident
    cal = fit_calibrator("isotonic", margin, y)
    grid = np.linspace(-40, 40, 2001)
    p = apply_calibrator(cal, grid)
    assert np.all(np.diff(p) >= 0)
    assert p.min() >= 0.0 and p.max() <= 1.0


def test_none_is_sigmoid() -> None:
    z = np.array([-3.0, 0.0, 2.5])
    assert fit_calibrator("none", z, [0, 1, 1]) == {"method": "none"}
    np.testing.assert_allclose(apply_calibrator({"method": "none"}, z), expit(z))


@pytest.mark.parametrize("method", METHODS)
def test_json_round_trip_is_exact(overconfident: tuple[np.ndarray, np.ndarray], method: str) -> None:
    margin, y = overconfident
    cal = fit_calibrator(method, margin[:3000], y[:3000])
    loaded = json.loads(json.dumps(cal))
    assert loaded == cal
    np.testing.assert_array_equal(apply_calibrator(loaded, margin), apply_calibrator(cal, margin))


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic"])
def test_single_class_gives_identity(method: str) -> None:
    z = np.array([-1.0, 0.5, 2.0])
    with pytest.warns(UserWarning, match="both classes"):
        cal = fit_calibrator(method, z, [0, 0, 0])
    np.testing.assert_allclose(apply_calibrator(cal, z), expit(z))


def test_unknown_method_lists_allowed() -> None:
    with pytest.raises(ValueError, match="allowed: none, temperature, platt, isotonic"):
        fit_calibrator("beta", [0.0, 1.0], [0, 1])
    with pytest.raises(ValueError, match="did you mean 'platt'"):
        validate_calibrator({"method": "plat"})


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ([1, 2], "JSON object"),
        ({}, "no 'method'"),
        ({"method": "temperature"}, "missing 'temperature'"),
        ({"method": "temperature", "temperature": 0}, "> 0"),
        ({"method": "temperature", "temperature": "2"}, "finite number"),
        ({"method": "temperature", "temperature": float("nan")}, "finite number"),
        ({"method": "platt", "a": 1.0}, "missing 'b'"),
        ({"method": "platt", "a": True, "b": 0.0}, "finite number"),
        ({"method": "isotonic", "x": [0.0, 1.0]}, "'y' must be a non-empty list"),
        ({"method": "isotonic", "x": [], "y": []}, "non-empty"),
        ({"method": "isotonic", "x": [0.0, 1.0], "y": [0.5]}, "has 2 points"),
        ({"method": "isotonic", "x": [1.0, 0.0], "y": [0.0, 1.0]}, "sorted"),
        ({"method": "isotonic", "x": [0.0, 1.0], "y": [0.9, 0.1]}, "non-decreasing"),
        ({"method": "isotonic", "x": [0.0, 1.0], "y": [0.0, 2.0]}, r"\[0, 1\]"),
        ({"method": "isotonic", "x": [0.0, "a"], "y": [0.0, 1.0]}, "finite numbers"),
    ],
)
def test_validate_rejects_malformed(bad: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        validate_calibrator(bad)
    if isinstance(bad, dict) and bad.get("method") in METHODS:
        with pytest.raises(ValueError, match=match):
            apply_calibrator(bad, [0.0])


def test_validate_returns_clean_copy() -> None:
    cal = {"method": "platt", "a": 1, "b": 0, "fitted_on": "validation"}
    assert validate_calibrator(cal) == {"method": "platt", "a": 1.0, "b": 0.0}


@pytest.mark.parametrize(
    ("margin", "y", "match"),
    [
        ([0.0, np.inf], [0, 1], "NaN or infinite"),
        ([0.0, 1.0], [0], "has 2 values"),
        ([0.0, 1.0], [0, 3], "only 0"),
    ],
)
def test_fit_rejects_bad_data(margin: list, y: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fit_calibrator("temperature", margin, y)
