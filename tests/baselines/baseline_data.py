"""Synthetic credit tables with a known signal, shared by the baseline tests."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

NUMERIC = ["income", "debt_ratio", "all_missing"]
CATEGORICAL = ["housing", "region_code"]
TEXT = ["note"]
FILLER = [
    "customer",
    "called",
    "branch",
    "about",
    "account",
    "statement",
    "letter",
    "address",
    "phone",
    "update",
    "online",
    "form",
]


def make_data(n: int, seed: int, notes: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """Income, debt ratio and housing drive default; with ``notes``, so does a flag seen only in the note."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10, 0.4, n)
    debt = rng.uniform(0, 1, n)
    housing = rng.choice(["own", "rent", "free"], n, p=[0.5, 0.35, 0.15])
    region = rng.integers(1, 5, n)  # numeric codes used as a category
    flag = rng.random(n) < 0.3
    logit = (
        -1.0 - 1.5 * (np.log(income) - 10) / 0.4 + 3.0 * (debt - 0.5) + np.where(housing == "rent", 1.0, 0.0)
    )
    if notes:
        logit = logit + np.where(flag, 2.5, -0.5)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    df = pd.DataFrame(
        {
            "income": income,
            "debt_ratio": debt,
            "all_missing": np.nan,
            "housing": housing,
            "region_code": region,
        }
    )
    df.loc[rng.random(n) < 0.05, "income"] = np.nan
    df.loc[rng.random(n) < 0.02, "debt_ratio"] = np.inf
    df.loc[rng.random(n) < 0.05, "housing"] = None
    if notes:
        words = [" ".join(rng.choice(FILLER, rng.integers(3, 9))) for _ in range(n)]
        alert = np.where(rng.random(n) < 0.5, "missed payment, collections", "Late Payment reminder sent")
        df["note"] = [f"{w} {a}" if f else w for w, a, f in zip(words, alert, flag)]
        df.loc[rng.random(n) < 0.05, "note"] = None
    return df, y


def odd_rows(test: pd.DataFrame) -> pd.DataFrame:
    """Rows with unseen categories, an absent column and an unseen note word."""
    odd = test.head(5).copy()
    odd["housing"] = "boat"  # never seen in training
    odd["region_code"] = 99
    if "note" in odd:
        odd["note"] = ["zebra", "", None, "MISSED payment", "missed payment missed payment"]
    return odd.drop(columns=["debt_ratio"])  # absent column is treated as missing


_NEEDS = {"scorecard": "optbinning", "catboost": "catboost"}


def installed(name: str) -> bool:
    """Whether the optional package a baseline needs to fit is installed."""
    return name not in _NEEDS or importlib.util.find_spec(_NEEDS[name]) is not None


def names(selection: list[str] | tuple[str, ...]) -> list:
    """Baseline names as pytest params, skipped where their optional package is missing."""
    return [
        pytest.param(n, marks=pytest.mark.skipif(not installed(n), reason=f"needs {_NEEDS.get(n)}"))
        for n in selection
    ]
