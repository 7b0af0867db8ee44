"""Bad input, one clear ValueError line each: unknown names, unfittable data, damaged or edited files."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from baseline_data import CATEGORICAL, NUMERIC, TEXT, installed, make_data

from credtune.baselines import BaselineFileError, fit_component, load_component

TRAIN, Y = make_data(400, 20, notes=True)


def _one_line(error: pytest.ExceptionInfo) -> None:
    assert isinstance(error.value, ValueError) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("xgboost", {}, "unknown baseline"),
        (
            "scorecard",
            {"numeric": [], "categorical": [], "text": TEXT},
            "no numeric or categorical column to bin",
        ),
        ("scorecard", {"numeric": ["constant"], "categorical": []}, "scorecard: no usable column"),
        ("logistic", {"numeric": [], "categorical": [], "text": ["rare_words"]}, "no usable feature columns"),
        ("lightgbm", {"numeric": ["nope"]}, "not in the training data"),
        ("lightgbm", {"y": np.full(400, 2)}, "both classes"),
        ("catboost", {"train_df": TRAIN.to_dict()}, "must be a pandas DataFrame"),
        ("kernel", {"numeric": [], "categorical": [], "text": TEXT}, "kernel: needs numeric or categorical"),
    ],
)
def test_cannot_fit(name: str, kwargs: dict, match: str) -> None:
    if not installed(name):
        pytest.skip(f"{name} is not installed")
    train = TRAIN.assign(constant=1.0, rare_words=[f"word{i}" for i in range(len(TRAIN))])
    args = {"train_df": train, "y": Y, "numeric": NUMERIC, "categorical": CATEGORICAL, "text": (), **kwargs}
    with pytest.raises(ValueError, match=match) as error:
        fit_component(name, **args)
    _one_line(error)


@pytest.mark.parametrize(("name", "module"), [("catboost", "catboost"), ("scorecard", "optbinning")])
def test_missing_optional_package(monkeypatch: pytest.MonkeyPatch, name: str, module: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    with pytest.raises(ValueError, match=f"pip install {module}") as error:
        fit_component(name, TRAIN, Y, NUMERIC, CATEGORICAL)
    _one_line(error)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict]]:
    folder = tmp_path_factory.mktemp("saved")
    metas = {}
    for name in ("logistic", "scorecard", "lightgbm", "catboost", "kernel"):
        if installed(name):
            component = fit_component(name, TRAIN, Y, NUMERIC, CATEGORICAL, TEXT, n_jobs=1)
            metas[name] = component.save(folder)
    return folder, metas


def _rewrite(file: str, edit: Callable[[bytes], bytes], rehash: bool = True) -> Callable[[Path, dict], None]:
    """Edit a saved file; with ``rehash`` also record its new hash, as if meta had been edited to match."""

    def apply(folder: Path, meta: dict) -> None:
        path = folder / file
        path.write_bytes(edit(path.read_bytes()))
        if rehash:
            meta["sha256"][file] = hashlib.sha256(path.read_bytes()).hexdigest()

    return apply


def _json_edit(change: Callable[[dict], None]) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        obj = json.loads(data)
        change(obj)
        return json.dumps(obj).encode()

    return edit


def _meta(change: Callable[[dict], None]) -> Callable[[Path, dict], None]:
    return lambda folder, meta: change(meta)


CASES = [
    (
        "logistic",
        "params file missing",
        lambda f, m: (f / "logistic.json").unlink(),
        "logistic.json is missing",
    ),
    ("lightgbm", "model file missing", lambda f, m: (f / "lightgbm.txt").unlink(), "lightgbm.txt is missing"),
    (
        "lightgbm",
        "truncated model",
        _rewrite("lightgbm.txt", lambda b: b[: len(b) // 2], False),
        "does not match the hash",
    ),
    (
        "catboost",
        "edited model",
        _rewrite("catboost.model.json", lambda b: b.replace(b"1", b"2"), False),
        "does not match",
    ),
    ("logistic", "invalid JSON", _rewrite("logistic.json", lambda b: b[:-10]), "not valid JSON"),
    (
        "logistic",
        "NaN in JSON",
        _rewrite("logistic.json", lambda b: b.replace(b'"intercept":', b'"intercept":NaN,"x":')),
        "not valid JSON",
    ),
    (
        "logistic",
        "short coefficients",
        _rewrite("logistic.json", _json_edit(lambda o: o["coef"].pop())),
        "coef: expected shape",
    ),
    (
        "logistic",
        "text as number",
        _rewrite("logistic.json", _json_edit(lambda o: o.update(medians="7"))),
        "medians: expected numbers",
    ),
    ("logistic", "JSON not an object", _rewrite("logistic.json", lambda b: b"[1, 2]"), "expected dict"),
    (
        "logistic",
        "idf shape",
        _rewrite("logistic.json", _json_edit(lambda o: o["text"][0]["idf"].pop())),
        "idf: expected shape",
    ),
    (
        "logistic",
        "other tokenizer",
        _rewrite("logistic.json", _json_edit(lambda o: o["text"][0].update(lowercase=False))),
        "lowercase",
    ),
    (
        "scorecard",
        "splits out of order",
        _rewrite("scorecard.json", _json_edit(lambda o: o["variables"][0]["splits"].reverse())),
        "not increasing",
    ),
    (
        "scorecard",
        "woe per bin",
        _rewrite("scorecard.json", _json_edit(lambda o: o["variables"][0]["woe"].pop())),
        "woe: expected shape",
    ),
    ("lightgbm", "garbage model", _rewrite("lightgbm.txt", lambda b: b"hello"), "not a LightGBM model"),
    (
        "lightgbm",
        "levels per category",
        _rewrite("lightgbm.json", _json_edit(lambda o: o["levels"].pop())),
        "level lists",
    ),
    (
        "lightgbm",
        "extra column",
        _rewrite("lightgbm.json", _json_edit(lambda o: o["columns"]["numeric"].append("x"))),
        "the model has",
    ),
    (
        "catboost",
        "garbage model",
        _rewrite("catboost.model.json", lambda b: b"hello"),
        "not a CatBoost JSON model",
    ),
    (
        "catboost",
        "empty model",
        _rewrite("catboost.model.json", lambda b: b'{"a": 1}'),
        "the model has 0 features",
    ),
    (
        "catboost",
        "wrong params kind",
        _rewrite("catboost.json", _json_edit(lambda o: o.update(kind="lightgbm"))),
        "expected 'catboost'",
    ),
    (
        "logistic",
        "path outside folder",
        _meta(lambda m: m["files"].update(params="../logistic.json")),
        "not a plain file name",
    ),
    (
        "logistic",
        "unknown kind",
        _meta(lambda m: m.update(kind="xgboost")),
        "unknown baseline component kind",
    ),
    ("logistic", "newer format", _meta(lambda m: m.update(format=99)), "format 99 is not supported"),
    ("lightgbm", "roles", _meta(lambda m: m["files"].pop("model")), "expected roles"),
    ("kernel", "features file missing", lambda f, m: (f / "kernel.safetensors").unlink(), "is missing"),
    (
        "kernel",
        "truncated features",
        _rewrite("kernel.safetensors", lambda b: b[: len(b) // 2], False),
        "does not match the hash",
    ),
    (
        "kernel",
        "garbage features",
        _rewrite("kernel.safetensors", lambda b: b"hello"),
        "not a safetensors file",
    ),
    (
        "kernel",
        "fewer random features",
        _rewrite("kernel.json", _json_edit(lambda o: o.update(n_components=o["n_components"] - 1))),
        "weights: expected shape",
    ),
    (
        "kernel",
        "linear flag as text",
        _rewrite("kernel.json", _json_edit(lambda o: o.update(linear="yes"))),
        "linear: expected bool",
    ),
    (
        "kernel",
        "short coefficients",
        _rewrite("kernel.json", _json_edit(lambda o: o["coef"].pop())),
        "coef: expected shape",
    ),
    ("lightgbm", "no hashes", _meta(lambda m: m.pop("sha256")), "meta.sha256: expected dict"),
]


@pytest.mark.parametrize(("name", "case", "damage", "match"), CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_damaged_files(
    saved: tuple[Path, dict], tmp_path: Path, name: str, case: str, damage, match: str
) -> None:
    folder, metas = saved
    if name not in metas:
        pytest.skip(f"{name} is not installed")
    copy = shutil.copytree(folder, tmp_path / "copy")
    meta = json.loads(json.dumps(metas[name]))
    load_component(copy, meta)  # intact it loads
    damage(copy, meta)
    with pytest.raises(BaselineFileError, match=match) as error:
        load_component(copy, meta)
    _one_line(error)
