"""The Python API a notebook calls; the CLI is a thin shell over these functions."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .config import RecipeConfig, load_recipe
from .training import RunResult, encode, training_arguments
from .training import train as _train

log = logging.getLogger(__name__)
__all__ = ["load_recipe", "train", "preview", "validate", "cross_validate", "evaluate_model"]


def _recipe(recipe: RecipeConfig | str | Path, overrides: list[str] | None = None) -> RecipeConfig:
    return recipe if isinstance(recipe, RecipeConfig) else load_recipe(recipe, overrides)


def train(
    recipe: RecipeConfig | str | Path,
    output_dir: str | Path | None = None,
    *,
    overrides: list[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> RunResult:
    """Fine-tune and write a run folder (model/, metrics.json, report); see `credtune train`."""
    return _train(_recipe(recipe, overrides), output_dir, resume=resume, overwrite=overwrite)


def preview(recipe: RecipeConfig | str | Path, overrides: list[str] | None = None, n: int = 5) -> str:
    """Serialized rows with their token counts and truncation stats, for a leakage check."""
    from . import data
    from .modeling import load_tokenizer

    recipe = _recipe(recipe, overrides)
    prep = data.prepare(recipe)
    tokenizer = load_tokenizer(recipe.model)
    encoded = encode(prep.table, prep.serializer, tokenizer, recipe.model.max_length)
    lengths = encoded["length"]
    lines = []
    for i in range(min(n, len(encoded))):
        row = encoded[i]
        label = prep.schema["label_names"][row["labels"]]
        lines += [f"--- row {i} ({row['length']} tokens, target hidden: {label})", row["text"]]
    cut = sum(encoded["truncated"])
    at_limit = sum(length >= recipe.model.max_length for length in lengths)
    lines += [
        "",
        f"rows: {len(encoded)}   tokens/row: mean {sum(lengths) / len(lengths):.1f}, max {max(lengths)}"
        f"   max_length: {recipe.model.max_length}",
        f"notes shortened: {cut} row(s); rows at the token limit: {at_limit}",
        f"fields serialized: {', '.join(prep.serializer.columns)}",
        f"never serialized: target '{recipe.data.target}'"
        + "".join(f", {c}" for c in [recipe.data.id, *recipe.data.exclude] if c)
        + (
            ""
            if recipe.serialize.include_protected
            else "".join(f", {c} (protected)" for c in recipe.data.protected)
        ),
    ]
    return "\n".join(lines)


def validate(recipe: RecipeConfig | str | Path) -> str:
    """Load a recipe, check its columns against its data and its train section; 'ok ...' or raise."""
    from . import data

    recipe = _recipe(recipe)
    prep = data.prepare(recipe)
    training_arguments(recipe, Path("runs") / recipe.name / "checkpoints")
    sizes = ", ".join(f"{k} {len(v)}" for k, v in prep.splits.items())
    return f"ok ({len(prep.table)} rows: {sizes}; {len(prep.serializer.columns)} fields)"


def cross_validate(
    recipe: RecipeConfig | str | Path,
    folds: int = 5,
    seeds: int = 1,
    output_dir: str | Path | None = None,
    *,
    overrides: list[str] | None = None,
    overwrite: bool = False,
    command: str | None = None,
) -> RunResult:
    """Stratified k-fold CV, transformer and baselines on the same folds; writes cv.json, oof.csv and a
    report into `output_dir` (default runs/<recipe>-cv); see `credtune cv`."""
    from .cv import cross_validate as _cv

    return _cv(_recipe(recipe, overrides), folds, seeds, output_dir, overwrite=overwrite, command=command)


def evaluate_model(
    model_dir: str | Path,
    data: str | Path,
    report_dir: str | Path | None = None,
    reference: str | Path | None = None,
    importance_rows: int = 200,
) -> RunResult:
    """Score a labelled file with a trained model: credit metrics, decision at the stored threshold,
    fairness, drift vs `reference`, and global field importance (field occlusion on up to
    `importance_rows` rows; 0 skips it); writes metrics.json + report into `report_dir`."""
    from . import metrics as M
    from .contract import load_spec
    from .data import read_table
    from .evaluation import sigmoid
    from .report import write_report
    from .scoring import CreditScorer
    from .training import _write_json_atomic

    model_dir = Path(model_dir)
    if (model_dir / "model" / "credtune.json").is_file():  # a run folder: use its model/
        model_dir = model_dir / "model"
    name = model_dir.parent.name if model_dir.name == "model" else model_dir.name
    out_dir = Path(report_dir) if report_dir else Path("runs") / f"evaluate-{name}"
    source = Path(data).name
    df, y, dropped = _labelled_frame(
        read_table(data), load_spec(model_dir).schema, source
    )  # before the weights
    scorer = CreditScorer.from_pretrained(model_dir)
    spec, schema = scorer.spec, scorer.spec.schema
    margin = scorer.predict_margin(df)
    p, raw = scorer.calibrate(margin), sigmoid(margin)
    scores = M.credit_metrics(y, p)
    metrics: dict = {"kind": "evaluate", "model": str(model_dir), "data": source, "dropped_rows": dropped}
    metrics.update({k: v for k, v in scores.items() if k != "ks_threshold"})
    metrics["not_computable"] = [k for k, v in scores.items() if v is None]
    if metrics["not_computable"]:
        lost = ", ".join(metrics["not_computable"])
        log.warning("%s holds a single class: %s not computable", source, lost)
    metrics["models"] = {"transformer": scores}
    calibration_keys = ("brier", "ece", "log_loss")
    metrics["calibration"] = {
        "method": spec.calibration.get("method"),
        "before": {k: v for k, v in M.credit_metrics(y, raw).items() if k in calibration_keys},
        "after": {k: scores[k] for k in calibration_keys},
    }
    metrics["deciles"] = M.decile_table(y, p)
    cut = spec.threshold if spec.threshold is not None else 0.5
    if spec.threshold is not None:
        metrics["decision"] = {**M.decision_summary(y, p, spec.threshold), "rule": "stored threshold"}
    metrics["fairness"] = []
    for column in schema.get("protected", []):
        if column in df.columns:
            metrics["fairness"].append(M.fairness_table(df[column], y, p, cut, column))
        else:
            log.warning("protected column '%s' is not in %s; fairness for it skipped", column, source)
    if reference is not None:
        ref = read_table(reference).to_pandas()
        value = M.psi(scorer.predict_proba(ref), p)
        kinds = {c["name"]: c["kind"] for c in schema["columns"]}
        numeric = [c for c, k in kinds.items() if k == "numeric"]
        categorical = [c for c, k in kinds.items() if k == "categorical"]
        metrics["stability"] = {
            "reference": Path(reference).name,
            "score_psi": value,
            "reading": M.psi_reading(value),
            "fields": M.characteristic_stability(ref, df, numeric, categorical),
        }
    metrics["fields"] = scorer.serializer.columns
    if importance_rows > 0:
        from .explain import global_importance

        sample = df.sample(importance_rows, random_state=0) if len(df) > importance_rows else df
        metrics["importance"] = [
            {"field": row.label, "mean_abs_effect": float(row.mean_abs_pd_change)}
            for row in global_importance(scorer, sample).itertuples()
        ]
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json_atomic(out_dir / "metrics.json", metrics)
    arrays = {"y": y, "pd": {"transformer": p}, "pd_raw": raw}
    write_report(out_dir, metrics, arrays, title=f"credtune evaluate: {name} on {source}")
    return RunResult(out_dir, metrics)


def _labelled_frame(table: Any, schema: dict, name: str) -> tuple[Any, Any, int]:
    """The file as a DataFrame plus 0/1 labels from the target and positive class stored in
    credtune.json; a file holding one class only is allowed (metrics needing both become None)."""
    import numpy as np

    from .data import _key
    from .errors import DataError, did_you_mean

    target, positive = schema["target"], str(schema["positive"])
    columns = table.column_names
    if target not in columns:
        hint = did_you_mean(target, columns)
        raise DataError(f"{name} has no target column '{target}' (the model was trained on it){hint}")
    missing = [c["name"] for c in schema["columns"] if c["name"] not in columns]
    if missing:
        raise DataError(f"{name} lacks {len(missing)} column(s) the model reads: {', '.join(missing)}")
    df = table.to_pandas()
    values = [_key(v) for v in df[target]]
    known = {positive, *map(str, schema["label_names"])}
    other = sorted({v for v in values if v is not None and v not in known})
    if other:
        raise DataError(
            f"'{target}' in {name} has values the model does not know: {', '.join(other[:10])} "
            f"(expected {', '.join(sorted(known))})"
        )
    keep = np.array([v is not None for v in values], dtype=bool)
    if not keep.all():
        log.warning("dropped %d row(s) with an empty target '%s'", int((~keep).sum()), target)
    y = np.array([int(v == positive) for v in values if v is not None], dtype=int)
    return df[keep].reset_index(drop=True), y, int((~keep).sum())
