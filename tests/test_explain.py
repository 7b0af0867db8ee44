"""Field-occlusion reason codes on the session's tiny German credit run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import GERMAN
from credtune.cli import main
from credtune.explain import explain, explain_frame, global_importance, reason_line
from credtune.scoring import CreditScorer

K = 4


@pytest.fixture(scope="module")
def scorer(trained_run: Path) -> CreditScorer:
    return CreditScorer.from_pretrained(trained_run / "model")


@pytest.fixture(scope="module")
def applicants() -> pd.DataFrame:
    return pd.read_csv(GERMAN).head(8)


@pytest.fixture(scope="module")
def reasons(scorer: CreditScorer, applicants: pd.DataFrame) -> list[list[dict]]:
    return scorer.explain(applicants, k=K)


def test_reasons_are_fields_that_raised_the_pd(scorer: CreditScorer, applicants, reasons):
    labels = {f.name: f.label for f in scorer.serializer.fields}
    assert len(reasons) == len(applicants)
    assert any(len(r) == K for r in reasons)
    for row, found in zip(applicants.to_dict("records"), reasons):
        assert len(found) <= K
        changes = [r["pd_change"] for r in found]
        assert changes == sorted(changes, reverse=True) and all(c > 0 for c in changes)
        for r in found:
            shown = scorer.serializer.format_value(
                next(f for f in scorer.serializer.fields if f.name == r["field"]), row[r["field"]]
            )
            assert r["value"] == shown
            assert r["reason"].startswith(
                labels[r["field"]][:1].upper() + labels[r["field"]][1:] + f" '{shown}' raised"
            )


def test_pd_change_is_the_occlusion_difference(scorer: CreditScorer, applicants, reasons):
    record = applicants.iloc[0].to_dict()
    top = reasons[0][0]
    occluded = {**record, top["field"]: None}
    expected = scorer.predict_proba([record])[0] - scorer.predict_proba([occluded])[0]
    assert top["pd_change"] == pytest.approx(expected, abs=1e-5)


def test_all_directions_give_exactly_k(scorer: CreditScorer, applicants):
    both = explain(scorer, applicants.head(3), k=K, adverse_only=False)
    assert [len(r) for r in both] == [K] * 3


def test_frame_and_global_importance(scorer: CreditScorer, applicants):
    frame = explain_frame(scorer, applicants.head(4), k=2)
    assert list(frame.columns) == ["row", "pd", "reason_1", "reason_2", "reasons"]
    np.testing.assert_allclose(frame["pd"], scorer.predict_proba(applicants.head(4)), atol=1e-6)
    imp = global_importance(scorer, applicants.head(4))
    assert set(imp["field"]) == set(scorer.serializer.columns)
    assert (imp["mean_abs_pd_change"] >= 0).all() and imp["mean_abs_pd_change"].is_monotonic_decreasing


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (0.061, "Checking '< 0 DM' raised the estimated default risk by 6.1 points"),
        (-0.02, "Checking '< 0 DM' lowered the estimated default risk by 2.0 points"),
        (0.0002, "Checking '< 0 DM' raised the estimated default risk by less than 0.1 points"),
        (0.0, "Checking '< 0 DM' did not change the estimated default risk"),
    ],
)
def test_reason_line(change: float, expected: str):
    assert reason_line("checking", "< 0 DM", change) == expected


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_explain_cli(trained_run: Path, applicants, tmp_path: Path, fmt: str):
    src = tmp_path / "in.csv"
    applicants.head(3).to_csv(src, index=False)
    out = tmp_path / f"reasons.{fmt}"
    assert main(["explain", str(trained_run / "model"), str(src), "-o", str(out), "-k", "3"]) == 0
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert [r["row"] for r in rows] == list(range(3))
        assert all(r["reason_1"] == r["reasons"][0]["reason"] for r in rows if r["reasons"])
        assert {"field", "value", "pd_change", "reason"} <= set(rows[0]["reasons"][0])
    else:
        frame = pd.read_csv(out)
        assert list(frame.columns) == ["row", "pd", "reason_1", "reason_2", "reason_3"] and len(frame) == 3
