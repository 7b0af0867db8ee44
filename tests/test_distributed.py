"""Two processes (torchrun, gloo on the CPU) run the real CLI: training writes one set of artifacts
that records world size 2, and distributed scoring writes every row exactly once.

`accelerate launch --cpu --num_processes 2` starts a single process, so torchrun is used directly;
`--standalone` picks a free port, so parallel test sessions do not collide."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from transformers import AutoModelForSequenceClassification

from conftest import GERMAN, RECIPES
from credtune.contract import load_spec

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="torchrun with gloo")


def torchrun(*args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc_per_node 2 -m credtune ...`, one CPU thread per process."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [*command, "-m", "credtune", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture(scope="module")
def dist_run(tmp_path_factory: pytest.TempPathFactory, tiny_overrides: list[str]) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("dist") / "run"
    result = torchrun(
        "train",
        str(RECIPES / "german_credit.yaml"),
        *tiny_overrides,
        "baselines=[]",
        "model.hybrid=[]",
        "distill=null",  # teachers are fitted on every rank alike; not what this test is about
        "-o",
        str(out),
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return out, result.stdout


def test_two_processes_record_world_size(dist_run: tuple[Path, str]) -> None:
    out, _ = dist_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    assert load_spec(out / "model").training["world_size"] == 2
    assert metrics["n"] == 200  # every test row predicted once: no padding rows from the last shard


def test_one_set_of_artifacts(dist_run: tuple[Path, str]) -> None:
    out, stdout = dist_run
    leftovers = [p.name for p in out.rglob("*") if ".tmp" in p.name or p.name.startswith(".")]
    assert leftovers == []
    assert [p.name for p in out.glob("*model*")] == ["model"]
    assert len(list(out.rglob("metrics.json"))) == 1
    assert len(list(out.rglob("model.safetensors"))) == 1
    assert stdout.count("run folder:") == 1  # only the main process reports


def test_model_from_two_processes_reloads(dist_run: tuple[Path, str]) -> None:
    out, _ = dist_run
    model = AutoModelForSequenceClassification.from_pretrained(out / "model")
    assert model.config.id2label == {0: "good", 1: "bad"}


def test_distributed_scoring_writes_every_row_once(dist_run: tuple[Path, str], tmp_path: Path) -> None:
    from credtune.runs.batch import score_file

    out, _ = dist_run
    two = tmp_path / "two.parquet"
    result = torchrun("score", str(out / "model"), str(GERMAN), "-o", str(two), "--chunk-rows", "150")
    assert result.returncode == 0, result.stderr[-4000:]
    one = score_file(out / "model", GERMAN, tmp_path / "one.parquet", chunk_rows=150, progress=False).output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "one.parquet",
        "two.parquet",
    ]  # no part folders left
    dist, single = pd.read_parquet(two), pd.read_parquet(one)
    n_rows = len(pd.read_csv(GERMAN))
    np.testing.assert_array_equal(dist["row"].to_numpy(), np.arange(n_rows))
    np.testing.assert_allclose(dist["pd"].to_numpy(), single["pd"].to_numpy(), rtol=1e-5, atol=1e-7)
    assert list(dist.columns) == list(single.columns)
