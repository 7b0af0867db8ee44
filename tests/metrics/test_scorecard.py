"""Scorecard points and cut-off selection, checked on hand-worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from credtune.metrics import choose_threshold, decision_summary, pd_to_points


@pytest.mark.parametrize(
    ("pd", "points"),
    [
        (1 / 51, 600.0),  # good:bad odds 50:1 -> base
        (1 / 101, 620.0),  # odds 100:1, about one doubling -> base + pdo (exactly: 600 + 20*log2(100/50))
        (1 / 26, 580.0),  # odds 25:1 -> base - pdo
        (0.5, 600.0 - 20.0 * math.log2(50.0)),
    ],
)
def test_points_by_hand(pd: float, points: float) -> None:
    assert pd_to_points(pd) == pytest.approx(points)


def test_points_custom_scaling_and_clipping() -> None:
    assert pd_to_points(1 / 21, base=500, odds=20, pdo=40) == pytest.approx(500.0)
    extreme = pd_to_points(np.array([0.0, 1.0]))
    assert np.all(np.isfinite(extreme)) and extreme[0] > extreme[1]
    p = np.linspace(0.01, 0.99, 50)
    assert np.all(np.diff(pd_to_points(p)) < 0)  # higher PD, fewer points
    with pytest.raises(ValueError):
        pd_to_points(0.1, pdo=0)


Y = [0, 0, 1, 0, 1]
P = [0.1, 0.2, 0.3, 0.4, 0.9]


def test_cost_threshold_by_hand() -> None:
    # Cut .3 approves the two goods below it and rejects good .4: cost 1*1 = 1 (every other cut costs more).
    out = choose_threshold(Y, P, cost_bad_approved=5, cost_good_rejected=1)
    assert out["rule"] == "cost"
    assert out["threshold"] == pytest.approx(0.3)
    assert out["approval_rate"] == pytest.approx(0.4)
    assert out["bad_rate_approved"] == 0.0
    assert out["confusion"] == {"approved_good": 2, "approved_bad": 0, "rejected_good": 1, "rejected_bad": 2}
    assert out["expected_cost"] == pytest.approx(1 / 5)


def test_cost_ties_favour_approval() -> None:
    # Free bads: cuts .9 and 1.0 both cost 0; the tie goes to approving everyone.
    out = choose_threshold(Y, P, cost_bad_approved=0.0, cost_good_rejected=1)
    assert out["threshold"] == 1.0 and out["approval_rate"] == 1.0 and out["expected_cost"] == 0.0


def test_cheap_bads_reject_only_the_riskiest() -> None:
    out = choose_threshold(Y, P, cost_bad_approved=0.1, cost_good_rejected=1)
    assert out["threshold"] == pytest.approx(0.9) and out["approval_rate"] == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("rate", "threshold", "approved"),
    [(0.6, 0.35, 3), (0.0, 0.1, 0), (1.0, 1.0, 5), (0.2, 0.15, 1)],
)
def test_approval_rate_rule(rate: float, threshold: float, approved: int) -> None:
    out = choose_threshold(Y, P, approval_rate=rate)
    assert out["rule"] == "approval_rate"
    assert out["threshold"] == pytest.approx(threshold)
    assert out["approval_rate"] == pytest.approx(approved / 5)
    conf = out["confusion"]
    assert conf["approved_good"] + conf["approved_bad"] == approved
    if approved == 0:
        assert out["bad_rate_approved"] is None


def test_approval_rate_with_ties_declines_the_tie() -> None:
    out = choose_threshold([0, 0, 0, 1], [0.2, 0.2, 0.2, 0.2], approval_rate=0.5)
    assert out["approval_rate"] == 0.0


def test_decision_summary_matches_choose() -> None:
    chosen = choose_threshold(Y, P)
    fixed = decision_summary(Y, P, chosen["threshold"])
    assert fixed["rule"] == "fixed"
    assert {k: v for k, v in fixed.items() if k != "rule"} == {k: v for k, v in chosen.items() if k != "rule"}


def test_cost_minimum_on_random_data() -> None:
    rng = np.random.default_rng(3)
    p = rng.random(400)
    y = (rng.random(400) < p).astype(int)
    best = choose_threshold(y, p)
    for t in np.linspace(0, 1, 41):
        assert decision_summary(y, p, float(t))["expected_cost"] >= best["expected_cost"] - 1e-12


@pytest.mark.parametrize("kwargs", [{"approval_rate": 1.5}, {"cost_bad_approved": -1.0}])
def test_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        choose_threshold(Y, P, **kwargs)
