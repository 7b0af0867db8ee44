"""The accelerate launch configs and GPU recipes shipped in recipes/ load with the libraries' own
loaders, and every command in their headers names files that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file
from accelerate.commands.launch import _validate_launch_command, launch_command_parser

from credtune import load_recipe

ROOT = Path(__file__).resolve().parents[1]
ACCELERATE = sorted((ROOT / "recipes" / "accelerate").glob("*.yaml"))
GPU_RECIPES = sorted((ROOT / "recipes" / "gpu").glob("*.yaml"))
LAUNCH_DESTS = {a.dest for a in launch_command_parser()._actions}

EXPECTED = {
    # file: (distributed_type, launch flag set from it, {launch arg: value})
    "single_gpu.yaml": ("NO", None, {"num_processes": 1}),
    "multi_gpu_ddp.yaml": ("MULTI_GPU", "multi_gpu", {}),
    "fsdp.yaml": (
        "FSDP",
        "use_fsdp",
        {"fsdp_sharding_strategy": "FULL_SHARD", "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP"},
    ),
    "deepspeed_zero2.yaml": ("DEEPSPEED", "use_deepspeed", {"zero_stage": 2}),
    "deepspeed_zero3.yaml": ("DEEPSPEED", "use_deepspeed", {"zero_stage": 3, "zero3_save_16bit_model": True}),
    "multi_node.yaml": ("MULTI_GPU", "multi_gpu", {"num_machines": 2, "main_process_port": 29500}),
}


def header_commands(path: Path) -> list[list[str]]:
    """Comment lines of the leading block that start with a command (optionally after a label such
    as `Command:`); a trailing `   (note)` is dropped."""
    commands = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        match = re.match(r"#\s*(?:[\w ]+:\s*)?((?:accelerate launch|credtune|torchrun) .*)$", line)
        if match:
            text = match.group(1).split("   (")[0]
            commands.append(shlex.split(text))
    return commands


def test_every_config_is_expected() -> None:
    assert sorted(p.name for p in ACCELERATE) == sorted(EXPECTED)


@pytest.mark.parametrize("path", ACCELERATE, ids=lambda p: p.name)
def test_accelerate_config_loads_and_launches(path: Path) -> None:
    dist_type, flag, launch_values = EXPECTED[path.name]
    config = load_config_from_file(str(path))
    assert isinstance(config, ClusterConfig)
    assert config.distributed_type.value == dist_type
    assert config.mixed_precision == "bf16"
    # nested keys are copied onto launch arguments of the same name (fsdp_config.x -> fsdp_x)
    for section in ("fsdp_config", "deepspeed_config"):
        for key in getattr(config, section):
            name = key if section != "fsdp_config" or key.startswith("fsdp") else f"fsdp_{key}"
            assert name in LAUNCH_DESTS, f"{path.name}: {section}.{key} is not an accelerate launch option"
    args = launch_command_parser().parse_args(
        ["--config_file", str(path), "-m", "credtune", "train", "x.yaml"]
    )
    args, _, _ = _validate_launch_command(args)
    if flag:
        assert getattr(args, flag) is True
    for key, value in launch_values.items():
        assert getattr(args, key) == value


@pytest.mark.parametrize("path", ACCELERATE + GPU_RECIPES, ids=lambda p: p.name)
def test_header_command_names_existing_files(path: Path) -> None:
    commands = header_commands(path)
    assert commands, f"{path.name} has no command in its header"
    for argv in commands:
        if argv[:2] == ["accelerate", "launch"]:
            assert (ROOT / argv[argv.index("--config_file") + 1]).is_file()
        for arg in argv:
            if arg.startswith("recipes/") and arg.endswith(".yaml"):
                assert (ROOT / arg).is_file(), f"{path.name}: {arg} does not exist"
    if path.parent.name == "accelerate":  # the first line is the command that uses this file
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith(
            f"# accelerate launch --config_file recipes/accelerate/{path.name} -m credtune "
        )


@pytest.mark.parametrize("path", GPU_RECIPES, ids=lambda p: p.name)
def test_gpu_recipe_loads(path: Path) -> None:
    recipe = load_recipe(path)
    text = path.read_text(encoding="utf-8")
    for key in ("Question:", "Command:", "Memory:", "Time:", "Run here:"):
        assert key in text.split("\ndata:")[0], f"{path.name}: header lacks '{key}'"
    assert Path(recipe.source_dir, recipe.data.path).resolve().is_file()
    if recipe.model.quantization == "4bit":
        assert recipe.lora is not None, "QLoRA trains adapters; a 4-bit base cannot be fully fine-tuned"
