"""credit_metrics / decile_table against scikit-learn and hand-computed values, plus the evaluate module."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from credtune.metrics import (
    credit_metric_path,
    credit_metrics,
    decile_table,
    expected_calibration_error,
    ks_curve,
    roc_points,
)


@pytest.fixture(scope="module")
def scored() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    p = rng.beta(2, 5, size=2000)
    y = (rng.random(2000) < p).astype(int)
    return y, p


def test_matches_sklearn(scored: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = scored
    m = credit_metrics(y, p)
    assert m["auc"] == pytest.approx(roc_auc_score(y, p))
    assert m["gini"] == pytest.approx(2 * roc_auc_score(y, p) - 1)
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert m["brier"] == pytest.approx(brier_score_loss(y, p))
    assert m["log_loss"] == pytest.approx(log_loss(y, p))
    assert m["n"] == 2000
    assert m["positive_rate"] == pytest.approx(y.mean())
    assert 0.0 <= m["ece"] <= 1.0
    json.dumps(m)  # plain Python numbers only


def test_ks_by_hand() -> None:
    # bads at PD .2 .5 .6, goods at .1 .3 .4: flagging PD >= .5 catches 2/3 of bads and no goods.
    y = [0, 1, 0, 0, 1, 1]
    p = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    m = credit_metrics(y, p)
    assert m["ks"] == pytest.approx(2 / 3)
    assert m["ks_threshold"] == pytest.approx(0.5)
    assert m["auc"] == pytest.approx(roc_auc_score(y, p))


def test_ece_by_hand() -> None:
    # bin 0: mean y .5 vs mean p .05 (2 rows); bin 9: 1 vs .95 (2 rows) -> (2*.45 + 2*.05) / 4
    y = np.array([0, 1, 1, 1])
    p = np.array([0.05, 0.05, 0.95, 0.95])
    assert expected_calibration_error(y, p) == pytest.approx(0.25)
    assert credit_metrics(y, p)["ece"] == pytest.approx(0.25)


def test_perfectly_calibrated_ece_is_zero() -> None:
    assert credit_metrics([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])["ece"] == pytest.approx(0.0)


@pytest.mark.parametrize("label", [0, 1])
def test_single_class(label: int) -> None:
    y = [label] * 5
    p = [0.1, 0.2, 0.3, 0.4, 1.0]
    m = credit_metrics(y, p)
    for key in ("auc", "gini", "ks", "ks_threshold", "pr_auc"):
        assert m[key] is None
    assert m["brier"] == pytest.approx(
        brier_score_loss(y, p, labels=[0, 1]) if label else np.mean(np.square(p))
    )
    assert math.isfinite(m["log_loss"])  # PD of exactly 1 on a good is clipped
    assert m["positive_rate"] == label


@pytest.mark.parametrize(
    ("y", "p", "match"),
    [
        ([0, 1], [0.1], "has 2 values"),
        ([], [], "empty"),
        ([0, 2], [0.1, 0.2], "only 0"),
        ([0, 1], [0.1, float("nan")], "NaN"),
        ([0, 1], [0.1, 1.2], r"\[0, 1\]"),
    ],
)
def test_bad_inputs(y: list, p: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        credit_metrics(y, p)


def test_decile_table_by_hand() -> None:
    p = np.arange(1, 11) / 10  # .1 ... 1.0
    y = np.array([0, 0, 0, 0, 0, 0, 1, 0, 1, 1])  # 3 bads, overall bad rate .3
    rows = decile_table(y, p, bins=5)
    assert [r["decile"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["count"] for r in rows] == [2] * 5
    assert rows[0]["max_pd"] == 1.0 and rows[0]["min_pd"] == 0.9
    assert [r["bad_count"] for r in rows] == [2, 1, 0, 0, 0]
    assert [r["cum_capture"] for r in rows] == pytest.approx([2 / 3, 1, 1, 1, 1])
    assert rows[0]["lift"] == pytest.approx(1.0 / 0.3)
    assert rows[-1]["lift"] == 0.0


def test_decile_table_default_bins(scored: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = scored
    rows = decile_table(y, p)
    assert len(rows) == 10 and sum(r["count"] for r in rows) == 2000
    assert rows[-1]["cum_capture"] == pytest.approx(1.0)
    max_pds = [r["max_pd"] for r in rows]
    assert max_pds == sorted(max_pds, reverse=True)
    assert rows[0]["bad_rate"] > rows[-1]["bad_rate"]


def test_decile_table_few_rows_and_no_bads() -> None:
    rows = decile_table([0, 0, 0], [0.1, 0.2, 0.3])
    assert len(rows) == 3
    assert rows[0]["cum_capture"] is None and rows[0]["lift"] is None


def test_curves_are_plain_lists(scored: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = scored
    roc = roc_points(y, p)
    assert roc["fpr"][0] == 0.0 and roc["tpr"][-1] == 1.0 and roc["threshold"][0] is None
    ks = ks_curve(y, p)
    assert max(ks["gap"]) == pytest.approx(credit_metrics(y, p)["ks"])
    json.dumps(roc)
    json.dumps(ks)
    assert roc_points([1, 1], [0.2, 0.3])["fpr"] == []


@pytest.mark.parametrize("as_file", [False, True])
def test_evaluate_module_offline(
    monkeypatch: pytest.MonkeyPatch, scored: tuple[np.ndarray, np.ndarray], as_file: bool
) -> None:
    import evaluate

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")
    y, p = scored
    path = credit_metric_path() + ("/credit_metrics.py" if as_file else "")
    metric = evaluate.load(path)
    got = metric.compute(predictions=p.tolist(), references=y.tolist())
    want = credit_metrics(y, p.astype(np.float32))  # the module's feature type is float32
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value), key
    single = metric.compute(predictions=[0.1, 0.2], references=[0, 0])
    assert single["auc"] is None and single["n"] == 2


@pytest.mark.parametrize("scores", [np.full(200, 0.3), np.repeat([0.1, 0.2, 0.5, 0.9], 50)])
def test_decile_table_keeps_tied_scores_together(scores: np.ndarray):
    """A band is cut only between different PDs: reversing the rows changes nothing, and a
    constant score is one band with lift 1."""
    y = (np.arange(200) % 3 == 0).astype(int)
    forward, backward = decile_table(y, scores), decile_table(y[::-1], scores[::-1])
    assert forward == backward
    assert len(forward) == len(np.unique(scores))
    assert sum(row["count"] for row in forward) == 200
    if len(forward) == 1:
        assert forward[0]["lift"] == pytest.approx(1.0)
