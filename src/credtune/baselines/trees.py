"""Gradient-boosted tree baselines, LightGBM and CatBoost, saved in their libraries' own data formats.

LightGBM sees categories as integer codes (index in the sorted training levels; missing and unseen
levels are NaN), which is what it does internally with pandas categoricals, but without relying on
the category list it would otherwise store in the model text. CatBoost gets the category strings
and handles them natively (ordered target statistics); it is saved in its JSON model format, which
keeps categorical features and reloads with identical predictions. Note columns reach both as the
16 TruncatedSVD numbers of their TF-IDF (see ``text``). Neither format can run code on load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from .common import (
    BaselineError,
    BaselineFileError,
    Columns,
    dump_json,
    read_levels,
    require_inputs,
)
from .component import Component, read_params
from .text import TextFeatures, fit_text, texts_from_json, texts_to_json

LIGHTGBM_PARAMS = {
    "n_estimators": 300,
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_child_samples": 20,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "verbose": -1,
}
CATBOOST_PARAMS = {
    "iterations": 500,
    "depth": 6,
    "learning_rate": 0.05,
    "verbose": 0,
    "allow_writing_files": False,
}
MISSING_LEVEL = "__missing__"  # CatBoost needs a string for a missing category


class _TreeComponent(Component):
    """Shared by both: the category levels and note SVDs, and the ``params`` JSON that records them."""

    def __init__(
        self,
        columns: Columns,
        model: Any,
        levels: list[list[str]],
        texts: list[TextFeatures],
        n_jobs: int = 1,
    ) -> None:
        super().__init__(columns, n_jobs)
        self.model, self.levels, self.texts = model, levels, texts

    @property
    def n_features(self) -> int:
        return len(self.columns.numeric) + len(self.levels) + sum(t.n_svd for t in self.texts)

    @property
    def categorical_index(self) -> list[int]:
        start = len(self.columns.numeric)
        return list(range(start, start + len(self.levels)))

    def _svd(self, txt: pd.DataFrame) -> list[np.ndarray]:
        return [t.svd(txt[t.column]) for t in self.texts]

    def _write_params(self, path: Path) -> None:
        params = {
            "kind": self.kind,
            "columns": self.columns.to_json(),
            "levels": self.levels,
            "text": texts_to_json(self.texts),
            "n_features": self.n_features,
            "categorical_index": self.categorical_index,
        }
        path.write_bytes(dump_json(params))

    @classmethod
    def _read_params(cls, path: Path) -> tuple[Columns, list[list[str]], list[TextFeatures]]:
        params, columns = read_params(cls, path)
        where = path.name
        levels = read_levels(params, columns, where)
        return columns, levels, texts_from_json(params.get("text"), f"{where}: text", columns.text)

    def _check_model(self, n_features: int, where: str) -> None:
        if n_features != self.n_features:
            raise BaselineFileError(
                f"{where}: the model has {n_features} features, its parameters say {self.n_features}"
            )


_T = TypeVar("_T", bound=_TreeComponent)


class LightGBMComponent(_TreeComponent):
    kind = "lightgbm"
    files = {"model": ".txt", "params": ".json"}
    libraries = ("lightgbm",)

    def matrix(self, num: pd.DataFrame, cat: pd.DataFrame, txt: pd.DataFrame) -> np.ndarray:
        codes = []
        for c, levels in zip(cat.columns, self.levels):
            index = pd.Index(levels)
            code = index.get_indexer(cat[c].to_numpy(dtype=object)).astype(np.float64)
            codes.append(np.where(code < 0, np.nan, code)[:, None])
        blocks = [num.to_numpy(dtype=np.float64), *codes, *self._svd(txt)]
        return np.hstack(blocks)

    def _predict(self, num: pd.DataFrame, cat: pd.DataFrame, txt: pd.DataFrame) -> np.ndarray:
        return self.model.predict(self.matrix(num, cat, txt), num_threads=self.n_jobs)

    def _write(self, paths: dict[str, Path]) -> None:
        self.model.save_model(str(paths["model"]))
        self._write_params(paths["params"])

    @classmethod
    def _read(cls, paths: dict[str, Path], n_jobs: int) -> LightGBMComponent:
        import lightgbm

        columns, levels, texts = cls._read_params(paths["params"])
        try:
            booster = lightgbm.Booster(model_file=str(paths["model"]))
        except Exception as e:  # LightGBMError, or a parse error from a damaged file
            raise BaselineFileError(f"{paths['model'].name}: not a LightGBM model ({e})") from e
        out = cls(columns, booster, levels, texts, n_jobs)
        out._check_model(booster.num_feature(), paths["model"].name)
        return out


def prepare_tree(
    cls: type[_T],
    columns: Columns,
    frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    seed: int,
    n_jobs: int,
) -> _T:
    """The fitted category levels and note SVDs (no model yet), shared by the binary components and
    the multiclass/regression fits so all see the same features."""
    _, cat, txt = frames
    levels = [sorted(cat[c].dropna().unique().tolist()) for c in cat.columns]
    texts = fit_text(txt, svd=True, seed=seed)
    columns = Columns(columns.numeric, columns.categorical, tuple(t.column for t in texts))
    require_inputs(columns, cls.kind)
    return cls(columns, None, levels, texts, n_jobs)


def fit_lightgbm(
    columns: Columns,
    frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    y: np.ndarray,
    seed: int,
    n_jobs: int,
    params: dict[str, Any] | None = None,
) -> LightGBMComponent:
    from lightgbm import LGBMClassifier

    out = prepare_tree(LightGBMComponent, columns, frames, seed, n_jobs)
    clf = LGBMClassifier(**{**LIGHTGBM_PARAMS, **(params or {})}, random_state=seed, n_jobs=n_jobs)
    clf.fit(out.matrix(*frames), y, categorical_feature=out.categorical_index or "auto")
    out.model = clf.booster_
    return out


def catboost_module() -> Any:
    try:
        import catboost
    except ImportError as e:
        raise BaselineError("the catboost baseline needs the catboost package: pip install catboost") from e
    return catboost


class CatBoostComponent(_TreeComponent):
    kind = "catboost"
    files = {"model": ".model.json", "params": ".json"}
    libraries = ("catboost",)

    def frame(self, num: pd.DataFrame, cat: pd.DataFrame, txt: pd.DataFrame) -> pd.DataFrame:
        parts = {f"n{i}": num[c].to_numpy(dtype=np.float64) for i, c in enumerate(num.columns)}
        parts.update(
            {f"c{i}": cat[c].fillna(MISSING_LEVEL).to_numpy(dtype=object) for i, c in enumerate(cat.columns)}
        )
        svd = self._svd(txt)
        parts.update({f"t{i}_{k}": block[:, k] for i, block in enumerate(svd) for k in range(block.shape[1])})
        return pd.DataFrame(parts, index=num.index)

    def _pool(self, num: pd.DataFrame, cat: pd.DataFrame, txt: pd.DataFrame, y: Any = None) -> Any:
        return catboost_module().Pool(self.frame(num, cat, txt), label=y, cat_features=self.categorical_index)

    def _predict(self, num: pd.DataFrame, cat: pd.DataFrame, txt: pd.DataFrame) -> np.ndarray:
        pool = self._pool(num, cat, txt)
        return self.model.predict(pool, prediction_type="Probability", thread_count=self.n_jobs)[:, 1]

    def _write(self, paths: dict[str, Path]) -> None:
        self.model.save_model(str(paths["model"]), format="json")
        self._write_params(paths["params"])

    @classmethod
    def _read(cls, paths: dict[str, Path], n_jobs: int) -> CatBoostComponent:
        catboost = catboost_module()
        columns, levels, texts = cls._read_params(paths["params"])
        model = catboost.CatBoostClassifier()
        try:
            model.load_model(str(paths["model"]), format="json")
        except Exception as e:  # CatBoostError on a damaged file
            raise BaselineFileError(f"{paths['model'].name}: not a CatBoost JSON model ({e})") from e
        out = cls(columns, model, levels, texts, n_jobs)
        out._check_model(len(model.feature_names_ or []), paths["model"].name)
        if list(model.get_cat_feature_indices()) != out.categorical_index:
            raise BaselineFileError(
                f"{paths['model'].name}: its categorical features do not match its parameters"
            )
        return out


def fit_catboost(
    columns: Columns,
    frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    y: np.ndarray,
    seed: int,
    n_jobs: int,
    params: dict[str, Any] | None = None,
) -> CatBoostComponent:
    catboost = catboost_module()
    out = prepare_tree(CatBoostComponent, columns, frames, seed, n_jobs)
    settings = {**CATBOOST_PARAMS, **(params or {})}
    model = catboost.CatBoostClassifier(**settings, random_seed=seed, thread_count=n_jobs)
    out.model = model.fit(out._pool(*frames, y))
    return out
