"""`credtune evaluate`: a trained model on a labelled file, with every reviewer check and a report.

The metrics come from the same `evaluation.assess` as a training run's test split, so the same
predictions give the same figures here, in `credtune train` and in `credtune cv`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..contract import load_spec
from ..data import label_key
from ..errors import DataError, did_you_mean
from ..evaluation import assess, protected_groups, stability
from ..files import check_report_dir, output_lock, read_table, write_json_atomic
from ..metrics import sigmoid
from . import RunResult

log = logging.getLogger(__name__)


def evaluate_model(
    model_dir: str | Path,
    data: str | Path,
    report_dir: str | Path | None = None,
    reference: str | Path | None = None,
    importance_rows: int = 200,
) -> RunResult:
    """Score a labelled file with a trained model: credit metrics, decision at the stored threshold,
    fairness, drift vs `reference`, and global field importance (field occlusion on up to
    `importance_rows` rows; 0 skips it); writes metrics.json + report into `report_dir`, which must
    be a folder of its own (or an earlier evaluate report): never a run folder or an input."""
    model_dir = Path(model_dir)
    if (model_dir / "model" / "credtune.json").is_file():  # a run folder: use its model/
        model_dir = model_dir / "model"
    name = model_dir.parent.name if model_dir.name == "model" else model_dir.name
    out_dir = Path(report_dir) if report_dir else Path("runs") / f"evaluate-{name}"
    if isinstance(importance_rows, bool) or not isinstance(importance_rows, int) or importance_rows < 0:
        raise DataError(
            f"--importance-rows must be 0 (skip) or a positive number of rows, got {importance_rows!r}"
        )
    inputs = [model_dir if model_dir.exists() else None, Path(data), Path(reference) if reference else None]
    check_report_dir(out_dir, inputs)
    with output_lock(out_dir):
        return _evaluate(model_dir, name, data, out_dir, reference, importance_rows)


def _evaluate(
    model_dir: Path,
    name: str,
    data: str | Path,
    out_dir: Path,
    reference: str | Path | None,
    importance_rows: int,
) -> RunResult:
    from ..scoring import CreditScorer

    source = Path(data).name
    df, y, dropped = labelled_frame(read_table(data), load_spec(model_dir).schema, source)  # before weights
    scorer = CreditScorer.from_pretrained(model_dir)
    spec, schema = scorer.spec, scorer.spec.schema
    if spec.task != "binary":
        metrics, arrays = kind_metrics(
            scorer, df, y, protected_groups(df, schema.get("protected", []), source)
        )
        metrics = {
            "kind": "evaluate",
            "model": str(model_dir),
            "data": source,
            "dropped_rows": dropped,
            **metrics,
        }
        return _finish(
            scorer, metrics, arrays, df, out_dir, reference, importance_rows, f"{name} on {source}"
        )
    margin = scorer.predict_margin(df)
    pds = {"transformer": scorer.calibrate(margin)}
    if scorer.hybrid is not None:  # every part of the shipped hybrid, each on the same rows
        parts = scorer.hybrid.component_pds(scorer.frame(df))
        pds.update({**parts, "hybrid": scorer.hybrid.stacker.predict(margin, parts)})
    p, raw = pds[scorer.shipped], sigmoid(margin)
    costs = spec.costs or {}
    metrics: dict[str, Any] = {
        "kind": "evaluate",
        "model": str(model_dir),
        "data": source,
        "dropped_rows": dropped,
        "shipped": scorer.shipped,
        "fitted_on": spec.training.get("fitted_on", "validation split"),  # the stored threshold's rows
    }
    metrics.update(
        assess(
            y,
            pds,
            main=scorer.shipped,
            raw=raw,
            calibrated="transformer",
            calibration=spec.calibration.get("method"),
            threshold=spec.threshold,
            rule="stored threshold",
            costs=(costs.get("cost_bad_approved", 5.0), costs.get("cost_good_rejected", 1.0)),
            groups=protected_groups(df, schema.get("protected", []), source),
        )
    )
    if metrics["not_computable"]:
        lost = ", ".join(metrics["not_computable"])
        log.warning("%s holds a single class: %s not computable", source, lost)
    arrays = {"y": y, "pd": pds, "pd_raw": raw if scorer.shipped == "transformer" else None}
    return _finish(scorer, metrics, arrays, df, out_dir, reference, importance_rows, f"{name} on {source}", p)


def kind_metrics(
    scorer: Any, df: Any, y: np.ndarray, groups: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The metrics block of a multiclass or regression model on labelled rows (transformer only),
    with its errors per protected column in `groups`."""
    from ..metrics import multiclass_block, regression_block

    out = scorer.outputs_for([scorer.clean(r) for r in scorer.records(df)])
    schema = scorer.spec.schema
    common = {"main": "transformer", "calibration": scorer.spec.calibration.get("method"), "groups": groups}
    if scorer.spec.task == "multiclass":
        classes, ordered = list(schema["label_names"]), bool(schema.get("ordered"))
        block = multiclass_block(y, {"transformer": out}, classes=classes, ordered=ordered, **common)
        return block, {"y": y, "proba": {"transformer": out}}
    block = regression_block(y, {"transformer": out}, target=schema["target"], **common)
    return block, {"y": y, "pred": {"transformer": out}}


def _finish(
    scorer: Any,
    metrics: dict[str, Any],
    arrays: dict[str, Any],
    df: Any,
    out_dir: Path,
    reference: str | Path | None,
    importance_rows: int,
    title: str,
    p: Any = None,
) -> RunResult:
    """Drift against `reference`, field importance, then metrics.json and the report."""
    from ..report import write_report

    schema = scorer.spec.schema
    if reference is not None:
        ref = read_table(reference).to_pandas()
        kinds = {c["name"]: c["kind"] for c in schema["columns"]}
        numeric = [c for c, k in kinds.items() if k == "numeric"]
        categorical = [c for c, k in kinds.items() if k == "categorical"]
        if p is None:  # multiclass / regression: one number per row (`summary_score`)
            drift = stability(ref, df, _summary(scorer, ref), _summary(scorer, df), numeric, categorical)
        else:
            drift = stability(ref, df, scorer.predict_proba(ref), p, numeric, categorical)
        metrics["stability"] = {"reference": Path(reference).name, **drift}
    metrics["fields"] = scorer.serializer.columns
    if importance_rows > 0:
        from ..explain import global_importance

        sample = df.sample(importance_rows, random_state=0) if len(df) > importance_rows else df
        metrics["importance"] = [
            {"field": row.label, "mean_abs_effect": float(row.mean_abs_pd_change)}
            for row in global_importance(scorer, sample).itertuples()
        ]
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / "metrics.json", metrics)
    write_report(out_dir, metrics, arrays, title=f"credtune evaluate: {title}")
    return RunResult(out_dir, metrics)


def _summary(scorer: Any, frame: Any) -> np.ndarray:
    from ..evaluation_kinds import summary_score

    return summary_score(
        scorer.spec.task, scorer.outputs_for([scorer.clean(r) for r in scorer.records(frame)])
    )


def labelled_frame(table: Any, schema: dict, name: str) -> tuple[Any, Any, int]:
    """The file as a DataFrame plus labels read as the model was trained (0/1 from the positive
    class, class indices, or numbers) from credtune.json; a file holding one class only is allowed
    (metrics needing both become None)."""
    target = schema["target"]
    columns = table.column_names
    if target not in columns:
        hint = did_you_mean(target, columns)
        raise DataError(f"{name} has no target column '{target}' (the model was trained on it){hint}")
    missing = [c["name"] for c in schema["columns"] if c["name"] not in columns]
    if missing:
        raise DataError(f"{name} lacks {len(missing)} column(s) the model reads: {', '.join(missing)}")
    df = table.to_pandas()
    task = schema.get("task", "binary")
    if task == "regression":
        y, keep = _numbers(df[target], target, name)
    else:
        values = [label_key(v) for v in df[target]]
        names = [str(n) for n in schema["label_names"]]
        known = {*names, *([str(schema["positive"])] if task == "binary" else [])}
        other = sorted({v for v in values if v is not None and v not in known})
        if other:
            raise DataError(
                f"'{target}' in {name} has values the model does not know: {', '.join(other[:10])} "
                f"(expected {', '.join(sorted(known))})"
            )
        keep = np.array([v is not None for v in values], dtype=bool)
        present = [v for v in values if v is not None]
        if task == "binary":
            y = np.array([int(v == str(schema["positive"])) for v in present], dtype=int)
        else:
            y = np.array([names.index(v) for v in present], dtype=int)
    if not keep.all():
        log.warning("dropped %d row(s) with an empty target '%s'", int((~keep).sum()), target)
    return df[keep].reset_index(drop=True), y, int((~keep).sum())


def _numbers(column: Any, target: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A regression target's values; blanks are dropped, words and infinities refused."""
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    blank = column.isna().to_numpy() | column.astype(str).str.strip().eq("").to_numpy()
    words = np.isnan(values) & ~blank
    if words.any() or np.isinf(values).any():
        shown = ", ".join(repr(v) for v in column[words | np.isinf(values)].unique()[:3])
        raise DataError(f"'{target}' in {name} holds values that are not finite numbers: {shown}")
    keep = ~blank
    return values[keep], keep
