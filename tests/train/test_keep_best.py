"""keep_best: the trained artefact is the module at its best validation (early stopping's choice),
not the last step's; resumable; and the fit encoders can start from the shipped weights."""

from dataclasses import dataclass

import pytest
import torch

from maskvat.errors import MaskvatError
from maskvat.train.loop import LoopConfig, Trainer


@dataclass
class ToyConfig(LoopConfig):
    steps: int = 12
    lr: float = 0.1
    eval_every: int = 2
    checkpoint_every: int = 2


class Toy(Trainer):
    """One weight pulled from 0 towards 1; validation scores closeness to 0.4 (best mid-run)."""

    desc, show = "toy", "val_close"

    def build(self):
        torch.manual_seed(0)
        m = torch.nn.Linear(1, 1, bias=False)
        torch.nn.init.zeros_(m.weight)
        return m

    def batch(self, step):
        return {"x": torch.ones(1, 1)}

    def loss(self, module, batch):
        return ((module(batch["x"]) - 1.0) ** 2).mean(), {}

    def validate(self):
        w = float(self.module.weight.detach())
        self.seen = getattr(self, "seen", []) + [w]
        return {"val_close": -abs(w - 0.4), "val_w": w}

    def finish(self):
        self.final = float(self.module.weight.detach())


def test_the_artefact_is_the_module_at_its_best_validation(tmp_path, one_torch_thread):
    last = Toy(ToyConfig(), tmp_path / "plain", progress=False)
    last.run(device="cpu")
    assert last.final == pytest.approx(last.seen[-1])  # without keep_best: the last step's
    best = Toy(ToyConfig(keep_best="max:val_close"), tmp_path / "best", progress=False)
    best.run(device="cpu")
    target = min(best.seen, key=lambda w: abs(w - 0.4))
    assert best.final == pytest.approx(target) and best.final != pytest.approx(best.seen[-1])
    assert best.best["name"] == "val_close" and best.best["value"] == pytest.approx(-abs(target - 0.4))
    low = Toy(ToyConfig(keep_best="min:val_w"), tmp_path / "low", progress=False)
    low.run(device="cpu")
    assert low.final == pytest.approx(min(low.seen))


def test_keep_best_survives_a_resume(tmp_path, one_torch_thread):
    whole = Toy(ToyConfig(keep_best="max:val_close"), tmp_path / "whole", progress=False)
    whole.run(device="cpu")
    part = Toy(ToyConfig(keep_best="max:val_close"), tmp_path / "part", progress=False)
    part.run(device="cpu", stop_after=6)
    again = Toy(ToyConfig(keep_best="max:val_close"), tmp_path / "part", progress=False)
    again.run(device="cpu")
    assert again.final == pytest.approx(whole.final) and again.best["step"] == whole.best["step"]


def test_keep_best_names_a_figure_validation_gives(tmp_path, one_torch_thread):
    with pytest.raises(MaskvatError, match="keep_best must be"):
        ToyConfig(keep_best="val_close")
    with pytest.raises(MaskvatError, match="validation gives no 'val_r9'"):
        Toy(ToyConfig(keep_best="max:val_r9"), tmp_path / "x", progress=False).run(device="cpu")


def test_the_sync_judge_and_the_semantic_pair_can_start_from_the_shipped_weights(tmp_path, one_torch_thread):
    from maskvat.encoders.semantic import load_semantic
    from maskvat.encoders.sync import load_judge
    from maskvat.train.semantic import SemanticTrainConfig, SemanticTrainer
    from maskvat.train.sync_judge import SyncJudgeTrainer, SyncTrainConfig
    from maskvat.weights import shipped

    class Clips:  # build() reads no data but the val windows'
        pass

    judge = SyncJudgeTrainer(SyncTrainConfig(init_from="lab"), tmp_path / "s", clips=(Clips(), Clips()),
                             progress=False)
    judge.val_windows = None
    import maskvat.train.sync_judge as sj
    real = sj.fixed_windows
    sj.fixed_windows = lambda *a, **k: None
    try:
        judge.build()
    finally:
        sj.fixed_windows = real
    ref = load_judge(shipped("sync_judge")).state_dict()
    got = judge.judge.state_dict()
    assert all(torch.equal(got[k], ref[k]) for k in ref)
    fresh = SyncJudgeTrainer(SyncTrainConfig(), tmp_path / "f", clips=(Clips(), Clips()), progress=False)
    sj.fixed_windows = lambda *a, **k: None
    try:
        fresh.build()
    finally:
        sj.fixed_windows = real
    assert not all(torch.equal(fresh.judge.state_dict()[k], ref[k]) for k in ref if ref[k].is_floating_point())

    pair = SemanticTrainer(SemanticTrainConfig(init_from="lab", codec=None), tmp_path / "p",
                           clips=(Clips(), Clips()), progress=False).build()
    ref = load_semantic(shipped("semantic")).state_dict()
    assert all(torch.equal(pair.state_dict()[k], ref[k]) for k in ref)
    with pytest.raises(MaskvatError, match="not this run's model"):
        SemanticTrainer(SemanticTrainConfig(init_from="lab", codec=None, model={"dim": 64}), tmp_path / "q",
                        clips=(Clips(), Clips()), progress=False).build()
