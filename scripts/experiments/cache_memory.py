"""How much memory the frozen encoder's pass takes over the first ROWS rows of Lending Club.

It keeps 384 floats a row, yet round 10 measured `credtune train lendingclub` at 5.8 GB peak RSS.
`--unbounded` runs the pass without `inference.bound_heap` (glibc's mmap threshold left to rise),
as credtune did before round 11.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/cache_memory.py 2000 [--unbounded]
"""

from __future__ import annotations

import resource
import sys
import time

import torch

from credtune import frozen
from credtune.config import load_recipe
from credtune.data import prepare
from credtune.modeling import load_model, load_tokenizer
from credtune.training import encode, prepare_frozen


def rss_gb() -> float:
    with open("/proc/self/status") as status:
        return int(status.read().split("VmRSS:")[1].split()[0]) / 1e6


def main(rows: int, unbounded: bool) -> None:
    torch.set_num_threads(2)
    if unbounded:
        frozen.bound_heap = lambda: None
    recipe = load_recipe("lendingclub")
    prep = prepare(recipe)
    tokenizer = load_tokenizer(recipe.model, prep.serializer.added_tokens)
    encoded = encode(prep.table, prep.serializer, tokenizer, recipe.model.max_length).select(range(rows))
    labels, task = prep.schema["label_names"], prep.task
    model = load_model(
        recipe.model, labels, tokenizer, recipe.lora, recipe.seed, task, recipe.fits_head(task)
    )
    before, started = rss_gb(), time.perf_counter()
    prepare_frozen(recipe, model, encoded, tokenizer)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(
        f"{rows} rows: RSS {before:.2f} -> {rss_gb():.2f} GB, peak {peak:.2f} GB, {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), "--unbounded" in sys.argv)
