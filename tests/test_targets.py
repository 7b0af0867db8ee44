"""Target kinds: `data.task` inferred or declared, labels per kind, and every bad target refused."""

import numpy as np
import pandas as pd
import pytest

from credtune import data as data_mod
from credtune.config import DataConfig, recipe_from_dict
from credtune.errors import ConfigError, DataError
from credtune.targets import infer_task

GRADES = ["A", "B", "C"]


def _table(tmp_path, target):
    n = len(target)
    frame = pd.DataFrame({"x": np.arange(n) % 7, "c": ["u", "v"] * (n // 2), "y": target})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "settings, values, task",
    [
        ({"positive": "bad"}, ["bad", "good"], "binary"),
        ({"classes": ["A", "B", "C"]}, ["A", "B", "C"], "multiclass"),
        ({}, ["A", "B", "C", "D"], "multiclass"),
        ({}, [0.5, 1.25, 3.0], "regression"),
        ({}, list(range(50)), "regression"),
        ({"task": "multiclass"}, [1, 2, 3], "multiclass"),
    ],
)
def test_task_is_inferred_when_unambiguous(settings, values, task):
    assert infer_task(DataConfig(target="y", **settings), values) == task


@pytest.mark.parametrize("values", [[0, 1, 2, 1], ["yes", "no"]])
def test_ambiguous_target_asks_for_a_task(values):
    with pytest.raises(DataError, match="data.task"):
        infer_task(DataConfig(target="y"), values)


def test_multiclass_labels_follow_the_listed_order(tmp_path):
    path = _table(tmp_path, ["C", "A", "B", "A"] * 10)
    cfg = DataConfig(path=str(path), target="y", classes=["C", "B", "A"], ordered=True)
    table, target = data_mod.load_labelled(cfg, path)
    assert target.task == "multiclass" and target.names == ("C", "B", "A") and target.ordered
    assert table["labels"][:4] == [0, 2, 1, 2]


def test_regression_scale_comes_from_the_training_rows(tmp_path):
    values = [float(v) for v in range(40)]
    path = _table(tmp_path, values)
    recipe = recipe_from_dict({"data": {"path": str(path), "target": "y"}, "baselines": []})
    prep = data_mod.prepare(recipe)
    train = np.asarray(values)[prep.splits["train"]]
    assert prep.task == "regression" and prep.schema["label_names"] == ["y"]
    assert prep.schema["target_scale"] == pytest.approx({"mean": train.mean(), "std": train.std()})
    assert prep.schema["positive"] is None


@pytest.mark.parametrize(
    "settings, target, message",
    [
        ({"task": "regression"}, ["low", "high"] * 20, "non-number value"),
        ({"task": "regression"}, [1.0, float("inf")] * 20, "infinite"),
        ({"task": "regression"}, [3.0] * 40, "single value"),
        ({"task": "binary", "positive": "A"}, ["A", "B", "C", "A"] * 10, "takes two"),
        ({"classes": ["A", "B", "C", "D"]}, ["A", "B", "C", "A"] * 10, "never occur"),
        ({"classes": ["A", "B", "C"]}, ["A", "B", "C", "E"] * 10, "not in data.classes"),
        ({"task": "multiclass"}, ["A", "B"] * 20, "three or more"),
        ({"task": "multiclass", "positive": "A"}, ["A", "B", "C", "A"] * 10, "binary target"),
        ({"task": "regression", "classes": ["A"]}, [1.0, 2.0] * 20, "has none"),
    ],
)
def test_bad_targets_are_one_clear_line(tmp_path, settings, target, message):
    path = _table(tmp_path, target)
    with pytest.raises(DataError, match=message):
        data_mod.load_labelled(DataConfig(path=str(path), target="y", **settings), path)


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"model": {"hybrid": ["logistic"]}, "baselines": ["logistic"]}, "model.hybrid"),
        ({"distill": {}}, "distill"),
        ({"train_loss": "weighted"}, "train_loss"),
        ({"baselines": ["scorecard"]}, "scorecard"),
        ({"calibration": "platt"}, "does not apply"),
    ],
)
def test_binary_only_options_are_refused_for_other_kinds(extra, message):
    with pytest.raises(ConfigError, match=message):
        recipe_from_dict({"data": {"path": "x.csv", "target": "y", "task": "multiclass"}, **extra})


def test_regression_calibration_choices():
    base = {"data": {"path": "x.csv", "target": "y", "task": "regression"}}
    assert recipe_from_dict({**base, "calibration": "isotonic"}).calibration == "isotonic"
    with pytest.raises(ConfigError, match="linear, isotonic, none"):
        recipe_from_dict({**base, "calibration": "temperature"})


def test_shipped_split_column_is_used_and_never_serialized(tmp_path):
    frame = pd.DataFrame(
        {"x": np.arange(60) % 9, "y": ["A", "B", "C"] * 20, "part": ["train"] * 45 + ["test"] * 15}
    )
    path = tmp_path / "s.csv"
    frame.to_csv(path, index=False)
    recipe = recipe_from_dict(
        {"data": {"path": str(path), "target": "y", "split": {"column": "part"}}, "baselines": []}
    )
    prep = data_mod.prepare(recipe)
    assert sorted(prep.splits["test"]) == list(range(45, 60))
    assert len(prep.splits["valid"]) and set(prep.splits["valid"]) < set(range(45))
    assert "part" not in prep.serializer.columns
    frame["part"] = frame["part"].replace({"test": "holdout"})
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match="train, valid or test"):
        data_mod.prepare(recipe)


@pytest.mark.parametrize(
    "task, calibration, head, method",
    [
        ("binary", "auto", "fitted", "none"),  # a closed-form head outputs log-odds already
        ("binary", "auto", "trained", "temperature"),
        ("binary", "auto", "auto", "temperature"),  # not yet settled against the model
        ("binary", "platt", "fitted", "platt"),  # the recipe's own choice stands
        ("multiclass", "auto", "trained", "temperature"),
        ("regression", "auto", "trained", "linear"),
    ],
)
def test_calibration_auto_follows_the_head(task, calibration, head, method):
    from credtune.targets import calibration_method

    recipe = recipe_from_dict(
        {
            "data": {"path": "x.csv", "target": "y", "task": task},
            "calibration": calibration,
            "model": {"head": head},
        }
    )
    assert calibration_method(recipe, task) == method


@pytest.mark.parametrize(
    "task, fit, head, method",
    [
        ("binary", "auto", "fitted", "crossfit"),  # refitting a closed-form head per fold is cheap
        ("binary", "auto", "trained", "validation"),  # the Trainer would train k + 1 times
        ("binary", "auto", "auto", "validation"),  # not yet settled against the model
        ("multiclass", "auto", "trained", "validation"),  # no hybrid for classes
        ("binary", "validation", "fitted", "validation"),  # the recipe's own choice stands
        ("binary", "crossfit", "fitted", "crossfit"),
    ],
)
def test_hybrid_fit_auto_follows_the_head(task, fit, head, method):
    from credtune.targets import hybrid_fit_method

    recipe = recipe_from_dict(
        {"data": {"path": "x.csv", "target": "y", "task": task}, "model": {"head": head, "hybrid_fit": fit}}
    )
    assert hybrid_fit_method(recipe, task) == method
