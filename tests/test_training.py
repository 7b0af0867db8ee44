"""End to end: the real `credtune train` CLI on German credit with the tiny model."""

import json

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

from conftest import RECIPES, cli, run_cli
from credtune.contract import load_spec

METRIC_KEYS = {"auc", "pr_auc", "ks", "gini", "brier", "log_loss", "n", "positive_rate"}


def test_run_folder_is_complete(cli_run):
    out, result = cli_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= METRIC_KEYS
    assert metrics["n"] == 200 and 0.25 < metrics["positive_rate"] < 0.35
    assert {"transformer", "logistic", "lightgbm"} <= set(metrics["models"])
    for name in ("config.json", "model.safetensors", "tokenizer.json", "credtune.json", "README.md"):
        assert (out / "model" / name).is_file(), name
    assert (out / "recipe.yaml").is_file() and (out / "report.html").is_file()
    assert "held-out test split" in result.stdout and "transformer" in result.stdout


def test_model_reloads_and_matches_plain_transformers(cli_run):
    out, _ = cli_run
    model_dir = out / "model"
    spec = load_spec(model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "good", "1": "bad"}
    rows = [
        {"status_of_existing_checking_account": "... < 0 DM", "duration_in_month": 24, "credit_amount": 5000}
    ]
    texts = [spec.make_serializer()(r) for r in rows]
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    with torch.inference_mode():
        probs = model(**tokenizer(texts, return_tensors="pt")).logits.softmax(-1)[:, 1].numpy()
    clf = pipeline("text-classification", model=str(model_dir), top_k=None)
    via_pipeline = {d["label"]: d["score"] for d in clf(texts)[0]}
    np.testing.assert_allclose(via_pipeline["bad"], probs[0], atol=1e-5)


def test_no_target_or_machine_path_in_serialized_text_or_model(cli_run):
    out, _ = cli_run
    spec = load_spec(out / "model")
    labels = {f["label"] for f in spec.serializer["fields"]}
    assert "creditability" not in {f["name"] for f in spec.serializer["fields"]}
    assert not {"creditability", "age_in_years", "foreign_worker"} & labels
    for path in (out / "model").iterdir():
        if path.suffix in (".json", ".md", ".txt"):
            assert str(out.parent) not in path.read_text(), path.name


def test_magnitude_tokens_are_learned_saved_and_scored(tiny_overrides, tmp_path):
    """`serialize.numbers: magnitude`: each decile token is one token, its embedding row starts on
    the low-high line, and the saved folder (larger embedding) loads plainly and reproduces its PDs."""
    from credtune import CreditScorer, data, load_recipe

    out = tmp_path / "run"
    overrides = ["serialize.numbers=magnitude", "distill=null", "model.hybrid=[]", "baselines=[logistic]"]
    result = cli("train", "german_credit", *tiny_overrides, *overrides, "-o", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    tokenizer = AutoTokenizer.from_pretrained(out / "model")
    assert tokenizer.tokenize("amount: 900 [m7]")[-1] == "[m7]"
    model = AutoModelForSequenceClassification.from_pretrained(out / "model")
    weight = model.get_input_embeddings().weight.detach()
    assert weight.shape[0] == len(tokenizer)
    low, high, m0, m9 = (
        weight[tokenizer.encode(w, add_special_tokens=False)].mean(0) for w in ("low", "high", "[m0]", "[m9]")
    )
    assert torch.allclose(m0, low) and torch.allclose(m9, high)  # head-only training leaves them as set
    prep = data.prepare(load_recipe(out / "recipe.yaml"))
    rows = prep.split("test").remove_columns("labels").to_pandas()
    scorer = CreditScorer.from_pretrained(out / "model")
    assert "[m" in scorer.texts(scorer.records(rows))[0]
    stored = json.loads((out / "metrics.json").read_text())["test_predictions"]["pd"]["transformer"]
    np.testing.assert_allclose(scorer.predict_proba(rows), stored, atol=1e-6)


def test_existing_run_is_not_overwritten(cli_run, tiny_overrides):
    out, _ = cli_run
    result = run_cli("train", "german_credit", *tiny_overrides, "-o", str(out))
    assert result.returncode == 2
    assert "already holds a finished run" in result.stderr and "Traceback" not in result.stderr


def test_preview_shows_tokens_and_hides_target(tiny_overrides):
    result = cli("preview", "german_credit", *tiny_overrides, "-n", "2")
    assert result.returncode == 0, result.stderr
    assert "tokens/row" in result.stdout and "never serialized: target 'creditability'" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("checking:")]
    assert len(rows) == 2 and all("creditability" not in r for r in rows)


def test_validate_all_shipped_recipes():
    result = cli("validate", *[str(p) for p in sorted(RECIPES.glob("*.yaml"))])
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": ok (") == len(list(RECIPES.glob("*.yaml")))


def test_saved_recipe_spells_out_what_ran(cli_run, tiny_overrides, tmp_path):
    """recipe.yaml in a run folder holds each `auto` and default as this run used it (so a release
    that changes a default still retrains the same model from it), and it trains the same way."""
    from credtune import load_recipe
    from credtune.training import train_settings, training_arguments

    out, _ = cli_run
    given = load_recipe("german_credit", tiny_overrides)
    saved = load_recipe(out / "recipe.yaml")
    settings = ("task", "train_layers", "pooling", "head")
    assert [getattr(given.data if k == "task" else given.model, k) for k in settings] == [
        None,
        "auto",
        "auto",
        "auto",
    ]
    assert [getattr(saved.data if k == "task" else saved.model, k) for k in settings] == [
        "binary",
        0,
        "ffn",
        "fitted",
    ]
    assert saved.calibration == "none" and saved.model.hybrid == [
        "scorecard",
        "lightgbm",
        "kernel",
    ]  # fitted head
    assert saved.train["learning_rate"] == 1e-3 and saved.train["max_steps"] == 6
    assert train_settings(saved) == train_settings(given)
    args = [training_arguments(r, tmp_path).to_dict() for r in (given, saved)]
    assert args[0] == args[1]
