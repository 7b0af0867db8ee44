"""`model.train_layers`: the frozen bottom computed once gives exactly what the full model
computes, only the top trains, LoRA leaves the frozen layers alone, and the saved model is plain."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import RECIPES, run_cli
from credtune import load_recipe
from credtune.config import LoraConfig
from credtune.data import prepare
from credtune.frozen import FrozenCache, frozen_count
from credtune.modeling import load_model, load_tokenizer
from credtune.training import build_trainer, encode, predict_margin, prepare_frozen, training_arguments

LABELS = ["good", "bad"]


@pytest.fixture(scope="module", params=["null", "mean"], ids=["first-position", "mean-pooling"])
def setup(request, tiny_overrides: list[str], tmp_path_factory: pytest.TempPathFactory):
    """The tiny BERT with its top layer trained; with `model.pooling: mean` the frozen pooling
    layer sits above it (the cached path then runs a trained layer and a frozen one)."""
    recipe = load_recipe(
        RECIPES / "german_credit.yaml",
        [*tiny_overrides, "model.train_layers=1", "data.sample=200", "train.learning_rate=1e-3",
         f"model.pooling={request.param}", "train.bf16=false"],  # fp32 like the full model it is checked against
    )  # fmt: skip
    prep = prepare(recipe)
    tokenizer = load_tokenizer(recipe.model)
    encoded = encode(prep.table, prep.serializer, tokenizer, recipe.model.max_length)
    return recipe, prep, tokenizer, encoded, tmp_path_factory.mktemp("frozen")


def _trained(setup, lora: LoraConfig | None = None):
    recipe, prep, tokenizer, encoded, out = setup
    model = load_model(recipe.model, LABELS, tokenizer, lora, recipe.seed)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    cache = prepare_frozen(recipe, model, encoded, tokenizer)
    args = training_arguments(recipe, out / "ckpt")
    parts = {name: encoded.select(idx) for name, idx in prep.splits.items()}
    trainer = build_trainer(recipe, model, tokenizer, args, parts["train"], parts["valid"], cache)
    trainer.train()
    return model, before, cache, trainer, parts


def test_cached_top_matches_the_full_model(setup) -> None:
    model, before, cache, trainer, parts = _trained(setup)
    assert isinstance(cache, FrozenCache) and len(cache.states) == len(setup[3])
    cached = predict_margin(trainer, parts["test"])  # batches carry the cached states
    np.testing.assert_allclose(cached, _full_margin(model, setup[2], parts["test"]), atol=1e-4)
    after = dict(model.named_parameters())
    for name, old in before.items():
        moved = not torch.equal(old, after[name].detach())
        bottom = "embeddings" in name or ".layer.0." in name or ".layer.2." in name  # 2: pooling
        assert moved != bottom or name.endswith(("position_ids",)), name  # frozen stay, the rest train
    assert not any(
        m.p for n, m in model.named_modules() if isinstance(m, torch.nn.Dropout) and ".layer.0." in n
    )


def _full_margin(model, tokenizer, ds) -> np.ndarray:
    model.eval()
    with torch.inference_mode():
        batch = tokenizer(list(ds["text"]), return_tensors="pt", padding=True)
        logits = model(**batch).logits.double().numpy()  # the full model, embeddings up
    return logits[:, 1] - logits[:, 0]


def test_head_only_keeps_the_first_position_and_matches_the_full_model(setup) -> None:
    recipe, *rest = setup
    head_only = dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, train_layers=0))
    model, _, cache, trainer, parts = _trained((head_only, *rest))
    assert cache.first_only and {tuple(s.shape) for s in cache.states} == {(1, model.config.hidden_size)}
    cached = predict_margin(trainer, parts["test"])  # one position a row, as the head reads it
    np.testing.assert_allclose(cached, _full_margin(model, setup[2], parts["test"]), atol=1e-4)


def test_lora_adapts_only_the_layers_above(setup) -> None:
    model, *_ = _trained(setup, LoraConfig(r=4, alpha=8, dropout=0.0))
    adapted = {n for n, _ in model.named_parameters() if ".lora_A." in n}
    assert any(".layer.1." in n for n in adapted) and not any(".layer.0." in n for n in adapted), adapted


@pytest.mark.parametrize("k", [-1, 3])
def test_train_layers_outside_the_layer_count_is_refused(setup, k: int) -> None:
    from credtune.errors import ConfigError

    recipe, _, tokenizer, *_ = setup
    model = load_model(recipe.model, LABELS, tokenizer, None, 0)
    with pytest.raises(ConfigError, match="model.train_layers"):
        frozen_count(model, k)


def test_head_only_trains_pooler_and_classifier(setup) -> None:
    recipe, _, tokenizer, encoded, _ = setup
    model = load_model(recipe.model, LABELS, tokenizer, None, 0)
    head_only = dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, train_layers=0))
    cache = prepare_frozen(head_only, model, encoded, tokenizer)
    assert cache.n == model.config.num_hidden_layers  # every layer of the tiny BERT frozen and cached
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(n.startswith(("bert.pooler.", "classifier.")) for n in trainable), trainable


def test_cv_with_frozen_layers_and_distillation_end_to_end(tiny_overrides: list[str], tmp_path: Path) -> None:
    out = tmp_path / "cv"
    args = [*tiny_overrides, "model.train_layers=1", "distill.weight=0.5", "distill.folds=2", "data.sample=150",
            "distill.synthetic=1",
            "distill.teachers=[logistic]", "baselines=[logistic]", "model.hybrid=[]"]  # fmt: skip
    result = run_cli(
        "cv", str(RECIPES / "german_credit.yaml"), "--folds", "2", "--output-dir", str(out), *args
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "outputs of 150 rows computed once" in result.stderr  # once for both folds
    assert result.stderr.count("computed once") == 1
    assert "distill: teachers" in result.stderr and "synthetic rows" in result.stderr
    import json

    cv = json.loads((out / "cv.json").read_text())
    assert 0 <= cv["models"]["transformer"]["auc"] <= 1
