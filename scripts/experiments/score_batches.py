"""Scoring's forward pass on a CPU: rows per batch and glibc's mmap threshold, each arm in its own process.

Every arm scores the same N rows (the table repeated) with `CreditScorer.margins_for_texts` and
prints wall time, rows/s, peak RSS, minor page faults and system time, and how far its margins are
from the first arm's: the evidence for `inference.default_batch` (docs/experiments.md, round 19).
Arms: `64`, `16`, ... rows per batch; a trailing `b` (`64b`) sets `inference.bound_heap` first, as
scoring did in rounds 11-18.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/score_batches.py runs/german_credit/model \
        data/german_credit.csv --rows 5000 --arms 64b,64,32,16
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def arm(model: str, data: str, rows: int, spec: str, out: Path) -> dict:
    """One arm, in this process: scorer loaded, texts made, then only the forward pass timed."""
    import pandas as pd

    from credtune import CreditScorer
    from credtune.inference import bound_heap

    if spec.endswith("b"):
        bound_heap()
    scorer = CreditScorer.from_pretrained(model, batch_size=int(spec.rstrip("b")))
    frame = pd.read_parquet(data) if data.endswith(".parquet") else pd.read_csv(data)
    frame = pd.concat([frame] * (rows // len(frame) + 1), ignore_index=True).iloc[:rows]
    texts = scorer.texts(scorer.records(frame))
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    margins = scorer.margins_for_texts(texts)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    np.save(out, margins)
    return {
        "arm": spec, "rows": rows, "seconds": round(seconds, 1), "rows_per_s": round(rows / seconds, 1),
        "peak_rss_gb": round(after.ru_maxrss / 1e6, 2), "page_faults": after.ru_minflt - before.ru_minflt,
        "system_s": round(after.ru_stime - before.ru_stime, 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a model folder written by credtune train")
    parser.add_argument("data", help="rows to score (.csv or .parquet), repeated up to --rows")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--arms", default="64b,64,32,16")
    parser.add_argument("--arm", help=argparse.SUPPRESS)  # run one arm here
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    cli = parser.parse_args()
    if cli.arm:
        print(json.dumps(arm(cli.model, cli.data, cli.rows, cli.arm, cli.out)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        first = None
        for spec in cli.arms.split(","):
            out = Path(tmp) / f"{spec}.npy"
            command = [sys.executable, __file__, cli.model, cli.data, f"--rows={cli.rows}", f"--arm={spec}", f"--out={out}"]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            margins = np.load(out)
            first = margins if first is None else first
            result["max_margin_difference"] = float(np.abs(margins - first).max())
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
