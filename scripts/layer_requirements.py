"""Keep the requirements of a `uv export` whose environment markers hold on AWS Lambda python3.12 x86_64.

pip evaluates markers against the interpreter running it, not against --python-version, so a lock
that pins numpy differently below and above 3.12 would otherwise install the wrong pin. Hashes are
kept, so pip installs exactly the locked wheels (--require-hashes).

    python scripts/layer_requirements.py locked.txt requirements.txt [python version [machine]]

(python version default 3.12, machine x86_64 or aarch64 for Graviton, default x86_64.)

(Another version, e.g. 3.11, only for scripts/layer_smoke.py: the same layer built for another python,
so its imports can be tried there.)

Some packages are refused (exit 1): pyarrow, 118 MB unzipped, which nothing needs (Parquet goes through
fastparquet + cramjam); a dependency that brings it back must be dropped or replaced, not shipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

from packaging.markers import Marker

LAMBDA_PYTHON312_X86_64 = {
    "implementation_name": "cpython",
    "implementation_version": "3.12.0",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_system": "Linux",
    "platform_version": "",
    "python_full_version": "3.12.0",
    "python_version": "3.12",
    "sys_platform": "linux",
    "extra": "",
}


REFUSED = {"pyarrow": "118 MB unzipped; Parquet goes through fastparquet + cramjam"}


def requirement_blocks(text: str) -> list[str]:
    """One string per requirement, its backslash-continued hash lines joined; comments dropped."""
    blocks: list[str] = []
    current: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current.append(line.rstrip("\\").strip())
        if not line.endswith("\\"):
            blocks.append(" ".join(current))
            current = []
    if current:
        blocks.append(" ".join(current))
    return blocks


def without_marker(block: str) -> str:
    """The block with its marker removed (already decided here; pip would judge it again wrongly)."""
    spec, _, hashes = block.partition(" --hash")
    requirement = spec.split(";", 1)[0].strip()
    return f"{requirement} --hash{hashes}" if hashes else requirement


def marker_environment(python_version: str, machine: str = "x86_64") -> dict[str, str]:
    return LAMBDA_PYTHON312_X86_64 | {
        "platform_machine": machine,
        "python_version": python_version,
        "python_full_version": f"{python_version}.0",
        "implementation_version": f"{python_version}.0",
    }


def applies_on_lambda(block: str, python_version: str = "3.12", machine: str = "x86_64") -> bool:
    spec = block.split(" --hash", 1)[0]
    if ";" not in spec:
        return True
    marker = spec.split(";", 1)[1].strip()
    return Marker(marker).evaluate(marker_environment(python_version, machine))


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    python_version = argv[3] if len(argv) >= 4 else "3.12"
    machine = argv[4] if len(argv) == 5 else "x86_64"
    blocks = requirement_blocks(Path(argv[1]).read_text(encoding="utf-8"))
    kept = [without_marker(block) for block in blocks if applies_on_lambda(block, python_version, machine)]
    names = [block.split("==", 1)[0] for block in kept]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        print(f"more than one pin applies on Lambda for: {sorted(duplicates)}", file=sys.stderr)
        return 1
    refused = sorted({name.strip().lower() for name in names} & REFUSED.keys())
    if refused:
        reasons = "; ".join(f"{name}: {REFUSED[name]}" for name in refused)
        print(
            f"refused in the layer ({reasons}): remove what requires it from the runtime dependencies", file=sys.stderr
        )
        return 1
    Path(argv[2]).write_text("\n".join(kept) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
