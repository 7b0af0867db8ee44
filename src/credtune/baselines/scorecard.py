"""WoE scorecard baseline: optbinning's optimal bins, weight of evidence, and a logistic regression on it.

This is the model credit teams already know and regulators expect to see next to anything new:
each variable is cut into a few monotone-ish bins (``optbinning.BinningProcess``), each bin is
replaced by its weight of evidence, WoE = ln(share of goods / share of bads), with its own WoE for
missing values (and for special codes, unused here), and a logistic regression on the WoE columns
gives the PD. Scaled points make it a points table: 600 points at good:bad odds of 50:1 and 20
points to double the odds. Note columns are not used: a scorecard is a table of binned variables.

Only plain numbers are kept (splits or category groups, WoE per bin, coefficients, intercept, the
points table), so the JSON predicts with numpy alone, and optbinning is needed only to fit.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from .common import BaselineError, BaselineFileError, Columns, dump_json, floats, number, require, strings
from .component import Component, read_params

BASE_POINTS, BASE_ODDS, PDO = 600.0, 50.0, 20.0  # same scaling as credtune.metrics.scorecard.pd_to_points


@dataclass
class Variable:
    """One binned variable: numeric ``splits`` (bin i is [splits[i-1], splits[i])) or category ``groups``."""

    name: str
    kind: str  # "numeric" | "categorical"
    bins: list[Any]  # numeric: the splits (floats); categorical: one list of levels per bin
    woe: np.ndarray  # per bin, then special, then missing
    counts: np.ndarray  # training rows per bin, special, missing
    event_rates: np.ndarray
    coef: float
    woe_unknown: float = 0.0  # categories never seen in training: WoE of the overall rate

    def transform(self, values: pd.Series) -> np.ndarray:
        """The WoE of each value; missing values get the missing bin's WoE."""
        missing = values.isna().to_numpy()
        if self.kind == "numeric":
            x = values.to_numpy(dtype=np.float64)
            out = self.woe[np.digitize(np.where(missing, 0.0, x), np.asarray(self.bins, dtype=np.float64))]
        else:
            lookup = {level: self.woe[i] for i, group in enumerate(self.bins) for level in group}
            out = values.map(lookup).fillna(self.woe_unknown).to_numpy(dtype=np.float64)
        return np.where(missing, self.woe[-1], out)

    def labels(self) -> list[str]:
        if self.kind == "categorical":
            names = [", ".join(group) for group in self.bins]
        else:
            edges = [-math.inf, *self.bins, math.inf]
            names = [
                f"{'(' if lo == -math.inf else '['}{lo:.6g}, {hi:.6g})" for lo, hi in zip(edges, edges[1:])
            ]
        return [*names, "Special", "Missing"]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "splits" if self.kind == "numeric" else "groups": self.bins,
            "woe": self.woe.tolist(),
            "woe_unknown": self.woe_unknown,
            "counts": self.counts.tolist(),
            "event_rates": self.event_rates.tolist(),
            "coef": self.coef,
        }

    @classmethod
    def from_json(cls, obj: Any, where: str) -> Variable:
        obj = require(obj, dict, where)
        name, kind = require(obj.get("name"), str, f"{where}.name"), obj.get("kind")
        if kind == "numeric":
            bins: list[Any] = floats(obj.get("splits"), f"{where}.splits").reshape(-1).tolist()
            if any(a >= b for a, b in zip(bins, bins[1:])):
                raise BaselineFileError(f"{where}.splits: not increasing")
        elif kind == "categorical":
            groups = require(obj.get("groups"), list, f"{where}.groups")
            bins = [strings(g, f"{where}.groups[{i}]") for i, g in enumerate(groups)]
        else:
            raise BaselineFileError(f"{where}.kind: {kind!r} is not 'numeric' or 'categorical'")
        n = (len(bins) + (3 if kind == "numeric" else 2),)
        return cls(
            name, kind, bins,
            woe=floats(obj.get("woe"), f"{where}.woe", n),
            counts=floats(obj.get("counts"), f"{where}.counts", n),
            event_rates=floats(obj.get("event_rates"), f"{where}.event_rates", n),
            coef=number(obj.get("coef"), f"{where}.coef"),
            woe_unknown=number(obj.get("woe_unknown"), f"{where}.woe_unknown"),
        )  # fmt: skip


def _scaling() -> tuple[float, float]:
    factor = PDO / math.log(2.0)
    return factor, BASE_POINTS - factor * math.log(BASE_ODDS)


class ScorecardComponent(Component):
    kind = "scorecard"
    libraries = ("optbinning", "scikit-learn")

    def __init__(
        self, columns: Columns, variables: list[Variable], intercept: float, n_jobs: int = 1
    ) -> None:
        super().__init__(columns, n_jobs)
        self.variables, self.intercept = variables, intercept

    def woe(self, df: pd.DataFrame) -> pd.DataFrame:
        """The WoE of every variable the scorecard uses, one column each."""
        num, cat, _ = self.columns.frames(df)
        return self._woe(num, cat)

    def _woe(self, num: pd.DataFrame, cat: pd.DataFrame) -> pd.DataFrame:
        frame = pd.concat([num, cat], axis=1)
        return pd.DataFrame({v.name: v.transform(frame[v.name]) for v in self.variables}, index=frame.index)

    def _logit(self, num: pd.DataFrame, cat: pd.DataFrame) -> np.ndarray:
        coef = np.asarray([v.coef for v in self.variables])
        return self._woe(num, cat).to_numpy(dtype=np.float64) @ coef + self.intercept

    def _predict(self, num: pd.DataFrame, cat: pd.DataFrame, txt: pd.DataFrame) -> np.ndarray:
        return expit(self._logit(num, cat))

    def score(self, df: pd.DataFrame) -> np.ndarray:
        """Total points per row (higher = safer): the sum of the row's points in ``points_table``."""
        factor, offset = _scaling()
        num, cat, _ = self.columns.frames(df)
        return offset - factor * self._logit(num, cat)

    def points_table(self) -> list[dict[str, Any]]:
        """One row per variable and bin: variable, bin, woe, points, count, event_rate (training).

        A row's total score is the sum of its bins' points. Bins are the fitted ones, then 'Special'
        and 'Missing', and for categories 'Unknown' (levels not seen in training; no event rate)."""
        factor, offset = _scaling()
        share = (offset - factor * self.intercept) / len(self.variables)
        rows = []
        for v in self.variables:
            bins = list(zip(v.labels(), v.woe, v.counts, v.event_rates))
            if v.kind == "categorical":
                bins.append(("Unknown", v.woe_unknown, 0, None))
            for label, woe, count, rate in bins:
                rows.append(
                    {"variable": v.name, "bin": label, "woe": float(woe),
                     "points": float(share - factor * v.coef * woe), "count": int(count),
                     "event_rate": None if rate is None else float(rate)}
                )  # fmt: skip
        return rows

    def _write(self, paths: dict[str, Path]) -> None:
        params = {
            "kind": self.kind,
            "columns": self.columns.to_json(),
            "variables": [v.to_json() for v in self.variables],
            "intercept": self.intercept,
            "scaling": {"base_points": BASE_POINTS, "base_odds": BASE_ODDS, "pdo": PDO},
            "points_table": self.points_table(),
        }
        paths["params"].write_bytes(dump_json(params))

    @classmethod
    def _read(cls, paths: dict[str, Path], n_jobs: int) -> ScorecardComponent:
        params, columns = read_params(cls, paths["params"])
        where = paths["params"].name
        items = require(params.get("variables"), list, f"{where}: variables")
        variables = [Variable.from_json(v, f"{where}: variables[{i}]") for i, v in enumerate(items)]
        known = {"numeric": columns.numeric, "categorical": columns.categorical}
        if not variables or any(v.name not in known[v.kind] for v in variables):
            raise BaselineFileError(f"{where}: variables do not match the listed columns")
        intercept = number(params.get("intercept"), f"{where}: intercept")
        return cls(columns, variables, intercept, n_jobs)


def _variable(name: str, kind: str, binned: Any) -> Variable:
    """Bins, WoE, counts and event rates of one fitted ``OptimalBinning``, read from its binning table."""
    table = binning_table(binned)
    n_bins = len(table) - 2  # then Special, Missing
    if kind == "numeric":
        bins: list[Any] = [float(s) for s in binned.splits]
        if len(bins) + 1 != n_bins:
            raise RuntimeError(f"optbinning table of '{name}' has {n_bins} bins for {len(bins)} splits")
    else:
        bins = [[str(level) for level in group] for group in table["Bin"].iloc[:n_bins]]
    return Variable(
        name, kind, bins,
        woe=table["WoE"].to_numpy(dtype=np.float64),
        counts=table["Count"].to_numpy(dtype=np.float64),
        event_rates=table["Event rate"].to_numpy(dtype=np.float64),
        coef=0.0,
    )  # fmt: skip


def binning_table(binned: Any) -> pd.DataFrame:
    """optbinning's binning table without its totals row: one row per bin, then Special, then Missing."""
    return binned.binning_table.build(add_totals=False)


@functools.cache
def binning_process() -> type:
    """optbinning's `BinningProcess`, less the per-variable statistics (IV, Gini, p-value tests)
    its fit computes for `selection_criteria` when none is set: a third of a scorecard's fit time,
    for a summary credtune never reads. With `selection_criteria` it is the library's own."""
    try:
        from optbinning import BinningProcess
    except ImportError as e:
        raise BaselineError("the scorecard baseline needs optbinning: pip install optbinning") from e

    class LeanBinningProcess(BinningProcess):
        def _binning_selection_criteria(self) -> None:
            if self.selection_criteria is not None:
                super()._binning_selection_criteria()
            else:  # every variable kept, as the library's own selection does without criteria
                self._support = np.full(len(self.variable_names), True, dtype=bool)

    return LeanBinningProcess


def fit_scorecard(
    columns: Columns,
    frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    y: np.ndarray,
    seed: int,
    params: dict[str, Any] | None = None,
) -> ScorecardComponent:
    """optbinning's `BinningProcess` (its arguments from `params`) finds each field's bins and
    weight of evidence (the variables its `selection_criteria` keeps); a logistic regression on the
    WoE columns gives each variable's points."""
    from sklearn.linear_model import LogisticRegression

    process_type = binning_process()

    num, cat, _ = frames
    names = [*columns.numeric, *columns.categorical]
    if not names:
        raise BaselineError("scorecard: no numeric or categorical column to bin (note columns are not used)")
    frame = pd.concat([num, cat], axis=1)
    process = process_type(names, categorical_variables=list(columns.categorical), n_jobs=1, **(params or {}))
    process.fit(frame, y)
    kinds = {**dict.fromkeys(columns.numeric, "numeric"), **dict.fromkeys(columns.categorical, "categorical")}
    selected = set(process.get_support(names=True))
    variables = [_variable(n, kinds[n], process.get_binned_variable(n)) for n in names if n in selected]
    variables = [v for v in variables if np.ptp(v.transform(frame[v.name])) > 0]
    if not variables:
        raise BaselineError(
            "scorecard: no usable column: binning left every variable with a single weight of evidence"
        )
    woe = np.column_stack([v.transform(frame[v.name]) for v in variables])
    clf = LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(woe, y)
    for v, c in zip(variables, clf.coef_.reshape(-1)):
        v.coef = float(c)
    used = {v.name for v in variables}
    kept = Columns(
        tuple(c for c in columns.numeric if c in used), tuple(c for c in columns.categorical if c in used), ()
    )
    return ScorecardComponent(kept, variables, float(clf.intercept_[0]))
