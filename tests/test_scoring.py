"""CreditScorer and `credtune score` on the session's tiny German credit run."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import GERMAN
from credtune.cli import main
from credtune.contract import load_spec
from credtune.errors import CredtuneError, DataError, ModelError
from credtune.runs.batch import score_file
from credtune.scoring import CreditScorer

NOTE = "notes"


@pytest.fixture(scope="module")
def model_dir(trained_run: Path) -> Path:
    return trained_run / "model"


@pytest.fixture(scope="module")
def scorer(model_dir: Path) -> CreditScorer:
    return CreditScorer.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def german() -> pd.DataFrame:
    return pd.read_csv(GERMAN).head(24)


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 German rows: enough for several chunks, small enough to score in a second."""
    path = tmp_path_factory.mktemp("input") / "applicants.csv"
    pd.read_csv(GERMAN).head(120).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def notes_model(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained folder with a free-text `notes` field added to its contract (the German data has none)."""
    folder = tmp_path_factory.mktemp("notes") / "model"
    shutil.copytree(model_dir, folder)
    raw = json.loads((folder / "credtune.json").read_text())
    raw["schema"]["columns"].append({"name": NOTE, "kind": "text", "dtype": "string"})
    raw["serializer"]["fields"].append({"name": NOTE, "kind": "text", "label": "notes", "bands": None})
    raw["max_length"] = 192  # room for ~60 note tokens after the German fields
    (folder / "credtune.json").write_text(json.dumps(raw))
    load_spec(folder)
    return folder


def test_agrees_with_plain_transformers_and_pipeline(
    model_dir: Path, scorer: CreditScorer, german: pd.DataFrame
):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    texts = scorer.texts(scorer.records(german.head(12)))
    ours = 1 / (1 + np.exp(-scorer.margins_for_texts(texts)))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    with torch.inference_mode():
        enc = tokenizer(
            texts, padding=True, truncation=True, max_length=scorer.spec.max_length, return_tensors="pt"
        )
        plain = torch.softmax(model(**enc).logits, dim=-1)[:, 1].numpy()
    positive = model.config.id2label[1]
    pipe = pipeline("text-classification", model=str(model_dir), device="cpu", top_k=None)
    piped = np.array([next(s["score"] for s in out if s["label"] == positive) for out in pipe(texts)])
    np.testing.assert_allclose(ours, plain, atol=1e-5)
    np.testing.assert_allclose(ours, piped, atol=1e-5)


def test_input_types_give_identical_output(scorer: CreditScorer, german: pd.DataFrame):
    import datasets

    frame = scorer.predict_proba(german)
    as_dicts = scorer.predict_proba(german.to_dict("records"))
    as_dataset = scorer.predict_proba(datasets.Dataset.from_pandas(german))
    assert frame.shape == (len(german),)
    np.testing.assert_array_equal(frame, as_dicts)
    np.testing.assert_array_equal(frame, as_dataset)
    assert ((frame > 0) & (frame < 1)).all()


def test_order_is_restored_whatever_the_batch(scorer: CreditScorer, german: pd.DataFrame):
    batched, before = scorer.predict_margin(german.head(10)), scorer.batch_size
    scorer.batch_size = 1
    try:
        one_by_one = scorer.predict_margin(german.head(10))
    finally:
        scorer.batch_size = before
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_points_and_decisions_follow_the_contract(scorer: CreditScorer, german: pd.DataFrame):
    from credtune.metrics import pd_to_points

    pd_ = scorer.predict_proba(german)
    p = scorer.spec.points
    np.testing.assert_allclose(scorer.score(german), pd_to_points(pd_, p["base"], p["odds"], p["pdo"]))
    expected = np.where(pd_ < scorer.spec.threshold, "approve", "decline")
    np.testing.assert_array_equal(scorer.decide(german), expected)


def test_missing_column_is_named(scorer: CreditScorer, german: pd.DataFrame):
    with pytest.raises(DataError, match="credit_history.*purpose|purpose.*credit_history"):
        scorer.predict_proba(german.drop(columns=["credit_history", "purpose"]))


def test_unseen_categories_missing_values_and_extra_columns(scorer: CreditScorer, german: pd.DataFrame):
    odd = german.head(3).copy()
    odd["purpose"] = "spaceship"
    odd["credit_amount"] = np.nan
    odd["not_a_model_column"] = 1
    text = scorer.texts(scorer.records(odd))[0]
    assert "purpose: spaceship" in text and f"amount: {scorer.serializer.missing}" in text
    assert np.isfinite(scorer.predict_proba(odd)).all()


def test_a_huge_note_is_cut_before_it_is_tokenized(notes_model: Path, german: pd.DataFrame):
    scorer = CreditScorer.from_pretrained(notes_model)
    real, seen = scorer.tokenizer, []

    class Spy:
        def __getattr__(self, name):
            return getattr(real, name)

        def __call__(self, text, **kwargs):
            seen.append(max(len(t) for t in ([text] if isinstance(text, str) else text)))
            return real(text, **kwargs)

    rows = german.head(2).assign(notes=["word " * 20_000, "short note"])  # 100 kB and 10 bytes
    scorer.tokenizer = Spy()
    texts = scorer.texts(scorer.records(rows))
    assert max(seen) < 20 * scorer.spec.max_length  # never the 100 kB note itself
    ids = real(texts[0])["input_ids"]
    assert len(ids) == scorer.spec.max_length  # the note filled the budget exactly
    assert np.isfinite(scorer.predict_proba(rows)).all()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no_contract", "credtune.json"),
        ("pickle_only", "pickle"),
        ("no_weights", "no model weights"),
    ],
)
def test_unsafe_or_incomplete_folders_are_refused(model_dir: Path, tmp_path: Path, setup: str, message: str):
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    if setup == "no_contract":
        (folder / "credtune.json").unlink()
    else:
        (folder / "model.safetensors").unlink()
    if setup == "pickle_only":
        (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ModelError, match=message):
        CreditScorer.from_pretrained(folder)


def test_pickle_weights_load_when_allowed(
    model_dir: Path, scorer: CreditScorer, tmp_path: Path, german: pd.DataFrame
):
    import torch

    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    torch.save(scorer.model.state_dict(), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    loaded = CreditScorer.from_pretrained(folder, allow_pickle=True)
    np.testing.assert_allclose(loaded.predict_margin(german), scorer.predict_margin(german), atol=1e-6)


def test_a_repo_id_is_fetched_without_pickle_files(model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    calls = []

    def fake_download(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        return str(model_dir)

    monkeypatch.setattr("huggingface_hub.snapshot_download", fake_download)
    CreditScorer.from_pretrained("someone/german-credit")
    assert calls[0][0] == "someone/german-credit"
    assert "*.bin" in calls[0][1]["ignore_patterns"]


# -- `credtune score` ---------------------------------------------------------------------------
def _score(*args: str) -> int:
    return main(["score", *map(str, args)])


def test_score_cli_csv_to_parquet_and_csv(
    model_dir: Path, scorer: CreditScorer, small_csv: Path, tmp_path: Path
):
    out = tmp_path / "scores.parquet"
    assert _score(model_dir, small_csv, "-o", out, "--chunk-rows", 50, "--batch-size", 32) == 0
    scored = pd.read_parquet(out)
    full = pd.read_csv(small_csv)
    assert list(scored.columns) == ["row", "pd", "points", "decision"]
    assert scored["row"].tolist() == list(range(len(full)))
    np.testing.assert_allclose(scored["pd"], scorer.predict_proba(full), atol=1e-6)
    assert scored["pd"].between(0, 1).all() and set(scored["decision"]) <= {"approve", "decline"}
    assert not list(tmp_path.glob(".*"))  # the part folder is gone

    as_csv = tmp_path / "scores.csv"
    assert _score(model_dir, small_csv, "-o", as_csv) == 0
    np.testing.assert_allclose(pd.read_csv(as_csv)["pd"], scored["pd"], atol=1e-6)


def test_score_cli_refuses_to_overwrite(model_dir: Path, small_csv: Path, tmp_path: Path, capsys):
    out = tmp_path / "scores.parquet"
    assert _score(model_dir, small_csv, "-o", out) == 0
    first = out.read_bytes()
    assert _score(model_dir, small_csv, "-o", out) == 2
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == first
    assert _score(model_dir, small_csv, "-o", out, "--overwrite") == 0
    assert len(pd.read_parquet(out)) == 120


def test_score_cli_names_a_missing_column(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    src = tmp_path / "in.csv"
    pd.read_csv(GERMAN).head(5).drop(columns=["housing"]).to_csv(src, index=False)
    assert _score(model_dir, src, "-o", tmp_path / "out.parquet") == 2
    assert "housing" in capsys.readouterr().err
    assert not (tmp_path / "out.parquet").exists()


def test_score_survives_a_huge_note_and_bad_bytes(notes_model: Path, tmp_path: Path):
    rows = pd.read_csv(GERMAN).head(6).assign(notes="ok", extra_column="ignored")
    rows.loc[2, NOTE] = "x" * 100_000
    src = tmp_path / "in.csv"
    rows.to_csv(src, index=False)
    raw = src.read_bytes().replace(b"radio/television", b"radio\xff\xfetelevision", 1)
    src.write_bytes(raw)
    out = tmp_path / "out.parquet"
    assert _score(notes_model, src, "-o", out, "--chunk-rows", 4) == 0
    assert len(pd.read_parquet(out)) == 6


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_score_other_inputs_with_an_id_column(
    model_dir: Path, scorer: CreditScorer, tmp_path: Path, fmt: str
):
    rows = pd.read_csv(GERMAN).head(25)
    rows.insert(0, "applicant", [f"A{i:03d}" for i in range(len(rows))])
    src = tmp_path / f"in.{fmt}"
    rows.to_parquet(src) if fmt == "parquet" else rows.to_json(src, orient="records", lines=True)
    out = score_file(
        model_dir, src, tmp_path / "out.parquet", chunk_rows=10, id_column="applicant", progress=False
    )
    scored = pd.read_parquet(out.output)
    assert scored["applicant"].tolist() == rows["applicant"].tolist() and out.rows == out.scored == 25
    np.testing.assert_allclose(scored["pd"], scorer.predict_proba(rows), atol=1e-6)


def test_resume_skips_the_chunks_already_written(
    model_dir: Path, small_csv: Path, tmp_path: Path, monkeypatch
):
    out, calls = tmp_path / "scores.parquet", []
    real = CreditScorer.predict_proba

    def crash_on_third_chunk(self, rows):
        calls.append(len(rows))
        if len(calls) == 3:
            raise KeyboardInterrupt  # the machine went away mid-run
        return real(self, rows)

    monkeypatch.setattr(CreditScorer, "predict_proba", crash_on_third_chunk)
    assert _score(model_dir, small_csv, "-o", out, "--chunk-rows", 35) == 130
    parts = tmp_path / ".scores.parquet.parts"
    assert not out.exists()
    assert sorted(p.name for p in parts.glob("part-*")) == ["part-000000.parquet", "part-000001.parquet"]

    calls.clear()
    assert _score(model_dir, small_csv, "-o", out, "--chunk-rows", 35, "--resume") == 0
    assert calls == [35, 15]  # only the third and fourth chunks were scored again
    scorer = CreditScorer.from_pretrained(model_dir)
    np.testing.assert_allclose(pd.read_parquet(out)["pd"], real(scorer, pd.read_csv(small_csv)), atol=1e-6)
    assert not parts.exists()


def test_resume_refuses_parts_of_another_run(model_dir: Path, small_csv: Path, tmp_path: Path, monkeypatch):
    scorer = CreditScorer.from_pretrained(model_dir)
    monkeypatch.setattr(scorer, "predict_proba", lambda rows: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        score_file(scorer, small_csv, tmp_path / "s.parquet", chunk_rows=50, progress=False)
    with pytest.raises(CredtuneError, match="chunk_rows"):
        score_file(scorer, small_csv, tmp_path / "s.parquet", chunk_rows=40, resume=True, progress=False)


def test_no_threshold_means_no_decision_column(scorer: CreditScorer, small_csv: Path, tmp_path: Path):
    bare = CreditScorer(scorer.model, scorer.tokenizer, dataclasses.replace(scorer.spec, threshold=None))
    result = score_file(bare, small_csv, tmp_path / "s.csv", progress=False)
    assert list(pd.read_csv(result.output).columns) == ["row", "pd", "points"]
    with pytest.raises(ModelError, match="threshold"):
        bare.decide(pd.read_csv(small_csv).head(2))


def test_save_pretrained_round_trip(scorer: CreditScorer, german: pd.DataFrame, tmp_path: Path):
    """One object saves what it loaded: weights, tokenizer, credtune.json and the card."""
    scorer.save_pretrained(tmp_path / "copy")
    names = {p.name for p in (tmp_path / "copy").iterdir()}
    assert {"config.json", "model.safetensors", "credtune.json", "README.md"} <= names
    assert not any(n.endswith((".bin", ".pkl", ".pt")) for n in names)
    again = CreditScorer.from_pretrained(tmp_path / "copy")
    np.testing.assert_allclose(again.predict_proba(german), scorer.predict_proba(german), atol=1e-7)
    assert "ROC AUC" in (tmp_path / "copy" / "README.md").read_text()  # the training card came along


def test_push_to_hub_uploads_the_saved_folder(scorer: CreditScorer, monkeypatch: pytest.MonkeyPatch):
    """`push_to_hub` (from huggingface_hub.ModelHubMixin) saves into a temporary folder and uploads it."""
    import huggingface_hub.hub_mixin as mixin

    calls: dict[str, object] = {}

    class RecordingApi:
        def __init__(self, token=None):
            calls["token"] = token

        def create_repo(self, repo_id, private=None, exist_ok=False):
            calls["repo"] = (repo_id, private, exist_ok)
            return type("Url", (), {"repo_id": repo_id})()

        def upload_folder(self, *, repo_id, folder_path, **kwargs):
            calls["files"] = sorted(p.name for p in Path(folder_path).iterdir())
            return "https://hub.example/commit/1"

    monkeypatch.setattr(mixin, "HfApi", RecordingApi)
    assert scorer.push_to_hub("someone/german-credit", private=True) == "https://hub.example/commit/1"
    assert calls["repo"] == ("someone/german-credit", True, True)
    assert {"credtune.json", "model.safetensors", "config.json", "README.md"} <= set(calls["files"])


def test_credtune_json_records_the_writing_version(model_dir: Path):
    import credtune

    assert json.loads((model_dir / "credtune.json").read_text())["credtune_version"] == credtune.__version__
