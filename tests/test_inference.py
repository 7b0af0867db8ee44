"""The allocator setting of the frozen encoder's pass that keeps every token's states (`inference.bound_heap`),
and scoring's rows per forward pass (`inference.default_batch`)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from credtune.inference import CPU_BATCH, GPU_BATCH, default_batch

# Buffers a little larger each time, each freed while a small tensor made after it lives on, as
# in the frozen encoder's pass over rows sorted by length. Once a 16 MB buffer has been freed,
# glibc's risen mmap threshold carves each of them from the heap, where its hole is too small for
# the next one. One thread: the same allocations, in the same arena, every run.
WIDENING = """
import sys, torch
from credtune.inference import bound_heap
torch.set_num_threads(1)
if sys.argv[1] == "bounded":
    bound_heap()
def rss():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1e3
first = torch.ones(4 << 20)
del first
start, pins = rss(), []
for step in range(100):
    batch = torch.ones((1 << 18) + 1024 * step)
    pins.append(torch.zeros(16))
    del batch
print(rss() - start)
"""


def growth(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", WIDENING, mode], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_bound_heap_keeps_widening_batches_from_growing_the_heap():
    free = growth("free")
    if free < 30:
        pytest.skip(f"this C library's heap grew {free:.0f} MB without the setting: nothing to bound")
    bounded = growth("bounded")
    assert bounded < 10, (bounded, free)


@pytest.mark.parametrize(
    "device, rows",
    [
        ("cpu", CPU_BATCH),
        (torch.device("cpu"), CPU_BATCH),
        ("cuda", GPU_BATCH),
        ("cuda:1", GPU_BATCH),
        (torch.device("cuda", 0), GPU_BATCH),
        (torch.device("mps"), GPU_BATCH),
    ],
)
def test_rows_per_forward_pass_follow_the_device(device, rows):
    assert default_batch(device) == rows
