"""`maskvat generate`'s sampler options are checked in the first second, before any video is
read or torch is imported (a new user's finding: --steps 0 was refused after ~10 s of imports)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from maskvat.errors import MaskvatError
from maskvat.sampling.settings import MAX_STEPS, SamplerSettings

CHECK = ("import sys\nfrom maskvat.cli.main import main\n"
         "code = main(['generate', 'no-such-video.mp4', '-o', 'out'] + sys.argv[1:])\n"
         "print('exit', code, 'torch' in sys.modules)\n")


@pytest.mark.parametrize("opts, says", [
    (["--steps", "0"], "--steps must be between 1 and 1024, not 0"),
    (["--steps", "5000"], "--steps must be between 1 and 1024, not 5000"),
    (["--beams", "0"], "--beams must be between 1 and 64, not 0"),
    (["--guidance", "-1"], "--guidance must be 0 or more, not -1.0"),
    (["--diversity", "nan"], "--diversity must be 0 or more, not nan"),
    (["--batch", "0"], "--batch must be at least 1, not 0"),
    (["--temperature", "0"], "--temperature must be more than 0, not 0.0"),
])
def test_bad_sampler_options_are_one_line_exit_2_before_torch(tmp_path, opts, says):
    run = subprocess.run([sys.executable, "-c", CHECK, *opts], capture_output=True, text=True, cwd=tmp_path,
                         timeout=120)
    assert run.stdout.strip() == "exit 2 False", run.stdout + run.stderr  # refused, torch never imported
    assert run.stderr.strip() == f"maskvat: error: {says}"
    assert not (tmp_path / "out").exists()


def test_settings_check_every_field():
    assert SamplerSettings(steps=MAX_STEPS).steps == MAX_STEPS
    for bad in (dict(steps=0), dict(steps=MAX_STEPS + 1), dict(guidance=-0.1), dict(diversity=float("nan")),
                dict(temperature=0.0)):
        with pytest.raises(MaskvatError, match=next(iter(bad))):
            SamplerSettings(**bad)


def test_the_sampler_module_still_exports_its_settings():
    from maskvat.sampling import sampler

    assert sampler.SamplerSettings is SamplerSettings


def test_generate_shortcuts_build_the_settings(monkeypatch):
    import maskvat

    seen = {}

    class Pipe:
        def generate(self, video, **kwargs):
            seen.update(kwargs, video=video)
            return "ok"

    monkeypatch.setattr(maskvat, "load", lambda model, device: Pipe())
    assert maskvat.generate("v.mp4", steps=8, seed=3) == "ok"
    assert seen["settings"] == SamplerSettings(steps=8) and seen["seed"] == 3
    maskvat.generate("v.mp4", settings=SamplerSettings(diversity=2.0), guidance=5.0)
    assert seen["settings"] == SamplerSettings(guidance=5.0, diversity=2.0)
    maskvat.generate("v.mp4", temperature=0.7)
    assert seen["settings"] == SamplerSettings(temperature=0.7)
    seen.clear()
    maskvat.generate("v.mp4")
    assert "settings" not in seen  # no shortcut: Pipeline.generate's own default (the paper's)


def test_too_long_a_span_after_start_says_what_remains(tmp_path):
    import numpy as np

    from maskvat.media import FrameArray
    from maskvat.pipeline.limits import requested_duration

    video = FrameArray(np.zeros((150, 8, 8, 3), np.uint8), 25.0)  # 6 s
    with pytest.raises(MaskvatError, match=r"only 4\.00 s of video remain after 2\.00 s \(it is 6\.00 s long\)"):
        requested_duration(video, 2.0, 5.0)


def _generate_args(*argv):
    from maskvat.cli.main import build_parser

    return build_parser().parse_args(["generate", "v.mp4", "-o", "out", *argv])


@pytest.mark.parametrize("argv, kind, says", [
    (["--top-k", "8"], "maskvat", "--top-k not used: a MaskVAT model reads only --diversity, --steps, --temperature"),
    (["--steps", "8", "--solver", "euler", "--top-p", "0.9"], "vaura",
     "--steps, --solver not used: a V-AURA model reads only --temperature, --top-k, --top-p"),
    (["--diversity", "2", "--top-k", "8", "--temperature", "0.5"], "vtaldm",
     "--diversity, --temperature, --top-k not used: a VTA-LDM model reads only --solver, --steps"),
    (["--temperature", "0.7"], "maskvat", None),
    (["--steps", "8", "--diversity", "2"], "maskvat", None),
    (["--top-k", "8", "--top-p", "0.5"], "vaura", None),
    (["--steps", "8", "--solver", "heun"], "vtaldm", None),
    ([], "vaura", None),
])
def test_options_a_model_does_not_read_are_named(argv, kind, says):
    """A new user's finding: --top-k with MaskVAT, --steps with V-AURA... were ignored without a word."""
    from maskvat.cli.generate import ignored_options

    assert ignored_options(_generate_args(*argv), kind) == says


def test_temperature_reaches_the_sampler_settings(monkeypatch):
    """--temperature is the token draw's temperature (``SamplerSettings.temperature``), checked
    with the other options and handed to the sampler as given."""
    from maskvat.cli import generate as cli_generate

    args = _generate_args("--temperature", "0.6")
    assert cli_generate.option_problem(args) is None
    assert args.temperature == 0.6
    assert cli_generate.option_problem(_generate_args("--temperature", "-1")) == "temperature must be more than 0, not -1.0"


@pytest.mark.parametrize("argv, says", [
    (["--solver", "rk4"], "argument --solver: invalid choice: 'rk4' (choose from 'euler', 'heun')"),
    (["--format", "mp3"], "argument --format: invalid choice: 'mp3' (choose from 'wav', 'flac')"),
    (["--steps", "many"], "argument --steps: invalid int value: 'many'"),
])
def test_usage_errors_are_one_line(tmp_path, argv, says):
    """A new user's finding: --solver rk4 printed argparse's 12-line usage block before the error."""
    from maskvat.cli.main import main

    run = subprocess.run([sys.executable, "-c", "import sys\nfrom maskvat.cli.main import main\nmain(sys.argv[1:])",
                          "generate", "v.mp4", "-o", "out", *argv], capture_output=True, text=True, cwd=tmp_path,
                         timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip() == f"maskvat generate: error: {says} (maskvat generate --help lists the options)"
    assert not (tmp_path / "out").exists()


def test_a_mistyped_option_names_the_closest_one(tmp_path):
    run = subprocess.run([sys.executable, "-c", "import sys\nfrom maskvat.cli.main import main\nmain(sys.argv[1:])",
                          "generate", "v.mp4", "-o", "out", "--temprature", "0.5"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip() == ("maskvat: error: unrecognized arguments: --temprature 0.5; did you mean --temperature? "
                                  "(maskvat generate --help lists the options)")


def test_the_done_line_names_the_kept_beam():
    """1-based, as BENCHMARKS counts candidates; nothing with one beam."""
    from maskvat.cli import generate as cli_generate

    assert cli_generate.beam_note([2], 8) == " (beam 3 of 8 kept)"
    assert cli_generate.beam_note([0, 7, 1], 8) == " (beams kept per window, of 8: 1 8 2)"
    assert cli_generate.beam_note(list(range(4)), 4, most=2) == " (beams kept per window, of 4: 1 2 ...)"
    assert cli_generate.beam_note([0], 1) == cli_generate.beam_note([], 4) == ""
