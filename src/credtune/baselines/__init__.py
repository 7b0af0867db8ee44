"""Classic credit baselines the fine-tuned transformer has to beat on the same splits, and can be
stacked with inside a model folder.

Four components: ``logistic`` (one-hot + standardized logistic regression), ``scorecard`` (WoE
scorecard on optbinning bins, with a points table), ``lightgbm`` and ``catboost``. Each is fitted
with ``fit_component``, predicts P(bad) with ``.predict_proba(df)``, writes plain data files with
``.save(folder)`` (JSON, LightGBM text or CatBoost JSON; never pickle, so loading runs no code) and
comes back with ``load_component(folder, meta)`` predicting exactly as before.
"""

from __future__ import annotations

from ..config import BASELINES
from .common import BaselineError, BaselineFileError
from .component import Component
from .registry import COMPONENTS, default_threads, fit_component, load_component, points_table, run_baselines
from .scorecard import ScorecardComponent

__all__ = [
    "BASELINES",
    "COMPONENTS",
    "BaselineError",
    "BaselineFileError",
    "Component",
    "ScorecardComponent",
    "default_threads",
    "fit_component",
    "load_component",
    "points_table",
    "run_baselines",
]
