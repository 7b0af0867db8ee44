"""Train a recipe and print what the recipe headers quote: samples/s and tokens/s of the training
loop, peak GPU memory, test AUC and wall time (JSON on stdout; `-o` also writes it to a file).

    python scripts/measure_run.py recipes/gpu/minilm_taiwan.yaml -o runs/minilm_taiwan
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch
import transformers

from credtune import load_recipe, train

LOOP: dict[str, Any] = {}


def _capture(train_fn):
    def wrapped(self, *args, **kwargs):
        out = train_fn(self, *args, **kwargs)
        LOOP.update(out.metrics)
        LOOP["train_rows"] = len(self.train_dataset)
        LOOP["bf16"] = bool(self.args.bf16)
        LOOP["train_tokens_per_epoch"] = int(sum(self.train_dataset["length"]))
        return out

    return wrapped


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("recipe")
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--output-dir", "-o")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    transformers.Trainer.train = _capture(transformers.Trainer.train)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    result = train(load_recipe(args.recipe, args.overrides), args.output_dir, overwrite=True)
    wall = time.perf_counter() - started
    runtime = LOOP.get("train_runtime") or float("nan")
    figures = {
        "recipe": args.recipe,
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "wall_seconds": round(wall, 1),
        "train_loop_seconds": round(runtime, 1),
        "train_samples_per_second": LOOP.get("train_samples_per_second"),
        "train_tokens_per_second": round(
            LOOP.get("train_tokens_per_epoch", 0) * LOOP.get("epoch", 0) / runtime, 0
        ),
        "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)
        if torch.cuda.is_available()
        else None,
        "test_auc": {name: m.get("auc") for name, m in result.metrics.get("models", {}).items()},
        "test_ks": result.metrics.get("ks"),
        "test_brier": result.metrics.get("brier"),
        "train_rows": LOOP.get("train_rows"),
        "epochs": LOOP.get("epoch"),
        "tokens_per_row": result.metrics.get("tokens_per_row"),
        "bf16": LOOP.get("bf16"),
    }
    text = json.dumps(figures, indent=2, default=float)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
