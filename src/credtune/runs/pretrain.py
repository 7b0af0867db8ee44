"""`credtune pretrain`: continued pretraining of a backbone on serialized records.

Run folder (`runs/<name>/`): `backbone/` (Hub format: safetensors with the source's pooler kept,
tokenizer, config, README.md model card, `credtune_pretrain.json`: the rows pretrained on,
written atomically), `recipe.yaml`, `checkpoints/`, and `metrics.json`, written last: its
presence means the run finished. `credtune train RECIPE model.name=runs/<name>/backbone`
fine-tunes the backbone.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..files import replace_folder, write_json_atomic
from ..pretrain_config import PretrainConfig, dump_pretrain
from ..pretrain_corpus import RECORD, CorpusTable, build_corpus, corpus_record, load_record
from ..training import last_complete_checkpoint, token_stats
from . import DONE_MARKER, RunResult, check_run_dir

log = logging.getLogger(__name__)


def pretrain(
    cfg: PretrainConfig,
    output_dir: str | Path | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
) -> RunResult:
    """Pretrain `cfg`'s backbone on its tables and write a run folder with `backbone/`.

    Every check that can fail (run folder, tables, `train:` keys, model folder) runs before an
    existing run is cleared and before any weights are loaded."""
    from accelerate import PartialState

    from ..modeling import load_tokenizer
    from ..pretraining import lm_kind, model_config, pretrain_arguments

    run_dir = Path(output_dir) if output_dir else Path("runs") / cfg.name
    clear = check_run_dir(run_dir, resume, overwrite)
    started = time.time()
    tables = build_corpus(cfg)
    args = pretrain_arguments(cfg, run_dir / "checkpoints")
    kind = lm_kind(cfg.model)
    if kind == "clm" and cfg.masking == "field":
        log.info(
            "%s is a decoder: pretrained as a causal LM (next token); masking does not apply", cfg.model.name
        )
    added = tuple(dict.fromkeys(token for t in tables for token in t.serializer.added_tokens))
    tokenizer = load_tokenizer(model_config(cfg.model), added)  # magnitude tokens learn their meaning here
    state = PartialState()
    if clear and state.is_main_process:
        shutil.rmtree(run_dir)
    state.wait_for_everyone()
    with state.main_process_first():
        encoded = encode_corpus(
            tables, tokenizer, cfg, field_masking=kind == "mlm" and cfg.masking == "field"
        )
    per_table = table_stats(encoded, tables, cfg.model.max_length)
    trainer, n_rows, scores = train_backbone(cfg, kind, tokenizer, args, encoded, run_dir, resume)
    if not trainer.is_world_process_zero():
        state.wait_for_everyone()
        return RunResult(run_dir, {})
    facts = run_facts(cfg, kind, trainer, {"rows": n_rows, "tables": per_table, **scores})
    facts["wall_seconds"] = round(time.time() - started, 1)
    finish_run(cfg, trainer, tokenizer, tables, run_dir, facts)
    state.wait_for_everyone()
    return RunResult(run_dir, facts)


def run_facts(cfg: PretrainConfig, kind: str, trainer: Any, measured: dict[str, Any]) -> dict[str, Any]:
    """metrics.json: what was pretrained on, how, and the losses."""
    logged = trainer.state.log_history
    losses = [e["loss"] for e in logged if "loss" in e] or [
        e["train_loss"] for e in logged if "train_loss" in e
    ]
    return {
        "kind": "pretrain",
        "base_model": _base_model(cfg),
        "objective": "causal LM" if kind == "clm" else f"masked LM, {cfg.masking} masking",
        "masking": None if kind == "clm" else cfg.masking,
        "mlm_probability": None if kind == "clm" else cfg.probability,
        "max_length": cfg.model.max_length,
        "epochs": round(float(trainer.state.epoch or 0), 3),
        "steps": int(trainer.state.global_step),
        "train_loss": losses[-1] if losses else None,  # the last logged (or, if none, the mean) loss
        **measured,
    }


def encode_corpus(tables: list[CorpusTable], tokenizer: Any, cfg: PretrainConfig, field_masking: bool) -> Any:
    import datasets

    from ..pretraining import encode_table

    parts = [
        encode_table(t.table, t.serializer, tokenizer, cfg.model.max_length, field_masking, tag)
        for tag, t in enumerate(tables)
    ]
    return datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]


def table_stats(encoded: Any, tables: list[CorpusTable], max_length: int) -> dict[str, Any]:
    """Rows, tokens per row and rows cut by the token budget, per table (cuts are warned about)."""
    tag = np.asarray(encoded["table"])
    lengths, cut = np.asarray(encoded["length"]), np.asarray(encoded["truncated"], dtype=bool)
    out = {}
    for i, table in enumerate(tables):
        mine = tag == i
        full = int(((lengths >= max_length) & mine & ~cut).sum())
        n_cut = int((cut & mine).sum())
        if full or n_cut:
            log.warning(
                "%s: %d of %d rows reach model.max_length=%d (%d with notes shortened, %d with their last "
                "fields cut off); raise model.max_length or leave columns out (data.exclude)",
                table.name,
                full + n_cut,
                int(mine.sum()),
                max_length,
                n_cut,
                full,
            )
        out[table.name] = {
            "file": table.path.name,
            "rows": int(mine.sum()),
            "rows_in_file": table.rows_in_file,
            "excluded_evaluation_rows": table.excluded,
            "fields": len(table.columns),
            "tokens_per_row": token_stats(list(lengths[mine])),
            "rows_cut": full + n_cut,
        }
    return out


def train_backbone(
    cfg: PretrainConfig, kind: str, tokenizer: Any, args: Any, encoded: Any, run_dir: Path, resume: bool
) -> tuple[Any, dict[str, int], dict[str, Any]]:
    """Trainer.train (from the last complete checkpoint with --resume), then one evaluation on the
    held-out records: the trainer, rows per part, and the scores."""
    from ..modeling import embed_added_tokens
    from ..pretraining import build_pretrainer, hold_out, load_lm, record_collator

    train_ds, eval_ds = hold_out(encoded, cfg.eval_share, cfg.seed)
    model = load_lm(cfg.model, kind, cfg.seed)
    embed_added_tokens(model, tokenizer)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    collator = record_collator(tokenizer, kind, cfg.masking, cfg.probability, cfg.seed)
    trainer = build_pretrainer(model, tokenizer, args, train_ds, eval_ds, collator)
    checkpoint = last_complete_checkpoint(run_dir / "checkpoints") if resume else None
    if resume and checkpoint is None:
        log.warning("--resume: no complete checkpoint in %s, starting from scratch", run_dir / "checkpoints")
    elif checkpoint:
        log.info("--resume: continuing from %s", checkpoint)
    started = time.time()
    trainer.train(resume_from_checkpoint=checkpoint)
    scores: dict[str, Any] = {"train_seconds": round(time.time() - started, 1)}
    out = trainer.evaluate() if eval_ds is not None else {}
    scores.update(eval_loss=out.get("eval_loss"), masked_token_accuracy=out.get("eval_accuracy"))
    rows = {"train": len(train_ds), "eval": 0 if eval_ds is None else len(eval_ds)}
    return trainer, rows, scores


def _base_model(cfg: PretrainConfig) -> str:
    """The Hub id the chain of pretraining started from (never a path of this machine)."""
    from ..modeling import base_model_id

    earlier = load_record(cfg.model.name)
    return (
        str(earlier["base_model"]) if earlier and earlier.get("base_model") else base_model_id(cfg.model.name)
    )


def finish_run(
    cfg: PretrainConfig, trainer: Any, tokenizer: Any, tables: list[CorpusTable], run_dir: Path, facts: dict
) -> None:
    """backbone/ (weights with the source's pooler, tokenizer, card, corpus record), recipe.yaml,
    and last metrics.json."""
    from ..pretraining import pooler_weights, save_backbone

    model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    extra = pooler_weights(cfg.model, model) if facts["masking"] is not None else {}
    keys = ("base_model", "objective", "masking", "mlm_probability", "max_length")
    record = corpus_record(tables, {k: facts[k] for k in keys}, load_record(cfg.model.name))

    def write(folder: Path) -> None:
        save_backbone(model, tokenizer, folder, extra)
        write_json_atomic(folder / RECORD, record)
        (folder / "README.md").write_text(backbone_card(cfg, facts), encoding="utf-8")

    replace_folder(run_dir / "backbone", write)
    (run_dir / "recipe.yaml").write_text(dump_pretrain(cfg), encoding="utf-8")
    write_json_atomic(run_dir / DONE_MARKER, facts)


def backbone_card(cfg: PretrainConfig, facts: dict[str, Any]) -> str:
    """README.md of the backbone: what it was pretrained on and how, and how to fine-tune it."""

    def num(value: Any, digits: int = 4) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    rows = [
        f"| {name} | `{t['file']}` | {t['rows']:,} of {t['rows_in_file']:,} | {t['excluded_evaluation_rows']:,} "
        f"| {t['fields']} | {t['tokens_per_row']['mean']} | {t['rows_cut']:,} |"
        for name, t in facts["tables"].items()
    ]
    masking = (
        f"{facts['objective']} ({facts['mlm_probability']:.0%} of the "
        f"{'fields' if facts['masking'] == 'field' else 'tokens'} of each record masked)"
        if facts["masking"]
        else facts["objective"]
    )
    return "\n".join(
        [
            "---",
            "library_name: transformers",
            f"base_model: {facts['base_model']}",
            f"pipeline_tag: {'fill-mask' if facts['masking'] else 'text-generation'}",
            "tags: [credtune, credit-risk, tabular, continued-pretraining]",
            "---",
            "",
            f"# {cfg.name}: {facts['base_model']} pretrained on serialized credit records",
            "",
            f"Continued pretraining with `credtune pretrain`: {masking}, {facts['epochs']:g} epoch(s), "
            f"{facts['steps']} steps, records of at most {facts['max_length']} tokens.",
            "",
            "| table | file | rows pretrained on | evaluation rows left out | fields | tokens/row | rows cut |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"- final training loss: {num(facts['train_loss'])}",
            f"- loss on {facts['rows']['eval']:,} held-out records: {num(facts['eval_loss'])}",
            f"- masked-token accuracy on them: {num(facts['masked_token_accuracy'], 3)}",
            f"- wall time: {facts['wall_seconds']:.0f} s",
            "",
            "Target, id, excluded and protected columns were never serialized. `credtune_pretrain.json` "
            "records a fingerprint of every row pretrained on: `credtune train` and `credtune cv` refuse "
            "to evaluate this backbone on rows it has seen.",
            "",
            "Fine-tune it: `credtune train RECIPE model.name=<this folder>`.",
            "",
        ]
    )
