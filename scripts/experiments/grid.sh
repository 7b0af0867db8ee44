#!/usr/bin/env bash
# Run a list of `credtune cv` variants on the same folds and collect their cv.json files.
# Usage: scripts/experiments/grid.sh OUT_DIR RECIPE FOLDS "name|overrides and flags" ...
# Example: scripts/experiments/grid.sh runs/grid german_credit 5 "default|" "banded|serialize.numbers=banded"
set -u
out=$1 recipe=$2 folds=$3
shift 3
mkdir -p "$out"
for spec in "$@"; do
  name=${spec%%|*} args=${spec#*|}
  start=$(date +%s)
  # shellcheck disable=SC2086
  python3 -m credtune cv "$recipe" --folds "$folds" -o "$out/$name" --overwrite train.disable_tqdm=true $args \
    > "$out/$name.log" 2>&1
  echo "$name rc=$? $(( $(date +%s) - start ))s: $(grep -A6 'out-of-fold' "$out/$name.log" | tr '\n' ' ')"
done
