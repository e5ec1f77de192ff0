"""``maskvat encoders list|train`` end to end: the semantic pair trains, resumes and saves."""

from __future__ import annotations

import json

from maskvat.cli.main import main
from maskvat.lab.build import build_split


def test_list_names_the_home_trained_encoders(capsys):
    assert main(["encoders", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("lab-semantic", "lab-audio", "lab-sync", "clip-vit-b32", "s3d-kinetics400"):
        assert name in out


def test_train_semantic_pair_then_resume(tmp_path, capsys, one_torch_thread):
    lab = tmp_path / "lab"
    for split, n in (("train", 4), ("val", 3)):
        build_split(lab, split, n, seed=1, duration=2.0, bank="procedural", workers=1, progress=False)
    run = tmp_path / "run"
    args = ["encoders", "train", "--lab", str(lab), "--out", str(run), "--what", "semantic", "--steps", "2",
            "--batch", "4", "--codec", "none"]
    assert main(args) == 0
    out = capsys.readouterr().out
    result = json.loads(out[: out.rindex("}") + 1])
    assert result["step"] == 2 and 0.0 <= result["val_r1"] <= 1.0
    assert (run / "semantic" / "model.safetensors").is_file() and (run / "curves.png").is_file()
    assert main(args[:-6] + ["--steps", "3", "--batch", "4", "--codec", "none"]) == 0  # resumes from step 2
    import torch

    assert torch.load(run / "checkpoint.pt", weights_only=False)["step"] == 3


def test_train_on_a_folder_without_a_lab_is_a_clear_error(tmp_path, capsys):
    assert main(["encoders", "train", "--lab", str(tmp_path), "--out", str(tmp_path / "run"), "--what", "semantic"]) == 2
    assert "not a lab split" in capsys.readouterr().err


def test_train_sync_judge_with_the_map_head_and_meanmax_pooling(tmp_path, capsys, one_torch_thread):
    lab = tmp_path / "lab"
    for split, n in (("train", 3), ("val", 2)):
        build_split(lab, split, n, seed=2, duration=3.0, bank="procedural", workers=1, progress=False)
    run = tmp_path / "run"
    assert main(["encoders", "train", "--lab", str(lab), "--out", str(run), "--steps", "2", "--batch", "4",
                 "--window-frames", "24", "--head", "map", "--pool", "meanmax", "--width", "8", "--dim", "16"]) == 0
    saved = json.loads((run / "sync_judge" / "config.json").read_text())
    assert (saved["head"], saved["pool"], saved["width"], saved["dim"], saved["window_frames"]) == ("map", "meanmax", 8, 16, 24)
    from maskvat.encoders.sync import load_judge

    judge = load_judge(run / "sync_judge")
    assert judge.map_head is not None and judge.video.proj.in_channels == 2 * 4 * 8


def test_a_sync_window_shorter_than_the_largest_shift_is_a_clear_error(tmp_path, capsys):
    lab = tmp_path / "lab"
    build_split(lab, "train", 1, seed=2, duration=3.0, bank="procedural", workers=1, progress=False)
    assert main(["encoders", "train", "--lab", str(lab), "--out", str(tmp_path / "run"), "--window-frames", "10"]) == 2
    assert "does not overlap" in capsys.readouterr().err


def test_train_sync_judge_with_the_level_loss_then_resume_without_it_is_a_clear_error(tmp_path, capsys,
                                                                                       one_torch_thread):
    lab = tmp_path / "lab"
    for split, n in (("train", 3), ("val", 2)):
        build_split(lab, split, n, seed=2, duration=3.0, bank="procedural", workers=1, progress=False)
    run = tmp_path / "run"
    args = ["encoders", "train", "--lab", str(lab), "--out", str(run), "--steps", "2", "--batch", "4",
            "--window-frames", "24", "--width", "8", "--dim", "16"]
    assert main(args + ["--level-loss", "3"]) == 0
    import torch

    state = torch.load(run / "checkpoint.pt", weights_only=False)
    assert state["config"]["level_loss"] == 3.0 and any(k.startswith("probes.") for k in state["module"])
    capsys.readouterr()
    assert main(args) == 2  # the same run without --level-loss
    err = capsys.readouterr().err
    assert "checkpoint.pt" in err and "level_loss 3.0 -> 0.0" in err and "Traceback" not in err


def test_combine_sync_judges_into_an_ensemble(tmp_path, capsys):
    import torch

    from maskvat.encoders.sync import SyncConfig, SyncJudge, load_judge, save_judge

    cfg = SyncConfig(size=16, dim=8, width=4, half=3, step_frames=2, window_frames=12)
    for seed in (0, 1):
        torch.manual_seed(seed)
        save_judge(SyncJudge(cfg), tmp_path / f"j{seed}")
    assert main(["encoders", "combine", str(tmp_path / "j0"), str(tmp_path / "j1"), "--out", str(tmp_path / "e")]) == 0
    assert "2 judges" in capsys.readouterr().out
    assert len(load_judge(tmp_path / "e").members) == 2
    assert main(["encoders", "combine", str(tmp_path / "nothing"), "--out", str(tmp_path / "f")]) == 2
    assert "a saved sync judge" in capsys.readouterr().err
