#!/usr/bin/env python
"""Speed benchmark: credtune's data path against a naive TabLLM-style fine-tune, on German credit.

Throughput is measured in two child processes of this script (`--arm NAME`) that hold all the
contestants at once and alternate between them in short rounds (training: 2 optimizer steps
each; scoring: the same 64 rows each), so that every contestant sees the same load from other
jobs on a shared machine. Peak RSS comes from separate small `rss-*` child processes, one per
contestant: each child's own `ru_maxrss` (from `os.wait4`), which includes the torch +
transformers import floor (`peak.import_rss_mb`). Only train steps and scoring calls are timed,
never model loading. MFU uses the best matmul peak seen (measured at start and at end). Results
go to bench.json and a markdown table on stdout.

    python scripts/bench.py                  # full run: 20 steps, 1000 rows (~12 minutes)
    python scripts/bench.py --quick          # 6 steps, 200 rows, short time boxes
    python scripts/bench.py --threads 1      # on a machine shared with other jobs
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

for _key, _value in (("HF_HUB_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1"), ("TOKENIZERS_PARALLELISM", "false"),
                     ("TRANSFORMERS_VERBOSITY", "error")):  # fmt: skip
    os.environ.setdefault(_key, _value)

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "german_credit.yaml"
BATCH = 16
NAIVE_MAX_LENGTH = 512
# TabLLM's "text" serialization: raw column names, raw values, plain numbers; TABLLM adds the columns
# the recipe keeps out (protected ones), as a naive first attempt serializes every feature.
RAW_TEXT = [
    "serialize.template=text",
    "serialize.descriptions={}",
    "serialize.values={}",
    "serialize.numbers=plain",
]
TABLLM = [*RAW_TEXT, "serialize.include_protected=true"]
TOKEN_VARIANTS = {"compact": [], "compact_plain": ["serialize.numbers=plain"], "list": ["serialize.template=list"],
                  "text": ["serialize.template=text"], "text_raw": RAW_TEXT, "tabllm": TABLLM}  # fmt: skip
ARMS = ("peak", "train", "score", "model", "rss-train-naive", "rss-train-credtune", "rss-score-credtune",
        "rss-score-pipeline-tabllm", "rss-score-pipeline-credtune")  # fmt: skip
ROUND_STEPS = 2  # optimizer steps per arm per round of the interleaved training arm
SCORE_CHUNK = 64  # rows per method per round of the interleaved scoring arm


def recipe(args: argparse.Namespace, extra: list[str] | None = None) -> Any:
    from credtune.config import load_recipe

    return load_recipe(RECIPE, [f"model.name={args.model}", *(extra or [])])


def stats(values: list[int]) -> dict[str, float]:
    import numpy as np

    arr = np.asarray(values)
    return {"mean": round(float(arr.mean()), 1), "p95": float(np.percentile(arr, 95)), "max": int(arr.max())}


def flop_model(model: Any) -> dict[str, int]:
    """Parameters for FLOP counting: embeddings are look-ups (no FLOPs), pooler and classifier
    run once per row, every other weight once per token."""
    per_token = per_row = 0
    for name, p in model.named_parameters():
        if "embeddings" not in name:
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
    """2 FLOPs per weight per token, plus attention (QK^T and AV: 4 * L^2 * hidden per layer)."""
    return float(
        sum(
            2 * fm["per_token"] * n + 2 * fm["per_row"] + 4 * fm["layers"] * n * n * fm["hidden"]
            for n in lengths
        )
    )


def count_tokens(args: argparse.Namespace) -> dict:
    """Tokens per German row for each template (parent process: cheap, no model)."""
    from credtune import data
    from credtune.modeling import load_tokenizer

    tokenizer = load_tokenizer(recipe(args).model)
    out: dict[str, Any] = {
        "default": f"{recipe(args).serialize.template} ({recipe(args).serialize.numbers} numbers)"
    }
    for name, extra in TOKEN_VARIANTS.items():
        prep = data.prepare(recipe(args, extra))
        texts = [prep.serializer(row) for row in prep.table.to_list()]
        out[name] = {
            **stats([len(ids) for ids in tokenizer(texts)["input_ids"]]),
            "fields": len(prep.serializer.fields),
        }
    return out


# -- arms: each runs in its own child process -----------------------------------------------------
def arm_peak(args: argparse.Namespace) -> dict:
    """Dense matmul FLOP/s, best of several trials, with the thread count the other arms use;
    bf16 at 512 only, because one 2048^3 bf16 matmul takes ~20 s on CPUs without bf16 units."""
    import resource

    import torch
    import transformers  # noqa: F401 - part of the import floor every arm pays

    from credtune.training import bf16_is_faster

    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def best(dtype: torch.dtype, n: int, reps: int) -> float:
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        a @ b
        out = 0.0
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(reps):
                a @ b
            out = max(out, 2 * n**3 * reps / (time.perf_counter() - start) / 1e9)
        return round(out, 2)

    fp32 = {"1024": best(torch.float32, 1024, 4), "2048": best(torch.float32, 2048, 1)}
    bf16 = {"512": best(torch.bfloat16, 512, 1)}
    return {"fp32_gflops": max(fp32.values()), "fp32_by_size": fp32, "bf16_gflops": max(bf16.values()),
            "bf16_by_size": bf16, "threads": torch.get_num_threads(), "bf16_is_faster": bool(bf16_is_faster()),
            "import_rss_mb": round(floor, 1)}  # fmt: skip


class _Meter:
    """Trainer callback + collator wrapper: step times and the real (non-pad) length of every row,
    across repeated trainer.train() calls."""

    def __init__(self, collator: Any) -> None:
        self.collator, self.batches, self.steps = collator, [], []  # steps: (seconds, batch index)
        self._last = 0.0

    def __call__(self, features: list) -> Any:
        batch = self.collator(features)
        mask = batch["attention_mask"]
        self.batches.append((mask.sum(1).tolist(), int(mask.shape[1])))
        return batch

    def callback(self) -> Any:
        from transformers import TrainerCallback

        meter = self

        class Clock(TrainerCallback):
            def on_train_begin(self, *a: Any, **k: Any) -> None:
                meter._last = time.perf_counter()

            def on_step_end(self, *a: Any, **k: Any) -> None:
                now = time.perf_counter()
                meter.steps.append((now - meter._last, len(meter.batches) - 1))
                meter._last = now

        return Clock()

    def summary(self, model: Any, precision: str) -> dict:
        fm, seconds = flop_model(model), sum(s for s, _ in self.steps)
        batches = [self.batches[i] for _, i in self.steps]
        real = [n for lengths, _ in batches for n in lengths]
        padded = [width for lengths, width in batches for _ in lengths]
        return {
            "steps": len(self.steps), "batch_size": len(batches[0][0]), "precision": precision,
            "seconds": round(seconds, 2), "samples_per_s": round(len(real) / seconds, 3),
            "best_step_samples_per_s": round(max(len(b[0]) / s for b, (s, _) in zip(batches, self.steps)), 3),
            "real_tokens_per_s": round(sum(real) / seconds, 1), "padded_tokens_per_s": round(sum(padded) / seconds, 1),
            "mean_real_tokens_per_row": round(sum(real) / len(real), 1),
            "mean_padded_width": round(sum(padded) / len(padded), 1),
            "useful_gflops_per_s": round(3 * forward_flops(fm, real) / seconds / 1e9, 2),
            "executed_gflops_per_s": round(3 * forward_flops(fm, padded) / seconds / 1e9, 2),
        }  # fmt: skip


def naive_trainer(args: argparse.Namespace, steps: int) -> tuple[Any, str]:
    """A typical first attempt: TabLLM text, everything padded to 512, fp32, random batches."""
    from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

    from credtune import data
    from credtune.modeling import load_tokenizer, resolve_model_name

    rec = recipe(args, TABLLM)
    prep = data.prepare(rec)
    tokenizer = load_tokenizer(rec.model)
    train_ds = prep.split("train")
    enc = tokenizer([prep.serializer(row) for row in train_ds.to_list()], padding="max_length",
                    truncation=True, max_length=NAIVE_MAX_LENGTH)  # fmt: skip
    ds = train_ds.select_columns(["labels"])
    for key, values in enc.items():
        ds = ds.add_column(key, values)
    model = AutoModelForSequenceClassification.from_pretrained(resolve_model_name(args.model), num_labels=2)
    targs = TrainingArguments(
        output_dir=str(Path(args.work_dir) / "naive"), max_steps=steps, per_device_train_batch_size=BATCH,
        learning_rate=5e-5, use_cpu=True, bf16=False, report_to="none", save_strategy="no",
        eval_strategy="no", logging_strategy="no", disable_tqdm=True, seed=rec.seed,
    )  # fmt: skip
    return Trainer(model=model, args=targs, train_dataset=ds, processing_class=tokenizer), "fp32"


def credtune_trainer(args: argparse.Namespace, steps: int, train_layers: str = "null") -> tuple[Any, str]:
    """credtune's own path: load_recipe -> prepare -> encode -> build_trainer, TRAIN_DEFAULTS.
    With `train_layers`, the layers below them are frozen and their outputs cached (`model.train_layers`);
    the one-off cost of the cache is kept on the trainer as `cache_seconds`."""
    from credtune import data, training
    from credtune.modeling import load_model, load_tokenizer

    quiet = [
        "train.eval_strategy=no",
        "train.save_strategy=no",
        "train.logging_strategy=no",
        "train.disable_tqdm=true",
    ]
    rec = recipe(args, [f"train.max_steps={steps}", f"model.train_layers={train_layers}", *quiet])
    prep = data.prepare(rec)
    tokenizer = load_tokenizer(rec.model)
    encoded = training.encode(prep.table, prep.serializer, tokenizer, rec.model.max_length)
    split = {name: encoded.select(idx) for name, idx in prep.splits.items()}
    model = load_model(rec.model, prep.schema["label_names"], tokenizer, rec.lora, rec.seed)
    started = time.perf_counter()
    cache = training.prepare_frozen(rec, model, encoded, tokenizer)
    cache_seconds = time.perf_counter() - started
    targs = training.training_arguments(rec, Path(args.work_dir) / f"credtune-{train_layers}")
    trainer = training.build_trainer(rec, model, tokenizer, targs, split["train"], split["valid"], cache)
    trainer.cache_seconds, trainer.cache_rows = round(cache_seconds, 2), len(encoded)
    return trainer, "bf16" if targs.bf16 else "fp32"


def metered(trainer: Any) -> _Meter:
    meter = _Meter(trainer.data_collator)
    trainer.data_collator = meter
    trainer.add_callback(meter.callback())
    return meter


def arm_train(args: argparse.Namespace) -> dict:
    """Both train loops in one process, in alternating rounds of ROUND_STEPS optimizer steps, so
    that both see the same load from other jobs; stops at the time box after a whole round."""
    arms = {
        "naive": naive_trainer(args, ROUND_STEPS),
        "credtune": credtune_trainer(args, ROUND_STEPS),
        "credtune_frozen": credtune_trainer(args, ROUND_STEPS, train_layers=str(args.train_layers)),
    }
    meters = {name: metered(trainer) for name, (trainer, _) in arms.items()}
    start, rounds = time.perf_counter(), 0
    while rounds * ROUND_STEPS < args.steps and (
        rounds == 0 or time.perf_counter() - start < args.train_budget_s
    ):
        for trainer, _ in arms.values():
            trainer.args.seed = trainer.args.seed + 1  # other batches in every round
            trainer.train()
        rounds += 1
    out = {name: meters[name].summary(t.model, precision) for name, (t, precision) in arms.items()}
    out["credtune"]["sampler"] = str(arms["credtune"][0].args.train_sampling_strategy)
    frozen = arms["credtune_frozen"][0]
    out["credtune_frozen"].update(
        train_layers=args.train_layers, cache_seconds=frozen.cache_seconds, cache_rows=frozen.cache_rows
    )
    out["naive"]["sampler"] = str(arms["naive"][0].args.train_sampling_strategy)
    return {**out, "rounds": rounds, "round_steps": ROUND_STEPS}


def arm_rss_train_naive(args: argparse.Namespace) -> dict:
    trainer, precision = naive_trainer(args, ROUND_STEPS)
    meter = metered(trainer)
    trainer.train()
    return meter.summary(trainer.model, precision)


def arm_rss_train_credtune(args: argparse.Namespace) -> dict:
    trainer, precision = credtune_trainer(args, ROUND_STEPS)
    meter = metered(trainer)
    trainer.train()
    return meter.summary(trainer.model, precision)


def arm_model(args: argparse.Namespace) -> dict:
    """A real credtune model folder (credtune.json + weights) from a 2-step train on 200 rows:
    the weights barely matter for scoring speed."""
    from credtune.api import train

    rec = recipe(args, ["train.max_steps=2", "train.eval_strategy=no", "train.save_strategy=no",
                        "train.disable_tqdm=true", "baselines=[]", "model.hybrid=[]", "distill=null",
                        "data.sample=200"])  # fmt: skip
    target = Path(args.model_dir or Path(args.work_dir) / "model")
    start = time.perf_counter()
    result = train(rec, target.parent / f".{target.name}-run", overwrite=True)
    shutil.rmtree(target, ignore_errors=True)
    shutil.move(result.run_dir / "model", target)
    shutil.rmtree(result.run_dir)
    return {"model_dir": str(target), "seconds": round(time.perf_counter() - start, 1)}


def scorers(args: argparse.Namespace, names: list[str]) -> tuple[dict[str, tuple], Any]:
    """name -> (score function, its input for all rows, the model's texts, what is timed), and the
    tokenizer. The pipeline gets its texts ready-made; credtune's scorer starts from raw rows."""
    import pandas as pd
    from transformers import pipeline

    from credtune import data
    from credtune.scoring import CreditScorer

    df = pd.read_csv(ROOT / "data" / "german_credit.csv").drop(columns=[recipe(args).data.target])
    df = pd.concat([df] * -(-args.rows // len(df)), ignore_index=True).head(args.rows)
    scorer = CreditScorer.from_pretrained(args.model_dir)
    texts = scorer.texts(scorer.records(df))  # exactly the texts credtune's scorer builds
    out: dict[str, tuple] = {}
    if "credtune" in names:
        out["credtune"] = (
            scorer.predict_proba,
            df,
            texts,
            "CreditScorer.from_pretrained(dir).predict_proba(df)",
        )
    call = "pipeline('text-classification', model=dir)(texts)"
    clf = (
        pipeline("text-classification", model=args.model_dir, device="cpu") if len(out) < len(names) else None
    )
    if "pipeline_tabllm" in names:
        rec = recipe(args, TABLLM)
        serializer = data.make_serializer(data.prepare(rec).schema, rec.serialize)
        tabllm = [serializer(row) for row in df.to_dict("records")]
        out["pipeline_tabllm"] = (clf, tabllm, tabllm, call)
    if "pipeline_credtune" in names:
        out["pipeline_credtune"] = (clf, texts, texts, call)
    if "credtune" not in names:
        del scorer  # not part of a pipeline arm's memory
    return out, scorer.tokenizer if "credtune" in names else clf.tokenizer


def run_scoring(args: argparse.Namespace, names: list[str], budget_s: float) -> dict:
    """Score the same chunks of SCORE_CHUNK rows with each method in turn (rotating who goes first)
    until all rows are done or the time box is spent."""
    from transformers import AutoModelForSequenceClassification

    methods, tokenizer = scorers(args, names)
    for fn, inputs, _, _ in methods.values():
        fn(inputs[:4])  # warm-up
    spent, done, start = dict.fromkeys(methods, 0.0), 0, time.perf_counter()
    while done < args.rows and (done == 0 or time.perf_counter() - start < budget_s):
        order = (
            list(methods)[(done // SCORE_CHUNK) % len(methods) :]
            + list(methods)[: (done // SCORE_CHUNK) % len(methods)]
        )
        for name in order:
            fn, inputs, _, _ = methods[name]
            t0 = time.perf_counter()
            fn(inputs[done : done + SCORE_CHUNK])
            spent[name] += time.perf_counter() - t0
        done = min(done + SCORE_CHUNK, args.rows)
    fm = flop_model(AutoModelForSequenceClassification.from_pretrained(args.model_dir))
    out = {}
    for name, (_, _, texts, call) in methods.items():
        lengths = [len(ids) for ids in tokenizer(texts[:done], truncation=True, max_length=512)["input_ids"]]
        out[name] = {"rows": done, "seconds": round(spent[name], 2), "rows_per_s": round(done / spent[name], 2),
                     "mean_tokens_per_row": round(sum(lengths) / done, 1), "call": call,
                     "useful_gflops_per_s": round(forward_flops(fm, lengths) / spent[name] / 1e9, 2)}  # fmt: skip
    return out


def arm_score(args: argparse.Namespace) -> dict:
    return run_scoring(args, ["credtune", "pipeline_tabllm", "pipeline_credtune"], args.score_budget_s)


def _rss_score(name: str) -> Any:
    return lambda args: run_scoring(argparse.Namespace(**{**vars(args), "rows": SCORE_CHUNK}), [name], 0.0)[
        name
    ]


arm_rss_score_credtune = _rss_score("credtune")
arm_rss_score_pipeline_tabllm = _rss_score("pipeline_tabllm")
arm_rss_score_pipeline_credtune = _rss_score("pipeline_credtune")


# -- orchestration --------------------------------------------------------------------------------
def run_arm(name: str, args: argparse.Namespace, **extra: Any) -> dict:
    """One arm in a child process: its result, its own peak RSS and the load around it."""
    out, log = Path(args.work_dir) / f"{name}.json", Path(args.work_dir) / f"{name}.log"
    cmd = [
        sys.executable,
        __file__,
        "--arm",
        name,
        "--payload",
        json.dumps({**vars(args), **extra}),
        "--result",
        str(out),
    ]
    env = {
        **os.environ,
        **(
            {"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
            if args.threads
            else {}
        ),
    }
    print(f"[bench] {name} ...", file=sys.stderr, flush=True)
    load, started = os.getloadavg()[0], time.perf_counter()
    with log.open("w") as handle:
        proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    meta = {"peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "process_wall_s": round(time.perf_counter() - started, 1),
            "load_avg_1m": [round(load, 2), round(os.getloadavg()[0], 2)]}  # fmt: skip
    if os.waitstatus_to_exitcode(status) != 0 or not out.exists():
        lines = log.read_text(errors="replace").strip().splitlines() or ["no output"]
        print(f"[bench] {name} failed: {lines[-1]} (log: {log})", file=sys.stderr)
        return {"error": lines[-1], **meta}
    print(f"[bench] {name} done in {meta['process_wall_s']} s", file=sys.stderr, flush=True)
    return {**json.loads(out.read_text()), **meta}


def ratio(a: Any, b: Any, digits: int = 2) -> float | None:
    ok = isinstance(a, (int, float)) and isinstance(b, (int, float)) and b
    return round(a / b, digits) if ok else None


def add_mfu(res: dict) -> None:
    """MFU = useful FLOP/s (real tokens) / the best peak of the run's precision; HFU counts pads."""
    peaks = [p for p in (res["peak"], res["peak_end"]) if "fp32_gflops" in p]
    best = {k: max((p[f"{k}_gflops"] for p in peaks), default=None) for k in ("fp32", "bf16")}
    res["peak_used"] = best
    for arm in [*res["train"].values(), *res["score"].values()]:
        if isinstance(arm, dict) and "useful_gflops_per_s" in arm:
            peak = best.get(arm.get("precision", "fp32"))
            arm["mfu"] = ratio(arm["useful_gflops_per_s"], peak, 4)
            if "executed_gflops_per_s" in arm:
                arm["hfu"] = ratio(arm["executed_gflops_per_s"], peak, 4)


def targets(res: dict) -> list[dict]:
    tok, train, score, cred = res["tokens"], res["train"], res["score"], res["train"]["credtune"]
    mean = {name: tok[name]["mean"] for name in TOKEN_VARIANTS}
    prec = cred.get("precision", "fp32")
    rows = [
        ("tokens/row, default template (mean)", "<= 100", mean["compact"], lambda v: v <= 100),
        ("tokens/row, default / TabLLM text (all columns)", "<= 0.5", ratio(mean["compact"], mean["tabllm"]), lambda v: v <= 0.5),
        ("tokens/row, default / raw text on the same fields", "<= 0.5", ratio(mean["compact"], mean["text_raw"]), lambda v: v <= 0.5),
        ("train samples/s, credtune / naive", ">= 15", train.get("speedup"), lambda v: v >= 15),
        ("train samples/s of the fastest step, credtune / naive", ">= 15", train.get("speedup_best_step"), lambda v: v >= 15),
        (f"train samples/s, top {res['settings']['train_layers']} layers on cached states / credtune default", ">= 3", train.get("frozen_speedup"), lambda v: v >= 3),
        ("score rows/s, credtune / pipeline on TabLLM text", ">= 5", score.get("speedup_vs_pipeline_tabllm"), lambda v: v >= 5),
        ("score rows/s, credtune / pipeline on credtune text", ">= 2", score.get("speedup_vs_pipeline_credtune"), lambda v: v >= 2),
        (f"train MFU vs {prec} matmul peak ({res['peak_used'][prec]} GFLOP/s)", ">= 0.60 where bf16 is on", cred.get("mfu"), lambda v: v >= 0.6),
    ]  # fmt: skip
    return [
        {"name": n, "target": t, "measured": v, "met": None if v is None else bool(ok(v))}
        for n, t, v, ok in rows
    ]


def markdown(res: dict) -> str:
    p, m = res["peak"], res["machine"]
    lines = [f"## credtune bench: {res['settings']['model']}, {m['threads']} threads, {m['cpu']}", "",
             f"matmul peak (best of start/end): fp32 {res['peak_used']['fp32']} GFLOP/s, bf16 {res['peak_used']['bf16']} "
             f"GFLOP/s; bf16_is_faster={p.get('bf16_is_faster')}; credtune trained in {res['train']['credtune'].get('precision')}; "
             f"load average {m['load_avg_start'][0]:.1f} -> {m['load_avg_end'][0]:.1f} (shared machine: timings are noisy)", "",
             "| template | fields | tokens/row mean | p95 | max |", "|---|---|---|---|---|"]  # fmt: skip
    lines += [
        f"| {n} | {s['fields']} | {s['mean']} | {s['p95']} | {s['max']} |"
        for n, s in res["tokens"].items()
        if isinstance(s, dict)
    ]
    lines += ["", "| train arm | steps | precision | samples/s | best step samples/s | real tok/s | padded width | useful GFLOP/s | MFU | HFU | peak RSS MB |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name in ("naive", "credtune", "credtune_frozen"):
        t = res["train"][name]
        lines.append(f"| {name} | {t.get('steps')} | {t.get('precision')} | {t.get('samples_per_s', t.get('error'))} | {t.get('best_step_samples_per_s')} | "
                     f"{t.get('real_tokens_per_s')} | {t.get('mean_padded_width')} | {t.get('useful_gflops_per_s')} | "
                     f"{t.get('mfu')} | {t.get('hfu')} | {t.get('peak_rss_mb')} |")  # fmt: skip
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

    started = time.perf_counter()
    res: dict[str, Any] = {
        "machine": {"cpu": _cpu_name(), "threads": args.threads or torch.get_num_threads(), "load_avg_start": os.getloadavg(),
                    "torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version()},
        "settings": {k: getattr(args, k) for k in ("model", "steps", "rows", "quick", "threads", "train_budget_s", "score_budget_s", "train_layers")},
    }  # fmt: skip
    res["settings"]["batch_size"] = BATCH
    res["peak"] = run_arm("peak", args)
    res["tokens"] = count_tokens(args)
    res["train"] = both = run_arm("train", args, train_budget_s=args.train_budget_s)
    for name in ("naive", "credtune"):
        probe = run_arm(f"rss-train-{name}", args)
        both[name] = {
            **both.get(name, {"error": both.get("error")}),
            "peak_rss_mb": probe["peak_rss_mb"],
            "rss_probe": probe,
        }
    for key in ("samples_per_s", "best_step_samples_per_s"):  # best step: the least disturbed by other jobs
        speed = [both[name].get(key) for name in ("credtune", "naive")]
        both["speedup" if key == "samples_per_s" else "speedup_best_step"] = ratio(*speed)
    # frozen bottom computed once vs today's default, same rows, same rounds (its MFU counts every layer)
    both["frozen_speedup"] = ratio(
        both["credtune_frozen"].get("samples_per_s"), both["credtune"].get("samples_per_s")
    )
    reuse = bool(args.model_dir and (Path(args.model_dir) / "credtune.json").is_file())
    model = {"model_dir": args.model_dir, "reused": True} if reuse else run_arm("model", args)
    res["model"], res["score"] = model, {}
    if model.get("model_dir"):
        res["score"] = score = run_arm("score", args, model_dir=model["model_dir"])
        for name in ("credtune", "pipeline_tabllm", "pipeline_credtune"):
            probe = run_arm(f"rss-score-{name.replace('_', '-')}", args, model_dir=model["model_dir"])
            score[name] = {
                **score.get(name, {"error": score.get("error")}),
                "peak_rss_mb": probe["peak_rss_mb"],
                "rss_probe": probe,
            }
        for name in ("pipeline_tabllm", "pipeline_credtune"):
            score[f"speedup_vs_{name}"] = ratio(
                score["credtune"].get("rows_per_s"), score[name].get("rows_per_s")
            )
    res["peak_end"] = run_arm("peak", args)  # the machine is shared: a second look at the peak
    res["machine"]["load_avg_end"] = os.getloadavg()
    res["total_seconds"] = round(time.perf_counter() - started, 1)
    add_mfu(res)
    res["targets"] = targets(res)
    return res


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default="minilm", help="backbone: minilm (bundled all-MiniLM-L6-v2) or a model folder"
    )
    parser.add_argument("--quick", action="store_true", help="6 steps, 200 rows, short time boxes")
    parser.add_argument(
        "--train-layers",
        type=int,
        default=0,
        help="top layers that train in the third train arm (the rest frozen, cached)",
    )
    parser.add_argument("--steps", type=int, help="optimizer steps per training arm (default 20, quick 6)")
    parser.add_argument("--rows", type=int, help="rows per scoring arm (default 1000, quick 200)")
    parser.add_argument("--out", default="bench.json", help="results file (default bench.json)")
    parser.add_argument("--model-dir", help="credtune model folder to score with: reused if it holds credtune.json, "
                        "else a 2-step model is trained into it (default: a scratch folder)")  # fmt: skip
    parser.add_argument("--train-budget", type=float, dest="train_budget_s", help="time box of the interleaved train "
                        "arm: no new round after this many seconds (default 300, quick 60)")  # fmt: skip
    parser.add_argument("--score-budget", type=float, dest="score_budget_s",
                        help="time box of the interleaved scoring arm (default 180, quick 30)")  # fmt: skip
    parser.add_argument("--threads", type=int, help="torch/OpenMP threads in every arm (default: torch's, one per core); "
                        "on a machine shared with other jobs, 1 avoids threads waiting for each other")  # fmt: skip
    parser.add_argument("--work-dir", help="scratch folder with each arm's log (default: temporary, removed)")
    parser.add_argument("--arm", choices=ARMS, help=argparse.SUPPRESS)
    parser.add_argument("--payload", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.arm:  # child process
        result = globals()[f"arm_{args.arm.replace('-', '_')}"](
            argparse.Namespace(**json.loads(args.payload))
        )
        Path(args.result).write_text(json.dumps(result, indent=2))
        return 0
    args.steps = args.steps or (6 if args.quick else 20)
    args.rows = args.rows or (200 if args.quick else 1000)
    args.train_budget_s = args.train_budget_s or (60.0 if args.quick else 300.0)
    args.score_budget_s = args.score_budget_s or (30.0 if args.quick else 180.0)
    with tempfile.TemporaryDirectory(prefix="credtune-bench-") as tmp:
        args.work_dir = args.work_dir or tmp
        Path(args.work_dir).mkdir(parents=True, exist_ok=True)
        res = orchestrate(args)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(markdown(res))
    print(f"\nwrote {args.out} ({res['total_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
