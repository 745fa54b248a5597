"""`python -m the_alchemiser`: one argparse front end over the command modules in `commands/`.

Each module in `the_alchemiser/cli/commands/` defines NAME, HELP, `add_arguments(parser)` and
`run(args) -> int`; heavy imports happen inside `run` so `--help` stays fast."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from the_alchemiser.cli import commands

DEFAULT_COMMAND = "run"


def _command_modules() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        found[module.NAME] = module
    return found


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, ModuleType]]:
    modules = _command_modules()
    parser = argparse.ArgumentParser(
        prog="python -m the_alchemiser",
        description="The Alchemiser: multi-strategy trading on Alpaca. Without a command: `run`.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in modules.items():
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser, modules


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser, modules = build_parser()
    if DEFAULT_COMMAND in modules and (
        not args_list or (args_list[0] not in modules and args_list[0] not in ("-h", "--help"))
    ):
        args_list.insert(0, DEFAULT_COMMAND)
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        result: int = modules[args.command].run(args)
        sys.stdout.flush()  # inside the try: a closed pipe found at exit is the same case
    except BrokenPipeError:
        # the reader went away (`... | head`): what it read was right, the rest has nowhere to go
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell pipeline reports it
    return result
