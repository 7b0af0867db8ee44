"""The target column: which kind of question it asks (`data.task`) and its values as labels.

binary: 1 = the positive class (default), 0 = the other. multiclass: the index of the value in
`data.classes` (their order, so ordered grades keep it) or in sorted order. regression: the value
as a float; training standardizes it with the training split's mean and spread (`target_scale`),
so the head learns numbers near 0 whatever the unit, and outputs are mapped back.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from .errors import ConfigError, DataError

log = logging.getLogger(__name__)
LABEL = "labels"
TASKS = ("binary", "multiclass", "regression")
MAX_INTEGER_CLASSES = 20  # an integer target with more distinct values is read as a number


def label_key(value: Any) -> str | None:
    """A target value as the text it is compared by: 1.0 and '1' and 1 are one class; blanks are None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def declared_task(cfg: Any) -> str | None:
    """The target kind the recipe's `data:` settles without reading the data, else None."""
    if cfg.task:
        return cfg.task
    if cfg.positive is not None:
        return "binary"
    if cfg.classes:
        return "multiclass" if len(cfg.classes) > 2 else "binary"
    return None


def infer_task(cfg: Any, values: list[Any]) -> str:
    """`data.task`, or the kind the recipe and the values leave no doubt about; else one clear line."""
    declared = declared_task(cfg)
    if declared:
        return declared
    present = [v for v in values if label_key(v) is not None]
    distinct = {label_key(v) for v in present}
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    if numbers and any(isinstance(v, float) and not float(v).is_integer() for v in present):
        return "regression"
    if numbers and len(distinct) > MAX_INTEGER_CLASSES:
        return "regression"
    if not numbers and len(distinct) > 2:
        return "multiclass"
    shown = ", ".join(sorted(distinct)[:8])
    raise DataError(
        f"cannot tell what '{cfg.target}' asks ({len(distinct)} distinct values: {shown}): set "
        "data.positive for a default model, or data.task: multiclass | regression"
    )


def add_labels(table: Any, cfg: Any) -> tuple[Any, str, list[str]]:
    """Add the `labels` column; returns the table (rows with an empty target dropped, with a
    warning), the task and the label names (negative, positive | the classes | the target)."""
    raw = table.data.column(cfg.target).to_pylist()
    task = infer_task(cfg, raw)
    if task == "regression":
        labels, names = _numbers(raw, cfg), [cfg.target]
    elif task == "multiclass":
        labels, names = _classes(raw, cfg)
    else:
        labels, names = _binary(raw, cfg)
    missing = sum(v is None for v in labels)
    if missing:
        log.warning("dropped %d row(s) with an empty target '%s'", missing, cfg.target)
    table = table.add_column(LABEL, labels)
    if missing:
        table = table.filter(lambda row: row[LABEL] is not None)
    return table, task, names


def _binary(raw: list[Any], cfg: Any) -> tuple[list[int | None], list[str]]:
    values = [label_key(v) for v in raw]
    present = sorted({v for v in values if v is not None})
    positive = label_key(cfg.positive)
    if positive is None and cfg.classes and len(cfg.classes) == 2:
        positive = label_key(cfg.classes[1])
    if positive is None:
        raise DataError(
            f"data.positive is not set: which value of '{cfg.target}' means default? seen: {present[:10]}"
        )
    if positive not in present:
        raise DataError(
            f"positive value '{positive}' never occurs in '{cfg.target}' (seen: {', '.join(present[:10])})"
        )
    negatives = [v for v in present if v != positive]
    if cfg.negative is not None:
        negative = label_key(cfg.negative)
        other = [v for v in negatives if v != negative]
        if other:
            raise DataError(
                f"'{cfg.target}' has values other than '{positive}'/'{negative}': {', '.join(other[:10])}"
            )
        negatives = [v for v in negatives if v == negative]
    if not negatives:
        raise DataError(
            f"'{cfg.target}' has a single class ('{positive}'); a default model needs both outcomes"
        )
    if len(negatives) > 1:
        raise DataError(
            f"'{cfg.target}' has {len(present)} values ({', '.join(present[:10])}); data.task: binary "
            "takes two: set data.negative, map the other values to one class first, or use "
            "data.task: multiclass"
        )
    return [None if v is None else int(v == positive) for v in values], [negatives[0], positive]


def _classes(raw: list[Any], cfg: Any) -> tuple[list[int | None], list[str]]:
    values = [label_key(v) for v in raw]
    present = sorted({v for v in values if v is not None})
    if cfg.positive is not None or cfg.negative is not None:
        raise DataError(
            "data.positive/negative name the two classes of a binary target; drop them for multiclass"
        )
    classes = [label_key(c) for c in cfg.classes] if cfg.classes else present
    if cfg.classes:
        if len(set(classes)) != len(classes) or None in classes:
            raise DataError(f"data.classes: {cfg.classes} lists a class twice or a blank one")
        never = [c for c in classes if c not in present]
        if never:
            raise DataError(
                f"data.classes: {never} never occur in '{cfg.target}' (seen: {', '.join(present[:12])})"
            )
        unknown = [v for v in present if v not in classes]
        if unknown:
            raise DataError(
                f"'{cfg.target}' has values not in data.classes: {', '.join(unknown[:10])}; list them or "
                "map them to a listed class first"
            )
    if len(classes) < 3:
        raise DataError(
            f"'{cfg.target}' has {len(classes)} class(es) ({', '.join(classes)}); multiclass needs three or "
            "more (two: data.task: binary with data.positive)"
        )
    index = {c: i for i, c in enumerate(classes)}
    return [None if v is None else index[v] for v in values], list(classes)


def _numbers(raw: list[Any], cfg: Any) -> list[float | None]:
    if cfg.positive is not None or cfg.classes:
        raise DataError("data.positive/classes name classes; a regression target has none: drop them")
    out: list[float | None] = []
    words: list[Any] = []
    for v in raw:
        if v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip()):
            out.append(None)
            continue
        try:
            number = float(v)
        except (TypeError, ValueError):
            words.append(v)
            continue
        if not math.isfinite(number):
            raise DataError(
                f"'{cfg.target}' holds an infinite value; a regression target must be finite numbers"
            )
        out.append(number)
    if words:
        shown = ", ".join(repr(w) for w in list(dict.fromkeys(words))[:3])
        raise DataError(
            f"data.task: regression but '{cfg.target}' holds {len(words)} non-number value(s) ({shown}); "
            "a column of words is a classification target (data.task: multiclass)"
        )
    present = {v for v in out if v is not None}
    if len(present) < 2:
        raise DataError(f"'{cfg.target}' holds a single value; there is nothing to predict")
    return out


def target_scale(labels: np.ndarray) -> dict[str, float]:
    """Mean and standard deviation of a regression target on the training rows."""
    std = float(np.std(labels))
    return {"mean": float(np.mean(labels)), "std": std if std > 0 else 1.0}


def standardized(ds: Any, scale: dict[str, float]) -> Any:
    """A regression split with its `labels` standardized for training (float32, as the head)."""
    values = (np.asarray(ds[LABEL], dtype=np.float64) - scale["mean"]) / scale["std"]
    return ds.remove_columns(LABEL).add_column(LABEL, values.astype(np.float32).tolist())


def stratify_on(labels: np.ndarray, task: str) -> np.ndarray | None:
    """What a split is stratified by: the class, or nothing for a regression target."""
    return None if task == "regression" else labels


CALIBRATIONS = {
    "binary": ("temperature", "platt", "isotonic", "none"),
    "multiclass": ("temperature", "none"),
    "regression": ("linear", "isotonic", "none"),
}


def calibration_method(recipe: Any, task: str) -> str:
    """The recipe's calibration with `auto` resolved: linear for numbers; for a default model none
    when its head is fitted in closed form (`model.head: fitted`, as `training.settled` spells out
    `auto`): a logistic regression, or a ridge regression onto the teachers' cross-fitted log-odds,
    already outputs log-odds, and a temperature fitted on ~150 validation rows only added noise
    (docs/experiments.md, round 12); temperature for a head the Trainer trained and for classes."""
    if recipe.calibration != "auto":
        return recipe.calibration
    if task == "regression":
        return "linear"
    return "none" if task == "binary" and recipe.model.head == "fitted" else "temperature"


def settle_task(recipe: Any, task: str) -> None:
    """Settle the recipe for its target kind (with the recipe's declared task, and again once the
    data has told an inferred one): `model.hybrid: null` becomes the baselines for a default
    (binary) target and nothing otherwise; options that only mean something for a default model
    are refused on other target kinds."""
    if recipe.model.hybrid is None:
        recipe.model.hybrid = list(recipe.baselines) if task == "binary" else []
    if recipe.model.pooling == "ffn" and not recipe.fits_head(task):
        recipe.model.pooling = "auto"  # the student is the fitted head's: a recipe that trains its head,
        # e.g. German credit's with a lora section, pools as auto settles
    if task == "binary":
        if recipe.data.ordered:
            raise ConfigError("data.ordered: ordered grades need data.task: multiclass")
        bad = None if recipe.calibration in ("auto", *CALIBRATIONS[task]) else "calibration"
        if recipe.model.hybrid_fit == "crossfit" and not recipe.fits_head(task):
            raise ConfigError(
                "model.hybrid_fit: crossfit refits the transformer once per fold; it needs its head fitted "
                "in closed form (model.train_layers: 0, no lora section, train_loss: ce)"
            )
    else:
        binary_only = {
            "model.hybrid": bool(recipe.model.hybrid),
            "model.blend": recipe.model.blend is not None,
            "distill": recipe.distill is not None,
            "model.head: fitted": recipe.model.head == "fitted",
            "model.hybrid_fit: crossfit": recipe.model.hybrid_fit == "crossfit",
            "train_loss: weighted": recipe.train_loss == "weighted",
            "baselines: scorecard": "scorecard" in recipe.baselines,
        }
        bad = next((key for key, used in binary_only.items() if used), None)
        if bad is None and recipe.calibration not in ("auto", *CALIBRATIONS[task]):
            bad = "calibration"
    if bad == "calibration":
        allowed = ", ".join(CALIBRATIONS[task])
        raise ConfigError(
            f"calibration: '{recipe.calibration}' does not apply to a {task} target; use {allowed}"
        )
    if bad:
        raise ConfigError(f"{bad}: is for default (binary) models; data.task is {task}: remove it")
    if task == "regression" and recipe.data.ordered:
        raise ConfigError("data.ordered: a regression target has no classes to order")


def hybrid_fit_method(recipe: Any, task: str) -> str:
    """`model.hybrid_fit` with `auto` resolved: crossfit for a default target whose head is fitted in
    closed form (refitting it once per fold costs seconds, the encoder's pass is shared): every part
    then learns from all the rows outside test, and the weights, calibration and threshold from
    ~800 cross-fitted rows on German credit instead of ~150 validation rows (docs/experiments.md,
    round 13); validation otherwise (a head the Trainer trains would train k + 1 times)."""
    if recipe.model.hybrid_fit != "auto":
        return recipe.model.hybrid_fit
    return "crossfit" if task == "binary" and recipe.model.head == "fitted" else "validation"
