"""Where credtune may write: never over an input, never over what it did not write, never two at once.

`--overwrite` replaces a credtune run folder or a file credtune wrote, nothing else: a folder that
holds the user's data, or a CSV of applicants named as the output, is refused with one line before
any work starts. A lock file beside each output makes a second run into the same output stop at
once instead of mixing its rows with the first one's (`output_lock`; the operating system drops
the lock when its process dies, so a killed run never blocks the next one).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import CredtuneError

# What credtune writes into a run folder (train, cv and evaluate), and its own temporary names.
RUN_ENTRIES = {
    "model",
    "backbone",  # `credtune pretrain`
    "metrics.json",
    "recipe.yaml",
    "report.md",
    "report.html",
    "figures",
    "checkpoints",
    "cv.json",
    "oof.csv",
    "folds.jsonl",
    ".gathered",
    ".cv-checkpoints",
}
TRAINING_ENTRIES = {
    "model",
    "backbone",
    "checkpoints",
    "cv.json",
    "oof.csv",
    "folds.jsonl",
    ".gathered",
    ".cv-checkpoints",
}
OUTPUT_MARK = b"credtune"  # Parquet metadata key of score and explain outputs


def foreign_entries(folder: Path) -> list[str]:
    """The entries of `folder` that credtune did not write (hidden temporaries of its own excepted)."""
    out = []
    for entry in sorted(folder.iterdir()):
        name = entry.name
        base = name[1:].split(".tmp-")[0].split(".old-")[0] if name.startswith(".") else name
        if name in RUN_ENTRIES or base in RUN_ENTRIES or name.endswith(".lock"):
            continue
        out.append(name)
    return out


def check_own_folder(folder: Path, option: str = "--output-dir") -> None:
    """Refuse an existing folder that holds anything credtune did not write."""
    if not folder.is_dir():
        return
    foreign = foreign_entries(folder)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise CredtuneError(
            f"{folder} holds files credtune did not write ({shown}); credtune replaces only its own "
            f"run folders: choose another {option}"
        )


def check_report_dir(folder: Path, inputs: Iterable[Path | None]) -> None:
    """`evaluate --report`: a folder of its own or an earlier evaluate report, never a training or
    cv run (whose metrics.json and report it would replace), nor one holding the user's files."""
    check_not_input(folder, inputs, "--report")
    for given in inputs:
        if given is not None and Path(given).is_dir() and Path(given).resolve() in folder.resolve().parents:
            raise CredtuneError(f"--report {folder} is inside the model folder {given}; write it elsewhere")
    if folder.is_file():
        raise CredtuneError(f"--report {folder} is a file; give a folder")
    if not folder.is_dir():
        return
    check_own_folder(folder, "--report folder")
    kind = None
    if (folder / "metrics.json").is_file():
        try:
            kind = json.loads((folder / "metrics.json").read_text(encoding="utf-8")).get("kind")
        except (OSError, ValueError, AttributeError):
            kind = "unknown"
    run = sorted(n for n in TRAINING_ENTRIES if (folder / n).exists())
    if run or kind not in (None, "evaluate"):
        raise CredtuneError(
            f"{folder} holds a training or cv run ({', '.join(run) or 'its metrics.json'}); an evaluation "
            "would replace its metrics and report: give --report a folder of its own"
        )


def check_not_input(output: Path, inputs: Iterable[Path | None], option: str = "output") -> None:
    """An output that is, or contains, one of the inputs would destroy it: refuse before any work."""
    out = output.expanduser().resolve()
    for given in inputs:
        if given is None:
            continue
        path = Path(given).expanduser().resolve()
        if out == path:
            raise CredtuneError(f"{option} {output} is an input of this run; write to another path")
        if out in path.parents:
            raise CredtuneError(
                f"{option} {output} contains an input of this run ({path.relative_to(out)}); "
                "write to another path"
            )


def check_output_file(
    output: Path,
    suffixes: tuple[str, ...],
    overwrite: bool,
    inputs: Iterable[Path | None] = (),
    model: Path | None = None,
) -> None:
    """An output file credtune can write: a known suffix, not a folder, not an input nor inside
    the model folder, and replaced only with --overwrite and only if credtune wrote it."""
    if output.suffix.lower() not in suffixes:
        raise CredtuneError(f"output {output.name}: use a {', '.join(suffixes)} file name")
    if output.is_dir():
        raise CredtuneError(f"{output} is a directory")
    if model is not None and model.resolve() in output.resolve().parents:
        raise CredtuneError(f"output {output} is inside the model folder {model}; write it elsewhere")
    check_not_input(output, [*inputs, model])
    if output.exists() and not overwrite:
        raise CredtuneError(f"{output} already exists; pass --overwrite to replace it")
    if output.exists() and not credtune_output(output):
        raise CredtuneError(
            f"{output} was not written by credtune (it is not a score or explain output); --overwrite "
            "replaces only credtune's own outputs: choose another output name"
        )
    folder = output.parent if str(output.parent) else Path(".")
    if folder.exists() and not os.access(folder, os.W_OK):
        raise CredtuneError(f"cannot write to {folder}: permission denied")


def credtune_output(path: Path) -> bool:
    """Does `path` look like a file `credtune score` or `explain` wrote (marked, or its columns)?"""
    columns: list[str] = []
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            schema = pq.read_schema(path)
            if OUTPUT_MARK in (schema.metadata or {}):
                return True
            columns = list(schema.names)
        elif path.suffix.lower() == ".csv":
            with path.open(encoding="utf-8", newline="") as handle:
                columns = next(csv.reader(handle), [])
        else:
            with path.open(encoding="utf-8") as handle:
                first = json.loads(handle.readline() or "{}")
            columns = list(first) if isinstance(first, dict) else []
    except Exception:  # noqa: BLE001 - unreadable: certainly not ours
        return False
    if not path.stat().st_size or len(columns) < 2 or columns[1] != "pd":
        return False
    rest = set(columns[2:])
    return rest <= {"points", "decision"} or all(c.startswith("reason") for c in rest)


@contextmanager
def output_lock(target: Path) -> Iterator[None]:
    """Hold `.<name>.lock` beside `target` while writing it; a second writer is refused at once.
    Under torchrun/accelerate only rank 0 locks (the ranks of one run write together)."""
    try:
        import fcntl
    except ImportError:  # not on a POSIX system: no lock, as before
        yield
        return
    if os.environ.get("RANK", "0") not in ("", "0"):
        yield
        return
    lock = target.with_name(f".{target.name}.lock")
    created = not lock.parent.exists()  # `runs/` for a first run: removed again if left empty
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = _acquire(lock, fcntl, target)
    except PermissionError:
        raise CredtuneError(f"cannot write to {lock.parent}: permission denied") from None
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)  # still held: a waiter that opened it retries on the new file
        os.close(fd)
        if created:
            with contextlib.suppress(OSError):
                lock.parent.rmdir()


def _acquire(lock: Path, fcntl: object, target: Path) -> int:
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # type: ignore[attr-defined]
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise CredtuneError(
                f"another credtune run{who} is writing {target}; wait for it to finish, or choose another output"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            return fd
        os.close(fd)  # the holder finished and removed this file meanwhile: lock the new one
