#!/usr/bin/env bash
# Build SharedCodeLayer's content (run from the repo root): build_layer.sh <artifacts dir>
# 1. export the locked runtime dependencies from uv.lock (hashes kept; no dev group, not the project),
# 2. keep the requirements whose markers hold on Lambda's python3.12 x86_64 (pip would judge them by
#    the interpreter running it),
# 3. pip install binary wheels for manylinux x86_64 cp312 into <artifacts>/python,
# 4. trim what is never imported at runtime (tests, caches, headers).
set -euo pipefail

artifacts="${1:?usage: build_layer.sh <artifacts dir>}"
UV="${UV:-uv}"
PIP_VERSION="${PIP_VERSION:-26.3}"
# Lambda's python3.12; scripts/layer_smoke.sh builds the same layer for this machine's python to try it
PYTHON_VERSION="${LAYER_PYTHON_VERSION:-3.12}"
ABI="cp${PYTHON_VERSION//./}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$UV" export --frozen --no-dev --no-emit-project --format requirements-txt --quiet -o "$work/locked.txt"
"$UV" run --frozen --no-sync python scripts/layer_requirements.py "$work/locked.txt" "$work/requirements.txt" "$PYTHON_VERSION"

target="$artifacts/python"
mkdir -p "$target"
"$UV" tool run --from "pip==$PIP_VERSION" pip install \
    --quiet --disable-pip-version-check --no-compile --no-deps \
    --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
    --python-version "$PYTHON_VERSION" --implementation cp --abi "$ABI" \
    --only-binary=:all: --require-hashes \
    --target "$target" -r "$work/requirements.txt"

bash scripts/trim_layer.sh "$target"
