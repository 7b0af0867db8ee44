"""The second bad-input matrix: what a new user (typos, Excel exports, two jobs at once, reruns
with --overwrite) and an attacker (a tampered model folder, a crafted column) try, one row per kind.

Every row runs the real command line (`credtune.cli.main` forked from the server of
test_bad_inputs, which has torch imported) and checks the exit code and the exact line the user
reads: the one `error:` line of a refusal, or the warning of an input that is handled. A refused
row must leave the case's folder exactly as it was (no file added, none changed: nothing that
looks finished, nothing of the user's lost); a handled row checks that the result is right.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_bad_inputs import HEADER, TARGET, base_rows, csv_text, run_cli_forked, setup

from conftest import GERMAN

N_APPLICANTS = 30


@dataclass
class Ctx:
    """What the rows share: the session's trained German model and the tiny backbone."""

    model: Path
    run: Path
    tiny: Path
    overrides: list[str]
    german: pd.DataFrame
    formatted: Path  # a run trained on `formatted_table`, shipping a hybrid with logistic regression


@dataclass
class Case:
    id: str
    prepare: Callable[[Path, Ctx], list[str]]  # writes the case's files, returns the argv
    code: int
    expect: str  # the exact error line (refusals) or a line of the output, with {tmp}, {model}, {pid}
    check: Callable[[Path, Ctx, subprocess.CompletedProcess], None] | None = None


# -- inputs ---------------------------------------------------------------------------------------
def applicants(ctx: Ctx, n: int = N_APPLICANTS) -> pd.DataFrame:
    return ctx.german.drop(columns=[TARGET]).head(n).copy()


def score(write: Callable[[Path, Ctx], Path], *flags: str, out: str = "out.parquet") -> Callable:
    """`credtune score MODEL INPUT -o OUT FLAGS`, the input written by `write`."""

    def prepare(tmp: Path, ctx: Ctx) -> list[str]:
        return ["score", str(ctx.model), str(write(tmp, ctx)), "-o", str(tmp / out), *flags]

    return prepare


def as_csv(name: str = "applicants.csv", change: Callable[[pd.DataFrame], pd.DataFrame] | None = None):
    def write(tmp: Path, ctx: Ctx) -> Path:
        frame = applicants(ctx)
        (change(frame) if change else frame).to_csv(tmp / name, index=False)
        return tmp / name

    return write


def raw_file(name: str, make: Callable[[Ctx], bytes]):
    def write(tmp: Path, ctx: Ctx) -> Path:
        (tmp / name).write_bytes(make(ctx))
        return tmp / name

    return write


def csv_bytes(ctx: Ctx, sep: str = ",") -> bytes:
    return applicants(ctx).to_csv(index=False, sep=sep).encode("utf-8")


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


def jsonl_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_json(orient="records", lines=True).encode()


def recipe(command: str = "train", *args: str, flags: tuple[str, ...] = (), **kwargs) -> Callable:
    """A recipe case on the small table of test_bad_inputs (`setup` kwargs), run as `command`."""
    write = setup(args=args, **kwargs)

    def prepare(tmp: Path, ctx: Ctx) -> list[str]:
        overrides = write(tmp)
        path = str(tmp / "recipe.yaml")
        if command == "validate":
            return ["validate", path]
        if command == "preview":
            return ["preview", path, f"model.name={ctx.tiny}", *overrides, "-n", "2", *flags]
        out = ["-o", str(tmp / "out")] if "-o" not in flags else []
        return [command, path, *ctx.overrides, *overrides, *out, *flags]

    return prepare


def formatted_rows(n: int = 60) -> tuple[list[str], list[list]]:
    """An Excel export read back as text: money, rates, day-first dates, a numeric id per row."""
    header = ["member_id", "loan", "rate", "issued", "purpose", TARGET]
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    rows = [
        [
            f"{1_077_501 + 37 * i}",
            f"${1_000 + 250 * i:,}.00",
            f"{5 + (i % 9) * 1.5:.1f}%",
            f"{1 + i % 28:02d}-{months[i % 12]}-{97 + i % 3}",
            ("car", "tv", "business")[i % 3],
            "bad" if i % 3 == 0 else "good",
        ]
        for i in range(n)
    ]
    return header, rows


def formatted_table(tmp: Path, extra: dict | None = None) -> None:
    header, rows = formatted_rows()
    (tmp / "data.csv").write_text(csv_text(header, rows), encoding="utf-8")
    frame = pd.read_csv(tmp / "data.csv", dtype=str)  # every column a string, as in a Parquet export
    frame.to_parquet(tmp / "data.parquet")
    data = {"path": "data.parquet", "target": TARGET, "positive": "bad", "negative": "good", **(extra or {})}
    (tmp / "recipe.yaml").write_text(yaml.safe_dump({"data": data, "baselines": []}), encoding="utf-8")


# -- shared checks ----------------------------------------------------------------------------
def snapshot(tmp: Path) -> dict[str, str]:
    return {
        str(p.relative_to(tmp)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(tmp.rglob("*"))
        if p.is_file() and not p.name.startswith(".cli-std")
    }


def output_pds(path: Path) -> np.ndarray:
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    return frame["pd"].to_numpy()


def expected_pds(ctx: Ctx, frame: pd.DataFrame) -> np.ndarray:
    from credtune.scoring import CreditScorer

    return CreditScorer.from_pretrained(ctx.model).predict_proba(frame)


# -- item 1: never destroy what is not ours -----------------------------------------------------
def train_into_data_folder(tmp: Path, ctx: Ctx) -> list[str]:
    (tmp / "project").mkdir()
    setup()(tmp / "project")
    return [
        "train",
        str(tmp / "project" / "recipe.yaml"),
        *ctx.overrides,
        "-o",
        str(tmp / "project"),
        "--overwrite",
    ]


def cv_into_data_folder(tmp: Path, ctx: Ctx) -> list[str]:
    argv = train_into_data_folder(tmp, ctx)
    return ["cv", *argv[1:], "--folds", "2"]


def train_over_a_folder_with_user_files(tmp: Path, ctx: Ctx) -> list[str]:
    setup()(tmp)
    (tmp / "out").mkdir()
    (tmp / "out" / "metrics.json").write_text('{"auc": 0.5}\n')
    (tmp / "out" / "notes.txt").write_text("my notes\n")
    return ["train", str(tmp / "recipe.yaml"), *ctx.overrides, "-o", str(tmp / "out"), "--overwrite"]


def train_default_folder_with_a_typo(tmp: Path, ctx: Ctx) -> list[str]:
    setup(recipe={"data": {"target": "creditabilty"}})(tmp)
    return ["train", str(tmp / "recipe.yaml"), *ctx.overrides]


def no_runs_folder_left(tmp: Path, ctx: Ctx, result: subprocess.CompletedProcess) -> None:
    assert not (tmp / "runs").exists()


def train_into_the_recipe_folder(tmp: Path, ctx: Ctx) -> list[str]:
    setup()(tmp)
    (tmp / "recipes").mkdir()
    raw = yaml.safe_load((tmp / "recipe.yaml").read_text())
    raw["data"]["path"] = "../data.csv"
    (tmp / "recipes" / "recipe.yaml").write_text(yaml.safe_dump(raw))
    return [
        "train",
        str(tmp / "recipes" / "recipe.yaml"),
        *ctx.overrides,
        "-o",
        str(tmp / "recipes"),
        "--overwrite",
    ]


def score_over_user_file(tmp: Path, ctx: Ctx) -> list[str]:
    (tmp / "customers.csv").write_text("id,name\n1,Ann\n")
    return score(as_csv(), "--overwrite", out="customers.csv")(tmp, ctx)


def score_over_own_output(tmp: Path, ctx: Ctx) -> list[str]:
    path = as_csv()(tmp, ctx)
    pd.DataFrame({"row": [0], "pd": [0.5], "points": [600.0], "decision": ["approve"]}).to_parquet(
        tmp / "out.parquet"
    )
    return ["score", str(ctx.model), str(path), "-o", str(tmp / "out.parquet"), "--overwrite"]


def scored_all_rows(tmp: Path, ctx: Ctx, result: subprocess.CompletedProcess) -> None:
    np.testing.assert_allclose(output_pds(tmp / "out.parquet"), expected_pds(ctx, applicants(ctx)), atol=1e-6)


def model_copy(tmp: Path, ctx: Ctx) -> Path:
    shutil.copytree(ctx.model, tmp / "model")
    return tmp / "model"


def score_into_model_folder(tmp: Path, ctx: Ctx) -> list[str]:
    model = model_copy(tmp, ctx)
    return ["score", str(model), str(as_csv()(tmp, ctx)), "-o", str(model / "scores.parquet")]


def evaluate_into_run(tmp: Path, ctx: Ctx) -> list[str]:
    shutil.copytree(ctx.run, tmp / "run")
    ctx.german.head(60).to_csv(tmp / "labelled.csv", index=False)
    return ["evaluate", str(ctx.model), str(tmp / "labelled.csv"), "--report", str(tmp / "run")]


def evaluate_into_own_run(tmp: Path, ctx: Ctx) -> list[str]:
    shutil.copytree(ctx.run, tmp / "run")
    ctx.german.head(60).to_csv(tmp / "labelled.csv", index=False)
    return ["evaluate", str(tmp / "run"), str(tmp / "labelled.csv"), "--report", str(tmp / "run")]


def evaluate_into_user_folder(tmp: Path, ctx: Ctx) -> list[str]:
    ctx.german.head(60).to_csv(tmp / "labelled.csv", index=False)
    (tmp / "reports").mkdir()
    (tmp / "reports" / "q3.xlsx").write_bytes(b"PK\x03\x04 a workbook")
    return ["evaluate", str(ctx.model), str(tmp / "labelled.csv"), "--report", str(tmp / "reports")]


def held(target: Callable[[Path], Path], then: Callable[[Path, Ctx], list[str]]) -> Callable:
    """Another run writing the same output: the case holds its lock while the CLI runs."""

    def prepare(tmp: Path, ctx: Ctx) -> list[str]:
        argv = then(tmp, ctx)
        lock = target(tmp).with_name(f".{target(tmp).name}.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, str(os.getpid()).encode())
        HELD.append((fd, lock))
        return argv

    return prepare


HELD: list[tuple[int, Path]] = []


def parts_of_another_input(tmp: Path, ctx: Ctx) -> list[str]:
    path = as_csv()(tmp, ctx)
    parts = tmp / ".out.parquet.parts"
    parts.mkdir()
    (parts / "meta.json").write_text(json.dumps({"input": "/elsewhere/other.csv", "size": 1, "mtime": 1}))
    pd.DataFrame({"row": range(5), "pd": [0.999] * 5, "points": [1.0] * 5}).to_parquet(
        parts / "part-000000.parquet"
    )
    return ["score", str(ctx.model), str(path), "-o", str(tmp / "out.parquet"), "--resume"]


def parts_of_another_model(tmp: Path, ctx: Ctx) -> list[str]:
    """Parts left by a run of the same input, then the model's weights were replaced (retrained)."""
    from credtune.runs.batch import _run_meta
    from credtune.scoring import CreditScorer

    model, path = model_copy(tmp, ctx), as_csv()(tmp, ctx)
    meta = _run_meta(CreditScorer.from_pretrained(model), path, 10_000, None, model)
    parts = tmp / ".out.parquet.parts"
    parts.mkdir()
    (parts / "meta.json").write_text(json.dumps(meta))
    weights = model / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    return ["score", str(model), str(path), "-o", str(tmp / "out.parquet"), "--resume"]


def stale_parts_without_resume(tmp: Path, ctx: Ctx) -> list[str]:
    argv = parts_of_another_input(tmp, ctx)
    return argv[:-1]


def stale_parts_discarded(tmp: Path, ctx: Ctx, result: subprocess.CompletedProcess) -> None:
    scored_all_rows(tmp, ctx, result)
    assert not (tmp / ".out.parquet.parts").exists()


# -- item 2: scoring reads its input as strictly as training --------------------------------------
def with_bom(ctx: Ctx) -> bytes:
    return b"\xef\xbb\xbf" + csv_bytes(ctx)


def utf16(ctx: Ctx) -> bytes:
    return "\ufeff".encode("utf-16-le") + csv_bytes(ctx).decode().replace(",", "\t").encode("utf-16-le")


def not_utf8(ctx: Ctx) -> bytes:
    return csv_bytes(ctx).replace(b"radio/television", b"radio/t\xe9l\xe9vision", 1)


def duplicate_column(ctx: Ctx) -> bytes:
    return csv_bytes(ctx).replace(b"telephone", b"housing", 1)


def xlsx(ctx: Ctx) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        book.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


def nested(frame: pd.DataFrame) -> pd.DataFrame:
    frame["housing"] = [{"kind": h, "since": 3} for h in frame["housing"]]
    return frame


def huge_integer_jsonl(ctx: Ctx) -> bytes:
    lines = jsonl_bytes(applicants(ctx, 3)).decode().splitlines()
    lines[1] = lines[1].replace('"credit_amount":5951', '"credit_amount":123456789012345678901234567890')
    return ("\n".join(lines) + "\n").encode()


WORDS = {3: "twelve", 7: "5,951"}


def words_in_number_column(frame: pd.DataFrame) -> pd.DataFrame:
    frame["credit_amount"] = frame["credit_amount"].astype(object)
    for row, word in WORDS.items():
        frame.loc[row, "credit_amount"] = word
    return frame


def words_scored_as_missing(tmp: Path, ctx: Ctx, result: subprocess.CompletedProcess) -> None:
    frame = applicants(ctx).astype({"credit_amount": object})
    frame.loc[list(WORDS), "credit_amount"] = None
    np.testing.assert_allclose(output_pds(tmp / "out.parquet"), expected_pds(ctx, frame), atol=1e-6)


def bom_scored(tmp: Path, ctx: Ctx, result: subprocess.CompletedProcess) -> None:
    scored_all_rows(tmp, ctx, result)


# -- item 5: identifiers --------------------------------------------------------------------------
def with_ids(ids: list) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.insert(0, "applicant", ids + [f"A{i:03d}" for i in range(len(ids), len(frame))])
        return frame

    return change


def first_chunk_ids_empty(tmp: Path, ctx: Ctx, result: subprocess.CompletedProcess) -> None:
    out = pd.read_parquet(tmp / "out.parquet")
    assert out["applicant"].head(5).isna().all() and out["applicant"].iloc[5:].tolist() == [
        f"A{i:03d}" for i in range(5, N_APPLICANTS)
    ]
    from credtune.scoring import CreditScorer

    scorer, frame = CreditScorer.from_pretrained(ctx.model), applicants(ctx)
    chunked = np.concatenate([scorer.predict_proba(frame.iloc[i : i + 5]) for i in range(0, len(frame), 5)])
    np.testing.assert_allclose(output_pds(tmp / "out.parquet"), chunked, atol=1e-6)  # same batches as scored


def mixed_ids_jsonl(ctx: Ctx) -> bytes:
    frame = applicants(ctx)
    frame.insert(0, "applicant", [i if i < 10 else f"X{i}" for i in range(len(frame))])
    return jsonl_bytes(frame)


def mixed_ids_kept(tmp: Path, ctx: Ctx, result: subprocess.CompletedProcess) -> None:
    out = pd.read_parquet(tmp / "out.parquet")
    assert out["applicant"].tolist() == [str(i) if i < 10 else f"X{i}" for i in range(N_APPLICANTS)]


# -- item 4: a tampered model folder ------------------------------------------------------------
def tampered(edit: Callable[[Path], None], command: str = "score") -> Callable:
    def prepare(tmp: Path, ctx: Ctx) -> list[str]:
        model = model_copy(tmp, ctx)
        edit(model)
        if command == "push":
            return ["push", str(model), "someone/german-credit", "--dry-run"]
        return ["score", str(model), str(as_csv()(tmp, ctx)), "-o", str(tmp / "out.parquet")]

    return prepare


def edit_json(name: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    def edit(model: Path) -> None:
        raw = json.loads((model / name).read_text())
        change(raw)
        (model / name).write_text(json.dumps(raw))

    return edit


def swap_labels(config: dict) -> None:
    config["id2label"] = {"0": "bad", "1": "good"}
    config["label2id"] = {"bad": 0, "good": 1}


def unknown_kind(spec: dict) -> None:
    spec["schema"]["columns"][1]["kind"] = "numerc"


def link_outside(model: Path) -> None:
    secret = model.parent / "secret.txt"
    secret.write_text("not part of the model\n")
    (model / "notes.txt").symlink_to(secret)


# -- item 6: formatted values -------------------------------------------------------------------
def formatted_preview(extra: dict | None = None) -> Callable:
    def prepare(tmp: Path, ctx: Ctx) -> list[str]:
        formatted_table(tmp, extra)
        return ["preview", str(tmp / "recipe.yaml"), f"model.name={ctx.tiny}", "-n", "2"]

    return prepare


def formatted_read_as_numbers(tmp: Path, ctx: Ctx, result: subprocess.CompletedProcess) -> None:
    assert "parsed as numbers: loan (money), rate (percent), issued (date:%d-%b-%y)" in result.stdout
    assert "left out as identifiers (a different value in every row): member_id" in result.stdout
    first = result.stdout.split("--- row 0 ", 1)[1].splitlines()[1]
    assert first == "loan: 1000 (very low); rate: 5; issued: 19970101 (very low); purpose: car", first


def money_kept_as_text(tmp: Path, ctx: Ctx, result: subprocess.CompletedProcess) -> None:
    first = result.stdout.split("--- row 0 ", 1)[1].splitlines()[1]
    assert first.startswith('loan: "$1,000.00"; rate: 5;') or first.startswith("loan: $1,000.00; rate: 5;"), (
        first
    )


def score_formatted(change: Callable[[pd.DataFrame], None] | None = None) -> Callable:
    """`credtune score` of the formatted model on its own training rows, as the CSV export."""

    def prepare(tmp: Path, ctx: Ctx) -> list[str]:
        frame = pd.read_csv(ctx.formatted.parent / "data.csv", dtype=str).drop(columns=[TARGET])
        if change:
            change(frame)
        frame.to_csv(tmp / "formatted.csv", index=False)
        return [
            "score",
            str(ctx.formatted / "model"),
            str(tmp / "formatted.csv"),
            "-o",
            str(tmp / "out.parquet"),
        ]

    return prepare


def scores_as_in_training(tmp: Path, ctx: Ctx, result: subprocess.CompletedProcess) -> None:
    spec = json.loads((ctx.formatted / "model" / "credtune.json").read_text())
    parses = {c["name"]: c.get("parse") for c in spec["schema"]["columns"]}
    assert parses == {"loan": "money", "rate": "percent", "issued": "date:%d-%b-%y", "purpose": None}
    stored = json.loads((ctx.formatted / "metrics.json").read_text())["test_predictions"]
    scored = output_pds(tmp / "out.parquet")[stored["row"]]
    np.testing.assert_allclose(scored, stored["pd"]["hybrid"], atol=1e-6)


def fee_serialized(tmp: Path, ctx: Ctx, result: subprocess.CompletedProcess) -> None:
    assert "fee" in result.stdout.split("fields serialized: ")[1].splitlines()[0]


def big_table(tmp: Path, ctx: Ctx) -> list[str]:
    setup(rows=base_rows(25_000))(tmp)
    return ["preview", str(tmp / "recipe.yaml"), f"model.name={ctx.tiny}", "-n", "2"]


def sampled_stats(tmp: Path, ctx: Ctx, result: subprocess.CompletedProcess) -> None:
    assert result.stdout.count("--- row ") == 2


def time_split(values: list[str]) -> Callable:
    def prepare(tmp: Path, ctx: Ctx) -> list[str]:
        rows = [[*r, values[i % len(values)]] for i, r in enumerate(base_rows())]
        setup(header=[*HEADER, "opened"], rows=rows, recipe={"data": {"split": {"time_column": "opened"}}})(
            tmp
        )
        return ["validate", str(tmp / "recipe.yaml")]

    return prepare


def oldest_rows_train(tmp: Path, ctx: Ctx, result: subprocess.CompletedProcess) -> None:
    from credtune import data, load_recipe

    prep = data.prepare(load_recipe(tmp / "recipe.yaml"))
    opened = np.asarray(prep.table["opened"])  # read as YYYYMMDD numbers
    assert opened[prep.splits["train"]].max() <= opened[prep.splits["test"]].min()


def with_age(**data: object) -> Callable:
    def prepare(tmp: Path, ctx: Ctx) -> list[str]:
        rows = [[*r, 20 + i % 50] for i, r in enumerate(base_rows())]
        setup(header=[*HEADER, "age"], rows=rows, recipe={"data": data})(tmp)
        return ["validate", str(tmp / "recipe.yaml")]

    return prepare


CASES = [
    # -- 1. never destroy what is not ours --------------------------------------------------------
    Case(
        "train-overwrite-folder-holding-its-data",
        train_into_data_folder,
        2,
        "--output-dir {tmp}/project contains an input of this run (data.csv); write to another path",
    ),
    Case(
        "cv-overwrite-folder-holding-its-data",
        cv_into_data_folder,
        2,
        "--output-dir {tmp}/project contains an input of this run (data.csv); write to another path",
    ),
    Case(
        "train-overwrite-folder-with-user-files",
        train_over_a_folder_with_user_files,
        2,
        "{tmp}/out holds files credtune did not write (notes.txt); credtune replaces only its own run "
        "folders: choose another --output-dir",
    ),
    Case(
        "refused-train-leaves-no-runs-folder",
        train_default_folder_with_a_typo,
        2,
        "target column 'creditabilty' not in data.csv (did you mean 'creditability'?)",
        no_runs_folder_left,
    ),
    Case(
        "train-into-the-recipe-folder",
        train_into_the_recipe_folder,
        2,
        "--output-dir {tmp}/recipes holds the recipe being run; write the run to another folder",
    ),
    Case(
        "score-output-is-the-input",
        score(as_csv(), "--overwrite", out="applicants.csv"),
        2,
        "output {tmp}/applicants.csv is an input of this run; write to another path",
    ),
    Case(
        "score-overwrite-a-user-file",
        score_over_user_file,
        2,
        "{tmp}/customers.csv was not written by credtune (it is not a score or explain output); "
        "--overwrite replaces only credtune's own outputs: choose another output name",
    ),
    Case("score-overwrite-its-own-output", score_over_own_output, 0, "", scored_all_rows),
    Case(
        "score-into-the-model-folder",
        score_into_model_folder,
        2,
        "output {tmp}/model/scores.parquet is inside the model folder {tmp}/model; write it elsewhere",
    ),
    Case(
        "explain-output-is-the-input",
        lambda tmp, ctx: [
            "explain",
            str(ctx.model),
            str(as_csv()(tmp, ctx)),
            "-o",
            str(tmp / "applicants.csv"),
        ],
        2,
        "output {tmp}/applicants.csv is an input of this run; write to another path",
    ),
    Case(
        "evaluate-report-into-a-training-run",
        evaluate_into_run,
        2,
        "{tmp}/run holds a training or cv run (checkpoints, model); an evaluation would replace its metrics and "
        "report: give --report a folder of its own",
    ),
    Case(
        "evaluate-report-into-its-own-run-folder",
        evaluate_into_own_run,
        2,
        "--report {tmp}/run contains an input of this run (model); write to another path",
    ),
    Case(
        "evaluate-report-into-a-user-folder",
        evaluate_into_user_folder,
        2,
        "{tmp}/reports holds files credtune did not write (q3.xlsx); credtune replaces only its own "
        "run folders: choose another --report folder",
    ),
    Case(
        "two-scores-into-one-output",
        held(lambda tmp: tmp / "out.parquet", score(as_csv())),
        2,
        "another credtune run (pid {pid}) is writing {tmp}/out.parquet; wait for it to finish, or "
        "choose another output",
    ),
    Case(
        "two-trainings-into-one-folder",
        held(lambda tmp: tmp / "out", recipe()),
        2,
        "another credtune run (pid {pid}) is writing {tmp}/out; wait for it to finish, or choose another output",
    ),
    Case(
        "resume-parts-of-another-input",
        parts_of_another_input,
        2,
        "--resume: the parts in {tmp}/.out.parquet.parts are for a different input, size, mtime, "
        "chunk_rows, model; rerun without --resume",
    ),
    Case(
        "resume-parts-of-another-model",
        parts_of_another_model,
        2,
        "--resume: the parts in {tmp}/.out.parquet.parts are for a different model; rerun without --resume",
    ),
    Case("stale-parts-without-resume-are-dropped", stale_parts_without_resume, 0, "", stale_parts_discarded),
    # -- 2. scoring checks its input as strictly as training --------------------------------------
    Case("score-csv-with-bom", score(raw_file("applicants.csv", with_bom)), 0, "", bom_scored),
    Case(
        "score-utf16-export",
        score(raw_file("applicants.csv", utf16)),
        2,
        "applicants.csv is UTF-16 text (Excel's 'Unicode Text'); save it as 'CSV UTF-8'",
    ),
    Case(
        "train-utf16-export",
        recipe(raw="\ufeffid,months\n1,2\n".encode("utf-16-le")),
        2,
        "data.csv is UTF-16 text (Excel's 'Unicode Text'); save it as 'CSV UTF-8'",
    ),
    Case(
        "score-not-utf8",
        score(raw_file("applicants.csv", not_utf8)),
        0,
        "applicants.csv is not valid UTF-8: 1 cell(s) held bytes that were replaced by U+FFFD",
    ),
    Case(
        "score-duplicate-columns",
        score(raw_file("applicants.csv", duplicate_column)),
        2,
        "applicants.csv: column 'housing' appears twice in the header",
    ),
    Case(
        "score-parquet-named-csv",
        score(raw_file("applicants.csv", lambda ctx: parquet_bytes(applicants(ctx)))),
        2,
        "applicants.csv is a Parquet file, not CSV text; name it .parquet",
    ),
    Case(
        "train-parquet-named-csv",
        recipe(raw=parquet_bytes(pd.DataFrame({"a": [1, 2]}))),
        2,
        "data.csv is a Parquet file, not CSV text; name it .parquet",
    ),
    Case(
        "score-csv-named-parquet",
        score(raw_file("applicants.parquet", csv_bytes)),
        2,
        "applicants.parquet is not a Parquet file (it starts with text: 'status_of_existing_check'); "
        "name it .csv if it is CSV text",
    ),
    Case(
        "score-jsonl-named-csv",
        score(raw_file("applicants.csv", lambda ctx: jsonl_bytes(applicants(ctx)))),
        2,
        "applicants.csv holds JSON Lines, not CSV text; name it .jsonl",
    ),
    Case(
        "score-excel-workbook-named-csv",
        score(raw_file("applicants.csv", xlsx)),
        2,
        "applicants.csv is an Excel workbook (.xlsx) or a zip archive; export it from Excel as 'CSV UTF-8'",
    ),
    Case(
        "score-gzip-named-csv",
        score(raw_file("applicants.csv", lambda ctx: gzip.compress(csv_bytes(ctx)))),
        2,
        "applicants.csv is gzip-compressed; decompress it first (gunzip)",
    ),
    Case(
        "score-semicolon-csv",
        score(raw_file("applicants.csv", lambda ctx: csv_bytes(ctx, ";"))),
        2,
        "applicants.csv looks separated by ';', not ',' (its header is "
        "'status_of_existing_checking_account;dura'); save it comma-separated as .csv, or tab-separated as .tsv",
    ),
    Case(
        "train-semicolon-csv",
        recipe(raw=csv_text(HEADER, base_rows()).replace(",", ";").encode()),
        2,
        "data.csv looks separated by ';', not ',' (its header is 'id;months;amount;purpose;note;creditabil'); "
        "save it comma-separated as .csv, or tab-separated as .tsv",
    ),
    Case(
        "score-nested-parquet",
        score(raw_file("applicants.parquet", lambda ctx: parquet_bytes(nested(applicants(ctx))))),
        2,
        "applicants.parquet: column 'housing' holds nested values (struct<kind: string, since: int64>); "
        "flatten it into plain columns",
    ),
    Case(
        "score-nested-jsonl",
        score(raw_file("applicants.jsonl", lambda ctx: jsonl_bytes(nested(applicants(ctx))))),
        2,
        "applicants.jsonl line 1: column 'housing' holds nested values (an object or a list); flatten it "
        "into plain columns",
    ),
    Case(
        "train-nested-jsonl",
        recipe(
            raw=b"".join(
                json.dumps({"id": i, "amount": {"value": i}, TARGET: ["bad", "good"][i % 2]}).encode() + b"\n"
                for i in range(30)
            ),
            data_name="data.jsonl",
            recipe={"data": {"text": []}},
        ),
        2,
        "data.jsonl: column 'amount' holds nested values (struct<value: int64>); flatten it into plain "
        "columns or list it under data.exclude",
    ),
    Case(
        "score-integer-beyond-64-bits",
        score(raw_file("applicants.jsonl", huge_integer_jsonl)),
        2,
        "column 'credit_amount' holds an integer beyond 64 bits (123456789012345678901234); the model "
        "reads it as a number: no number type holds it",
    ),
    Case(
        "train-csv-integer-beyond-64-bits",
        recipe(rows=[[*r[:2], 10**30 + i, *r[3:]] for i, r in enumerate(base_rows())]),
        2,
        "data.csv: column 'amount' holds integers beyond 64 bits (e.g. 100000000000000000000000); list it "
        "under data.exclude (or data.id) if it is an identifier, or data.categorical to read it as text",
    ),
    Case(
        "train-jsonl-integer-beyond-64-bits",
        recipe(
            raw=b"".join(
                json.dumps({"id": i, "amount": 10**30 + i, TARGET: ["bad", "good"][i % 2]}).encode() + b"\n"
                for i in range(30)
            ),
            data_name="data.jsonl",
            recipe={"data": {"text": []}},
        ),
        2,
        "data.jsonl line 1: 'amount' holds an integer beyond 64 bits (100000000000000000000000); write "
        "it as a string so it is read as text",
    ),
    Case(
        "score-words-in-a-number-column",
        score(as_csv(change=words_in_number_column)),
        0,
        "applicants.csv: 2 value(s) in number columns were not numbers and were scored as missing: "
        "credit_amount: 2 ('twelve', '5,951')",
        words_scored_as_missing,
    ),
    Case(
        "score-header-only",
        score(raw_file("applicants.csv", lambda ctx: csv_bytes(ctx).splitlines(keepends=True)[0])),
        2,
        "applicants.csv has a header but no rows",
    ),
    Case(
        "train-words-in-a-data-numeric-column",
        recipe(
            "preview",
            rows=[[*r[:2], "approx 500" if i == 1 else r[2], *r[3:]] for i, r in enumerate(base_rows())],
            recipe={"data": {"numeric": ["amount"]}},
        ),
        0,
        "data.csv: column 'amount' has 1 distinct value(s) that are not numbers ('approx 500'); read as missing",
    ),
    # -- 3. every argument and recipe field checked before work starts -----------------------------
    Case(
        "score-negative-batch-size",
        score(as_csv(), "--batch-size", "-4"),
        2,
        "--batch-size -4: rows per forward pass must be at least 1",
    ),
    Case(
        "score-zero-chunk-rows",
        score(as_csv(), "--chunk-rows", "0"),
        2,
        "--chunk-rows 0: rows per chunk must be at least 1",
    ),
    Case(
        "explain-k-above-the-fields",
        lambda tmp, ctx: [
            "explain",
            str(ctx.model),
            str(as_csv()(tmp, ctx)),
            "-o",
            str(tmp / "r.csv"),
            "-k",
            "50",
        ],
        2,
        "-k 50: the model reads only 17 fields, so at most -k 17",
    ),
    Case(
        "explain-k-zero",
        lambda tmp, ctx: [
            "explain",
            str(ctx.model),
            str(as_csv()(tmp, ctx)),
            "-o",
            str(tmp / "r.csv"),
            "-k",
            "0",
        ],
        2,
        "-k 0: the number of reasons per applicant must be at least 1",
    ),
    Case(
        "max-length-beyond-the-backbone",
        recipe("train", "model.max_length=1024"),
        2,
        "model.max_length=1024 is beyond the 512 positions of {tiny}; set model.max_length to 512 or less",
    ),
    Case(
        "positive-equals-negative",
        recipe("validate", recipe={"data": {"negative": "bad"}}),
        2,
        "data.positive and data.negative are both 'bad'",
    ),
    Case(
        "column-in-two-roles",
        recipe("validate", recipe={"data": {"exclude": ["note"]}}),
        2,
        "column 'note' is listed as both data.text and data.exclude; give each column one role",
    ),
    Case(
        "protected-column-misspelled",
        with_age(protected=["agee"]),
        2,
        "data.protected: column 'agee' not in data.csv (did you mean 'age'?)",
    ),
    Case(
        "exclude-column-misspelled",
        recipe("validate", recipe={"data": {"exclude": ["purpse"]}}),
        2,
        "data.exclude: column 'purpse' not in data.csv (did you mean 'purpose'?)",
    ),
    Case(
        "id-column-misspelled",
        recipe("validate", recipe={"data": {"id": "idd"}}),
        2,
        "data.id: column 'idd' not in data.csv (did you mean 'id'?)",
    ),
    Case(
        "time-column-not-a-time",
        time_split(["soon", "later", "last year"]),
        2,
        "data.split.time_column 'opened' holds values that are neither numbers nor dates of one format (e.g. "
        "'soon'); a time split must sort them as time: give the format as data.parse.opened: date:%d/%m/%Y",
    ),
    Case(
        "time-column-day-first-dates",
        time_split([f"{1 + i % 28:02d}/{1 + i % 12:02d}/{1990 + i % 30}" for i in range(60)]),
        0,
        "{tmp}/recipe.yaml: ok (60 rows: train 39, valid 9, test 12; 5 fields; parsed as numbers: opened "
        "(date:%d/%m/%Y); fits a student of each token's feed-forward map of a frozen encoder in closed form; "
        "ships the transformer alone)",
        oldest_rows_train,
    ),
    Case(
        "time-column-dates-of-either-order",
        time_split([f"{1 + i % 12:02d}/{1 + (i * 5) % 12:02d}/{1990 + i % 30}" for i in range(60)]),
        0,
        "column 'opened': every date reads as day/month and as month/day; read as %d/%m/%Y (set "
        "data.parse.opened to choose)",
    ),
    Case(
        "parse-format-unknown",
        recipe("validate", recipe={"data": {"parse": {"amount": "dollars"}}}),
        2,
        "data.parse.amount: parse 'dollars' is not one of number, money, percent, date or date:<format>",
    ),
    Case(
        "preview-negative-rows",
        recipe("preview", flags=("-n", "-1")),
        2,
        "-n -1: the number of rows to show must be 0 or more",
    ),
    Case(
        "evaluate-negative-importance-rows",
        lambda tmp, ctx: [
            "evaluate",
            str(ctx.model),
            str(as_csv()(tmp, ctx)),
            "--report",
            str(tmp / "r"),
            "--importance-rows",
            "-5",
        ],  # fmt: skip
        2,
        "--importance-rows must be 0 (skip) or a positive number of rows, got -5",
    ),
    # -- 4. every value read from a model folder validated at load ---------------------------------
    Case(
        "model-points-not-numbers",
        tampered(edit_json("credtune.json", lambda s: s["points"].update(pdo="twenty"))),
        2,
        "{tmp}/model/credtune.json: points.pdo must be a positive number, got 'twenty'",
    ),
    Case(
        "model-unknown-field-kind",
        tampered(edit_json("credtune.json", unknown_kind)),
        2,
        "{tmp}/model/credtune.json: schema.columns[1] ('duration_in_month') has kind 'numerc', not one of "
        "numeric, categorical, text",
    ),
    Case(
        "model-unknown-parse",
        tampered(edit_json("credtune.json", lambda s: s["schema"]["columns"][1].update(parse="eval"))),
        2,
        "{tmp}/model/credtune.json: schema.columns[1] ('duration_in_month'): parse 'eval' is not one of "
        "number, money, percent, date or date:<format>",
    ),
    Case(
        "model-labels-swapped-in-config",
        tampered(edit_json("config.json", swap_labels)),
        2,
        "{tmp}/model: config.json's id2label ['bad', 'good'] does not match credtune.json's label_names "
        "['good', 'bad'] (negative, positive); the positive class would be read from the wrong logit",
    ),
    Case(
        "model-symlink-outside-on-score",
        tampered(link_outside),
        2,
        "{tmp}/model: notes.txt is a symlink to {tmp}/secret.txt, outside the model folder; refusing to "
        "load it (copy the file into the folder if it belongs to the model)",
    ),
    Case(
        "model-symlink-outside-on-push",
        tampered(link_outside, "push"),
        2,
        "{tmp}/model: notes.txt is a symlink to {tmp}/secret.txt, outside the model folder; refusing to "
        "upload it (copy the file into the folder if it belongs to the model)",
    ),
    # -- 5. identifiers -------------------------------------------------------------------------------
    Case(
        "score-empty-and-duplicate-ids",
        score(as_csv(change=with_ids(["A000", "", "A000"])), "--id-column", "applicant"),
        0,
        "--id-column 'applicant': 1 id(s) appear more than once ('A000'); every row is kept, in input order",
    ),
    Case(
        "score-id-column-misspelled",
        score(as_csv(change=with_ids([])), "--id-column", "aplicant"),
        2,
        "--id-column 'aplicant' is not a column of applicants.csv (did you mean 'applicant'?)",
    ),
    Case(
        "score-first-chunk-without-ids",
        score(as_csv(change=with_ids([""] * 5)), "--id-column", "applicant", "--chunk-rows", "5"),
        0,
        "--id-column 'applicant': 5 row(s) have an empty id",
        first_chunk_ids_empty,
    ),
    Case(
        "score-ids-numbers-then-text",
        score(
            raw_file("applicants.jsonl", mixed_ids_jsonl), "--id-column", "applicant", "--chunk-rows", "10"
        ),
        0,
        "",
        mixed_ids_kept,
    ),
    # -- 6. formatted values read as what they are ---------------------------------------------------
    Case(
        "formatted-export-read-as-numbers",
        formatted_preview(),
        0,
        "column 'member_id' has a different value in every row (an identifier?): left out of the text; set "
        "data.id to it, data.text if it is a note, or list it under data.categorical to serialize it",
        formatted_read_as_numbers,
    ),
    Case(
        "formatted-money-kept-as-text-when-categorical",
        formatted_preview({"categorical": ["loan"]}),
        0,
        "",
        money_kept_as_text,
    ),
    Case("score-formatted-like-training", score_formatted(), 0, "", scores_as_in_training),
    Case(
        "score-a-word-in-a-money-column",
        score_formatted(lambda frame: frame.loc.__setitem__((4, "loan"), "TBD")),
        0,
        "formatted.csv: 1 value(s) in number columns were not numbers and were scored as missing: loan: 1 ('TBD')",
    ),
    Case(
        "formatted-european-money-said-so",
        recipe(
            "preview",
            header=[*HEADER, "fee"],
            rows=[[*r, f"€{i}.{100 + i:03d},50"] for i, r in enumerate(base_rows())],
        ),
        0,
        "data.csv: column 'fee' looks like money, rates or dates (e.g. '€0.100,50') but its values do not all "
        "fit one format credtune reads: serialized as categories; give the format as data.parse.fee",
        fee_serialized,
    ),
    Case(
        "row-numbers-left-out",
        recipe("preview", header=[*HEADER, "n"], rows=[[*r, 1 + i] for i, r in enumerate(base_rows())]),
        0,
        "column 'n' has a different value in every row (an identifier?): left out of the text; set data.id to "
        "it, data.text if it is a note, or list it under data.categorical to serialize it",
    ),
    # -- 7. big tables stay quick -------------------------------------------------------------------
    Case(
        "preview-two-rows-of-a-big-table",
        big_table,
        0,
        "rows: 25000 (token statistics from a random sample of 10,000 rows)",
        sampled_stats,
    ),
]


@pytest.fixture(scope="module")
def ctx(
    trained_run: Path, tiny_model: Path, tiny_overrides: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Ctx:
    from credtune import load_recipe, train

    folder = tmp_path_factory.mktemp("formatted")
    formatted_table(folder, {"text": []})
    hybrid = ["baselines=[logistic]", "model.hybrid=[logistic]"]
    train(load_recipe(folder / "recipe.yaml", [*tiny_overrides, *hybrid]), folder / "run")
    german = pd.read_csv(GERMAN)
    return Ctx(trained_run / "model", trained_run, tiny_model, tiny_overrides, german, folder / "run")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, ctx: Ctx) -> None:
    argv = case.prepare(tmp_path, ctx)
    before = snapshot(tmp_path)
    try:
        result = run_cli_forked(*argv, cwd=tmp_path)
        after = snapshot(tmp_path)
    finally:
        while HELD:  # the other run of a "two at once" row ends
            fd, lock = HELD.pop()
            lock.unlink(missing_ok=True)
            os.close(fd)
    shown = f"exit {result.returncode}\nstdout: {result.stdout[-1500:]}\nstderr: {result.stderr[-3000:]}"
    expect = case.expect.format(tmp=tmp_path, model=ctx.model, pid=os.getpid(), tiny=ctx.tiny)
    assert result.returncode == case.code, shown
    assert "Traceback" not in result.stderr, shown
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    if case.code:
        assert errors == [f"error: {expect}"], shown
        assert after == before, "a refused run added or changed files"
    else:
        assert not errors, shown
        lines = (result.stderr + result.stdout).splitlines()
        assert not expect or expect in lines or any(line.startswith(expect) for line in lines), shown
        assert not [p.name for p in tmp_path.rglob(".*") if ".lock" in p.name or ".parts" in p.name]
    print(f"\n{case.id}: {errors[0] if errors else expect or '(done)'}")
    if case.check:
        case.check(tmp_path, ctx, result)


# -- the Python API behaves like the CLI ----------------------------------------------------------
def test_api_applies_overrides_to_a_recipe_object(tmp_path: Path, tiny_model: Path) -> None:
    from credtune import load_recipe, validate

    setup()(tmp_path)
    recipe = load_recipe(tmp_path / "recipe.yaml")
    assert validate(recipe).startswith("ok (60 rows")
    from credtune.api import preview

    text = preview(recipe, [f"model.name={tiny_model}", "serialize.template=list"], n=1)
    assert "\n- months: 6 (very low)\n" in text  # the override reached the serializer


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, src, out: __import__("credtune").score_file(m, src, out, batch_size=0), "--batch-size 0"),
        (
            lambda m, src, out: __import__("credtune").score_file(m, src, out, chunk_rows=-1),
            "--chunk-rows -1",
        ),
        (
            lambda m, src, out: __import__("credtune").explain_file(m, src, out, k=99),
            "-k 99: the model reads",
        ),
        (lambda m, src, out: __import__("credtune").score_file(m, src, src), "is an input of this run"),
    ],
    ids=["batch-size", "chunk-rows", "k", "output-is-input"],
)
def test_api_errors_are_credtune_errors(ctx: Ctx, tmp_path: Path, call: Callable, message: str) -> None:
    from credtune.errors import CredtuneError

    src = tmp_path / "in.csv"
    applicants(ctx).to_csv(src, index=False)
    with pytest.raises(CredtuneError, match=message.replace("-", r"\-")):
        call(ctx.model, src, tmp_path / "out.csv")
