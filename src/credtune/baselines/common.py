"""What every baseline component shares: its errors, input frames, column roles and the safe file format.

A component is saved as plain data only: JSON it writes itself, or a model library's own
non-executable format (LightGBM text, CatBoost JSON). Nothing is pickled, so loading a model folder
cannot run code. Every file's SHA-256 is recorded in the component's ``meta`` and checked on load,
so a truncated or edited file is refused with one line instead of predicting something else.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CredtuneError, ModelError


class BaselineError(CredtuneError, ValueError):
    """A baseline cannot be fitted or used as asked (unknown name, unusable data, missing package)."""


class BaselineFileError(BaselineError, ModelError):
    """A saved baseline component is missing, truncated, edited or inconsistent."""


def numeric_frame(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Numbers as float64; text that is not a number, infinities and absent columns become NaN."""
    out = {}
    for c in cols:
        values = df[c] if c in df.columns else pd.Series(np.nan, index=df.index)
        out[c] = pd.to_numeric(values, errors="coerce").astype(float).replace([np.inf, -np.inf], np.nan)
    return pd.DataFrame(out, index=df.index, columns=cols)


def categorical_frame(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Categories as strings with NaN for missing, so '1' and 1 are the same level in every split."""
    out = {}
    for c in cols:
        values = df[c] if c in df.columns else pd.Series(np.nan, index=df.index)
        obj = values.astype(object)
        out[c] = obj.map(str, na_action="ignore").where(obj.notna(), np.nan).astype(object)
    return pd.DataFrame(out, index=df.index, columns=cols)


def text_frame(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Notes as strings; missing notes and absent columns are the empty note."""
    out = {}
    for c in cols:
        values = df[c] if c in df.columns else pd.Series("", index=df.index)
        obj = values.astype(object)
        out[c] = obj.map(str, na_action="ignore").where(obj.notna(), "").astype(object)
    return pd.DataFrame(out, index=df.index, columns=cols)


@dataclass(frozen=True)
class Columns:
    """The input columns a component reads, by role."""

    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    text: tuple[str, ...] = ()

    def frames(self, df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        if not isinstance(df, pd.DataFrame):
            raise BaselineError(f"expected a pandas DataFrame to predict on, got {type(df).__name__}")
        return (
            numeric_frame(df, list(self.numeric)),
            categorical_frame(df, list(self.categorical)),
            text_frame(df, list(self.text)),
        )

    def to_json(self) -> dict[str, list[str]]:
        return {"numeric": list(self.numeric), "categorical": list(self.categorical), "text": list(self.text)}

    @classmethod
    def from_json(cls, obj: Any, where: str) -> Columns:
        obj = require(obj, dict, where)
        return cls(
            *(tuple(strings(obj.get(role), f"{where}.{role}")) for role in ("numeric", "categorical", "text"))
        )


TASKS = ("binary", "multiclass", "regression")


def check_target(y_train: Any, n_rows: int, task: str = "binary", n_classes: int = 2) -> np.ndarray:
    """One label per training row: int 0/1 with both present (binary), class indexes 0..n_classes-1
    with two or more present (multiclass), or finite numbers (regression)."""
    expected = {
        "binary": "both classes, coded 0 (good) and 1 (bad)",
        "multiclass": f"class indexes 0..{n_classes - 1}, two or more of them",
        "regression": "finite numbers",
    }[task]
    try:
        y = np.asarray(y_train, dtype=float).reshape(-1)
    except (TypeError, ValueError) as e:
        raise BaselineError(f"y_train must contain {expected}") from e
    if y.shape[0] != n_rows:
        raise BaselineError(f"train_df has {n_rows} rows but y_train has {y.shape[0]}")
    if task == "regression":
        ok = bool(np.all(np.isfinite(y)))
    else:
        ok = np.all(np.isin(y, np.arange(n_classes))) and len(np.unique(y)) >= 2
    if not ok:
        raise BaselineError(f"y_train must contain {expected}")
    return y if task == "regression" else y.astype(int)


def usable_columns(
    train_df: pd.DataFrame, numeric: list[str], categorical: list[str], text: list[str]
) -> Columns:
    """The listed columns that hold at least one value in training (the others carry no information)."""
    listed = [*numeric, *categorical, *text]
    missing = [c for c in listed if c not in train_df.columns]
    if missing:
        raise BaselineError(f"columns not in the training data: {missing}")
    num, cat, txt = Columns(tuple(numeric), tuple(categorical), tuple(text)).frames(train_df)
    cols = Columns(
        tuple(c for c in num.columns if num[c].notna().any()),
        tuple(c for c in cat.columns if cat[c].notna().any()),
        tuple(c for c in txt.columns if txt[c].str.strip().ne("").any()),
    )
    if not (cols.numeric or cols.categorical or cols.text):
        raise BaselineError("no usable feature columns: every listed column is empty in the training data")
    return cols


def require_inputs(columns: Columns, kind: str) -> None:
    if not (columns.numeric or columns.categorical or columns.text):
        raise BaselineError(
            f"{kind}: no usable feature columns (note columns need words found in two or more rows)"
        )


# --- reading saved files: every check raises BaselineFileError with the file and the field ---------


def require(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise BaselineFileError(f"{where}: expected {_kind_name(kind)}, got {type(value).__name__}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def strings(value: Any, where: str) -> list[str]:
    items = require(value, list, where)
    if not all(isinstance(v, str) for v in items):
        raise BaselineFileError(f"{where}: expected a list of strings")
    return items


def floats(value: Any, where: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A finite float array from JSON, with an exact shape when one is given."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise BaselineFileError(f"{where}: expected numbers") from e
    if arr.dtype != np.float64 or isinstance(value, (str, bytes)):
        raise BaselineFileError(f"{where}: expected numbers")
    if shape is not None and arr.shape != shape:
        raise BaselineFileError(f"{where}: expected shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise BaselineFileError(f"{where}: contains a non-finite number")
    return arr


def number(value: Any, where: str) -> float:
    value = require(value, (int, float), where)
    if not math.isfinite(value):
        raise BaselineFileError(f"{where}: not a finite number")
    return float(value)


def dump_json(obj: Any) -> bytes:
    """JSON with exact float round trips (``repr``) and no NaN/Infinity, which strict readers refuse."""
    return json.dumps(obj, allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes().decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as e:
        raise BaselineFileError(f"{path.name}: not valid JSON ({e})") from e


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def safe_name(name: Any, where: str) -> str:
    """A plain file name inside the component folder: no directories, no '..', no hidden files."""
    name = require(name, str, where)
    if not name or name != Path(name).name or name.startswith(".") or "\\" in name:
        raise BaselineFileError(f"{where}: '{name}' is not a plain file name")
    return name


def read_levels(params: dict[str, Any], columns: Columns, where: str) -> list[list[str]]:
    """The saved category levels: one list of strings per categorical column."""
    levels = [
        strings(v, f"{where}: levels[{i}]") for i, v in enumerate(require(params.get("levels"), list, where))
    ]
    if len(levels) != len(columns.categorical):
        raise BaselineFileError(
            f"{where}: {len(levels)} level lists for {len(columns.categorical)} categories"
        )
    return levels
