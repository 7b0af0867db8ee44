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
from typing import Any, NamedTuple

import numpy as np
import torch

from .errors import ConfigError

log = logging.getLogger(__name__)

SLOPE = 0.05  # the pooler's tanh sees SLOPE x the standardized state: |x| < 4 stays within 2% of linear
READ_SLOPE = 1e-3  # `model.pooling: ffn`: the head reads the student back, linear to ~1e-7
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
    pooler and classifier. Hard labels: logistic regression; soft labels: ridge on their log-odds.
    With `model.pooling: ffn` the student (a ridge on either) is written into the feature layer first."""
    if cache is None or not cache.first_only or not can_fit(model):
        raise ConfigError(
            "model.head: fitted needs a BERT-style classifier (a pooler, two classes) whose layers are all frozen"
        )
    rows = [int(r) for r in train_ds["table_row"]]
    target = np.asarray(train_ds["labels"], dtype=np.float64)
    if cache.parts is not None:
        return fit_student(model, cache, rows, target)
    x = torch.cat([cache.states[r][:1] for r in rows]).double().numpy()
    mean, std = x.mean(0), np.maximum(x.std(0), 1e-6)
    features = np.tanh(SLOPE * (x - mean) / std) / SLOPE  # what the classifier will see, / SLOPE
    weight, bias, chosen = fit_linear(features, target)
    write_head(model, mean, std, weight, bias)
    log.info("head fitted in closed form on %d rows (%s)", len(rows), chosen)
    return {"rows": len(rows), **chosen}


def fit_linear(
    features: np.ndarray, target: np.ndarray, by_ridge: bool = False
) -> tuple[np.ndarray, float, dict[str, float]]:
    """Labels 0/1: logistic regression, its penalty chosen by inner 3-fold AUC (`by_ridge`:
    `ridge_labels` instead); soft labels (PDs): ridge on their log-odds, its penalty by
    leave-one-out error."""
    from .metrics import logit

    if not np.isin(target, (0.0, 1.0)).all():
        fit = ridge_loo(features, logit(np.clip(target, 1e-4, 1 - 1e-4)), ALPHAS)
        return fit.weight, fit.bias, {"alpha": fit.alpha}
    if by_ridge:
        return ridge_labels(features, target)
    from sklearn.linear_model import LogisticRegressionCV

    # scikit-learn 1.9 warns of 1.10's defaults: l1_ratios (0.0,), the L2 penalty used here,
    # and simpler fitted attributes, which read the same raveled
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module="sklearn.linear_model")
        fit = LogisticRegressionCV(Cs=CS, cv=3, scoring="roc_auc", max_iter=3000).fit(
            features, target.astype(int)
        )
    return np.ravel(fit.coef_), float(np.ravel(fit.intercept_)[0]), {"C": float(np.ravel(fit.C_)[0])}


def ridge_labels(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float, dict[str, float]]:
    """Log-odds from 0/1 labels on many features in one eigendecomposition: the direction is a
    ridge regression of the labels (a shrunk linear discriminant), the scale a one-feature logistic
    regression of the labels on its leave-one-out scores (the in-sample ones are overconfident).
    On 3,840 rows of 1,536 features: 0.66-0.78 s where `LogisticRegressionCV` took 8.6-9.1 s, for
    the same held-out AUC (scripts/experiments/label_student_timing.py)."""
    from sklearn.linear_model import LogisticRegression

    fit = ridge_loo(features, labels, ALPHAS)
    scale = LogisticRegression(C=1e4).fit(fit.loo[:, None], labels.astype(int))
    slope, shift = float(scale.coef_[0, 0]), float(scale.intercept_[0])
    return slope * fit.weight, slope * fit.bias + shift, {"alpha": fit.alpha, "slope": slope}


class Ridge(NamedTuple):
    weight: np.ndarray
    bias: float
    alpha: float
    loo: np.ndarray  # each row's prediction by the fit without it


def ridge_loo(x: np.ndarray, y: np.ndarray, alphas: np.ndarray) -> Ridge:
    """Ridge regression with an intercept, its penalty the one of `alphas` with the least
    leave-one-out squared error: what scikit-learn's `RidgeCV(alphas)` fits, from one eigen-
    decomposition of the smaller Gram matrix (p x p or n x n) instead of an SVD of the n x p
    features: 0.73-0.91 s against 3.7-4.4 s for 6,300 rows of 1,536 features, fitted six times a cv fold."""
    x_mean, y_mean = x.mean(0), y.mean()
    xc, yc = x - x_mean, y - y_mean
    wide = len(x) < x.shape[1]  # then the n x n Gram matrix is the smaller one
    eigen, vectors = np.linalg.eigh(xc @ xc.T if wide else xc.T @ xc)
    keep = eigen > eigen.max() * 1e-12
    eigen, vectors = eigen[keep], vectors[:, keep]
    u = vectors if wide else xc @ vectors / np.sqrt(eigen)  # orthonormal, spanning the features
    if wide:
        vectors = xc.T @ u / np.sqrt(eigen)
    uty, u2 = u.T @ yc, u**2
    best = None
    for alpha in alphas:
        shrink = eigen / (eigen + alpha)
        hat = 1.0 / len(y) + u2 @ shrink  # leverage of each row, the intercept's share included
        residual = (yc - u @ (shrink * uty)) / (1.0 - hat)  # each row's, left out of the fit
        error = float(np.mean(residual**2))
        if best is None or error < best[0]:
            best = (error, float(alpha), y - residual)
    _, alpha, loo = best
    weight = vectors @ (np.sqrt(eigen) / (eigen + alpha) * uty)
    return Ridge(weight, float(y_mean - x_mean @ weight), alpha, loo)


def fit_student(model: Any, cache: Any, rows: list[int], target: np.ndarray) -> dict[str, Any]:
    """`model.pooling: ffn`: the linear model on the standardized mean of phi (the student; on 0/1
    labels `ridge_labels`, round 15: as good as a logistic regression, 12x faster), written
    into the feature layer scaled so each row's mean sits near unit spread; then the head that reads
    it back from the pooled states' dim M, by least squares of the student's scores on it (near
    linear: the margin is the student's score)."""
    from .ffn_pooling import M, write_student

    phi = cache.parts["phi"][rows].double().numpy()
    mean, std = phi.mean(0), np.maximum(phi.std(0), 1e-12)
    standardized = (phi - mean) / std
    weight, bias, chosen = fit_linear(standardized, target, by_ridge=True)
    score = standardized @ weight + bias  # the student's log-odds for each training row
    unit = weight / std / max(float(np.std(score)), 1e-6)  # one spread of the score per unit
    write_student(model, unit, float(unit @ mean), float(cache.parts["inv"][rows].mean()))
    cache.refresh(model)
    x = torch.cat([cache.states[r] for r in rows]).double().numpy()
    x_mean, x_std = x.mean(0), np.maximum(x.std(0), 1e-6)
    read = np.tanh(READ_SLOPE * (x[:, M] - x_mean[M]) / x_std[M]) / READ_SLOPE
    slope, intercept = np.polyfit(read, score, 1)
    reads = np.zeros(len(x_mean))  # dim M alone: the others are constants (under bf16 autocast, a
    reads[M] = slope  # weight on one would read its rounding)
    write_head(model, x_mean, x_std, reads, float(intercept), READ_SLOPE)
    log.info("student fitted in closed form on %d rows (%s)", len(rows), chosen)
    return {"rows": len(rows), "features": int(phi.shape[1]), **chosen}


@torch.no_grad()
def write_head(
    model: Any, mean: np.ndarray, std: np.ndarray, weight: np.ndarray, bias: float, slope: float = SLOPE
) -> None:
    """pooler(x) = tanh(slope * (x - mean) / std); margin = weight . pooler(x) / slope + bias."""
    dense, classifier = model.base_model.pooler.dense, model.classifier
    dtype = dense.weight.dtype
    dense.weight.copy_(torch.diag(torch.as_tensor(slope / std, dtype=dtype)))
    dense.bias.copy_(torch.as_tensor(-slope * mean / std, dtype=dtype))
    classifier.weight.zero_()
    classifier.bias.zero_()
    classifier.weight[1] = torch.as_tensor(weight / slope, dtype=dtype)
    classifier.bias[1] = bias
