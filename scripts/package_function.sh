#!/usr/bin/env bash
# Assemble one Lambda deploy unit from the repo (run from the repo root):
#   package_function.sh functions/<name> <artifacts dir>
# The unit is the handler shim, the_alchemiser/ (without the local tooling and the CLI, which no
# handler imports) and strategies/ (the .clj files and allocations.toml, read next to the package as
# in the repo). Third-party packages come from SharedCodeLayer. Nothing is copied by hand.
# With a python3.12 at hand (scripts/build_env.sh) the unit carries its __pycache__ for Lambda's
# python3.12 beside the source (hash-based .pyc, used without an mtime check); without one it says so.
set -euo pipefail
# shellcheck source=scripts/build_env.sh
source "$(dirname "$0")/build_env.sh"

function_dir="${1:?usage: package_function.sh functions/<name> <artifacts dir>}"
artifacts="${2:?usage: package_function.sh functions/<name> <artifacts dir>}"

[[ -f "$function_dir/lambda_handler.py" ]] || { echo "no $function_dir/lambda_handler.py" >&2; exit 1; }
[[ -d the_alchemiser ]] || { echo "run from the repo root (the_alchemiser/ not found in $PWD)" >&2; exit 1; }

mkdir -p "$artifacts"
cp "$function_dir/lambda_handler.py" "$artifacts/lambda_handler.py"
sources=(the_alchemiser)
[[ -d strategies ]] && sources+=(strategies)
tar -cf - \
    --exclude='__pycache__' --exclude='*.pyc' \
    --exclude='the_alchemiser/local' --exclude='the_alchemiser/cli' --exclude='the_alchemiser/__main__.py' \
    "${sources[@]}" | tar -xf - -C "$artifacts"
find_lambda_python
compile_for_lambda "$artifacts" "$(basename "$function_dir")"
