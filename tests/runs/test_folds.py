"""What train and cv share (`credtune.runs.folds`): a run's long-lived objects leave the cyclic
collector while it runs and come back to it when it ends, however it ends."""

from __future__ import annotations

import gc

import pytest

from credtune.runs.folds import freeze_long_lived, thaws_frozen


@pytest.mark.parametrize("fails", [False, True])
def test_what_a_run_froze_is_collectable_again_when_it_ends(fails: bool) -> None:
    seen = []

    @thaws_frozen
    def run() -> str:
        freeze_long_lived()
        seen.append(gc.get_freeze_count())
        if fails:
            raise RuntimeError("the run failed")
        return "done"

    if fails:
        with pytest.raises(RuntimeError, match="the run failed"):
            run()
    else:
        assert run() == "done"
    assert seen[0] > 0 and gc.get_freeze_count() == 0
