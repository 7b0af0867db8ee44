"""`model.pooling: ffn`: the feature layer carries the fitted student, the cache pools what the full
model pools, the margin is the student's score, the folder loads plainly, and where the head trains
the recipe pools as `auto` settles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification

from conftest import RECIPES, cli
from credtune import CreditScorer, load_recipe
from credtune.config import ModelConfig
from credtune.data import prepare
from credtune.errors import ConfigError
from credtune.ffn_pooling import add_ffn_pooling, feature_layer, is_ffn
from credtune.frozen import FrozenCache
from credtune.head import fit_head, fit_linear
from credtune.modeling import load_model, load_tokenizer
from credtune.pooling import add_mean_pooling
from credtune.training import encode, prepare_frozen

TEXTS = [
    "checking: none; months: 12",
    "amount: 5951 (very high); history: critical; savings: none; job: skilled",
]


@pytest.fixture(scope="module")
def fitted(tiny_overrides: list[str]):
    """The tiny BERT with the feature layer, its student and head fitted on 200 of 300 rows."""
    recipe = load_recipe(
        RECIPES / "german_credit.yaml", [*tiny_overrides, "data.sample=300", "model.pooling=ffn"]
    )
    prep = prepare(recipe)
    tokenizer = load_tokenizer(recipe.model)
    encoded = encode(prep.table, prep.serializer, tokenizer, recipe.model.max_length)
    model = load_model(recipe.model, ["good", "bad"], tokenizer, recipe.lora, recipe.seed).eval()
    cache = prepare_frozen(recipe, model, encoded, tokenizer)
    info = fit_head(model, cache, encoded.select(range(200)))
    return model, tokenizer, encoded, cache, info


def _margins(model, states: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        logits = model.classifier(model.bert.pooler(states))
    return (logits[:, 1] - logits[:, 0]).double().numpy()


def test_the_cache_pools_what_the_full_model_pools(fitted) -> None:
    """With the student written, each row's cached first-position state (from its mean of phi) is
    the state the full model computes from the row's tokens: the output norm is linear in it."""
    model, tokenizer, encoded, cache, _ = fitted
    rows = list(range(0, 300, 37))
    width = max(len(encoded[r]["input_ids"]) for r in rows)
    batch = tokenizer.pad({"input_ids": [encoded[r]["input_ids"] for r in rows]}, padding="max_length",
                          max_length=width, return_tensors="pt")  # fmt: skip
    assert not batch["attention_mask"].all()  # padded rows: padding must not count
    with torch.no_grad():
        full = model.bert(**batch).last_hidden_state[:, :1]
    cached = torch.stack([cache.states[r] for r in rows])
    torch.testing.assert_close(cached, full, atol=1e-4, rtol=1e-4)
    assert float(feature_layer(model).output.dense.weight.abs().sum()) > 0  # a student is in there


def test_each_rows_parts_are_its_own_whatever_the_batches(fitted) -> None:
    """The pass runs rows longest first, in padded batches, into tensors made once for every row:
    each row's kept parts are what it gives alone (batches of one, no padding), at its own row."""
    model, tokenizer, encoded, cache, _ = fitted
    alone = FrozenCache.build(model, encoded, cache.n, tokenizer.pad_token_id, batch_size=1)
    assert set(alone.parts) == set(cache.parts) and len(set(encoded["length"])) > 5  # rows of many lengths
    for name, values in cache.parts.items():
        assert values.shape[0] == len(encoded)
        torch.testing.assert_close(values, alone.parts[name], atol=1e-5, rtol=1e-4)


def test_a_pass_over_some_rows_keeps_theirs_and_leaves_the_others_nan(fitted) -> None:
    """`credtune train` runs the pass over the rows that train only (the test rows are scored from
    the saved model): those rows' parts are the full pass's, at their own row; the others are NaN."""
    model, tokenizer, encoded, cache, _ = fitted
    only = np.arange(0, len(encoded), 3)
    some = FrozenCache.build(model, encoded, cache.n, tokenizer.pad_token_id, only=only)
    others = np.setdiff1d(np.arange(len(encoded)), only)
    for name, values in some.parts.items():
        assert values.shape == cache.parts[name].shape
        torch.testing.assert_close(values[only], cache.parts[name][only], atol=1e-5, rtol=1e-4)
        assert torch.isnan(values[others]).all()


def test_the_margin_is_the_students_score(fitted) -> None:
    """The model's margin on every row is the student `fit_linear` fits on the standardized means of
    phi of the training rows (labels: `ridge_labels`; the head reads it back by least squares)."""
    model, _, encoded, cache, info = fitted
    phi = cache.parts["phi"].double().numpy()
    mean, std = phi[:200].mean(0), np.maximum(phi[:200].std(0), 1e-12)
    labels = np.asarray(encoded["labels"][:200], float)
    weight, bias, chosen = fit_linear((phi[:200] - mean) / std, labels, by_ridge=True)
    assert info == {"rows": 200, "features": 64, **chosen}  # the tiny BERT's feed-forward width
    student = (phi - mean) / std @ weight + bias
    states = torch.stack([cache.states[r] for r in range(300)])
    np.testing.assert_allclose(_margins(model, states), student, atol=2e-3 * student.std())
    with torch.autocast("cpu", dtype=torch.bfloat16):  # as the Trainer predicts where bf16 is faster
        # bf16 rounds the feature layer's sums of 64 weighted features: 3% of the spread at worst here
        np.testing.assert_allclose(_margins(model, states), student, rtol=0.01, atol=0.03 * student.std())


def test_the_layer_is_frozen_added_once_and_reloads_plainly(fitted, tmp_path: Path) -> None:
    model, tokenizer, *_ = fitted
    assert is_ffn(model) and model.config.num_hidden_layers == 4  # 2 + feature layer + pooling layer
    for layer in model.bert.encoder.layer[-2:]:
        assert not any(p.requires_grad for p in layer.parameters())
        assert all(m.p == 0 for m in layer.modules() if isinstance(m, torch.nn.Dropout))
    model.save_pretrained(tmp_path)
    again = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    add_ffn_pooling(again)  # a fine-tuned folder fine-tuned again: extended once, not twice
    assert again.config.num_hidden_layers == 4
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(again(**batch).logits, model(**batch).logits)


def test_a_mean_pooled_folder_is_not_extended(tiny_model: Path) -> None:
    cfg = ModelConfig(name=str(tiny_model), pooling="mean")
    model = load_model(cfg, ["good", "bad"], load_tokenizer(cfg), seed=0)
    add_mean_pooling(model)
    with pytest.raises(
        ConfigError, match="model.pooling: ffn cannot extend a model folder already mean-pooled"
    ):
        add_ffn_pooling(model)


@pytest.mark.parametrize(
    "pooling, fitted_head, appended",
    [
        ("auto", True, "ffn"),  # the default where the head is fitted in closed form
        ("auto", False, "mean"),  # where the Trainer trains the head
        ("ffn", False, "ffn"),  # asked for (targets.settle_task has made it auto where the head trains)
        ("mean", True, "mean"),
        (None, True, None),
    ],
)
def test_auto_pools_with_the_ffn_student_where_the_head_is_fitted(
    tiny_model: Path, pooling: str | None, fitted_head: bool, appended: str | None
) -> None:
    cfg = ModelConfig(name=str(tiny_model), pooling=pooling, train_layers=0)
    model = load_model(cfg, ["good", "bad"], load_tokenizer(cfg), seed=0, fitted_head=fitted_head)
    assert getattr(model.config, "credtune_pooling", None) == appended


def test_auto_adds_no_student_where_the_head_cannot_be_fitted(tiny_model: Path, tmp_path: Path) -> None:
    """RoBERTa has BERT's layers but not its pooler: its head trains, so `auto` adds no ffn layers
    (they would hand that head one constant vector)."""
    from transformers import AutoTokenizer, RobertaConfig, RobertaForSequenceClassification

    config = RobertaConfig(
        vocab_size=512, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    RobertaForSequenceClassification(config).save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(tmp_path)
    cfg = ModelConfig(name=str(tmp_path), pooling="auto", train_layers=0)
    model = load_model(cfg, ["good", "bad"], load_tokenizer(cfg), seed=0, fitted_head=True)
    assert not is_ffn(model)


@pytest.mark.parametrize(
    "overrides, task, pooling",
    [
        ([], "binary", "ffn"),
        (["model.train_layers=1"], "binary", "auto"),
        (["lora.r=4"], "binary", "auto"),
        (["train_loss=weighted", "distill=null"], "binary", "auto"),
        (["model.head=trained"], "binary", "auto"),
        (["distill=null", "model.hybrid=[]", "baselines=[logistic]"], "regression", "auto"),
    ],
)
def test_ffn_is_the_fitted_heads_and_settles_to_auto_where_the_head_trains(overrides, task, pooling) -> None:
    """The German recipe asking for ffn with LoRA, trained layers, a weighted loss or another target
    kind still runs: its head trains, so it pools as `auto` settles (and recipe.yaml says so)."""
    from credtune.targets import settle_task

    recipe = load_recipe(RECIPES / "german_credit.yaml", ["model.pooling=ffn", *overrides])
    assert recipe.model.pooling == "ffn"
    settle_task(recipe, task)
    assert recipe.model.pooling == pooling


def test_train_and_score_with_ffn_pooling_end_to_end(tiny_overrides: list[str], tmp_path: Path) -> None:
    """The shipped German recipe (distilled, crossfit hybrid) with the feature layer: recipe.yaml
    says so, and the folder, scored in full by `credtune score`'s scorer, reproduces metrics.json."""
    out = tmp_path / "run"
    result = cli(
        "train", "german_credit", *tiny_overrides, "data.sample=300", "model.pooling=ffn", "-o", str(out)
    )
    assert result.returncode == 0, result.stderr[-2000:]
    ran = load_recipe(out / "recipe.yaml")
    assert (ran.model.pooling, ran.model.head, ran.model.hybrid_fit) == ("ffn", "fitted", "crossfit")
    saved = AutoModelForSequenceClassification.from_pretrained(out / "model")
    assert saved.config.credtune_pooling == "ffn"
    rows = prepare(ran).split("test").remove_columns("labels").to_pandas()
    stored = json.loads((out / "metrics.json").read_text())["test_predictions"]["pd"]
    scorer = CreditScorer.from_pretrained(out / "model")
    np.testing.assert_allclose(scorer.predict_proba(rows), stored["hybrid"], atol=1e-6)
    np.testing.assert_allclose(
        scorer.predict_proba(rows, component="transformer"), stored["transformer"], atol=1e-6
    )


def test_train_layers_and_lora_leave_both_appended_layers_alone(fitted) -> None:
    """An ffn folder fine-tuned again with its top layer trained: the feature and pooling layers stay
    out of the `train_layers` count and out of LoRA's reach, as the pooling layer alone does."""
    from credtune.frozen import frozen_count, frozen_linear_names

    model = fitted[0]
    assert frozen_count(model, 1) == 1  # the tiny BERT's 2 layers: 1 frozen, 1 trained; 2 appended
    layers = {name.split(".layer.")[1].split(".")[0] for name in frozen_linear_names(model, 1)}
    assert layers == {"0", "2", "3"}
