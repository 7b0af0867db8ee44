"""`credtune` command line: a thin shell over the Python API, one function per subcommand."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable

from .errors import CredtuneError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    COMMANDS[func.__name__.removeprefix("cmd_")] = func
    return func


@command
def cmd_train(args: argparse.Namespace) -> int:
    from .api import load_recipe, train

    recipe = load_recipe(args.recipe, args.overrides)
    result = train(recipe, args.output_dir, resume=args.resume, overwrite=args.overwrite)
    if result.metrics:
        print(summary_table(result.metrics))
        print(f"run folder: {result.run_dir}")
    return 0


@command
def cmd_pretrain(args: argparse.Namespace) -> int:
    from .api import pretrain

    recipes = [r for r in args.recipes if "=" not in r or os.path.isfile(r)]
    overrides = [r for r in args.recipes if r not in recipes] + list(args.overrides)
    result = pretrain(
        recipes, args.output_dir, overrides=overrides, resume=args.resume, overwrite=args.overwrite
    )
    m = result.metrics
    if m:
        scores = ", ".join(
            f"{label} {m[key]:.4f}"
            for key, label in (
                ("train_loss", "train loss"),
                ("eval_loss", "eval loss"),
                ("masked_token_accuracy", "accuracy"),
            )
            if m.get(key) is not None
        )
        seen = f"{m['rows']['train']:,} records of {len(m['tables'])} table(s)"
        print(f"pretrained on {seen} in {m['wall_seconds']:.0f} s: {scores}")
        print(f"backbone: {result.run_dir / 'backbone'}")
        print(f"fine-tune it: credtune train RECIPE model.name={result.run_dir / 'backbone'}")
    return 0


@command
def cmd_preview(args: argparse.Namespace) -> int:
    from .api import preview

    print(preview(args.recipe, args.overrides, n=args.n))
    return 0


@command
def cmd_validate(args: argparse.Namespace) -> int:
    from .api import validate

    for recipe_path in args.recipes:
        print(f"{recipe_path}: {validate(recipe_path)}")
    return 0


@command
def cmd_score(args: argparse.Namespace) -> int:
    from .runs.batch import score_file

    result = score_file(
        args.model,
        args.input,
        args.output,
        batch_size=args.batch_size,
        chunk_rows=args.chunk_rows,
        resume=args.resume,
        overwrite=args.overwrite,
        id_column=args.id_column,
        allow_pickle=args.allow_pickle,
    )
    if not result.main:
        return 0  # under torchrun the main process reports for the whole file
    skipped = f", {result.rows - result.scored} kept from before" if result.scored < result.rows else ""
    print(
        f"scored {result.scored} rows in {result.seconds:.1f} s ({result.rows_per_second:.0f} rows/s{skipped}): "
        f"{result.output} ({result.rows} rows)"
    )
    return 0


@command
def cmd_explain(args: argparse.Namespace) -> int:
    from .runs.batch import explain_file

    output, rows, seconds = explain_file(
        args.model,
        args.input,
        args.output,
        k=args.k,
        overwrite=args.overwrite,
        id_column=args.id_column,
        allow_pickle=args.allow_pickle,
    )
    print(f"explained {rows} rows in {seconds:.1f} s ({seconds / max(rows, 1):.3f} s/applicant): {output}")
    return 0


@command
def cmd_push(args: argparse.Namespace) -> int:
    from .hub import push

    result = push(
        args.model_dir, args.repo_id, private=args.private, revision=args.revision, dry_run=args.dry_run
    )
    for name, size in result.files:
        print(f"{size:>14,d}  {name}")
    total = f"{len(result.files)} files, {result.total_bytes:,d} bytes"
    print(
        f"dry run: would upload {total} to {result.repo_id}"
        if args.dry_run
        else f"uploaded {total}: {result.url}"
    )
    return 0


@command
def cmd_cv(args: argparse.Namespace) -> int:
    from .api import cross_validate, load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    result = cross_validate(
        recipe, args.folds, args.seeds, args.output_dir, overwrite=args.overwrite, command=command_line()
    )
    if result.metrics:
        print(cv_table(result.metrics))
        print(f"cv folder: {result.run_dir}")
    return 0


def command_line() -> str:
    """The exact command, for cv.json: rerunning it reproduces the folds."""
    import shlex

    return "credtune " + shlex.join(sys.argv[1:])


def cv_table(metrics: dict) -> str:
    head = f"{metrics['folds']}-fold out-of-fold ({metrics['n']} rows, {metrics['wall_seconds']:.0f} s):"
    if metrics.get("task", "binary") != "binary":
        return "\n" + head + summary_table(metrics).split("held-out test split:", 1)[1]
    lines = ["", head]
    lines.append(f"{'model':<14} {'AUC':>7} {'± std':>7} {'KS':>7} {'Brier':>7}")
    for name, m in metrics["models"].items():
        spread = m.get("folds", {}).get("auc", {}).get("std")
        cells = [m.get("auc"), spread, m.get("ks"), m.get("brier")]
        lines.append(f"{name:<14} " + " ".join(f"{v:>7.4f}" if v is not None else "    n/a" for v in cells))
    return "\n".join(lines)


@command
def cmd_evaluate(args: argparse.Namespace) -> int:
    from .api import evaluate_model

    result = evaluate_model(
        args.model_dir, args.data, args.report, reference=args.reference, importance_rows=args.importance_rows
    )
    m = result.metrics
    print(summary_table(m).replace("held-out test split:", f"{m['data']} ({m['n']} rows):"))
    decision = m.get("decision") or {}
    if decision.get("threshold") is not None:
        print(
            f"threshold {decision['threshold']:.4f}: approval rate {decision['approval_rate']:.1%}, "
            f"bad rate among approved {_pct(decision['bad_rate_approved'])}"
        )
    if (m.get("stability") or {}).get("score_psi") is not None:
        print(f"score PSI vs reference: {m['stability']['score_psi']:.4f} ({m['stability']['reading']})")
    print(f"report: {result.run_dir / 'report.html'}")
    return 0


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


SUMMARY = {  # the columns of the summary table, per task
    "binary": (("auc", "AUC"), ("ks", "KS"), ("brier", "Brier")),
    "multiclass": (("accuracy", "acc"), ("macro_f1", "macroF1"), ("auc", "AUC"), ("log_loss", "logloss")),
    "regression": (("rmse", "RMSE"), ("mae", "MAE"), ("r2", "R2"), ("spearman", "Spearman")),
}


def summary_table(metrics: dict) -> str:
    columns = SUMMARY[metrics.get("task", "binary")]
    if metrics.get("ordered"):
        columns = (*columns, ("qwk", "QWK"))
    header = f"{'model':<12} " + " ".join(f"{label:>7}" for _, label in columns)
    lines = ["", "held-out test split:", header]
    for name, m in metrics.get("models", {"transformer": metrics}).items():
        cells = [m.get(k) for k, _ in columns]
        lines.append(
            f"{name:<12} " + " ".join(f"{v:>7.4f}" if v is not None else f"{'n/a':>7}" for v in cells)
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="credtune",
        description="Fine-tune pretrained transformers into calibrated credit-default models.",
        epilog="Examples:\n  credtune train german_credit\n  credtune train recipes/german_credit.yaml "
        "train.learning_rate=3e-5\n  credtune preview german_credit -n 3",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def recipe_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "recipe", help="recipe YAML file, or the name of a shipped recipe (e.g. german_credit)"
        )
        p.add_argument(
            "overrides",
            nargs="*",
            metavar="key=value",
            help="dotted overrides, e.g. train.learning_rate=3e-5",
        )

    p = sub.add_parser("train", help="fine-tune a model and write a run folder")
    recipe_args(p)
    p.add_argument("--output-dir", "-o", help="run folder (default: runs/<recipe name>)")
    p.add_argument(
        "--resume", action="store_true", help="continue from the last checkpoint in the run folder"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")

    add_pretrain_parser(sub)

    p = sub.add_parser("preview", help="print serialized rows with token counts, to check for leakage")
    recipe_args(p)
    p.add_argument("-n", type=int, default=5, help="rows to show (default 5)")

    p = sub.add_parser("validate", help="load recipes and check their columns against their data")
    p.add_argument("recipes", nargs="+", help="recipe files or names")

    p = sub.add_parser("score", help="score a CSV/Parquet/JSONL file: id, pd, points, decision per row")
    p.add_argument("model", help="model folder (runs/<name>/model) or Hub repo id")
    p.add_argument("input", help="applicants: .csv, .parquet or .jsonl (streamed, any size)")
    p.add_argument("--output", "-o", required=True, help="result file: .parquet or .csv")
    p.add_argument("--batch-size", type=int, help="rows per forward pass (default 16 on CPU, 64 on GPU)")
    p.add_argument("--chunk-rows", type=int, default=10_000, help="rows per part file (default 10000)")
    p.add_argument("--resume", action="store_true", help="keep the parts an interrupted run already wrote")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--id-column", help="column copied to the output (default: recipe id, else row number)")
    p.add_argument("--allow-pickle", action="store_true", help="load pytorch_model.bin (can run code)")

    p = sub.add_parser("explain", help="top reasons per applicant (field occlusion)")
    p.add_argument("model", help="model folder (runs/<name>/model) or Hub repo id")
    p.add_argument("input", help="applicants: .csv, .parquet or .jsonl")
    p.add_argument("--output", "-o", required=True, help="result: .csv, .parquet or .jsonl (with detail)")
    p.add_argument("-k", type=int, default=4, help="reasons per applicant (default 4)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--id-column", help="column copied to the output (default: recipe id, else row number)")
    p.add_argument("--allow-pickle", action="store_true", help="load pytorch_model.bin (can run code)")

    p = sub.add_parser("push", help="upload a model folder to the Hugging Face Hub")
    p.add_argument("model_dir", help="the model/ folder of a run")
    p.add_argument("repo_id", help="Hub repository, e.g. your-name/german-credit-minilm")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--revision", help="branch to push to (created if missing; default main)")
    p.add_argument("--dry-run", action="store_true", help="list the files and sizes, upload nothing")

    p = sub.add_parser("cv", help="k-fold cross-validation: transformer and baselines on the same folds")
    recipe_args(p)
    p.add_argument("--folds", type=int, default=5, help="number of stratified folds (default 5)")
    p.add_argument(
        "--repeats",
        "--seeds",
        dest="seeds",
        type=int,
        default=1,
        help="fold sets to repeat on, every model on the same folds; pooled AUC per repeat and the "
        "fold-paired difference of the shipped model vs the best baseline (default 1)",
    )
    p.add_argument("--output-dir", "-o", help="output folder (default: runs/<recipe name>-cv)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")

    p = sub.add_parser("evaluate", help="score a labelled file with a trained model and write a report")
    p.add_argument("model_dir", help="model folder (runs/<name>/model) or its run folder")
    p.add_argument("data", help="labelled applicants (.csv, .parquet, .jsonl) with the target column")
    p.add_argument("--report", help="report folder (default: runs/evaluate-<model name>)")
    p.add_argument("--reference", help="data to measure score and field drift (PSI) against")
    p.add_argument(
        "--importance-rows",
        type=int,
        default=200,
        help="rows used for global field importance by occlusion (default 200; 0 skips it)",
    )
    return parser


def add_pretrain_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pretrain", help="continued pretraining of the backbone on serialized records")
    p.add_argument(
        "recipes",
        nargs="+",
        metavar="RECIPE",
        help="a pretraining recipe (with tables:) and/or fine-tuning recipes whose tables make the corpus; "
        "then dotted overrides, e.g. train.max_steps=100",
    )
    p.set_defaults(overrides=[])
    p.add_argument("--output-dir", "-o", help="run folder (default: runs/<recipe name>)")
    p.add_argument(
        "--resume", action="store_true", help="continue from the last checkpoint in the run folder"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # argparse stops filling `overrides` at the first option, so `cv RECIPE --folds 5 key=value` leaves
    # key=value over; take such leftovers as overrides, and reject anything else as argparse would.
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s" if args.debug else "%(message)s",
    )
    for noisy in ("httpx", "urllib3", "filelock", "datasets", "fsspec", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not args.debug:  # weight-loading bars and load reports drown the lines a user needs
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        return COMMANDS[args.command](args)
    except CredtuneError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: one line, traceback with --debug
        if args.debug:
            raise
        message = str(exc).splitlines()[0] if str(exc) else ""
        print(f"error: {type(exc).__name__}: {message} (run with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
