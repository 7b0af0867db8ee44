"""`credtune evaluate`: a trained model scores a labelled file and reports on it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import GERMAN, run_cli
from credtune import evaluate_model
from credtune.errors import DataError

PROTECTED = ["age_in_years", "personal_status_and_sex", "foreign_worker"]


@pytest.fixture(scope="module")
def german() -> pd.DataFrame:
    return pd.read_csv(GERMAN)


@pytest.fixture(scope="module")
def cli_report(trained_run: Path, german: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    folder = tmp_path_factory.mktemp("evaluate")
    german.iloc[:300].to_csv(folder / "reference.csv", index=False)
    german.iloc[300:450].to_csv(folder / "new.csv", index=False)
    out = folder / "report"
    result = run_cli(
        "evaluate", str(trained_run / "model"), str(folder / "new.csv"), "--report", str(out),
        "--reference", str(folder / "reference.csv"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result.stdout


def test_cli_scores_a_labelled_file(cli_report, trained_run: Path):
    out, stdout = cli_report
    assert "new.csv (150 rows)" in stdout and "report:" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    spec = json.loads((trained_run / "model" / "credtune.json").read_text())
    assert metrics["n"] == 150 and metrics["auc"] is not None and metrics["not_computable"] == []
    assert metrics["decision"]["threshold"] == pytest.approx(spec["threshold"])
    confusion = metrics["decision"]["confusion"]
    assert sum(confusion.values()) == 150
    assert [t["column"] for t in metrics["fairness"]] == PROTECTED
    assert metrics["stability"]["reference"] == "reference.csv" and metrics["stability"]["score_psi"] >= 0
    assert {f["field"] for f in metrics["stability"]["fields"]} <= set(metrics["fields"])
    labels = {
        f["label"]
        for f in json.loads((trained_run / "model" / "credtune.json").read_text())["serializer"]["fields"]
    }
    assert {row["field"] for row in metrics["importance"]} == labels
    assert all(row["mean_abs_effect"] >= 0 for row in metrics["importance"])
    html = (out / "report.html").read_text(encoding="utf-8")
    for heading in (
        "Headline metrics",
        "ROC curves",
        "Decision threshold",
        "Stability (PSI)",
        "Fairness",
        "Field importance",
    ):
        assert heading in html


def test_single_class_file_reports_what_it_can(trained_run, german, tmp_path, caplog, monkeypatch):
    goods = german[german["creditability"] == "good"].iloc[:40].drop(columns=["foreign_worker"])
    goods.to_csv(tmp_path / "goods.csv", index=False)
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING):
        result = evaluate_model(trained_run, tmp_path / "goods.csv")  # a run folder is accepted too
    assert result.run_dir == Path("runs") / f"evaluate-{trained_run.name}"
    m = result.metrics
    assert (
        m["auc"] is None and m["ks"] is None and {"auc", "gini", "ks", "pr_auc"} <= set(m["not_computable"])
    )
    assert (
        m["brier"] is not None
        and m["positive_rate"] == 0.0
        and m["decision"]["bad_rate_approved"] in (0.0, None)
    )
    assert [t["column"] for t in m["fairness"]] == PROTECTED[:2]
    assert "foreign_worker" in caplog.text and "stability" not in m
    html = (tmp_path / result.run_dir / "report.html").read_text(encoding="utf-8")
    assert "ROC curves" not in html and "Calibration" in html


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda df: df.drop(columns=["creditability"]), "no target column 'creditability'"),
        (lambda df: df.drop(columns=["purpose", "job"]), "purpose, job"),
        (lambda df: df.assign(creditability="maybe"), "values the model does not know: maybe"),
    ],
    ids=["no-target", "missing-columns", "unknown-label"],
)
def test_unusable_files_are_data_errors(trained_run, german, tmp_path, change, message):
    change(german.iloc[:30]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match=message):
        evaluate_model(trained_run / "model", tmp_path / "bad.csv", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def split_rows(trained_run: Path, folder: Path) -> tuple[Path, dict]:
    """The training run's test split as a labelled CSV, and the run's metrics.json."""
    from credtune import data, load_recipe

    prep = data.prepare(load_recipe(trained_run / "recipe.yaml"))
    prep.split("test").remove_columns("labels").to_pandas().to_csv(folder / "test.csv", index=False)
    return folder / "test.csv", json.loads((trained_run / "metrics.json").read_text())


def test_scoring_reproduces_the_test_split_pds(trained_run: Path, tmp_path: Path):
    from credtune.scoring import CreditScorer

    path, trained = split_rows(trained_run, tmp_path)
    scorer = CreditScorer.from_pretrained(trained_run / "model")
    stored = trained["test_predictions"]
    assert stored["row"] == sorted(stored["row"]) and len(stored["row"]) == trained["n"]
    shipped = stored["pd"][trained["shipped"]]
    np.testing.assert_allclose(scorer.predict_proba(pd.read_csv(path)), shipped, atol=1e-6)


def test_train_and_evaluate_give_the_same_figures_for_the_same_predictions(
    trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """One evaluation path: fed the very margins the training run predicted for its test split,
    `credtune evaluate` reports exactly the test metrics in that run's metrics.json (threshold,
    costs, calibration, deciles and fairness included)."""
    from credtune.scoring import CreditScorer

    path, trained = split_rows(trained_run, tmp_path)
    margin = np.asarray(trained["test_predictions"]["margin"])
    monkeypatch.setattr(CreditScorer, "predict_margin", lambda self, data: margin)
    evaluated = evaluate_model(trained_run, path, tmp_path / "report", importance_rows=0).metrics
    keys = ["auc", "ks", "gini", "pr_auc", "brier", "log_loss", "ece", "n", "positive_rate"]
    keys += ["models", "deciles", "decision", "calibration", "not_computable"]
    parts = set(evaluated["models"])  # the shipped model and its parts; train also ran other baselines
    assert parts <= set(trained["models"]) and {"transformer", trained["shipped"]} <= parts
    assert {k: evaluated[k] for k in keys} == {k: trained[k] for k in keys} | {
        "models": {name: trained["models"][name] for name in parts},
        "decision": {**trained["decision"], "rule": "stored threshold"},
    }
    assert evaluated["fairness"] == trained["fairness"]
