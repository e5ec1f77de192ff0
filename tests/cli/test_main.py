"""The CLI frame: version, help, and how errors and Ctrl-C reach the user."""

from __future__ import annotations

import argparse

import pytest

from maskvat import __version__
from maskvat.cli import main as cli
from maskvat.errors import MaskvatError, MediaError


def test_version_prints_package_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"maskvat {__version__}"


def test_no_command_prints_help_and_exits_2(capsys):
    assert cli.main([]) == 2
    assert "usage: maskvat" in capsys.readouterr().out


def test_every_registered_stage_appears_in_help():
    text = cli.build_parser().format_help()
    for name in ("probe", "codec", "lab"):
        assert name in text


def _parser_running(func):
    parser = argparse.ArgumentParser(prog="maskvat")
    parser.set_defaults(func=func)
    return parser


@pytest.mark.parametrize(
    "raised, code, message",
    [
        (MediaError("clip.mp4", "has no video stream"), 2, "maskvat: error: clip.mp4: has no video stream"),
        (MaskvatError("bad option"), 2, "maskvat: error: bad option"),
        (KeyboardInterrupt(), 130, "maskvat: interrupted"),
    ],
)
def test_errors_become_one_line_and_an_exit_status(monkeypatch, capsys, raised, code, message):
    def boom(args):
        raise raised

    monkeypatch.setattr(cli, "build_parser", lambda: _parser_running(boom))
    assert cli.main([]) == code
    err = capsys.readouterr().err
    assert err.strip() == message
    assert "Traceback" not in err


def test_unexpected_exceptions_are_not_swallowed(monkeypatch):
    def bug(args):
        raise ZeroDivisionError("a bug must surface with its traceback")

    monkeypatch.setattr(cli, "build_parser", lambda: _parser_running(bug))
    with pytest.raises(ZeroDivisionError):
        cli.main([])
