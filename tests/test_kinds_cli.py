"""Multiclass and regression end to end through the real CLI: train, score, explain, evaluate."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from transformers import AutoModelForSequenceClassification

from conftest import cli, run_cli
from credtune import CreditScorer
from credtune.errors import ModelError

CLASSES = ["low", "mid", "high"]
KINDS = {
    "multiclass": {"target": "grade", "classes": CLASSES, "ordered": True},
    "regression": {"target": "rate"},
}


def _applicants(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, n)
    words = np.where(x > 5, "late payments again", "steady salary")
    return pd.DataFrame(
        {
            "income": np.round(x * 1000, 0),
            "housing": rng.choice(["own", "rent"], n),
            "region": rng.choice(["north", "south"], n),
            "note": [f"{w} {i}" for i, w in enumerate(words)],
            "grade": np.array(CLASSES)[np.digitize(x, [3.5, 6.5])],
            "rate": np.round(5 + 0.8 * x + rng.normal(0, 0.5, n), 2),
        }
    )


@pytest.fixture(scope="module", params=list(KINDS))
def kind_run(request, tmp_path_factory, tiny_overrides):
    task = request.param
    folder = tmp_path_factory.mktemp(task)
    frame = _applicants()
    frame.to_csv(folder / "loans.csv", index=False)
    other = "rate" if task == "multiclass" else "grade"
    data = {"path": "loans.csv", "task": task, "text": ["note"], "exclude": [other], "protected": ["region"]}
    data.update(KINDS[task])
    recipe = {"data": data, "baselines": ["logistic", "lightgbm", "notes"], "model": {"train_layers": 0}}
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    result = run_cli("train", str(folder / "recipe.yaml"), *tiny_overrides, "-o", str(folder / "run"))
    assert result.returncode == 0, result.stderr[-3000:]
    return task, folder, result


def test_run_reports_the_task_metrics(kind_run):
    task, folder, result = kind_run
    metrics = json.loads((folder / "run" / "metrics.json").read_text())
    assert metrics["task"] == task and set(metrics["models"]) == {
        "transformer",
        "logistic",
        "lightgbm",
        "notes",
    }
    if task == "multiclass":
        assert np.asarray(metrics["confusion"]).shape == (3, 3) and metrics["classes"] == CLASSES
        assert {"accuracy", "macro_f1", "log_loss", "qwk", "mae_grade"} <= set(metrics)
        assert "QWK" in result.stdout
    else:
        assert {"rmse", "mae", "r2", "spearman"} <= set(metrics) and metrics["models"]["logistic"]["r2"] > 0.5
        assert "RMSE" in result.stdout
    assert "decision" not in metrics and "threshold" not in json.dumps(metrics["calibration"])
    assert (folder / "run" / "report.html").is_file()
    card = (folder / "run" / "model" / "README.md").read_text()
    assert ("Macro F1" if task == "multiclass" else "RMSE") in card and "probability of default" not in card
    (fairness,) = metrics["fairness"]  # the protected column: never read, its groups' errors reported
    assert (fairness["column"], fairness["measure"]) == ("region", "mean_error")
    assert [g["group"] for g in fairness["groups"]] == ["north", "south"]
    assert sum(g["n"] for g in fairness["groups"]) == metrics["n"]
    assert "`region`: largest gap between groups' mean error" in card
    assert "Fairness by protected column" in (folder / "run" / "report.md").read_text()


def test_saved_model_reproduces_the_run_and_loads_plainly(kind_run):
    task, folder, _ = kind_run
    model_dir = folder / "run" / "model"
    metrics = json.loads((folder / "run" / "metrics.json").read_text())
    frame = _applicants().iloc[metrics["test_predictions"]["row"]]
    scorer = CreditScorer.from_pretrained(model_dir)
    expected = np.asarray(metrics["test_predictions"]["prediction"]["transformer"])
    if task == "multiclass":
        proba = scorer.predict_proba(frame)
        assert proba.shape == (len(frame), 3) and np.allclose(proba.sum(axis=1), 1)
        np.testing.assert_allclose(proba, expected, atol=1e-5)
        assert set(scorer.predict(frame)) <= set(CLASSES)
    else:
        np.testing.assert_allclose(scorer.predict(frame), expected, atol=1e-5)
        with pytest.raises(ModelError, match="use predict"):
            scorer.predict_proba(frame)
    with pytest.raises(ModelError, match="binary"):
        scorer.score(frame)
    plain = AutoModelForSequenceClassification.from_pretrained(model_dir)
    assert plain.config.num_labels == (3 if task == "multiclass" else 1)


def test_score_and_explain_files(kind_run):
    task, folder, _ = kind_run
    _applicants(20, seed=1).drop(columns=["grade", "rate"]).to_csv(folder / "new.csv", index=False)
    model = str(folder / "run" / "model")
    scored = cli("score", model, str(folder / "new.csv"), "-o", str(folder / "scores.csv"))
    assert scored.returncode == 0, scored.stderr[-2000:]
    scores = pd.read_csv(folder / "scores.csv")
    extra = [f"p_{c}" for c in CLASSES] if task == "multiclass" else []
    assert list(scores.columns) == ["row", "predicted", *extra] and len(scores) == 20
    explained = cli("explain", model, str(folder / "new.csv"), "-o", str(folder / "why.csv"), "-k", "2")
    assert explained.returncode == 0, explained.stderr[-2000:]
    why = pd.read_csv(folder / "why.csv")
    assert "predicted" in why.columns and "pd" not in why.columns
    subject = "the probability of grade" if task == "multiclass" else "the predicted rate"
    assert why["reason_1"].dropna().str.contains(subject).all()


def test_evaluate_a_labelled_file_and_refuse_unknown_targets(kind_run):
    task, folder, _ = kind_run
    labelled = _applicants(60, seed=2)
    labelled.to_csv(folder / "labelled.csv", index=False)
    model = str(folder / "run" / "model")
    out = cli("evaluate", model, str(folder / "labelled.csv"), "--report", str(folder / "eval"))
    assert out.returncode == 0, out.stderr[-2000:]
    evaluated = json.loads((folder / "eval" / "metrics.json").read_text())
    assert evaluated["task"] == task and evaluated["fairness"][0]["column"] == "region"
    column = "grade" if task == "multiclass" else "rate"
    labelled[column] = labelled[column].astype(object)
    labelled.loc[0, column] = "unheard-of"
    labelled.to_csv(folder / "bad.csv", index=False)
    bad = cli("evaluate", model, str(folder / "bad.csv"), "--report", str(folder / "eval2"))
    assert bad.returncode != 0 and "unheard-of" in bad.stderr and "Traceback" not in bad.stderr


def test_cv_puts_every_model_on_the_same_folds(kind_run, tiny_overrides):
    task, folder, _ = kind_run
    out = cli("cv", str(folder / "recipe.yaml"), *tiny_overrides, "--folds", "3", "-o", str(folder / "cv"))
    assert out.returncode == 0, out.stderr[-3000:]
    cv = json.loads((folder / "cv" / "cv.json").read_text())
    assert cv["task"] == task and cv["n"] == 240 and len(cv["per_fold"]) == 3
    key = "macro_f1" if task == "multiclass" else "rmse"
    for name in ("transformer", "logistic", "lightgbm", "notes"):
        assert len(cv["models"][name]["folds"][key]["values"]) == 3
    rows = [json.loads(line)["rows"] for line in (folder / "cv" / "folds.jsonl").read_text().splitlines()]
    assert sorted(sum(rows, [])) == list(range(240))
    assert (folder / "cv" / "report.html").is_file() and key.upper()[:3] in out.stdout.upper()
