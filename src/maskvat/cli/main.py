"""The ``maskvat`` command: one subcommand group per pipeline stage.

Each module named in ``SUBCOMMANDS`` defines ``register(subparsers)``, which adds its
parser(s) and sets ``func`` to a callable taking the parsed ``argparse.Namespace`` and
returning an exit status. Modules import heavy libraries (torch, transformers) inside
their functions, so that ``maskvat --help`` and ``maskvat probe`` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from maskvat import __version__
from maskvat.errors import MaskvatError

# Order is the order shown in --help: the pipeline's order.
SUBCOMMANDS = ["maskvat.cli.probe", "maskvat.cli.codec", "maskvat.cli.lab", "maskvat.cli.encoders", "maskvat.cli.extract", "maskvat.cli.features",
               "maskvat.cli.train", "maskvat.cli.scav", "maskvat.cli.generate",
               "maskvat.cli.evaluate", "maskvat.cli.bench"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maskvat",
        description="Synchronised full-band sound for silent video (MaskVAT).",
    )
    parser.add_argument("--version", action="version", version=f"maskvat {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a stage not built yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except MaskvatError as exc:
        print(f"maskvat: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("maskvat: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
