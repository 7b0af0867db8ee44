"""Population stability: has the applicant mix (or the score) drifted since the model was built?"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

PSI_EPS = 1e-4  # share given to an empty bin so ln(a/e) stays finite
MISSING = "missing"


def _psi_from_counts(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    if e.sum() <= 0 or a.sum() <= 0:
        raise ValueError("PSI needs at least one value in both samples")
    e = np.maximum(e / e.sum(), PSI_EPS)
    a = np.maximum(a / a.sum(), PSI_EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def _numeric(values: Any) -> np.ndarray:
    arr = pd.to_numeric(pd.Series(np.asarray(values).reshape(-1)), errors="coerce").to_numpy(dtype=float)
    return np.where(np.isfinite(arr), arr, np.nan)


def _numeric_counts(expected: np.ndarray, actual: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Bins from the quantiles of ``expected`` (deduplicated for lumpy data) plus a missing bucket."""
    present = expected[~np.isnan(expected)]
    if present.size:
        edges = np.unique(np.quantile(present, np.linspace(0.0, 1.0, bins + 1))[1:-1])
    else:
        edges = np.array([])
    n_bins = edges.size + 1

    def count(x: np.ndarray) -> np.ndarray:
        nan = np.isnan(x)
        idx = np.searchsorted(edges, x[~nan], side="right")
        return np.append(np.bincount(idx, minlength=n_bins), nan.sum())

    return count(expected), count(actual)


def psi(expected: Any, actual: Any, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected`` over ``bins`` quantile bins of
    ``expected``. NaN/inf values are counted in a separate missing bucket."""
    if int(bins) < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    e, a = _numeric_counts(_numeric(expected), _numeric(actual), int(bins))
    return _psi_from_counts(e, a)


def psi_reading(value: float) -> str:
    """The usual industry rule of thumb: < 0.1 stable, 0.1-0.25 watch, > 0.25 shifted."""
    if value < 0.1:
        return "stable"
    if value <= 0.25:
        return "watch"
    return "shifted"


def _categories(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), MISSING).astype(str)


def _categorical_psi(expected: pd.Series, actual: pd.Series) -> float:
    e = _categories(expected).value_counts()
    a = _categories(actual).value_counts()
    levels = sorted(set(e.index) | set(a.index))
    return _psi_from_counts(
        e.reindex(levels, fill_value=0).to_numpy(), a.reindex(levels, fill_value=0).to_numpy()
    )


def characteristic_stability(
    expected_df: pd.DataFrame,
    actual_df: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    bins: int = 10,
) -> list[dict[str, Any]]:
    """PSI per input field, worst first, to point at which characteristics drove a score shift."""
    rows = []
    for field in [*numeric, *categorical]:
        for frame, label in ((expected_df, "expected"), (actual_df, "actual")):
            if field not in frame.columns:
                raise ValueError(f"field '{field}' is missing from the {label} data")
        if field in numeric:
            value = psi(expected_df[field].to_numpy(), actual_df[field].to_numpy(), bins=bins)
        else:
            value = _categorical_psi(expected_df[field], actual_df[field])
        rows.append({"field": field, "psi": value, "reading": psi_reading(value)})
    return sorted(rows, key=lambda r: r["psi"], reverse=True)
