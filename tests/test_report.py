"""The report renders every section it has data for, skips the rest, and stays self-contained."""

from __future__ import annotations

import base64
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest

from credtune.metrics import (
    characteristic_stability,
    credit_metrics,
    decile_table,
    decision_summary,
    fairness_table,
    psi,
    psi_reading,
)
from credtune.report import write_report

ALL_SECTIONS = [
    "Headline metrics",
    "ROC curves",
    "KS curve",
    "Calibration",
    "Score distribution",
    "Decile (gains) table",
    "Decision threshold",
    "Stability (PSI)",
    "Fairness by protected column",
    "Fields the model saw",
    "Field importance",
]


def synthetic_run(n: int = 400, seed: int = 0) -> tuple[dict, dict]:
    """A train-style metrics dict and arrays built with the real metric functions on synthetic scores."""
    rng = np.random.default_rng(seed)
    y = rng.binomial(1, 0.3, n)
    signal = y + rng.normal(0, 1.0, n)
    pds = {
        "transformer": 1 / (1 + np.exp(-(signal - 1.2))),
        "logistic": 1 / (1 + np.exp(-(0.8 * signal - 1.0))),
        "lightgbm": 1 / (1 + np.exp(-(0.6 * signal - 0.9))),
    }
    raw = 1 / (1 + np.exp(-(2 * signal - 1.0)))
    group = pd.Series(np.where(rng.random(n) < 0.5, "a", "b"))
    pds["transformer"][group.to_numpy() == "b"] += 0.4  # group b is approved far less often
    pds["transformer"] = np.clip(pds["transformer"], 0, 1)
    frame = pd.DataFrame({"amount": rng.normal(size=n), "job": rng.choice(["x", "y"], n)})
    threshold = float(np.quantile(pds["transformer"], 0.6))
    metrics = {
        **credit_metrics(y, pds["transformer"]),
        "models": {name: credit_metrics(y, p) for name, p in pds.items()},
        "calibration": {"method": "temperature", "before": {"brier": 0.3}, "after": {"brier": 0.2}},
        "deciles": decile_table(y, pds["transformer"]),
        "decision": {**decision_summary(y, pds["transformer"], threshold), "rule": "cost"},
        "stability": {
            "score_psi": psi(raw, pds["transformer"]),
            "reading": psi_reading(psi(raw, pds["transformer"])),
            "fields": characteristic_stability(
                frame, frame.sample(frac=1, random_state=1), ["amount"], ["job"]
            ),
        },
        "fairness": [fairness_table(group, y, pds["transformer"], threshold, "group")],
        "fields": ["amount", "job"],
        "importance": [
            {"field": "amount", "mean_abs_effect": 0.05},
            {"field": "job", "mean_abs_effect": 0.02},
        ],
    }
    return metrics, {"y": y, "pd": pds, "pd_raw": raw}


def headings(html: str) -> list[str]:
    return re.findall(r"<h2>(.*?)</h2>", html)


def test_full_report_is_self_contained(tmp_path):
    metrics, arrays = synthetic_run()
    backend = matplotlib.get_backend()
    write_report(tmp_path, metrics, arrays, title="run <x>")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert matplotlib.get_backend() == backend  # a notebook's backend is left alone
    assert headings(html) == ALL_SECTIONS
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:|//)""", html)
    assert "<script" not in html and "<link" not in html
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(images) == 5  # roc, ks, calibration, distribution, importance
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    figures = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert len(figures) == len(images)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert all(f"(figures/{name})" in md for name in figures)
    assert "run &lt;x&gt;" in html  # titles are escaped
    assert "class='flag'" in html and "⚠" in md  # group b fails the four-fifths rule
    headline = md.split("## Headline metrics")[1].split("##")[0]
    for name in ("transformer", "logistic", "lightgbm"):  # every model side by side
        assert f"| {name} | {metrics['models'][name]['auc']:.4f} |" in headline


def cv_style() -> tuple[dict, dict | None]:
    """What `credtune cv` hands over: models with fold spread, per-fold rows, no decision or fairness."""
    metrics, arrays = synthetic_run()
    for m in metrics["models"].values():
        m["folds"] = {"auc": {"mean": m["auc"], "std": 0.01, "values": [m["auc"]] * 2}}
    per_fold = [
        {"seed": 1, "fold": k, "train_rows": 1, "valid_rows": 1, "test_rows": 1}
        | {f"{n}_{key}": 0.7 for n in metrics["models"] for key in ("auc", "ks", "brier")}
        for k in (1, 2)
    ]
    keep = {"models", "deciles", "fields", "n", "positive_rate"}
    cv = {k: v for k, v in metrics.items() if k in keep} | {"kind": "cv", "per_fold": per_fold}
    cv["blend"] = {"rank_average": {"auc": 0.8}}
    return cv, {"y": arrays["y"], "pd": arrays["pd"]}


def single_class() -> tuple[dict, dict | None]:
    y = np.zeros(50, dtype=int)
    p = np.linspace(0.05, 0.5, 50)
    scores = credit_metrics(y, p)
    return {**scores, "kind": "evaluate", "models": {"transformer": scores}}, {
        "y": y,
        "pd": {"transformer": p},
    }


@pytest.mark.parametrize(
    ("case", "present", "absent"),
    [
        (cv_style, ["Headline metrics", "Per fold", "ROC curves", "Decile (gains) table"], ["Fairness"]),
        (single_class, ["Headline metrics", "Calibration", "Score distribution"], ["ROC curves", "KS curve"]),
        (lambda: ({}, None), [], ["Headline metrics", "ROC curves"]),
        (lambda: ({"models": {"transformer": {"auc": None}}}, {}), ["Headline metrics"], ["Calibration"]),
    ],
    ids=["cv", "single-class", "empty", "no-arrays"],
)
def test_sections_missing_data_are_skipped(tmp_path, case, present, absent):
    metrics, arrays = case()
    write_report(tmp_path, metrics, arrays, title="partial")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    found = headings(html)
    assert all(h in found for h in present)
    assert not any(a in h for a in absent for h in found)
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    assert html.count("data:image/png") == len(list((tmp_path / "figures").glob("*.png"))) if found else True
