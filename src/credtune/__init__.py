"""credtune: fine-tune pretrained transformers into calibrated credit-default models.

The public API is small: `load_recipe`, `train`, `cross_validate`, `evaluate_model`, `preview`,
and `CreditScorer` for scoring and explaining. Imports are lazy so `import credtune` is cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "load_recipe": "credtune.config",
    "train": "credtune.api",
    "pretrain": "credtune.api",
    "preview": "credtune.api",
    "validate": "credtune.api",
    "cross_validate": "credtune.api",
    "evaluate_model": "credtune.api",
    "CreditScorer": "credtune.scoring",
    "score_file": "credtune.runs.batch",
    "explain_file": "credtune.runs.batch",
    "explain_frame": "credtune.explain",
    "global_importance": "credtune.explain",
    "push": "credtune.hub",
    "Serializer": "credtune.serialize",
    "RecipeConfig": "credtune.config",
}
__all__ = list(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'credtune' has no attribute {name!r}")
