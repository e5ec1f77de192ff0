"""What a user meets on the way in and out: a device this PyTorch cannot use, an unknown model
name, and SIGTERM (kill, timeout, docker stop) while an output is being written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from maskvat.cli import main as cli
from maskvat.devices import checked_device
from maskvat.errors import MaskvatError


def test_devices_this_build_cannot_use_are_one_line_errors():
    assert checked_device("cpu") == torch.device("cpu")
    assert checked_device("meta").type == "meta"
    with pytest.raises(MaskvatError, match=r"--device tpu: not a device name PyTorch knows"):
        checked_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(MaskvatError, match=r"--device cuda: no CUDA GPU is usable here .*use --device cpu"):
            checked_device("cuda")


def test_generate_refuses_cuda_here_with_exit_2_before_loading(make_video, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    video = make_video("clip.mp4", 25, 25)
    code = cli.main(["generate", str(video), "-o", str(tmp_path / "out"), "--device", "cuda", "--steps", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("maskvat: error: --device cuda: no CUDA GPU is usable here")
    assert "Traceback" not in "\n".join(err)
    assert not (tmp_path / "out" / "clip.wav").exists()


def test_an_unknown_model_names_the_shipped_ones(make_video, tmp_path, capsys):
    video = make_video("clip.mp4", 25, 25)
    assert cli.main(["generate", str(video), "-o", str(tmp_path / "out"), "--model", "hit"]) == 2
    err = capsys.readouterr().err
    assert "cannot load generator 'hit': no such file or folder (shipped models: lab, hits" in err


def test_sigterm_leaves_no_partial_file(tmp_path):
    """A child writing through the atomic sound writer gets SIGTERM mid-write: it exits 143 with
    one line, and neither the output nor its hidden temporary file is left."""
    script = tmp_path / "writer.py"
    script.write_text(
        "import sys, time, numpy as np\n"
        "from maskvat.cli import main as cli\n"
        "from maskvat.media import SoundWriter\n"
        "def run(args):\n"
        "    with SoundWriter(sys.argv[1], 44100) as w:\n"
        "        w.write(np.zeros(44100, np.float32))\n"
        "        print('writing', flush=True)\n"
        "        time.sleep(60)\n"
        "cli.build_parser = lambda: _p()\n"
        "import argparse\n"
        "def _p():\n"
        "    p = argparse.ArgumentParser(); p.set_defaults(func=run); return p\n"
        "sys.exit(cli.main([]))\n")
    out = tmp_path / "take.wav"
    proc = subprocess.Popen([sys.executable, str(script), str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == "maskvat: terminated"
    assert os.listdir(tmp_path) == ["writer.py"]
