"""`model.head`: with every layer frozen, a default model's head fitted in closed form, not by SGD.

When no layer trains, each row reaches the head as one fixed vector (the cached state the pooler
reads), so the head can be fitted as a linear model on the standardized vectors, its penalty chosen
by cross-validation (a logistic regression on the labels; with `distill:`, a ridge regression on the
log-odds of the soft targets, the teachers' PDs), instead of trained by AdamW for some epochs at
some learning rate. Lab notebook, round 10: for the transformer alone, the same out-of-fold AUC as
the trained head on German credit, +0.010 on Lending Club, +0.021 on Taiwan; no learning rate or
epochs to choose, the same model from the same rows on any machine, a faster cv. The fit is
written into the pooler and classifier weights (the pooler's tanh run in its near-linear range,
which the fit already sees), so the model stays a plain BERT classifier that `from_pretrained`
loads and the HF `Trainer` predicts with.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import torch

from .errors import ConfigError

log = logging.getLogger(__name__)

SLOPE = 0.05  # the pooler's tanh sees SLOPE x the standardized state: |x| < 4 stays within 2% of linear
ALPHAS = np.logspace(-1, 5, 13)  # ridge penalties tried (generalized cross-validation)
CS = np.logspace(-4, 0, 9)  # inverse logistic penalties tried (inner 3-fold AUC)


def can_fit(model: Any) -> bool:
    """A two-class BERT-style head (a dense + tanh pooler, then a linear classifier) on layers
    whose outputs `frozen.FrozenCache` can hold."""
    from .frozen import can_cache

    pooler = getattr(model.base_model, "pooler", None)
    classifier = getattr(model, "classifier", None)
    return (
        isinstance(getattr(pooler, "dense", None), torch.nn.Linear)
        and isinstance(classifier, torch.nn.Linear)
        and classifier.out_features == 2
        and can_cache(model)
    )


def wants_fit(recipe: Any, model: Any, task: str) -> bool:
    """`model.head` settled: `fitted` always (`fit_head` refuses a model it cannot fit); `auto` where
    the recipe allows it (`RecipeConfig.fits_head`) and the model is a BERT-style classifier."""
    return recipe.fits_head(task) and (recipe.model.head == "fitted" or can_fit(model))


def fit_head(model: Any, cache: Any, train_ds: Any) -> dict[str, Any]:
    """Fit the head of `model` on the cached states of `train_ds`'s rows and write it into the
    pooler and classifier. Hard labels: logistic regression; soft labels: ridge on their log-odds."""
    if cache is None or not cache.first_only or not can_fit(model):
        raise ConfigError(
            "model.head: fitted needs a BERT-style classifier (a pooler, two classes) whose layers are all frozen"
        )
    rows = [int(r) for r in train_ds["table_row"]]
    x = torch.cat([cache.states[r][:1] for r in rows]).double().numpy()
    target = np.asarray(train_ds["labels"], dtype=np.float64)
    mean, std = x.mean(0), np.maximum(x.std(0), 1e-6)
    features = np.tanh(SLOPE * (x - mean) / std) / SLOPE  # what the classifier will see, / SLOPE
    if np.isin(target, (0.0, 1.0)).all():
        from sklearn.linear_model import LogisticRegressionCV

        # scikit-learn 1.9 warns of 1.10's defaults: l1_ratios (0.0,), the L2 penalty used here,
        # and simpler fitted attributes, which read the same raveled
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module="sklearn.linear_model")
            fit = LogisticRegressionCV(Cs=CS, cv=3, scoring="roc_auc", max_iter=3000).fit(
                features, target.astype(int)
            )
        weight, bias = np.ravel(fit.coef_), float(np.ravel(fit.intercept_)[0])
        chosen = {"C": float(np.ravel(fit.C_)[0])}
    else:
        from sklearn.linear_model import RidgeCV

        from .metrics import logit

        fit = RidgeCV(alphas=ALPHAS).fit(features, logit(np.clip(target, 1e-4, 1 - 1e-4)))
        weight, bias, chosen = fit.coef_, float(fit.intercept_), {"alpha": float(fit.alpha_)}
    write_head(model, mean, std, weight, bias)
    log.info("head fitted in closed form on %d rows (%s)", len(rows), chosen)
    return {"rows": len(rows), **chosen}


@torch.no_grad()
def write_head(model: Any, mean: np.ndarray, std: np.ndarray, weight: np.ndarray, bias: float) -> None:
    """pooler(x) = tanh(SLOPE * (x - mean) / std); margin = weight . pooler(x) / SLOPE + bias."""
    dense, classifier = model.base_model.pooler.dense, model.classifier
    dtype = dense.weight.dtype
    dense.weight.copy_(torch.diag(torch.as_tensor(SLOPE / std, dtype=dtype)))
    dense.bias.copy_(torch.as_tensor(-SLOPE * mean / std, dtype=dtype))
    classifier.weight.zero_()
    classifier.bias.zero_()
    classifier.weight[1] = torch.as_tensor(weight / SLOPE, dtype=dtype)
    classifier.bias[1] = bias
