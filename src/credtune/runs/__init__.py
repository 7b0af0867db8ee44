"""The orchestrators: the only code that writes run folders and output files.

Each one calls the steps (data, training, evaluation, baselines, scoring, explain, report, hub)
and lays out what it produced: `runs.train` a training run, `runs.cv` a cross-validation,
`runs.evaluate` an evaluation report, `runs.batch` scored or explained files. Steps never import
from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CredtuneError
from ..files import check_own_folder

DONE_MARKER = "metrics.json"


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict[str, Any]


def check_run_dir(run_dir: Path, resume: bool, overwrite: bool) -> bool:
    """Never silently overwrite a run: finished or not, the user must say --overwrite or --resume.
    A folder holding anything credtune did not write (the user's data, their recipe) is never a
    run folder: refused whatever the flags. True when an existing run must be cleared (done only
    once every other check has passed)."""
    if not run_dir.exists():
        return False
    if run_dir.is_file():
        raise CredtuneError(f"output path {run_dir} is a file")
    check_own_folder(run_dir)
    if resume or not any(run_dir.iterdir()):
        return False
    if not overwrite:
        state = "a finished run" if (run_dir / DONE_MARKER).exists() else "an unfinished run"
        raise CredtuneError(
            f"{run_dir} already holds {state}; pass --overwrite to replace it, --resume to continue it, "
            "or --output-dir to write elsewhere"
        )
    return True
