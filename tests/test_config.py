import json
from pathlib import Path

import pytest

from credtune.config import find_recipe, load_recipe, parse_value, recipe_from_dict
from credtune.errors import ConfigError
from credtune.training import training_arguments

# fine-tuning recipes; pretraining recipes (with `tables:`) are checked in test_pretrain.py
RECIPES = sorted(
    p
    for p in (Path(__file__).resolve().parents[1] / "recipes").glob("*.yaml")
    if "\ntables:" not in p.read_text()
)
BASE = {"data": {"path": "x.csv", "target": "y", "positive": 1}}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1e-5", 1e-5),
        ("3e-5", 3e-5),
        ("2.0E+3", 2000.0),
        ("5", 5),
        ("no", "no"),
        ("true", True),
        ("[a, b]", ["a", "b"]),
    ],
)
def test_parse_value(text, expected):
    value = parse_value(text)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    "raw, overrides, message",
    [
        ({**BASE, "trian": {}}, [], "unknown key 'trian' (did you mean 'train'?)"),
        (
            {**BASE, "data": {**BASE["data"], "targt": "y"}},
            [],
            "unknown key 'data.targt' (did you mean 'target'?)",
        ),
        (BASE, ["model.max_length=abc"], "model.max_length: expected a number, got 'abc'"),
        (BASE, ["model.max_length=1.5"], "expected a whole number"),
        (BASE, ["serialize.template=compct"], "did you mean 'compact'"),
        (BASE, ["calibration=platt2"], "'platt2' is not one of"),
        (BASE, ["train.per_device_train_batch_size=-4"], "must be positive"),
        (BASE, ["data.split.test=0.95"], "data.split.test"),
        (BASE, ["baselines=[xgboost]"], "unknown baseline 'xgboost'"),
        (BASE, ["model.trust_remote_code=yes"], "expected true or false"),
        (BASE, ["novalue"], "not of the form key.sub=value"),
    ],
)
def test_bad_recipes(raw, overrides, message):
    with pytest.raises(ConfigError) as err:
        recipe_from_dict(raw, overrides)
    assert message in str(err.value)


def test_overrides_and_train_section_pass_through():
    recipe = recipe_from_dict(
        BASE, ["train.learning_rate=3e-5", "model.name=/some/model", "lora.r=4", "seed=7"]
    )
    assert recipe.train == {"learning_rate": 3e-5}
    assert recipe.model.name == "/some/model"
    assert recipe.lora is not None and recipe.lora.r == 4 and recipe.lora.alpha == 16
    assert recipe.seed == 7


def test_train_section_reaches_training_arguments(tmp_path):
    recipe = recipe_from_dict(BASE, ["train.learning_rate=3e-5", "train.lr_scheduler_type=cosine"])
    args = training_arguments(recipe, tmp_path)
    assert args.learning_rate == 3e-5 and args.lr_scheduler_type == "cosine" and args.seed == 42


def test_unknown_train_key_has_hint(tmp_path):
    recipe = recipe_from_dict(BASE, ["train.learning_rat=1e-4"])
    with pytest.raises(ConfigError, match="did you mean 'learning_rate'"):
        training_arguments(recipe, tmp_path)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_shipped_recipes_load_and_start_with_question_and_command(path):
    recipe = load_recipe(path)
    head = path.read_text().splitlines()[:2]
    assert head[0].startswith("# Question:") and head[1].startswith("# Command: credtune")
    assert recipe.data.target and recipe.name == path.stem


def test_find_recipe_by_name():
    assert find_recipe("german_credit").name == "german_credit.yaml"
    with pytest.raises(ConfigError, match="recipe not found"):
        find_recipe("no_such_recipe")


def test_extends_keeps_parent_data_path_relative_to_parent(tmp_path):
    child_dir = tmp_path / "nested"
    child_dir.mkdir()
    child = child_dir / "variant.yaml"
    child.write_text(
        f"extends: {RECIPES[0].parent / 'german_credit.yaml'}\ntrain:\n  learning_rate: 1.0e-4\n"
    )
    recipe = load_recipe(child)
    from credtune.config import resolve_data_path

    assert resolve_data_path(recipe).resolve() == (RECIPES[0].parent.parent / "data" / "german_credit.csv")
    parent = load_recipe(RECIPES[0].parent / "german_credit.yaml")
    assert recipe.train == {**parent.train, "learning_rate": 1e-4} and recipe.serialize.numbers == "banded"
    assert recipe.name == "variant"


def test_a_minimal_recipe_gets_the_measured_defaults(tmp_path: Path):
    """What every shipped frozen recipe repeated is the default: the encoder frozen and run once,
    the mean of its states, numbers with their bands, the larger step and more epochs of a head."""
    recipe = recipe_from_dict(BASE)
    assert (recipe.model.trained_layers(recipe.lora), recipe.model.pooling, recipe.serialize.numbers) == (
        0,
        "auto",
        "banded",
    )
    args = training_arguments(recipe, tmp_path)
    assert (args.learning_rate, args.num_train_epochs) == (1e-3, 10)
    tuned = recipe_from_dict(BASE, ["train.learning_rate=3e-4"])
    assert training_arguments(tuned, tmp_path).learning_rate == 3e-4
    full = recipe_from_dict(BASE, ["model.train_layers=null"])
    args = training_arguments(full, tmp_path)
    assert (args.learning_rate, args.num_train_epochs) == (5e-5, 4)


def test_lora_trains_every_layer_unless_told_otherwise():
    for overrides, layers in ([[], 0], [["lora.r=4"], None], [["lora.r=4", "model.train_layers=2"], 2]):
        recipe = recipe_from_dict(BASE, overrides)
        assert recipe.model.trained_layers(recipe.lora) == layers
    with pytest.raises(ConfigError, match="leaves no layer for LoRA"):
        recipe_from_dict(BASE, ["lora.r=4", "model.train_layers=0"])
    with pytest.raises(ConfigError, match="must be 0 or more, null or auto, got 'all'"):
        recipe_from_dict(BASE, ["model.train_layers=all"])


@pytest.mark.parametrize(
    "task, overrides, expected",
    [
        ("binary", [], ["logistic", "lightgbm"]),
        ("binary", ["baselines=[logistic, scorecard]"], ["logistic", "scorecard"]),
        ("binary", ["baselines=[]"], []),
        ("binary", ["model.hybrid=[]"], []),
        ("binary", ["model.hybrid=[lightgbm]"], ["lightgbm"]),
        ("multiclass", [], []),
        ("regression", [], []),
    ],
)
def test_the_default_hybrid_is_the_baselines_for_a_default_target(task, overrides, expected):
    """`model.hybrid: null` (the default) ships the transformer stacked with every baseline when
    the target is a default (binary) one, and the transformer alone otherwise."""
    from credtune.targets import settle_task

    raw = {"data": {"path": "x.csv", "target": "y"}}
    recipe = recipe_from_dict(raw, overrides)
    settle_task(recipe, task)
    assert recipe.model.hybrid == expected


FITS = "fits a student of each token's feed-forward map of a frozen encoder in closed form"
FITS_MEAN = "fits the head of a frozen encoder in closed form"
TRAINS_HEAD = "trains the head on a frozen encoder at lr 0.001 for 10 epochs"
HYBRID = "ships the hybrid of transformer, logistic, lightgbm"


@pytest.mark.parametrize(
    "task, overrides, expected",
    [
        ("binary", [], f"{FITS}; {HYBRID}, its weights from cross-fitted predictions"),
        ("binary", ["model.hybrid_fit=validation"], f"{FITS}; {HYBRID}"),
        ("binary", ["model.hybrid=[]"], f"{FITS}; ships the transformer alone"),
        ("binary", ["model.pooling=mean", "model.hybrid=[]"], f"{FITS_MEAN}; ships the transformer alone"),
        ("binary", ["model.head=trained"], f"{TRAINS_HEAD}; {HYBRID}"),
        ("binary", ["train_loss=weighted"], f"{TRAINS_HEAD}; {HYBRID}"),
        ("multiclass", [], f"{TRAINS_HEAD}; ships the transformer alone"),
        ("binary", ["model.train_layers=null"], f"trains every layer at lr 5e-05 for 4 epochs; {HYBRID}"),
        (
            "binary",
            ["model.train_layers=2", "train.max_steps=30", "baselines=[scorecard]"],
            "trains the top 2 layers at lr 5e-05 for 30 steps; ships the hybrid of transformer, scorecard",
        ),
        ("binary", ["lora.r=4", "train.learning_rate=5e-4"], f"trains LoRA (r=4) on every layer at lr 0.0005 for 4 epochs; {HYBRID}"),
    ],
)  # fmt: skip
def test_validate_says_what_auto_and_the_defaults_will_train(task, overrides, expected):
    """`credtune validate` states the plan with every `auto` settled, before anything is trained."""
    from credtune.api import plan
    from credtune.targets import settle_task

    recipe = recipe_from_dict({"data": {"path": "x.csv", "target": "y"}}, overrides)
    settle_task(recipe, task)
    assert plan(recipe, task) == expected


@pytest.mark.parametrize(
    "config, expected",
    [
        ({"model_type": "bert"}, FITS),
        ({"model_type": "bert", "credtune_pooling": "mean"}, FITS_MEAN),  # a mean-pooled folder stays so
        ({"model_type": "bert", "credtune_pooling": "ffn"}, FITS),  # an ffn folder fine-tuned again
        ({"model_type": "deberta-v2"}, FITS_MEAN),  # no BERT layers for the ffn one
        ({"model_type": "llama"}, TRAINS_HEAD),
    ],
)
def test_validate_reads_the_head_from_the_backbone_config(tmp_path, config, expected):
    """`model.head: auto` is fitted in closed form only where the classifier has BERT's kind of head,
    and `model.pooling: auto` adds the ffn student only on BERT's kind of layers."""
    from credtune.api import plan

    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    recipe = recipe_from_dict({"data": {"path": "x.csv", "target": "y"}, "model": {"name": str(tmp_path)}})
    assert plan(recipe, "binary").startswith(expected)
