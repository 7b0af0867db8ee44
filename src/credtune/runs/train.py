"""`credtune train`: fine-tune, calibrate, evaluate against the baselines, write the run folder.

Run folder (`runs/<recipe>/`): `model/` (Hub format + credtune.json + model card, written
atomically), `metrics.json` (written last: its presence means the run finished), `recipe.yaml`,
`report.md`/`report.html`, `checkpoints/`. Under `accelerate launch`/`torchrun` every rank
trains; only the main process writes artifacts.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import data as data_mod
from ..config import RecipeConfig, dump_recipe
from ..contract import ModelSpec
from ..distill import distilled_train_set
from ..files import replace_folder, write_json_atomic
from ..inference import binary_margin
from ..targets import standardized
from ..training import (
    build_trainer,
    encode,
    fit_model,
    gather_full_model,
    last_complete_checkpoint,
    predict_logits,
    prepare_frozen,
    report_cuts,
    settled,
    token_stats,
    training_arguments,
)
from . import DONE_MARKER, RunResult, check_run_dir
from .folds import CvInputs, crossfit_held, freeze_long_lived, thaws_frozen

log = logging.getLogger(__name__)


@thaws_frozen
def train(
    recipe: RecipeConfig,
    output_dir: str | Path | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
) -> RunResult:
    """Fine-tune `recipe`'s model on its data and write a complete run folder.

    Every check that can fail (run folder, data, `train:` keys, model folder, the baselines' fits)
    runs before an existing run is cleared and before the encoder's pass."""
    run_dir = Path(output_dir) if output_dir else Path("runs") / recipe.name
    clear = check_run_dir(run_dir, resume, overwrite)
    started = time.time()
    prep = data_mod.prepare(recipe)  # datasets' cache is file-locked: safe on every rank at once
    from ..pretrain_corpus import check_no_overlap  # a pretrained backbone must not have seen them

    check_no_overlap(recipe.model.name, prep.table, "held out", [*prep.splits["valid"], *prep.splits["test"]])
    args = training_arguments(recipe, run_dir / "checkpoints")
    from accelerate import PartialState

    from ..modeling import load_model, load_tokenizer

    state = PartialState()
    tokenizer = load_tokenizer(recipe.model, prep.serializer.added_tokens)
    model = load_model(
        recipe.model,
        prep.schema["label_names"],
        tokenizer,
        recipe.lora,
        recipe.seed,
        prep.task,
        recipe.fits_head(prep.task),
    )
    # crossfit: every row outside test trains the shipped parts; weights learn from k-fold predictions
    crossfit = settled(recipe, model, prep.task).model.hybrid_fit == "crossfit"
    fit_rows = (
        np.sort(np.r_[prep.splits["train"], prep.splits["valid"]]) if crossfit else prep.splits["train"]
    )
    components = fit_baselines(recipe, prep, fit_rows)  # a baseline that cannot be fitted stops us here
    if clear and state.is_main_process:
        shutil.rmtree(run_dir)
    state.wait_for_everyone()
    with state.main_process_first():
        encoded = encode(prep.table, prep.serializer, tokenizer, recipe.model.max_length)
    split = {name: encoded.select(idx) for name, idx in prep.splits.items()}
    fit_split = dict(split)
    if prep.task == "regression":  # the head learns the standardized target
        scale = prep.schema["target_scale"]
        fit_split = {name: standardized(ds, scale) for name, ds in split.items()}
    n_cut = report_cuts(encoded, recipe.model.max_length)
    # the test rows are scored from the saved model, as `credtune score` will: no cached states
    cache = prepare_frozen(
        recipe, model, encoded, tokenizer, only=np.r_[prep.splits["train"], prep.splits["valid"]]
    )
    freeze_long_lived()
    held, train_ds = None, fit_split["train"]
    if crossfit:
        frame = prep.table.to_pandas()
        labels = frame["labels"].to_numpy(dtype=int)
        inputs = CvInputs(prep, labels, encoded, frame, tokenizer, state, cache)
        held = crossfit_held(recipe, inputs, fit_rows, run_dir)
        train_ds = encoded.select(fit_rows)
    if recipe.distill is not None:
        frame = prep.table.select(fit_rows).to_pandas()
        train_ds, cache = distilled_train_set(recipe, train_ds, frame, prep, tokenizer, model, cache)
    trainer = build_trainer(recipe, model, tokenizer, args, train_ds, fit_split["valid"], cache)
    checkpoint = last_complete_checkpoint(run_dir / "checkpoints") if resume else None
    if resume and checkpoint is None:
        log.warning("--resume: no complete checkpoint in %s, starting from scratch", run_dir / "checkpoints")
    elif checkpoint:
        log.info("--resume: continuing from %s", checkpoint)
    fit_model(trainer, recipe, prep.task, cache, train_ds, checkpoint)
    train_seconds = time.time() - started
    # With the frozen layers cached, the training and validation rows' outputs (stability check,
    # calibration, threshold, stack weights) come from the cached states, the same model, instead of
    # a second encoder pass. The test rows are scored from the saved model, as `credtune score` will.
    reuse = ("train", "valid") if cache is not None else ()
    cached = {name: predict_logits(trainer, fit_split[name]) for name in reuse}
    # accelerate runs forward under bf16 autocast by patching `model.forward`; drop that wrapper so
    # the metrics are computed in fp32, as `CreditScorer` scores the saved folder
    model_to_save = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    if trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled:
        model_to_save = gather_full_model(trainer, run_dir / ".gathered")
    if trainer.is_world_process_zero():
        rows = {name: int(len(idx)) for name, idx in prep.splits.items()}
        if crossfit:  # the validation rows trained the parts too
            rows = {"train": len(fit_rows), "test": rows["test"]}
        facts = {"rows": rows, "world_size": state.num_processes, "seconds": round(train_seconds, 1)}
        metrics = finish_run(
            recipe,
            prep,
            split,
            model_to_save,
            tokenizer,
            run_dir,
            facts,
            n_cut,
            encoded,
            components,
            cached,
            held,
        )
    else:
        metrics = {}
    state.wait_for_everyone()
    return RunResult(run_dir, metrics)


def fit_baselines(recipe: RecipeConfig, prep: Any, rows: np.ndarray) -> dict[str, Any]:
    """The baselines and hybrid components, fitted on `rows` (the training split, with `crossfit`
    the validation split too) before the transformer."""
    from ..evaluation import fit_recipe_components, labels_of

    train = prep.table.select(rows).to_pandas()
    return fit_recipe_components(recipe, train, labels_of(train, prep.task), prep)


def test_predictions(prep: Any, margin: Any, pds: dict[str, Any]) -> dict[str, Any]:
    """Each test row's margin and PD per model (row = position in the labelled table, and its id):
    what `credtune score` on the same rows must reproduce."""
    out: dict[str, Any] = {"row": [int(i) for i in prep.splits["test"]]}
    id_column = prep.schema.get("id")
    if id_column:
        out["id"] = list(prep.split("test")[id_column])
    out["margin"] = [float(m) for m in margin]
    out["pd"] = {name: [float(p) for p in values] for name, values in pds.items()}
    return out


def _evaluate_binary(
    recipe: RecipeConfig, prep: Any, split: dict, scorer: Any, components: dict, cached: dict, held: Any
) -> tuple:
    from ..evaluation import evaluate_run

    margins = {
        name: binary_margin(cached[name]) if name in cached else scorer.margins_for_texts(list(ds["text"]))
        for name, ds in split.items()
    }
    evaluation = evaluate_run(recipe, prep, margins, components, held)
    return evaluation, test_predictions(prep, margins["test"], evaluation.arrays["pd"])


def finish_run(
    recipe: RecipeConfig,
    prep: Any,
    split: dict[str, Any],
    model: Any,
    tokenizer: Any,
    run_dir: Path,
    facts: dict[str, Any],
    n_cut: int,
    encoded: Any,
    components: dict[str, Any],
    cached: dict[str, Any] | None = None,
    held: Any = None,
) -> dict[str, Any]:
    """Evaluate the model as it is shipped, then write model/, recipe.yaml, the report and, last,
    metrics.json.

    The test margins come from the saved model run by `CreditScorer` (fp32, LoRA merged), not
    from the Trainer, whose evaluation runs under bf16 autocast where the hardware has it: so
    `credtune score` on the test rows reproduces metrics.json's PDs. `cached` holds head outputs
    already computed for other splits (train and valid, from cached frozen layers); splits not in
    it are scored by `CreditScorer` too. `held`: the cross-fitted predictions of `model.hybrid_fit:
    crossfit` that calibrate and stack (None: the validation split)."""
    import transformers

    from ..evaluation_kinds import evaluate_kind_run, kind_predictions, stability_rows
    from ..hub import model_card
    from ..modeling import base_model_id, merged
    from ..report import write_report
    from ..scoring import CreditScorer

    cached = cached or {}
    spec = ModelSpec(
        schema=prep.schema,
        serializer=prep.serializer.to_dict(),
        max_length=recipe.model.max_length,
        base_model=base_model_id(recipe.model.name),
        points=dataclasses.asdict(recipe.points),
        costs={
            "cost_bad_approved": recipe.decision.cost_bad_approved,
            "cost_good_rejected": recipe.decision.cost_good_rejected,
        },
        training={
            **facts,
            "mask_pii": recipe.serialize.mask_pii,
            "truncated_rows": n_cut,
            "transformers": transformers.__version__,
        },
    )
    scorer = CreditScorer(merged(model), tokenizer, spec)
    recipe = settled(recipe, scorer.model, prep.task)  # e.g. the calibration `auto` meant for this head
    if prep.task == "binary":
        evaluation, predictions = _evaluate_binary(recipe, prep, split, scorer, components, cached, held)
        spec.threshold = evaluation.metrics["decision"]["threshold"]  # for the shipped model
        spec.training["fitted_on"] = evaluation.metrics["fitted_on"]  # so `evaluate` can say it
        spec.blend = evaluation.blend
    else:
        sample = stability_rows(len(split["train"]), recipe.seed)  # the training rows' outputs only feed PSI
        texts = {**{n: ds["text"] for n, ds in split.items()}, "train": split["train"].select(sample)["text"]}
        known = {**cached, "train": cached["train"][sample]} if cached else {}
        logits = {n: known[n] if n in known else scorer.logits_for_texts(list(t)) for n, t in texts.items()}
        evaluation = evaluate_kind_run(recipe, prep, logits, components, sample)
        predictions = kind_predictions(prep, evaluation.arrays.get("proba") or evaluation.arrays["pred"])
    spec.calibration = evaluation.calibrator
    metrics = {
        **evaluation.metrics,
        "tokens_per_row": token_stats(encoded["length"]),
        "truncated_rows": n_cut,
        "train_seconds": facts["seconds"],
        "world_size": facts["world_size"],
        "test_predictions": predictions,
    }
    if n_cut:  # the report's first line: how much of the notes the model never read
        cut = recipe.serialize.notes_cut.replace("_", " and ")
        metrics["note"] = (
            f"Notes were cut to fit model.max_length={recipe.model.max_length} tokens in {n_cut:,} of "
            f"{len(encoded):,} rows (each kept its {cut}); every structured field was read whole."
        )
    card = model_card(spec, metrics, recipe)
    shipped = CreditScorer(scorer.model, tokenizer, spec, card=card, hybrid=evaluation.hybrid)
    replace_folder(run_dir / "model", shipped.save_pretrained)
    shutil.rmtree(run_dir / ".gathered", ignore_errors=True)
    (run_dir / "recipe.yaml").write_text(dump_recipe(recipe), encoding="utf-8")
    write_report(run_dir, metrics, evaluation.arrays, title=f"credtune run: {recipe.name}")
    write_json_atomic(run_dir / DONE_MARKER, metrics)
    return metrics
