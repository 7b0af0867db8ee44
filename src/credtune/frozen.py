"""Frozen bottom layers, and their outputs computed once (`model.train_layers: k`).

With `train_layers: k` only the top k layers and the head train (TabSTAR fine-tunes a text
encoder with the bottom half frozen; k = 0 trains the pooler and head alone). Frozen, with their dropout off,
the embeddings and the bottom N layers map each row to the same hidden states in every epoch,
every fold and every repeat of a cv: `FrozenCache` computes them once, and training runs only the
top layers on them (the model's own code does the rest: attention mask, pooler, head, loss). The
trained weights live in the one model as usual, so the saved folder is a plain sequence
classifier. Encoders whose layers sit in `encoder.layer` (BERT, RoBERTa, XLM-R, ELECTRA) are
cached; other architectures are frozen and run in full. These encoders classify from the first
position's state, so with every layer frozen (`train_layers: 0`) only that position is kept and
batches shrink to one position: ~1.5 KB a row instead of every token's states, and no padding.
With `model.pooling: ffn` the cache keeps what the feature layer hands the pooling layer apart from
the fitted student (`ffn_pooling.token_parts`, ~12 KB a row), and `refresh` pools it each time a
student is fitted.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from .errors import ConfigError
from .ffn_pooling import is_ffn, pooled_states, token_parts
from .inference import bound_heap, longest_first
from .pooling import appended_layers, freeze, is_pooled, pooled_first

log = logging.getLogger(__name__)
STATES_KEY = "frozen_states"
TOKEN_KEYS = ("input_ids", "attention_mask", "token_type_ids")


def backbone(model: Any) -> Any:
    """The transformers base model (e.g. `BertModel`) inside peft and accelerate wrappers."""
    model = getattr(model, "module", model)
    if hasattr(model, "get_base_model"):
        model = model.get_base_model()
    return model.base_model


def _layers(base: Any) -> tuple[Any, str] | None:
    encoder = getattr(base, "encoder", None)
    if encoder is not None and isinstance(getattr(encoder, "layer", None), torch.nn.ModuleList):
        return encoder, "layer"
    if isinstance(getattr(base, "layers", None), torch.nn.ModuleList):
        return base, "layers"
    return None


def num_layers(model: Any) -> int:
    return int(model.config.num_hidden_layers)


def frozen_count(model: Any, train_layers: int | None) -> int:
    """How many bottom layers `model.train_layers` leaves frozen (0 when it is unset). The layers
    `model.pooling` appends (mean: one, ffn: two) are not counted: always frozen, cached when all are."""
    if train_layers is None:
        return 0
    pooled = appended_layers(model)
    if not 0 <= train_layers <= num_layers(model) - pooled:
        raise ConfigError(
            f"model.train_layers: {train_layers} is outside 0..{num_layers(model) - pooled} "
            "(the backbone's layer count)"
        )
    if train_layers == 0:
        return num_layers(model)  # every layer, the pooling layer too, frozen and cached
    return num_layers(model) - pooled - train_layers


def _layer_list(model: Any) -> Any:
    """The `ModuleList` of transformer layers, or one clear line when the architecture hides it."""
    found = _layers(backbone(model))
    if found is None:
        raise ConfigError(
            f"model.train_layers: cannot find the layers of a {model.config.model_type} model; "
            "set model.train_layers: null to train every layer"
        )
    return getattr(*found)


def freeze_bottom(model: Any, n: int) -> None:
    """No gradient and no dropout for the embeddings and the bottom `n` layers."""
    layers, base = _layer_list(model), backbone(model)
    embeddings = getattr(base, "embeddings", None) or getattr(base, "embed_tokens", None)
    if embeddings is None:
        raise ConfigError(
            f"model.train_layers: cannot find the embeddings of a {model.config.model_type} model"
        )
    freeze([embeddings, *layers[:n]])


def frozen_linear_names(model: Any, n: int) -> list[str]:
    """Full names of the linear modules in the bottom `n` layers and in the layers `model.pooling`
    appended, the layers that stay frozen: to keep LoRA out of them."""
    layers = _layer_list(model)
    frozen = [*layers[:n], *layers[len(layers) - appended_layers(model) :]]
    ids = {id(m) for layer in frozen for m in layer.modules()}
    return [name for name, m in model.named_modules() if id(m) in ids and isinstance(m, torch.nn.Linear)]


def can_cache(model: Any) -> bool:
    base = backbone(model)
    found = _layers(base)
    return found is not None and found[1] == "layer" and hasattr(base, "embeddings")


@contextlib.contextmanager
def run_top(model: Any, n: int, states: torch.Tensor) -> Iterator[None]:
    """Within the block, a forward pass of `model` starts from `states` (the output of layer n)
    and runs only the layers above it."""
    base = backbone(model)
    holder, attr = _layers(base)
    layers = getattr(holder, attr)

    def replace(module: Any, args: Any, output: torch.Tensor) -> torch.Tensor:
        if output.shape[:2] != states.shape[:2]:
            raise RuntimeError(
                f"cached states {tuple(states.shape)} do not fit the batch {tuple(output.shape)}"
            )
        return states.to(output.device, output.dtype)

    handle = base.embeddings.register_forward_hook(replace)
    setattr(holder, attr, layers[n:])
    try:
        yield
    finally:
        setattr(holder, attr, layers)
        handle.remove()


class FrozenCache:
    """Each row's hidden states after the bottom `n` layers, without padding, by row position."""

    def __init__(
        self,
        states: list[torch.Tensor],
        n: int,
        left_padded: bool = False,
        first_only: bool = False,
        parts: dict[str, torch.Tensor] | None = None,
    ):
        self.states, self.n, self.left_padded, self.first_only = states, n, left_padded, first_only
        self.parts = parts  # `model.pooling: ffn`: each row's inputs to the pooling layer, less the student

    def refresh(self, model: Any) -> None:
        """`model.pooling: ffn`: the first-position states with the student now in `model`."""
        if self.parts is not None:
            self.states = list(pooled_states(model, self.parts)[:, None].unbind(0))

    @classmethod
    @torch.no_grad()
    def build(
        cls, model: Any, encoded: Any, n: int, pad_id: int, batch_size: int = 16, only: Any = None
    ) -> FrozenCache:
        """Run the frozen bottom once over every row of `encoded` (or the rows `only` names: the
        others' states are None, their kept parts NaN, so a use of one shows), longest rows first
        (batches sorted by length carry little padding); with no layer left to train, keep only
        the first position."""
        first_only = n == num_layers(model)
        pool = first_only and is_pooled(model)  # the pooling layer is then run at the first position only
        ffn = pool and is_ffn(model)  # then the feature layer's parts are kept, not its output
        below = n - appended_layers(model) if first_only else n  # the layers run in full
        if not first_only:
            bound_heap()  # every token's states kept row by row: keep the heap from growing with them
        kept: dict[str, torch.Tensor] = {}  # first_only: one tensor per part, every row, made once
        base = backbone(model)
        holder, attr = _layers(base)
        layers = getattr(holder, attr)
        lengths = np.asarray(encoded["length"])
        ids, types = (
            encoded["input_ids"],
            encoded["token_type_ids"] if "token_type_ids" in encoded.column_names else None,
        )
        states: list[torch.Tensor | None] = [None] * len(lengths)
        was_training, device = base.training, next(base.parameters()).device
        base.eval()
        setattr(holder, attr, layers[:below])
        try:
            for rows, batch in longest_first(ids, types, lengths, batch_size, pad_id, only=only):
                inputs = {k: torch.from_numpy(v).to(device) for k, v in batch.items()}
                mask = inputs["attention_mask"]
                out = base(**inputs).last_hidden_state
                if ffn:  # the student's inputs, kept for every row: `refresh` pools them
                    for name, x in token_parts(layers[below], out, mask).items():
                        _keep(kept, name, rows, x, len(lengths))
                    continue
                if pool:
                    out = pooled_first(layers[n - 1], out, mask)
                if first_only:
                    _keep(kept, "first", rows, out[:, 0], len(lengths))
                    continue
                out = out.float().cpu()
                for i, row in enumerate(rows):
                    states[int(row)] = out[i, : lengths[row]].clone()
        finally:
            setattr(holder, attr, layers)
            base.train(was_training)
        if "first" in kept:
            states = list(kept["first"][:, None].unbind(0))
        cache = cls(states, n, first_only=first_only)  # type: ignore[arg-type]
        if ffn:
            cache.parts = kept
            cache.refresh(model)
        return cache

    def extended(self, model: Any, encoded: Any, pad_id: int) -> FrozenCache:
        """A cache with `encoded`'s rows after these (their `table_row` continues from here)."""
        more = FrozenCache.build(model, encoded, self.n, pad_id)
        parts = self.parts and {k: torch.cat([v, more.parts[k]]) for k, v in self.parts.items()}
        return FrozenCache(self.states + more.states, self.n, self.left_padded, self.first_only, parts)

    def batch(self, rows: list[int], width: int) -> torch.Tensor:
        """The rows' states padded to `width` positions, as the collator padded their tokens."""
        hidden = self.states[rows[0]].shape[-1]
        out = torch.zeros((len(rows), width, hidden))
        for i, row in enumerate(rows):
            s = self.states[row]
            if self.left_padded:
                out[i, width - len(s) :] = s
            else:
                out[i, : len(s)] = s
        return out


def _keep(kept: dict[str, torch.Tensor], name: str, rows: np.ndarray, values: torch.Tensor, n: int) -> None:
    """Write a batch's `values` into `kept[name]` at `rows`, made for all `n` rows at its first batch
    (nothing kept is allocated batch by batch between the batches' own buffers); a row no batch
    holds stays NaN."""
    if name not in kept:
        kept[name] = torch.full((n, values.shape[-1]), float("nan"))
    kept[name][torch.as_tensor(rows)] = values.float().cpu()


class CachedCollator:
    """Pads tokens as usual and adds each row's cached states (the `table_row` column says which)."""

    def __init__(self, pad: Any, cache: FrozenCache):
        self.pad, self.cache = pad, cache
        self.cache.left_padded = getattr(pad.tokenizer, "padding_side", "right") == "left"

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        rows = [int(f["table_row"]) for f in features]
        keep = 1 if self.cache.first_only else None  # the first position is all the head reads
        batch = self.pad(
            [{k: v[:keep] if k in TOKEN_KEYS else v for k, v in f.items() if k not in ("table_row", "length")}
             for f in features]
        )  # fmt: skip
        batch[STATES_KEY] = self.cache.batch(rows, batch["input_ids"].shape[1])
        return batch
