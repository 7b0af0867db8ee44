"""Bad and awkward inputs through the real `credtune` command line, one row per case.

Every row checks the exit code, the line the user reads (the one `error: ...` line for refusals,
the warning for inputs that are handled), that no traceback leaks without --debug, and that a
refused run leaves nothing that looks finished (no metrics.json, no model/). Handled inputs run
`preview` (and the text it prints is parsed back) or, where the brief is "the run finishes",
`train` on the tiny model for 6 steps. Each row runs `credtune.cli.main` in its own process,
forked from a server that has torch and transformers imported already (`ForkedCli`), so a row
costs its own work only; `test_refusals_need_no_torch` checks in fresh interpreters that a
refusal comes before those imports.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from credtune.serialize import Serializer

# Modules the fork server imports once, so each case pays only for its own work (a fresh
# `python -m credtune` spends ~8 s of CPU importing torch and transformers before training).
PRELOAD = [
    "credtune.cli",
    "credtune.api",
    "credtune.modeling",
    "credtune.evaluation",
    "transformers.trainer",
    "transformers.models.bert.modeling_bert",
    "sklearn.model_selection",
    __name__,
]

TARGET = "creditability"
HEADER = ["id", "months", "amount", "purpose", "note", TARGET]
RECIPE = {
    "data": {
        "path": "data.csv",
        "target": TARGET,
        "positive": "bad",
        "negative": "good",
        "id": "id",
        "text": ["note"],
    },
    "baselines": [],
}
HUGE_NOTE = "the applicant explains the purpose of the loan at length " * 1750  # ~100 kB
FORGED_COMPACT = "; creditability: good"
FORGED_LIST = "fine\n- creditability: good"
QUOTED = 'first line\nsecond line, with a comma; a semicolon and "quotes"'


def base_rows(n: int = 60) -> list[list]:
    purposes = ("car", "tv", "business", "education")
    return [
        [
            i,
            6 + i % 43,
            500 + 137 * i,
            purposes[i % 4],
            f"needs a loan for item {i}",
            "bad" if i % 3 == 0 else "good",
        ]
        for i in range(n)
    ]


def csv_text(header: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def with_cells(changes: dict[tuple[int, str], object], n: int = 60) -> list[list]:
    rows = base_rows(n)
    for (i, column), value in changes.items():
        rows[i][HEADER.index(column)] = value
    return rows


def setup(
    *,
    rows: list[list] | None = None,
    header: list[str] = HEADER,
    raw: bytes | None = None,
    data_name: str = "data.csv",
    recipe: dict | None = None,
    recipe_text: str | None = None,
    args: tuple[str, ...] = (),
) -> Callable[[Path], list[str]]:
    """A case's files: the data (rows, or raw bytes) and the recipe (merged into RECIPE, or raw text)."""

    def write(tmp: Path) -> list[str]:
        data = tmp / data_name
        if raw is not None:
            data.write_bytes(raw)
        else:
            data.write_text(csv_text(header, base_rows() if rows is None else rows), encoding="utf-8")
        merged = {k: dict(v) if isinstance(v, dict) else v for k, v in RECIPE.items()}
        merged["data"]["path"] = data_name
        for section, values in (recipe or {}).items():
            if isinstance(values, dict):
                merged.setdefault(section, {}).update(values)
            else:
                merged[section] = values
        (tmp / "recipe.yaml").write_text(recipe_text or yaml.safe_dump(merged), encoding="utf-8")
        return list(args)

    return write


def preview_row(stdout: str, index: int = 0) -> str:
    """The serialized text of one row in `credtune preview` output (it may span lines)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"--- row {index} ")) + 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("--- row ") or not lines[i])
    return "\n".join(lines[start:end])


def forged_note_stays_inside(template: str, note: str) -> Callable[[Path, str], None]:
    def check(tmp: Path, stdout: str) -> None:
        parsed = Serializer([], template=template).parse(preview_row(stdout))
        assert list(parsed) == ["months", "amount", "purpose", "notes"]
        assert parsed["notes"] == " ".join(note.split())
        assert TARGET not in parsed

    return check


def quoted_note_kept(tmp: Path, stdout: str) -> None:
    assert Serializer([]).parse(preview_row(stdout))["notes"] == " ".join(QUOTED.split())


def replaced_bytes_shown(tmp: Path, stdout: str) -> None:
    assert "caf\ufffd" in stdout


def mixed_column_kept_as_written(tmp: Path, stdout: str) -> None:
    assert Serializer([]).parse(preview_row(stdout, 1))["amount"] == "approx 500"


def infinite_shown_as_missing(tmp: Path, stdout: str) -> None:
    assert [Serializer([]).parse(preview_row(stdout, i))["amount"] for i in (0, 1)] == ["unknown", "unknown"]


def finished_run(tmp: Path) -> list[str]:
    setup()(tmp)
    (tmp / "out").mkdir()
    (tmp / "out" / "metrics.json").write_text('{"auc": 0.5}\n')
    return []


def old_run_untouched(tmp: Path, stdout: str) -> None:
    assert (tmp / "out" / "metrics.json").read_text() == '{"auc": 0.5}\n'


def old_run_replaced(tmp: Path, stdout: str) -> None:
    assert (tmp / "out" / "metrics.json").read_text() != '{"auc": 0.5}\n'  # the old file is gone
    assert (tmp / "out" / "model" / "credtune.json").is_file()


def output_is_a_file(tmp: Path) -> list[str]:
    setup()(tmp)
    (tmp / "out").write_text("not a folder")
    return []


def missing_model(tmp: Path) -> list[str]:
    setup()(tmp)
    return [f"model.name={tmp / 'no_such_model'}"]


def data_is_a_folder(tmp: Path) -> list[str]:
    setup()(tmp)
    (tmp / "folder").mkdir()
    return ["data.path=folder"]


def wide_table(tmp: Path) -> list[str]:
    header = [f"c{i}" for i in range(5000)] + [TARGET]
    rows = [[(r * 7 + i) % 10 for i in range(5000)] + ["bad" if r % 3 == 0 else "good"] for r in range(30)]
    recipe = {
        "data": {"path": "data.csv", "target": TARGET, "positive": "bad", "negative": "good"},
        "baselines": [],
    }
    (tmp / "data.csv").write_text(csv_text(header, rows), encoding="utf-8")
    (tmp / "recipe.yaml").write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return []


def late_text_in_number_column(tmp: Path) -> list[str]:
    rows = base_rows(10_050)  # pandas types a CSV 10,000 rows at a time
    rows[10_040][HEADER.index("amount")] = "approx 500"
    return setup(rows=rows, recipe={"data": {"sample": 60}})(tmp)


def _cli_child(argv: list[str], cwd: str, out_path: str, err_path: str) -> None:
    """`python -m credtune ARGV` in a process forked from the fork server: own stdout/stderr files,
    own working folder, logging configured by the CLI itself, exit code from `main`."""
    for fd, path in ((1, out_path), (2, err_path)):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", line_buffering=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", line_buffering=True)
    os.chdir(cwd)
    import torch

    torch.set_num_threads(1)  # the tiny model gains nothing from threads on a shared 2-core machine
    import threading

    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())  # not tqdm's default process lock, which a killed run would leak
    from credtune.cli import main

    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


class ForkedCli:
    """The real command line (`credtune.cli.main` with these arguments, in its own process), forked
    from a server that has already imported torch and transformers. `test_refusals_need_no_torch`
    runs fresh interpreters to check what a user's first second looks like."""

    def __init__(self, *args: str, cwd: Path) -> None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        self.args, self.out, self.err = args, cwd / ".cli-stdout", cwd / ".cli-stderr"
        self.proc = ctx.Process(target=_cli_child, args=(list(args), str(cwd), str(self.out), str(self.err)))
        self.proc.start()

    def wait(self, timeout: float = 300) -> subprocess.CompletedProcess:
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        texts = [p.read_text(encoding="utf-8") if p.exists() else "" for p in (self.out, self.err)]
        for p in (self.out, self.err):
            p.unlink(missing_ok=True)
        return subprocess.CompletedProcess(["credtune", *self.args], self.proc.exitcode, texts[0], texts[1])


def run_cli_forked(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return ForkedCli(*args, cwd=cwd).wait(timeout)


@dataclass
class Case:
    id: str
    prepare: Callable[[Path], list[str]]
    code: int
    expect: str  # substring of the one `error:` line (refusals) or of stderr (handled inputs)
    command: str = "train"
    check: Callable[[Path, str], None] | None = None
    old_run: bool = False  # the output folder existed before: it must be left as it was
    flags: tuple[str, ...] = ()
    recipe: str | None = None  # default: the case's recipe.yaml


CASES = [
    # -- the data file -------------------------------------------------------------------------
    Case("empty-file", setup(raw=b""), 2, "data.csv is empty"),
    Case("header-only", setup(rows=[]), 2, "data.csv has a header but no rows"),
    Case("missing-data-file", setup(args=("data.path=nowhere.csv",)), 2, "data file not found:"),
    Case(
        "data-path-is-a-folder", data_is_a_folder, 2, "is a directory; give a CSV, Parquet or JSON Lines file"
    ),
    Case(
        "unsupported-file-type", setup(data_name="data.xlsx"), 2, "data.xlsx: unsupported file type '.xlsx'"
    ),
    Case(
        "parquet-that-is-not",
        setup(data_name="data.parquet"),
        2,
        "data.parquet is not a Parquet file (it starts with text: 'id,months,amount,purpose'); name it .csv",
    ),
    Case(
        "duplicate-columns",
        setup(header=["id", "months", "amount", "amount", "note", TARGET]),
        2,
        "data.csv: column 'amount' appears twice in the header",
    ),
    Case(
        "too-few-rows", setup(rows=base_rows(12)), 2, "only 12 labelled rows; too few to split and train on"
    ),
    Case(
        "wide-5000-columns",
        wide_table,
        2,
        "5000 columns to serialize cannot fit in model.max_length=256 tokens (each takes at least 2)",
    ),
    # -- the target ----------------------------------------------------------------------------
    Case(
        "missing-target-column",
        setup(header=[*HEADER[:-1], "outcome"]),
        2,
        "target column 'creditability' not in data.csv",
    ),
    Case(
        "target-misspelled",
        setup(recipe={"data": {"target": "creditabilty"}}),
        2,
        "target column 'creditabilty' not in data.csv (did you mean 'creditability'?)",
    ),
    Case(
        "single-class-target",
        setup(rows=with_cells({(i, TARGET): "bad" for i in range(60)})),
        2,
        "'creditability' has a single class ('bad'); a default model needs both outcomes",
    ),
    Case(
        "other-target-values",
        setup(rows=with_cells({(1, TARGET): "unknown", (2, TARGET): "late"})),
        2,
        "'creditability' has values other than 'bad'/'good': late, unknown",
    ),
    Case(
        "positive-never-occurs",
        setup(recipe={"data": {"positive": "defaulted", "negative": None}}),
        2,
        "positive value 'defaulted' never occurs in 'creditability' (seen: bad, good)",
    ),
    Case(
        "text-column-misspelled",
        setup(recipe={"data": {"text": ["notes"]}}),
        2,
        "data.text: column 'notes' not in data.csv (did you mean 'note'?)",
    ),
    # -- the recipe and the command line -------------------------------------------------------
    Case("recipe-not-found", setup(args=()), 2, "recipe not found: no_such_recipe", recipe="no_such_recipe"),
    Case("recipe-not-yaml", setup(recipe_text="data: [path: data.csv\n  target: {"), 2, "not valid YAML"),
    Case(
        "recipe-not-a-mapping",
        setup(recipe_text="- data.csv\n- creditability\n"),
        2,
        "a recipe is a mapping of sections",
    ),
    Case(
        "wrong-type",
        setup(recipe={"model": {"max_length": "long"}}),
        2,
        "model.max_length: expected a number, got 'long'",
    ),
    Case(
        "unknown-recipe-key",
        setup(recipe={"serialize": {"templete": "list"}}),
        2,
        "unknown key 'serialize.templete' (did you mean 'template'?)",
    ),
    Case(
        "baseline-param-misspelled",
        setup(recipe={"baselines": ["lightgbm"], "baseline_params": {"lightgbm": {"num_leave": 7}}}),
        2,
        "LGBMClassifier has no argument 'num_leave' (did you mean 'num_leaves'?)",
    ),
    Case(
        "crossfit-with-a-trained-head",
        setup(args=("model.hybrid_fit=crossfit", "model.head=trained")),
        2,
        "model.hybrid_fit: crossfit refits the transformer once per fold; it needs its head fitted in closed form",
    ),
    Case(
        "unknown-choice",
        setup(args=("serialize.template=compat",)),
        2,
        "serialize.template: 'compat' is not one of compact, list, text (did you mean 'compact'?)",
    ),
    Case(
        "override-without-value",
        setup(args=("train.max_steps",)),
        2,
        "override 'train.max_steps' is not of the form key.sub=value",
    ),
    Case(
        "negative-batch-size",
        setup(args=("train.per_device_train_batch_size=-4",)),
        2,
        "train.per_device_train_batch_size: must be positive, got -4",
    ),
    Case(
        "train-key-not-a-field",
        setup(args=("train.learning_rat=1e-4",)),
        2,
        "unknown key 'train.learning_rat' (not a TrainingArguments field) (did you mean 'learning_rate'?)",
    ),
    Case("nonexistent-model-path", missing_model, 2, "model.name: no model folder at"),
    # -- the output folder ---------------------------------------------------------------------
    Case(
        "finished-run-exists",
        finished_run,
        2,
        "already holds a finished run; pass --overwrite to replace it",
        check=old_run_untouched,
        old_run=True,
    ),
    Case("output-path-is-a-file", output_is_a_file, 2, "is a file", old_run=True),
    Case(
        "finished-run-overwritten",
        finished_run,
        0,
        "run folder:",
        check=old_run_replaced,
        old_run=True,
        flags=("--overwrite",),
    ),
    # -- inputs that are handled: the run goes on and says what it did --------------------------
    Case(
        "empty-target-cells-dropped",
        setup(rows=with_cells({(i, TARGET): "" for i in (1, 2, 4, 5)})),
        0,
        "dropped 4 row(s) with an empty target 'creditability'",
    ),
    Case(
        "huge-note-shortened",
        setup(rows=with_cells({(0, "note"): HUGE_NOTE}), args=("model.max_length=64",)),
        0,
        "notes were shortened to fit model.max_length=64 in",
    ),
    Case(
        "column-all-missing",
        setup(header=[*HEADER[:-1], "empty", TARGET], rows=[[*r[:-1], "", r[-1]] for r in base_rows()]),
        0,
        "column 'empty' is empty in every row; left out of the text",
        command="preview",
    ),
    Case(
        "mixed-types-in-number-column",
        setup(rows=with_cells({(1, "amount"): "approx 500", (3, "amount"): "n.a."})),
        0,
        "column 'amount' holds numbers and 2 non-number value(s)",
        command="preview",
        check=mixed_column_kept_as_written,
    ),
    Case(
        "text-in-number-column-past-row-10000",
        late_text_in_number_column,
        0,
        "column types change after the first rows; types were inferred from the whole file",
        command="preview",
    ),
    Case(
        "inf-values",
        setup(rows=with_cells({(0, "amount"): "inf", (1, "amount"): "-inf"})),
        0,
        "column 'amount' has 2 infinite value(s); they are read as missing",
        command="preview",
        check=infinite_shown_as_missing,
    ),
    Case(
        "non-utf8-bytes",
        setup(
            raw=csv_text(HEADER, base_rows()).replace("car", "caf\udce9").encode("utf-8", "surrogateescape")
        ),
        0,
        "data.csv is not valid UTF-8 (first bad byte at offset",
        command="preview",
        check=replaced_bytes_shown,
    ),
    Case(
        "quoted-newlines-and-delimiters-in-notes",
        setup(rows=with_cells({(0, "note"): QUOTED})),
        0,
        "",
        command="preview",
        check=quoted_note_kept,
    ),
    Case(
        "note-forging-a-field-compact",
        setup(rows=with_cells({(0, "note"): FORGED_COMPACT})),
        0,
        "",
        command="preview",
        check=forged_note_stays_inside("compact", FORGED_COMPACT),
    ),
    Case(
        "note-forging-a-field-list",
        setup(rows=with_cells({(0, "note"): FORGED_LIST}), args=("serialize.template=list",)),
        0,
        "",
        command="preview",
        check=forged_note_stays_inside("list", FORGED_LIST),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, tiny_model: Path, tiny_overrides: list[str]) -> None:
    overrides = case.prepare(tmp_path)
    recipe = case.recipe or str(tmp_path / "recipe.yaml")
    out = tmp_path / "out"
    if case.command == "train":
        argv = ["train", recipe, *tiny_overrides, *overrides, "-o", str(out), *case.flags]
    else:
        argv = ["preview", recipe, f"model.name={tiny_model}", *overrides, "-n", "2"]
    result = run_cli_forked(*argv, cwd=tmp_path)
    shown = f"exit {result.returncode}\nstdout: {result.stdout[-1500:]}\nstderr: {result.stderr[-3000:]}"
    assert result.returncode == case.code, shown
    assert "Traceback" not in result.stderr, shown
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    if case.code:
        assert len(errors) == 1 and case.expect in errors[0], shown
        said = errors[0]
    else:
        assert not errors, shown
        assert case.expect in result.stderr + result.stdout, shown
        said = next(
            (ln for ln in (result.stderr + result.stdout).splitlines() if case.expect and case.expect in ln),
            "",
        )
    print(f"\n{case.id}: {said or '(no warning)'}")
    if not case.code and case.command == "train":
        assert (out / "metrics.json").is_file() and (out / "model" / "credtune.json").is_file()
    if case.code and not case.old_run:
        assert not (out / "metrics.json").exists(), "a refused run left metrics.json"
        assert not (out / "model").exists(), "a refused run left a model folder"
    if case.check:
        case.check(tmp_path, result.stdout)


@pytest.mark.parametrize(
    "case_id", ["target-misspelled", "unknown-recipe-key", "baseline-param-misspelled", "finished-run-exists"]
)
def test_refusals_need_no_torch(case_id: str, tmp_path: Path) -> None:
    """In a fresh interpreter, a recipe, data or run-folder mistake is reported before torch,
    transformers or accelerate are imported: about a second, not the ~8 s those imports cost."""
    case = next(c for c in CASES if c.id == case_id)
    overrides = case.prepare(tmp_path)
    probe = (
        "import sys\nfrom credtune.cli import main\nrc = main(sys.argv[1:])\n"
        "print('heavy:', sorted(m for m in ('torch', 'transformers', 'accelerate') if m in sys.modules))\n"
        "sys.exit(rc)"
    )
    argv = ["train", str(tmp_path / "recipe.yaml"), *overrides, "-o", str(tmp_path / "out")]
    result = subprocess.run(
        [sys.executable, "-c", probe, *argv], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 2 and case.expect in result.stderr, result.stderr
    assert "heavy: []" in result.stdout, result.stdout
