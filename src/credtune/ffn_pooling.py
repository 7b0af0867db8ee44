"""`model.pooling: ffn`: the head reads a student fitted on the mean over tokens of a feed-forward
map of each token, written as one more frozen BERT layer below the pooling layer (pooling.py).

Why: the mean of the top layer's states is a linear summary of the tokens; a nonlinear map of each
token first, phi = GELU(W1 LayerNorm(h) + b1) with the top layer's own pretrained W1 and b1 (1,536
features for MiniLM), keeps what a mean of 384 numbers averages away. Lab notebook round 13 (ridge
students of the teachers, the same 3 x 5 folds): 0.7426 against 0.7347 out-of-fold AUC on Lending
Club, 0.7825 against 0.7804 on German credit. A BERT layer hands on 384 numbers per token, and every
fixed projection of phi back to 384 lost the gain, so the layer carries the fitted student itself,
one number per token:

- its attention writes nothing (query, key, value and output maps zero), so its feed-forward part
  reads a = LayerNorm(h), dims J, K and M zeroed;
- its feed-forward input map is the top layer's; the output map is rank one and writes the
  student's score of each token, s = w . phi + c, into dim M (`write_student`);
- the output bias puts +BIG and -BIG in dims J and K, so the output LayerNorm divides every token
  by nearly the same number and stays linear in s (to ~1e-5); the norm's weights keep dim M alone
  and its bias puts +EDGE and -EDGE in J and K, so the pooling layer's LayerNorm of the mean is
  near linear in s too.

The pooling layer averages s over the unpadded tokens: the student's score of the row, which the
head (head.write_head) reads from dim M. `token_parts` keeps what each row contributes for any
student (the mean of phi), so a fold fits its student and head in seconds on `frozen.FrozenCache`.
On German credit the margins so computed from the cache match the full model's to 1.1e-3 (their
spread: 1.6; fp32 sums of phi's 1,536 weighted features, which cancel, differ in order). Test rows
and `credtune score` run the full model. The folder is a plain BERT classifier in fp32
(`config.credtune_pooling = "ffn"`); half precision loses the student, five orders below BIG.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from .errors import ConfigError
from .pooling import MARK, add_mean_pooling, bert_layers, freeze_appended, is_pooled, number_layers

J, K, M = 0, 1, 2  # two dims for the constants, one for the student
BIG = 1.0e5  # the output LayerNorm's scale: a token's s moves it by ~s^2 / (4 BIG^2), 2.5e-5 at s = 1,000
GAIN = 100.0  # s is written GAIN times its unit size: dims J, K, M of LN(h), zeroed, still shift the
# norm's mean by ~3/d; at GAIN 100 that leaks ~1e-4 of the student's spread into dim M
EDGE = 1.0e3  # the pooling LayerNorm's scale: the student's mean (~1) moves it by ~1e-5


def is_ffn(model: Any) -> bool:
    return getattr(model.config, MARK, None) == "ffn"


def wants_ffn(model: Any, pooling: str | None, fitted_head: bool) -> bool:
    """`model.pooling` resolved: `ffn`, an ffn folder, or `auto` where the head is fitted in closed
    form on a BERT-style encoder not already mean-pooled (lab notebook round 15: +0.013 out-of-fold
    AUC alone on Taiwan at a ninth of the fold time; +0.002 and +0.008 on German credit and Lending
    Club, round 14)."""
    if pooling == "ffn" or is_ffn(model):
        return True
    return pooling == "auto" and fitted_head and not is_pooled(model) and bert_layers(model) is not None


def add_ffn_pooling(model: Any) -> None:
    """Append the feature layer and the pooling layer above it (once), both frozen, dropout off."""
    if not is_ffn(model):
        if is_pooled(model):
            raise ConfigError("model.pooling: ffn cannot extend a model folder already mean-pooled")
        layers = bert_layers(model)
        if layers is None:
            raise ConfigError(
                f"model.pooling: ffn needs a BERT-style encoder, not a {model.config.model_type} model"
            )
        layer = _feature_layer(layers[-1], model.config.hidden_size)
        add_mean_pooling(model)
        layers.insert(len(layers) - 1, layer)
        number_layers(layers)
        model.config.num_hidden_layers = len(layers)
        setattr(model.config, MARK, "ffn")
    freeze_appended(model)


@torch.no_grad()
def _feature_layer(top: Any, d: int) -> Any:
    layer = copy.deepcopy(top)  # keeps the top layer's feed-forward input map, W1 and b1
    for module in (layer.attention.self.query, layer.attention.self.key, layer.attention.self.value,
                   layer.attention.output.dense, layer.output.dense):  # fmt: skip
        module.weight.zero_()
        module.bias.zero_()
    kept = torch.ones(d)
    kept[[J, K, M]] = 0.0
    layer.attention.output.LayerNorm.weight.copy_(kept)
    layer.attention.output.LayerNorm.bias.zero_()
    layer.output.dense.bias[J], layer.output.dense.bias[K] = BIG, -BIG
    norm = layer.output.LayerNorm
    norm.weight.zero_()
    norm.weight[M] = BIG * (2.0 / d) ** 0.5 / GAIN  # ~ the norm's scale: a token's s leaves it as ~s / GAIN
    norm.bias.zero_()
    norm.bias[J], norm.bias[K] = EDGE, -EDGE
    return layer


def feature_layer(model: Any) -> Any:
    return bert_layers(model)[-2]


@torch.no_grad()
def token_parts(layer: Any, states: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """What each row of a batch hands the pooling layer, apart from the student: the feature
    layer's output with the student left out (`out`), and the student's inputs, phi divided by the
    output norm's scale (`phi`, `inv`); each as the mean over unpadded tokens and at the first."""
    a = layer.attention.output.LayerNorm(states)  # the attention maps are zero: it hands on LN(h)
    phi = layer.intermediate(a)
    norm = layer.output.LayerNorm
    z = a + _without_student(layer.output.dense.bias)
    inv = torch.rsqrt(z.var(-1, unbiased=False, keepdim=True) + norm.eps)
    weights = mask.unsqueeze(-1).to(states.dtype)
    count = weights.sum(1)
    parts = {"out": norm(z), "phi": phi * inv, "inv": inv}
    means = {name: (x * weights).sum(1) / count for name, x in parts.items()}
    return {**means, **{f"{name}0": x[:, 0].clone() for name, x in parts.items()}}  # not views of x


def _without_student(bias: torch.Tensor) -> torch.Tensor:
    bias = bias.clone()
    bias[M] = 0.0
    return bias


@torch.no_grad()
def pooled_states(model: Any, parts: dict[str, torch.Tensor]) -> torch.Tensor:
    """The pooling layer's output at the first position (what the head reads) of each row, with the
    student now in the feature layer: the output norm is linear in it, so it adds s / scale times
    the norm's weight, less the norm's mean, to every token's output."""
    layer, pool = bert_layers(model)[-2:]
    w, c = layer.output.dense.weight[M], layer.output.dense.bias[M]
    parts = {name: x.to(w.device, w.dtype) for name, x in parts.items()}
    at_m = w.new_zeros(layer.output.LayerNorm.weight.shape)
    at_m[M] = 1.0
    gain = layer.output.LayerNorm.weight * (at_m - 1.0 / len(at_m))  # s in dim M, less the norm's mean
    mean = parts["out"] + (parts["phi"] @ w + parts["inv"][:, 0] * c)[:, None] * gain
    first = parts["out0"] + (parts["phi0"] @ w + parts["inv0"][:, 0] * c)[:, None] * gain
    attended = pool.attention.output(pool.attention.self.value(mean)[:, None], first[:, None])
    return pool.output(pool.intermediate(attended), attended)[:, 0].float().cpu()


@torch.no_grad()
def write_student(model: Any, weight: np.ndarray, center: float, inv: float) -> None:
    """Write the student z = weight . X - center, X a row's `phi` part (inv: its typical `inv`), as
    each token's s = GAIN (inv weight . phi - center): the pooled dim M then reads ~z."""
    dense = feature_layer(model).output.dense
    dense.weight[M] = torch.as_tensor(GAIN * inv * weight, dtype=dense.weight.dtype)
    dense.bias[M] = -GAIN * center
