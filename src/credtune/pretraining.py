"""Continued pretraining steps: the backbone's language-model head, the corpus tokenized once,
field or token masking through a `DataCollatorForLanguageModeling`, the HF Trainer, and the
backbone folder saved so that `credtune train` fine-tunes it. No run folder is written here
(`runs.pretrain` does that); which rows are pretrained on is `pretrain_corpus`.

Encoders (BERT, RoBERTa, DeBERTa, MiniLM) learn as masked LMs: with `masking: field`, every token
of a chosen field's value is masked, so the model predicts a field from the others, as a credit
model must read them; `masking: token` is BERT's token masking. Decoders learn as causal LMs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from transformers import DataCollatorForLanguageModeling

from .config import ModelConfig
from .errors import ModelError
from .modeling import check_model_folder, is_decoder, looks_local, resolve_model_name
from .pretrain_config import PretrainConfig, PretrainModelConfig
from .training import trainer_arguments

log = logging.getLogger(__name__)
MODEL_KEYS = ("input_ids", "attention_mask", "token_type_ids")
PRETRAIN_DEFAULTS: dict[str, Any] = {
    "num_train_epochs": 1,
    "learning_rate": 5e-5,
    "per_device_train_batch_size": 16,
    "per_device_eval_batch_size": 32,
    "warmup_steps": 0.06,
    "weight_decay": 0.01,
    "eval_strategy": "no",  # one evaluation on the held-out records at the end
    "save_strategy": "steps",
    "save_steps": 100,
    "save_total_limit": 1,
    "logging_steps": 10,
    "report_to": "none",
    "train_sampling_strategy": "group_by_length",
    "length_column_name": "length",
}


def pretrain_arguments(cfg: PretrainConfig, output_dir: Path) -> Any:
    """PRETRAIN_DEFAULTS, then the recipe's `train:` section verbatim; unknown keys get a hint.
    Columns are never dropped by the Trainer: the collator reads each token's field from them."""
    values = {**PRETRAIN_DEFAULTS, "seed": cfg.seed, **cfg.train, "remove_unused_columns": False}
    return trainer_arguments(values, output_dir)


def model_config(cfg: PretrainModelConfig) -> ModelConfig:
    """The fine-tuning model settings that loading a tokenizer or checking a folder reads."""
    return ModelConfig(
        name=cfg.name,
        max_length=cfg.max_length,
        trust_remote_code=cfg.trust_remote_code,
        allow_pickle=cfg.allow_pickle,
    )


def lm_kind(cfg: PretrainModelConfig) -> str:
    """ "mlm" for an encoder with a masked-LM head in transformers, "clm" for a decoder; a model
    type with neither (vision, seq2seq, ...) cannot be pretrained on text: one line."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    name = resolve_model_name(cfg.name)
    if looks_local(name):
        check_model_folder(name, cfg.allow_pickle, "model.name")
    try:
        config = AutoConfig.from_pretrained(name, trust_remote_code=cfg.trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load model '{cfg.name}': {str(exc).splitlines()[0]}") from None
    kind = getattr(config, "model_type", "")
    if is_decoder(config):  # known only as a causal LM, or configured as a decoder
        return "clm"
    if kind in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return "mlm"
    raise ModelError(
        f"model.name {cfg.name}: a '{kind or 'unknown'}' model has neither a masked-LM nor a causal-LM "
        "head in transformers, so it cannot be pretrained on text; use an encoder (BERT, RoBERTa, "
        "DeBERTa, MiniLM) or a decoder (Llama, Qwen, SmolLM2)"
    )


def load_lm(cfg: PretrainModelConfig, kind: str, seed: int) -> Any:
    """The backbone with its language-model head (a head the checkpoint lacks starts seeded)."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

    auto = AutoModelForMaskedLM if kind == "mlm" else AutoModelForCausalLM
    transformers.set_seed(seed)
    try:
        model = auto.from_pretrained(
            resolve_model_name(cfg.name),
            trust_remote_code=cfg.trust_remote_code,
            use_safetensors=None if cfg.allow_pickle else True,
            dtype=torch.float32,
        )
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load model '{cfg.name}': {str(exc).splitlines()[0]}") from None
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    return model


# -- the corpus, tokenized once ---------------------------------------------------------------
def field_index(offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[int]:
    """For each token (character `offsets`), the field whose value span it falls in, else -1
    (special tokens, field labels, separators)."""
    out, j = [], 0
    for start, end in offsets:
        if end <= start:
            out.append(-1)
            continue
        while j < len(spans) and spans[j][1] <= start:
            j += 1
        out.append(j if j < len(spans) and spans[j][0] < end else -1)
    return out


def encode_table(table: Any, serializer: Any, tokenizer: Any, max_length: int, fields: bool, tag: int) -> Any:
    """Serialize and tokenize a corpus table (datasets.map); with `fields`, each token's field."""
    if fields and not getattr(tokenizer, "is_fast", False):
        raise ModelError("masking: field needs a fast tokenizer (character offsets); use masking: token")

    def render(batch: dict[str, list]) -> dict[str, list]:
        rows = [dict(zip(batch, values)) for values in zip(*batch.values())]
        rendered = [serializer.render(row, tokenizer, max_length) for row in rows]
        texts = [text for text, _ in rendered]
        enc = tokenizer(texts, truncation=True, max_length=max_length, return_offsets_mapping=fields)
        out = {k: enc[k] for k in MODEL_KEYS if k in enc}
        if fields:
            out["field_index"] = [
                field_index(offsets, serializer.value_spans(text))
                for offsets, text in zip(enc["offset_mapping"], texts)
            ]
        n = len(texts)
        lengths = [len(ids) for ids in enc["input_ids"]]
        return {**out, "truncated": [cut for _, cut in rendered], "length": lengths, "table": [tag] * n}

    return table.map(
        render, batched=True, batch_size=256, remove_columns=table.column_names, desc="serializing"
    )


def hold_out(encoded: Any, share: float, seed: int) -> tuple[Any, Any]:
    """Train and held-out records (`share` of them, at least one when any is asked for)."""
    n_eval = int(round(share * len(encoded)))
    n_eval = max(n_eval, 1) if share > 0 and len(encoded) > 20 else n_eval
    if n_eval == 0:
        return encoded, None
    order = np.random.default_rng(seed).permutation(len(encoded))
    return encoded.select(np.sort(order[n_eval:])), encoded.select(np.sort(order[:n_eval]))


# -- masking ----------------------------------------------------------------------------------
@dataclass
class RecordCollator(DataCollatorForLanguageModeling):
    """Pads records and makes the labels: causal LM (`mlm=False`), BERT token masking, or, with
    `field_masking`, whole field values. Each chosen field (`mlm_probability` of the fields of a
    record, at least one) has every token of its value masked; as in BERT, `mask_replace_prob` of
    those tokens become [MASK], `random_replace_prob` random tokens, the rest stay. Columns other
    than the model's inputs (lengths, table, each token's field) are dropped here."""

    field_masking: bool = False

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        self._fields = [list(ex["field_index"]) for ex in examples] if self.field_masking else None
        try:
            return super().torch_call([{k: ex[k] for k in MODEL_KEYS if k in ex} for ex in examples])
        finally:
            self._fields = None

    def torch_mask_tokens(self, inputs: Any, special_tokens_mask: Any = None, offset_mapping: Any = None):
        if getattr(self, "_fields", None) is None:
            return super().torch_mask_tokens(inputs, special_tokens_mask, offset_mapping)
        import torch

        fields = torch.full(inputs.shape, -1, dtype=torch.long)
        for row, index in enumerate(self._fields):
            index = index[: inputs.shape[1]]
            fields[row, : len(index)] = torch.tensor(index, dtype=torch.long)
        n_fields = fields.max(dim=1).values + 1  # fields present in each (possibly cut) record
        width = max(int(n_fields.max()), 1)
        present = torch.arange(width)[None, :] < n_fields[:, None]
        chosen = torch.bernoulli(torch.full(present.shape, self.mlm_probability), generator=self.generator)
        chosen = chosen.bool() & present
        lonely = ~chosen.any(dim=1) & (n_fields > 0)  # every record has a field to predict
        pick = (torch.rand(len(inputs), generator=self.generator) * n_fields.clamp(min=1)).long()
        chosen[lonely, pick[lonely]] = True
        masked = (fields >= 0) & chosen.gather(1, fields.clamp(min=0))
        labels = inputs.clone()
        labels[~masked] = -100
        replace = torch.bernoulli(torch.full(inputs.shape, self.mask_replace_prob), generator=self.generator)
        replace = replace.bool() & masked
        inputs[replace] = self.tokenizer.convert_tokens_to_ids(self.tokenizer.mask_token)
        rest = 1 - self.mask_replace_prob
        if self.random_replace_prob > 0 and rest > 0:
            scaled = min(self.random_replace_prob / rest, 1.0)
            swap = torch.bernoulli(torch.full(inputs.shape, scaled), generator=self.generator).bool()
            swap &= masked & ~replace
            words = torch.randint(
                len(self.tokenizer), inputs.shape, dtype=torch.long, generator=self.generator
            )
            inputs[swap] = words[swap]
        return inputs, labels


def record_collator(tokenizer: Any, kind: str, masking: str, probability: float, seed: int) -> RecordCollator:
    if kind == "clm":
        return RecordCollator(tokenizer, mlm=False, mlm_probability=None, seed=seed)
    return RecordCollator(tokenizer, mlm_probability=probability, seed=seed, field_masking=masking == "field")


# -- the Trainer ------------------------------------------------------------------------------
def build_pretrainer(
    model: Any, tokenizer: Any, args: Any, train_ds: Any, eval_ds: Any, collator: Any
) -> Any:
    import torch
    from transformers import Trainer

    class PretrainTrainer(Trainer):
        """A masked LM scores only the masked positions (about a tenth of the tokens): the base
        model's hidden states are cut to those rows before the head, whose vocabulary-wide
        projection would otherwise cost as much as the whole encoder."""

        def compute_loss(
            self, model: Any, inputs: dict, return_outputs: bool = False, num_items_in_batch=None
        ):
            labels = inputs.get("labels")
            if not collator.mlm or labels is None or not (labels != -100).any():
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            scored = labels != -100
            base = self.accelerator.unwrap_model(model).base_model
            hook = base.register_forward_hook(lambda module, args, out: only_rows(out, scored))
            try:
                outputs = model(**{**inputs, "labels": labels[scored][None, :]})
            finally:
                hook.remove()
            if not return_outputs:
                return outputs["loss"]
            predicted = torch.full_like(labels, -100)
            predicted[scored] = outputs["logits"][0].argmax(-1)
            return outputs["loss"], {"logits": predicted}

    causal = not collator.mlm
    return PretrainTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        data_collator=collator,
        compute_metrics=lambda pred: {"accuracy": token_accuracy(pred.predictions, pred.label_ids, causal)},
        preprocess_logits_for_metrics=predicted_tokens,
    )


def only_rows(out: Any, scored: Any) -> Any:
    """The base model's output with its last hidden states cut to the `scored` positions, as one
    sequence (1, n, hidden): the head and the loss then see only the masked tokens."""
    if isinstance(out, tuple):
        return (out[0][scored][None], *out[1:])
    out["last_hidden_state"] = out["last_hidden_state"][scored][None]
    return out


def predicted_tokens(logits: Any, labels: Any) -> Any:
    """Token ids (already so for a masked LM's scored positions), not vocabulary-wide logits."""
    logits = logits[0] if isinstance(logits, tuple) else logits
    return logits if logits.dim() == labels.dim() else logits.argmax(-1)


def token_accuracy(predicted: Any, labels: Any, causal: bool) -> float | None:
    """Share of the masked (or, for a causal LM, next) tokens predicted exactly."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if causal:
        predicted, labels = predicted[:, :-1], labels[:, 1:]
    scored = labels != -100
    return float((predicted[scored] == labels[scored]).mean()) if scored.any() else None


# -- the backbone folder ----------------------------------------------------------------------
def pooler_weights(cfg: PretrainModelConfig, model: Any) -> dict[str, Any]:
    """The source checkpoint's pooler, which a masked-LM model has no place for (BertForMaskedLM
    drops it) but `AutoModelForSequenceClassification` reads: saved with the backbone so that
    fine-tuning starts from the original pooler, not a random one. {} when the source had none."""
    from transformers import AutoModel

    try:
        base, info = AutoModel.from_pretrained(
            resolve_model_name(cfg.name),
            trust_remote_code=cfg.trust_remote_code,
            use_safetensors=None if cfg.allow_pickle else True,
            output_loading_info=True,
        )
    except (OSError, ValueError):
        return {}
    missing = set(info.get("missing_keys", ()))
    own = set(model.state_dict())
    prefix = model.base_model_prefix
    return {
        f"{prefix}.{key}": tensor.detach().clone().contiguous()
        for key, tensor in base.state_dict().items()
        if "pooler" in key.split(".") and key not in missing and f"{prefix}.{key}" not in own
    }


def save_backbone(model: Any, tokenizer: Any, folder: Path, extra: dict[str, Any]) -> None:
    """Hub format: safetensors (with `extra` tensors, the pooler), config and tokenizer."""
    state = {**model.state_dict(), **extra} if extra else None
    model.save_pretrained(folder, state_dict=state)
    tokenizer.save_pretrained(folder)
