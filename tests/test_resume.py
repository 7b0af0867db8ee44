"""A run killed mid-training leaves nothing that looks finished, and `--resume` continues it from
its last complete checkpoint to a complete run folder; `model/` is only ever written whole."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from test_bad_inputs import ForkedCli, run_cli_forked

from credtune.files import replace_folder
from credtune.scoring import CreditScorer
from credtune.training import last_complete_checkpoint

MAX_STEPS = 12


def train_args(tiny_model: Path, run_dir: Path, *flags: str) -> list[str]:
    """`credtune train german_credit` on the tiny model, checkpointing every 2 of 12 steps."""
    return [
        "train",
        "german_credit",
        f"model.name={tiny_model}",
        "train.save_strategy=steps",
        "train.save_steps=2",
        f"train.max_steps={MAX_STEPS}",
        "train.eval_strategy=no",
        "train.logging_steps=1",
        "train.disable_tqdm=true",
        "train.save_total_limit=null",
        "baselines=[]",
        "model.hybrid=[]",
        "-o",
        str(run_dir),
        *flags,
    ]


def complete_checkpoints(run_dir: Path) -> list[str]:
    """Checkpoints whose trainer_state.json (written last, and not atomically) reads as JSON."""
    done = []
    for state in sorted((run_dir / "checkpoints").glob("checkpoint-*/trainer_state.json")):
        try:
            json.loads(state.read_text())
            done.append(state.parent.name)
        except ValueError:
            continue
    return done


@pytest.mark.slow  # minutes of CPU in CI; `make test-slow` runs it
def test_killed_run_resumes_from_its_checkpoint(tiny_model: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    first = ForkedCli(*train_args(tiny_model, run_dir), cwd=tmp_path)
    deadline = time.monotonic() + 300
    while not complete_checkpoints(run_dir) and first.proc.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    first.proc.kill()  # SIGKILL: no handler, no cleanup, as when the machine is taken away
    killed = first.wait()
    assert killed.returncode == -signal.SIGKILL, (
        f"the run ended before it was killed:\n{killed.stderr[-3000:]}"
    )
    assert complete_checkpoints(run_dir), killed.stderr[-3000:]
    assert not (run_dir / "model").exists() and not (run_dir / "metrics.json").exists()

    resumed = run_cli_forked(*train_args(tiny_model, run_dir, "--resume"), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    said = [line for line in resumed.stderr.splitlines() if "--resume: continuing from" in line]
    assert len(said) == 1, resumed.stderr[-3000:]
    start_step = int(said[0].rsplit("checkpoint-", 1)[1])
    assert 2 <= start_step < MAX_STEPS
    # Trainer prints one {'loss': ...} line per step it runs: only the steps after the checkpoint.
    steps_run = sum("{'loss':" in line for line in resumed.stdout.splitlines())
    assert steps_run == MAX_STEPS - start_step, resumed.stdout[-3000:]
    final = json.loads(
        (run_dir / "checkpoints" / f"checkpoint-{MAX_STEPS}" / "trainer_state.json").read_text()
    )
    assert final["global_step"] == MAX_STEPS
    print(
        f"\nkilled after checkpoint-{start_step}; the resumed run trained steps {start_step + 1}-{MAX_STEPS}"
    )

    for name in ("metrics.json", "recipe.yaml", "report.md", "model/credtune.json", "model/README.md"):
        assert (run_dir / name).is_file(), name
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(run_dir / "model")
    assert model.config.num_labels == 2
    assert not list(run_dir.glob(".model.*")), "a temporary model folder was left behind"


def test_resume_skips_a_checkpoint_killed_while_saving(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    states = {2: '{"global_step": 2}', 4: '{"global_step": 4}', 6: '{"global_step": 6, "log_hi', 8: None}
    for step, state in states.items():
        (folder / f"checkpoint-{step}").mkdir(parents=True)
        (folder / f"checkpoint-{step}" / "model.safetensors").write_bytes(b"")
        if state is not None:
            (folder / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
    (folder / "checkpoint-final").mkdir()
    assert last_complete_checkpoint(folder) == str(folder / "checkpoint-4")
    assert last_complete_checkpoint(tmp_path / "missing") is None


def test_model_folder_is_written_whole_or_not_at_all(tiny_model: Path, tmp_path: Path, monkeypatch) -> None:
    """A crash half-way through saving (here: the tokenizer) leaves no model/ and no temp folder;
    an earlier model/ stays as it was."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from credtune.contract import ModelSpec

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=2)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    spec = ModelSpec(
        schema={"columns": [], "label_names": ["good", "bad"]},
        serializer={"fields": []},
        max_length=64,
        base_model="tiny",
    )

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tokenizer, "save_pretrained", fail)
    target = tmp_path / "run" / "model"
    target.parent.mkdir()
    with pytest.raises(OSError, match="disk full"):
        replace_folder(target, CreditScorer(model, tokenizer, spec).save_pretrained)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []

    target.mkdir()
    (target / "config.json").write_text("{}")
    with pytest.raises(OSError, match="disk full"):
        replace_folder(target, CreditScorer(model, tokenizer, spec).save_pretrained)
    assert [p.name for p in target.parent.iterdir()] == ["model"]
    assert (target / "config.json").read_text() == "{}"
