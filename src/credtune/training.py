"""The fine-tuning steps: TrainingArguments from a recipe, tokenizing once, the HF Trainer,
margins per row, checkpoints. Orchestrators (`runs.train`, `runs.cv`) call these; this module
writes no run folder and imports no evaluation, report or Hub code.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import RecipeConfig
from .errors import ConfigError, did_you_mean
from .inference import binary_margin

if TYPE_CHECKING:
    from transformers import Trainer, TrainingArguments

# torch/transformers/accelerate are imported inside the functions that use them: importing them
# costs ~8 s of CPU, and a recipe, data or run-folder mistake should be reported before that.

log = logging.getLogger(__name__)

TRAIN_DEFAULTS: dict[str, Any] = {
    "num_train_epochs": 4,
    "learning_rate": 5e-5,
    "per_device_train_batch_size": 16,
    "per_device_eval_batch_size": 64,
    "warmup_steps": 0.1,
    "weight_decay": 0.01,
    "eval_strategy": "epoch",
    "save_strategy": "epoch",
    "save_total_limit": 2,
    "logging_steps": 10,
    "report_to": "none",
    "train_sampling_strategy": "group_by_length",
    "length_column_name": "length",
    "metric_for_best_model": "auc",
    "greater_is_better": True,
}
# With every layer frozen (`model.train_layers: 0`, the default) only the pooler and head train:
# a larger step and more epochs, as every shipped frozen recipe measured (docs/experiments.md)
FROZEN_DEFAULTS: dict[str, Any] = {"learning_rate": 1e-3, "num_train_epochs": 10}


@lru_cache(maxsize=1)
def bf16_is_faster() -> bool:
    """bf16 autocast pays off only where the hardware has bf16 matmul units; measure, don't guess."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    a = torch.randn(256, 256)
    timings = []
    for dtype in (torch.float32, torch.bfloat16):
        x = a.to(dtype)
        x @ x
        start = time.perf_counter()
        for _ in range(4):
            x @ x
        timings.append(time.perf_counter() - start)
    return timings[1] < 0.8 * timings[0]


def train_settings(recipe: RecipeConfig) -> dict[str, Any]:
    """TRAIN_DEFAULTS, FROZEN_DEFAULTS over them when only the head trains, then the recipe's
    `train:` section verbatim."""
    frozen = FROZEN_DEFAULTS if recipe.model.trained_layers(recipe.lora) == 0 else {}
    return {**TRAIN_DEFAULTS, **frozen, **recipe.train}


def training_arguments(recipe: RecipeConfig, output_dir: Path) -> TrainingArguments:
    """The recipe's `train_settings` as `TrainingArguments`; unknown keys get a hint."""
    return trainer_arguments({"seed": recipe.seed, **train_settings(recipe)}, output_dir)


def fit_model(
    trainer: Trainer, recipe: RecipeConfig, task: str, cache: Any, train_ds: Any, checkpoint: Any = None
) -> None:
    """Train: the HF Trainer, or the frozen encoder's head fitted in closed form (`model.head`)."""
    from .head import fit_head, wants_fit

    if wants_fit(recipe, trainer.model, task):
        fit_head(trainer.model, cache, train_ds)
    else:
        trainer.train(resume_from_checkpoint=checkpoint)


def settled(recipe: RecipeConfig, model: Any, task: str) -> RecipeConfig:
    """The recipe as this run trained `model`, each `auto` and default spelled out (target kind,
    layers trained, pooling, head, calibration, every `train:` value): the copy in a run folder then
    retrains the same model after a release changes a default, and a reviewer reads what ran."""
    from .head import wants_fit
    from .pooling import MARK
    from .targets import calibration_method, hybrid_fit_method

    layers = recipe.model.trained_layers(recipe.lora)
    pooling = getattr(model.config, MARK, None)  # mean, ffn or none: what `model.pooling` appended
    head = "fitted" if wants_fit(recipe, model, task) else "trained"
    if pooling == "ffn" and head != "fitted":
        raise ConfigError(
            f"model.pooling: ffn needs a head fitted in closed form; this {task} model's is {head}"
        )
    ran = dataclasses.replace(
        recipe,
        data=dataclasses.replace(recipe.data, task=task),
        model=dataclasses.replace(recipe.model, train_layers=layers, pooling=pooling, head=head),
        train=train_settings(recipe),
    )
    fit = hybrid_fit_method(ran, task)
    if fit == "crossfit" and (task != "binary" or head != "fitted"):
        raise ConfigError(
            f"model.hybrid_fit: crossfit needs a default target whose head is fitted in closed form; this "
            f"{task} model's head is {head}"
        )
    ran = dataclasses.replace(ran, model=dataclasses.replace(ran.model, hybrid_fit=fit))
    return dataclasses.replace(ran, calibration=calibration_method(ran, task))


def trainer_arguments(values: dict[str, Any], output_dir: Path) -> TrainingArguments:
    """`TrainingArguments` from a recipe's settings (defaults merged with its `train:` section):
    unknown keys get a hint, the CPU is used where no GPU is, bf16 only where it is faster."""
    import torch
    from transformers import TrainingArguments

    values = {**values, "output_dir": str(output_dir)}
    fields = {f.name for f in dataclasses.fields(TrainingArguments) if f.init}
    for key in values:
        if key not in fields:
            raise ConfigError(
                f"unknown key 'train.{key}' (not a TrainingArguments field){did_you_mean(key, fields)}"
            )
    if not torch.cuda.is_available():
        values.setdefault("use_cpu", True)
    if values.get("bf16") == "auto" or "bf16" not in values:
        values["bf16"] = bf16_is_faster() and not values.get("fp16", False)
    try:
        return TrainingArguments(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"train: {exc}") from None


def encode(table: Any, serializer: Any, tokenizer: Any, max_length: int) -> Any:
    """Serialize and tokenize every row once (datasets.map, cached); splits and folds select rows."""

    def render(batch: dict[str, list], positions: list[int]) -> dict[str, list]:
        rows = [dict(zip(batch, values)) for values in zip(*batch.values())]
        rendered = [serializer.render(row, tokenizer, max_length) for row in rows]
        texts = [text for text, _ in rendered]
        enc = tokenizer(texts, truncation=True, max_length=max_length)
        return {
            "text": texts,
            "truncated": [cut for _, cut in rendered],
            **enc,
            "length": [len(ids) for ids in enc["input_ids"]],
            "table_row": positions,  # position in the table: the key of a `frozen.FrozenCache`
        }

    return table.map(render, batched=True, with_indices=True, batch_size=256, desc="serializing")


def weighted_loss(labels: np.ndarray):
    """Cross-entropy with inverse-frequency class weights from the training split."""
    import torch

    counts = np.bincount(labels, minlength=2).astype(float)
    weights = torch.tensor(len(labels) / (2 * np.maximum(counts, 1)), dtype=torch.float32)

    def loss(outputs: Any, labels: Any, num_items_in_batch: Any = None) -> Any:
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        per_row = torch.nn.functional.cross_entropy(
            logits.float(), labels, weight=weights.to(logits.device), reduction="sum"
        )
        denom = num_items_in_batch if num_items_in_batch is not None else labels.numel()
        return per_row / denom

    return loss


def soft_target_loss(outputs: Any, labels: Any, num_items_in_batch: Any = None) -> Any:
    """Cross-entropy against a probability of the positive class: hard labels (0/1, evaluation)
    or distillation's mix of label and teacher PD, (1 - w) * y + w * p_teacher, which equals
    (1 - w) * CE(label) + w * CE(teacher) since cross-entropy is linear in its target."""
    import torch

    logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
    target = labels.float()
    log_p = torch.log_softmax(logits.float(), dim=-1)
    per_row = -(target * log_p[:, 1] + (1 - target) * log_p[:, 0])
    denom = num_items_in_batch if num_items_in_batch is not None else labels.numel()
    return per_row.sum() / denom


def compute_metrics(pred: Any) -> dict[str, float]:
    import torch

    from .metrics import credit_metrics

    logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
    if logits.shape[1] != 2:  # multiclass: accuracy; regression: RMSE of the standardized target
        return other_eval_metrics(np.asarray(logits, dtype=np.float64), np.asarray(pred.label_ids))
    probs = torch.softmax(torch.as_tensor(logits, dtype=torch.float32), dim=-1)[:, 1].numpy()
    scores = credit_metrics(np.asarray(pred.label_ids), probs)
    keep = ("auc", "gini", "ks", "pr_auc", "brier", "log_loss")
    return {k: float(v) for k, v in scores.items() if k in keep and v is not None}


def other_eval_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Evaluation-time figures of a multiclass or regression head (the run's own metrics come later)."""
    if logits.shape[1] == 1:
        return {"rmse": float(np.sqrt(np.mean((logits[:, 0] - labels) ** 2)))}
    return {"accuracy": float(np.mean(np.argmax(logits, axis=1) == labels))}


def model_inputs(ds: Any) -> Any:
    keep = ("input_ids", "attention_mask", "token_type_ids", "labels", "length", "table_row")
    return ds.select_columns([c for c in keep if c in ds.column_names])


def build_trainer(
    recipe: RecipeConfig,
    model: Any,
    tokenizer: Any,
    args: TrainingArguments,
    train_ds: Any,
    valid_ds: Any,
    cache: Any = None,
):
    """The HF Trainer for one fine-tune. With a `frozen.FrozenCache` (`model.train_layers`),
    batches carry the frozen layers' cached outputs and only the layers above them run."""
    from torch.utils.data import SequentialSampler
    from transformers import DataCollatorWithPadding, Trainer

    from .frozen import STATES_KEY, CachedCollator, run_top

    class CreditTrainer(Trainer):
        """Trainer whose evaluation keeps row order. transformers 5 applies `group_by_length` to the
        eval sampler too, which returns predictions shuffled relative to the dataset; credtune sorts
        rows by length itself in `predict_margin` and needs them back in order."""

        def _get_eval_sampler(self, eval_dataset: Any) -> Any:
            if eval_dataset is None or self.args.world_size > 1:
                return None  # accelerate shards in order and gathers back in order
            return SequentialSampler(eval_dataset)

        def compute_loss(self, model: Any, inputs: dict, *args: Any, **kwargs: Any) -> Any:
            states = inputs.pop(STATES_KEY, None)
            if states is None:
                return super().compute_loss(model, inputs, *args, **kwargs)
            with run_top(model, cache.n, states):
                return super().compute_loss(model, inputs, *args, **kwargs)

        def prediction_step(self, model: Any, inputs: dict, *args: Any, **kwargs: Any) -> Any:
            states = inputs.pop(STATES_KEY, None)
            if states is None:
                return super().prediction_step(model, inputs, *args, **kwargs)
            with run_top(model, cache.n, states):
                return super().prediction_step(model, inputs, *args, **kwargs)

    labels = np.asarray(train_ds["labels"])
    if recipe.train_loss == "weighted":
        loss = weighted_loss(labels.astype(int))
    elif model.config.problem_type == "regression":
        loss = None  # the model's own MSE on the standardized target
    elif labels.dtype.kind == "f":  # distillation's soft targets
        loss = soft_target_loss
    else:
        loss = None
    collator = DataCollatorWithPadding(tokenizer)
    if cache is not None:
        args.remove_unused_columns = False  # the collator needs `table_row`; it drops it and `length`
        collator = CachedCollator(collator, cache)
    return CreditTrainer(
        model=model,
        args=args,
        train_dataset=model_inputs(train_ds),
        eval_dataset=model_inputs(valid_ds),
        processing_class=tokenizer,
        data_collator=collator,
        compute_metrics=compute_metrics,
        compute_loss_func=loss,
    )


def prepare_frozen(
    recipe: RecipeConfig, model: Any, encoded: Any, tokenizer: Any, cache: Any = None, only: Any = None
) -> Any:
    """With `model.train_layers: k`, freeze all but the top k layers and return the outputs of its
    frozen layers for every row of `encoded`, or for the rows `only` names (`cache`, when given, is
    reused: the frozen weights are the pretrained ones, the same in every fold). None when nothing
    is frozen or the architecture cannot be cached (it is then frozen and run in full)."""
    from .frozen import FrozenCache, can_cache, freeze_bottom, frozen_count

    layers = recipe.model.trained_layers(recipe.lora)
    if layers is None:
        return None
    n = frozen_count(model, layers)
    freeze_bottom(model, n)
    if not n:
        return None  # every layer trains; only the embeddings are frozen
    if cache is not None or not can_cache(model):
        if cache is None:
            log.info("model.train_layers: %s layers are frozen but not cached", model.config.model_type)
        return cache
    started = time.time()
    cache = FrozenCache.build(model, encoded, n, tokenizer.pad_token_id, only=only)
    log.info(
        "frozen layers 0-%d: outputs of %d rows computed once in %.1f s",
        n - 1,
        len(encoded) if only is None else len(only),
        time.time() - started,
    )
    return cache


def predict_logits(trainer: Trainer, ds: Any) -> np.ndarray:
    """The head's outputs (rows, outputs) as float64; rows are run sorted by length (less
    padding) and returned in their original order."""
    order = np.argsort(np.asarray(ds["length"]), kind="stable")
    compute, trainer.compute_metrics = trainer.compute_metrics, None
    try:
        out = trainer.predict(model_inputs(ds.select(order)), metric_key_prefix="predict")
    finally:
        trainer.compute_metrics = compute
    logits = out.predictions[0] if isinstance(out.predictions, tuple) else out.predictions
    result = np.empty((len(order), logits.shape[1]))
    result[order] = np.asarray(logits, dtype=np.float64)
    return result


def predict_margin(trainer: Trainer, ds: Any) -> np.ndarray:
    """Logit margin z = logit(positive) - logit(negative), raw PD = sigmoid(z)."""
    return binary_margin(predict_logits(trainer, ds))


def last_complete_checkpoint(folder: Path) -> str | None:
    """The newest `checkpoint-N` that was fully written. Trainer writes `trainer_state.json`
    last (and not atomically), so a run killed while saving leaves a newer folder without it, or
    with half of it; that folder is skipped (transformers' `get_last_checkpoint` would pick it
    and fail to resume)."""
    if not folder.is_dir():
        return None
    found = [
        (int(p.name.split("-")[1]), p) for p in folder.glob("checkpoint-*") if p.name.split("-")[1].isdigit()
    ]
    for _, path in sorted(found, reverse=True):
        try:
            json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))["global_step"]
            return str(path)
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("--resume: %s was not fully written (killed while saving?); skipped", path.name)
    return None


def gather_full_model(trainer: Any, folder: Path) -> Any:
    """FSDP and DeepSpeed ZeRO-3 shard the weights across ranks. `Trainer.save_model` gathers them
    (every rank must call it); the main process reloads the full model on the CPU so LoRA can be
    merged and the Hub folder written like any other run."""
    trainer.save_model(str(folder))
    if not trainer.is_world_process_zero():
        return None
    if (folder / "adapter_config.json").is_file():
        from peft import AutoPeftModelForSequenceClassification

        return AutoPeftModelForSequenceClassification.from_pretrained(folder)
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(folder)


def token_stats(lengths: list[int]) -> dict[str, float]:
    arr = np.asarray(lengths)
    return {"mean": round(float(arr.mean()), 1), "p95": float(np.percentile(arr, 95)), "max": int(arr.max())}


def report_cuts(encoded: Any, max_length: int) -> int:
    """Say how many rows lost words to the token budget; returns the rows whose notes were cut."""
    n_cut = int(sum(encoded["truncated"]))
    if n_cut:
        log.warning("notes were shortened to fit model.max_length=%d in %d row(s)", max_length, n_cut)
    n_full = int(sum(n >= max_length for n in encoded["length"]))
    if n_full > n_cut:
        log.warning(
            "%d row(s) reach model.max_length=%d without notes to shorten: their last fields are cut off; "
            "raise model.max_length or shorten field labels (see `credtune preview`)",
            n_full - n_cut,
            max_length,
        )
    return n_cut
