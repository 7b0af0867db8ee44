#!/usr/bin/env python
"""Speed benchmark: credtune's data path against a naive TabLLM-style fine-tune, German credit data.

One command, one script: the parent process runs each arm in a child process of this same
script (`--arm NAME`), so every arm starts cold and its peak RSS is the child's own
`ru_maxrss` (from `os.wait4`), which includes the ~0.3-0.5 GB of torch + transformers imports
(the `imports` arm measures that floor alone). Only the train loop / scoring call is timed,
never the model load. Results go to bench.json and a markdown table on stdout.

    python scripts/bench.py              # full run (20 steps, 1000 scoring rows)
    python scripts/bench.py --quick      # ~2 minutes (6 steps, 200 rows)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "german_credit.yaml"
BATCH = 16
NAIVE_MAX_LENGTH = 512
# TabLLM's "text" serialization: every feature column, raw names and raw values, no short labels.
TABLLM = [
    "serialize.template=text",
    "serialize.descriptions={}",
    "serialize.values={}",
    "serialize.include_protected=true",
]
ARMS = ("imports", "peak", "tokens", "train-naive", "train-credtune", "model",
        "score-pipeline-tabllm", "score-pipeline-credtune", "score-credtune")  # fmt: skip


# -- helpers shared by the arms -------------------------------------------------------------------
def recipe(args: argparse.Namespace, extra: list[str] | None = None) -> Any:
    from credtune.config import load_recipe

    return load_recipe(RECIPE, [f"model.name={args.model}", *(extra or [])])


def stats(values: list[int]) -> dict[str, float]:
    import numpy as np

    arr = np.asarray(values)
    return {"mean": round(float(arr.mean()), 1), "p95": float(np.percentile(arr, 95)), "max": int(arr.max())}


def flop_model(model: Any) -> dict[str, int]:
    """Parameter counts for FLOP accounting: embeddings are look-ups (0 FLOPs), the pooler and
    classifier run once per row, every other weight once per token."""
    per_token = per_row = 0
    for name, p in model.named_parameters():
        if "embeddings" in name:
            continue
        if any(k in name for k in ("pooler", "classifier", "score")):
            per_row += p.numel()
        else:
            per_token += p.numel()
    cfg = model.config
    return {
        "per_token": per_token,
        "per_row": per_row,
        "layers": cfg.num_hidden_layers,
        "hidden": cfg.hidden_size,
    }


def forward_flops(fm: dict[str, int], lengths: list[int]) -> float:
    """2 FLOPs per weight per token, plus attention scores and mixing (QK^T, AV: 4 * L^2 * d per layer)."""
    return float(
        sum(
            2 * fm["per_token"] * n + 2 * fm["per_row"] + 4 * fm["layers"] * n * n * fm["hidden"]
            for n in lengths
        )
    )


def rows_frame(args: argparse.Namespace, n: int) -> Any:
    """The first n raw rows (cycled if n > 1000), target dropped: what an applicant file holds."""
    import pandas as pd

    from credtune.data import read_table

    rec = recipe(args)
    df = read_table(ROOT / "data" / "german_credit.csv").to_pandas().drop(columns=[rec.data.target])
    reps = -(-n // len(df))
    return pd.concat([df] * reps, ignore_index=True).head(n)


def tabllm_serializer(args: argparse.Namespace) -> Any:
    from credtune import data

    rec = recipe(args, TABLLM)
    return data.make_serializer(data.prepare(rec).schema, rec.serialize)


# -- arms (each runs in its own child process) ----------------------------------------------------
def arm_imports(args: argparse.Namespace) -> dict:
    import torch  # noqa: F401
    import transformers  # noqa: F401

    import credtune.training  # noqa: F401

    return {"note": "peak RSS of importing torch, transformers and credtune.training only"}


def arm_peak(args: argparse.Namespace) -> dict:
    """Dense matmul throughput, best of several trials; bf16 uses a smaller size because on CPUs
    without bf16 units one 2048^3 bf16 matmul takes tens of seconds."""
    import torch

    from credtune.training import bf16_is_faster

    def best(dtype: torch.dtype, n: int, reps: int, trials: int) -> float:
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        a @ b
        out = 0.0
        for _ in range(trials):
            start = time.perf_counter()
            for _ in range(reps):
                a @ b
            out = max(out, 2 * n**3 * reps / (time.perf_counter() - start))
        return out

    fp32 = {n: best(torch.float32, n, reps, 3) for n, reps in ((1024, 4), (2048, 1))}
    bf16 = {512: best(torch.bfloat16, 512, 1, 2)}
    return {
        "fp32_gflops": round(max(fp32.values()) / 1e9, 1),
        "fp32_by_size": {str(n): round(v / 1e9, 1) for n, v in fp32.items()},
        "bf16_gflops": round(max(bf16.values()) / 1e9, 2),
        "bf16_by_size": {str(n): round(v / 1e9, 2) for n, v in bf16.items()},
        "threads": torch.get_num_threads(),
        "bf16_is_faster": bool(bf16_is_faster()),
    }


def arm_tokens(args: argparse.Namespace) -> dict:
    import dataclasses

    from credtune import data
    from credtune.modeling import load_tokenizer

    rec = recipe(args)
    tokenizer = load_tokenizer(rec.model)
    prep, wide = data.prepare(rec), data.prepare(recipe(args, TABLLM))  # wide: protected columns too
    raw = {"descriptions": {}, "values": {}}
    variants = {
        "compact": (prep, {}),
        "list": (prep, {"template": "list"}),
        "text": (prep, {"template": "text"}),
        "text_raw": (prep, {"template": "text", **raw}),
        "tabllm": (wide, {"template": "text", **raw}),
    }
    out: dict[str, Any] = {"default_template": rec.serialize.template}
    rows = prep.table.to_list()
    for name, (p, change) in variants.items():
        serializer = data.make_serializer(p.schema, dataclasses.replace(rec.serialize, **change))
        out[name] = stats([len(ids) for ids in tokenizer([serializer(row) for row in rows])["input_ids"]])
        out[name]["fields"] = len(serializer.fields)
    return out


class _Counting:
    """Wraps a data collator to record the real (non-pad) length of every row it batches."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.batches = inner, []

    def __call__(self, features: list) -> Any:
        batch = self.inner(features)
        mask = batch["attention_mask"]
        self.batches.append((mask.sum(1).tolist(), int(mask.shape[1])))
        return batch


def timed_train(trainer: Any, peak: dict, precision: str, budget_s: float | None = None) -> dict:
    """Run trainer.train() and turn the clock and collator records into throughput and MFU."""
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        """Wall time at train begin and after every optimizer step."""

        def __init__(self) -> None:
            self.start, self.marks = 0.0, []

        def on_train_begin(self, *a: Any, **k: Any) -> None:
            self.start = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **k: Any) -> None:
            self.marks.append(time.perf_counter())
            if budget_s and len(self.marks) >= 2 and self.marks[-1] - self.start > budget_s:
                control.should_training_stop = True  # time box: the other arm runs as many steps

    clock, counting = Clock(), _Counting(trainer.data_collator)
    trainer.data_collator = counting
    trainer.add_callback(clock)
    trainer.train()
    steps = len(clock.marks)
    batches = counting.batches[:steps]
    fm = flop_model(trainer.model)
    seconds = clock.marks[-1] - clock.start
    steady = clock.marks[-1] - clock.marks[0]
    real = [n for lengths, _ in batches for n in lengths]
    later = [n for lengths, _ in batches[1:] for n in lengths]
    padded = [width for lengths, width in batches for _ in lengths]
    useful = 3 * forward_flops(fm, real)
    executed = 3 * forward_flops(fm, padded)
    peak_flops = peak[f"{precision}_gflops"] * 1e9
    return {
        "steps": steps,
        "batch_size": len(batches[0][0]),
        "precision": precision,
        "seconds": round(seconds, 2),
        "samples_per_s": round(len(real) / seconds, 2),
        "real_tokens_per_s": round(sum(real) / seconds, 1),
        "padded_tokens_per_s": round(sum(padded) / seconds, 1),
        "steady_samples_per_s": round(len(later) / steady, 2) if steps > 1 else None,
        "mean_real_tokens_per_row": round(sum(real) / len(real), 1),
        "mean_padded_width": round(sum(padded) / len(padded), 1),
        "useful_gflops_per_s": round(useful / seconds / 1e9, 2),
        "executed_gflops_per_s": round(executed / seconds / 1e9, 2),
        "mfu": round(useful / seconds / peak_flops, 4),
        "hfu": round(executed / seconds / peak_flops, 4),
        "peak_used": f"{precision} matmul {peak[f'{precision}_gflops']} GFLOP/s",
    }


def arm_train_naive(args: argparse.Namespace) -> dict:
    """What a first attempt looks like: TabLLM text, pad everything to 512, fp32, random batches."""
    from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

    from credtune import data
    from credtune.modeling import load_tokenizer, resolve_model_name

    rec = recipe(args, TABLLM)
    prep = data.prepare(rec)
    tokenizer = load_tokenizer(rec.model)
    train_ds = prep.split("train")
    texts = [prep.serializer(row) for row in train_ds.to_list()]
    enc = tokenizer(texts, padding="max_length", truncation=True, max_length=NAIVE_MAX_LENGTH)
    ds = train_ds.select_columns(["labels"])
    for key, values in enc.items():
        ds = ds.add_column(key, values)
    model = AutoModelForSequenceClassification.from_pretrained(resolve_model_name(args.model), num_labels=2)
    targs = TrainingArguments(
        output_dir=str(Path(args.work_dir) / "naive"), max_steps=args.steps, per_device_train_batch_size=BATCH,
        learning_rate=5e-5, use_cpu=True, bf16=False, report_to="none", save_strategy="no",
        eval_strategy="no", logging_strategy="no", disable_tqdm=True, seed=rec.seed,
    )  # fmt: skip
    trainer = Trainer(model=model, args=targs, train_dataset=ds, processing_class=tokenizer)
    return timed_train(trainer, args.peak, "fp32", args.train_budget_s)


def arm_train_credtune(args: argparse.Namespace) -> dict:
    """credtune's own path: recipe -> prepare -> encode -> build_trainer, with TRAIN_DEFAULTS."""
    from credtune import data, training
    from credtune.modeling import load_model, load_tokenizer

    quiet = [
        "train.eval_strategy=no",
        "train.save_strategy=no",
        "train.logging_strategy=no",
        "train.disable_tqdm=true",
    ]
    rec = recipe(args, [f"train.max_steps={args.train_steps}", *quiet])
    prep = data.prepare(rec)
    tokenizer = load_tokenizer(rec.model)
    encoded = training.encode(prep.table, prep.serializer, tokenizer, rec.model.max_length)
    split = {name: encoded.select(idx) for name, idx in prep.splits.items()}
    model = load_model(rec.model, prep.schema["label_names"], tokenizer, rec.lora, rec.seed)
    targs = training.training_arguments(rec, Path(args.work_dir) / "credtune")
    trainer = training.build_trainer(rec, model, tokenizer, targs, split["train"], split["valid"])
    out = timed_train(trainer, args.peak, "bf16" if targs.bf16 else "fp32")
    out["sampler"] = str(targs.train_sampling_strategy)
    return out


def arm_model(args: argparse.Namespace) -> dict:
    """A real credtune model folder (credtune.json + weights) from a 2-step train: the weights
    barely matter for scoring speed."""
    from credtune.api import train

    rec = recipe(args, ["train.max_steps=2", "train.eval_strategy=no", "train.save_strategy=no",
                        "train.disable_tqdm=true", "baselines=[]", "data.sample=200"])  # fmt: skip
    target = Path(args.model_dir or Path(args.work_dir) / "model")
    start = time.perf_counter()
    result = train(rec, target.parent / f".{target.name}-run", overwrite=True)
    shutil.rmtree(target, ignore_errors=True)
    shutil.move(result.run_dir / "model", target)
    shutil.rmtree(result.run_dir)
    return {"model_dir": str(target), "seconds": round(time.perf_counter() - start, 1)}


def _score_flops(args: argparse.Namespace, lengths: list[int], seconds: float) -> dict:
    from transformers import AutoModelForSequenceClassification

    fm = flop_model(AutoModelForSequenceClassification.from_pretrained(args.model_dir))
    useful = forward_flops(fm, lengths)
    return {
        "mean_tokens_per_row": round(sum(lengths) / len(lengths), 1),
        "useful_gflops_per_s": round(useful / seconds / 1e9, 2),
        "mfu": round(useful / seconds / (args.peak["fp32_gflops"] * 1e9), 4),
    }


def _pipeline_arm(args: argparse.Namespace, texts: list[str]) -> dict:
    from transformers import pipeline

    clf = pipeline("text-classification", model=args.model_dir, device="cpu")
    clf(texts[:4])  # warm-up
    done, start = 0, time.perf_counter()
    while done < len(texts):  # chunks of 16 rows: the same calls as clf(texts), with a time box
        clf(texts[done : done + 16])
        done = min(done + 16, len(texts))
        if time.perf_counter() - start > args.score_budget_s:
            break
    seconds = time.perf_counter() - start
    texts = texts[:done]
    lengths = [len(ids) for ids in clf.tokenizer(texts)["input_ids"]]
    return {"rows": len(texts), "seconds": round(seconds, 2), "rows_per_s": round(len(texts) / seconds, 2),
            "call": "pipeline('text-classification', model=dir)(texts)", **_score_flops(args, lengths, seconds)}  # fmt: skip


def arm_score_pipeline_tabllm(args: argparse.Namespace) -> dict:
    df = rows_frame(args, args.rows)
    serializer = tabllm_serializer(args)
    return _pipeline_arm(args, [serializer(row) for row in df.to_dict("records")])


def arm_score_pipeline_credtune(args: argparse.Namespace) -> dict:
    from credtune.contract import load_spec

    serializer = load_spec(args.model_dir).make_serializer()
    return _pipeline_arm(args, [serializer(row) for row in rows_frame(args, args.rows).to_dict("records")])


def arm_score_credtune(args: argparse.Namespace) -> dict:
    from transformers import AutoTokenizer

    from credtune.contract import load_spec
    from credtune.scoring import CreditScorer

    df = rows_frame(args, args.rows)
    scorer = CreditScorer.from_pretrained(args.model_dir)
    scorer.predict_proba(df.head(4))  # warm-up
    start = time.perf_counter()
    scorer.predict_proba(df)
    seconds = time.perf_counter() - start
    spec = load_spec(args.model_dir)
    serializer = spec.make_serializer()
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    texts = [serializer.render(row, tokenizer, spec.max_length)[0] for row in df.to_dict("records")]
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=spec.max_length)["input_ids"]]
    return {"rows": len(df), "seconds": round(seconds, 2), "rows_per_s": round(len(df) / seconds, 2),
            "call": "CreditScorer.from_pretrained(dir).predict_proba(df)", **_score_flops(args, lengths, seconds)}  # fmt: skip


# -- orchestration --------------------------------------------------------------------------------
def run_arm(name: str, args: argparse.Namespace, extra: dict | None = None) -> dict:
    """Run one arm in a child process; its result plus the child's own peak RSS."""
    out = Path(args.work_dir) / f"{name}.json"
    log = Path(args.work_dir) / f"{name}.log"
    payload = {**vars(args), **(extra or {})}
    cmd = [sys.executable, __file__, "--arm", name, "--payload", json.dumps(payload), "--result", str(out)]
    print(f"[bench] {name} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    with log.open("w") as handle:
        proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = round(time.perf_counter() - started, 1)
    if proc.returncode != 0 or not out.exists():
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        print(f"[bench] {name} failed: {tail[0]}", file=sys.stderr)
        return {"error": tail[0], "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "wall_s": wall}
    result = json.loads(out.read_text())
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # Linux: KiB
    result["process_wall_s"] = wall
    print(f"[bench] {name} done in {wall}s", file=sys.stderr, flush=True)
    return result


def ratio(a: Any, b: Any) -> float | None:
    return round(a / b, 2) if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None


def targets(res: dict) -> list[dict]:
    tok, train, score, peak = res["tokens"], res["train"], res["score"], res["peak"]
    cred = train["credtune"]
    bf16_on = cred.get("precision") == "bf16"
    rows = [
        ("tokens/row, default template (mean)", "<= 100", tok.get("compact", {}).get("mean"), lambda v: v <= 100),
        ("tokens/row, default / TabLLM text", "<= 0.5", ratio(tok.get("compact", {}).get("mean"), tok.get("tabllm", {}).get("mean")), lambda v: v <= 0.5),
        ("tokens/row, default / raw text on the same fields", "<= 0.5 (stricter reading)", ratio(tok.get("compact", {}).get("mean"), tok.get("text_raw", {}).get("mean")), lambda v: v <= 0.5),
        ("train samples/s, credtune / naive", ">= 15", train.get("speedup"), lambda v: v >= 15),
        ("score rows/s, credtune / pipeline on TabLLM text", ">= 5", score.get("speedup_vs_pipeline_tabllm"), lambda v: v >= 5),
        ("score rows/s, credtune / pipeline on credtune text", ">= 2", score.get("speedup_vs_pipeline_credtune"), lambda v: v >= 2),
        (f"train MFU vs {'bf16' if bf16_on else 'fp32'} matmul peak ({peak.get('bf16_gflops' if bf16_on else 'fp32_gflops')} GFLOP/s)",
         ">= 0.60 (target applies where bf16 is on)", cred.get("mfu"), lambda v: v >= 0.6),
    ]  # fmt: skip
    return [
        {"name": n, "target": t, "measured": v, "met": None if v is None else bool(ok(v))}
        for n, t, v, ok in rows
    ]


def markdown(res: dict) -> str:
    lines = [
        f"## credtune bench ({res['settings']['model']}, {res['machine']['threads']} threads, {res['machine']['cpu']})",
        "",
    ]
    p = res["peak"]
    lines += [f"matmul peak: fp32 {p.get('fp32_gflops')} GFLOP/s, bf16 {p.get('bf16_gflops')} GFLOP/s; "
              f"bf16_is_faster={p.get('bf16_is_faster')}; credtune trained in {res['train']['credtune'].get('precision')}", ""]  # fmt: skip
    lines += ["| template | fields | tokens/row mean | p95 | max |", "|---|---|---|---|---|"]
    for name, s in res["tokens"].items():
        if isinstance(s, dict):
            lines.append(f"| {name} | {s.get('fields')} | {s['mean']} | {s['p95']} | {s['max']} |")
    lines += ["", "| train arm | precision | samples/s | real tok/s | padded width | useful GFLOP/s | MFU | peak RSS MB |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name in ("naive", "credtune"):
        t = res["train"][name]
        lines.append(f"| {name} | {t.get('precision')} | {t.get('samples_per_s')} | {t.get('real_tokens_per_s')} | "
                     f"{t.get('mean_padded_width')} | {t.get('useful_gflops_per_s')} | {t.get('mfu')} | {t.get('peak_rss_mb')} |")  # fmt: skip
    lines += [
        "",
        "| scoring arm | rows | rows/s | tokens/row | useful GFLOP/s | MFU | peak RSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in res["score"].items():
        if isinstance(s, dict):
            lines.append(f"| {name} | {s.get('rows')} | {s.get('rows_per_s', s.get('error'))} | {s.get('mean_tokens_per_row')} | "
                         f"{s.get('useful_gflops_per_s')} | {s.get('mfu')} | {s.get('peak_rss_mb')} |")  # fmt: skip
    lines += ["", "| target | goal | measured | met |", "|---|---|---|---|"]
    lines += [f"| {t['name']} | {t['target']} | {t['measured']} | {t['met']} |" for t in res["targets"]]
    return "\n".join(lines)


def orchestrate(args: argparse.Namespace) -> dict:
    import torch
    import transformers

    res: dict[str, Any] = {
        "machine": {"cpu": _cpu_name(), "threads": torch.get_num_threads(), "load_avg_start": os.getloadavg(),
                    "torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version()},
        "settings": {"model": args.model, "steps": args.steps, "batch_size": BATCH, "rows": args.rows, "quick": args.quick,
                     "train_budget_s": args.train_budget_s, "score_budget_s": args.score_budget_s},
    }  # fmt: skip
    started = time.perf_counter()
    res["imports"] = run_arm("imports", args)
    res["peak"] = run_arm("peak", args)
    res["tokens"] = run_arm("tokens", args)
    extra = {"peak": res["peak"]}
    naive = run_arm("train-naive", args, {**extra, "train_budget_s": args.train_budget_s})
    extra["train_steps"] = naive.get("steps") or args.steps  # the same number of optimizer steps
    res["train"] = {"naive": naive, "credtune": run_arm("train-credtune", args, extra)}
    res["train"]["speedup"] = ratio(
        res["train"]["credtune"].get("samples_per_s"), res["train"]["naive"].get("samples_per_s")
    )
    reuse = args.model_dir and (Path(args.model_dir) / "credtune.json").is_file()
    model_dir = args.model_dir if reuse else run_arm("model", args).get("model_dir")
    res["model"] = {"model_dir": model_dir, "reused": bool(reuse)}
    score: dict[str, Any] = {}
    if model_dir:
        extra["model_dir"] = model_dir
        for name in ("pipeline_tabllm", "pipeline_credtune", "credtune"):
            score[name] = run_arm(
                f"score-{name.replace('_', '-')}", args, {**extra, "score_budget_s": args.score_budget_s}
            )
        for name in ("pipeline_tabllm", "pipeline_credtune"):
            score[f"speedup_vs_{name}"] = ratio(
                score["credtune"].get("rows_per_s"), score[name].get("rows_per_s")
            )
    res["score"] = score
    res["peak_end"] = run_arm("peak", args)  # the machine is shared: a second look at the peak
    res["machine"]["load_avg_end"] = os.getloadavg()
    res["total_seconds"] = round(time.perf_counter() - started, 1)
    res["targets"] = targets(res)
    return res


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default="minilm", help="backbone: minilm (bundled all-MiniLM-L6-v2) or a model folder"
    )
    parser.add_argument("--quick", action="store_true", help="6 train steps, 200 scoring rows (~2 minutes)")
    parser.add_argument("--steps", type=int, help="optimizer steps per training arm (default 20, quick 6)")
    parser.add_argument("--rows", type=int, help="rows per scoring arm (default 1000, quick 200)")
    parser.add_argument("--out", default="bench.json", help="where to write the results (default bench.json)")
    parser.add_argument(
        "--model-dir",
        help="credtune model folder for scoring: reused if it holds credtune.json, "
        "else a 2-step model is trained into it (default: a scratch folder)",
    )
    parser.add_argument(
        "--train-budget",
        type=float,
        dest="train_budget_s",
        help="stop the naive train loop after this many seconds (min 2 steps); the credtune arm "
        "then runs the same number of steps (default 300, quick 60)",
    )
    parser.add_argument(
        "--score-budget",
        type=float,
        dest="score_budget_s",
        help="stop each pipeline arm after this many seconds (default 120, quick 30)",
    )
    parser.add_argument("--work-dir", help="scratch folder (default: a temporary folder, removed afterwards)")
    parser.add_argument("--arm", choices=ARMS, help=argparse.SUPPRESS)
    parser.add_argument("--payload", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.arm:
        child = argparse.Namespace(**json.loads(args.payload))
        result = globals()[f"arm_{args.arm.replace('-', '_')}"](child)
        Path(args.result).write_text(json.dumps(result, indent=2))
        return 0
    args.steps = args.steps or (6 if args.quick else 20)
    args.rows = args.rows or (200 if args.quick else 1000)
    args.train_budget_s = args.train_budget_s or (60.0 if args.quick else 300.0)
    args.score_budget_s = args.score_budget_s or (30.0 if args.quick else 120.0)
    with tempfile.TemporaryDirectory(prefix="credtune-bench-") as tmp:
        args.work_dir = args.work_dir or tmp
        res = orchestrate(args)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(markdown(res))
    print(f"\nwrote {args.out} ({res['total_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
