"""`model.head: fitted`: the closed-form head is the linear model sklearn fits on the cached
states, written into a plain BERT classifier; it runs end to end and is refused where it cannot fit."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification

from conftest import RECIPES, cli
from credtune import CreditScorer, load_recipe
from credtune.data import prepare
from credtune.errors import ConfigError
from credtune.head import SLOPE, fit_head
from credtune.modeling import load_model, load_tokenizer
from credtune.training import encode, prepare_frozen


@pytest.fixture(scope="module")
def frozen(tiny_overrides: list[str]):
    recipe = load_recipe(
        RECIPES / "german_credit.yaml",
        [*tiny_overrides, "data.sample=300", "model.head=fitted", "model.pooling=mean"],  # ffn: its own test
    )
    prep = prepare(recipe)
    tokenizer = load_tokenizer(recipe.model)
    encoded = encode(prep.table, prep.serializer, tokenizer, recipe.model.max_length)
    model = load_model(recipe.model, ["good", "bad"], tokenizer, recipe.lora, recipe.seed)
    return model, encoded, prepare_frozen(recipe, model, encoded, tokenizer)


@pytest.mark.parametrize("labels", ["hard", "soft"])
def test_the_saved_head_computes_the_fitted_linear_model(frozen, labels: str):
    """The model's own margins (pooler, tanh, classifier, via the Trainer on cached states) are the
    sklearn fit's decision function on the standardized states: logistic on labels, ridge on PDs."""
    from sklearn.linear_model import LogisticRegressionCV, RidgeCV

    from credtune.distill import with_soft_labels
    from credtune.head import ALPHAS, CS
    from credtune.metrics import logit

    model, encoded, cache = frozen
    train_ds = encoded.select(range(200))
    y = np.asarray(train_ds["labels"])
    if labels == "soft":
        train_ds = with_soft_labels(train_ds, np.clip(0.2 + 0.5 * y + np.linspace(-0.1, 0.1, len(y)), 0, 1))
    info = fit_head(model, cache, train_ds)
    assert info["rows"] == 200 and ("C" if labels == "hard" else "alpha") in info
    x = torch.cat([cache.states[i] for i in range(len(encoded))]).double().numpy()
    mean, std = x[:200].mean(0), np.maximum(x[:200].std(0), 1e-6)
    f = np.tanh(SLOPE * (x - mean) / std) / SLOPE
    if labels == "hard":
        ref = LogisticRegressionCV(Cs=CS, cv=3, scoring="roc_auc", max_iter=3000).fit(f[:200], y)
        expected = ref.decision_function(f)
    else:
        ref = RidgeCV(alphas=ALPHAS).fit(
            f[:200], logit(np.clip(np.asarray(train_ds["labels"]), 1e-4, 1 - 1e-4))
        )
        expected = ref.predict(f)
    with torch.no_grad():  # in fp32: the Trainer may predict under bf16 autocast where that is faster
        logits = model.classifier(
            model.bert.pooler(torch.stack([cache.states[i] for i in range(len(encoded))]))
        )
    np.testing.assert_allclose((logits[:, 1] - logits[:, 0]).numpy(), expected, atol=1e-4)


def test_a_fitted_head_trains_saves_and_scores_plainly(tiny_overrides: list[str], tmp_path):
    """`credtune train ... model.head=fitted` on the shipped German recipe (distillation, synthetic
    rows, the hybrid): the folder loads with plain `from_pretrained` and reproduces metrics.json."""
    out = tmp_path / "run"
    result = cli("train", "german_credit", *tiny_overrides, "model.head=fitted", "-o", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    plain = AutoModelForSequenceClassification.from_pretrained(out / "model")
    dense = plain.bert.pooler.dense.weight.detach()
    assert torch.count_nonzero(dense - torch.diag(torch.diagonal(dense))) == 0  # a diagonal pooler: fitted
    assert load_recipe(out / "recipe.yaml").model.head == "fitted"
    prep = prepare(load_recipe(out / "recipe.yaml"))
    rows = prep.split("test").remove_columns("labels").to_pandas()
    stored = json.loads((out / "metrics.json").read_text())["test_predictions"]["pd"]
    scorer = CreditScorer.from_pretrained(out / "model")
    np.testing.assert_allclose(
        scorer.predict_proba(rows, component="transformer"), stored["transformer"], atol=1e-6
    )


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["model.train_layers=null"], "model.head: fitted fits the head of a frozen encoder"),
        (["lora.r=4"], "model.head: fitted fits the head of a frozen encoder"),
        (["train_loss=weighted"], "model.head: fitted fits the head of a frozen encoder"),
        (["data.task=regression"], "model.head: fitted: is for default (binary) models"),
    ],
)
def test_a_fitted_head_is_refused_where_it_cannot_fit(overrides, message):
    raw = {"data": {"path": "x.csv", "target": "y", "positive": 1}, "model": {"head": "fitted"}}
    if overrides == ["data.task=regression"]:
        raw["data"].pop("positive")
    from credtune.config import recipe_from_dict

    with pytest.raises(ConfigError, match=re.escape(message)):
        recipe_from_dict(raw, overrides)


def _tiny(kind: str, labels: int = 2):
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        LlamaConfig,
        LlamaForSequenceClassification,
    )

    size = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32}
    if kind == "bert":
        return BertForSequenceClassification(BertConfig(vocab_size=50, num_labels=labels, **size))
    return LlamaForSequenceClassification(LlamaConfig(vocab_size=50, num_labels=labels, **size))


@pytest.mark.parametrize(
    "overrides, task, kind, fits",
    [
        ([], "binary", "bert", True),  # the default: a default model on a frozen BERT-style encoder
        (["distill.weight=1.0"], "binary", "bert", True),
        (["model.head=trained"], "binary", "bert", False),
        (["train_loss=weighted"], "binary", "bert", False),  # class weights are the Trainer's loss
        (["model.train_layers=1"], "binary", "bert", False),
        (["lora.r=4"], "binary", "bert", False),
        ([], "multiclass", "bert", False),
        ([], "binary", "llama", False),  # no pooler: a decoder's head is trained
    ],
)
def test_auto_fits_the_head_of_a_frozen_default_model(overrides, task, kind, fits):
    from credtune.config import recipe_from_dict
    from credtune.head import wants_fit

    recipe = recipe_from_dict({"data": {"path": "x.csv", "target": "y"}}, overrides)
    assert wants_fit(recipe, _tiny(kind, 3 if task == "multiclass" else 2), task) is fits


@pytest.mark.parametrize("rows, features", [(300, 40), (60, 120)], ids=["tall", "wide"])
def test_ridge_loo_is_what_ridgecv_fits(rows: int, features: int) -> None:
    """The penalty by leave-one-out error and the coefficients, from the smaller Gram matrix."""
    from sklearn.linear_model import Ridge, RidgeCV

    from credtune.head import ALPHAS, ridge_loo

    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, 8)) @ rng.standard_normal((8, features)) + rng.standard_normal(
        (rows, features)
    )
    y = x[:, :3].sum(1) + 3.0 * rng.standard_normal(rows) + 2.0
    reference = RidgeCV(alphas=ALPHAS).fit(x, y)
    fit = ridge_loo(x, y, ALPHAS)
    assert fit.alpha == reference.alpha_ and ALPHAS[0] < reference.alpha_ < ALPHAS[-1]
    np.testing.assert_allclose(fit.weight, reference.coef_, rtol=1e-8, atol=1e-12)
    assert fit.bias == pytest.approx(reference.intercept_, abs=1e-9)
    for row in (0, 7):  # the leave-one-out predictions: refitted without the row, at the chosen penalty
        others = np.arange(rows) != row
        without = Ridge(alpha=fit.alpha).fit(x[others], y[others])
        assert fit.loo[row] == pytest.approx(without.predict(x[row : row + 1])[0], rel=1e-8)


def test_ridge_labels_ranks_like_logistic_regression_and_gives_log_odds() -> None:
    """The wide student's fit on 0/1 labels: a direction as good as a logistic regression's, and a
    scale that makes its score a log-odds (mean PD near the base rate on rows it did not see)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from credtune.head import ridge_labels

    rng = np.random.default_rng(1)
    x = rng.standard_normal((1200, 60))
    truth = x[:, :5] @ np.array([1.0, -0.8, 0.6, 0.5, -0.4])
    y = (rng.random(1200) < 1 / (1 + np.exp(-(truth - 1.0)))).astype(float)
    weight, bias, chosen = ridge_labels(x[:800], y[:800])
    score = x[800:] @ weight + bias
    reference = LogisticRegression(max_iter=1000).fit(x[:800], y[:800]).decision_function(x[800:])
    assert roc_auc_score(y[800:], score) > roc_auc_score(y[800:], reference) - 0.01
    assert chosen["slope"] > 0 and set(chosen) == {"alpha", "slope"}
    assert abs(float(np.mean(1 / (1 + np.exp(-score)))) - y[800:].mean()) < 0.03
    assert np.corrcoef(score, reference)[0, 1] > 0.95
