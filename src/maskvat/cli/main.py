"""The ``maskvat`` command: one subcommand group per pipeline stage.

Each module named in ``SUBCOMMANDS`` defines ``register(subparsers)``, which adds its
parser(s) and sets ``func`` to a callable taking the parsed ``argparse.Namespace`` and
returning an exit status. Modules import heavy libraries (torch, transformers) inside
their functions, so that ``maskvat --help`` and ``maskvat probe`` start fast.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import signal
import sys

from maskvat import __version__
from maskvat.errors import MaskvatError

# Order is the order shown in --help: the pipeline's order.
SUBCOMMANDS = ["maskvat.cli.probe", "maskvat.cli.codec", "maskvat.cli.lab", "maskvat.cli.encoders", "maskvat.cli.extract",
               "maskvat.cli.train", "maskvat.cli.scav", "maskvat.cli.fit", "maskvat.cli.pipeline", "maskvat.cli.generate",
               "maskvat.cli.ui", "maskvat.cli.evaluate", "maskvat.cli.bench"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, exit status 2: the problem, ``hint`` (set by
    :func:`main` for the words it suspects to be file names that begin with '-') and where the
    options are listed; argparse's own multi-line usage block is left to ``--help``."""

    hint = ""
    command = ""  # the subcommand asked for (set by :func:`main`), whose options a typo is matched against
    options: set[str] = set()

    def error(self, message):
        where = f"maskvat {_Parser.command}" if self.prog == "maskvat" and _Parser.command else self.prog
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}{_did_you_mean(message, _Parser.options)}{_Parser.hint} "
                              f"({where} --help lists the options)\n")


def _did_you_mean(message: str, options: set[str]) -> str:
    """"; did you mean --temperature?" for an unrecognized option close to one of ``options``."""
    if not message.startswith("unrecognized arguments:"):
        return ""
    words = [w.split("=")[0] for w in message.split(":", 1)[1].split() if w.startswith("--")]
    close = [m[0] for w in words if (m := difflib.get_close_matches(w, sorted(options), n=1, cutoff=0.75))]
    return f"; did you mean {', '.join(dict.fromkeys(close))}?" if close else ""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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


def dash_paths(argv: list[str], parser: argparse.ArgumentParser) -> tuple[list[str], list[str]]:
    """(argv with file names that begin with '-' made unambiguous, the words that look like such
    names but name nothing).

    A word that begins with '-', is none of the program's options and names an existing file
    or folder (VGGSound ids such as ``-abc123_000030.mp4``) is a path: it gets a ``./``
    prefix, which names the same file, so that argparse does not take it for an option.
    Words after ``--`` are left alone (argparse takes them as they are).
    """
    options = _option_strings(parser)
    out, suspects = [], []
    for i, word in enumerate(argv):
        if word == "--":
            return out + argv[i:], suspects
        if word.startswith("-") and not word.startswith("--") and word not in options and len(word) > 2:
            if os.path.lexists(word):
                word = os.path.join(".", word)
            elif not _is_number(word):
                suspects.append(word)
        out.append(word)
    return out, suspects


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    found = set()
    for action in parser._actions:
        found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _option_strings(sub)
    return found


def _subcommand(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(name)
    return None


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv, suspects = dash_paths(sys.argv[1:] if argv is None else list(argv), parser)
    command = argv[0] if argv and not argv[0].startswith("-") else "COMMAND"
    _Parser.hint = (f" (no file {suspects[0]} here; a file name that begins with '-' can also go after '--': "
                    f"maskvat {command} [OPTIONS] -- {suspects[0]})" if suspects else "")
    sub = _subcommand(parser, command)
    _Parser.command, _Parser.options = (command, _option_strings(sub)) if sub is not None else ("", set())
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    previous = _terminate_as_interrupt()
    try:
        return int(args.func(args) or 0)
    except MaskvatError as exc:
        print(f"maskvat: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Terminated:
        print("maskvat: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("maskvat: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM (kill, timeout, docker stop) raised in the main thread, so that every open output
    is removed on the way out as for Ctrl-C (atomic writers clean up on any exception)."""


EXIT_TERMINATED = 143  # 128 + SIGTERM, as the shell reports a process killed by it


def _terminate_as_interrupt():
    """Handle SIGTERM as an exception in the main thread; returns the previous handler (None off
    the main thread, where signal handlers cannot be set)."""
    def handler(signum, frame):
        raise Terminated()

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:
        return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
