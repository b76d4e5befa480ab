"""How much each generator does: the quick profile (the test suite) and the long one
(``benchmarks/fuzz_soak.py``). The tests read ``FUZZ_PROFILE`` ("quick" or "long") and
``FUZZ_SEED`` from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Profile:
    seed: int = 0
    metadata_cases: int = 800  # mutated documents, over all formats
    chunk_cases: int = 160  # corrupted chunks, over all codec set-ups
    name_cases: int = 220  # (store kind, hostile name, operation) triples
    kills: int = 45  # writers killed with SIGKILL, over all array kinds
    writer_rounds: int = 8  # rounds of concurrent writes per multi-process test
    writer_processes: int = 3
    bomb_bytes: int = 1 << 30  # what a streaming bomb decodes to
    slow_bomb_bytes: int = 64 << 20  # the same for bz2 and xz single streams (slow to make)


QUICK = Profile()
LONG = Profile(
    metadata_cases=6000,
    chunk_cases=4000,
    name_cases=3000,
    kills=500,
    writer_rounds=60,
    writer_processes=4,
    slow_bomb_bytes=1 << 30,
)


def from_environment() -> Profile:
    base = LONG if os.environ.get("FUZZ_PROFILE", "quick") == "long" else QUICK
    return replace(base, seed=int(os.environ.get("FUZZ_SEED", "0")))
