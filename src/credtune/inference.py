"""The forward pass that scoring, explaining and training runs' figures share.

Texts run in batches of similar token length (little padding), longest first, and come back in
their original order. Tokens are made a window at a time: token lists of a whole 10,000-row chunk
would cost ~300 MB.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

CPU_BATCH, GPU_BATCH = 16, 64  # rows per forward pass when the caller leaves it open


def default_batch(device: Any) -> int:
    """Rows per forward pass on `device`: 16 on a CPU, where a batch's buffers (rows of 100-200
    tokens) stay small enough for glibc to reuse them from its heap; with 64 it mapped, zeroed and
    unmapped the largest again every batch, 1.26-1.42x slower (round 19 in docs/experiments.md).
    64 on an accelerator, whose allocator keeps its own pool."""
    return CPU_BATCH if str(getattr(device, "type", device)).split(":")[0] == "cpu" else GPU_BATCH


def binary_margin(logits: np.ndarray) -> np.ndarray:
    """Logit margin z = logit(default) - logit(no default) per row of a two-class head's outputs:
    the one number calibration, stacking and the report start from."""
    logits = np.asarray(logits, dtype=np.float64)
    return logits[:, 1] - logits[:, 0]


def head_outputs(
    model: Any, tokenizer: Any, texts: list[str], max_length: int, batch_size: int, device: Any
) -> np.ndarray:
    """The classifier head's raw outputs (n texts, outputs) as float32."""
    n_out = int(model.config.num_labels)
    out = np.empty((len(texts), n_out), dtype=np.float32)
    window = max(16 * batch_size, 1024)
    for start in range(0, len(texts), window):
        out[start : start + window] = _window(
            model, tokenizer, texts[start : start + window], max_length, batch_size, device
        )
    return out


def padded_batch(
    ids: Any, types: Any, lengths: np.ndarray, rows: np.ndarray, pad_id: int, left: bool = False
) -> dict[str, np.ndarray]:
    """The token batch of `rows` (of `ids`, `types`: lists or dataset columns, `types` may be
    None), padded to the longest of them on the right, or on the left for left-padding tokenizers."""
    width = int(lengths[rows].max())
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    type_ids = np.zeros((len(rows), width), dtype=np.int64)
    for row, i in enumerate(rows):
        span = slice(width - lengths[i], width) if left else slice(0, lengths[i])
        input_ids[row, span] = ids[int(i)]
        if types is not None:
            type_ids[row, span] = types[int(i)]
    positions = np.arange(width)[None, :]
    real = positions >= (width - lengths[rows])[:, None] if left else positions < lengths[rows][:, None]
    batch = {"input_ids": input_ids, "attention_mask": real.astype(np.int64)}
    if types is not None:
        batch["token_type_ids"] = type_ids
    return batch


def longest_first(
    ids: Any,
    types: Any,
    lengths: np.ndarray,
    batch_size: int,
    pad_id: int,
    left: bool = False,
    only: np.ndarray | None = None,
) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """Every row's tokens (or the rows `only` names) in padded batches of `batch_size` rows,
    longest rows first, each with the rows it holds: batches sorted by length carry little padding,
    and each batch's buffers fit in the freed ones of the batch before, so glibc's heap stays flat
    (rounds 18-19)."""
    rows = np.arange(len(lengths)) if only is None else np.asarray(only, dtype=np.int64)
    order = rows[np.argsort(-lengths[rows], kind="stable")]
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        yield rows, padded_batch(ids, types, lengths, rows, pad_id, left)


def _window(
    model: Any, tokenizer: Any, texts: list[str], max_length: int, batch_size: int, device: Any
) -> np.ndarray:
    import torch

    enc = tokenizer(texts, truncation=True, max_length=max_length, return_attention_mask=False)
    ids, types = enc["input_ids"], enc.get("token_type_ids")
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(texts))
    out = np.empty((len(texts), int(model.config.num_labels)), dtype=np.float32)
    left = getattr(tokenizer, "padding_side", "right") == "left"
    with torch.inference_mode():
        for idx, batch in longest_first(ids, types, lengths, batch_size, tokenizer.pad_token_id, left):
            logits = model(**{k: torch.from_numpy(v).to(device) for k, v in batch.items()}).logits
            out[idx] = logits.float().cpu().numpy()
    return out


def bound_heap() -> None:
    """Have glibc hand large freed buffers back to the system at once. Only the frozen encoder's
    pass that keeps every token's states sets it: elsewhere mapping and zeroing every large buffer
    again costs more than it saves (rounds 18-19 in docs/experiments.md).

    Its mmap threshold otherwise rises to the largest buffer freed (up to 32 MB), and batches of
    ever wider rows, each a little larger than the last, then grow the heap at every step: the
    frozen encoder's pass over Lending Club's 9,857 rows peaked at 3.5 GB of RSS to keep 15 MB of
    states. A fixed threshold (glibc's own default, 128 KB) keeps it flat. Process-wide; a no-op
    where the C library is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD; setting it stops the dynamic rise
    except (OSError, AttributeError):
        pass


def set_threads(torch: Any) -> None:
    """One thread per core this process may run on, unless the user chose with OMP_NUM_THREADS
    (on a machine shared with other jobs, fewer threads than cores can be much faster)."""
    if os.environ.get("OMP_NUM_THREADS"):
        return
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    torch.set_num_threads(max(1, cores // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))))
