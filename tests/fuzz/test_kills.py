"""Writers killed with SIGKILL mid-operation: nothing torn, no completed write lost, no
value removed by a shrink resurrected, no temp file of a dead writer left once the store
is written again."""

from __future__ import annotations

import random

import numpy as np
import pytest

from . import kill_cases
from .report import Tally


def test_the_model_tracks_deletions():
    model = kill_cases.Model(np.full((4, 4), kill_cases.FILL, dtype=np.int64))
    model.apply({"seq": 1, "op": "fill"})
    model.apply({"seq": 2, "op": "resize", "shape": [2, 4]})
    model.apply({"seq": 3, "op": "resize", "shape": [4, 4]})
    assert model.values[3, 0] == kill_cases.FILL and model.deleted[(3, 0)] == {1}
    stale = model.values.copy()
    stale[3, 0] = 1
    counts = kill_cases.mismatches(model, stale, kill_cases.allowed(model, None, (4, 4)))
    assert counts == {"lost": 0, "resurrected": 1, "wrong": 0}


def test_operations_stay_in_bounds():
    rng = random.Random(0)
    shape = (24, 20)
    for seq in range(500):
        op = kill_cases.next_operation(rng, shape, seq)
        if op["op"] == "resize":
            shape = tuple(op["shape"])
        assert all(1 <= n <= kill_cases.MAX_EXTENT for n in shape)


@pytest.mark.parametrize("kind", kill_cases.KINDS)
def test_killed_writers(profile, tmp_path, kind):
    kills = -(-profile.kills // len(kill_cases.KINDS))
    tally = kill_cases.run(str(tmp_path), kills, profile.seed, kinds=(kind,), tally=Tally("kills"))
    assert tally.cases == kills
    tally.assert_clean()
