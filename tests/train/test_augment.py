"""The encoders' augmentation (maskvat.train.augment) and its use by the sync and semantic trainers."""

import numpy as np
import pytest
import torch

from maskvat.data.lab_clips import LabClips
from maskvat.errors import MaskvatError
from maskvat.train.augment import Augment, augment_frames, mask_mel_bands
from maskvat.train.fit import FitConfig, FitRun
from maskvat.train.semantic import SemanticTrainConfig, SemanticTrainer
from maskvat.train.sync_judge import SyncJudgeTrainer, SyncTrainConfig

ONLY = {"flip": 0.0, "min_crop": 1.0, "brightness": 0.0, "contrast": 0.0, "saturation": 0.0, "mel_mask": 0}


def frames(b=3, n=5, s=16, seed=0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (b, n, s, s, 3), dtype=np.uint8))


def test_off_changes_nothing():
    f, mel = frames(), torch.randn(3, 64, 20)
    rng = np.random.default_rng(0)
    assert torch.equal(augment_frames(f, rng, Augment.off()), f)
    assert torch.equal(mask_mel_bands(mel, rng, Augment.off()), mel)


def test_the_same_seed_gives_the_same_windows_and_another_seed_others():
    f = frames()
    a = augment_frames(f, np.random.default_rng(7), Augment())
    assert a.dtype == torch.uint8 and a.shape == f.shape
    assert torch.equal(a, augment_frames(f, np.random.default_rng(7), Augment()))
    assert not torch.equal(a, augment_frames(f, np.random.default_rng(8), Augment()))


def test_every_frame_of_a_window_gets_the_same_change():
    still = frames(b=4, n=1).expand(4, 6, 16, 16, 3).contiguous()  # each window: one picture six times
    out = augment_frames(still, np.random.default_rng(1), Augment(min_crop=0.5))
    assert torch.equal(out, out[:, :1].expand_as(out))
    assert not torch.equal(out, still)


def test_a_flip_mirrors_left_and_right():
    f = frames()
    out = augment_frames(f, np.random.default_rng(0), Augment(**{**ONLY, "flip": 1.0}))
    assert torch.equal(out, f.flip(3))


def test_a_crop_magnifies_a_ramp_about_a_place_inside_the_frame():
    ramp = torch.arange(32, dtype=torch.float32).mul(8).view(1, 1, 1, 32, 1).expand(2, 3, 32, 32, 3)
    out = augment_frames(ramp.to(torch.uint8), np.random.default_rng(3), Augment(**{**ONLY, "min_crop": 0.5}))
    row = out[0, 0, 0, :, 0].float()
    steps = row.diff()[1:-1]  # inner pixels (bilinear edges clamp)
    assert (steps > 0).all() and steps.mean() < 8  # still increasing, less per pixel: a part magnified
    assert row[0] >= 0 and row[-1] <= 248


def test_colour_changes_keep_a_grey_picture_grey_and_in_range():
    grey = torch.full((2, 3, 8, 8, 3), 100, dtype=torch.uint8)
    grey[:, :, :4] = 250
    out = augment_frames(grey, np.random.default_rng(0), Augment(**{**ONLY, "brightness": 0.5, "contrast": 0.5,
                                                                       "saturation": 0.5}))
    assert torch.equal(out[..., 0], out[..., 1]) and torch.equal(out[..., 1], out[..., 2])
    assert not torch.equal(out, grey)


def test_the_band_mask_is_one_block_of_at_most_mel_mask_bands_at_the_window_floor():
    mel = torch.randn(50, 64, 30)
    out = mask_mel_bands(mel, np.random.default_rng(0), Augment(**{**ONLY, "mel_mask": 8}))
    widths = []
    for i in range(50):
        changed = torch.nonzero((out[i] != mel[i]).any(1)).flatten()
        widths.append(len(changed))
        if len(changed):
            assert changed.diff().eq(1).all()  # adjacent bands
            assert torch.equal(out[i, changed], torch.full_like(out[i, changed], mel[i].min()))
    assert max(widths) <= 8 and len(set(widths)) > 3


def test_settings_are_checked_with_their_name():
    assert Augment.from_setting(True) == Augment() and Augment.from_setting(False) == Augment.off()
    assert Augment.from_setting({"flip": 0.2}).flip == 0.2
    with pytest.raises(MaskvatError, match="sync.augment: unknown field.*flop"):
        FitConfig.from_dict({"sync": {"augment": {"flop": 1}}})
    with pytest.raises(MaskvatError, match="semantic.augment: min_crop"):
        FitConfig.from_dict({"semantic": {"augment": {"min_crop": 0}}})
    with pytest.raises(MaskvatError, match="true, false or a dict"):
        Augment.from_setting("yes")


def test_augment_off_keeps_a_fit_folders_fingerprints_and_on_changes_the_encoders_and_after():
    base = FitRun("unused", FitConfig(), [])
    same = FitRun("unused", FitConfig.from_dict({"sync": {"augment": False}, "semantic": {"augment": False}}), [])
    on = FitRun("unused", FitConfig.from_dict({"sync": {"augment": True}}), [])
    assert same.ids == base.ids
    assert on.ids["codec"] == base.ids["codec"] and on.ids["sync"] != base.ids["sync"]
    assert on.ids["generator"] != base.ids["generator"]


def lab_clips(n=6, frames_=120, size=16, seed=0) -> LabClips:
    rng = np.random.default_rng(seed)
    return LabClips(frames=rng.integers(0, 256, (n, frames_, size, size, 3), dtype=np.uint8),
                    mels=rng.standard_normal((n, 64, 4 * frames_)).astype(np.float32), labels=None,
                    clip_ids=[f"c{i}" for i in range(n)])


def test_the_trainers_augment_the_windows_they_would_draw_without_it(tmp_path):
    clips = lab_clips()
    model = {"size": 16, "dim": 8, "width": 4, "half": 2, "step_frames": 2, "window_frames": 10}
    batches = {}
    for aug in (False, True):
        trainer = SyncJudgeTrainer(SyncTrainConfig(batch=8, eval_windows=10, model=model, augment=aug),
                                   tmp_path / f"sync{aug}", clips=(clips, clips), progress=False)
        trainer.build()
        batches[aug] = trainer.batch(5)
    assert torch.equal(batches[True]["cls"], batches[False]["cls"])
    assert not torch.equal(batches[True]["video"], batches[False]["video"])
    sem = {}
    for aug in (False, True):
        trainer = SemanticTrainer(SemanticTrainConfig(batch=4, window_s=0.4, frames_per_window=2, codec=None,
                                                      codec_share=0.0, augment=aug,
                                                      model={"size": 16, "dim": 8, "width": 8, "audio_hidden": 16}),
                                  tmp_path / f"sem{aug}", clips=(clips, clips), progress=False)
        trainer.build()
        sem[aug] = trainer.batch(5)
    assert sem[True]["frames"].shape == sem[False]["frames"].shape
    assert not torch.equal(sem[True]["frames"], sem[False]["frames"])
