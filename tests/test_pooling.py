"""`model.pooling: mean`: the appended layer hands the head the mean of the unpadded states, stays
frozen, survives a plain `from_pretrained`, is added once, and keeps LoRA and `train_layers` off it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

from conftest import RECIPES, cli
from credtune import load_recipe
from credtune.config import LoraConfig, ModelConfig
from credtune.errors import ConfigError
from credtune.frozen import frozen_count
from credtune.modeling import load_model, load_tokenizer
from credtune.pooling import add_mean_pooling, is_pooled, pooled_first, wants_mean

LABELS = ["good", "bad"]
TEXTS = [
    "checking: none; months: 12",
    "amount: 5951 (very high); history: critical; savings: none; job: skilled",
]


def _pooled(tiny_model: Path, **kwargs) -> torch.nn.Module:
    cfg = ModelConfig(name=str(tiny_model), pooling="mean", **kwargs)
    return load_model(cfg, LABELS, load_tokenizer(cfg), seed=0)


def test_first_position_is_the_normalized_mean_of_the_unpadded_states(tiny_model: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    assert not batch["attention_mask"].all()  # the short row is padded: padding must not count
    plain = AutoModel.from_pretrained(tiny_model).eval()
    model = _pooled(tiny_model).eval()
    with torch.no_grad():
        states = plain(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        mean = (states * mask).sum(1) / mask.sum(1)
        expected = torch.nn.functional.layer_norm(mean, mean.shape[-1:], eps=1e-12)
        first = model.bert(**batch).last_hidden_state[:, 0]
    np.testing.assert_allclose(first.numpy(), expected.numpy(), atol=0.02)
    assert model.config.num_hidden_layers == plain.config.num_hidden_layers + 1 and is_pooled(model)


def test_the_first_position_alone_matches_the_full_pooling_layer(tiny_model: Path) -> None:
    model = _pooled(tiny_model).eval()
    batch = AutoTokenizer.from_pretrained(tiny_model)(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model.bert(**batch, output_hidden_states=True)
        first = pooled_first(model.bert.encoder.layer[-1], out.hidden_states[-2], batch["attention_mask"])
    torch.testing.assert_close(first, out.last_hidden_state[:, :1], atol=1e-5, rtol=0)


def test_pooling_layer_is_frozen_and_reloads_with_plain_from_pretrained(
    tiny_model: Path, tmp_path: Path
) -> None:
    model = _pooled(tiny_model).eval()
    top = model.bert.encoder.layer[-1]
    assert not any(p.requires_grad for p in top.parameters())
    assert all(m.p == 0 for m in top.modules() if isinstance(m, torch.nn.Dropout))
    model.save_pretrained(tmp_path)
    again = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    batch = AutoTokenizer.from_pretrained(tiny_model)(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(again(**batch).logits, model(**batch).logits)
    add_mean_pooling(again)  # a fine-tuned folder fine-tuned again: pooled once, not twice
    assert again.config.num_hidden_layers == model.config.num_hidden_layers


@pytest.mark.parametrize(("train_layers", "frozen"), [(0, 3), (1, 1), (2, 0)])
def test_train_layers_count_the_layers_below_the_pooling(
    tiny_model: Path, train_layers: int, frozen: int
) -> None:
    assert frozen_count(_pooled(tiny_model), train_layers) == frozen  # the tiny BERT: 2 layers + pooling


def test_train_layers_above_the_encoder_is_refused(tiny_model: Path) -> None:
    with pytest.raises(ConfigError, match=r"outside 0\.\.2"):
        frozen_count(_pooled(tiny_model), 3)


def test_lora_leaves_the_pooling_layer_alone(tiny_model: Path) -> None:
    cfg = ModelConfig(name=str(tiny_model), pooling="mean", train_layers=1)
    model = load_model(cfg, LABELS, load_tokenizer(cfg), LoraConfig(r=4, alpha=8), seed=0)
    adapted = {n for n, _ in model.named_parameters() if ".lora_A." in n}
    assert any(".layer.1." in n for n in adapted) and not any(
        ".layer.2." in n or ".layer.0." in n for n in adapted
    )


def test_a_decoder_is_refused(tmp_path: Path) -> None:
    from transformers import LlamaConfig, LlamaForSequenceClassification

    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, pad_token_id=0)  # fmt: skip
    with pytest.raises(ConfigError, match="model.pooling: mean needs a BERT-style encoder"):
        add_mean_pooling(LlamaForSequenceClassification(config))


@pytest.mark.parametrize(
    ("pooling", "train_layers", "expected"),
    [("auto", 0, True), ("auto", 1, True), ("auto", None, False), (None, 0, False), ("mean", None, True)],
)
def test_auto_pooling_reads_the_mean_of_a_frozen_bert(
    tiny_model: Path, pooling, train_layers, expected
) -> None:
    """`auto` (the default) pools where it was measured: a BERT-style encoder with frozen layers."""
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model)
    assert wants_mean(model, pooling, train_layers) is expected


def test_auto_pooling_leaves_a_decoder_alone() -> None:
    from transformers import LlamaConfig, LlamaForSequenceClassification

    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, pad_token_id=0)  # fmt: skip
    assert not wants_mean(LlamaForSequenceClassification(config), "auto", 0)


def test_train_and_score_with_mean_pooling_end_to_end(tiny_overrides: list[str], tmp_path: Path) -> None:
    """Head-only training reads the cached pooled position; the saved folder, scored in full, agrees."""
    from credtune import CreditScorer, data

    out = tmp_path / "run"
    args = [*tiny_overrides, "model.pooling=mean", "data.sample=150", "distill=null", "model.hybrid=[]",
            "baselines=[logistic]"]  # fmt: skip
    result = cli("train", str(RECIPES / "german_credit.yaml"), *args, "-o", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    saved = AutoModelForSequenceClassification.from_pretrained(out / "model")
    assert saved.config.credtune_pooling == "mean" and saved.config.num_hidden_layers == 3
    rows = data.prepare(load_recipe(out / "recipe.yaml")).split("test").remove_columns("labels").to_pandas()
    stored = json.loads((out / "metrics.json").read_text())["test_predictions"]["pd"]["transformer"]
    np.testing.assert_allclose(
        CreditScorer.from_pretrained(out / "model").predict_proba(rows), stored, atol=1e-6
    )
