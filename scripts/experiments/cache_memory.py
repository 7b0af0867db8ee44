"""How much memory the frozen encoder's pass takes over the first ROWS rows of Lending Club.

It keeps ~12 KB a row, yet round 10 measured `credtune train lendingclub` at 5.8 GB peak RSS.
Since round 18 the pass runs the longest rows first into tensors made once and leaves glibc's mmap
threshold alone; `--bounded` fixes it first (`inference.bound_heap`), as credtune did in rounds
11-17: every buffer over 128 KB is then mapped and unmapped, page faults a quarter of the pass.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/cache_memory.py 2000 [--bounded]
"""

from __future__ import annotations

import resource
import sys
import time

import torch

from credtune.config import load_recipe
from credtune.data import prepare
from credtune.inference import bound_heap
from credtune.modeling import load_model, load_tokenizer
from credtune.training import encode, prepare_frozen


def rss_gb() -> float:
    with open("/proc/self/status") as status:
        return int(status.read().split("VmRSS:")[1].split()[0]) / 1e6


def main(rows: int, bounded: bool) -> None:
    torch.set_num_threads(2)
    if bounded:
        bound_heap()
    recipe = load_recipe("lendingclub")
    prep = prepare(recipe)
    tokenizer = load_tokenizer(recipe.model, prep.serializer.added_tokens)
    encoded = encode(prep.table, prep.serializer, tokenizer, recipe.model.max_length).select(range(rows))
    labels, task = prep.schema["label_names"], prep.task
    model = load_model(
        recipe.model, labels, tokenizer, recipe.lora, recipe.seed, task, recipe.fits_head(task)
    )
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    before, started = rss_gb(), time.perf_counter()
    prepare_frozen(recipe, model, encoded, tokenizer)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"{rows} rows: RSS {before:.2f} -> {rss_gb():.2f} GB, peak {usage.ru_maxrss / 1e6:.2f} GB, "
        f"{time.perf_counter() - started:.0f} s, {usage.ru_minflt - faults:,} page faults"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), "--bounded" in sys.argv)
