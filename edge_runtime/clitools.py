"""Shared plumbing for the two console scripts (`edge-runtime`, `cloud-sync`).

Each concern owns its own sub-commands in a small ``cli.py`` that exposes
``register(subparsers)``; the top-level scripts only list those modules. Modules are
imported lazily and a module that is not present (a workload not installed on this
device) simply contributes no command, so the lean device install stays lean.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Callable, Mapping, Sequence


class CliError(Exception):
    """An error meant for a person: printed without a traceback, exit status 2."""


def chosen_modules(modules: Sequence[str] | Mapping[str, str], argv: Sequence[str] | None) -> list[str]:
    """The modules to import: with a ``{command: module}`` mapping and a known command on the
    line, only that command's module (the agent on a small board does not pay for the parsers
    of every workload); otherwise all of them, so ``--help`` lists every command."""
    if isinstance(modules, Mapping):
        words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
        if words and words[0] in modules:
            return [modules[words[0]]]
        return list(dict.fromkeys(modules.values()))
    return list(modules)


def build_parser(prog: str, description: str, epilog: str, modules: Sequence[str] | Mapping[str, str],
                 argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=description, epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in chosen_modules(modules, argv):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # that concern is not part of this install
            raise
        module.register(sub)
    return parser


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    handler: Callable[[argparse.Namespace], int | None] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return int(handler(args) or 0)
    except CliError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
