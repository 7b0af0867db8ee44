"""Components: fit, save as plain files, reload with identical predictions; TF-IDF and WoE from plain data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from baseline_data import CATEGORICAL, NUMERIC, TEXT, make_data, names, odd_rows
from sklearn.metrics import roc_auc_score

from credtune.baselines import BASELINES, Component, fit_component, load_component, points_table
from credtune.baselines.common import categorical_frame, numeric_frame, text_frame

TRAIN, Y_TRAIN = make_data(1200, 10, notes=True)
TEST, Y_TEST = make_data(600, 11, notes=True)
FITTED: dict[tuple[str, bool], Component] = {}


def fitted(name: str, notes: bool) -> Component:
    """Fit once per (name, notes) for the whole module: the tests only read the components."""
    if (name, notes) not in FITTED:
        text = TEXT if notes else ()
        FITTED[name, notes] = fit_component(
            name, TRAIN, Y_TRAIN, NUMERIC, CATEGORICAL, text, seed=3, n_jobs=1
        )
    return FITTED[name, notes]


@pytest.mark.parametrize("notes", [False, True], ids=["table", "notes"])
@pytest.mark.parametrize("name", names(BASELINES))
def test_reloaded_component_predicts_the_same(tmp_path: Path, name: str, notes: bool) -> None:
    if name == "notes" and not notes:
        pytest.skip("the notes baseline needs note columns")
    component = fitted(name, notes)
    meta = component.save(tmp_path / "model", prefix=f"baseline_{name}")
    assert json.loads(json.dumps(meta)) == meta and meta["kind"] == name
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == sorted(meta["files"].values())
    for file in meta["files"].values():  # plain data: JSON, LightGBM's text model, safetensors; no pickle
        head = (tmp_path / "model" / file).read_bytes()[:9]
        safetensors = file.endswith(".safetensors") and head[8:] == b"{"  # header length, then its JSON
        assert head.startswith(b"{") or head[:5] == b"tree\n" or safetensors, (file, head)
    loaded = load_component(tmp_path / "model", meta)
    assert loaded.name == name and loaded.columns == component.columns
    for frame in (TEST, odd_rows(TEST), TEST.iloc[:0]):
        p, q = component.predict_proba(frame), loaded.predict_proba(frame)
        assert p.shape == q.shape == (len(frame),) and np.all(np.isfinite(p))
        np.testing.assert_allclose(q, p, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", names(["logistic", "lightgbm", "catboost", "kernel"]))
def test_note_column_adds_signal(name: str) -> None:
    auc = {notes: roc_auc_score(Y_TEST, fitted(name, notes).predict_proba(TEST)) for notes in (False, True)}
    assert auc[True] > auc[False] + 0.03, auc
    assert fitted(name, True).columns.text == tuple(TEXT)


@pytest.mark.parametrize("name", names(["logistic", "lightgbm", "catboost"]))
def test_tfidf_from_plain_data_equals_scikit_learn(name: str) -> None:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    (features,) = fitted(name, True).texts
    train, test = text_frame(TRAIN, TEXT)["note"].tolist(), text_frame(odd_rows(TEST), TEXT)["note"].tolist()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=5000, sublinear_tf=True)
    x = vectorizer.fit_transform(train)
    assert features.vocabulary == vectorizer.get_feature_names_out().tolist()
    for notes in (train, test + train[:50]):
        np.testing.assert_allclose(
            features.tfidf(notes).toarray(), vectorizer.transform(notes).toarray(), atol=1e-12
        )
    if name != "logistic":
        svd = TruncatedSVD(n_components=16, random_state=3).fit(x)
        np.testing.assert_allclose(features.svd(test), svd.transform(vectorizer.transform(test)), atol=1e-10)


def test_scorecard_woe_equals_optbinning() -> None:
    from optbinning import BinningProcess

    scorecard = fitted("scorecard", True)
    cols = scorecard.columns
    assert cols.text == () and "all_missing" not in cols.numeric  # notes and empty columns are not binned
    frame = pd.concat(
        [numeric_frame(TRAIN, list(cols.numeric)), categorical_frame(TRAIN, list(cols.categorical))], axis=1
    )
    process = BinningProcess(list(frame.columns), categorical_variables=list(cols.categorical)).fit(
        frame, Y_TRAIN
    )
    for df in (TRAIN, TEST):
        sub = pd.concat(
            [numeric_frame(df, list(cols.numeric)), categorical_frame(df, list(cols.categorical))], axis=1
        )
        expected = process.transform(
            sub, metric="woe", metric_missing="empirical", metric_special="empirical"
        )
        np.testing.assert_allclose(
            scorecard.woe(df).to_numpy(), expected[scorecard.woe(df).columns].to_numpy(), atol=1e-12
        )
    odd = scorecard.woe(odd_rows(TEST))
    assert np.all(odd["housing"] == 0.0)  # an unseen category has the WoE of the average


def test_scorecard_points_table() -> None:
    scorecard = fitted("scorecard", False)
    rows = points_table(scorecard)
    assert set(rows[0]) == {"variable", "bin", "woe", "points", "count", "event_rate"}
    assert {r["bin"] for r in rows} >= {"Missing", "Special", "Unknown"}
    assert sum(r["count"] for r in rows) == len(TRAIN) * len(scorecard.variables)
    # each row's score is the sum of its bins' points ...
    woe = scorecard.woe(TEST.head(50))
    table = {(r["variable"], r["woe"]): r["points"] for r in rows}
    summed = sum(np.array([table[v, w] for w in woe[v]]) for v in woe.columns)
    np.testing.assert_allclose(scorecard.score(TEST.head(50)), summed, atol=1e-9)
    # ... on the usual scale: 600 points at good:bad odds of 50:1, 20 more points per doubling of the odds
    p = scorecard.predict_proba(TEST.head(50))
    np.testing.assert_allclose(
        summed, 600 + 20 / math.log(2) * (np.log((1 - p) / p) - math.log(50)), atol=1e-6
    )


def test_points_table_needs_a_scorecard() -> None:
    with pytest.raises(ValueError, match="needs a scorecard"):
        points_table(fitted("logistic", False))
