"""Group fairness table: four-fifths flagging, age bands, quartiles and the missing group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credtune.metrics import fairness_table, outcome_fairness


def test_half_approval_rate_is_flagged() -> None:
    # Group a: all 10 approved. Group b: 5 of 10 approved -> disparate impact 0.5 < 0.8.
    groups = pd.Series(["a"] * 10 + ["b"] * 10)
    p = np.array([0.1] * 10 + [0.1] * 5 + [0.9] * 5)
    y = np.array([0, 1] * 5 + [0, 0, 0, 0, 1] + [0, 0, 1, 1, 1])
    out = fairness_table(groups, y, p, threshold=0.5, name="sex")
    assert out["column"] == "sex" and out["flagged"] is True
    assert out["min_disparate_impact"] == pytest.approx(0.5)
    a, b = out["groups"]
    assert (a["group"], a["n"], a["approval_rate"], a["disparate_impact"], a["flag"]) == (
        "a",
        10,
        1.0,
        1.0,
        False,
    )
    assert (b["group"], b["approval_rate"], b["disparate_impact"], b["flag"]) == ("b", 0.5, 0.5, True)
    assert b["bad_rate"] == pytest.approx(0.4)
    # goods in b: 4 approved of 6 -> P(approved | good) = 2/3, group a approves every good
    assert b["tpr"] == pytest.approx(4 / 6) and a["tpr"] == 1.0
    assert b["equal_opportunity_diff"] == pytest.approx(4 / 6 - 1.0) and a["equal_opportunity_diff"] == 0.0
    assert a["auc"] == 0.5  # one PD for everyone in a: no ranking at all
    # b: 24 bad/good pairs; the bad at .1 ties 4 goods (2) and the bads at .9 beat 12 and tie 6 (3)
    assert b["auc"] == pytest.approx(17 / 24)


def test_equal_rates_not_flagged() -> None:
    groups = pd.Series(["x", "y"] * 10)
    p = np.tile([0.1, 0.1, 0.9, 0.9], 5)
    y = np.tile([0, 1, 0, 1], 5)
    out = fairness_table(groups, y, p, threshold=0.5, name="region")
    assert out["flagged"] is False and out["min_disparate_impact"] == pytest.approx(1.0)


def test_age_bands_and_missing() -> None:
    ages = pd.Series([22, 24, 25, 34, 35, 44, 45, 54, 55, 80, np.nan, np.nan])
    y = np.array([0, 1] * 6)
    p = np.full(12, 0.2)
    out = fairness_table(ages, y, p, threshold=0.5, name="Age_years")
    assert [g["group"] for g in out["groups"]] == ["<25", "25-34", "35-44", "45-54", "55+", "missing"]
    assert all(g["n"] == 2 for g in out["groups"])


def test_numeric_quartiles() -> None:
    income = pd.Series(np.arange(100, dtype=float))
    out = fairness_table(income, np.tile([0, 1], 50), np.linspace(0, 1, 100), threshold=0.5, name="income")
    assert len(out["groups"]) == 4 and [g["n"] for g in out["groups"]] == [25] * 4
    assert out["groups"][0]["approval_rate"] == 1.0 and out["groups"][-1]["approval_rate"] == 0.0
    assert out["flagged"] is True


def test_categorical_with_missing_and_single_class_group() -> None:
    groups = pd.Series(["f", "m", None, "m", "f", None])
    out = fairness_table(groups, [0, 1, 0, 0, 1, 0], [0.1, 0.2, 0.3, 0.9, 0.4, 0.1], 0.5, "sex")
    names = [g["group"] for g in out["groups"]]
    assert names == ["f", "m", "missing"]
    missing = out["groups"][-1]
    assert missing["auc"] is None and missing["n"] == 2


def test_length_mismatch() -> None:
    with pytest.raises(ValueError, match="groups has 2 values"):
        fairness_table(pd.Series(["a", "b"]), [0, 1, 0], [0.1, 0.2, 0.3], 0.5, "g")


@pytest.mark.parametrize(
    ("values", "name", "expected"),
    [
        (pd.Series([0, 1, 0, 1]), "foreign_worker", ["0", "1"]),
        (pd.Series([1.0, 2.0, np.nan, 2.0]), "dependents", ["1", "2", "missing"]),
        (pd.Series([True, False, True, None]), "flag", ["False", "True", "missing"]),
        (pd.Series(["a", "b", None, "a"], dtype="category"), "sex", ["a", "b", "missing"]),
        (pd.Series([30, 40, pd.NA, 70], dtype="Int64"), "AGE", ["25-34", "35-44", "55+", "missing"]),
    ],
)
def test_group_labels(values: pd.Series, name: str, expected: list[str]) -> None:
    out = fairness_table(values, [0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], 0.5, name)
    assert [g["group"] for g in out["groups"]] == expected


def _outcomes(
    task: str, shift: float, n: int = 200, seed: int = 0
) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Two groups of n/2; group b's predictions are `shift` worse than its outcomes (grade steps,
    rate points), or, unordered, its top class is wrong on a `shift` share of rows."""
    rng = np.random.default_rng(seed)
    groups = pd.Series(["a"] * (n // 2) + ["b"] * (n // 2))
    b = (groups == "b").to_numpy()
    if task == "regression":
        y = rng.normal(10, 2, n)
        return groups, y, y + rng.normal(0, 0.5, n) + shift * b
    y = rng.integers(0, 4, n)
    guess = np.clip(y + np.where(b, shift, 0).astype(int), 0, 3)
    if task == "unordered":  # wrong class on a share of b's rows
        guess = np.where(b & (rng.random(n) < shift), (y + 1) % 4, y)
    return groups, y, np.eye(4)[guess] * 0.9 + 0.025


@pytest.mark.parametrize(
    ("task", "ordered", "shift", "measure", "flagged", "gap"),
    [
        ("regression", False, 2.0, "mean_error", True, 2.0),
        ("regression", False, 0.0, "mean_error", False, 0.0),
        ("multiclass", True, 1.0, "mean_error", True, 0.6),  # clipped at the worst grade: under 1 step
        ("multiclass", True, 0.0, "mean_error", False, 0.0),
        ("unordered", False, 0.5, "accuracy", True, 0.5),
    ],
)
def test_outcome_fairness_flags_a_group_rated_worse(task, ordered, shift, measure, flagged, gap) -> None:
    groups, y, out = _outcomes(task, shift)
    kind = "regression" if task == "regression" else "multiclass"
    table = outcome_fairness(groups, y, out, "region", kind, ordered)
    assert (table["column"], table["measure"], table["flagged"]) == ("region", measure, flagged)
    assert table["max_gap"] == pytest.approx(gap, abs=0.15)
    a, b = table["groups"]
    assert (a["group"], a["n"], b["group"], b["n"]) == ("a", 100, "b", 100)
    assert b["flag"] is flagged and a["flag"] is flagged  # two groups: each is the other's "rest"
    if measure == "mean_error":
        assert b["predicted"] - b["actual"] == pytest.approx(b["mean_error"])
        assert b["mean_error"] > a["mean_error"] or not shift


def test_outcome_fairness_never_flags_small_groups() -> None:
    groups = pd.Series(["a"] * 190 + ["b"] * 10)
    y = np.full(200, 10.0)
    out = y + np.r_[np.random.default_rng(0).normal(0, 0.1, 190), np.full(10, 5.0)]
    table = outcome_fairness(groups, y, out, "region", "regression")
    b = table["groups"][1]
    assert b["z"] > 3 and b["flag"] is False and table["flagged"] is True  # a, the rest, is flagged
    assert table["max_gap"] == pytest.approx(0.0, abs=0.05)  # gaps between groups of 30+ rows only


def test_outcome_fairness_refuses_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        outcome_fairness(pd.Series(["a", "b"]), [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], "g", "regression")
