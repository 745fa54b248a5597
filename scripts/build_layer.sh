#!/usr/bin/env bash
# Build SharedCodeLayer's content (run from the repo root): build_layer.sh <artifacts dir>
# Works from a plain `sam build` in a fresh clone: uv is bootstrapped when missing (scripts/build_env.sh).
# 1. export the locked runtime dependencies from uv.lock (hashes kept; no dependency group, not the project),
# 2. keep the requirements whose markers hold on Lambda's python3.12 x86_64 (pip would judge them by
#    the interpreter running it); pyarrow is refused (Parquet goes through fastparquet + cramjam),
# 3. pip install binary wheels for manylinux x86_64 cp312 into <artifacts>/python,
# 4. trim what is never imported at runtime (tests, caches, headers, C sources, stubs),
# 5. compile it with python3.12 when the build has one (sourceless .pyc: bytecode instead of the .py,
#    so the layer is no larger), else say so in one line and ship the source only.
set -euo pipefail

artifacts="${1:?usage: build_layer.sh <artifacts dir>}"
PIP_VERSION="${PIP_VERSION:-26.3}"
PACKAGING_VERSION="${PACKAGING_VERSION:-26.3}"
# Lambda's python3.12; scripts/layer_smoke.py may build the same layer for another python to try it
PYTHON_VERSION="${LAYER_PYTHON_VERSION:-3.12}"
ABI="cp${PYTHON_VERSION//./}"
# x86_64 as template.yaml deploys; LAYER_ARCH=arm64 builds the same layer for Graviton (docs/decisions.md)
case "${LAYER_ARCH:-x86_64}" in
    x86_64) MACHINE=x86_64 ;;
    arm64 | aarch64) MACHINE=aarch64 ;;
    *) echo "LAYER_ARCH must be x86_64 or arm64" >&2; exit 2 ;;
esac
LAMBDA_PYTHON_VERSION="$PYTHON_VERSION"
# shellcheck source=scripts/build_env.sh
source "$(dirname "$0")/build_env.sh"
resolve_uv
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$UV" export --frozen --no-dev --no-emit-project --format requirements-txt --quiet -o "$work/locked.txt"
"$UV" run --no-project --quiet --with "packaging==$PACKAGING_VERSION" \
    python scripts/layer_requirements.py "$work/locked.txt" "$work/requirements.txt" "$PYTHON_VERSION" "$MACHINE"

target="$artifacts/python"
mkdir -p "$target"
"$UV" tool run --from "pip==$PIP_VERSION" pip install \
    --quiet --disable-pip-version-check --no-compile --no-deps \
    --platform "manylinux2014_$MACHINE" --platform "manylinux_2_28_$MACHINE" \
    --python-version "$PYTHON_VERSION" --implementation cp --abi "$ABI" \
    --only-binary=:all: --require-hashes \
    --target "$target" -r "$work/requirements.txt"

bash scripts/trim_layer.sh "$target"
find_lambda_python
compile_for_lambda "$target" "SharedCodeLayer" --sourceless
