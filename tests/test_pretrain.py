"""`credtune pretrain`: a backbone pretrained on serialized records (field masking masks whole
values), saved with its pooler, fine-tuned by `credtune train`, resumable, and recorded row by
row so that no evaluation runs on rows it was pretrained on."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoTokenizer

from conftest import GERMAN, RECIPES, run_cli
from credtune import load_recipe, pretrain, train
from credtune.errors import ConfigError, CredtuneError, DataError, ModelError
from credtune.pretrain_config import load_pretrain, pretrain_from_dict
from credtune.pretrain_corpus import RECORD, build_corpus, check_no_overlap, fingerprints
from credtune.pretraining import RecordCollator, encode_table, field_index
from credtune.serialize import MAGNITUDE_TOKENS

TINY = ["train.max_steps=4", "train.logging_steps=1", "train.disable_tqdm=true", "rows_per_table=300"]


@pytest.fixture(scope="module")
def small_recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """German credit, 200 rows, transformer only: a fine-tune that takes seconds."""
    path = tmp_path_factory.mktemp("recipes") / "german_small.yaml"
    path.write_text(
        f"extends: {RECIPES / 'german_credit.yaml'}\ndata: {{sample: 200}}\nbaselines: []\nmodel: {{hybrid: []}}\n"
    )
    return path


@pytest.fixture(scope="module")
def pretrained(tiny_model: Path, small_recipe: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`credtune pretrain RECIPE` (a fine-tuning recipe: its table is the corpus, its valid and test
    rows left out) on the tiny BERT, through the real command line."""
    run_dir = tmp_path_factory.mktemp("pretrain") / "run"
    args = ["pretrain", str(small_recipe), f"model.name={tiny_model}", *TINY, "train.save_steps=2"]
    result = run_cli(*args, "-o", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert "fine-tune it: credtune train RECIPE model.name=" in result.stdout
    return run_dir


def test_pretrain_writes_a_backbone_that_train_fine_tunes(
    pretrained: Path, small_recipe: Path, tiny_overrides: list[str], tmp_path: Path
) -> None:
    backbone = pretrained / "backbone"
    metrics = json.loads((pretrained / "metrics.json").read_text())
    assert metrics["steps"] == 4 and metrics["masking"] == "field" and metrics["eval_loss"] > 0
    german = metrics["tables"]["german_small"]
    assert german["rows"] == 200 and german["excluded_evaluation_rows"] == 70  # its valid + test rows
    assert german["tokens_per_row"]["mean"] > 50 and metrics["rows"] == {"train": 190, "eval": 10}
    card = (backbone / "README.md").read_text()
    assert "german_credit.csv" in card and "field masking" in card and "held-out records" in card
    assert (pretrained / "recipe.yaml").is_file() and (backbone / "tokenizer.json").is_file()
    overrides = [o for o in tiny_overrides if not o.startswith("model.name")]
    run = train(load_recipe(small_recipe, [*overrides, f"model.name={backbone}"]), tmp_path / "fine-tuned")
    assert run.metrics["auc"] is not None and (tmp_path / "fine-tuned" / "model" / "config.json").is_file()


def test_backbone_keeps_the_pooler_only_the_classifier_is_new(pretrained: Path, tiny_model: Path) -> None:
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification

    _, info = AutoModelForSequenceClassification.from_pretrained(
        pretrained / "backbone", num_labels=2, output_loading_info=True
    )
    assert sorted(info["missing_keys"]) == ["classifier.bias", "classifier.weight"]
    source, saved = (
        load_file(tiny_model / "model.safetensors"),
        load_file(pretrained / "backbone" / "model.safetensors"),
    )
    assert torch.equal(source["bert.pooler.dense.weight"], saved["bert.pooler.dense.weight"])
    assert not torch.equal(
        source["bert.encoder.layer.0.attention.self.query.weight"],
        saved["bert.encoder.layer.0.attention.self.query.weight"],
    )


def test_evaluating_on_pretrained_rows_is_refused(pretrained: Path, small_recipe: Path) -> None:
    from credtune.config import resolve_data_path
    from credtune.data import load_labelled, prepare

    backbone = str(pretrained / "backbone")
    recipe = load_recipe(RECIPES / "german_credit.yaml", [f"model.name={backbone}"])
    table, _ = load_labelled(recipe.data, resolve_data_path(recipe), recipe.seed)
    with pytest.raises(
        ConfigError, match=r"pretrained on 200 of the 1000 rows this cv evaluates \(german_credit.csv\)"
    ):
        check_no_overlap(backbone, table, "this cv evaluates")
    with pytest.raises(ConfigError, match="of the 3 rows given"):  # a DataFrame, its numbers as text
        seen = np.isin(fingerprints(table, _columns(pretrained)), _corpus(pretrained))
        check_no_overlap(backbone, table.to_pandas().astype(str), "given", np.flatnonzero(seen)[:3])
    prep = prepare(load_recipe(small_recipe))  # the rows `credtune train` evaluates were left out
    check_no_overlap(backbone, prep.table, "held out", [*prep.splits["valid"], *prep.splits["test"]])
    check_no_overlap(backbone, table.remove_columns(["purpose"]), "of another table")  # other columns
    check_no_overlap(str(pretrained), table, "not a backbone")  # no record: nothing to check
    cv_dir = pretrained.parent / "cv"
    result = run_cli("cv", "german_credit", f"model.name={backbone}", "--folds", "2", "-o", str(cv_dir))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "pretrain it without that table" in result.stderr and not cv_dir.exists()


def _columns(run: Path) -> list[str]:
    return json.loads((run / "backbone" / RECORD).read_text())["tables"][0]["columns"]


def _corpus(run: Path) -> np.ndarray:
    from credtune.pretrain_corpus import unpack

    return unpack(json.loads((run / "backbone" / RECORD).read_text())["tables"][0]["fingerprints"])


def test_magnitude_tokens_are_learned_in_pretraining_and_kept_by_the_fine_tune(
    small_recipe: Path, tiny_model: Path, tiny_overrides: list[str], tmp_path: Path
) -> None:
    recipe = tmp_path / "german_magnitude.yaml"
    recipe.write_text(f"extends: {small_recipe}\nserialize: {{numbers: magnitude}}\n")
    cfg = load_pretrain(str(recipe), [f"model.name={tiny_model}", *TINY[:-1], "train.max_steps=2"])
    backbone = pretrain(cfg, tmp_path / "pretrain").run_dir / "backbone"
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    ids = tokenizer.convert_tokens_to_ids(list(MAGNITUDE_TOKENS))
    assert tokenizer.encode("[m7]", add_special_tokens=False) == [ids[7]]
    learned = AutoModelForMaskedLM.from_pretrained(backbone).get_input_embeddings().weight[ids]
    low, high = learned[0], learned[-1]
    on_the_line = torch.stack([low + (high - low) * k / 9 for k in range(10)])
    assert not torch.allclose(learned, on_the_line, atol=1e-6)  # the steps moved them off their start
    overrides = [o for o in tiny_overrides if not o.startswith("model.name")]
    run = train(
        load_recipe(recipe, [*overrides, f"model.name={backbone}", "model.train_layers=0"]), tmp_path / "ft"
    )
    tuned = AutoModelForSequenceClassification.from_pretrained(run.run_dir / "model")
    assert torch.equal(tuned.get_input_embeddings().weight[ids], learned)  # frozen, not re-initialized


def test_resume_continues_from_the_last_checkpoint(
    pretrained: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(pretrained, run_dir)
    (run_dir / "metrics.json").unlink()  # as if killed after its last checkpoint
    shutil.copy(run_dir / "recipe.yaml", tmp_path / "recipe.yaml")  # a run's recipe.yaml reloads anywhere
    cfg = load_pretrain(str(tmp_path / "recipe.yaml"), ["train.max_steps=6"])
    with caplog.at_level(logging.INFO, logger="credtune"):
        result = pretrain(cfg, run_dir, resume=True)
    assert "continuing from" in caplog.text and "checkpoint-4" in caplog.text
    assert result.metrics["steps"] == 6 and (run_dir / "metrics.json").is_file()
    with pytest.raises(CredtuneError, match="already holds a finished run"):
        pretrain(cfg, run_dir)


@pytest.mark.parametrize(
    "offsets, spans, expected",
    [
        (
            [(0, 0), (0, 6), (6, 7), (8, 9), (9, 10), (11, 17), (17, 18), (19, 22), (0, 0)],
            [(8, 9), (19, 22)],
            [-1, -1, -1, 0, -1, -1, -1, 1, -1],
        ),  # "months: 6; purpose: car"
        ([(0, 3), (3, 5), (5, 8)], [(0, 8)], [0, 0, 0]),  # a value in several word pieces
        ([(0, 4), (5, 9)], [], [-1, -1]),
    ],
)
def test_field_index_maps_tokens_to_field_values(offsets, spans, expected) -> None:
    assert field_index(offsets, spans) == expected


def test_field_masking_masks_whole_field_values(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    cfg = load_pretrain(RECIPES / "german_credit.yaml", [f"model.name={tiny_model}", "rows_per_table=20"])
    (table,) = build_corpus(cfg)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    encoded = encode_table(table.table, table.serializer, tokenizer, 256, True, 0)
    collator = RecordCollator(
        tokenizer,
        mlm_probability=0.3,
        mask_replace_prob=1.0,
        random_replace_prob=0.0,
        seed=1,
        field_masking=True,
    )
    rows = [encoded[i] for i in range(len(encoded))]
    batch = collator(rows)
    assert {"input_ids", "attention_mask", "labels"} <= set(batch) <= {*batch, "token_type_ids"}
    assert not {"field_index", "length", "table", "truncated"} & set(batch)
    for row, ids, labels in zip(rows, batch["input_ids"], batch["labels"]):
        fields = np.asarray(row["field_index"])
        masked = (labels[: len(fields)] != -100).numpy()
        assert masked.any() and not masked[fields < 0].any()  # only value tokens, at least one field
        for field in set(fields[masked]):
            assert masked[fields == field].all()  # every token of a chosen value
        assert (ids[: len(fields)][masked] == tokenizer.mask_token_id).all()
        assert (labels[: len(fields)][masked] == torch.tensor(row["input_ids"])[masked]).all()


def test_decoder_backbone_is_pretrained_as_a_causal_lm(tmp_path: Path) -> None:
    from test_decoder import build_tiny_llama
    from transformers import AutoModelForSequenceClassification

    llama = build_tiny_llama(tmp_path / "llama")
    result = pretrain(
        RECIPES / "german_credit.yaml",
        tmp_path / "run",
        overrides=[f"model.name={llama}", "model.max_length=64", "train.max_steps=2", "rows_per_table=40"],
    )
    assert result.metrics["objective"] == "causal LM" and result.metrics["masking"] is None
    assert result.metrics["steps"] == 2 and result.metrics["masked_token_accuracy"] is not None
    config = json.loads((tmp_path / "run" / "backbone" / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    AutoModelForSequenceClassification.from_pretrained(tmp_path / "run" / "backbone", num_labels=2)


def _no_lm_head(tiny_model: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "vit"
    shutil.copytree(tiny_model, folder)
    (folder / "config.json").write_text(json.dumps({"model_type": "vit"}))
    return folder


@pytest.mark.parametrize(
    "overrides, error, message",
    [
        (["masking=feld"], ConfigError, "masking: 'feld' is not one of field, token (did you mean 'field'?)"),
        (["tabels=[]"], ConfigError, "unknown key 'tabels' (did you mean 'tables'?)"),
        (["train.learnin_rate=1"], ConfigError, "did you mean 'learning_rate'?"),
        (["mlm_probability=1.5"], ConfigError, "mlm_probability: expected a share between 0 and 1"),
        (["rows_per_table=5"], ConfigError, "rows_per_table: 5 rows are too few"),
        (
            [f"tables=[{{data: {{path: {GERMAN}, exclude: [{', '.join(['x'])}]}}}}]"],
            DataError,
            "data.exclude: column 'x' not in",
        ),
        ("no columns", DataError, "no columns left to serialize"),
        ("no head", ModelError, "has neither a masked-LM nor a causal-LM head"),
    ],
)
def test_bad_pretraining_inputs_are_one_clear_error(
    overrides, error, message, tiny_model: Path, tmp_path: Path
) -> None:
    if overrides == "no columns":
        import pandas as pd

        pd.read_csv(GERMAN).to_csv(tmp_path / "g.csv", index=False)
        columns = ", ".join(pd.read_csv(GERMAN).columns)
        overrides = [f"tables=[{{data: {{path: {tmp_path / 'g.csv'}, exclude: [{columns}]}}}}]"]
    elif overrides == "no head":
        overrides = [f"model.name={_no_lm_head(tiny_model, tmp_path)}"]
    with pytest.raises(error) as raised:
        pretrain(
            RECIPES / "german_credit.yaml",
            tmp_path / "run",
            overrides=[f"model.name={tiny_model}", *overrides],
        )
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert not (tmp_path / "run" / "backbone").exists()


def test_shipped_pretraining_recipe_loads_and_names_its_question() -> None:
    path = RECIPES / "pretrain_credit.yaml"
    head = path.read_text().splitlines()[:2]
    assert head[0].startswith("# Question:") and head[1].startswith("# Command: credtune pretrain")
    cfg = load_pretrain(path)
    assert cfg.name == "pretrain_credit" and len(cfg.tables) == 4 and cfg.masking == "field"
    assert len(cfg.exclude_rows_of) == 3 and all(Path(cfg.resolve(r)).is_file() for r in cfg.exclude_rows_of)
    again = pretrain_from_dict({**cfg.to_dict(), "source_dir": "/"})  # recipe.yaml of a run reloads anywhere
    assert [cfg.resolve(t.recipe) for t in cfg.tables if t.recipe] == [
        again.resolve(t.recipe) for t in again.tables if t.recipe
    ]
