"""Shared fixtures: a tiny random BERT built at test time, and the German credit recipe pointed at it.

Everything runs offline: the tokenizer is trained on the fly with `tokenizers`, the model is a
2-layer BERT with random weights, saved and reloaded through the real `from_pretrained` path.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_EVALUATE_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parents[1]
GERMAN = ROOT / "data" / "german_credit.csv"
RECIPES = ROOT / "recipes"


def build_tiny_bert(folder: Path) -> Path:
    """A BERT with hidden size 32 and 2 layers, and a WordPiece vocabulary trained on credit text."""
    import csv

    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    rows = list(csv.reader(GERMAN.open(encoding="utf-8")))
    corpus = [" ".join(r) for r in rows] + [
        "notes unknown months amount checking savings history 0 1 2 3 4 5 6 7 8 9"
    ]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(corpus, trainers.WordPieceTrainer(vocab_size=600, special_tokens=specials))
    from tokenizers.processors import TemplateProcessing

    tok.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    import torch

    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_overrides(tiny_model: Path) -> list[str]:
    """Overrides that make any shipped recipe train in seconds on the tiny model."""
    return [
        f"model.name={tiny_model}",
        "train.max_steps=6",
        "train.per_device_train_batch_size=16",
        "train.eval_strategy=no",
        "train.save_strategy=no",
        "train.logging_steps=2",
        "train.disable_tqdm=true",
    ]


def run_cli(*args: str, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the real `credtune` command line in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "credtune", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def cli(*args: str) -> subprocess.CompletedProcess:
    """The same command line run in this process: parsing, dispatch, messages and exit code as in
    `run_cli`, without a new interpreter importing torch and transformers (~10 s a call)."""
    from transformers.utils import logging as hf_logging

    from credtune.cli import main

    hf_logging.disable_progress_bar()  # as the CLI's environment does before transformers is imported
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse refusals
            code = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess(["credtune", *args], code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def cli_run(tmp_path_factory: pytest.TempPathFactory, tiny_overrides: list[str]) -> tuple:
    """One German credit run (the shipped recipe: hybrid, distillation) on the tiny model, trained
    once per session by the real command line in a subprocess, and its output; shared by the
    training, scoring, explain, hybrid and evaluation tests (read-only: copy before changing)."""
    out = tmp_path_factory.mktemp("runs") / "german"
    result = run_cli("train", str(RECIPES / "german_credit.yaml"), *tiny_overrides, "-o", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


@pytest.fixture(scope="session")
def trained_run(cli_run: tuple) -> Path:
    return cli_run[0]
