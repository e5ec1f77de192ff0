"""``maskvat pipeline save``: a trained generator + codec + SCAV + encoder weights as one folder that
``maskvat generate --model FOLDER`` takes with nothing else."""

from __future__ import annotations

import json
import re

import pytest
import torch

from maskvat.cli.main import main
from maskvat.pipeline.generate import Pipeline
from maskvat.scav.model import SCAV, SCAVConfig
from maskvat.weights import shipped

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """What training leaves: a generator folder, the codec folder it was trained with, a SCAV folder."""
    root = tmp_path_factory.mktemp("run")
    pipe = Pipeline.debug()
    pipe.model.save_pretrained(root / "model")
    pipe.codec.save_pretrained(root / "codec")
    torch.manual_seed(0)
    SCAV(SCAVConfig(hidden=8, dim=4, length=10)).save_pretrained(root / "scav")
    return root


def test_save_then_generate_with_the_folder_alone(run, make_video, tmp_path, capsys):
    semantic = shipped("semantic")  # the lab-semantic encoder's weights, named by encoder name
    out = tmp_path / "pipe"
    assert main(["pipeline", "save", str(out), "--model", str(run / "model"), "--codec", str(run / "codec"),
                 "--scav", str(run / "scav"), "--encoder-weights", f"lab-semantic={semantic}"]) == 0
    index = json.loads((out / "model_index.json").read_text())
    assert (index["generator"], index["codec"], index["scav"]) == ("generator", "codec", "scav")
    assert index["semantic"] == str(semantic.resolve())  # keyed by role, whatever the flag named
    assert "lab-semantic" not in index
    video = make_video("clip.mp4", 12, 25.0)
    capsys.readouterr()
    assert main(["generate", str(video), "-o", str(tmp_path / "gen"), "--model", str(out), "--beams", "2",
                 "--steps", "2"]) == 0
    assert (tmp_path / "gen" / "clip.wav").is_file()
    # which candidate SCAV kept in each of the debug model's two windows
    assert re.search(r"clip_maskvat\.mp4 \(beams kept per window, of 2: [12] [12]\)", capsys.readouterr().out)
    # re-saving a pipeline folder keeps its SCAV and encoder weights
    assert main(["pipeline", "save", str(tmp_path / "again"), "--model", str(out)]) == 0
    again = json.loads((tmp_path / "again" / "model_index.json").read_text())
    assert again["scav"] == "scav" and again["semantic"] == index["semantic"]
    # an existing folder is not written into
    capsys.readouterr()
    assert main(["pipeline", "save", str(out), "--model", str(run / "model"), "--codec", str(run / "codec")]) == 2
    assert "exists and is not an empty folder" in capsys.readouterr().err


def test_encoder_weights_by_name_override_the_pipeline_folders(run, tmp_path):
    """--encoder-weights NAME=... over a pipeline folder that names that role's weights: the
    user's weights are the ones loaded (and saved again), not the folder's."""
    other = tmp_path / "semantic_copy"
    import shutil

    shutil.copytree(shipped("semantic"), other)
    pipe = Pipeline.load(run / "model", codec=str(run / "codec"), scav=None)
    pipe.save_pretrained(tmp_path / "pipe")  # names no encoder weights: each default
    index = json.loads((tmp_path / "pipe" / "model_index.json").read_text())
    index["semantic"] = str(shipped("semantic"))
    (tmp_path / "pipe" / "model_index.json").write_text(json.dumps(index))
    loaded = Pipeline.load(tmp_path / "pipe", scav=None, encoder_sources={"lab-semantic": str(other)})
    assert loaded.encoder_sources == {"semantic": str(other)}
    assert loaded.features.semantic.config.source == str(other)
