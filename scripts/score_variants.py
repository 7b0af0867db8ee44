#!/usr/bin/env python
"""Side experiment: faster CPU inference back-ends for credtune scoring, same batching, same rows.

Each variant replaces only `CreditScorer.model`; the scorer's own length-sorted batching, its
serializer and its calibrator stay as they are, so rows/s and PDs are directly comparable with
the plain fp32 path. Accuracy is the max absolute PD difference from fp32 on the same rows.

    python scripts/score_variants.py --model-dir runs/german_credit/model --rows 200
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
ROOT = Path(__file__).resolve().parents[1]


class OrtModel:
    """An ONNX Runtime session that answers `model(**batch).logits` like the torch model."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __call__(self, **batch: Any) -> Any:
        import torch

        feed = {name: batch[name].numpy() for name in self.inputs}
        return SimpleNamespace(logits=torch.from_numpy(self.session.run(None, feed)[0]))


def export_onnx(model: Any, folder: Path, quantize: bool) -> Path:
    import torch

    path = folder / "model.onnx"
    if not path.exists():
        names = ["input_ids", "attention_mask", "token_type_ids"]
        dummy = tuple(torch.ones(2, 16, dtype=torch.long) for _ in names)
        axes = {n: {0: "batch", 1: "seq"} for n in names}
        torch.onnx.export(
            model, dummy, str(path), input_names=names, output_names=["logits"],
            dynamic_axes={**axes, "logits": {0: "batch"}}, opset_version=17, dynamo=False,
        )  # fmt: skip
    if not quantize:
        return path
    from onnxruntime.quantization import QuantType, quantize_dynamic

    qpath = folder / "model.int8.onnx"
    quantize_dynamic(str(path), str(qpath), weight_type=QuantType.QInt8)
    return qpath


def _sigmoid(z: Any) -> Any:
    import numpy as np

    return 1 / (1 + np.exp(-np.asarray(z, dtype=float)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model-dir", required=True, help="a credtune model folder (credtune.json + weights)"
    )
    parser.add_argument("--rows", type=int, default=200, help="German credit rows to score (default 200)")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per variant; the best counts")
    parser.add_argument("--variants", default="fp32,compile,int8,onnx,onnx-int8")
    parser.add_argument("--out", default="score_variants.json")
    args = parser.parse_args(argv)

    import numpy as np
    import pandas as pd
    import torch

    from credtune.scoring import CreditScorer

    df = pd.read_csv(ROOT / "data" / "german_credit.csv").drop(columns=["creditability"]).head(args.rows)
    scorer = CreditScorer.from_pretrained(args.model_dir)
    base_model = scorer.model
    texts = scorer.texts(scorer.records(df))
    threads = torch.get_num_threads()
    results: dict[str, Any] = {
        "rows": len(texts),
        "threads": threads,
        "load_avg_start": os.getloadavg(),
        "calibration": scorer.spec.calibration,
    }
    reference = None
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(args.variants.split(",")):
            start = time.perf_counter()
            if name == "fp32":
                scorer.model = base_model
            elif name == "compile":
                scorer.model = torch.compile(base_model, dynamic=True)
            elif name == "int8":
                scorer.model = torch.ao.quantization.quantize_dynamic(
                    base_model, {torch.nn.Linear}, dtype=torch.qint8
                )
            elif name in ("onnx", "onnx-int8"):
                scorer.model = OrtModel(export_onnx(base_model, Path(tmp), name == "onnx-int8"), threads)
            scorer.margins_for_texts(texts[:64])  # warm-up (and compilation)
            setup = time.perf_counter() - start
            best, margin = float("inf"), None
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                margin = scorer.margins_for_texts(texts)
                best = min(best, time.perf_counter() - t0)
            reference = margin if reference is None else reference
            pd_, ref_pd = scorer.calibrate(margin), scorer.calibrate(reference)
            key = name if name not in results else f"{name}_again_{i}"  # a repeated variant: noise check
            results[key] = {
                "rows_per_s": round(len(texts) / best, 2),
                "setup_s": round(setup, 1),
                "max_abs_pd_diff_vs_first": float(np.max(np.abs(pd_ - ref_pd))),
                "max_abs_raw_pd_diff_vs_first": float(np.max(np.abs(_sigmoid(margin) - _sigmoid(reference)))),
                "max_abs_margin_diff_vs_first": float(np.max(np.abs(margin - reference))),
            }
            print(key, results[key], file=sys.stderr, flush=True)
    base = results[args.variants.split(",")[0]]["rows_per_s"]
    for name in [k for k, v in results.items() if isinstance(v, dict) and "rows_per_s" in v]:
        results[name]["speedup_vs_first"] = round(results[name]["rows_per_s"] / base, 2)
    results["load_avg_end"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
