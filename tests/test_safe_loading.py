"""A model folder from elsewhere cannot run code: pickle weights are refused unless the user
says they trust them, remote code is off by default, and credtune.json is read as validated data."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from test_bad_inputs import run_cli_forked, setup

from credtune.config import ModelConfig, load_recipe
from credtune.contract import FILENAME, ModelSpec, load_spec, spec_from_dict
from credtune.errors import ModelError
from credtune.serialize import FieldSpec, Serializer

PICKLE_REFUSED = "holds only pickle weights (pytorch_model.bin), which can run code"


def pickle_only(source: Path, folder: Path) -> Path:
    """A copy of a model folder with its weights as pytorch_model.bin (a pickle) instead of safetensors."""
    import torch
    from safetensors.torch import load_file

    shutil.copytree(source, folder)
    for weights in folder.glob("*.safetensors"):
        torch.save(load_file(weights), folder / "pytorch_model.bin")
        weights.unlink()
    return folder


def valid_spec() -> ModelSpec:
    serializer = Serializer(
        [FieldSpec("amount", "numeric", "amount"), FieldSpec("purpose", "categorical", "purpose")]
    )
    return ModelSpec(
        schema={
            "columns": [
                {"name": "amount", "kind": "numeric", "dtype": "int64", "bands": None},
                {"name": "purpose", "kind": "categorical", "dtype": "string", "categories": ["car", "tv"]},
            ],
            "label_names": ["good", "bad"],
            "target": "creditability",
        },
        serializer=serializer.to_dict(),
        max_length=64,
        base_model="tiny-bert",
        calibration={"method": "temperature", "temperature": 1.5},
    )


@pytest.fixture(scope="module")
def pickle_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pickle_only(tiny_model, tmp_path_factory.mktemp("pickle") / "model")


@pytest.fixture(scope="module")
def scorer_folders(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A credtune model folder (tiny weights + a hand-written credtune.json), as safetensors and as pickle."""
    root = tmp_path_factory.mktemp("scorer")
    safe = root / "safe"
    shutil.copytree(tiny_model, safe)
    valid_spec().save(safe)
    return {"safe": safe, "pickle": pickle_only(safe, root / "pickle")}


@pytest.mark.parametrize(
    "extra, code, expect",
    [([], 2, PICKLE_REFUSED), (["model.allow_pickle=true"], 0, "run folder:")],
    ids=["refused", "allowed"],
)
def test_train_refuses_pickle_weights_unless_allowed(
    pickle_model: Path, tiny_overrides: list[str], tmp_path: Path, extra: list[str], code: int, expect: str
) -> None:
    setup()(tmp_path)
    out = tmp_path / "out"
    argv = ["train", str(tmp_path / "recipe.yaml"), *tiny_overrides, f"model.name={pickle_model}", *extra]
    result = run_cli_forked(*argv, "-o", str(out), cwd=tmp_path)
    assert result.returncode == code, result.stderr[-3000:]
    assert expect in result.stdout + result.stderr
    if code:
        assert "set model.allow_pickle=true" in result.stderr
        assert not out.exists()
    else:
        assert (out / "model" / "model.safetensors").is_file()  # what credtune writes is never a pickle
        assert not list((out / "model").glob("*.bin"))


def test_scorer_refuses_pickle_weights_unless_allowed(scorer_folders: dict[str, Path]) -> None:
    from credtune.scoring import CreditScorer

    with pytest.raises(ModelError, match="pickle"):
        CreditScorer.from_pretrained(scorer_folders["pickle"])
    rows = [{"amount": 1200, "purpose": "car"}, {"amount": 90, "purpose": "tv"}]
    trusted = CreditScorer.from_pretrained(scorer_folders["pickle"], allow_pickle=True).predict_proba(rows)
    safe = CreditScorer.from_pretrained(scorer_folders["safe"]).predict_proba(rows)
    assert list(trusted) == pytest.approx(list(safe))


class Loaded(Exception):
    """Raised by the patched from_pretrained once it has recorded how it was called."""


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    calls: dict[str, dict] = {}

    def recorder(name: str):
        def fake(path, *args, **kwargs):
            calls[name] = kwargs
            raise Loaded(name)

        return staticmethod(fake)

    monkeypatch.setattr(AutoModelForSequenceClassification, "from_pretrained", recorder("model"))
    monkeypatch.setattr(AutoTokenizer, "from_pretrained", recorder("tokenizer"))
    return calls


def test_remote_code_is_off_by_default(tiny_model: Path, captured: dict[str, dict]) -> None:
    from credtune.modeling import load_model, load_tokenizer

    assert load_recipe("german_credit").model.trust_remote_code is False
    cfg = ModelConfig(name=str(tiny_model))
    with pytest.raises(Loaded):
        load_tokenizer(cfg)
    with pytest.raises(Loaded):
        load_model(cfg, ["good", "bad"], tokenizer=None)
    assert captured["tokenizer"]["trust_remote_code"] is False
    assert captured["model"]["trust_remote_code"] is False
    assert captured["model"]["use_safetensors"] is True


def test_scorer_loads_without_remote_code(scorer_folders: dict[str, Path], captured: dict[str, dict]) -> None:
    from credtune.scoring import CreditScorer

    with pytest.raises(Loaded):
        CreditScorer.from_pretrained(scorer_folders["safe"])
    assert captured["tokenizer"]["trust_remote_code"] is False


def spec_dict(**changes) -> dict:
    raw = dataclasses.asdict(valid_spec())
    raw.update(changes)
    return raw


def kind_dict(schema: dict, calibration: dict | None = None) -> dict:
    """A valid spec turned into another target kind (`schema` keys replaced)."""
    raw = spec_dict()
    raw["schema"] = {**raw["schema"], **schema}
    raw["calibration"] = calibration or {"method": "none"}
    return raw


RATE = {"task": "regression", "label_names": ["rate"], "target_scale": {"mean": 12.0, "std": 4.0}}


@pytest.mark.parametrize(
    "raw, message",
    [
        (spec_dict(), None),
        ([1, 2], "expected a JSON object"),
        (spec_dict(format_version=99), "format_version 99 is not supported (this credtune reads 1)"),
        (
            {k: v for k, v in spec_dict().items() if k != "format_version"},
            "format_version None is not supported",
        ),
        (spec_dict(loader="pickle", hook="os.system"), "unknown keys ['hook', 'loader']"),
        (
            spec_dict(credtune_version="9.0.0", hybrid_v9={"stack": []}),
            "written by credtune 9.0.0 and this is credtune",
        ),
        (spec_dict(threshold=1.5), "threshold must be a probability in [0, 1], got 1.5"),
        (spec_dict(threshold="0.3"), "threshold must be a probability in [0, 1], got '0.3'"),
        ({k: v for k, v in spec_dict().items() if k != "serializer"}, "missing keys ['serializer']"),
        (
            spec_dict(calibration={"method": "pickle"}),
            "invalid calibration (unknown calibration method 'pickle'",
        ),
        (spec_dict(calibration={"method": "temperature", "temperature": -1}), "invalid calibration"),
        (spec_dict(max_length=-5), "max_length must be a positive integer"),
        (
            spec_dict(schema={"columns": "amount", "label_names": ["good", "bad"]}),
            "schema.columns must be a list",
        ),
        (spec_dict(schema={"columns": [], "label_names": ["bad"]}), "schema.label_names must list"),
        (
            spec_dict(serializer={"fields": [], "template": "yaml"}),
            "invalid serializer settings (unknown template",
        ),
        (spec_dict(serializer={"fields": [], "exec": "rm -rf /"}), "invalid serializer settings"),
        (kind_dict({"task": "multiclass", "label_names": ["A", "B", "C"]}), None),
        (kind_dict(RATE, {"method": "linear", "slope": 1.1, "intercept": -0.3}), None),
        (kind_dict({"task": "ranking"}), "schema.task 'ranking' is not one of"),
        (kind_dict({"task": "multiclass", "label_names": ["A", "B"]}), "three or more distinct classes"),
        (kind_dict({"task": "multiclass", "label_names": ["A", "B", "A"]}), "three or more distinct classes"),
        (kind_dict({**RATE, "target_scale": {"mean": 1.0, "std": 0.0}}), "positive std"),
        (kind_dict({"task": "regression", "label_names": ["rate"]}), "target_scale must hold"),
        (kind_dict(RATE, {"method": "temperature", "temperature": 2.0}), "invalid calibration"),
        (
            kind_dict(
                {"task": "multiclass", "label_names": ["A", "B", "C"]}, {"method": "platt", "a": 1, "b": 0}
            ),
            "invalid calibration",
        ),
    ],
    ids=[
        "valid",
        "not-an-object",
        "future-format-version",
        "no-format-version",
        "unknown-keys",
        "newer-writer-with-unknown-keys",
        "threshold-above-one",
        "threshold-not-a-number",
        "missing-serializer",
        "unknown-calibration-method",
        "negative-temperature",
        "negative-max-length",
        "columns-not-a-list",
        "one-label",
        "unknown-template",
        "serializer-unknown-setting",
        "valid-multiclass",
        "valid-regression",
        "unknown-task",
        "multiclass-two-classes",
        "multiclass-repeated-class",
        "regression-zero-spread",
        "regression-no-scale",
        "regression-with-temperature",
        "multiclass-with-platt",
    ],
)
def test_credtune_json_is_validated(raw, message: str | None) -> None:
    if message is None:
        assert spec_from_dict(raw).max_length == 64
        return
    with pytest.raises(ModelError) as info:
        spec_from_dict(raw, "model/credtune.json")
    assert str(info.value).startswith("model/credtune.json: ") and message in str(info.value)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (None, "has no credtune.json"),
    ],
    ids=["malformed", "not-utf8", "missing"],
)
def test_credtune_json_file_is_read_as_data(tmp_path: Path, content: bytes | None, message: str) -> None:
    if content is not None:
        (tmp_path / FILENAME).write_bytes(content)
    with pytest.raises(ModelError, match=message):
        load_spec(tmp_path)


def test_saved_spec_round_trips(tmp_path: Path) -> None:
    spec = valid_spec()
    spec.save(tmp_path)
    assert load_spec(tmp_path) == spec
    assert json.loads((tmp_path / FILENAME).read_text())["format_version"] == 1
