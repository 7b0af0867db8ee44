"""The allocator setting behind the frozen encoder's pass and scoring (`inference.bound_heap`)."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Batches of ever wider rows (16 rows of 384 floats a position), freed one after the other, as in
# the frozen encoder's pass, which sorts rows by length: with glibc's rising mmap threshold each
# freed buffer stays in the heap.
WIDENING = """
import sys, torch
from credtune.inference import bound_heap
if sys.argv[1] == "bounded":
    bound_heap()
def rss():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1e3
start, keep = rss(), []
for step in range(200):
    n = 16 * (40 + step) * 384
    a, b = torch.ones(n), torch.ones(4 * n)
    keep.append(torch.zeros(384) + a.sum() + b.sum())
    del a, b
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
    assert bounded < 15 < free, (bounded, free)
