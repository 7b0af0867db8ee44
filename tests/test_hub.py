"""The model folder as a Hub repository: card read back, no local paths, `credtune push`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import ROOT
from credtune.cli import main
from credtune.errors import ModelError
from credtune.hub import load_card, push


@pytest.fixture
def model_copy(trained_run: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(trained_run / "model", folder)
    return folder


def test_card_reads_back_with_metrics_and_sections(trained_run: Path):
    from huggingface_hub import ModelCard

    card = ModelCard.load(trained_run / "model" / "README.md")
    assert load_card(trained_run / "model").data.to_dict() == card.data.to_dict()
    metrics = json.loads((trained_run / "metrics.json").read_text())
    spec = json.loads((trained_run / "model" / "credtune.json").read_text())
    found = {r.metric_type: r.metric_value for r in card.data.eval_results}
    for key in ("auc", "ks", "brier"):
        assert found[key] == pytest.approx(metrics[key])
    assert {r.dataset_split for r in card.data.eval_results} == {"test"}
    assert card.data.base_model == spec["base_model"]
    assert card.data.pipeline_tag == "text-classification" and "credtune" in card.data.tags
    for column in spec["schema"]["columns"]:
        assert f"`{column['name']}`" in card.text
    rows = spec["training"]["rows"]
    assert f"train: {rows['train']} rows" in card.text
    for section in (
        "## Intended use and limitations",
        "## Fairness",
        "## How to score",
        "CreditScorer.from_pretrained",
    ):
        assert section in card.text


@pytest.mark.parametrize(
    "metrics, params, says",
    [
        ({"calibration": {"method": "none"}}, None, "not recalibrated"),
        ({"calibration": {"method": "temperature"}}, None, "calibrated on the validation split"),
        (
            {"hybrid": {"components": ["lightgbm"], "weights": {"transformer": 1.0, "lightgbm": 0.5},
                        "fitted_on": "validation split (150 rows)"}},
            {"lightgbm": {"num_leaves": 7}, "catboost": {"depth": 4}},
            "`lightgbm` was fitted with num_leaves=7.",
        ),
    ],
)  # fmt: skip
def test_card_says_what_is_shipped(metrics: dict, params: dict | None, says: str):
    from credtune.hub import shipped_paragraph

    text = shipped_paragraph(metrics, params)
    assert says in text and "catboost" not in text  # only the parts shipped are described


def test_no_path_of_the_training_machine_in_the_model_folder(trained_run: Path, tiny_model: Path):
    leaks = [str(trained_run), str(trained_run.parent.parent), str(tiny_model), "/work", str(ROOT)]
    files = [p for p in (trained_run / "model").rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"config.json", "credtune.json", "README.md", "model.safetensors"}
    for path in files:
        content = path.read_bytes()
        for leak in leaks:
            assert leak.encode() not in content, f"{path.name} contains {leak}"
    config = json.loads((trained_run / "model" / "config.json").read_text())
    assert "/" not in config.get("_name_or_path", "") or not Path(config["_name_or_path"]).is_absolute()


class Recorder:
    """Stands in for the Hub: records each call's arguments, uploads nothing."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.calls: list[tuple[str, tuple, dict]] = []
        for name in ("create_repo", "create_branch", "upload_folder"):
            monkeypatch.setattr(f"huggingface_hub.HfApi.{name}", self._record(name))

    def _record(self, name: str):
        def method(api, *args, **kwargs):
            self.calls.append((name, args, kwargs))
            return "https://huggingface.co/me/german/commit/abc" if name == "upload_folder" else None

        return method

    def named(self, name: str) -> list[tuple[tuple, dict]]:
        return [(a, k) for n, a, k in self.calls if n == name]


def test_push_sends_the_folder_with_the_requested_settings(model_copy: Path, monkeypatch: pytest.MonkeyPatch):
    hub = Recorder(monkeypatch)
    result = push(model_copy, "me/german", private=True, revision="v1")
    ((args, kwargs),) = hub.named("create_repo")
    assert args == ("me/german",) and kwargs["private"] is True and kwargs["exist_ok"] is True
    ((_, branch),) = hub.named("create_branch")
    assert branch["branch"] == "v1"
    ((_, upload),) = hub.named("upload_folder")
    assert Path(upload["folder_path"]) == model_copy
    assert upload["repo_id"] == "me/german" and upload["revision"] == "v1"
    on_disk = {
        p.relative_to(model_copy).as_posix(): p.stat().st_size for p in model_copy.rglob("*") if p.is_file()
    }
    assert dict(result.files) == on_disk and result.url.endswith("/commit/abc")
    assert 'CreditScorer.from_pretrained("me/german")' in (model_copy / "README.md").read_text()


def test_push_dry_run_lists_files_and_uploads_nothing(model_copy: Path, monkeypatch, capsys):
    hub = Recorder(monkeypatch)
    assert main(["push", str(model_copy), "me/german", "--dry-run"]) == 0
    out = capsys.readouterr().out
    size = (model_copy / "model.safetensors").stat().st_size
    assert "model.safetensors" in out and f"{size:,d}" in out and "would upload" in out
    assert hub.calls == []


@pytest.mark.parametrize(
    ("change", "repo_id", "message"),
    [
        ("drop_contract", "me/german", "credtune.json"),
        ("drop_weights", "me/german", "safetensors"),
        (None, "not a valid/repo/id", "invalid repo id"),
    ],
)
def test_push_refuses(model_copy: Path, monkeypatch, change: str | None, repo_id: str, message: str):
    hub = Recorder(monkeypatch)
    if change == "drop_contract":
        (model_copy / "credtune.json").unlink()
    elif change == "drop_weights":
        (model_copy / "model.safetensors").unlink()
    with pytest.raises(ModelError, match=message):
        push(model_copy, repo_id)
    assert hub.calls == []


@pytest.mark.parametrize(
    "task, method, says",
    [
        ("binary", "none", "defaults (class `bad`), as its head outputs it."),
        ("binary", "platt", "defaults (class `bad`), calibrated with platt."),
        ("regression", "none", "predicted value as its head outputs it."),
        ("regression", "linear", "mapped by a linear calibration fitted on the validation split."),
    ],
)
def test_card_intro_names_the_calibration(task: str, method: str, says: str):
    from types import SimpleNamespace

    from credtune.hub import kind_sections

    spec = SimpleNamespace(
        calibration={"method": method}, base_model="m", task=task, schema={"target": "y"},
        label_names=["good", "bad"], points={"odds": 50, "pdo": 20}, threshold=0.3,
    )  # fmt: skip
    assert says in kind_sections(spec)["intro"]
