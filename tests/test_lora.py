"""LoRA on the tiny BERT: what trains, that merging changes nothing, and that the saved model/
is a plain transformers classifier with no trace of this machine's paths."""

from __future__ import annotations

import copy
import gc
import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from conftest import RECIPES
from credtune.config import LoraConfig, ModelConfig
from credtune.modeling import load_model, load_tokenizer, merged

LABELS = ["good", "bad"]
TEXTS = [
    "checking: none; months: 12; amount: 1500",
    "checking: < 0 DM; months: 48; amount: 12000; savings: none",
]


@pytest.fixture(scope="module")
def lora_parts(tiny_model: Path):
    cfg = ModelConfig(name=str(tiny_model))
    tokenizer = load_tokenizer(cfg)
    return tokenizer, load_model(cfg, LABELS, tokenizer, LoraConfig(r=4, alpha=8, dropout=0.0), seed=1)


def test_only_adapters_and_head_train(lora_parts) -> None:
    _, model = lora_parts
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert any(".lora_A." in n for n in trainable) and any(".lora_B." in n for n in trainable)
    assert any(".classifier." in n for n in trainable)
    assert all(".lora_" in n or ".classifier." in n for n in trainable), trainable
    assert any("embeddings" in n for n in frozen) and any(
        "attention.self.query.base_layer" in n for n in frozen
    )
    adapted = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable if ".lora_" in n}
    assert adapted == {"query", "key", "value", "dense"}  # peft "all-linear": every linear but the head


def test_merged_model_gives_the_adapter_logits(lora_parts) -> None:
    tokenizer, original = lora_parts
    model = copy.deepcopy(original).train()
    batch = tokenizer(TEXTS, return_tensors="pt", padding=True)
    labels = torch.tensor([0, 1])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(5):
        optimizer.zero_grad()
        model(**batch, labels=labels).loss.backward()
        optimizer.step()
    lora_b = [p for n, p in model.named_parameters() if ".lora_B." in n]
    assert max(float(p.detach().abs().max()) for p in lora_b) > 1e-3  # the adapters really changed
    model.eval()
    with torch.inference_mode():
        with_adapters = model(**batch).logits.clone()
        plain = merged(model)
        assert not hasattr(plain, "peft_config")
        merged_logits = plain(**batch).logits
    torch.testing.assert_close(merged_logits, with_adapters, atol=1e-5, rtol=0)


def test_saved_lora_model_is_plain_and_portable(
    tiny_model: Path, tiny_overrides: list[str], tmp_path: Path
) -> None:
    from credtune import load_recipe, train

    out = tmp_path / "run"  # the Python API behind `credtune train`, in-process to save the start-up
    recipe = load_recipe(
        RECIPES / "german_credit_lora.yaml", [*tiny_overrides, "lora.r=4", "baselines=[]", "model.hybrid=[]"]
    )
    train(recipe, out)
    assert gc.get_freeze_count() == 0  # what the run froze is collectable again once it returns
    model_dir = out / "model"
    assert not (model_dir / "adapter_config.json").exists()
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    assert type(model).__name__ == "BertForSequenceClassification"
    assert not any("lora" in n for n, _ in model.named_parameters())
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    with torch.inference_mode():
        logits = model(**tokenizer(TEXTS, return_tensors="pt", padding=True)).logits
    assert logits.shape == (2, 2) and torch.isfinite(logits).all()
    for name in ("config.json", "credtune.json", "README.md", "tokenizer_config.json"):
        text = (model_dir / name).read_text(encoding="utf-8")
        assert str(tiny_model) not in text and str(tmp_path) not in text, f"{name} names a local path"
    config = json.loads((model_dir / "config.json").read_text())
    assert "base_model_name_or_path" not in config
    assert json.loads((model_dir / "credtune.json").read_text())["base_model"] == tiny_model.name
