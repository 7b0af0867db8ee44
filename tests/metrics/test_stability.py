"""PSI against hand-computed values, and per-characteristic stability."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from credtune.metrics import characteristic_stability, psi, psi_reading


def test_identical_distributions_are_stable() -> None:
    x = np.random.default_rng(0).normal(size=5000)
    assert psi(x, x) == pytest.approx(0.0, abs=1e-12)
    assert psi(x, x.copy()[::-1]) == pytest.approx(0.0, abs=1e-12)


def test_two_bin_psi_by_hand() -> None:
    # expected 50/50 across the median, actual 70/30: .2*ln(.7/.5) + (-.2)*ln(.3/.5)
    expected = np.array([0.0] * 50 + [1.0] * 50)
    actual = np.array([0.0] * 70 + [1.0] * 30)
    want = 0.2 * math.log(0.7 / 0.5) - 0.2 * math.log(0.3 / 0.5)
    assert psi(expected, actual, bins=2) == pytest.approx(want)


def test_shift_is_detected_and_symmetric_growth() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=4000)
    small = psi(base, rng.normal(0.1, 1, size=4000))
    large = psi(base, rng.normal(1.0, 1, size=4000))
    assert small < 0.1 < 0.25 < large


def test_missing_values_get_their_own_bucket() -> None:
    expected = np.arange(100, dtype=float)
    actual = np.append(np.arange(50, dtype=float) * 2, [np.nan] * 50)
    assert psi(expected, actual) > 0.25
    assert psi(expected, np.append(expected, np.inf)) < 0.1  # one inf counts as missing, not a crash


def test_empty_bin_stays_finite() -> None:
    value = psi(np.arange(100.0), np.full(100, 5.0))
    assert math.isfinite(value) and value > 1


@pytest.mark.parametrize(
    ("value", "reading"),
    [
        (0.0, "stable"),
        (0.099, "stable"),
        (0.1, "watch"),
        (0.25, "watch"),
        (0.2501, "shifted"),
        (3.0, "shifted"),
    ],
)
def test_reading(value: float, reading: str) -> None:
    assert psi_reading(value) == reading


def test_characteristic_stability() -> None:
    rng = np.random.default_rng(2)
    n = 2000
    train = pd.DataFrame(
        {
            "income": rng.lognormal(10, 0.5, n),
            "age": rng.integers(18, 70, n).astype(float),
            "purpose": rng.choice(["car", "tv", "education"], n),
        }
    )
    recent = train.copy()
    recent["income"] = recent["income"] * 1.8  # inflation shock
    recent.loc[: n // 2, "purpose"] = None  # half the field went missing
    recent.loc[0, "purpose"] = "holiday"  # a level never seen in training
    rows = characteristic_stability(train, recent, numeric=["income", "age"], categorical=["purpose"])
    assert [r["field"] for r in rows][-1] == "age"
    assert {r["field"] for r in rows[:2]} == {"income", "purpose"}
    psis = [r["psi"] for r in rows]
    assert psis == sorted(psis, reverse=True)
    by_field = {r["field"]: r for r in rows}
    assert by_field["age"]["psi"] == pytest.approx(0.0, abs=1e-12)
    assert by_field["age"]["reading"] == "stable"
    assert by_field["purpose"]["reading"] == "shifted"


def test_characteristic_stability_missing_field() -> None:
    df = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(ValueError, match="'b' is missing from the expected data"):
        characteristic_stability(df, df, numeric=["b"], categorical=[])
