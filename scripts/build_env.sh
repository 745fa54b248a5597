# Sourced by build_layer.sh and package_function.sh (run from the repo root): what a plain `sam build`
# needs that a fresh clone does not have.
#
# resolve_uv              sets UV: $UV, else uv on PATH, else .cache/uv-bootstrap/bin/uv, bootstrapped as the
#                         Makefile does (python3 -m venv + pip install uv) when missing; in a read-only
#                         checkout (sam build --use-container mounts the source read-only) under $TMPDIR.
# find_lambda_python      sets LAMBDA_PYTHON to a python3.12 (Lambda's runtime) or to "" when there is none:
#                         $LAMBDA_PYTHON if set ("none" means do not look), python3.12 on PATH (the SAM build
#                         image has one), pyenv's 3.12 installs, uv's own interpreters. A python that only
#                         claims the name (pyenv's shim for a version not selected) is not taken.
# compile_for_lambda DIR WHAT [--sourceless]
#                         compiles DIR's .py with that python3.12 (hash-based .pyc that Lambda uses without
#                         checking the source's mtime, which the zip does not keep); --sourceless writes
#                         legacy module.pyc next to each module and removes the .py (the layer: bytecode
#                         instead of source, not both). Without a python3.12 it compiles nothing (a .pyc of
#                         another version is dead weight on 3.12) and prints one line saying so.

LAMBDA_PYTHON_VERSION="${LAMBDA_PYTHON_VERSION:-3.12}"

resolve_uv() {
    if [[ -n "${UV:-}" ]] && command -v "$UV" >/dev/null 2>&1; then
        return 0
    fi
    if command -v uv >/dev/null 2>&1; then
        UV="$(command -v uv)"
        return 0
    fi
    local boot=".cache/uv-bootstrap"
    if ! { mkdir -p .cache 2>/dev/null && [[ -w .cache ]]; }; then
        boot="${TMPDIR:-/tmp}/alchemiser-uv-bootstrap"
    fi
    if [[ ! -x "$boot/bin/uv" ]]; then
        echo "build: uv not found; installing it into $boot (python3 -m venv + pip install uv, as make does)"
        local python="python3"
        command -v "$python" >/dev/null 2>&1 || python="python"
        "$python" -m venv "$boot" && "$boot/bin/pip" install --quiet --disable-pip-version-check uv
    fi
    UV="$(cd "$boot/bin" && pwd)/uv"
}

_python_is_lambdas() {
    local version
    version="$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" || return 1
    [[ "$version" == "$LAMBDA_PYTHON_VERSION" ]]
}

find_lambda_python() {
    LAMBDA_PYTHON_MISSING="no python$LAMBDA_PYTHON_VERSION found (PATH, pyenv, uv)"
    if [[ "${LAMBDA_PYTHON:-}" == "none" ]]; then
        LAMBDA_PYTHON=""
        LAMBDA_PYTHON_MISSING="no python$LAMBDA_PYTHON_VERSION used (LAMBDA_PYTHON=none)"
        return 0
    fi
    if [[ -n "${LAMBDA_PYTHON:-}" ]]; then
        _python_is_lambdas "$LAMBDA_PYTHON" || {
            echo "build: LAMBDA_PYTHON=$LAMBDA_PYTHON is not python$LAMBDA_PYTHON_VERSION" >&2
            return 1
        }
        return 0
    fi
    local candidate
    local candidates=("python$LAMBDA_PYTHON_VERSION")
    local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
    for candidate in "$pyenv_root"/versions/"$LAMBDA_PYTHON_VERSION".*/bin/python"$LAMBDA_PYTHON_VERSION"; do
        [[ -x "$candidate" ]] && candidates+=("$candidate")
    done
    if [[ -n "${UV:-}" ]]; then
        candidate="$("$UV" python find --no-python-downloads "$LAMBDA_PYTHON_VERSION" 2>/dev/null)" && candidates+=("$candidate")
    fi
    for candidate in "${candidates[@]}"; do
        if command -v "$candidate" >/dev/null 2>&1 && _python_is_lambdas "$candidate"; then
            LAMBDA_PYTHON="$(command -v "$candidate")"
            return 0
        fi
    done
    LAMBDA_PYTHON=""
}

compile_for_lambda() {
    local dir="$1" what="$2" mode="${3:-}"
    if [[ -z "${LAMBDA_PYTHON:-}" ]]; then
        echo "build: ${LAMBDA_PYTHON_MISSING:-no python$LAMBDA_PYTHON_VERSION found}: $what ships no .pyc, so Lambda compiles every module at each cold start; \`sam build --use-container\` or LAMBDA_PYTHON=/path/to/python$LAMBDA_PYTHON_VERSION compiles them"
        return 0
    fi
    local legacy=()
    [[ "$mode" == "--sourceless" ]] && legacy=(-b)
    # a module that does not compile (none today) stays as source: Lambda reports it when imported
    "$LAMBDA_PYTHON" -m compileall -q "${legacy[@]}" -j 0 --invalidation-mode unchecked-hash "$dir" >/dev/null ||
        echo "build: some modules of $what did not compile with $LAMBDA_PYTHON; they stay as source"
    if [[ "$mode" == "--sourceless" ]]; then
        find "$dir" -type f -name '*.py' -exec sh -c 'for f; do [ -f "${f}c" ] && rm -f "$f"; done' sh {} +
    fi
    echo "build: $what compiled to .pyc by $LAMBDA_PYTHON ($("$LAMBDA_PYTHON" -c 'import sys; print(sys.version.split()[0])'))"
}
