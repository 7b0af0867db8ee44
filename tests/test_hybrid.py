"""The shipped hybrid (transformer stacked with the scorecard, LightGBM and the kernel) through the real CLI:
trained, copied elsewhere, scored offline to the PDs its metrics.json recorded, explained,
evaluated, cross-validated; and every way its folder can be broken is one clear line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from conftest import cli, run_cli
from credtune.errors import ConfigError, ModelError
from credtune.hybrid import cross_fitted, fit_stacker, stack_features
from credtune.scoring import CreditScorer

HYBRID = ["baselines=[logistic, scorecard, lightgbm, kernel]", "model.hybrid=[scorecard, lightgbm, kernel]"]
PARTS = ["scorecard", "lightgbm", "kernel"]
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".bin", ".pt", ".pth", ".npy")


@pytest.fixture(scope="module")
def hybrid_run(cli_run: tuple) -> Path:
    """The session's run of the shipped German recipe, whose model is the hybrid of HYBRID."""
    out, result = cli_run
    assert "hybrid" in result.stdout
    return out


@pytest.fixture(scope="module")
def test_csv(hybrid_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from credtune import data, load_recipe

    prep = data.prepare(load_recipe(hybrid_run / "recipe.yaml"))
    path = tmp_path_factory.mktemp("rows") / "test.csv"
    prep.split("test").remove_columns("labels").to_pandas().to_csv(path, index=False)
    return path


def test_the_hybrid_is_shipped_with_every_component_reported(hybrid_run: Path):
    metrics = json.loads((hybrid_run / "metrics.json").read_text())
    assert metrics["shipped"] == "hybrid"
    assert {"hybrid", "transformer", "logistic", *PARTS} <= set(metrics["models"])
    assert metrics["auc"] == metrics["models"]["hybrid"]["auc"]  # the headline is what is shipped
    spec = json.loads((hybrid_run / "model" / "credtune.json").read_text())
    assert spec["hybrid"]["stacker"]["features"] == ["transformer", *PARTS]
    assert set(spec["hybrid"]["components"]) == set(PARTS)
    files = [p for p in (hybrid_run / "model").rglob("*") if p.is_file()]
    assert not [p.name for p in files if p.suffix in PICKLE_SUFFIXES]
    assert {"lightgbm.txt", "lightgbm.json", "scorecard.json", "kernel.json", "kernel.safetensors"} <= {
        p.name for p in files
    }
    card = (hybrid_run / "model" / "README.md").read_text()
    assert "hybrid" in card and all(name in card for name in PARTS)
    assert "Scorecard points" in (hybrid_run / "report.html").read_text(encoding="utf-8")


def test_score_reproduces_metrics_pds_from_a_copied_folder(hybrid_run: Path, test_csv: Path, tmp_path: Path):
    """Offline, from the model folder alone (copied elsewhere), to 1e-6."""
    model = tmp_path / "elsewhere" / "model"
    shutil.copytree(hybrid_run / "model", model)
    result = run_cli("score", str(model), str(test_csv), "-o", str(tmp_path / "scores.parquet"))
    assert result.returncode == 0, result.stderr[-3000:]
    stored = json.loads((hybrid_run / "metrics.json").read_text())["test_predictions"]
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    np.testing.assert_allclose(scores["pd"], stored["pd"]["hybrid"], atol=1e-6)
    scorer = CreditScorer.from_pretrained(model)
    rows = pd.read_csv(test_csv)
    for name in ("transformer", *PARTS):
        np.testing.assert_allclose(scorer.predict_proba(rows, component=name), stored["pd"][name], atol=1e-6)


def test_the_shipped_parts_trained_on_every_row_outside_test(hybrid_run: Path):
    """`model.hybrid_fit: auto` is crossfit after a fitted head: the validation rows train the parts
    too, and the weights come from the cross-fitted predictions of all of those rows."""
    metrics = json.loads((hybrid_run / "metrics.json").read_text())
    rows = json.loads((hybrid_run / "model" / "credtune.json").read_text())["training"]["rows"]
    assert set(rows) == {"train", "test"} and rows["train"] + rows["test"] == 1000
    n = rows["train"]
    source = f"cross-fitted predictions of {n} rows in 5 folds, every part then refitted on all {n}"
    assert metrics["fitted_on"] == metrics["hybrid"]["fitted_on"] == source
    assert "hybrid_fit: crossfit" in (hybrid_run / "recipe.yaml").read_text()
    assert source in (hybrid_run / "model" / "README.md").read_text()


def test_crossfit_scores_each_row_with_parts_fitted_without_it():
    from credtune import data, load_recipe
    from credtune.evaluation import cross_fitted_parts, fit_components

    recipe = load_recipe("german_credit", ["data.sample=150"])
    prep = data.prepare(recipe)
    frame = prep.table.to_pandas()
    rows, folds = np.arange(0, 150, 2), []  # some of the table's rows, not all

    def transformer(fit: np.ndarray, held: np.ndarray) -> np.ndarray:
        assert not set(fit) & set(held) and set(fit) | set(held) == set(rows)
        folds.append((fit, held))
        return np.full(len(held), float(len(folds)))

    held = cross_fitted_parts(recipe, prep, frame, rows, ["logistic"], transformer)
    assert len(folds) == 5 and sorted(np.concatenate([h for _, h in folds])) == list(rows)
    assert held.source.startswith("cross-fitted predictions of 75 rows in 5 folds,")
    np.testing.assert_array_equal(held.y, frame["labels"].to_numpy()[rows])
    for k, (fit, out) in enumerate(folds):  # each row: the margin and PD of the parts that never saw it
        at = np.searchsorted(rows, out)
        assert (held.margin[at] == k + 1).all()
        part = fit_components(
            ["logistic"], frame.iloc[fit], frame["labels"].to_numpy()[fit], prep, recipe.seed
        )
        np.testing.assert_allclose(held.pds["logistic"][at], part["logistic"].predict_proba(frame.iloc[out]))


def test_plain_transformers_still_loads_the_folder(hybrid_run: Path):
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(hybrid_run / "model")
    assert model.config.num_labels == 2


def test_explain_occludes_a_field_for_every_component(hybrid_run: Path, test_csv: Path):
    scorer = CreditScorer.from_pretrained(hybrid_run / "model")
    rows = pd.read_csv(test_csv).head(6)
    reasons = scorer.explain(rows, k=3, adverse_only=False)
    assert all(len(r) == 3 for r in reasons)
    first = rows.head(1)
    hidden = scorer.frame(first).assign(duration_in_month=None)
    for name in ("lightgbm", "kernel"):  # occluding a field reaches the tabular components, not only the text
        assert scorer.hybrid.component_pds(hidden)[name] != pytest.approx(
            scorer.hybrid.component_pds(scorer.frame(first))[name]
        )


def test_evaluate_reports_the_shipped_hybrid(hybrid_run: Path, test_csv: Path, tmp_path: Path):
    result = cli("evaluate", str(hybrid_run), str(test_csv), "--report", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr[-3000:]
    evaluated = json.loads((tmp_path / "r" / "metrics.json").read_text())
    trained = json.loads((hybrid_run / "metrics.json").read_text())
    assert evaluated["shipped"] == "hybrid"
    for name in ("hybrid", "transformer", *PARTS):
        assert evaluated["models"][name]["brier"] == pytest.approx(trained["models"][name]["brier"], abs=1e-6)


@pytest.mark.parametrize(
    "override, message",
    [
        ([HYBRID[0], "model.hybrid=[scorecard, xgboost]"], "model.hybrid: unknown component 'xgboost'"),
        (
            ["baselines=[logistic, lightgbm]", "model.hybrid=[scorecard]"],
            "'scorecard' is not among the baselines (logistic, lightgbm)",
        ),
        (["baselines=[]", "model.hybrid=[lightgbm]"], "'lightgbm' is not among the baselines ([] (none))"),
        ([HYBRID[0], "model.hybrid=[lightgbm, lightgbm]"], "listed twice"),
    ],
    ids=["unknown-component", "not-a-baseline", "no-baselines", "twice"],
)
def test_bad_hybrid_recipes_are_refused(override: list[str], message: str, tmp_path: Path):
    from credtune import load_recipe

    with pytest.raises(
        ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        load_recipe("german_credit", override)


def break_missing(model: Path) -> None:
    (model / "hybrid" / "lightgbm.txt").unlink()


def break_truncated(model: Path) -> None:
    path = model / "hybrid" / "scorecard.json"
    path.write_text(path.read_text()[:100])


def break_tampered(model: Path) -> None:
    path = model / "hybrid" / "lightgbm.txt"
    path.write_text(path.read_text().replace("shrinkage=", "shrinkage=9", 1))


def break_folder(model: Path) -> None:
    shutil.rmtree(model / "hybrid")


def break_weights(model: Path) -> None:
    spec = json.loads((model / "credtune.json").read_text())
    spec["hybrid"]["stacker"]["coef"] = ["os.system"]
    (model / "credtune.json").write_text(json.dumps(spec))


@pytest.mark.parametrize(
    "damage, message",
    [
        (break_missing, "file lightgbm.txt is missing"),
        (break_truncated, "does not match the hash"),
        (break_tampered, "does not match the hash"),
        (break_folder, "names a hybrid but hybrid/ is missing"),
        (break_weights, "one number per feature"),
    ],
    ids=["file-missing", "truncated", "tampered", "folder-missing", "weights-not-numbers"],
)
def test_a_broken_hybrid_folder_is_one_clear_line(hybrid_run, test_csv, tmp_path, damage, message):
    model = tmp_path / "model"
    shutil.copytree(hybrid_run / "model", model)
    damage(model)
    with pytest.raises(ModelError, match=message):
        CreditScorer.from_pretrained(model)
    out = tmp_path / "scores.parquet"
    result = cli("score", str(model), str(test_csv), "-o", str(out))
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.slow  # minutes of CPU in CI; `make test-slow` runs it
def test_cv_scores_the_hybrid_out_of_fold_with_repeats(tiny_overrides: list[str], tmp_path: Path):
    out = tmp_path / "cv"
    args = ["--folds", "2", "--repeats", "2", "-o", str(out), *tiny_overrides, "data.sample=200"]
    result = run_cli("cv", "german_credit", *args, *HYBRID)
    assert result.returncode == 0, result.stderr[-3000:]
    cv = json.loads((out / "cv.json").read_text())
    assert "hybrid" in cv["models"] and cv["seeds"] == 2
    repeats = cv["repeats"]
    assert repeats["shipped"] == "hybrid" and repeats["best_baseline"] in ("logistic", *PARTS)
    assert len(repeats["models"]["hybrid"]["pooled_auc"]) == 2
    paired = repeats["fold_paired_difference"]
    assert paired["n"] == 4 and paired["ci95"][0] <= paired["mean"] <= paired["ci95"][1]
    oof = pd.read_csv(out / "oof.csv")
    assert oof["hybrid"].notna().all()


def test_the_stacker_never_sees_the_labels_it_is_scored_on():
    """Each validation row's cross-fitted PD is that of a stacker fitted on the other folds only."""
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.default_rng(0)
    y = rng.binomial(1, 0.3, 150)
    margin = y + rng.normal(0, 1, 150)
    parts = {"lightgbm": np.clip(0.3 + 0.2 * y + rng.normal(0, 0.1, 150), 0.01, 0.99)}
    fit, held = next(StratifiedKFold(5, shuffle=True, random_state=1).split(margin, y))
    direct = fit_stacker(margin[fit], {"lightgbm": parts["lightgbm"][fit]}, y[fit], ["lightgbm"])
    expected = direct.predict(margin[held], {"lightgbm": parts["lightgbm"][held]})
    np.testing.assert_allclose(cross_fitted(margin, parts, y, ["lightgbm"], seed=1)[held], expected)
    assert direct.features == ["transformer", "lightgbm"] and direct.coef[0] > 0


def test_a_component_that_cannot_be_fitted_stops_before_training(tiny_overrides: list[str], tmp_path: Path):
    """Notes carry the signal, the one table column is constant: the scorecard has nothing to bin."""
    rng = np.random.default_rng(0)
    words = np.array(["late", "paid", "salary", "rent", "loan", "card", "car", "home"])
    y = rng.binomial(1, 0.3, 80)
    notes = [" ".join(rng.choice(words, 6)) + (" arrears" if t else "") for t in y]
    pd.DataFrame({"outcome": np.where(y, "bad", "good"), "constant": 1, "note": notes}).to_csv(
        tmp_path / "notes.csv", index=False
    )
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "data: {path: notes.csv, target: outcome, positive: bad, text: [note], numeric: [constant]}\n"
        "baselines: [scorecard]\nmodel: {hybrid: [scorecard]}\n"
    )
    out = tmp_path / "out"
    result = cli("train", str(recipe), *tiny_overrides, "-o", str(out))
    assert result.returncode == 2, result.stderr[-2000:]
    assert "scorecard: no usable column" in result.stderr and "Traceback" not in result.stderr
    assert not (out / "metrics.json").exists() and not (out / "model").exists()
    assert not (out / "checkpoints").exists()  # refused before the transformer trained


def test_equal_weights_average_the_standardized_log_odds():
    """`model.hybrid_weights: equal` learns only a slope and an intercept (Platt on the average)."""
    from scipy.stats import rankdata

    rng = np.random.default_rng(3)
    y = rng.binomial(1, 0.3, 150)
    margin = 3 * y + rng.normal(0, 2, 150)
    parts = {"scorecard": np.clip(0.3 + 0.1 * y + rng.normal(0, 0.1, 150), 0.01, 0.99)}
    stacker = fit_stacker(margin, parts, y, ["scorecard"], "equal")
    x = np.column_stack([margin, np.log(parts["scorecard"] / (1 - parts["scorecard"]))])
    average = ((x - x.mean(axis=0)) / x.std(axis=0)).mean(axis=1)
    pd_ = stacker.predict(margin, parts)
    np.testing.assert_allclose(rankdata(pd_), rankdata(average))
    coef = np.asarray(stacker.coef) * x.std(axis=0)
    assert coef[0] == pytest.approx(coef[1]) and coef[0] > 0  # the same weight on every part
    assert abs(pd_.mean() - y.mean()) < 0.02  # calibrated: the mean PD is the bad rate


def _parts(n: int, strong: float, weak: float, seed: int = 5):
    """A transformer margin and a scorecard PD; `strong` and `weak` are their signal strengths."""
    rng = np.random.default_rng(seed)
    y = rng.binomial(1, 0.3, n)
    margin = strong * y + rng.normal(0, 1, n)
    parts = {"scorecard": 1 / (1 + np.exp(-(weak * y + rng.normal(0, 1, n) - 1)))}
    return margin, parts, y


def _ratio(stacker, margin, parts) -> float:
    """The transformer's weight over the scorecard's, per standardized part."""
    x = stack_features(margin, parts, stacker.features)
    transformer, scorecard = np.asarray(stacker.coef) * x.std(axis=0)
    return float(transformer / scorecard)


@pytest.mark.parametrize(
    ("n", "strong", "weak"),
    [
        (150, 1.0, 1.0),  # few rows, parts alike
        (150, 1.5, 0.5),  # few rows, one part stronger
        (5000, 1.5, 0.2),  # many rows, one part near useless
    ],
)
def test_shrunk_weights_move_from_equal_only_as_far_as_the_rows_allow(n, strong, weak):
    margin, parts, y = _parts(n, strong, weak)
    shrunk, fitted = (fit_stacker(margin, parts, y, ["scorecard"], w) for w in ("shrunk", "fitted"))
    r_shrunk, r_fitted = (
        abs(np.log(_ratio(shrunk, margin, parts))),
        abs(np.log(_ratio(fitted, margin, parts))),
    )
    assert 0 < r_shrunk < r_fitted  # between equal weights (log ratio 0) and the free fit
    if n >= 1000:  # the rows outweigh the pull: close to the free fit, far from equal
        assert r_shrunk > 0.9 * r_fitted and r_shrunk > np.log(4)
    else:
        assert r_shrunk < 0.8 * r_fitted
    assert abs(shrunk.predict(margin, parts).mean() - y.mean()) < 0.02  # a calibrated PD
    auc = {w: roc_auc_score(y, s.predict(margin, parts)) for w, s in (("shrunk", shrunk), ("fitted", fitted))}
    assert auc["shrunk"] >= auc["fitted"] - 0.01
