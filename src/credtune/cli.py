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


def summary_table(metrics: dict) -> str:
    lines = ["", "held-out test split:", f"{'model':<12} {'AUC':>7} {'KS':>7} {'Brier':>7}"]
    for name, m in metrics.get("models", {"transformer": metrics}).items():
        cells = [m.get(k) for k in ("auc", "ks", "brier")]
        lines.append(f"{name:<12} " + " ".join(f"{v:>7.4f}" if v is not None else f"{'n/a':>7}" for v in cells))
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
        p.add_argument("recipe", help="recipe YAML file, or the name of a shipped recipe (e.g. german_credit)")
        p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. train.learning_rate=3e-5")

    p = sub.add_parser("train", help="fine-tune a model and write a run folder")
    recipe_args(p)
    p.add_argument("--output-dir", "-o", help="run folder (default: runs/<recipe name>)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in the run folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")

    p = sub.add_parser("preview", help="print serialized rows with token counts, to check for leakage")
    recipe_args(p)
    p.add_argument("-n", type=int, default=5, help="rows to show (default 5)")

    p = sub.add_parser("validate", help="load recipes and check their columns against their data")
    p.add_argument("recipes", nargs="+", help="recipe files or names")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s" if args.debug else "%(message)s",
    )
    for noisy in ("httpx", "urllib3", "filelock", "datasets", "fsspec"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
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
