"""Multiclass and regression runs get their own report sections; binary reports are untouched."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from scipy.special import softmax

from credtune.metrics import (
    credit_metrics,
    decile_table,
    multiclass_block,
    regression_block,
)
from credtune.report import build, write_report
from credtune.report.document import fmt

GRADES = ["A", "B", "C", "D", "E"]
KIND_HEADINGS = {"Confusion matrix", "Per-class metrics", "Predicted vs actual", "Residuals"}
STABILITY = {"score_psi": 0.03, "reading": "stable", "fields": []}


def headings(html: str) -> list[str]:
    return re.findall(r"<h2>(.*?)</h2>", html)


def multiclass_run(n: int = 600, seed: int = 0) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(GRADES), n)
    logits = 1.5 * np.eye(len(GRADES))[y] + rng.normal(0, 1.0, (n, len(GRADES)))
    raw = softmax(2.0 * logits, axis=1)
    probas = {"transformer": softmax(logits, axis=1), "lightgbm": softmax(0.7 * logits, axis=1)}
    metrics = multiclass_block(
        y, probas, main="transformer", classes=GRADES, ordered=True, raw=raw, calibration="temperature"
    )
    metrics |= {"stability": STABILITY, "fields": ["income", "purpose"]}
    return metrics, {"y": y, "proba": probas, "proba_raw": raw}


def regression_run(n: int = 600, seed: int = 0) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    y = rng.normal(12.0, 3.0, n)
    raw = 0.5 * y + rng.normal(0, 1.0, n)
    preds = {"transformer": 2.0 * raw, "logistic": y + rng.normal(0, 2.0, n)}
    metrics = regression_block(y, preds, main="transformer", target="int_rate", raw=raw, calibration="linear")
    metrics |= {"stability": STABILITY, "fields": ["income"]}
    return metrics, {"y": y, "pred": preds}


def written(tmp_path, metrics: dict, arrays: dict | None) -> tuple[str, str, list[str]]:
    write_report(tmp_path, metrics, arrays, title="kinds")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    folder = tmp_path / "figures"
    figures = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(images) == len(figures)
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    assert all(f"(figures/{name})" in md for name in figures)
    return md, html, figures


def section(md: str, title: str) -> str:
    return md.split(f"## {title}\n")[1].split("\n## ")[0]


def test_multiclass_report(tmp_path) -> None:
    metrics, arrays = multiclass_run()
    md, html, figures = written(tmp_path, metrics, arrays)
    assert headings(html) == [
        "Headline metrics",
        "Confusion matrix",
        "Per-class metrics",
        "Calibration",
        "Stability (PSI)",
        "Fields the model saw",
    ]
    assert figures == ["confusion.png", "reliability_top.png"]
    headline = section(md, "Headline metrics")
    keys = ("accuracy", "macro_f1", "auc", "log_loss", "ece", "qwk", "mae_grade")
    for name, m in metrics["models"].items():
        assert f"| {name} | " + " | ".join(fmt(m[k]) for k in keys) + " |" in headline
    assert "A < B < C < D < E" in headline
    table = section(md, "Confusion matrix")
    assert "| actual / predicted | " + " | ".join(GRADES) + " |" in table
    for grade, row in zip(GRADES, metrics["confusion"]):
        assert f"| {grade} | " + " | ".join(str(c) for c in row) + " |" in table
    per_class = section(md, "Per-class metrics")
    for r in metrics["per_class"]:
        assert f"| {r['class']} | {r['n']} | {fmt(r['precision'])} |" in per_class
    cal = section(md, "Calibration")
    assert "(temperature)" in cal and fmt(metrics["calibration"]["before"]["log_loss"]) in cal


def test_regression_report(tmp_path) -> None:
    metrics, arrays = regression_run()
    md, html, figures = written(tmp_path, metrics, arrays)
    assert headings(html) == [
        "Headline metrics",
        "Predicted vs actual",
        "Residuals",
        "Calibration",
        "Stability (PSI)",
        "Fields the model saw",
    ]
    assert figures == ["pred_vs_actual.png", "residuals.png"]
    headline = section(md, "Headline metrics")
    for name, m in metrics["models"].items():
        assert (
            f"| {name} | " + " | ".join(fmt(m[k]) for k in ("rmse", "mae", "r2", "spearman")) + " |"
            in headline
        )
    assert "target int_rate" in headline
    residuals = section(md, "Residuals")
    assert " | ".join(fmt(metrics["residuals"][k]) for k in ("mean", "p05", "p50", "p95")) in residuals
    cal = section(md, "Calibration")
    assert "(linear)" in cal and fmt(metrics["calibration"]["after"]["rmse"]) in cal


def cv_style(run, keys: tuple[str, ...]) -> dict:
    """What a cv run may hand over: pooled models with fold spread and per-fold rows, no arrays."""
    metrics, _ = run()
    for m in metrics["models"].values():
        m["folds"] = {keys[0]: {"mean": m[keys[0]], "std": 0.01, "values": [m[keys[0]]] * 2}}
    metrics["per_fold"] = [
        {"seed": 1, "fold": k, "train_rows": 8, "valid_rows": 1, "test_rows": 1, "seconds": 2.0}
        | {f"{n}_{key}": 0.5 + k / 10 for n in metrics["models"] for key in keys}
        for k in (1, 2)
    ]
    return metrics | {"kind": "cv"}


@pytest.mark.parametrize(
    ("run", "keys", "present", "label"),
    [
        (multiclass_run, ("accuracy", "macro_f1"), "Confusion matrix", "accuracy / macro-F1"),
        (regression_run, ("rmse", "mae"), "Residuals", "RMSE / MAE"),
    ],
    ids=["multiclass", "regression"],
)
def test_cv_report_without_arrays(tmp_path, run, keys: tuple[str, ...], present: str, label: str) -> None:
    metrics = cv_style(run, keys)
    md, html, figures = written(tmp_path, metrics, None)
    found = headings(html)
    assert found[:2] == ["Headline metrics", "Per fold"] and present in found
    assert figures == (["confusion.png"] if metrics["task"] == "multiclass" else [])  # only from metrics
    per_fold = section(md, "Per fold")
    assert f"| transformer {label} |" in per_fold
    assert f"{fmt(0.6)} / {fmt(0.6)}" in per_fold and "8/1/1" in per_fold
    assert "over folds" in section(md, "Headline metrics")


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_empty_metrics_render_nothing(tmp_path, task: str) -> None:
    md, html, figures = written(tmp_path, {"task": task}, {})
    assert headings(html) == [] and figures == []
    assert md.startswith("# kinds")


def binary_run() -> tuple[dict, dict]:
    rng = np.random.default_rng(1)
    y = rng.binomial(1, 0.3, 400)
    p = 1 / (1 + np.exp(-(y + rng.normal(0, 1.0, 400) - 1.2)))
    scores = credit_metrics(y, p)
    metrics = {**scores, "models": {"transformer": scores}, "deciles": decile_table(y, p), "fields": ["a"]}
    return metrics, {"y": y, "pd": {"transformer": p}}


def test_binary_report_is_unchanged() -> None:
    metrics, arrays = binary_run()
    md = build(metrics, arrays, "binary").markdown()
    assert build({**metrics, "task": "binary"}, arrays, "binary").markdown() == md
    found = set(re.findall(r"^## (.*)$", md, flags=re.M))
    assert {"Headline metrics", "ROC curves", "KS curve", "Decile (gains) table", "Calibration"} <= found
    assert not found & KIND_HEADINGS
    assert "Per-class" not in md and "macro-F1" not in md and "RMSE" not in md


def test_unknown_task_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown task 'ranking'"):
        build({"task": "ranking"}, None, "x")
