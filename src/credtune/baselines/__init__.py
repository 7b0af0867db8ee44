"""Classic credit baselines the fine-tuned transformer has to beat on the same splits, and can be
stacked with inside a model folder.

Six components: ``logistic`` (one-hot + standardized logistic regression), ``scorecard`` (WoE
scorecard on optbinning bins, with a points table), ``lightgbm``, ``catboost``, ``notes`` (the
logistic model on the note columns alone) and ``kernel`` (an RBF kernel by random Fourier features of
the logistic design). Each is fitted with ``fit_component``, predicts P(bad) with
``.predict_proba(df)`` (or ``.predict(df)``), writes plain data files with ``.save(folder)`` (JSON,
LightGBM text, CatBoost JSON or safetensors; never pickle, so loading runs no code) and comes back with
``load_component(folder, meta)`` predicting exactly as before.

For ``task="multiclass"`` or ``"regression"``, ``fit_component`` gives a ``TaskModel`` on the same
features whose ``.predict(df)`` is class probabilities or values; it serves one run and is not
saved. The scorecard is binary-only.
"""

from __future__ import annotations

from ..config import BASELINES
from .common import BaselineError, BaselineFileError
from .component import Component
from .registry import COMPONENTS, default_threads, fit_component, load_component, points_table, run_baselines
from .scorecard import ScorecardComponent
from .tasks import TaskModel

__all__ = [
    "BASELINES",
    "COMPONENTS",
    "BaselineError",
    "BaselineFileError",
    "Component",
    "ScorecardComponent",
    "TaskModel",
    "default_threads",
    "fit_component",
    "load_component",
    "points_table",
    "run_baselines",
]
