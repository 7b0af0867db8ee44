"""Mean pooling as one more encoder layer (`model.pooling: mean`), so the model stays a plain BERT.

all-MiniLM-L6-v2 was trained as a sentence encoder with mean pooling; a BERT sequence classifier
reads the first position's state instead. On German credit, logistic regression on the frozen
encoder's mean-pooled states scores 0.772 out-of-fold AUC against 0.758 on the first position's
(docs/experiments.md, round 8). transformers has no mean-pooling option for BERT, and a custom
head would break plain `from_pretrained` loading, so the pooling is written as weights of a layer
appended to the encoder: its query is zero, so every position attends evenly to every unmasked
position; its value is the identity, so the first position receives the mean of the states below;
its output projection scales that mean by `SCALE`, so the residual first-position state counts
for 1/1000 of it inside the LayerNorm; its feed-forward output is zero. The first position
leaves the layer as LayerNorm(mean of the unpadded states), which the usual pooler and head read.
The layer is frozen and its dropout off; `config.credtune_pooling` marks it, so a fine-tuned folder
is never pooled twice.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from .errors import ConfigError

MARK = "credtune_pooling"
SCALE = 1.0e3  # the residual enters the LayerNorm at 1/SCALE of the mean's weight; fp16 stays finite


APPENDED = {"mean": 1, "ffn": 2}  # the layers each `model.pooling` appends (ffn: a feature layer below)


def appended_layers(model: Any) -> int:
    """How many layers at the top of the encoder `model.pooling` appended: always frozen."""
    return APPENDED.get(getattr(model.config, MARK, None), 0)


def is_pooled(model: Any) -> bool:
    """Whether the model ends in the pooling layer (`mean`, or `ffn` with its feature layer below)."""
    return appended_layers(model) > 0


def number_layers(layers: torch.nn.ModuleList) -> None:
    """Each layer's attention knows its index (`layer_idx`): kept right as layers are appended."""
    for index, layer in enumerate(layers):
        for module in layer.modules():
            if hasattr(module, "layer_idx"):
                module.layer_idx = index


def freeze_appended(model: Any) -> None:
    """No gradient and no dropout in the layers `model.pooling` appended."""
    layers = bert_layers(model)
    freeze(layers[len(layers) - appended_layers(model) :])


def freeze(modules: Any) -> None:
    """No gradient and no dropout in `modules`: a frozen part gives the same output every epoch."""
    for part in modules:
        for param in part.parameters():
            param.requires_grad = False
        for module in part.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0


def bert_layers(model: Any) -> torch.nn.ModuleList | None:
    """The encoder's layers when they are BERT's kind (BERT, RoBERTa, XLM-R, ELECTRA), else None."""
    layers = getattr(getattr(model.base_model, "encoder", None), "layer", None)
    needed = {"attention.self.query", "attention.self.value", "attention.output.dense", "output.dense"}
    if (
        not isinstance(layers, torch.nn.ModuleList)
        or not len(layers)
        or not needed <= {name for name, _ in layers[-1].named_modules()}
        or getattr(model.config, "is_decoder", False)
    ):
        return None
    return layers


def wants_mean(model: Any, pooling: str | None, train_layers: int | None) -> bool:
    """`model.pooling` resolved: `auto` means the mean for a BERT-style encoder whose bottom layers
    are frozen (measured there: +0.012 and +0.009 out-of-fold AUC with every layer frozen, +0.009
    with the top one trained), the model's own position otherwise. A pooled folder stays pooled."""
    if pooling == "mean" or is_pooled(model):
        return True
    return pooling == "auto" and train_layers is not None and bert_layers(model) is not None


def add_mean_pooling(model: Any) -> None:
    """Append the pooling layer (once) and keep it frozen; a folder saved afterwards holds it."""
    layers = bert_layers(model)
    if layers is None:
        raise ConfigError(
            f"model.pooling: mean needs a BERT-style encoder, not a {model.config.model_type} model"
        )
    if not is_pooled(model):
        layer = copy.deepcopy(layers[-1])
        with torch.no_grad():
            for param in layer.parameters():
                param.zero_()
            eye = torch.eye(model.config.hidden_size)
            layer.attention.self.value.weight.copy_(eye)
            layer.attention.output.dense.weight.copy_(eye * SCALE)
            for norm in (layer.attention.output.LayerNorm, layer.output.LayerNorm):
                norm.weight.fill_(1.0)
        layers.append(layer)
        number_layers(layers)
        model.config.num_hidden_layers = len(layers)
        setattr(model.config, MARK, "mean")
    freeze_appended(model)


@torch.no_grad()
def pooled_first(layer: Any, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The pooling layer's output at the first position only, from the states below it: what the
    head reads, without its attention and feed-forward run at every other position (the frozen
    cache of `train_layers: 0` needs nothing else). Same modules, same numbers as the full layer."""
    weights = mask.unsqueeze(-1).to(states.dtype)
    values = layer.attention.self.value(states)
    context = (values * weights).sum(1, keepdim=True) / weights.sum(1, keepdim=True)
    attended = layer.attention.output(context, states[:, :1])
    return layer.output(layer.intermediate(attended), attended)
